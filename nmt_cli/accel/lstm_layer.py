"""The encoder's bidirectional LSTM in training, its backward written by hand (#16).

On a CPU, torch runs an LSTM over packed sequences one time step at a time with autograd
recording each step's operators, in fp32 even under bf16 autocast, and its backward makes each
weight's gradient one small product per step. Here each direction is one `autograd.Function`:

    forward   the input's share of all gates, x W_ihᵀ + b, in one product for every position;
              then per step only h_{t-1} W_hhᵀ and the gate nonlinearities, on the sentences
              still running (sentences sorted by length, as packing does);
    backward  per step only the gates' gradient and the recurrent product; the gradients of
              x, W_ih, W_hh and the biases come after the loop as one product each over all
              positions.

It computes nn.LSTM's function with nn.LSTM's parameters (tests compare the two in fp64), in
autocast's dtype where autocast is on. Decoding, with no graph, keeps nn.LSTM, and so does
training on a GPU, where cuDNN runs the whole recurrence in one call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn


class _Direction(torch.autograd.Function):
    """One LSTM direction over time-major rows sorted by length: `sizes[t]` rows run at t."""

    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        w_ih: Tensor,
        w_hh: Tensor,
        bias: Tensor,
        sizes: list[int],
        reverse: bool,
    ) -> tuple[Tensor, Tensor]:
        # x (S, N, E); w_ih (4H, E); w_hh (4H, H); bias (4H,) = b_ih + b_hh
        # -> every position's h and c, (S, N, H) each, 0 where a sentence has ended
        ctx.set_materialize_grads(False)  # no zero tensor for the c's that nothing reads
        ctx.device_type = x.device.type
        with torch.autocast(x.device.type, enabled=False):
            return _Direction._forward(ctx, x, w_ih, w_hh, bias, sizes, reverse)

    @staticmethod
    def _forward(
        ctx: Any, x: Tensor, w_ih: Tensor, w_hh: Tensor, bias: Tensor, sizes: list[int], reverse: bool
    ) -> tuple[Tensor, Tensor]:
        steps, rows, _ = x.shape
        hidden = w_hh.size(1)
        gates = torch.addmm(bias, x.reshape(steps * rows, -1), w_ih.t()).view(steps, rows, 4 * hidden)
        hs = x.new_zeros(steps, rows, hidden)
        cs = x.new_zeros(steps, rows, hidden)
        tanh_cs = x.new_empty(steps, rows, hidden)
        zeros = x.new_zeros(rows, hidden)
        w_hh_t = w_hh.t()
        for t in _order(steps, reverse):
            n, prev = sizes[t], t + 1 if reverse else t - 1
            h_prev, c_prev = (hs[prev, :n], cs[prev, :n]) if 0 <= prev < steps else (zeros[:n], zeros[:n])
            g = gates[t, :n]  # becomes the activations i, f, g, o in place
            g.addmm_(h_prev, w_hh_t)
            g[:, : 2 * hidden].sigmoid_()
            g[:, 2 * hidden : 3 * hidden].tanh_()
            g[:, 3 * hidden :].sigmoid_()
            i, f, cand, o = g.chunk(4, 1)
            c = torch.mul(f, c_prev, out=cs[t, :n]).addcmul_(i, cand)
            torch.mul(o, torch.tanh(c, out=tanh_cs[t, :n]), out=hs[t, :n])
        ctx.save_for_backward(x, w_ih, w_hh, gates, cs, tanh_cs, hs)
        ctx.sizes, ctx.reverse = sizes, reverse
        return hs, cs

    @staticmethod
    def backward(ctx: Any, grad_hs: Tensor | None, grad_cs: Tensor | None) -> tuple[Tensor | None, ...]:
        with torch.autocast(ctx.device_type, enabled=False):
            return _Direction._backward(ctx, grad_hs, grad_cs)

    @staticmethod
    def _backward(ctx: Any, grad_hs: Tensor | None, grad_cs: Tensor | None) -> tuple[Tensor | None, ...]:
        x, w_ih, w_hh, gates, cs, tanh_cs, hs = ctx.saved_tensors
        sizes, reverse = ctx.sizes, ctx.reverse
        steps, rows, hidden = hs.shape
        grad_gates = gates.new_zeros(steps, rows, 4 * hidden)  # 0 where a sentence has ended
        dh_next = hs.new_zeros(rows, hidden)  # the gradient each step passes to the one before
        dc_next = hs.new_zeros(rows, hidden)
        zeros = hs.new_zeros(rows, hidden)
        for t in _order(steps, not reverse):
            n, prev = sizes[t], t + 1 if reverse else t - 1
            c_prev = cs[prev, :n] if 0 <= prev < steps else zeros[:n]
            i, f, cand, o = gates[t, :n].chunk(4, 1)
            tanh_c = tanh_cs[t, :n]
            dh = dh_next[:n] if grad_hs is None else dh_next[:n] + grad_hs[t, :n]
            dc = dc_next[:n] if grad_cs is None else dc_next[:n] + grad_cs[t, :n]
            # c_t's gradient: from c_{t+1} and through h_t = o ⊙ tanh(c_t)
            dc = dc.addcmul(dh * o, torch.addcmul(_one(tanh_c), tanh_c, tanh_c, value=-1))
            di, df, dcand, do = grad_gates[t, :n].chunk(4, 1)
            torch.mul(dc * cand, _sigmoid_slope(i), out=di)
            torch.mul(dc * c_prev, _sigmoid_slope(f), out=df)
            torch.mul(dc * i, torch.addcmul(_one(cand), cand, cand, value=-1), out=dcand)
            torch.mul(dh * tanh_c, _sigmoid_slope(o), out=do)
            torch.mul(dc, f, out=dc_next[:n])
            torch.mm(grad_gates[t, :n], w_hh, out=dh_next[:n])
        flat = grad_gates.view(steps * rows, 4 * hidden)
        need_x, need_ih, need_hh, need_bias = ctx.needs_input_grad[:4]
        grad_x = (flat @ w_ih).view_as(x) if need_x else None
        grad_ih = flat.t() @ x.reshape(steps * rows, -1) if need_ih else None
        grad_hh = flat.t() @ _shifted(hs, reverse).view(steps * rows, hidden) if need_hh else None
        grad_bias = flat.sum(0) if need_bias else None
        return grad_x, grad_ih, grad_hh, grad_bias, None, None


def _order(steps: int, reverse: bool) -> range:
    return range(steps - 1, -1, -1) if reverse else range(steps)


def _one(x: Tensor) -> Tensor:
    return x.new_ones(())


def _sigmoid_slope(s: Tensor) -> Tensor:
    """σ'(z) = s (1 - s) from s = σ(z)."""
    return torch.addcmul(s, s, s, value=-1)


def _shifted(hs: Tensor, reverse: bool) -> Tensor:
    """h_{t-1} at every position t in the direction's own order, 0 before its first step."""
    start = hs.new_zeros(1, *hs.shape[1:])
    return torch.cat([hs[1:], start]) if reverse else torch.cat([start, hs[:-1]])


def bilstm(
    lstm: nn.LSTM, x: Tensor, lengths: Tensor, dropout: Callable[[Tensor], Tensor]
) -> tuple[Tensor, Tensor, Tensor]:
    """nn.LSTM (bidirectional, batch_first) over padded x (N, S, E) with these lengths, as
    packing would run it: -> outputs (N, S, 2H), 0 on padding, and final (h, c), each (2L, N, H).
    `dropout` comes between layers, where nn.LSTM has its own."""
    dtype = x.dtype
    order = torch.argsort(lengths, descending=True, stable=True)
    by_length = lengths[order].tolist()
    sizes = [sum(1 for n in by_length if n > t) for t in range(x.size(1))]
    last = lengths[order] - 1  # each sentence's final position, going forwards
    batch = torch.arange(x.size(0), device=x.device)
    layer_in = x.index_select(0, order).transpose(0, 1)  # (S, N, E), sorted
    finals_h, finals_c = [], []
    for layer in range(lstm.num_layers):
        if layer:
            layer_in = dropout(layer_in)
        outputs = []
        for reverse in (False, True):
            suffix = f"_l{layer}" + ("_reverse" if reverse else "")
            names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            w_ih, w_hh, b_ih, b_hh = (getattr(lstm, name + suffix).to(dtype) for name in names)
            hs, cs = _Direction.apply(layer_in, w_ih, w_hh, b_ih + b_hh, sizes, reverse)
            final = 0 if reverse else last
            finals_h.append(hs[final, batch])
            finals_c.append(cs[final, batch])
            outputs.append(hs)
        layer_in = torch.cat(outputs, dim=-1)
    restore = torch.empty_like(order)
    restore[order] = batch
    states = layer_in.transpose(0, 1).index_select(0, restore)
    h_n = torch.stack(finals_h).index_select(1, restore)
    c_n = torch.stack(finals_c).index_select(1, restore)
    return states, h_n, c_n

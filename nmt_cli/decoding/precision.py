"""Decoding in low precision: the weights of the matrix products converted once, to bf16
(`cast_for_decoding`) or to int8 (`quantize_int8`), while everything around them stays fp32.
Which precision a run uses is device.py's choice; training autocasts instead (training/autocast.py).
"""

from __future__ import annotations

import torch

ROW_BUCKET = 32


def bf16_linear(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """x @ weight.T in bf16, with the rows padded to a multiple of ROW_BUCKET.

    oneDNN compiles and caches a kernel for every distinct shape, and beam search shrinks its
    batch row by row as sentences finish: unpadded, nearly every step is a new shape, costing
    compile time and about half a megabyte of cache each (over 100 MB per test set). Padded rows
    are zeros and are cut off again; each row's result is independent of the others.
    """
    lead, rows = x.shape[:-1], x.numel() // x.shape[-1]
    flat = x.reshape(rows, x.shape[-1]).to(torch.bfloat16)
    padded = -(-rows // ROW_BUCKET) * ROW_BUCKET
    if rows > ROW_BUCKET and padded != rows:
        flat = torch.nn.functional.pad(flat, (0, 0, 0, padded - rows))
    return torch.nn.functional.linear(flat, weight)[:rows].reshape(*lead, weight.shape[0])


class BF16Linear(torch.nn.Module):
    """A linear layer that multiplies in bf16 but takes and returns fp32.

    The weight is converted once; inputs are cast on the way in and results on the way out, so
    everything around the matrix product (softmaxes, norms, tanh, beam scores) stays fp32, which
    on CPUs is also faster than bf16 for such elementwise work.
    """

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(linear.weight.detach().to(torch.bfloat16), requires_grad=False)
        bias = linear.bias.detach().float() if linear.bias is not None else None
        self.bias = torch.nn.Parameter(bias, requires_grad=False) if bias is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = bf16_linear(x, self.weight).float()
        return y.add_(self.bias) if self.bias is not None else y


class BF16LSTMCell(torch.nn.Module):
    """An LSTM cell whose gate product runs in bf16 ([x; h] times both weight matrices at once)
    and whose gates and states stay fp32."""

    def __init__(self, cell: torch.nn.LSTMCell) -> None:
        super().__init__()
        weight = torch.cat([cell.weight_ih, cell.weight_hh], dim=1).detach().to(torch.bfloat16)
        self.weight = torch.nn.Parameter(weight, requires_grad=False)
        self.bias = torch.nn.Parameter((cell.bias_ih + cell.bias_hh).detach().float(), requires_grad=False)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        gates = bf16_linear(torch.cat([x, h], dim=1), self.weight).float().add_(self.bias)
        i, f, g, o = gates.chunk(4, dim=1)  # PyTorch's gate order
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


def cast_for_decoding(model: torch.nn.Module, precision: str) -> torch.nn.Module:
    """For `precision == "bf16"`, swap linear layers and LSTM cells for their bf16 versions.

    These are the decoder's per-step matrix products, which bf16 speeds up several times on CPUs
    with AVX-512 BF16. Autocast would instead re-cast every weight at every step, and storing the
    whole model in bf16 would slow the elementwise work. A linear layer with one output (additive
    attention's v, read as a weight vector) and the encoder's LSTM, run once per sentence, stay.
    """
    if precision != "bf16":
        return model
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Linear) and child.out_features > 1:
                setattr(parent, name, BF16Linear(child))
            elif isinstance(child, torch.nn.LSTMCell):
                setattr(parent, name, BF16LSTMCell(child))
    return model


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantisation of linear layers and LSTM cells, for CPU inference.

    Weights are stored in int8 and activations quantised on the fly per batch (VNNI kernels on
    recent x86 CPUs); embeddings, attention softmax and layer norms stay in fp32. A linear layer
    with a single output (additive attention's v) is a dot product that attention reads as a
    plain weight vector, so it stays as it is.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its future move
        from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

        spec = {
            name: default_dynamic_qconfig
            for name, m in model.named_modules()
            if isinstance(m, torch.nn.LSTMCell) or (isinstance(m, torch.nn.Linear) and m.out_features > 1)
        }
        return quantize_dynamic(model, spec, dtype=torch.qint8)

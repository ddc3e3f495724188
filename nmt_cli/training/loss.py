"""The training objective and what it measures on held-out data: label-smoothed cross-entropy
(Szegedy et al., 2016) summed over real target tokens, and its unsmoothed per-token mean under
teacher forcing, whose exponential is the perplexity.

Training, validation and `nmt evaluate` all import it from here, so scoring never depends on
the training loop.

The loss is computed by its closed form, logsumexp(z) - (1-ε)·z_y - (ε/V)·Σ_v z_v per token, with
gradient softmax(z) - (1-ε)·onehot(y) - ε/V, a few hundred rows at a time in fp32, the gradient
from the same softmax as the loss: this never materialises an fp32 copy of the (tokens × vocabulary)
logits, their log-softmax or its gradient, the largest tensors of a training step, of which
torch's cross_entropy makes three. Each chunk's loss and gradient come from `torch_rows`
(loss_rows.py), on an fp32 copy of the chunk. (A compiled kernel over the bf16 rows saved 4-6%
of a CPU update and was retired for that: docs/training-speed.md, "The loss kernel, retired".)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nmt_cli.config import PAD_ID
from nmt_cli.data import batching
from nmt_cli.data.batch import Batch, collate
from nmt_cli.data.shards import ShardSet
from nmt_cli.training.autocast import autocast
from nmt_cli.training.loss_rows import torch_rows


def loss_fn(logits: torch.Tensor, target: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Summed label-smoothed cross-entropy over real target tokens; logits (B, T, V), target (B, T)."""
    return smoothed_cross_entropy(logits, target, smoothing, PAD_ID)


ROWS = 256  # rows per chunk: 256 x 8,000 fp32 logits = 8 MB, about an L2/L3 share
# Rows per product for the output weight's gradient (4 chunks): one (V x 1,024) x (1,024 x D)
# product accumulated into fp32 runs faster than four of 256 rows, each with its own fp32 sum.
WEIGHT_ROWS = 4 * ROWS


class _SmoothedCrossEntropy(torch.autograd.Function):
    """The loss of given logits, and in the same pass over each chunk their gradient, kept for
    `backward` in the logits' dtype (bf16 under autocast, where the output layer's backward
    would round it anyway), in the buffer `backward` would have allocated. Every operation
    takes one dtype: mixed-dtype kernels (bf16 in, fp32 out) are several times slower on CPUs.
    """

    @staticmethod
    def forward(ctx: Any, logits: Tensor, target: Tensor, smoothing: float, ignore: int) -> Tensor:
        # logits (N, V), any float dtype; target (N,)
        grad = torch.empty_like(logits) if ctx.needs_input_grad[0] else None
        total = torch.zeros((), dtype=torch.float32, device=logits.device)
        for s in range(0, logits.size(0), ROWS):
            # fp32 rows, whatever the logits' dtype: torch's operations, the values validation
            # has always reported
            chunk = logits[s : s + ROWS].float()
            loss, _ = torch_rows(
                chunk, target[s : s + ROWS], ignore, smoothing, None if grad is None else grad[s : s + ROWS]
            )
            total += loss
        ctx.save_for_backward(grad)
        return total

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor, None, None, None]:
        (grad,) = ctx.saved_tensors
        # in place: the buffer is this function's own, and backward runs once per forward
        return grad.mul_(grad_out.float()), None, None, None


class _LinearSmoothedCrossEntropy(torch.autograd.Function):
    """The output layer and the loss fused: logits are made a chunk of rows at a time, turned
    into loss and logit gradient while in cache, and that gradient goes at once through the
    layer's two backward products. The (tokens × vocabulary) logits and their gradient, the
    largest tensors of a training step, never exist whole, nor travel through main memory.
    """

    @staticmethod
    def forward(
        ctx: Any,
        hidden: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        target: Tensor,
        smoothing: float,
        ignore: int,
        dtype: torch.dtype,
    ) -> Tensor:
        # hidden (N, D), weight (V, D), bias (V,) or None, target (N,); products in `dtype`
        h, w = hidden.to(dtype), weight.to(dtype)
        b = bias.to(dtype) if bias is not None else None
        want_h, want_w, want_b = ctx.needs_input_grad[:3]
        grad_h = torch.empty_like(h) if want_h else None
        grad_w = torch.zeros_like(weight, dtype=torch.float32) if want_w else None
        grad_b = torch.zeros(weight.size(0), dtype=torch.float32, device=weight.device) if want_b else None
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        n = h.size(0)
        want = want_h or want_w or want_b
        # logit gradients of up to WEIGHT_ROWS positions, for one weight-gradient product
        grads = h.new_empty(min(WEIGHT_ROWS, n), weight.size(0)) if want else None
        with torch.autocast(hidden.device.type, enabled=False):
            for s in range(0, n, ROWS):
                rows = h[s : s + ROWS]
                start = s - s % WEIGHT_ROWS  # of the weight-gradient group
                g = grads[s - start : s - start + rows.size(0)] if grads is not None else None
                logits = torch.nn.functional.linear(rows, w, b)
                loss, p = torch_rows(logits.float(), target[s : s + ROWS], ignore, smoothing, g)
                total += loss
                if grads is None or g is None or p is None:
                    continue
                if grad_h is not None:
                    torch.mm(g, w, out=grad_h[s : s + ROWS])
                if grad_b is not None:
                    grad_b += p.sum(0, dtype=torch.float32)
                end = s + rows.size(0)
                if grad_w is not None and (end - start == WEIGHT_ROWS or end == n):
                    grad_w += grads[: end - start].t() @ h[start:end]
        ctx.save_for_backward(grad_h, grad_w, grad_b)
        ctx.hidden_dtype = hidden.dtype
        return total

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        grad_h, grad_w, grad_b = ctx.saved_tensors
        scale = grad_out.float()
        return (
            grad_h.mul_(scale).to(ctx.hidden_dtype) if grad_h is not None else None,
            grad_w.mul_(scale) if grad_w is not None else None,
            grad_b.mul_(scale) if grad_b is not None else None,
            None,
            None,
            None,
            None,
        )


def output_loss(hidden: Tensor, output: nn.Linear, target: Tensor, smoothing: float) -> Tensor:
    """`loss_fn(output(hidden), target, smoothing)` in one fused pass: hidden (B, T, D) are the
    features the output layer turns into logits. Products run in autocast's dtype when autocast
    is on (as `output(hidden)` would), else in the weight's.

    Only positions with a real target go through the output layer: a padding position's loss
    and gradient are zero, and padding is about 9% of a Multi30k batch's target positions, so
    the layer's three products (a quarter to a third of an update's FLOPs) skip that share.
    """
    device = hidden.device.type
    dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else output.weight.dtype
    flat, target = hidden.reshape(-1, hidden.size(-1)), target.reshape(-1)
    real = (target != PAD_ID).nonzero().squeeze(1)
    return _LinearSmoothedCrossEntropy.apply(
        flat.index_select(0, real), output.weight, output.bias, target[real], smoothing, PAD_ID, dtype
    )


def smoothed_cross_entropy(logits: Tensor, target: Tensor, smoothing: float, ignore_index: int) -> Tensor:
    """Summed label-smoothed cross-entropy over targets that are not `ignore_index`; fp32 scalar."""
    flat = logits.reshape(-1, logits.size(-1))
    return _SmoothedCrossEntropy.apply(flat, target.reshape(-1), smoothing, ignore_index)


def pairs_loss(
    model: nn.Module,
    src_ids: Sequence[Sequence[int]],
    tgt_ids: Sequence[Sequence[int]],
    device: torch.device,
    precision: str,
) -> float:
    """Per-token cross-entropy (no smoothing) of pairs of id lists in memory under teacher
    forcing, in length-sorted batches (`nmt evaluate`'s perplexity)."""
    # each pair's padded cost: its longer side with EOS (or BOS), and one more, as ever
    lengths = np.array([max(len(s), len(t)) + 2 for s, t in zip(src_ids, tgt_ids, strict=True)])
    order = batching.token_batches(np.arange(len(lengths)), lengths, 4096)
    batches = (collate([src_ids[i] for i in idx], [tgt_ids[i] for i in idx]) for idx in order)
    return mean_loss(model, batches, device, precision)


def shard_loss(model: nn.Module, data: ShardSet, device: torch.device, precision: str) -> float:
    """The same over a memory-mapped set of any size, one length-sorted batch at a time."""
    order = batching.token_batches(np.arange(len(data)), data.lengths(), 4096)
    return mean_loss(model, (data.batch(idx) for idx in order), device, precision)


@torch.no_grad()
def mean_loss(model: nn.Module, batches: Iterable[Batch], device: torch.device, precision: str) -> float:
    """Per-token cross-entropy (no smoothing) summed over `batches`, divided by their target tokens."""
    total, tokens = 0.0, 0
    for batch in batches:
        batch = batch.to(device)
        with autocast(device, precision):
            logits, _ = model(batch.src, batch.src_mask, batch.tgt_in)
        total += float(loss_fn(logits, batch.tgt_out, 0.0))
        tokens += batch.n_tgt_tokens
    return total / max(tokens, 1)

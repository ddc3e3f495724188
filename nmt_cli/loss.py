"""The training objective and what it measures on held-out data: label-smoothed cross-entropy
(Szegedy et al., 2016) summed over real target tokens, and its unsmoothed per-token mean under
teacher forcing, whose exponential is the perplexity.

Training, validation and `nmt evaluate` all import it from here, so scoring never depends on
the training loop.

The loss is computed by its closed form, logsumexp(z) - (1-ε)·z_y - (ε/V)·Σ_v z_v per token, with
gradient softmax(z) - (1-ε)·onehot(y) - ε/V, a few hundred rows at a time in fp32: this never
materialises an fp32 copy of the (tokens × vocabulary) logits, their log-softmax or its gradient,
the largest tensors of a training step, of which torch's cross_entropy makes three.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nmt_cli import batching
from nmt_cli.config import PAD_ID
from nmt_cli.data import Batch, collate, token_batches
from nmt_cli.precision import autocast
from nmt_cli.shards import ShardSet


def loss_fn(logits: torch.Tensor, target: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Summed label-smoothed cross-entropy over real target tokens; logits (B, T, V), target (B, T)."""
    return smoothed_cross_entropy(logits, target, smoothing, PAD_ID)


ROWS = 256  # rows per chunk: 256 x 8,000 fp32 logits = 8 MB, about an L2/L3 share


class _SmoothedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, logits: Tensor, target: Tensor, smoothing: float, ignore: int) -> Tensor:
        # logits (N, V), any float dtype; target (N,)
        vocab = logits.size(1)
        keep = target != ignore
        safe = target.masked_fill(~keep, 0)
        lse = torch.empty(logits.size(0), dtype=torch.float32, device=logits.device)
        total = torch.zeros((), dtype=torch.float32, device=logits.device)
        for s in range(0, logits.size(0), ROWS):
            # shifted by the row maximum, so that a confident row's small loss does not vanish
            # in the rounding of logsumexp(z) - z_y
            top = logits[s : s + ROWS].amax(-1, keepdim=True).float()
            z = logits[s : s + ROWS].float() - top
            shifted_lse = torch.logsumexp(z, dim=-1)
            lse[s : s + ROWS] = shifted_lse + top.squeeze(1)
            z_y = z.gather(1, safe[s : s + ROWS, None]).squeeze(1)
            rows = shifted_lse - (1.0 - smoothing) * z_y - (smoothing / vocab) * z.sum(-1)
            total += (rows * keep[s : s + ROWS]).sum()
        ctx.save_for_backward(logits, safe, keep, lse)
        ctx.smoothing = smoothing
        return total

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor, None, None, None]:
        logits, safe, keep, lse = ctx.saved_tensors
        eps, vocab = ctx.smoothing, logits.size(1)
        scale = grad_out.float() * keep.float()  # (N,)
        grad = torch.empty_like(logits)
        for s in range(0, logits.size(0), ROWS):
            p = torch.exp(logits[s : s + ROWS].float() - lse[s : s + ROWS, None])
            p.sub_(eps / vocab)
            p.scatter_add_(1, safe[s : s + ROWS, None], p.new_full((p.size(0), 1), -(1.0 - eps)))
            p.mul_(scale[s : s + ROWS, None])
            grad[s : s + ROWS] = p
        return grad, None, None, None


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
    lengths = [max(len(s), len(t)) + 1 for s, t in zip(src_ids, tgt_ids, strict=True)]
    order = token_batches(lengths, 4096)
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

"""Label-smoothed cross-entropy of a chunk of logit rows by torch's operations: the closed form
logsumexp(z) - (1-ε)·z_y - (ε/V)·Σ_v z_v per row, with gradient softmax(z) - (1-ε)·onehot(y) - ε/V.
loss.py calls it a chunk of rows at a time, so that no fp32 copy of the whole logits is made."""

from __future__ import annotations

import torch
from torch import Tensor


def _rows(
    z: Tensor, target: Tensor, kept: Tensor, smoothing: float, want_grad: bool
) -> tuple[Tensor, Tensor]:
    """Summed loss of fp32 logit rows `z` (left as they are) and, if wanted, their gradient rows.

    Both come from softmax(z) (torch's softmax kernel: 2.5x faster on CPUs than its exp alone),
    read at the row maximum for the log-partition: log softmax(z)_max = max - logsumexp(z),
    never below -log V, so no underflow. Every term is relative to the row maximum, so that a
    confident row's small loss does not vanish in the rounding of logsumexp(z) - z_y.
    """
    vocab, y = z.size(1), target[:, None]
    top = z.amax(-1, keepdim=True)
    p = torch.softmax(z, -1)
    lse = -p.amax(-1).log()  # logsumexp(z) - max: softmax is largest where z is
    z_y = (z.gather(1, y) - top).squeeze(1)
    z_sum = z.sum(-1) - vocab * top.squeeze(1)
    rows = lse - (1.0 - smoothing) * z_y - (smoothing / vocab) * z_sum
    if want_grad:
        # softmax(z) - ε/V - (1-ε)·onehot(y) on kept rows, zero on padding
        p.scatter_add_(1, y, p.new_full(y.shape, -(1.0 - smoothing)))
        p.sub_(smoothing / vocab).mul_(kept[:, None])
    return (rows * kept).sum(), p


def _targets(target: Tensor, ignore: int) -> tuple[Tensor, Tensor]:
    """(targets with `ignore` replaced by a valid id, 1.0 on real targets and 0.0 on ignored)."""
    return target.masked_fill(target == ignore, 0), (target != ignore).float()


def torch_rows(
    z: Tensor, target: Tensor, ignore: int, smoothing: float, grad: Tensor | None
) -> tuple[Tensor, Tensor | None]:
    """(summed loss of fp32 rows z (R, V) against target (R,), rows whose target is `ignore`
    counting 0; their fp32 gradient, also copied into `grad`, or None where `grad` is None)."""
    safe, kept = _targets(target, ignore)
    loss, p = _rows(z, safe, kept, smoothing, grad is not None)
    if grad is None:
        return loss, None
    grad.copy_(p)
    return loss, p

"""The training objective and what it measures on held-out data: label-smoothed cross-entropy
(Szegedy et al., 2016) summed over real target tokens, and its unsmoothed per-token mean under
teacher forcing, whose exponential is the perplexity.

Training, validation and `nmt evaluate` all import it from here, so scoring never depends on
the training loop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nmt_cli.config import PAD_ID
from nmt_cli.corpus import ParallelSet
from nmt_cli.data import collate, token_batches
from nmt_cli.precision import autocast


def loss_fn(logits: torch.Tensor, target: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Summed label-smoothed cross-entropy over real target tokens; logits (B, T, V), target (B, T)."""
    return F.cross_entropy(
        logits.reshape(-1, logits.size(-1)).float(),
        target.reshape(-1),
        ignore_index=PAD_ID,
        label_smoothing=smoothing,
        reduction="sum",
    )


@torch.no_grad()
def validation_loss(model: nn.Module, data: ParallelSet, device: torch.device, precision: str) -> float:
    """Per-token cross-entropy (no smoothing) of `data` under teacher forcing."""
    total, tokens = 0.0, 0
    for idx in token_batches(data.lengths(), 4096):
        batch = collate([data.src_ids[i] for i in idx], [data.tgt_ids[i] for i in idx]).to(device)
        with autocast(device, precision):
            logits, _ = model(batch.src, batch.src_mask, batch.tgt_in)
        total += float(loss_fn(logits, batch.tgt_out, 0.0))
        tokens += batch.n_tgt_tokens
    return total / max(tokens, 1)

"""Forced decoding: the model reads a given target under teacher forcing, and reports the
attention it pays while predicting each token and the target's log-probability."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from nmt_cli.config import DEFAULT_ATTENTION, PAD_ID, AttentionChoice
from nmt_cli.data.batch import collate
from nmt_cli.models.seq2seq import Seq2Seq


def force_decode(
    model: Seq2Seq,
    src_ids: Sequence[Sequence[int]],
    tgt_ids: Sequence[Sequence[int]],
    batch_size: int,
    attention: AttentionChoice = DEFAULT_ATTENTION,
) -> list[tuple[Tensor, float]]:
    """Teacher-force each target: its `attention` (T+1, S+1), EOS row and column included, and
    its log-probability (the sum over its tokens and EOS)."""
    device = next(model.parameters()).device  # type: ignore[attr-defined]
    results: list[tuple[Tensor, float]] = [(torch.zeros(0), 0.0)] * len(src_ids)
    order = sorted(range(len(src_ids)), key=lambda i: -len(src_ids[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            b = collate([src_ids[i] for i in idx], [tgt_ids[i] for i in idx])
            tgt_out = b.tgt_out.to(device)
            logits, attn = model(
                b.src.to(device), b.src_mask.to(device), b.tgt_in.to(device), True, attention
            )
            assert attn is not None
            attn = attn.float().cpu()  # one transfer per batch, not per sentence
            logp = torch.log_softmax(logits.float(), dim=-1)
            logp = logp.gather(-1, tgt_out.unsqueeze(-1)).squeeze(-1)  # (B, T)
            scores = logp.masked_fill(tgt_out == PAD_ID, 0.0).sum(1)  # (B,)
            for row, i in enumerate(idx):
                a = attn[row, : len(tgt_ids[i]) + 1, : len(src_ids[i]) + 1]
                results[i] = (a, float(scores[row]))
    return results

"""Padded tensor batches of sentence pairs (token-count batching is batching.py's)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nmt_cli.config import BOS_ID, EOS_ID, PAD_ID

if TYPE_CHECKING:
    import torch


@dataclass
class Batch:
    """Padded tensors for one batch; masks are True on real tokens."""

    src: torch.Tensor  # (B, S) source ids followed by EOS
    src_mask: torch.Tensor  # (B, S)
    tgt_in: torch.Tensor  # (B, T) BOS followed by target ids
    tgt_out: torch.Tensor  # (B, T) target ids followed by EOS
    n_src_tokens: int
    n_tgt_tokens: int
    guide: torch.Tensor | None = None  # (B, T, S) attention targets of guided alignment, if any

    def to(self, device: torch.device) -> Batch:
        """The same batch with its tensors on `device`."""
        return Batch(
            self.src.to(device),
            self.src_mask.to(device),
            self.tgt_in.to(device),
            self.tgt_out.to(device),
            self.n_src_tokens,
            self.n_tgt_tokens,
            None if self.guide is None else self.guide.to(device),
        )


def pad(seqs: Sequence[Sequence[int]], prefix: int | None = None, suffix: int | None = None):
    """Pad id lists into a (B, L) LongTensor, optionally adding BOS/EOS around each."""
    import torch

    rows = [
        ([prefix] if prefix is not None else []) + list(s) + ([suffix] if suffix is not None else [])
        for s in seqs
    ]
    length = max((len(r) for r in rows), default=0)
    out = torch.full((len(rows), max(length, 1)), PAD_ID, dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out


def collate(src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]]) -> Batch:
    """Build the training tensors: source+EOS, BOS+target as input, target+EOS as output."""
    src_t = pad(src, suffix=EOS_ID)
    tgt_in = pad(tgt, prefix=BOS_ID)
    tgt_out = pad(tgt, suffix=EOS_ID)
    return Batch(
        src=src_t,
        src_mask=src_t != PAD_ID,
        tgt_in=tgt_in,
        tgt_out=tgt_out,
        n_src_tokens=int((src_t != PAD_ID).sum()),
        n_tgt_tokens=int((tgt_out != PAD_ID).sum()),
    )

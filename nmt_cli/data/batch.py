"""Padded tensor batches of sentence pairs, and token-count batching of in-memory lengths."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nmt_cli.config import BOS_ID, EOS_ID, PAD_ID
from nmt_cli.io.lines import input_lines as input_lines  # re-exported: the one line rule
from nmt_cli.io.lines import read_lines as read_lines

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

    def to(self, device: torch.device) -> Batch:
        """The same batch with its tensors on `device`."""
        return Batch(
            self.src.to(device),
            self.src_mask.to(device),
            self.tgt_in.to(device),
            self.tgt_out.to(device),
            self.n_src_tokens,
            self.n_tgt_tokens,
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


def token_batches(
    lengths: Sequence[int], batch_tokens: int, rng: random.Random | None = None
) -> list[list[int]]:
    """Group example indices into batches of at most `batch_tokens` padded tokens.

    Examples are length-sorted (ties in random order when `rng` is given), so padding stays
    small; the batches themselves are then shuffled. `lengths[i]` is the longer side of i.
    """
    order = list(range(len(lengths)))
    if rng is not None:
        rng.shuffle(order)
    order.sort(key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        longest_if_added = max(longest, lengths[i] + 1)
        if current and longest_if_added * (len(current) + 1) > batch_tokens:
            batches.append(current)
            current, longest_if_added = [], lengths[i] + 1
        current.append(i)
        longest = longest_if_added
    if current:
        batches.append(current)
    if rng is not None:
        rng.shuffle(batches)
    return batches

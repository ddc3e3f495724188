"""What greedy and beam search share: the hypotheses they return and their length rules.

A translation may be at most `max_len_ratio` x source length + `max_len_offset` subwords long;
beam scores are normalised with the GNMT length penalty ((5 + |y|) / 6)^α (Wu et al., 2016).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from nmt_cli.config import EOS_ID, DecodeConfig


@dataclass
class Hypothesis:
    """One output: target ids without BOS/EOS, its score, and optionally its attention."""

    tokens: list[int]
    score: float  # length-normalised log-probability (the raw sum for greedy)
    attention: Tensor | None = None  # (len(tokens) + 1, S): one row per target token and EOS


def length_penalty(length: Tensor, alpha: float) -> Tensor:
    return ((5.0 + length.float()) / 6.0) ** alpha


def max_lengths(src_mask: Tensor, cfg: DecodeConfig) -> Tensor:
    """(N,) the most target subwords each sentence's translation may have."""
    return (src_mask.sum(1).float() * cfg.max_len_ratio + cfg.max_len_offset).long()


def max_length(src_len: int, cfg: DecodeConfig) -> int:
    """`max_lengths` of one source of `src_len` subwords (+ EOS, as the search pads it)."""
    return int((src_len + 1) * cfg.max_len_ratio + cfg.max_len_offset)


def force_eos(logp: Tensor, at_limit: Tensor) -> Tensor:
    """Rows of `logp` (N, V) that have spent their length budget may only end there."""
    only_eos = torch.full_like(logp, -math.inf)
    only_eos[:, EOS_ID] = logp[:, EOS_ID]
    return torch.where(at_limit.unsqueeze(1), only_eos, logp)


def no_empty_output(logp: Tensor) -> Tensor:
    """`logp` (N, V) at the first step, EOS ruled out: a non-empty source never translates to
    nothing (a one-word fragment of a document, whose words would otherwise be lost)."""
    logp = logp.clone()
    logp[:, EOS_ID] = -math.inf
    return logp


def sync_now(device: torch.device, t: int) -> bool:
    """Whether to read results back to the host at step t to drop finished sentences. On the
    CPU that costs nothing; on CUDA it stalls the queue, so there it happens every 4th step."""
    return device.type == "cpu" or t % 4 == 3

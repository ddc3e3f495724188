"""Attention for the RNN decoder: three scoring functions and global or local spans.

Given a decoder query s and encoder states h_i (Luong et al., 2015; Bahdanau et al., 2015):

    dot       e_i = s · h_i                    (encoder output size equals decoder size)
    general   e_i = sᵀ W h_i                   (Luong's multiplicative attention)
    additive  e_i = vᵀ tanh(W1 h_i + W2 s)     (Bahdanau's MLP attention)

a_i = softmax(e)_i over real source positions (padding gets exactly 0), context = Σ a_i h_i.
The query-independent half of each score (W h_i, W1 h_i) is computed once per sentence by
`project_keys`, not at every decoder step.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from nmt_cli.accel.ops import additive_energies, attention_read, shared_additive_keys
from nmt_cli.config import Scoring, Span


class DotScore(nn.Module):
    """e_i = s · h_i."""

    def project_keys(self, memory: Tensor) -> Tensor:
        return memory

    def share_keys(self, keys: Tensor) -> Tensor:
        """The keys as every teacher-forced step scores them: autograd sums a product's gradient well."""
        return keys

    def forward(self, query: Tensor, keys: Tensor) -> Tensor:
        # query (N, H), keys (N, S, H) -> energies (N, S)
        return torch.bmm(keys, query.unsqueeze(2)).squeeze(2)


class GeneralScore(nn.Module):
    """e_i = sᵀ W h_i, computed as s · (W h_i) so that W h_i is projected once."""

    def __init__(self, query_dim: int, memory_dim: int) -> None:
        super().__init__()
        self.W = nn.Linear(memory_dim, query_dim, bias=False)

    def project_keys(self, memory: Tensor) -> Tensor:
        return self.W(memory)

    def share_keys(self, keys: Tensor) -> Tensor:
        """The keys as every teacher-forced step scores them: autograd sums a product's gradient well."""
        return keys

    def forward(self, query: Tensor, keys: Tensor) -> Tensor:
        return torch.bmm(keys, query.unsqueeze(2)).squeeze(2)


class AdditiveScore(nn.Module):
    """e_i = vᵀ tanh(W1 h_i + W2 s)."""

    def __init__(self, query_dim: int, memory_dim: int, attn_dim: int) -> None:
        super().__init__()
        self.W1 = nn.Linear(memory_dim, attn_dim, bias=False)
        self.W2 = nn.Linear(query_dim, attn_dim, bias=False)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def project_keys(self, memory: Tensor) -> Tensor:
        return self.W1(memory)

    def share_keys(self, keys: Tensor) -> Tensor:
        """The keys as every teacher-forced step scores them, their gradient made once (accel)."""
        return shared_additive_keys(keys, self.v.weight.squeeze(0))

    def forward(self, query: Tensor, keys: Tensor) -> Tensor:
        # query (N, H), keys (N, S, A) -> energies (N, S)
        return additive_energies(self.W2(query), keys, self.v.weight.squeeze(0))


Scorer = DotScore | GeneralScore | AdditiveScore


def make_scorer(kind: Scoring, query_dim: int, memory_dim: int) -> Scorer:
    """The scoring module named by `--attention`."""
    if kind == "dot":
        if query_dim != memory_dim:
            raise ValueError(f"dot attention needs equal sizes, got {query_dim} and {memory_dim}")
        return DotScore()
    if kind == "general":
        return GeneralScore(query_dim, memory_dim)
    if kind == "additive":
        return AdditiveScore(query_dim, memory_dim, query_dim)
    raise ValueError(f"unknown attention: {kind}")


def attend(energies: Tensor, values: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Softmax over the positions where `mask` is True; returns (context (N, H), weights (N, S))."""
    weights = masked_softmax(energies, mask, values.dtype)
    return attention_read(weights, values), weights


def masked_softmax(energies: Tensor, mask: Tensor, dtype: torch.dtype) -> Tensor:
    """Attention weights (N, S): softmax in fp32 over the positions where `mask` is True."""
    return torch.softmax(energies.float().masked_fill(~mask, -math.inf), dim=-1).to(dtype)


class LocalPredictor(nn.Module):
    """Luong's local-p position: p_t = S · sigmoid(v_pᵀ tanh(W_p h_t))."""

    def __init__(self, query_dim: int) -> None:
        super().__init__()
        self.W_p = nn.Linear(query_dim, query_dim, bias=False)
        self.v_p = nn.Linear(query_dim, 1, bias=False)

    def forward(self, query: Tensor, src_len: Tensor) -> Tensor:
        # -> (N,) real-valued centre in [0, S]
        return src_len.to(query.dtype) * torch.sigmoid(self.v_p(torch.tanh(self.W_p(query)))).squeeze(1)


def local_window(centre: Tensor, src_len: Tensor, width: int, max_len: int) -> Tensor:
    """True where |s - p_t| <= D. The centre is clamped into the sentence, so that a step
    past its end still attends to its last tokens rather than to nothing."""
    centre = torch.minimum(centre.float(), (src_len - 1).float()).clamp(min=0)
    positions = torch.arange(max_len, device=centre.device, dtype=torch.float)
    return (positions.unsqueeze(0) - centre.unsqueeze(1)).abs() <= width


def local_attend(
    energies: Tensor,
    values: Tensor,
    mask: Tensor,
    span: Span,
    width: int,
    step: Tensor,
    centre_p: Tensor | None,
) -> tuple[Tensor, Tensor]:
    """Global, local-m (p_t = t) or local-p (predicted p_t, Gaussian-weighted) attention.

    Outside the window [p_t - D, p_t + D] the weight is exactly 0. For local-p the weights
    inside are multiplied by exp(-(s - p_t)² / 2σ²) with σ = D/2, as in Luong et al. (2015).
    """
    if span == "global":
        return attend(energies, values, mask)
    src_len = mask.sum(1)
    centre = step.float().expand(mask.size(0)) if span == "local-m" else centre_p
    assert centre is not None
    window = local_window(centre, src_len, width, mask.size(1)) & mask
    weights = masked_softmax(energies, window, values.dtype)  # the context is read once, below
    if span == "local-p":
        positions = torch.arange(mask.size(1), device=mask.device, dtype=torch.float)
        sigma = width / 2
        gauss = torch.exp(-((positions.unsqueeze(0) - centre.float().unsqueeze(1)) ** 2) / (2 * sigma**2))
        weights = weights * gauss.to(weights.dtype)
    return attention_read(weights, values), weights

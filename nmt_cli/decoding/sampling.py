"""Sampling instead of search (as used for back-translation; Edunov et al., 2018), and the
n-gram blocking that beam search, greedy search and sampling share (Paulus et al., 2018).

Sampling draws each token from the model's distribution, divided by a temperature and cut to
the k most probable tokens (top-k; Fan et al., 2018) or to the smallest set whose probability
reaches p (nucleus; Holtzman et al., 2020). It runs as greedy search whose choice of token is
a draw, over all sentences and all their samples at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from nmt_cli.config import EOS_ID
from nmt_cli.errors import NMTError

Kind = Literal["topk", "topp", "full"]


@dataclass(frozen=True)
class Sampling:
    """What to sample from: the k best tokens, the top-p nucleus, or the full distribution."""

    kind: Kind
    value: float = 0.0  # k for topk, p for topp

    @classmethod
    def parse(cls, text: str) -> Sampling:
        """'topk:K', 'topp:P' or 'full', refusing anything else in one line."""
        kind, _, arg = text.strip().partition(":")
        if kind == "full" and not arg:
            return cls("full")
        try:
            value = float(arg) if kind == "topp" else int(arg)
        except ValueError:
            value = math.nan
        if kind == "topk" and value >= 1:
            return cls("topk", value)
        if kind == "topp" and 0.0 < value <= 1.0:
            return cls("topp", value)
        raise NMTError(f"--sampling must be topk:K (K >= 1), topp:P (0 < P <= 1) or full, not {text!r}")


def restrict(logits: Tensor, sampling: Sampling) -> Tensor:
    """logits (N, V) with every token outside the top-k or the top-p nucleus set to -inf."""
    if sampling.kind == "topk":
        # Exactly the k tokens topk picks: a threshold at the k-th value would also keep every
        # token tied with it (bf16 products round logits, so ties happen), and top-k 1 would
        # then not be greedy search.
        top = logits.topk(min(int(sampling.value), logits.size(-1)), dim=-1)
        return torch.full_like(logits, -math.inf).scatter_(-1, top.indices, top.values)
    if sampling.kind == "topp":
        probs, order = logits.softmax(dim=-1).sort(dim=-1, descending=True)
        # A token is in the nucleus if the tokens before it do not yet reach p (the first always is).
        outside = probs.cumsum(dim=-1) - probs >= sampling.value
        outside[:, 0] = False  # the most probable token always is, even where p rounds to 0
        return logits.masked_fill(outside.scatter(1, order, outside), -math.inf)
    return logits


class Sampler:
    """Draws next tokens from log-probabilities (N, V), with its own seeded generator so that
    the same seed gives the same samples and nothing else in the process disturbs them."""

    def __init__(self, sampling: Sampling, temperature: float, seed: int, device: torch.device) -> None:
        if not (math.isfinite(temperature) and temperature > 0):
            raise NMTError(f"--temperature must be finite and positive, not {temperature}")
        self.sampling, self.temperature = sampling, temperature
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)

    def __call__(self, logp: Tensor) -> Tensor:
        """One token per row (N,)."""
        # Shifted so that the most probable token is 0: a tiny T then leaves it finite (greedy)
        # where every logit divided by T would overflow to -inf; softmax is the same either way.
        logits = restrict((logp - logp.amax(dim=-1, keepdim=True)) / self.temperature, self.sampling)
        probs = logits.softmax(dim=-1)
        return torch.multinomial(probs, 1, generator=self.generator).squeeze(1)


def block_repeats(logp: Tensor, prefix: Tensor, n: int) -> Tensor:
    """logp (N, V) with -inf for every token that would complete an n-gram already in `prefix`
    (N, t), the tokens each row has produced so far. No Python loop over rows: every earlier
    n-gram is compared with the last n-1 tokens at once (n = 1 blocks every token seen)."""
    t = prefix.size(1)
    if n <= 0 or t < n:
        return logp
    grams = prefix.unfold(1, n, 1)  # (N, t-n+1, n): every n-gram so far
    tail = prefix[:, t - n + 1 :]  # (N, n-1): the n-gram a next token would complete
    seen = (grams[:, :, : n - 1] == tail.unsqueeze(1)).all(dim=-1)  # (N, t-n+1)
    hits = torch.zeros_like(logp, dtype=torch.int32).scatter_add_(1, grams[:, :, -1], seen.int())
    hits[:, EOS_ID] = 0  # ending is always allowed, so no row is left without a choice
    return logp.masked_fill(hits > 0, -math.inf)

"""Batched greedy search over any Seq2Seq, and sampling, which is greedy search that draws each
token instead of taking the most probable (beam search is in beam.py).

All sentences of a batch advance together as one (N, ...) tensor batch. Sentences that are
finished are dropped from it via `select`, so they stop costing compute.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from nmt_cli.config import BOS_ID, EOS_ID, DecodeConfig
from nmt_cli.decoding.hypothesis import Hypothesis, force_eos, max_lengths, no_empty_output, sync_now
from nmt_cli.models.seq2seq import Seq2Seq

if TYPE_CHECKING:
    from nmt_cli.decoding.constraints import Constraints
    from nmt_cli.decoding.sampling import Sampler


def greedy(
    model: Seq2Seq,
    src: Tensor,
    src_mask: Tensor,
    cfg: DecodeConfig,
    choose: Callable[[Tensor], Tensor] | None = None,
    constraints: Constraints | None = None,
) -> list[Hypothesis]:
    """Pick the most probable token at every step, for a whole batch at once; or, given
    `choose` (log-probabilities (N, V) -> tokens (N,)), the token it picks (sampling).
    With `constraints`, a row produces a constraint's tokens once it has begun one, where its
    attention peaks on a term's source words (`Constraints.greedy_force`), when the model would
    end while one is unmet, or when its steps left only suffice for them."""
    n, dev = src.size(0), src.device
    memory = model.encode(src, src_mask)
    state = model.init_state(memory)
    max_len = max_lengths(src_mask, cfg)
    first_limit, steps = int(max_len.min()), int(max_len.max()) + 1
    out = torch.zeros(n, steps, dtype=torch.long, device=dev)
    lengths = torch.full((n,), steps, dtype=torch.long, device=dev)
    scores = torch.zeros(n, device=dev)
    attn_all = src.new_zeros(n, steps, src.size(1), dtype=torch.float) if cfg.keep_attention else None
    active = torch.arange(n, device=dev)  # original index of each row still decoding
    prev = torch.full((n,), BOS_ID, dtype=torch.long, device=dev)
    for t in range(steps):
        logits, state, attn = model.decode_step(prev, memory, state, cfg.attention)
        logp = torch.log_softmax(logits.float(), dim=-1)
        if cfg.no_repeat_ngram:
            from nmt_cli.decoding.sampling import block_repeats

            logp = block_repeats(logp, out[active, :t], cfg.no_repeat_ngram)
        if t == 0 and first_limit > 0:
            logp = no_empty_output(logp)
        if constraints is not None:
            logp = constraints.restrict(logp, max_len[active] - t, constraints.greedy_force(logp, attn))
        if t >= first_limit:
            logp = force_eos(logp, t >= max_len[active])
        if choose is None:  # topk breaks ties as beam search and top-k sampling do; max may not
            best_lp, best = (x.squeeze(1) for x in logp.topk(1, dim=-1))
        else:
            best = choose(logp)
            best_lp = logp.gather(1, best.unsqueeze(1)).squeeze(1)
        running = lengths[active] == steps  # rows kept after their EOS must not change
        out[active, t] = torch.where(running, best, 0)
        scores[active] += torch.where(running, best_lp, 0.0)
        if attn_all is not None:
            attn_all[active, t] = torch.where(running.unsqueeze(1), attn.float(), 0.0)
        lengths[active] = torch.where(running & (best == EOS_ID), t, lengths[active])
        prev = best
        constraints = constraints.advance(best) if constraints is not None else None
        if sync_now(dev, t):
            keep = (lengths[active] == steps).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            if keep.numel() < active.numel():
                active, memory, state, prev = (
                    active[keep],
                    memory.select(keep),
                    state.select(keep),
                    prev[keep],
                )
                constraints = constraints.select(keep) if constraints is not None else None
    hyps = []
    for i, (length, score) in enumerate(zip(lengths.tolist(), scores.tolist())):
        attention = attn_all[i, : length + 1] if attn_all is not None else None
        hyps.append(Hypothesis(out[i, :length].tolist(), score, attention))
    return hyps


def sample(
    model: Seq2Seq,
    src: Tensor,
    src_mask: Tensor,
    cfg: DecodeConfig,
    sampler: Sampler,
    constraints: Constraints | None = None,
) -> list[list[Hypothesis]]:
    """`cfg.nbest` samples of each sentence, most probable first: one batch in which every
    sentence has a row per sample (as have `constraints`), so all are drawn together."""
    n = cfg.nbest
    rows = torch.arange(src.size(0), device=src.device).repeat_interleave(n)
    drawn = greedy(model, src[rows], src_mask[rows], cfg, sampler, constraints)
    return [sorted(drawn[i * n : (i + 1) * n], key=lambda h: -h.score) for i in range(src.size(0))]

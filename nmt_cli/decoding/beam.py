"""Batched beam search over any Seq2Seq, optionally under lexical constraints.

All sentences of a batch and all their beams advance together as one (N, ...) tensor batch;
sentences that are finished are dropped from it via `select`, so they stop costing compute.
Under constraints (constraints.py) the beams are filled by dynamic beam allocation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from nmt_cli.config import BOS_ID, EOS_ID, DecodeConfig
from nmt_cli.decoding.hypothesis import (
    Hypothesis,
    force_eos,
    length_penalty,
    max_lengths,
    no_empty_output,
    sync_now,
)
from nmt_cli.models.seq2seq import Seq2Seq

if TYPE_CHECKING:  # constraints.py is imported by the searches that have some
    from nmt_cli.decoding.constraints import Constraints


@dataclass
class _AttentionRecord:
    """The attention of every decoder row at every step, and which row of the step before each
    row continues: a hypothesis's attention is gathered along these backpointers once, at the
    end. (Re-indexing a (rows, T, S) history every step cost markup 22%, docs/documents.md.)"""

    steps: list[Tensor]  # [t]: (R_t, S) the attention of the R_t rows decoding at step t
    parents: list[Tensor]  # [t]: (R_t+1,) the row of step t that each row of step t+1 continues

    def trace(self, ends: Tensor, rows: Tensor) -> Tensor:
        """(H, max(ends) + 1, S) the attention of H hypotheses that ended (with EOS) at steps
        `ends` (H,) in rows `rows` (H,) of that step; zero after each one's end."""
        last = int(ends.max()) if ends.numel() else 0
        out = self.steps[0].new_zeros(ends.numel(), last + 1, self.steps[0].size(-1))
        cur = rows.clone()
        for t in range(last, -1, -1):
            live = (ends >= t).nonzero().squeeze(1)
            out[live, t] = self.steps[t][cur[live]]
            if t:
                cur[live] = self.parents[t - 1][cur[live]]
        return out


@dataclass
class _Finished:
    """The k best finished hypotheses of every sentence, kept as tensors and merged each step."""

    scores: Tensor  # (n, k) length-normalised, -inf where empty
    tokens: Tensor  # (n, k, T)
    lengths: Tensor  # (n, k) also the step of each one's EOS
    rows: Tensor  # (n, k) the decoder row of that step that ended it (for _AttentionRecord)

    @classmethod
    def empty(cls, n: int, k: int, steps: int, device: torch.device) -> _Finished:
        return cls(
            torch.full((n, k), -math.inf, device=device),
            torch.zeros(n, k, steps, dtype=torch.long, device=device),
            torch.zeros(n, k, dtype=torch.long, device=device),
            torch.zeros(n, k, dtype=torch.long, device=device),
        )

    def merge(self, sent: Tensor, scores: Tensor, tokens: Tensor, length: int, rows: Tensor) -> None:
        """Offer new hypotheses (scores (a, m), tokens (a, m, T), decoder rows (a, m)) of
        sentences `sent`: keep the k best."""
        k = self.scores.size(1)
        best_s, best_j = torch.cat([self.scores[sent], scores], dim=1).topk(k, dim=1)
        new_len = torch.full_like(scores, length, dtype=torch.long)
        self.lengths[sent] = torch.cat([self.lengths[sent], new_len], dim=1).gather(1, best_j)
        self.rows[sent] = torch.cat([self.rows[sent], rows], dim=1).gather(1, best_j)
        pick = best_j.unsqueeze(-1).expand(-1, -1, tokens.size(-1))
        self.tokens[sent] = torch.cat([self.tokens[sent], tokens], dim=1).gather(1, pick)
        self.scores[sent] = best_s

    def hypotheses(self, nbest: int, record: _AttentionRecord | None = None) -> list[list[Hypothesis]]:
        """Each sentence's `nbest` best, with their attention from `record` when kept."""
        scores, lengths = self.scores[:, :nbest], self.lengths[:, :nbest]
        found = (scores > -math.inf).nonzero()  # (H, 2): sentence, place
        attention = None
        if record is not None and found.numel():
            attention = record.trace(lengths[found[:, 0], found[:, 1]], self.rows[found[:, 0], found[:, 1]])
        out: list[list[Hypothesis]] = [[] for _ in range(scores.size(0))]
        for h, ((i, j), score, length) in enumerate(
            zip(
                found.tolist(),
                scores[found[:, 0], found[:, 1]].tolist(),
                lengths[found[:, 0], found[:, 1]].tolist(),
            )
        ):
            att = attention[h, : length + 1] if attention is not None else None
            out[i].append(Hypothesis(self.tokens[i, j, :length].tolist(), score, att))
        return out


def beam_search(
    model: Seq2Seq, src: Tensor, src_mask: Tensor, cfg: DecodeConfig, constraints: Constraints | None = None
) -> list[list[Hypothesis]]:
    """Batched beam search; returns the `cfg.nbest` best hypotheses of each sentence, best first.

    At each step the 2k best extensions of a sentence's k beams are ranked; an EOS among the
    first k finishes a hypothesis, and the k best non-EOS extensions carry on. Everything is
    tensor operations over all sentences and beams at once, with no Python loop over them.
    A sentence is done once no live beam can still beat its `nbest`-th finished hypothesis:
    log-probabilities only fall and the length penalty only grows, so a live beam's best
    possible final score is its score now divided by the penalty at the length limit.
    With `constraints` (one row per sentence), see `_constrained_step`.
    """
    n, k, dev = src.size(0), cfg.beam_size, src.device
    certain = min(cfg.nbest, k) - 1  # the finished hypothesis that must be unbeatable to stop
    memory = model.encode(src, src_mask).repeat(k)
    state = model.init_state(memory)
    max_len = max_lengths(src_mask, cfg)
    first_limit, steps = int(max_len.min()), int(max_len.max()) + 1
    penalty = length_penalty(torch.arange(1, steps + 1, device=dev), cfg.length_penalty)  # [t] = lp(t+1)
    limit_penalty = length_penalty(max_len, cfg.length_penalty)
    finished = _Finished.empty(n, k, steps, dev)
    record = _AttentionRecord([], []) if cfg.keep_attention else None
    sent = torch.arange(n, device=dev)  # original index of each active sentence
    scores = torch.full((n, k), -math.inf, device=dev)
    scores[:, 0] = 0.0
    hist = torch.zeros(n * k, steps, dtype=torch.long, device=dev)
    prev = torch.full((n * k,), BOS_ID, dtype=torch.long, device=dev)
    beams_of = torch.arange(n, device=dev).repeat_interleave(k)  # the sentence of each row
    cons = None if constraints is None else constraints.select(beams_of)
    for t in range(steps):
        logits, state, attn = model.decode_step(prev, memory, state, cfg.attention)
        logp = torch.log_softmax(logits.float(), dim=-1)
        a = sent.numel()
        if cfg.no_repeat_ngram:
            from nmt_cli.decoding.sampling import block_repeats  # only the runs that block n-grams

            logp = block_repeats(logp, hist[:, :t], cfg.no_repeat_ngram)
        if t == 0 and first_limit > 0:
            logp = no_empty_output(logp)
        if cons is not None:
            logp = cons.restrict(logp, (max_len[sent] - t).repeat_interleave(k), cons.beam_force(attn))
        if t >= first_limit:
            logp = force_eos(logp, (t >= max_len[sent]).repeat_interleave(k))
        if cons is not None:
            top_s, tok, rows, is_eos = _constrained_step(logp, scores, cons, k)
        else:
            top_s, tok, rows, is_eos = _step(logp, scores, k)
        if record is not None:
            record.steps.append(attn.float())
        # An EOS among the first k candidates finishes a hypothesis (those beyond can't make the k best).
        end_rows = rows[:, :k].reshape(-1)
        finished.merge(
            sent,
            torch.where(is_eos[:, :k], top_s[:, :k] / penalty[t], -math.inf),
            hist[end_rows].view(a, k, steps),
            t,
            end_rows.view(a, k),
        )
        # The k best extensions that do not end carry on (a beam contributes at most one EOS,
        # so at least k of the 2k candidates are not EOS).
        order = is_eos.to(torch.int8).argsort(dim=1, stable=True)[:, :k]
        scores = top_s.gather(1, order)
        rows = rows.gather(1, order).view(-1)
        prev = tok.gather(1, order).view(-1)
        hist = hist[rows]
        hist[:, t] = prev
        if record is not None:
            record.parents.append(rows)
        state = state.select(rows)
        if cons is not None:
            cons = cons.select(rows).advance(prev)
        if not sync_now(dev, t):
            continue
        done = scores.max(1).values / limit_penalty[sent] <= finished.scores[sent, certain]
        keep = (~done).nonzero().squeeze(1)
        if keep.numel() == 0:
            break
        if keep.numel() < a:
            keep_rows = (keep.unsqueeze(1) * k + torch.arange(k, device=dev)).view(-1)
            sent, scores = sent[keep], scores[keep]
            memory, state = memory.select(keep_rows), state.select(keep_rows)
            hist, prev = hist[keep_rows], prev[keep_rows]
            cons = cons.select(keep_rows) if cons is not None else None
            if record is not None:
                record.parents[-1] = record.parents[-1][keep_rows]
    return finished.hypotheses(cfg.nbest, record)


def _step(logp: Tensor, scores: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The 2k best extensions of each sentence's k beams (a*k rows of `logp`): their scores,
    tokens, flat beam rows and which are EOS, each (a, 2k). The 2k best of all k x V
    extensions are among the 2k best of each beam, so only those are ranked."""
    a, m = scores.size(0), min(2 * k, logp.size(-1))
    beam_lp, beam_tok = logp.topk(m, dim=1)  # (a*k, m)
    cand = (beam_lp.view(a, k, m) + scores.unsqueeze(-1)).view(a, k * m)
    top_s, top_i = cand.topk(m, dim=1)  # (a, 2k)
    tok = beam_tok.view(a, k * m).gather(1, top_i)
    rows = torch.arange(a, device=logp.device).unsqueeze(1) * k + top_i // m  # flat beam row of each
    return top_s, tok, rows, tok == EOS_ID


# A token that advances a constraint (a glossary term or protected span the user requires) costs
# the hypothesis at most log(1/V), what a uniform guess would: the model's own, much lower
# probability for a target it would never write ("hound" where it says "dog") otherwise makes
# appending the term after the sentence ("The dog is running. hound.") score better, by length
# normalisation, than putting it in place ("The hound is running.").
TERM_FLOOR = True


def _constrained_step(
    logp: Tensor, scores: Tensor, cons: Constraints, k: int
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """As `_step`, in the same (a, 2k) layout: first the EOS of each of the k beams (only beams
    that met every constraint may end, and only among the k best candidates), then the k
    extensions that dynamic beam allocation picks from each beam's 2k best tokens and the
    tokens that advance its constraints."""
    from nmt_cli.decoding.constraints import allocate

    a, m, dev = scores.size(0), min(2 * k, logp.size(-1)), logp.device
    beam_lp, beam_tok = logp.topk(m, dim=1)  # (a*k, m)
    extra = cons.allowed()  # (a*k, C): forced candidates, unless already among the m best
    extra_lp = logp.gather(1, extra.clamp(min=0))
    if TERM_FLOOR:  # a required token costs at most a uniform guess: see TERM_FLOOR
        extra_lp = extra_lp.clamp(min=-math.log(logp.size(-1)))
    fresh = (extra >= 0) & ~(extra.unsqueeze(-1) == beam_tok.unsqueeze(1)).any(-1)
    tok = torch.cat([beam_tok, extra.clamp(min=0)], dim=1)
    lp = torch.cat([beam_lp, extra_lp.masked_fill(~fresh, -math.inf)], dim=1)
    w = tok.size(1)
    lp = lp.masked_fill(tok == EOS_ID, -math.inf)  # ends are offered separately below
    progress = cons.progress_after(tok).view(a, k * w)
    cand = (lp.view(a, k, w) + scores.unsqueeze(-1)).view(a, k * w)
    total = cons.total.view(a, k)[:, 0]
    pick = allocate(cand, progress, total, k)  # (a, k)
    beams = torch.arange(a * k, device=dev).view(a, k)
    end_s = logp[:, EOS_ID].view(a, k) + scores
    # As without constraints, an end is taken only if it ranks among the k best candidates;
    # here among those that have met every constraint too (the others cannot end yet).
    complete = cand.masked_fill(progress < total.unsqueeze(1), -math.inf)
    kth = torch.cat([end_s, complete], dim=1).topk(k, dim=1).values[:, -1:]
    end_s = end_s.masked_fill(end_s < kth, -math.inf)
    top_s = torch.cat([end_s, cand.gather(1, pick)], dim=1)
    toks = torch.cat([torch.full_like(beams, EOS_ID), tok.view(a, k * w).gather(1, pick)], dim=1)
    rows = torch.cat([beams, beams[:, :1] + pick // w], dim=1)
    is_eos = torch.zeros_like(toks, dtype=torch.bool)
    is_eos[:, :k] = True
    return top_s, toks, rows, is_eos

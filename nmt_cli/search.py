"""Batched greedy and beam search over any Seq2Seq, and `translate` for lists of lines.

All sentences of a batch and all their beams advance together as one (N, ...) tensor batch.
Sentences that are finished are dropped from it via `select`, so they stop costing compute.
Beam scores are normalised with the GNMT length penalty ((5 + |y|) / 6)^α (Wu et al., 2016).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from nmt_cli.config import BOS_ID, EOS_ID, DecodeConfig
from nmt_cli.data import Tokenizer, pad, windows
from nmt_cli.model import Seq2Seq

log = logging.getLogger("nmt_cli")

MAX_SRC_TOKENS = 1000  # longer inputs are truncated (with a warning) to keep memory bounded


@dataclass
class Hypothesis:
    """One output: target ids without BOS/EOS, its score, and optionally its attention."""

    tokens: list[int]
    score: float  # length-normalised log-probability (the raw sum for greedy)
    attention: Tensor | None = None  # (len(tokens) + 1, S): one row per target token and EOS


@dataclass
class Translation:
    source: str
    src_ids: list[int]
    hypotheses: list[Hypothesis]  # best first; empty for an empty source line
    text: str  # detokenized best hypothesis


def length_penalty(length: int, alpha: float) -> float:
    return ((5.0 + length) / 6.0) ** alpha


def _max_lengths(src_mask: Tensor, cfg: DecodeConfig) -> Tensor:
    return (src_mask.sum(1).float() * cfg.max_len_ratio + cfg.max_len_offset).long()


def _only_eos(logp: Tensor, rows: Tensor) -> None:
    """Force EOS on `rows` (a bool mask over logp's first dim) once their length budget is spent."""
    eos = logp[:, EOS_ID].clone()
    logp[rows] = -math.inf
    logp[rows, EOS_ID] = eos[rows]


def greedy(model: Seq2Seq, src: Tensor, src_mask: Tensor, cfg: DecodeConfig) -> list[Hypothesis]:
    """Pick the most probable token at every step, for a whole batch at once."""
    n = src.size(0)
    memory = model.encode(src, src_mask)
    state = model.init_state(memory)
    max_len = _max_lengths(src_mask, cfg)
    steps = int(max_len.max()) + 1
    out = torch.zeros(n, steps, dtype=torch.long, device=src.device)
    lengths = torch.full((n,), steps, dtype=torch.long, device=src.device)
    scores = torch.zeros(n, device=src.device)
    attn_all = src.new_zeros(n, steps, src.size(1), dtype=torch.float) if cfg.keep_attention else None
    active = torch.arange(n, device=src.device)
    prev = torch.full((n,), BOS_ID, dtype=torch.long, device=src.device)
    for t in range(steps):
        logits, state, attn = model.decode_step(prev, memory, state)
        logp = torch.log_softmax(logits.float(), dim=-1)
        _only_eos(logp, t >= max_len[active])
        best_lp, best = logp.max(dim=-1)
        out[active, t] = best
        scores[active] += best_lp
        if attn_all is not None:
            attn_all[active, t] = attn.float()
        done = best == EOS_ID
        lengths[active[done]] = t
        keep = (~done).nonzero().squeeze(1)
        if keep.numel() == 0:
            break
        if keep.numel() < active.numel():
            active, memory, state = active[keep], memory.select(keep), state.select(keep)
        prev = best[keep]
    hyps = []
    for i in range(n):
        length = int(lengths[i])
        attention = attn_all[i, : length + 1, :] if attn_all is not None else None
        hyps.append(Hypothesis(out[i, :length].tolist(), float(scores[i]), attention))
    return hyps


def beam_search(model: Seq2Seq, src: Tensor, src_mask: Tensor, cfg: DecodeConfig) -> list[list[Hypothesis]]:
    """Batched beam search; returns the `cfg.nbest` best hypotheses of each sentence, best first.

    At each step the 2k best extensions of a sentence's k beams are ranked; an EOS among the
    first k finishes a hypothesis, and the k best non-EOS extensions carry on. A sentence is
    done once it holds k finished hypotheses and no live beam can still beat the k-th of them:
    log-probabilities only fall and the length penalty only grows, so a live beam's best
    possible final score is its score now divided by the penalty at the length limit.
    """
    n, k, dev = src.size(0), cfg.beam_size, src.device
    memory = model.encode(src, src_mask)
    expand = torch.arange(n, device=dev).repeat_interleave(k)
    memory = memory.select(expand)
    state = model.init_state(memory)
    max_len = _max_lengths(src_mask, cfg)
    sent = torch.arange(n, device=dev)  # original index of each active sentence
    scores = torch.full((n, k), -math.inf, device=dev)
    scores[:, 0] = 0.0
    hist = torch.zeros(n * k, 0, dtype=torch.long, device=dev)
    attn_hist = src.new_zeros(n * k, 0, src.size(1), dtype=torch.float) if cfg.keep_attention else None
    kth_best = torch.full((n,), -math.inf, device=dev)  # k-th best finished score, per sentence
    limit_penalty = ((5.0 + max_len.float()) / 6.0) ** cfg.length_penalty
    finished: list[list[Hypothesis]] = [[] for _ in range(n)]
    prev = torch.full((n * k,), BOS_ID, dtype=torch.long, device=dev)
    for t in range(int(max_len.max()) + 1):
        logits, state, attn = model.decode_step(prev, memory, state)
        logp = torch.log_softmax(logits.float(), dim=-1)
        vocab = logp.size(-1)
        _only_eos(logp, (t >= max_len[sent]).repeat_interleave(k))
        a = sent.numel()
        cand = (scores.unsqueeze(-1) + logp.view(a, k, vocab)).view(a, k * vocab)
        top_s, top_i = cand.topk(min(2 * k, k * vocab), dim=1)  # (a, 2k)
        beam_i, tok = top_i // vocab, top_i % vocab
        rows = torch.arange(a, device=dev).unsqueeze(1) * k + beam_i  # flat beam row of each
        is_eos = tok == EOS_ID
        ends = is_eos & torch.isfinite(top_s)
        ends[:, k:] = False
        if attn_hist is not None:
            attn_hist = torch.cat([attn_hist, attn.float().unsqueeze(1)], dim=1)
        if bool(ends.any()):
            for r, j in ends.nonzero().tolist():
                row, b = int(rows[r, j]), int(sent[r])
                score = float(top_s[r, j]) / length_penalty(t + 1, cfg.length_penalty)
                attention = attn_hist[row] if attn_hist is not None else None
                finished[b].append(Hypothesis(hist[row].tolist(), score, attention))
                if len(finished[b]) >= k:
                    kth_best[b] = sorted((h.score for h in finished[b]), reverse=True)[k - 1]
        # The k best extensions that do not end carry on (a beam contributes at most one EOS,
        # so at least k of the 2k candidates are not EOS).
        order = is_eos.to(torch.int8).argsort(dim=1, stable=True)[:, :k]
        scores = top_s.gather(1, order)
        rows = rows.gather(1, order).view(-1)
        tokens = tok.gather(1, order).view(-1)
        hist = torch.cat([hist[rows], tokens.unsqueeze(1)], dim=1)
        if attn_hist is not None:
            attn_hist = attn_hist[rows]
        state = state.select(rows)
        prev = tokens
        done = scores[:, 0] / limit_penalty[sent] <= kth_best[sent]
        if bool(done.all()):
            break
        if bool(done.any()):
            keep = (~done).nonzero().squeeze(1)
            keep_rows = (keep.unsqueeze(1) * k + torch.arange(k, device=dev)).view(-1)
            sent, scores = sent[keep], scores[keep]
            memory, state = memory.select(keep_rows), state.select(keep_rows)
            hist, prev = hist[keep_rows], prev[keep_rows]
            if attn_hist is not None:
                attn_hist = attn_hist[keep_rows]
    return [sorted(f, key=lambda h: -h.score)[: cfg.nbest] for f in finished]


def _truncate(ids: list[int]) -> list[int]:
    if len(ids) > MAX_SRC_TOKENS:
        log.warning("input of %d subwords truncated to %d", len(ids), MAX_SRC_TOKENS)
        return ids[:MAX_SRC_TOKENS]
    return ids


def decode_batch(
    model: Seq2Seq, src_ids: Sequence[Sequence[int]], cfg: DecodeConfig, device: torch.device
) -> list[list[Hypothesis]]:
    """Search one batch of encoded sources (no empty ones) with greedy or beam search."""
    src = pad(src_ids, suffix=EOS_ID).to(device)
    src_mask = src != 0
    if cfg.beam_size <= 1:
        return [[h] for h in greedy(model, src, src_mask, cfg)]
    return beam_search(model, src, src_mask, cfg)


def translate(
    model: Seq2Seq,
    tokenizer: Tokenizer,
    lines: Sequence[str],
    cfg: DecodeConfig,
    device: torch.device | None = None,
) -> list[Translation]:
    """Translate lines, one Translation per line, in input order.

    Lines are sorted by length into batches of `cfg.batch_size` so that padding stays small,
    and put back in order afterwards. Empty or blank lines give an empty translation.
    """
    device = device or next(model.parameters()).device  # type: ignore[attr-defined]
    encoded = [_truncate(ids) for ids in tokenizer.encode_src(lines)]
    results: list[list[Hypothesis]] = [[] for _ in lines]
    order = sorted((i for i, ids in enumerate(encoded) if ids), key=lambda i: -len(encoded[i]))
    with torch.inference_mode():
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            for i, hyps in zip(idx, decode_batch(model, [encoded[i] for i in idx], cfg, device)):
                results[i] = hyps
    texts = tokenizer.decode_tgt([h[0].tokens if h else [] for h in results])
    return [
        Translation(line, ids, hyps, text if hyps else "")
        for line, ids, hyps, text in zip(lines, encoded, results, texts)
    ]


def translate_stream(
    model: Seq2Seq,
    tokenizer: Tokenizer,
    lines: Iterable[str],
    cfg: DecodeConfig,
    window: int = 1000,
    device: torch.device | None = None,
) -> Iterator[Translation]:
    """Translate an unbounded stream in windows of `window` lines: bounded memory, early output."""
    for chunk in windows(lines, window):
        yield from translate(model, tokenizer, chunk, cfg, device)

"""`translate` for lists of lines: sorted into length batches, each line's glossary terms and
protected spans found and decoded under as constraints (constraints.py), by beam search
(beam.py), greedy search or sampling (greedy.py), whichever the DecodeConfig asks for.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from nmt_cli.config import BEAM_BUDGET, EOS_ID, DecodeConfig
from nmt_cli.data.batch import pad
from nmt_cli.data.tokenizer import Tokenizer
from nmt_cli.decoding.beam import beam_search
from nmt_cli.decoding.hypothesis import Hypothesis, max_length
from nmt_cli.decoding.terms import TermFinder, restore
from nmt_cli.errors import NMTError
from nmt_cli.io.lines import one_line, windows
from nmt_cli.models.seq2seq import Seq2Seq

if TYPE_CHECKING:  # sampling, n-gram blocking and constraints: imported by the runs that use them
    from nmt_cli.decoding.constraints import Terms
    from nmt_cli.decoding.placeholders import Masked
    from nmt_cli.decoding.sampling import Sampler

log = logging.getLogger("nmt_cli")

MAX_SRC_TOKENS = 1000  # longer inputs are truncated (with a warning) to keep memory bounded


@dataclass
class Translation:
    source: str
    src_ids: list[int]
    hypotheses: list[Hypothesis]  # best first; empty for an empty source line
    text: str  # detokenized best hypothesis
    terms: list[str] = field(default_factory=list)  # what it had to contain (glossary, protected)
    parts: list[tuple[str, str]] = field(default_factory=list)  # (sentence, translation) joined; []: one


def make_sampler(cfg: DecodeConfig, device: torch.device) -> Sampler | None:
    """The seeded sampler `cfg` asks for, or None for search."""
    if cfg.sampling is None:
        return None
    from nmt_cli.decoding.sampling import Sampler, Sampling

    return Sampler(Sampling.parse(cfg.sampling), cfg.temperature, cfg.seed, device)


def check_request(lines: Sequence[str], cfg: DecodeConfig) -> None:
    """What the CLI's options refuse, refused for library callers too, in one NMTError: a
    search needs a beam of at least `nbest`, and a line with a line break in it is two lines
    (given together, a model trained on sentences translates the first; see translate_document)."""
    bad = {  # a search keeps at most beam_size hypotheses, so nbest cannot exceed it
        "beam_size": cfg.beam_size >= 1 and (cfg.sampling is not None or cfg.nbest <= cfg.beam_size),
        "nbest": cfg.nbest >= 1,
        "max_len_ratio": math.isfinite(cfg.max_len_ratio) and cfg.max_len_ratio > 0,
        "length_penalty": math.isfinite(cfg.length_penalty),
        "batch_size": cfg.batch_size >= 1,
    }
    wrong = [f"{name}={getattr(cfg, name)!r}" for name, ok in bad.items() if not ok]
    if wrong:
        raise NMTError(f"DecodeConfig cannot search with {', '.join(wrong)} (nbest={cfg.nbest})")
    broken = next((i for i, line in enumerate(lines) if "\n" in line), None)
    if broken is not None:
        raise NMTError(f"line {broken + 1} holds a line break: give each line on its own")


def _truncate(ids: list[int]) -> list[int]:
    if len(ids) > MAX_SRC_TOKENS:
        log.warning("input of %d subwords truncated to %d", len(ids), MAX_SRC_TOKENS)
        return ids[:MAX_SRC_TOKENS]
    return ids


def decode_batch(
    model: Seq2Seq,
    src_ids: Sequence[Sequence[int]],
    cfg: DecodeConfig,
    device: torch.device,
    *,
    sampler: Sampler | None = None,
    terms: Sequence[Terms] = (),
    vocab: tuple[Tensor, Tensor] | None = None,
    spans: Sequence[Sequence[tuple[int, int]]] | None = None,
) -> list[list[Hypothesis]]:
    """Decode one batch of encoded sources (no empty ones) by sampling, greedy or beam search,
    under each source's constraints `terms` when any has some (`vocab`: the target vocabulary's
    case folding and joining pieces; `spans`: each term's source subwords; see Constraints.build)."""
    src = pad(src_ids, suffix=EOS_ID).to(device)
    src_mask = src != 0
    cons = None
    if any(terms):
        from nmt_cli.decoding.constraints import Constraints

        fold, joins = vocab or (None, None)
        cons = Constraints.build(terms, device, fold, joins, spans)
    if sampler is not None:
        from nmt_cli.decoding.greedy import sample

        rows = torch.arange(src.size(0), device=device).repeat_interleave(cfg.nbest)  # one per sample
        return sample(model, src, src_mask, cfg, sampler, cons.select(rows) if cons is not None else None)
    if cfg.beam_size <= 1:
        from nmt_cli.decoding.greedy import greedy

        return [[h] for h in greedy(model, src, src_mask, cfg, constraints=cons)]
    return beam_search(model, src, src_mask, cfg, cons)


def length_batches(lengths: Sequence[int], cfg: DecodeConfig) -> list[list[int]]:
    """Indices of the non-empty sources, longest first, cut into batches of at most
    `cfg.batch_size` sentences and `cfg.batch_tokens` padded source tokens x beam size.

    Sorting keeps padding small; the token budget gives short sentences large batches (which
    amortise per-step overheads) and long ones, whose beams and attention cost more, small ones.
    """
    order = sorted((i for i, n in enumerate(lengths) if n), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        if batches:
            batch = batches[-1]
            widest = lengths[batch[0]] + 1  # + EOS; the first is the longest
            rows = (len(batch) + 1) * cfg.rows_per_sentence
            if len(batch) < cfg.batch_size and rows * widest <= cfg.batch_tokens:
                batch.append(i)
                continue
        batches.append([i])
    return batches


def batch_budget(cfg: DecodeConfig, model_budget: int) -> int:
    """`cfg.batch_tokens`, or by default the model's budget; twice that for beam search, whose
    per-step bookkeeping (top-k over beams, merging finished hypotheses) more rows amortise:
    test_2016 beam 5 took 15% less time at 2x for both architectures, greedy 10% more."""
    if cfg.batch_tokens:
        return cfg.batch_tokens
    return model_budget * (BEAM_BUDGET if cfg.beam_size > 1 and not cfg.sampling else 1)


def translate(
    model: Seq2Seq,
    tokenizer: Tokenizer,
    lines: Sequence[str],
    cfg: DecodeConfig,
    *,
    device: torch.device | None = None,
    sampler: Sampler | None = None,
    finder: TermFinder | None = None,
) -> list[Translation]:
    """Translate lines, one Translation per line, in input order.

    Lines are sorted by length into batches (`length_batches`) and put back in order
    afterwards. Empty or blank lines give an empty translation. With `cfg.sampling`, the
    hypotheses are samples, drawn by `sampler` (pass one to continue its random stream).
    Each line's glossary terms and protected spans (`finder`, else built from `cfg`) are
    constraints on its translation.
    """
    check_request(lines, cfg)
    device = device or next(model.parameters()).device  # type: ignore[attr-defined]
    sampler = sampler or make_sampler(cfg, device)
    finder = finder or TermFinder.build(cfg.glossary, cfg.keep, cfg.protect)
    cfg = replace(cfg, batch_tokens=batch_budget(cfg, model.decode_budget))
    found = [finder.found(line) if finder else [] for line in lines]
    unknown = [tokenizer.src_unknown(line) if cfg.protect else set() for line in lines]
    if any(unknown):  # words the model cannot read are copied (placeholders.py)
        from nmt_cli.decoding.placeholders import unknown_spans

        found = [unknown_spans(line, u, f) for line, f, u in zip(lines, found, unknown)]
    whole: list[bool] = [False] * len(lines)  # lines that are only protected spans: copied
    masks: list[Masked | None] = [None] * len(lines)
    if any(found):
        from nmt_cli.decoding.placeholders import plan

        whole, masks = plan(lines, found, cfg.nbest)
    sources = [m.line if m else line for line, m in zip(lines, masks)]
    encoded = [[] if w else _truncate(ids) for ids, w in zip(tokenizer.encode_src(sources), whole)]
    found = [m.found if m else f for f, m in zip(found, masks)]
    targets = [[target for _, _, target in f] for f in found]
    fitted = [_line_terms(tokenizer, src, f, len(ids), cfg) for src, f, ids in zip(sources, found, encoded)]
    terms, spans = [t for t, _ in fitted], [s for _, s in fitted]
    vocab = _term_vocab(tokenizer) if any(terms) else None
    results: list[list[Hypothesis]] = [[] for _ in lines]
    with torch.inference_mode():
        for idx in length_batches([len(ids) for ids in encoded], cfg):
            batch, batch_terms = [encoded[i] for i in idx], [terms[i] for i in idx]
            batch_spans = [spans[i] for i in idx]
            decoded = decode_batch(
                model, batch, cfg, device, sampler=sampler, terms=batch_terms, vocab=vocab, spans=batch_spans
            )
            for i, hyps in zip(idx, decoded):
                results[i] = hyps
        _without_terms(model, encoded, results, terms, targets, cfg, device, sampler)
    texts = tokenizer.decode_tgt([h[0].tokens if h else [] for h in results])
    texts = [restore(text, t, tokenizer.decode_tgt(ids)) for text, t, ids in zip(texts, targets, terms)]
    if any(masks):  # the spans back in place of their placeholders, in the text and in `terms`
        from nmt_cli.decoding.placeholders import unmask

        texts = [unmask(text, m.originals) if m else text for text, m in zip(texts, masks)]
        targets = [[m.originals.get(t, t) for t in ts] if m else ts for ts, m in zip(targets, masks)]
    texts = [
        one_line(line) if w else unescaped(line, text) if hyps else ""
        for line, text, w, hyps in zip(lines, texts, whole, results)
    ]
    return [
        Translation(line, ids, hyps, text, t)
        for line, ids, hyps, text, t in zip(lines, encoded, results, texts, targets)
    ]


def _without_terms(
    model: Seq2Seq,
    encoded: Sequence[Sequence[int]],
    results: list[list[Hypothesis]],
    terms: list[list[list[int]]],
    targets: list[list[str]],
    cfg: DecodeConfig,
    device: torch.device,
    sampler: Sampler | None,
) -> None:
    """Lines whose constrained search finished no hypothesis (terms and spans that together
    leave no way to end) are translated again without their terms, with a warning, instead of
    coming out empty; `results`, `terms` and `targets` are updated in place."""
    lost = [i for i, hyps in enumerate(results) if encoded[i] and not hyps]
    if not lost:
        return
    log.warning(
        "%d line(s) could not keep all their glossary terms and protected spans; translated without them",
        len(lost),
    )
    for idx in length_batches([len(encoded[i]) for i in lost], cfg):
        rows = [lost[j] for j in idx]
        decoded = decode_batch(model, [encoded[i] for i in rows], cfg, device, sampler=sampler)
        for i, hyps in zip(rows, decoded):
            results[i], terms[i], targets[i] = hyps, [], []


ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&apos;": "'"}
_ENTITY = re.compile("|".join(map(re.escape, ENTITIES)))


def unescaped(source: str, text: str) -> str:
    """`text` with the HTML entities its source does not have read as their characters: a
    model trained on partly escaped web text writes "&amp;" for "&" ("The man &amp; the
    woman"); one the source has (a text about HTML) is kept."""
    if "&" not in text:
        return text
    return _ENTITY.sub(lambda m: m.group() if m.group() in source else ENTITIES[m.group()], text)


def _term_vocab(tokenizer: Tokenizer) -> tuple[Tensor, Tensor] | None:
    """The target vocabulary's case folding and joining pieces, which constraints match with."""
    from nmt_cli.decoding.constraints import case_fold, joining_pieces

    pieces = tokenizer.tgt_pieces(range(tokenizer.tgt_vocab_size))
    return (case_fold(pieces), joining_pieces(pieces)) if pieces else None


def _line_terms(
    tokenizer: Tokenizer, line: str, found: list[tuple[int, int, str]], src_len: int, cfg: DecodeConfig
) -> tuple[list[list[int]], list[tuple[int, int]]]:
    """The target ids of one line's terms that fit its length limit together, and the source
    subwords [start, end) of each (a span's subwords: those of the text before its end but not
    of the text before its start; SentencePiece splits at the spaces around whole words)."""
    if not found or not src_len:
        return [], []
    from nmt_cli.decoding.constraints import fitting

    targets = [target for _, _, target in found]
    ids = tokenizer.encode_tgt(targets)
    kept = fitting(ids, max_length(src_len, cfg), targets)
    cuts = tokenizer.encode_src([line[:c] for i in kept for c in found[i][:2]])
    return [ids[i] for i in kept], [(len(cuts[2 * j]), len(cuts[2 * j + 1])) for j in range(len(kept))]


def translate_stream(
    model: Seq2Seq,
    tokenizer: Tokenizer,
    lines: Iterable[str],
    cfg: DecodeConfig,
    window: int = 1000,
    device: torch.device | None = None,
) -> Iterator[Translation]:
    """Translate an unbounded stream in windows of `window` lines: bounded memory, early output.
    One sampler serves all windows, so that they draw different random numbers."""
    device = device or next(model.parameters()).device  # type: ignore[attr-defined]
    sampler = make_sampler(cfg, device)
    finder = TermFinder.build(cfg.glossary, cfg.keep, cfg.protect)
    for chunk in windows(lines, window):
        yield from translate(model, tokenizer, chunk, cfg, device=device, sampler=sampler, finder=finder)

"""`translate` for lists of lines and `translate_stream` for streams of them: what a line's
text needs around the search (search.py). Its glossary terms and protected spans are found
(terms.py), words the model cannot read stand in as placeholders (placeholders.py), and the
terms reach the search as target token sequences it must produce (constraints.py); the best
hypothesis is decoded, the spans are put back, and entities the model wrote are read.
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

from nmt_cli.config import DecodeConfig
from nmt_cli.data.tokenizer import Tokenizer
from nmt_cli.decoding.hypothesis import Hypothesis, max_length
from nmt_cli.decoding.search import batch_budget, make_sampler, search, truncate
from nmt_cli.decoding.terms import TermFinder, restore
from nmt_cli.errors import NMTError
from nmt_cli.io.lines import one_line, windows
from nmt_cli.models.seq2seq import Seq2Seq

if TYPE_CHECKING:  # placeholders and sampling: imported by the runs that use them
    from nmt_cli.decoding.placeholders import Masked
    from nmt_cli.decoding.sampling import Sampler

log = logging.getLogger("nmt_cli")


@dataclass
class Translation:
    source: str
    src_ids: list[int]
    hypotheses: list[Hypothesis]  # best first; empty for an empty source line
    text: str  # detokenized best hypothesis
    terms: list[str] = field(default_factory=list)  # what it had to contain (glossary, protected)
    parts: list[tuple[str, str]] = field(default_factory=list)  # (sentence, translation) joined; []: one
    alternatives: list[str] = field(default_factory=list)  # with nbest > 1: each hypothesis as text


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
    glossed = [[t for a, b, t in f if line[a:b] != t] for line, f in zip(lines, found)]  # glossary targets
    unknown = [tokenizer.src_unknown(line) if cfg.protect else set() for line in lines]
    if any(unknown):  # words the model cannot read are copied (placeholders.py)
        from nmt_cli.decoding.placeholders import unknown_spans

        found = [unknown_spans(line, u, f) for line, f, u in zip(lines, found, unknown)]
    whole: list[bool] = [False] * len(lines)  # lines that are only protected spans: copied
    masks: list[Masked | None] = [None] * len(lines)
    if any(found):
        from nmt_cli.decoding.placeholders import plan

        whole, masks = plan(lines, found)
    sources = [m.line if m else line for line, m in zip(lines, masks)]
    encoded = [[] if w else truncate(ids) for ids, w in zip(tokenizer.encode_src(sources), whole)]
    found = [m.found if m else f for f, m in zip(found, masks)]
    targets = [[target for _, _, target in f] for f in found]
    fitted = [_line_terms(tokenizer, src, f, len(ids), cfg) for src, f, ids in zip(sources, found, encoded)]
    terms, spans = [t for t, _ in fitted], [s for _, s in fitted]
    vocab = _term_vocab(tokenizer) if any(terms) else None
    results = search(model, encoded, cfg, device, sampler=sampler, terms=terms, spans=spans, vocab=vocab)
    _without_terms(model, encoded, results, terms, targets, cfg, device, sampler)
    ranks = cfg.nbest if cfg.nbest > 1 else 1  # n-best lists: every hypothesis written as text
    texts = [_as_text(tokenizer, line, hyps[:ranks], t, ids, m) for line, hyps, t, ids, m in
             zip(lines, results, targets, terms, masks)]  # fmt: skip
    texts = [[capitalised(line, text, g) for text in ts] for line, ts, g in zip(lines, texts, glossed)]
    if any(masks):  # the spans in `terms` as written, not as their placeholders
        targets = [[m.originals.get(t, t) for t in ts] if m else ts for ts, m in zip(targets, masks)]
    return [
        Translation(line, ids, hyps, one_line(line) if w else alts[0] if alts else "", t,
                    alternatives=[one_line(line)] if w else alts if ranks > 1 else [])
        for line, ids, hyps, alts, t, w in zip(lines, encoded, results, texts, targets, whole)
    ]  # fmt: skip


def capitalised(source: str, text: str, glossary_targets: Sequence[str]) -> str:
    """`text` with its first letter capitalised where it starts with a glossary target written
    lower-case ("hound", "morning") and its source starts with a capital: the term is the
    sentence's first word, which the forced search wrote as the glossary spells it."""
    first = next((c for c in source if c.isalpha()), "")
    if first.isupper() and text[:1].islower() and any(text.startswith(t) for t in glossary_targets):
        return text[0].upper() + text[1:]
    return text


def _as_text(
    tokenizer: Tokenizer,
    line: str,
    hyps: Sequence[Hypothesis],
    targets: list[str],
    terms: list[list[int]],
    masked: Masked | None,
) -> list[str]:
    """The hypotheses of `line` as text: decoded, spans the vocabulary cannot spell restored,
    placeholders replaced by their spans, entities read."""
    texts = tokenizer.decode_tgt([h.tokens for h in hyps])
    spelled = tokenizer.decode_tgt(terms) if targets else []
    texts = [restore(text, targets, spelled) for text in texts]
    if masked is not None:
        from nmt_cli.decoding.placeholders import unmask

        texts = [unmask(text, masked.originals) for text in texts]
    return [unescaped(line, text) for text in texts]


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
    coming out empty; `results`, `terms` and `targets` are updated in place. A line that finds
    none without constraints is an NMTError: only scores that are not numbers do that."""
    lost = [i for i, hyps in enumerate(results) if encoded[i] and not hyps]
    if not lost:
        return
    redone = search(model, [encoded[i] for i in lost], cfg, device, sampler=sampler)
    if any(not hyps for hyps in redone):  # nothing constrained them: the scores are not numbers
        _no_translation(sum(not hyps for hyps in redone))
    if constrained := sum(1 for i in lost if terms[i]):
        log.warning(
            "%d line(s) could not keep all their glossary terms and protected spans; translated without them",
            constrained,
        )
    for i, hyps in zip(lost, redone):
        results[i], terms[i], targets[i] = hyps, [], []


def _no_translation(lines: int) -> None:
    raise NMTError(
        f"the model found no translation for {lines} line(s): its scores are not finite numbers "
        "(a damaged or diverged model?)"
    )


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

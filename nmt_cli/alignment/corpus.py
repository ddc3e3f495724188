"""A corpus aligned window by window, and both directions' links combined: with a
target-to-source model, symmetrised by a heuristic of symmetrize.py (Koehn et al., 2003) or
by the mean of both directions' soft alignments."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

from nmt_cli.alignment.extract import Alignment, LinkRule, align_pairs
from nmt_cli.alignment.symmetrize import MEAN_THRESHOLD, Combination, mean_links, symmetrize
from nmt_cli.config import DEFAULT_ATTENTION, DecodeConfig, Level
from nmt_cli.data.tokenizer import Tokenizer
from nmt_cli.errors import NMTError
from nmt_cli.models.seq2seq import Seq2Seq

log = logging.getLogger("nmt_cli")


def intersect(forward: Sequence[Alignment], reverse: Sequence[Alignment]) -> list[Alignment]:
    """Keep only the links both directions agree on (see combine)."""
    return combine(forward, reverse, "intersect")


def combine(
    forward: Sequence[Alignment],
    reverse: Sequence[Alignment],
    heuristic: Combination,
    threshold: float | None = None,
) -> list[Alignment]:
    """The forward alignments with their links symmetrised with the reverse ones by `heuristic`;
    `reverse[i]` aligns pair i with source and target swapped (by a target-to-source model), so
    its links are transposed first. "mean" also replaces the weights by both directions' mean
    and links where it reaches `threshold` (default MEAN_THRESHOLD)."""
    if len(forward) != len(reverse):
        raise NMTError(f"{len(forward)} forward alignments but {len(reverse)} reverse ones")
    out = []
    unmatched = 0
    for f, r in zip(forward, reverse, strict=True):
        if len(r.src_tokens) != len(f.tgt_tokens) or len(r.tgt_tokens) != len(f.src_tokens):
            unmatched += 1  # an over-long line truncated differently by the two models
            out.append(f)
            continue
        if heuristic == "mean":
            limit = MEAN_THRESHOLD if threshold is None else threshold
            weights, links = mean_links(f.weights, r.weights, limit)
            out.append(replace(f, weights=weights, links=sorted(links)))
            continue
        back = {(s, t) for t, s in r.links}
        out.append(replace(f, links=sorted(symmetrize(f.links, back, heuristic))))
    if unmatched:
        log.warning(
            "%d pair(s) came out of the two models as different tokens (over-long lines are "
            "truncated); they keep the forward model's links only",
            unmatched,
        )
    return out


def align_corpus(
    model: Seq2Seq,
    tokenizer: Tokenizer,
    windows: Iterable[tuple[list[str], list[str] | None]],
    decode_cfg: DecodeConfig,
    *,
    level: Level = "word",
    threshold: float | None = None,
    reverse: tuple[Seq2Seq, Tokenizer] | None = None,
    shift: bool | None = None,
    heuristic: Combination = "mean",
    rule: LinkRule = "mutual",
) -> Iterator[Alignment]:
    """Align window after window of (sources, targets or None), as align_pairs does; with a
    `reverse` target-to-source model, symmetrise both directions by `heuristic` (combine).

    The reverse model reads its default attention: `decode_cfg.attention` names a layer and
    head of the forward model.
    """
    back_cfg = replace(decode_cfg, attention=DEFAULT_ATTENTION)
    read = functools.partial(align_pairs, level=level, threshold=threshold, shift=shift, rule=rule)
    for sources, targets in windows:
        pairs = read(model, tokenizer, sources, targets, decode_cfg)
        if reverse is not None:
            swapped = [a.target for a in pairs], [a.source for a in pairs]
            back = read(*reverse, *swapped, back_cfg)
            pairs = combine(pairs, back, heuristic, threshold)
        yield from pairs

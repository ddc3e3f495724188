"""Gold word alignments and the alignment error rate (AER) of Och & Ney (2003).

A gold line lists links `i-j` (source word i, target word j, 0-based: the Pharaoh order) that
are sure, and `i?j` or `i-j-P` that are only possible. AER rewards predicted links that are
possible and penalises missed sure ones; precision and recall are given beside it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from nmt_cli.errors import NMTError
from nmt_cli.io.lines import read_lines

if TYPE_CHECKING:
    from nmt_cli.alignment.extract import Alignment

GoldOrder = Literal["src-tgt", "tgt-src"]
Link = tuple[int, int]  # (source index, target index), 0-based, the Pharaoh order


@dataclass
class GoldLinks:
    """A reference alignment of one sentence pair."""

    sure: set[Link]
    possible: set[Link]  # includes the sure links (S ⊆ P)


@dataclass
class AlignmentScores:
    """Corpus-level alignment quality; the rates are fractions in [0, 1]."""

    aer: float
    precision: float
    recall: float
    sentences: int
    links: int  # |A|
    sure: int  # |S|
    possible: int  # |P|


_GOLD_LINK = re.compile(r"(\d+)([-?])(\d+)(?:-([SsPp]))?")


def parse_gold(line: str, order: GoldOrder = "src-tgt") -> GoldLinks:
    """Links of one line: `i-j` or `i-j-S` sure, `i?j` or `i-j-P` possible; indices are 0-based
    source-target (the Pharaoh order) unless `order` is tgt-src."""
    sure: set[Link] = set()
    possible: set[Link] = set()
    for item in line.split():
        m = _GOLD_LINK.fullmatch(item)
        if m is None:
            raise ValueError(f"not an alignment link: {item!r}")
        a, sep, b, kind = m.groups()
        link = (int(a), int(b)) if order == "src-tgt" else (int(b), int(a))
        possible.add(link)
        if sep == "-" and kind not in ("P", "p"):
            sure.add(link)
    return GoldLinks(sure, possible)


def read_gold(path: str | Path, order: GoldOrder = "src-tgt") -> list[GoldLinks]:
    """One GoldLinks per line of a gold alignment file."""
    gold = []
    for n, line in enumerate(read_lines(path), 1):
        try:
            gold.append(parse_gold(line, order))
        except ValueError as e:
            raise NMTError(f"{path}: line {n}: {e}") from e
    return gold


def alignment_error(predicted: Sequence[Collection[Link]], gold: Sequence[GoldLinks]) -> AlignmentScores:
    """AER = 1 − (|A∩S| + |A∩P|) / (|A| + |S|), precision |A∩P| / |A|, recall |A∩S| / |S|,
    with counts summed over the corpus (Och & Ney, 2003)."""
    if len(predicted) != len(gold):
        raise NMTError(f"{len(predicted)} aligned sentences but {len(gold)} gold alignments")
    a = s = p = a_s = a_p = 0
    for links, g in zip(predicted, gold, strict=True):
        found = set(links)
        a, s, p = a + len(found), s + len(g.sure), p + len(g.possible)
        a_s, a_p = a_s + len(found & g.sure), a_p + len(found & g.possible)
    aer = 1.0 - (a_s + a_p) / (a + s) if a + s else 0.0
    return AlignmentScores(aer, a_p / a if a else 0.0, a_s / s if s else 0.0, len(gold), a, s, p)


def check_gold_range(gold: GoldLinks, alignment: Alignment, path: str | Path, line: int) -> None:
    """Refuse gold links outside the sentence pair they score: a typo, not a missed link."""
    n_src, n_tgt = len(alignment.src_tokens), len(alignment.tgt_tokens)
    for s, t in sorted(gold.possible):
        if s >= n_src or t >= n_tgt:
            raise NMTError(
                f"{path}: line {line}: link {s}-{t} (source-target) is outside the pair of "
                f"{n_src} source and {n_tgt} target words"
            )


def within_gold_ranges(
    alignments: Iterable[Alignment], gold: Sequence[GoldLinks], path: str | Path
) -> Iterator[Alignment]:
    """Pass alignments through, refusing the first gold line with a link outside its pair."""
    for i, a in enumerate(alignments):
        if i < len(gold):
            check_gold_range(gold[i], a, path, i + 1)
        yield a

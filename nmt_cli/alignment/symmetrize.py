"""Symmetrisation of two directional word alignments (Och & Ney, 2003; Koehn et al., 2003):
intersection, union, and grow-diag-final(-and), which starts from the precise intersection
and adds the neighbouring union links that cover an unaligned word; and, for soft alignments
such as attention, "mean": both directions' weights averaged, a link wherever the mean
reaches a threshold (the soft counterpart of intersecting and growing: a link one direction
is sure of and the other does not rule out survives, a link only one half-believes does not).

Links are (source index, target index), the Pharaoh order, in both inputs: the reverse
direction's links are transposed by the caller before they come here.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Literal

from nmt_cli.alignment.aer import Link

Heuristic = Literal["intersect", "union", "grow-diag", "grow-diag-final", "grow-diag-final-and"]
HEURISTICS: tuple[Heuristic, ...] = (
    "intersect",
    "union",
    "grow-diag",
    "grow-diag-final",
    "grow-diag-final-and",
)
Combination = Heuristic | Literal["mean"]
COMBINATIONS: tuple[Combination, ...] = (*HEURISTICS, "mean")
# The mean's default threshold, chosen on the development gold (docs/alignment.md): 0.35-0.45
# are within 0.4 AER points of each other there.
MEAN_THRESHOLD = 0.4
NEIGHBOURS = ((-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))


def _grow_diag(links: set[Link], union: set[Link]) -> None:
    """Add union links next to (also diagonally) a link, while one of their words is unaligned."""
    src_done, tgt_done = {s for s, _ in links}, {t for _, t in links}
    added = True
    while added:
        added = False
        for s, t in sorted(links):
            for ds, dt in NEIGHBOURS:
                cand = (s + ds, t + dt)
                if (
                    cand in union
                    and cand not in links
                    and (cand[0] not in src_done or cand[1] not in tgt_done)
                ):
                    links.add(cand)
                    src_done.add(cand[0])
                    tgt_done.add(cand[1])
                    added = True


def _final(links: set[Link], direction: Collection[Link], both_unaligned: bool) -> None:
    """Add a directional link whose words are unaligned: either (final) or both (final-and)."""
    src_done, tgt_done = {s for s, _ in links}, {t for _, t in links}
    for cand in sorted(direction):
        src_free, tgt_free = cand[0] not in src_done, cand[1] not in tgt_done
        if (src_free and tgt_free) if both_unaligned else (src_free or tgt_free):
            links.add(cand)
            src_done.add(cand[0])
            tgt_done.add(cand[1])


def symmetrize(forward: Collection[Link], reverse: Collection[Link], heuristic: Heuristic) -> set[Link]:
    """One alignment from two directions' (source, target) links by `heuristic`."""
    fwd, rev = set(forward), set(reverse)
    if heuristic == "intersect":
        return fwd & rev
    if heuristic == "union":
        return fwd | rev
    links = fwd & rev
    _grow_diag(links, fwd | rev)
    if heuristic != "grow-diag":
        both = heuristic == "grow-diag-final-and"
        _final(links, fwd, both)
        _final(links, rev, both)
    return links


def mean_links(
    forward: Sequence[Sequence[float]], reverse: Sequence[Sequence[float]], threshold: float
) -> tuple[list[list[float]], set[Link]]:
    """The mean of a (target × source) weight matrix and the reverse direction's (source ×
    target) one, and its (source, target) links: every cell whose mean is ≥ `threshold`."""
    rows, cols = len(forward), len(reverse)
    mean = [[(forward[t][s] + reverse[s][t]) / 2 for s in range(cols)] for t in range(rows)]
    return mean, {(s, t) for t in range(rows) for s in range(cols) if mean[t][s] >= threshold}

"""Over-long sentences cut into pieces the model was trained on: first at clause boundaries
(; : , and before conjunctions), else at the space nearest the middle, so nothing is truncated.

A model never saw a source longer than its training `max_len` subwords; far beyond that it
drops or repeats content. Each piece is translated alone and the translations are joined.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from nmt_cli.documents.split import Span

CONJUNCTIONS = [
    "und",
    "oder",
    "aber",
    "sondern",
    "denn",
    "weil",
    "dass",
    "obwohl",
    "während",
    "wenn",
    "als",
    "damit",
    "sowie",
    "and",
    "or",
    "but",
    "because",
    "while",
    "which",
    "although",
    "whereas",
    "when",
    "so",
    "nor",
    "yet",
]
# A clause boundary: the space after ; : , or the space before a conjunction.
_CLAUSE = re.compile(r"(?<=[;:,])\s+|\s+(?=(?:" + "|".join(CONJUNCTIONS) + r")\b)", re.IGNORECASE)
_STRONG = re.compile(r"(?<=[;:])\s+")


def _cuts(text: str, pattern: re.Pattern[str]) -> list[Span]:
    return [(m.start(), m.end()) for m in pattern.finditer(text)]


def _inside(pos: int, whole: Sequence[Span]) -> bool:
    return any(s < pos < e for s, e in whole)


def _best_cut(text: str, whole: Sequence[Span]) -> Span | None:
    """The whitespace gap to cut `text` at: a strong clause boundary (; :), else a comma or
    conjunction, else any space, whichever of its kind is nearest the middle; never inside a
    span of `whole`."""
    middle = len(text) / 2
    for pattern in (_STRONG, _CLAUSE, re.compile(r"\s+")):
        gaps = [
            g
            for g in _cuts(text, pattern)
            if g[0] > 0 and g[1] < len(text) and not _inside(g[0], whole) and not _inside(g[1], whole)
        ]
        if gaps:
            return min(gaps, key=lambda g: abs(g[0] - middle))
    inner = [i for i in range(1, len(text)) if not _inside(i, whole)]  # no whitespace: characters
    if inner:
        i = min(inner, key=lambda i: abs(i - middle))
        return (i, i)
    return None


def chunk_spans(
    text: str, length: Callable[[str], int], limit: int, whole: Sequence[Span] = ()
) -> list[Span]:
    """Spans of `text` (stripped, whitespace between them) of at most `limit` by `length`.

    Cuts recursively in halves at the best boundary; a piece with no whitespace at all
    (a long number, a word run) is cut between characters. No cut falls inside a span of
    `whole` (a URL, a protected span or a glossary term of the text): such a span longer
    than `limit` stays one piece, for the search to take whole (up to its own limit). Its own
    text when it already fits.
    """
    if length(text) <= limit or len(text) < 2:
        return [(0, len(text))]
    gap = _best_cut(text, whole)
    if gap is None:
        return [(0, len(text))]
    left_end, right_start = gap
    left = chunk_spans(text[:left_end], length, limit, [(s, e) for s, e in whole if e <= left_end])
    inner = [(s - right_start, e - right_start) for s, e in whole if s >= right_start]
    right = chunk_spans(text[right_start:], length, limit, inner)
    return left + [(s + right_start, e + right_start) for s, e in right]

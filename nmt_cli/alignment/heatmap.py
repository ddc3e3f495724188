"""The layout of an attention heatmap in a terminal of a given width, without drawing it: how
wide the row labels and each source column are, which columns share a block (so that a long
sentence is shown as several tables and never wraps mid-table), how long tokens are clipped,
and the colour of a cell by its weight. render.alignment_view draws what this lays out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

HEAT_LOW, HEAT_HIGH = (30, 41, 59), (37, 99, 235)  # background of a weight of 5% and of 100%
SRC_LABEL_MAX, TGT_LABEL_MAX = 12, 24  # longer tokens are clipped with … (the header has them)


@dataclass(frozen=True)
class Layout:
    """Where a heatmap's cells go: the row label width, each column's width, the column blocks."""

    label_width: int
    widths: list[int]
    blocks: list[range]


def clip(label: str, width: int) -> str:
    """`label`, or its first `width` - 1 characters and an ellipsis when it is longer."""
    return label if len(label) <= width else label[: max(width - 1, 0)] + "…"


def heat(weight: float) -> str:
    """Heatmap style: no background below 5%, then darker to brighter blue as the weight grows."""
    if weight < 0.05:
        return "dim"
    r, g, b = (round(lo + (hi - lo) * weight) for lo, hi in zip(HEAT_LOW, HEAT_HIGH, strict=True))
    return f"bright_white on rgb({r},{g},{b})"


def column_blocks(widths: list[int], room: int) -> list[range]:
    """Split columns into consecutive blocks that fit `room`; a column costs its width plus 3
    (padding on both sides and the separator), at least one column per block."""
    blocks: list[range] = []
    start, used = 0, 0
    for j, w in enumerate(widths):
        if j > start and used + w + 3 > room:
            blocks.append(range(start, j))
            start, used = j, 0
        used += w + 3
    if widths:
        blocks.append(range(start, len(widths)))
    return blocks


def layout(src_tokens: Sequence[str], tgt_tokens: Sequence[str], width: int) -> Layout:
    """Rows labelled `index token` (at most a third of `width`), columns wide enough for their
    index and up to SRC_LABEL_MAX characters of their token, in blocks that each fit `width`."""
    labels = [f"{t} {token}" for t, token in enumerate(tgt_tokens)]
    label_width = min(max(len(s) for s in labels), TGT_LABEL_MAX, max(width // 3, 4))
    widths = [max(3, len(str(j)), min(len(s), SRC_LABEL_MAX)) for j, s in enumerate(src_tokens)]
    return Layout(label_width, widths, column_blocks(widths, width - label_width - 2))

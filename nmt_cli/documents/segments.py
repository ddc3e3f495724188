"""A document's items cut into runs of inline content (segments) between block boundaries.

A segment is what a reader sees as one flow of text (a paragraph, a list item, a cell): its
text is split into sentences and its inline tags travel with the words. Block tags, and
elements not to translate, lie between segments and are written back as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nmt_cli.documents.markup import BLOCK, Item

# An element's role, by how HTML defines it or, in XML (and for HTML names not in BLOCK), by
# whether its parent holds text of its own: an element inside running text is inline.
INLINE_HTML = frozenset(
    [
        "a",
        "abbr",
        "b",
        "bdi",
        "bdo",
        "big",
        "cite",
        "data",
        "del",
        "dfn",
        "em",
        "font",
        "i",
        "ins",
        "label",
        "mark",
        "q",
        "rp",
        "rt",
        "ruby",
        "s",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "time",
        "tt",
        "u",
    ]
)

# Kept elements that end a run of text: blocks, and <pre>, a block of its own. <script>, <style>,
# <textarea>, <math> and <svg> inside a sentence are carried through it like a void element
# ("Die Formel <math>…</math> gilt."), as docs/documents.md says.
STANDALONE = BLOCK | {"pre"}


@dataclass(frozen=True)
class Segment:
    """Inline items to translate together; `translate` False: write `items` back verbatim."""

    items: tuple[Item, ...]
    translate: bool


def _mixed_parents(items: Sequence[Item]) -> set[int]:
    """Indices of the opening items whose element holds non-whitespace text directly."""
    stack: list[int] = []
    mixed: set[int] = set()
    for i, item in enumerate(items):
        if item.kind == "open":
            stack.append(i)
        elif item.kind == "close" and stack:
            stack.pop()
        elif item.kind == "text" and item.text.strip() and stack:
            mixed.add(stack[-1])
    return mixed


def _inline(items: Sequence[Item], html: bool) -> list[bool]:
    """For each item, whether it can sit inside a segment (text, inline tags, comments)."""
    mixed = _mixed_parents(items)
    stack: list[tuple[str, bool, bool]] = []  # open elements: name, inline, holds text
    out = []
    for i, item in enumerate(items):
        if item.kind == "close":
            names = [name for name, _, _ in stack]
            if item.name not in names:
                out.append(False)  # a stray end tag (lenient HTML): a boundary, kept as it is
                continue
            while stack[-1][0] != item.name:
                stack.pop()
            out.append(stack.pop()[1])
            continue
        name = item.name.lower()
        if item.kind in ("text", "raw"):
            inline = True
        elif html and name in BLOCK:
            inline = False
        elif html and name in INLINE_HTML:
            inline = True
        else:
            inline = bool(stack) and stack[-1][2]
        out.append(inline)
        if item.kind == "open":
            stack.append((item.name, inline, i in mixed))
    return out


def _verbatim_end(items: Sequence[Item], start: int) -> int:
    """The index after the element opened at `start` closes (the end if it never does)."""
    depth = 0
    for i in range(start, len(items)):
        depth += {"open": 1, "close": -1}.get(items[i].kind, 0)
        if depth == 0:
            return i + 1
    return len(items)


def _collapse_kept(items: Sequence[Item]) -> list[Item]:
    """Elements not to translate become one verbatim item each (a void if inline, so that
    it is placed by its neighbour word; a block boundary otherwise)."""
    out: list[Item] = []
    i = 0
    while i < len(items):
        item = items[i]
        if item.kind == "open" and item.keep:
            end = _verbatim_end(items, i)
            raw = "".join(x.raw for x in items[i:end])
            out.append(Item("raw", raw, item.name, keep=True))
            i = end
        else:
            out.append(item)
            i += 1
    return out


def segments(items: Sequence[Item], html: bool) -> list[Segment]:
    """The document as segments in order: runs of inline items that hold text to translate,
    and everything else (block tags, kept elements that stand alone, blank runs) verbatim."""
    items = _collapse_kept(items)
    inline = _inline(items, html)
    out: list[Segment] = []
    run: list[Item] = []

    def flush() -> None:
        if run:
            has_text = any(x.kind == "text" and x.text.strip() for x in run)
            out.append(Segment(tuple(run), has_text))
            run.clear()

    for item, is_inline in zip(items, inline, strict=True):
        block_like = item.kind == "raw" and item.keep and item.name.lower() in STANDALONE
        if is_inline and not block_like:
            run.append(item)
        else:
            flush()
            out.append(Segment((item,), False))
    flush()
    return out

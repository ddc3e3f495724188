"""A segment's text, its inline elements and its sentences, and which elements are inner to
one sentence (placed by alignment inside its translation) or outer (written around whole
sentences, where they were). A sentence that an element only partly covers is merged with
its neighbours until no element straddles a sentence boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nmt_cli.documents.lines import Splitting, sentences_of
from nmt_cli.documents.markup import Item
from nmt_cli.documents.split import Span


@dataclass(frozen=True)
class Element:
    """An inline element of a segment: the items that open and close it (the same one for a
    void or verbatim item), the text offsets it encloses, and its parent element (-1: none)."""

    first: int
    last: int
    start: int
    end: int
    parent: int

    @property
    def void(self) -> bool:
        return self.first == self.last


@dataclass(frozen=True)
class Layout:
    """A segment ready to translate: its text, where each item sits in it, its elements, its
    units (sentences, merged where an element straddles them) and each element's unit (-1: outer)."""

    items: tuple[Item, ...]
    text: str
    positions: tuple[int, ...]
    elements: tuple[Element, ...]
    units: tuple[Span, ...]
    unit_of: tuple[int, ...]
    sentences: tuple[Span, ...] = ()  # before merging: each unit is one or more of them

    def sentences_in(self, unit: int) -> list[Span]:
        """The sentences unit `unit` is made of (more than one where an element straddled them)."""
        s, e = self.units[unit]
        return [(a, b) for a, b in self.sentences if s <= a and b <= e] or [(s, e)]


BREAKS = frozenset({"br", "hr"})  # void elements that part the words around them, as a space would


def _text_positions(items: Sequence[Item]) -> tuple[str, list[int]]:
    """The segment's text and where each item sits in it; a line break stands for a space, so
    that "eins<br>zwei" is two words to the model, as it is two to a reader."""
    positions, parts, at = [], [], 0
    for item in items:
        positions.append(at)
        gap = " " if item.kind == "void" and item.name.lower() in BREAKS else ""
        text = item.text if item.kind == "text" else gap
        parts.append(text)
        at += len(text)
    return "".join(parts), positions


def _elements(items: Sequence[Item], positions: Sequence[int]) -> list[Element]:
    """Pair opening and closing items by a stack; unpaired ones and voids stand alone."""
    found: list[Element] = []
    stack: list[tuple[int, int]] = []  # (item index, element index)

    def add(first: int, last: int) -> int:
        parent = stack[-1][1] if stack else -1
        found.append(Element(first, last, positions[first], positions[last], parent))
        return len(found) - 1

    for i, item in enumerate(items):
        if item.kind == "open":
            stack.append((i, add(i, i)))
        elif item.kind == "close" and any(items[j].name == item.name for j, _ in stack):
            while stack:
                j, e = stack.pop()
                if items[j].name == item.name:
                    found[e] = Element(j, i, positions[j], positions[i], found[e].parent)
                    break
        elif item.kind != "text":
            add(i, i)
    return found


def _touched(units: Sequence[Span], el: Element) -> list[int]:
    return [u for u, (s, e) in enumerate(units) if s < el.end and e > el.start]


def _merge(units: list[Span], elements: Sequence[Element]) -> list[Span]:
    """Join the units an element encloses in part, until every element lies inside one unit
    or encloses whole units."""
    changed = True
    while changed:
        changed = False
        for el in elements:
            hit = _touched(units, el)
            if len(hit) > 1 and not (el.start <= units[hit[0]][0] and el.end >= units[hit[-1]][1]):
                first, last = hit[0], hit[-1]
                units[first : last + 1] = [(units[first][0], units[last][1])]
                changed = True
                break
    return units


def _unit_of(units: Sequence[Span], el: Element) -> int:
    """The unit an element is inner to, or -1 when it is written where it was (outer)."""
    hit = _touched(units, el)
    if len(hit) == 1:
        s, e = units[hit[0]]
        return -1 if el.start <= s and el.end >= e else hit[0]
    if not hit:  # no text inside: inner only if it sits inside a unit's text
        return next((u for u, (s, e) in enumerate(units) if s < el.start < e), -1)
    return -1


def _cut(text: str, units: Sequence[Span], at: int) -> list[Span]:
    """Units with the one that holds offset `at` cut in two there (whitespace trimmed)."""
    out: list[Span] = []
    for s, e in units:
        if not s < at < e:
            out.append((s, e))
            continue
        for a, b in ((s, at), (at, e)):
            piece = text[a:b]
            if piece.strip():
                start = a + len(piece) - len(piece.lstrip())
                out.append((start, start + len(piece.strip())))
    return out


def layout(items: Sequence[Item], splitting: Splitting) -> Layout:
    """The Layout of a segment's items, split into sentences as `splitting` says."""
    text, positions = _text_positions(items)
    elements = _elements(items, positions)
    units = sentences_of(text, splitting.lang, splitting.whole)
    for el in elements:  # a tag left open or closed elsewhere (a block cut it) must not move
        if el.void and items[el.first].kind in ("open", "close"):
            units = _cut(text, units, el.start)
    sentences = tuple(units)
    units = _merge(units, elements)
    unit_of: list[int] = []
    for el in elements:  # parents come first; what an inner element holds moves with it
        inherited = unit_of[el.parent] if el.parent != -1 else -1
        unit_of.append(inherited if inherited != -1 else _unit_of(units, el))
    return Layout(
        tuple(items), text, tuple(positions), tuple(elements), tuple(units), tuple(unit_of), sentences
    )

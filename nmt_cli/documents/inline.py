"""Inline tags carried into a translation by word alignment: an element goes around the target
words aligned to the source words it enclosed; a void element (<br>, <img>, a kept <code>) goes
after the target of its source neighbour. Spans are then clipped so that children stay inside
their parents and siblings do not overlap, so the output nests as the input did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nmt_cli.documents.layout import BREAKS, Element, Layout
from nmt_cli.documents.lines import LIST_MARKER, has_words
from nmt_cli.documents.markup import escape_text

PUNCTUATION = ".,;:!?…"
Link = tuple[int, int]  # (source word, target word)
# (sources, their translations) -> for each pair: source words, target words, links, as the
# alignment of `nmt align` counts words (SentencePiece words).
Aligned = tuple[int, int, list[Link]]
Aligner = Callable[[Sequence[str], Sequence[str]], list[Aligned]]
# sources -> (translation, its alignment) each: the search's own attention, kept as it goes.
AlignedTranslator = Callable[[Sequence[str]], list[tuple[str, Aligned]]]


def aligned_translator(
    translator: Callable[[Sequence[str]], list[str]], aligner: Aligner
) -> AlignedTranslator:
    """Translate, then align sources with their translations: for translators that keep no
    attention (and the tests' fakes)."""

    def run(sources: Sequence[str]) -> list[tuple[str, Aligned]]:
        texts = translator(sources)
        return list(zip(texts, aligner(sources, texts), strict=True))

    return run


def for_real_text(aligned: AlignedTranslator) -> AlignedTranslator:
    """`aligned` under the rules plain sentences follow (lines.copying_wordless and
    keeping_markers): a unit without a letter ("49,90 €", "12:30 !!!") is copied, each word
    linked to itself, where a model would make words up or write nothing; a list marker
    ("2.", "a)") is kept as written, linked to itself, and only the text after it translated."""

    def run(sources: Sequence[str]) -> list[tuple[str, Aligned]]:
        found = [LIST_MARKER.match(s) if has_words(s) else None for s in sources]
        marks = [m.group() if m and has_words(s[m.end() :]) else "" for s, m in zip(sources, found)]
        worded = [s[len(mark) :] for s, mark in zip(sources, marks) if has_words(s)]
        done = iter(aligned(worded) if worded else [])
        out: list[tuple[str, Aligned]] = []
        for source, mark in zip(sources, marks):
            if not has_words(source):
                n = len(source.split())
                out.append((source, (n, n, [(i, i) for i in range(n)])))
                continue
            text, (n_src, n_tgt, links) = next(done)
            if mark:
                text, n_src, n_tgt = mark + text, n_src + 1, n_tgt + 1
                links = [(0, 0), *((i + 1, j + 1) for i, j in links)]
            out.append((text, (n_src, n_tgt, links)))
        return out

    return run


@dataclass
class _Span:
    """Where an element lands among the target words: [lo, hi)."""

    element: int
    lo: int
    hi: int


def _rescale(i: int, n_from: int, n_to: int) -> int:
    """A word index when the aligner counted words differently (rare): proportional."""
    return i if n_from == n_to or n_from == 0 else min(n_to - 1, i * n_to // n_from)


def _targets(aligned: Aligned, n_src: int, n_tgt: int) -> list[list[int]]:
    """For each source word, the target words linked to it."""
    a_src, a_tgt, links = aligned
    out: list[list[int]] = [[] for _ in range(n_src)]
    for s, t in links:
        if n_src and n_tgt:
            out[_rescale(s, a_src, n_src)].append(_rescale(t, a_tgt, n_tgt))
    return out


def _anchor(word_starts: Sequence[int], at: int, targets: Sequence[Sequence[int]]) -> int:
    """The target position for something at source offset `at`: after the target of the
    nearest source word starting before it that has one, else before the first aligned word."""
    before = [w for w, start in enumerate(word_starts) if start < at and targets[w]]
    if before:
        return max(targets[before[-1]]) + 1
    after = [min(t) for t in targets if t]
    return after[0] if after else 0


def _spans(
    lay: Layout, unit: int, word_spans: Sequence[tuple[int, int]], targets: Sequence[Sequence[int]]
) -> list[_Span]:
    spans = []
    for e, el in enumerate(lay.elements):
        if lay.unit_of[e] != unit:
            continue
        hit = [
            t for w, (ws, we) in enumerate(word_spans) if ws < el.end and we > el.start for t in targets[w]
        ]
        if el.void or not hit:
            at = _anchor([ws for ws, _ in word_spans], el.start, targets)
            spans.append(_Span(e, at, at))
        else:
            spans.append(_Span(e, min(hit), max(hit) + 1))
    return spans


Tree = list[tuple[_Span, "Tree"]]  # placed elements, each with its placed children


def _nest(lay: Layout, spans: list[_Span], lo: int, hi: int, parent: int) -> Tree:
    """Children of `parent` clipped into [lo, hi), in target order, not overlapping; recursively."""
    mine = sorted(
        (s for s in spans if _parent_in(lay, s.element, spans) == parent), key=lambda s: (s.lo, s.element)
    )
    out: Tree = []
    at = lo
    for s in mine:
        s.lo = min(max(s.lo, at), hi)
        s.hi = min(max(s.hi, s.lo), hi)
        out.append((s, _nest(lay, spans, s.lo, s.hi, s.element)))
        at = s.hi
    return out


def _parent_in(lay: Layout, e: int, spans: Sequence[_Span]) -> int:
    """The nearest ancestor of element `e` placed in the same unit (-1: the unit itself)."""
    placed = {s.element for s in spans}
    p = lay.elements[e].parent
    while p != -1 and p not in placed:
        p = lay.elements[p].parent
    return p


def _events(lay: Layout, tree: Tree, words: Sequence[str], lo: int, hi: int) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    at = lo
    for span, children in tree:
        out += [("w", w) for w in words[at : span.lo]]
        el: Element = lay.elements[span.element]
        if el.void:  # with the spaces the source had around it, between words
            own = int(lay.items[el.first].name.lower() in BREAKS)  # a <br>'s own space in the text
            space_before = el.start > 0 and lay.text[el.start - 1].isspace()
            space_after = el.start + own < len(lay.text) and lay.text[el.start + own].isspace()
            kind = "v" if space_before or space_after else "V"  # V: glued to both neighbours (Hund<br>läuft)
            out += (
                [("S", " ")] * space_before + [(kind, lay.items[el.first].raw)] + [("S", " ")] * space_after
            )
        else:
            out.append(("o", lay.items[el.first].raw))
            out += _events(lay, children, words, span.lo, span.hi)
            moved = _punctuation_out(out, lay.text[el.start : el.end])
            out += [("c", lay.items[el.last].raw), *moved]
        at = span.hi
    return out + [("w", w) for w in words[at:hi]]


def _punctuation_out(events: list[tuple[str, str]], enclosed: str) -> list[tuple[str, str]]:
    """Final punctuation that the translation glued to an element's last word, cut off that
    word, when the element's source text did not end in punctuation: it goes after the
    closing tag ("<a>ball</a>.", not "<a>ball.</a>")."""
    if not events or events[-1][0] != "w" or enclosed.rstrip().endswith(tuple(PUNCTUATION)):
        return []
    word = events[-1][1]
    core = word.rstrip(PUNCTUATION)
    if not core or core == word:
        return []
    events[-1] = ("w", core)
    return [("p", word[len(core) :])]


def _between(gap: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The events between two words, with the space that separates them: where the source had
    spaces around a void element ("S"), there (one at most in a row); none beside a void element
    the source glued to both its words ("V"); else closing tags and voids stick to the word
    before and opening tags to the word after."""
    if any(k == "S" for k, _ in gap):
        return [e for i, e in enumerate(gap) if e[0] != "S" or i == 0 or gap[i - 1][0] != "S"]
    if any(k == "V" for k, _ in gap):  # the source had no space there either
        return gap
    split = next((i for i, (k, _) in enumerate(gap) if k == "o"), len(gap))
    return [*gap[:split], ("s", " "), *gap[split:]]


def _join(events: Sequence[tuple[str, str]]) -> str:
    """Words separated by one space (`_between`); source spaces around a void element kept
    between words, dropped at the unit's ends."""
    out: list[str] = []
    gap: list[tuple[str, str]] = []
    seen_word = False
    for kind, text in events:
        if kind != "w":
            gap.append((kind, text))
            continue
        gap = _between(gap) if seen_word else [e for e in gap if e[0] != "S"]
        out += [escape_text(t) if k == "p" else t for k, t in gap] + [escape_text(text)]
        gap, seen_word = [], True
    gap = [e for e in gap if e[0] != "S"]
    return "".join(out + [escape_text(t) if k == "p" else t for k, t in gap])


def place(lay: Layout, unit: int, translation: str, aligned: Aligned) -> str:
    """The unit's translation as markup, with its inner elements around the aligned words."""
    s, e = lay.units[unit]
    word_spans, at = [], s
    for word in lay.text[s:e].split():
        start = lay.text.index(word, at)
        word_spans.append((start, start + len(word)))
        at = start + len(word)
    words = translation.split()
    targets = _targets(aligned, len(word_spans), len(words))
    spans = _spans(lay, unit, word_spans, targets)
    tree = _nest(lay, spans, 0, len(words), -1)
    return _join(_events(lay, tree, words, 0, len(words)))

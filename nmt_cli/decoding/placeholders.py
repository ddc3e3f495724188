"""Placeholders for the protected spans a model cannot spell: a URL, path, e-mail address, `code`
or --keep match stands in the source as a city name that models copy (Berlin, Paris, ...), the
translation must contain that name (a one-word constraint), and the span replaces it afterwards.

Forced through the decoder subword by subword, a long span derails what comes after it, and
split into rare subwords in the source it derails the encoder too ("Write on maxic pattern
patterned ..." for max.mustermann@example.de). A placeholder keeps the sentence the model
reads and writes an ordinary one. Short numbers stay spans of their own: as names they changed
the grammar around them ("3 Hunde"). Measured on development text: docs/glossaries.md.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

# One word each, written alike in German and English, and copied by the shipped models.
NAMES: tuple[str, ...] = ("Berlin", "Paris", "London", "Madrid", "Oslo", "Dublin", "Amsterdam")
NAMES += ("Hamburg", "Dresden", "Leipzig", "Bonn", "Stockholm")
_NUMBER = re.compile(r"[\d.,:/+-]+")  # numbers, dates and times
# Numbers of this many characters and more (192.168.0.1, 123456-78) are masked too: like paths,
# they become strings of rare subwords (dev: technical text BLEU 31.11 -> 32.22).
LONG_NUMBER = 6
Found = tuple[int, int, str]  # (start, end, target) of a term or span in a line


@dataclass(frozen=True)
class Masked:
    """A line with placeholders: its text, what its translation must contain (the placeholders
    and the line's other terms, at their places in `line`), and each placeholder's span."""

    line: str
    found: list[Found]
    originals: dict[str, str]


def mask(line: str, found: Sequence[Found]) -> Masked | None:
    """`line` with each protected span (not a short number) replaced by a placeholder the line
    does not hold already; None when there is none (glossary terms are left to the search)."""
    free = iter(n for n in NAMES if n.casefold() not in line.casefold())
    masked = ""
    kept: list[Found] = []
    originals: dict[str, str] = {}
    at = 0
    for start, end, target in sorted(found):
        span = line[start:end]
        short_number = _NUMBER.fullmatch(span) is not None and len(span) < LONG_NUMBER
        name = next(free, None) if target == span and not short_number else None
        masked += line[at:start]
        written = span if name is None else name
        kept.append((len(masked), len(masked) + len(written), target if name is None else name))
        masked += written
        if name is not None:
            originals[name] = span
        at = end
    return Masked(masked + line[at:], kept, originals) if originals else None


_WORD = re.compile(r"\S+")
_OPENING, _CLOSING = "([{\"'„“‚‘»«", ".,;:!?)]}\"'“”‘’»«"


def unknown_spans(line: str, unknown: set[str], taken: Sequence[Found]) -> list[Found]:
    """`taken` (the terms and spans found already) and the words of `line` that hold a character
    of `unknown` (one the source vocabulary lacks), in source order, as spans to copy: quotes,
    brackets and punctuation around a word left out unless they are the unknown ones ({Enter}).
    Such a word takes the place of copied spans inside it (4×5 over the numbers 4 and 5); a
    word that overlaps a term translated otherwise is left to the term."""
    kept = sorted(taken)  # disjoint, so their ends are sorted too: overlaps found by bisection
    starts, ends = [t[0] for t in kept], [t[1] for t in kept]
    opening = "".join(c for c in _OPENING if c not in unknown)
    closing = "".join(c for c in _CLOSING if c not in unknown)
    dropped: set[int] = set()
    words: list[Found] = []
    for m in _WORD.finditer(line):
        word = m.group()
        start = m.start() + len(word) - len(word.lstrip(opening))
        end = m.end() - (len(word) - len(word.rstrip(closing)))
        core = line[start:end]
        if not core or not unknown.intersection(core):
            continue
        lo, hi = bisect.bisect_right(ends, start), bisect.bisect_left(starts, end)
        if all(start <= s and e <= end and target == line[s:e] for s, e, target in kept[lo:hi]):
            dropped.update(range(lo, hi))
            words.append((start, end, core))
    return sorted([t for i, t in enumerate(kept) if i not in dropped] + words)


def unmask(text: str, originals: dict[str, str]) -> str:
    """`text` with each placeholder (as the start of a word, in any case: the search accepts a
    lower-case one) replaced by its span, once: a model that wrote the placeholder again wrote
    it where the span had already been, so later copies are dropped. A span whose placeholder
    is missing, which only a search that had to drop its constraints gives, is added at the end
    rather than lost."""
    missing = []
    for name, span in originals.items():
        # A word that starts with the name is the placeholder with pieces glued on ("Londont"):
        # the line holds no word with the name in it, or the name would not have been chosen.
        found = list(re.finditer(rf"(?<!\w){re.escape(name)}\w*", text, re.IGNORECASE))
        if not found:
            missing.append(span)
            continue
        for m in reversed(found[1:]):  # right to left, so that offsets stay valid
            start = m.start() - (m.start() > 0 and text[m.start() - 1] == " ")
            text = text[:start] + text[m.end() :]
        text = text[: found[0].start()] + span + text[found[0].end() :]
    return " ".join([text, *missing]) if missing else text


def copied_whole(line: str, found: Sequence[Found]) -> bool:
    """Whether the spans copied as they are (protected spans, `--keep`) hold every letter of
    `line`: it is then copied whole, where a search would write it after a sentence of its own."""
    kept = sorted((s, e) for s, e, target in found if target == line[s:e])
    ends = [0] + [e for _, e in kept]
    outside = [line[a:s] for a, (s, _) in zip(ends, kept)] + [line[ends[-1] :]]
    return bool(kept) and not any(c.isalpha() for part in outside for c in part)


def plan(lines: Sequence[str], found: Sequence[Sequence[Found]]) -> tuple[list[bool], list[Masked | None]]:
    """For each line with terms: whether it is copied whole, and its placeholders (n-best
    lists too: each hypothesis gets its spans back, decoding/translate.py)."""
    whole = [copied_whole(line, f) for line, f in zip(lines, found)]
    masks = [None if w or not f else mask(line, f) for line, f, w in zip(lines, found, whole)]
    return whole, masks

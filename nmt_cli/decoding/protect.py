"""Spans of the source that translation must copy exactly: URLs, e-mail addresses, file paths,
`code`, numbers, and whatever the user's --keep regexes match.

They become constraints whose target is the span itself (constraints.py), so every covered
span appears in the output. Characters the target vocabulary lacks come out of SentencePiece
as ⁇; `restore` puts the original span back in their place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from nmt_cli.errors import NMTError

_TRAILING = ".,;:!?)]}'\""  # sentence punctuation after a URL or path is not part of it

PATTERNS: dict[str, str] = {
    "code": r"`[^`\n]+`",  # first: a backquoted command holds paths of its own
    "url": r"(?:https?://|ftp://|www\.)[^\s<>\"]+",
    "email": r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+",  # tried at the start of a run only: linear
    "path": r"(?<![\w/])(?:~|\.{1,2})?/[\w.-]+(?:/[\w.-]*)+|[A-Za-z]:\\[^\s]+",
    "number": r"(?<!\w)\d+(?:[.,:/-]\d+)*(?!\w)",
    # 80 characters without a space: base64, hashes, minified code, not words (German's longest
    # compounds in use stay under 50); translated, they took seconds and came out as nonsense.
    "blob": r"(?<!\S)\S{80,}",
}


@dataclass(frozen=True)
class Protector:
    """The patterns whose matches are copied: the built-in ones (`builtin`) and the user's."""

    patterns: tuple[re.Pattern[str], ...]

    @classmethod
    def build(cls, keep: Sequence[str] = (), builtin: bool = True) -> Protector:
        compiled = []
        for regex in keep:
            try:
                compiled.append(re.compile(regex))
            except (re.error, OverflowError, RecursionError) as e:  # a{99999999999}: OverflowError
                raise NMTError(f"--keep {regex!r} is not a valid regular expression: {e}") from e
        if builtin:
            compiled += [re.compile(p) for p in PATTERNS.values()]
        return cls(tuple(compiled))

    def spans(self, line: str, taken: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
        """[start, end) of every protected span in `line`, left to right: earlier patterns win
        overlaps, and nothing overlaps the spans already `taken` (glossary terms)."""
        found: list[tuple[int, int]] = list(taken)
        for pattern in self.patterns:
            for m in pattern.finditer(line):
                start, end = m.start(), m.end()
                if m.group().startswith(("http", "ftp", "www", "/", "~", ".")):
                    end = link_end(line, start, end)
                if end > start and all(end <= s or start >= e for s, e in found):
                    found.append((start, end))
        return sorted(s for s in found if s not in taken)


def link_end(line: str, start: int, end: int) -> int:
    """Where a URL or path matched at [start, end) of `line` ends: sentence punctuation after it
    is not part of it, a closing bracket it opened is (wiki/Hund_(Haustier))."""
    core = line[start:end].rstrip(_TRAILING)
    while core.count("(") > core.count(")") and line[start + len(core) : end][:1] == ")":
        core += ")"
    return start + len(core)


def restore(text: str, originals: Sequence[str], lossy: Sequence[str]) -> str:
    """`text` with each `lossy` form (the span as the target vocabulary spells it back) put back
    as its original, where they differ."""
    for original, spelled in zip(originals, lossy):
        if spelled != original and spelled and original not in text:
            text = text.replace(spelled, original, 1)
    return text

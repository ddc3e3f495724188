"""What each sentence's translation must contain: its glossary terms' targets and its protected
spans, found in the sentence's own source text, in source order.

Protected spans are the parts of the source that translation must copy exactly: URLs, e-mail
addresses, file paths, `code`, numbers, and whatever the user's --keep regexes match. They
become constraints whose target is the span itself (constraints.py), so every covered span
appears in the output. Characters the target vocabulary lacks come out of SentencePiece as ⁇;
`restore` puts the original span back in their place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from nmt_cli.errors import NMTError

if TYPE_CHECKING:  # read_glossary is imported by the runs with a --glossary
    from nmt_cli.decoding.glossary import Glossary

_TRAILING = ".,;:!?)]}'\"’”“»«›‹"  # sentence punctuation and quotes after a URL or path are not part of it

_EXTENSIONS = (
    "yaml|yml|json|toml|ini|cfg|conf|txt|md|rst|csv|tsv|xml|html?|css|js|ts|py|rb|go|rs|java|cpp|sh"
    "|bat|ps1|exe|dll|so|deb|rpm|apk|iso|zip|tar|gz|bz2|xz|7z|pdf|docx?|xlsx?|pptx?|odt|png|jpe?g"
    "|gif|svg|mp3|mp4|wav|log|sql|db"
)
# Units written glued to a number, longest first: 5min is not 5m and "in". Not %: forced as
# one span, 11% scored lower on the everyday dev set than 11 forced and % left to the model.
_UNITS = "mAh|GHz|MHz|kHz|GiB|MiB|min|mm|cm|km|kg|mg|ml|GB|MB|KB|kB|TB|Hz|kW|Ah|ms|px|pt|°C|°F"
_UNITS += "|m|g|l|W|V|s|€|\\$|x|k"

PATTERNS: dict[str, str] = {
    "code": r"`[^`\n]+`",  # first: a backquoted command holds paths of its own
    "url": r"(?:https?://|ftp://|www\.)[^\s<>\"“”„«»]+",  # typographic quotes close it too
    "email": r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+",  # tried at the start of a run only: linear
    "path": r"(?<![\w/])(?:~|\.{1,2})?/[\w.-]+(?:/[\w.-]*)+|[A-Za-z]:\\[^\s]+",
    # config.yaml, archive.tar.gz: a name with a file type's extension
    "file": rf"(?<![\w/.-])[\w-]+(?:\.[\w-]+)*\.(?:{_EXTENSIONS})(?!\w)",
    "version": r"(?<![\w.$€£¥])v?\d++(?:\.\d++)++(?:-[A-Za-z][\w.]*)?(?![\w-])",  # 1.2.3, v2.0.1-beta
    "hashtag": r"(?<![\w#&])#[^\W_][\w-]*",  # #Sommerfest2024, #ff0000
    "mention": r"(?<![\w.@])@[A-Za-z_]\w*",  # @MaxMuster
    # A whole number or none of it (possessive: 3,5mm is not 3 and a word), with a sign after a
    # space, a currency before it and a unit glued after it (-5, $25, 3,5mm, 2.5GHz, 25€).
    "number": rf"(?<![\w.,])(?:(?<!\S)[-+±]|[$€£¥])?\d++(?:[.,:/-]\d++)*+(?:{_UNITS})?(?!\w)",
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
                if m.group().startswith(("http", "ftp", "www", "/", "~", ".")) or m.group()[1:3] == ":\\":
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


@dataclass(frozen=True)
class TermFinder:
    glossary: Glossary | None
    protector: Protector | None

    @classmethod
    def build(cls, glossary: str | None, keep: Sequence[str], protect: bool) -> TermFinder | None:
        """The finder for these settings, or None when nothing is to be enforced."""
        found = _cached_glossary(glossary, Path(glossary).stat().st_mtime_ns) if glossary else None
        protector = Protector.build(keep, protect) if keep or protect else None
        return cls(found, protector) if found or protector else None

    def targets(self, line: str) -> list[str]:
        """The target strings the translation of `line` must contain, in source order."""
        return [target for _, _, target in self.found(line)]

    def found(self, line: str) -> list[tuple[int, int, str]]:
        """(start, end, target) of each source span of `line` whose translation must contain
        `target`, in source order: greedy search places a term where the model attends to its span."""
        matches = self.glossary.matches(line) if self.glossary else []
        if matches and self.protector:  # a term inside a URL or path is part of it, not a word
            around = self.protector.spans(line)
            matches = [m for m in matches if not any(_inside(m.start, m.end, s, e) for s, e in around)]
        taken = [(m.start, m.end) for m in matches]
        spans = self.protector.spans(line, taken) if self.protector else []
        found = [(m.start, m.end, m.target) for m in matches] + [(s, e, line[s:e]) for s, e in spans]
        return sorted(found, key=lambda x: x[0])


def _inside(start: int, end: int, outer_start: int, outer_end: int) -> bool:
    """Whether [start, end) lies within [outer_start, outer_end) and is shorter than it."""
    return outer_start <= start and end <= outer_end and end - start < outer_end - outer_start


@lru_cache(maxsize=4)
def _cached_glossary(path: str, mtime_ns: int) -> Glossary:
    """A glossary read once per version of its file: callers that translate sentence by
    sentence (documents, interactive use) build a finder per call."""
    from nmt_cli.decoding.glossary import read_glossary

    return read_glossary(path)

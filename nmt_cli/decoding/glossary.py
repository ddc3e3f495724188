"""Glossaries: source terms and the target terms their translations must contain.

A glossary is a UTF-8 TSV file, one `source term<TAB>target term` per line (blank lines and
lines starting with # are skipped). A source term matches as whole words, with any run of
spaces between its words, case-insensitively except that a term written with a capital first
letter needs one in the text too (German nouns: `Morgen` is not `morgen`, and the two may
be entries of their own). A term ending in `*`
also matches any longer word that starts with it (`Bundestag*` matches Bundestags), which
covers inflection; other inflected forms are lines of their own. Where terms overlap, the
longest match wins. The target term is written as the glossary gives it (the search accepts
a capital first letter where the model starts a sentence with it).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from nmt_cli.errors import NMTError

log = logging.getLogger("nmt_cli")


@dataclass(frozen=True)
class Match:
    """A stretch of source text [start, end) and what its translation must contain."""

    start: int
    end: int
    target: str


@dataclass(frozen=True)
class Glossary:
    entries: dict[str, str]  # source term's key (`_key`) -> target term
    pattern: re.Pattern[str] | None  # every source term, longest first

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, str]]) -> Glossary:
        """A glossary of (source, target) pairs; a later pair for the same source term wins."""
        entries = {_key(src): tgt for src, tgt in pairs}
        if not entries:
            return cls({}, None)
        written = {_key(src): " ".join(src.split()) for src, _ in pairs}
        terms = sorted(written.values(), key=lambda t: (-len(t.rstrip("*")), t))
        alternatives = "|".join(_term_regex(t) for t in terms)
        return cls(entries, re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)"))

    def matches(self, line: str) -> list[Match]:
        """The terms found in `line`, left to right, not overlapping."""
        if self.pattern is None:
            return []
        return [Match(m.start(), m.end(), self._target(m.group())) for m in self.pattern.finditer(line)]

    def _target(self, found: str) -> str:
        """The target of the entry that matched `found`: a capitalised term before its
        lower-case twin (`Morgen` before `morgen`), a whole term before a prefix (`*`)."""
        folded = " ".join(found.split()).casefold()
        keys = ["^" + folded, folded] if found[:1].isupper() else [folded]
        for key in keys:
            if key in self.entries:
                return self.entries[key]
        for key in keys:
            prefixes = [t for t in self.entries if t.endswith("*") and key.startswith(t[:-1])]
            if prefixes:
                return self.entries[max(prefixes, key=len)]
        raise KeyError(found)  # the pattern matches only the entries' terms


def _key(term: str) -> str:
    """A term as looked up: spaces collapsed, case folded, and marked (^) when its first letter
    is a capital, which the text must then have too (`Morgen` and `morgen` are two entries)."""
    return ("^" if term[:1].isupper() else "") + " ".join(term.split()).casefold()


def _term_regex(term: str) -> str:
    """A source term as a regex: its words separated by any whitespace, `*` as word characters,
    case-insensitive but for a capital first letter."""
    stem, star = (term[:-1], r"\w*") if term.endswith("*") else (term, "")
    body = r"\s+".join(re.escape(w) for w in stem.split()) + star
    if stem[:1].isupper():
        return re.escape(stem[0]) + f"(?i:{body[len(re.escape(stem[0])) :]})"
    return f"(?i:{body})"


def read_glossary(path: Path | str) -> Glossary:
    """Read a glossary TSV; a malformed line is an error that names it."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a byte-order mark is not a term
    except UnicodeDecodeError as e:
        raise NMTError(f"glossary {path} is not UTF-8 text") from e
    pairs = []
    given: dict[str, tuple[int, str]] = {}  # source term -> (line, target) it was last given
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip().rstrip("*") or not fields[1].strip():
            raise NMTError(
                f"glossary {path}, line {number}: expected 'source term<TAB>target term', got {line!r}"
            )
        source, target = fields[0].strip(), fields[1].strip()
        before = given.get(_key(source))
        if before is not None and before[1] != target:
            log.warning(
                "glossary %s, line %d: %r was given on line %d with another target; line %d wins",
                path, number, source, before[0], number,
            )  # fmt: skip
        given[_key(source)] = (number, target)
        pairs.append((source, target))
    return Glossary.from_pairs(pairs)

"""What each sentence's translation must contain: its glossary terms' targets and its
protected spans, found in the sentence's own source text, in source order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from nmt_cli.decoding.protect import Protector

if TYPE_CHECKING:  # read_glossary is imported by the runs with a --glossary
    from nmt_cli.decoding.glossary import Glossary


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

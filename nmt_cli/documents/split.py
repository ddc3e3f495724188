"""Sentence splitting of one line with sentencex (Wikimedia), chosen by measurement in
docs/sentence-splitting.md: exact character offsets, so a line can be put back together with
its own spacing between the sentences.
"""

from __future__ import annotations

import re
from typing import Any

import sentencex

Span = tuple[int, int]  # [start, end) character offsets into a line

# sentencex splits after a German ordinal ("im 19. | Jahrhundert"); re-join such pieces.
_ORDINAL_END = re.compile(r"(^|\s)\d{1,3}\.\s*$")
# sentencex knows these exact codes; anything else silently falls back to generic rules.
_KNOWN = {"de", "en"}


def language_code(lang: str | None) -> str:
    """The code sentencex understands for a model's language: "de-DE", "DE", "deu" -> "de";
    languages it has no rules for of ours fall back to "en" (generic Latin-script rules)."""
    code = re.split(r"[-_]", (lang or "").strip().lower())[0]
    code = {"deu": "de", "ger": "de", "eng": "en"}.get(code, code)
    return code if code in _KNOWN else "en"


def source_language(config: dict[str, Any]) -> str:
    """The source language of a model directory's config.json, as a sentencex code."""
    return language_code(config.get("src_lang") or config.get("data", {}).get("src_lang"))


def _ascii_spaces(line: str) -> str:
    """Non-ASCII whitespace (no-break space, U+2028, ...) as plain spaces, one character for
    one, so offsets stay valid: sentencex 1.0.32 panics on some of them next to a period
    (e.g. "Z\u00a0.Z", a byte-offset bug in its Rust code)."""
    return "".join(" " if c.isspace() and ord(c) > 127 else c for c in line) if not line.isascii() else line


def _boundaries(line: str, lang: str) -> list[dict[str, Any]]:
    """sentencex's pieces of `line`; the whole line as one if sentencex fails on it anyway."""
    try:
        return list(sentencex.get_sentence_boundaries(lang, _ascii_spaces(line)))
    except BaseException as e:  # a Rust panic arrives as pyo3's PanicException(BaseException)
        if type(e).__name__ != "PanicException":
            raise
        return [{"start_index": 0, "end_index": len(line)}]


def _pieces(line: str, lang: str) -> list[Span]:
    """sentencex's pieces with their surrounding whitespace removed, empty ones dropped."""
    spans = []
    for b in _boundaries(line, lang):
        start, end = int(b["start_index"]), int(b["end_index"])
        piece = line[start:end]
        core = piece.strip()
        if core:
            start += len(piece) - len(piece.lstrip())
            spans.append((start, start + len(core)))
    return spans


def sentence_spans(line: str, lang: str) -> list[Span]:
    """(start, end) of each sentence of `line`, surrounding whitespace excluded, in order.

    In German a piece that ends in a bare ordinal ("am 19.") is merged with the next one.
    Outside the spans there is only whitespace, so `line` is rebuilt exactly from them.
    """
    spans: list[Span] = []
    for start, end in _pieces(line, lang):
        if spans and lang == "de" and _ORDINAL_END.search(line[spans[-1][0] : spans[-1][1]]):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans

"""Lines of text in, the same number of lines out: each line split into sentences (and
over-long sentences into pieces), all pieces of all lines translated in one call, each line
put back together with its own spacing between sentences.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nmt_cli.documents.split import Span, sentence_spans
from nmt_cli.io.lines import one_line

DEFAULT_MAX_TOKENS = 100  # DataConfig.max_len: what a model without a recorded limit saw

# Sentences in, their translations out, in order: one call for a whole window of lines, so the
# search sorts all of their sentences into the same length-sorted batches.
Translator = Callable[[Sequence[str]], list[str]]
Measure = Callable[[Sequence[str]], list[int]]  # texts -> their lengths in source subwords
Spans = Callable[[str], list[Span]]  # a text -> its spans that no cut may fall inside


def no_spans(text: str) -> list[Span]:
    return []


def has_words(text: str) -> bool:
    """Whether `text` has a letter to translate."""
    return any(c.isalpha() for c in text)


def copying_wordless(translator: Translator) -> Translator:
    """`translator` for the sentences with a letter; one of only digits, punctuation, symbols
    or emoji ("...", "12:30", "😀", "- - -") is copied as it is, since a model asked to
    translate it makes words up ("!!!" -> "Come on.")."""

    def run(sentences: Sequence[str]) -> list[str]:
        wanted = [has_words(s) for s in sentences]
        worded = [s for s, w in zip(sentences, wanted) if w]
        done = iter(translator(worded) if worded else [])
        return [next(done) if w else s for s, w in zip(sentences, wanted)]

    return run


# A list item's marker at the start of a sentence: "1.", "2)", "a)", "(iv)", "-", "•", followed
# by a space and the item's text. Models trained on sentences drop or garble it ("2. Walk in"
# -> "2."), so it is kept as written and only the text after it is translated.
LIST_MARKER = re.compile(r"(?:\d{1,3}[.)]|\(?[a-zA-Z]\)|\(?[ivxIVX]{1,4}\)|[-–—•·▪►*])[ \t]+(?=\S)")


def keeping_markers(translator: Translator) -> Translator:
    """`translator` for the text after each sentence's list marker, the marker kept as written
    (an ordinal, "3. Oktober ist ...", loses nothing: the number is copied either way)."""

    def run(sentences: Sequence[str]) -> list[str]:
        found = [LIST_MARKER.match(s) for s in sentences]
        marks = [m.group() if m and has_words(s[m.end() :]) else "" for s, m in zip(sentences, found)]
        done = translator([s[len(mark) :] for s, mark in zip(sentences, marks)])
        return [mark + text for mark, text in zip(marks, done, strict=True)]

    return run


@dataclass(frozen=True)
class Splitting:
    """How lines become units to translate: the source language's sentence rules (None: keep
    each line whole), the longest unit, in subwords, the model was trained on, and the spans
    an over-long sentence is never cut inside (glossary terms and protected spans)."""

    lang: str | None
    max_tokens: int
    whole: Spans = no_spans


def trained_length(config: dict[str, Any], cap: int) -> int:
    """The longest source (in subwords) a model directory's config.json says it trained on,
    at most `cap` (what the search accepts): longer sentences are cut (chunk.py)."""
    data = config.get("data") or {}
    max_len = data.get("max_len") if isinstance(data, dict) else None
    return min(int(max_len) if isinstance(max_len, int) and max_len > 0 else DEFAULT_MAX_TOKENS, cap)


def sentences_of(line: str, lang: str | None, whole: Spans = no_spans) -> list[Span]:
    """The sentences of a line; with no language, the whole stripped line as one. No sentence
    ends inside one of the line's `whole` spans (a --keep match or glossary term that holds a
    "!" or ". "): the sentences around such a boundary are one."""
    if lang is not None:
        spans = sentence_spans(line, lang)
        if len(spans) < 2:
            return spans
        kept = whole(line)
        merged = spans[:1]
        for start, end in spans[1:]:
            if any(s < start and merged[-1][1] < e for s, e in kept):
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        return merged
    core = line.strip()
    start = len(line) - len(line.lstrip())
    return [(start, start + len(core))] if core else []


def plan_lines(lines: Sequence[str], splitting: Splitting, measure: Measure) -> list[list[list[Span]]]:
    """For each line, its sentences, each as the spans of its pieces (one unless over-long)."""
    sentences = [sentences_of(line, splitting.lang, splitting.whole) for line in lines]
    texts = [line[s:e] for line, spans in zip(lines, sentences) for s, e in spans]
    lengths = iter(measure(texts))
    plans: list[list[list[Span]]] = []
    for line, spans in zip(lines, sentences):
        plan = []
        for s, e in spans:
            if next(lengths) <= splitting.max_tokens:
                plan.append([(s, e)])
                continue
            from nmt_cli.documents.chunk import chunk_spans  # only for an over-long sentence

            sentence = line[s:e]
            fits = chunk_spans(
                sentence, lambda t: measure([t])[0], splitting.max_tokens, splitting.whole(sentence)
            )
            plan.append([(s + a, s + b) for a, b in fits])
        plans.append(plan)
    return plans


def assemble(line: str, plan: Sequence[Sequence[Span]], translations: Sequence[str]) -> str:
    """The translated line: a sentence's pieces joined by a space, sentences by the original
    whitespace between them; the line's leading and trailing whitespace dropped, as before."""
    out: list[str] = []
    done = iter(translations)
    cursor: int | None = None
    for pieces in plan:
        if cursor is not None:
            out.append(line[cursor : pieces[0][0]])
        out.append(" ".join(next(done) for _ in pieces))
        cursor = pieces[-1][1]
    return "".join(out)


def translate_lines(
    lines: Sequence[str], translator: Translator, splitting: Splitting, measure: Measure
) -> list[str]:
    """One translated line per line; empty and blank lines stay empty."""
    return [text for text, _ in translated_parts(lines, translator, splitting, measure)]


def translated_parts(
    lines: Sequence[str], translator: Translator, splitting: Splitting, measure: Measure
) -> list[tuple[str, list[tuple[str, str]]]]:
    """Each line's translation, with the (sentence, its translation) pairs it joins: what its
    confidence is read from, sentence by sentence, as it was translated."""
    plans = plan_lines(lines, splitting, measure)
    units = [line[s:e] for line, plan in zip(lines, plans) for pieces in plan for s, e in pieces]
    translated = keeping_markers(copying_wordless(translator))(units) if units else []
    out, at = [], 0
    for line, plan in zip(lines, plans):
        n = sum(len(pieces) for pieces in plan)
        done = translated[at : at + n]
        out.append((one_line(assemble(line, plan, done)), list(zip(units[at : at + n], done))))  # no \r kept
        at += n
    return out


SUFFIXES = {".html": "html", ".htm": "html", ".xhtml": "xml", ".xml": "xml"}
# The start of a document's first non-blank line that makes `--format auto` read it as markup.
_XML_START = re.compile(r"\s*<\?xml\b")
_TAGS = "html|head|body|div|p|span|h[1-6]|ul|ol|li|table|tr|td|th|a|b|i|em|strong|section|article"
_TAGS += "|header|footer|nav|main|title|meta|link|br|img|form|blockquote|pre|code|figure|style|script"
# HTML's own element names only: a chat log's "<Name> sagt hallo" is text.
_HTML_START = re.compile(rf"\s*<(?:!doctype\s+html|!--|(?:{_TAGS})(?:\s[^>]*)?/?>)", re.IGNORECASE)


def read_input(path: Path | None, format: str) -> tuple[str, Iterator[str]]:
    """The input's format and its lines, with their line ends for a document. `auto` is html or
    xml by the file's extension, else by how the first non-blank line starts (a tag, `<!DOCTYPE
    html>`, `<?xml`): standard input has no extension. Only the lines before it are read ahead."""
    from nmt_cli.io.lines import input_lines, strip_line_end

    if format == "auto":
        format = SUFFIXES.get(path.suffix.lower() if path is not None else "", "auto")
    if format != "auto":
        return format, input_lines(path, keep_ends=format != "text")
    lines = input_lines(path, keep_ends=True)
    ahead: list[str] = []
    for line in lines:
        ahead.append(line)
        if line.strip():
            break
    first = ahead[-1] if ahead else ""
    found = "xml" if _XML_START.match(first) else "html" if _HTML_START.match(first) else "text"
    read = itertools.chain(ahead, lines)
    return found, read if found != "text" else (strip_line_end(line) for line in read)

"""Sentence splitting of one line with sentencex (Wikimedia), chosen by measurement in
docs/sentence-splitting.md: exact character offsets, so a line can be put back together with
its own spacing between the sentences. A few post-rules, measured there, mend what sentencex
1.0.32 gets wrong: German ordinals, German sentences that start with a digit, numbered lists.
"""

from __future__ import annotations

import re
from typing import Any

import sentencex

from nmt_cli.decoding.terms import PATTERNS, link_end

Span = tuple[int, int]  # [start, end) character offsets into a line


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# sentencex splits after a German ordinal ("im 19. | Jahrhundert"); re-join such pieces, unless
# the number reads as a sentence's last word ("Tom hat Windows 7. | Tom ist ..."): see `_ordinal`.
_ORDINAL_END = re.compile(r"(?:^|(\S+)\s+)\d{1,3}\.\s*$")
# Words that come before an ordinal: articles, pronouns and prepositions with an article ("am 3.",
# "der 2."); a bare preposition takes a number ("stieg auf 30. | Menschen litten"), and a date
# after "ab", "bis" or "seit" is known by its month.
_BEFORE_ORDINAL = _word_set(
    "am im vom zum zur beim ins ans aufs als der die das den dem "
    "des ein eine einer eines einem einen jeder jede jedes jeden jedem sein seine seinem seinen seiner "
    "ihr ihre ihrem ihren ihrer mein meine meinem meinen unser unsere dieser diese dieses diesem diesen "
    "zwischen und oder bzw. sowie"
)
# Words that cannot follow an ordinal (which a noun or adjective follows), so a sentence starts
# there: articles, pronouns, conjunctions and adverbs ("um 8. | Dann ...", "bei 25. | Es war ...").
_STARTS_SENTENCE = _word_set(
    "der die das dem den des ein eine einer eines einem einen er sie es ich du wir ihr man dann danach "
    "damals dort da doch aber und oder denn so auch nun jetzt heute gestern hier wer was wie wo warum "
    "wann dies diese dieser dieses mein meine dein deine sein seine ihre unser kein keine alle viele "
    "wenn weil obwohl bitte ja nein trotzdem deshalb deswegen außerdem leider vielleicht natürlich "
    "komm kommt kommen geh gehen sag sagen schau mach machen"
)
_MONTHS = _word_set(
    "januar jänner februar märz april mai juni juli august september oktober november dezember"
)
# German sentencex never starts a sentence with a digit ("war 1990. | 2000 Menschen kamen.").
_DIGITS_AFTER_END = re.compile(r"(?<=[.!?])([\"“”»']?\s+)(\d+)")
# Abbreviations a number follows (Goethestr. 12, Nr. 7, S. 12, Abb. 3): the number stays digits,
# which sentencex reads as the abbreviation's own, where a capital would be read as an initial.
_STREET = re.compile(
    r"(?i)(?:str|(?<!\w)(?:nr|no|s|bd|kap|abs|art|abb|tab|fig|tel|pos|ziff|vol|jg|hnr|zi))\.$"
)
# A list item's number: "1. Erstens", "2. Zweitens" (not "2.5", not "12.3.").
_ITEM = re.compile(r"(?<!\S)(\d{1,2})\.(?=\s)")
_ITEM_ONLY = re.compile(r"\d{1,2}\.")
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
    return language_code(config.get("src_lang") or (config.get("data") or {}).get("src_lang"))


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


def _digits_as_capitals(line: str) -> str:
    """`line` with each number that follows a sentence end written as a capitalised word of the
    same length ("1990. 2000 Menschen" -> "1990. Aaaa Menschen"), so that sentencex's German
    rules (abbreviations, initials such as "A.") decide whether a sentence starts there;
    offsets do not move. A street abbreviation (`Goethestr. 12`) keeps its number."""

    def capital(m: re.Match[str]) -> str:
        if _STREET.search(line, 0, m.start()):
            return m.group(0)
        return m.group(1) + "A" + "a" * (len(m.group(2)) - 1)

    return _DIGITS_AFTER_END.sub(capital, line)


_LINKS = re.compile("|".join(PATTERNS[kind] for kind in ("url", "email", "path")))


def _links_as_letters(line: str) -> str:
    """`line` with each URL, e-mail address and path written as letters of the same length (a
    final period kept), so that sentencex never cuts one at a dot before a capital
    (`https://docs.Example.Org`); offsets do not move."""

    def letters(m: re.Match[str]) -> str:
        n = link_end(line, m.start(), m.end()) - m.start()
        return "a" * n + m.group()[n:]

    return _LINKS.sub(letters, line)


def _pieces(line: str, lang: str) -> list[Span]:
    """sentencex's pieces with their surrounding whitespace removed, empty ones dropped."""
    spans = []
    masked = _links_as_letters(line)
    for b in _boundaries(_digits_as_capitals(masked) if lang == "de" else masked, lang):
        start, end = int(b["start_index"]), int(b["end_index"])
        piece = line[start:end]
        core = piece.strip()
        if core:
            start += len(piece) - len(piece.lstrip())
            spans.append((start, start + len(core)))
    return spans


def _ordinal(before: str, after: str) -> bool:
    """Whether the German piece `before`, which ends in a bare number and period, ends with an
    ordinal that the piece `after` continues ("im 19. | Jahrhundert"), rather than a sentence.
    An ordinal is followed by a noun or an adjective, never by a pronoun, article or adverb; it
    is preceded by an article or a preposition, starts the piece, or precedes a month or a
    lower-case word (Windows 7. | Tom: a sentence ends)."""
    m = _ORDINAL_END.search(before)
    if m is None:
        return False
    first = after.split(maxsplit=1)[0].strip("\"'„“”»«(").lower() if after.strip() else ""
    if first in _STARTS_SENTENCE:
        return False
    word = (m.group(1) or "").lower()
    return m.group(1) is None or word in _BEFORE_ORDINAL or first in _MONTHS or after.lstrip()[:1].islower()


def _list_items(line: str, starts: set[int]) -> set[int]:
    """Where the items of numbered lists begin: a "1." that starts a sentence or follows a
    colon, followed by "2.", "3.", ... in order (at least two items; an ordinal such as "am 3. Oktober" is no
    list). sentencex splits such lists only where each item is preceded by a full stop."""
    found = [(m.start(), int(m.group(1))) for m in _ITEM.finditer(line)]
    items: set[int] = set()
    for i, (at, number) in enumerate(found):
        if number != 1 or not (at in starts or line[:at].rstrip().endswith(":")):
            continue
        chain, want = [], 2
        for later, n in found[i + 1 :]:
            if n == want:
                chain.append(later)
                want += 1
        items.update([at, *chain] if chain else [])
    return items


def _spans_from(line: str, starts: list[int]) -> list[Span]:
    """The sentences that begin at `starts` (sorted), each up to the next, whitespace stripped."""
    ends = starts[1:] + [len(line.rstrip())]
    return [(s, s + len(line[s:e].rstrip())) for s, e in zip(starts, ends)]


def sentence_spans(line: str, lang: str) -> list[Span]:
    """(start, end) of each sentence of `line`, surrounding whitespace excluded, in order.

    Post-rules on sentencex's pieces: in German a piece that ends in a bare ordinal ("am 19.")
    is merged with the next one (`_ordinal`); in both languages the items of a numbered list ("1. Erster
    Punkt 2. Zweiter Punkt") are sentences, and a piece that is only a list number ("1.") is
    merged with the next one. Outside the spans there is only whitespace, so `line` is rebuilt
    exactly from them.
    """
    pieces = _pieces(line, lang)
    if not pieces:
        return []
    starts = [pieces[0][0]]
    for (prev_start, prev_end), (start, end) in zip(pieces, pieces[1:]):
        if not (lang == "de" and _ordinal(line[prev_start:prev_end], line[start:end])):
            starts.append(start)
    starts = sorted(set(starts) | _list_items(line, set(starts)))
    kept = starts[:1]
    for start in starts[1:]:
        if not _ITEM_ONLY.fullmatch(line[kept[-1] : start].strip()):
            kept.append(start)
    return _spans_from(line, kept)

"""HTML and XML read into a flat list of items (text, opening and closing tags, everything else
verbatim) by real parsers: html.parser for HTML, expat for XML. Every item keeps its exact source
text, so what is not translated is written back byte for byte.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from typing import Literal
from xml.parsers import expat

from nmt_cli.errors import NMTError

Kind = Literal["text", "open", "close", "void", "raw"]

READABLE = ("alt", "title")  # attributes whose values are translated (HTML)
VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
# Never translated: kept verbatim with everything inside.
VERBATIM = frozenset(["script", "style", "code", "pre", "textarea", "kbd", "samp", "var", "math", "svg"])
# Elements whose content is translated as units of their own, never joined to the text around.
BLOCK = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "caption",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "head",
        "header",
        "hgroup",
        "html",
        "legend",
        "li",
        "main",
        "nav",
        "ol",
        "option",
        "p",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "title",
        "tr",
        "ul",
    ]
)


@dataclass(frozen=True)
class Item:
    """One piece of a document. `raw` is its exact source text; `text` the decoded characters
    of a text item; `keep` marks an element not to translate (VERBATIM or translate="no")."""

    kind: Kind
    raw: str
    name: str = ""
    text: str = ""
    keep: bool = False
    attrs: tuple[tuple[str, str | None], ...] = ()  # of HTML start tags with text to translate


def _keep(name: str, attrs: dict[str, str | None]) -> bool:
    no = {k.lower(): (v or "").strip().lower() for k, v in attrs.items()}
    return name.lower() in VERBATIM or "no" in (no.get("translate"), no.get("its:translate"))


def _readable(tag: str, attrs: list[tuple[str, str | None]]) -> tuple[tuple[str, str | None], ...]:
    """A start tag's attributes when one of them is text for people (alt, title) and the
    element is to be translated, else ()."""
    wanted = not _keep(tag, dict(attrs)) and any(k in READABLE and (v or "").strip() for k, v in attrs)
    return tuple(attrs) if wanted else ()


def start_tag(item: Item, values: dict[str, str]) -> str:
    """`item`'s start tag written again from its parsed attributes, those in `values` replaced
    (html.parser gives the attributes, not where they are in the raw text)."""
    name = item.raw[1 : 1 + len(item.name)]  # the name as it was written (its case)
    parts = [name]
    for key, value in item.attrs:
        value = values.get(key, value)
        parts.append(key if value is None else f'{key}="{html.escape(value, quote=True)}"')
    return "<" + " ".join(parts) + ("/>" if item.raw.rstrip().endswith("/>") else ">")


class _HTMLItems(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.items: list[Item] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raw = self.get_starttag_text() or f"<{tag}>"
        kind: Kind = "void" if tag in VOID else "open"
        self.items.append(Item(kind, raw, tag, keep=_keep(tag, dict(attrs)), attrs=_readable(tag, attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raw = self.get_starttag_text() or f"<{tag}/>"
        self.items.append(Item("void", raw, tag, keep=_keep(tag, dict(attrs)), attrs=_readable(tag, attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.items.append(Item("close", f"</{tag}>", tag))

    def handle_data(self, data: str) -> None:
        self.items.append(Item("text", data, text=data))

    def handle_entityref(self, name: str) -> None:
        raw = f"&{name};"
        self.items.append(Item("text", raw, text=html.unescape(raw)))

    def handle_charref(self, name: str) -> None:
        raw = f"&#{name};"
        self.items.append(Item("text", raw, text=html.unescape(raw)))

    def handle_comment(self, data: str) -> None:
        self.items.append(Item("raw", f"<!--{data}-->"))

    def handle_decl(self, decl: str) -> None:
        self.items.append(Item("raw", f"<!{decl}>"))

    def handle_pi(self, data: str) -> None:
        self.items.append(Item("raw", f"<?{data}>"))

    def unknown_decl(self, data: str) -> None:
        self.items.append(Item("raw", f"<![{data}]>"))  # its exact text: parse_marked_section

    # html.parser hands end tags over lowercased (`</P>` as "p") and marked sections without
    # their closing brackets (`<![CDATA[ x ]]>` as "CDATA[ x "): the items take the source text.
    def parse_endtag(self, i: int) -> int:
        before = len(self.items)
        return self._as_written(before, i, super().parse_endtag(i), "close")

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        before = len(self.items)
        return self._as_written(before, i, super().parse_marked_section(i, report), "raw")

    def _as_written(self, before: int, start: int, end: int, kind: Kind) -> int:
        """The one item just made from rawdata[start:end], given that text as its own."""
        if end > start and len(self.items) == before + 1 and self.items[-1].kind == kind:
            self.items[-1] = replace(self.items[-1], raw=self.rawdata[start:end])
        return end


def html_items(document: str) -> list[Item]:
    """The items of an HTML document or fragment (html.parser is lenient: it never fails)."""
    parser = _HTMLItems()
    parser.feed(document)
    pending = parser.rawdata
    if pending.startswith("<"):  # an unfinished tag or comment at the very end: kept as it was,
        parser.items.append(Item("raw", pending))  # where close() would make it text to translate
        return parser.items
    parser.close()
    if parser.rawdata:
        parser.items.append(Item("raw", parser.rawdata))
    return parser.items


def xml_items(document: str) -> list[Item]:
    """The items of a well-formed XML document; anything else is an NMTError naming the place.

    expat reports where each event starts; the bytes up to the next event are its source text,
    so the items put together give back the document exactly.
    """
    declared = _DECLARED.match(document)
    if declared and declared.group(1).lower().replace("_", "-") not in ("utf-8", "utf8", "us-ascii", "ascii"):
        raise NMTError(
            f"the document declares encoding {declared.group(1)}: nmt reads and writes UTF-8 "
            f"(convert it first: iconv -f {declared.group(1)} -t UTF-8, and change the declaration)"
        )
    data = document.encode("utf-8")
    marks: list[tuple[int, Kind, str, str, bool]] = []  # byte offset, kind, name, text, keep
    parser = expat.ParserCreate(encoding="UTF-8")
    in_cdata = [False]

    def mark(kind: Kind, name: str = "", text: str = "", keep: bool = False) -> None:
        marks.append((parser.CurrentByteIndex, kind, name, text, keep))

    parser.StartElementHandler = lambda name, attrs: mark("open", name, keep=_keep(name, attrs))
    parser.EndElementHandler = lambda name: mark("close", name)
    parser.CharacterDataHandler = lambda d: mark("raw" if in_cdata[0] else "text", text=d)

    def cdata(start: bool) -> None:
        if not start:
            in_cdata[0] = False
        mark("raw")
        in_cdata[0] = start

    parser.StartCdataSectionHandler = lambda: cdata(True)
    parser.EndCdataSectionHandler = lambda: cdata(False)
    parser.DefaultHandler = lambda d: mark("raw")
    for name in ("Comment", "ProcessingInstruction", "XmlDecl", "StartDoctypeDecl", "EndDoctypeDecl"):
        setattr(parser, f"{name}Handler", lambda *a: mark("raw"))
    try:
        parser.Parse(data, True)
    except expat.ExpatError as e:
        raise NMTError(f"the input is not well-formed XML: line {e.lineno}, column {e.offset + 1}: "
                       f"{expat.ErrorString(e.code)}") from None  # fmt: skip
    items: list[Item] = [Item("raw", data[: marks[0][0]].decode("utf-8"))] if marks else []
    ends = [m[0] for m in marks[1:]] + [len(data)]
    for (start, kind, name, text, keep), end in zip(marks, ends, strict=True):
        raw = data[start:end].decode("utf-8")
        if kind == "close" and not raw and items and items[-1].kind == "open":
            items[-1] = Item("void", items[-1].raw, name, keep=items[-1].keep)  # <x/>
        elif kind == "close" and not raw:
            items.append(Item("close", f"</{name}>", name))  # cannot happen; keeps nesting if it does
        elif kind == "raw" and items and items[-1].kind == "raw" and _open_cdata(items[-1].raw):
            items[-1] = Item("raw", items[-1].raw + raw)  # one CDATA section, one item
        else:
            items.append(Item(kind, raw, name, text, keep))
    return items


_DECLARED = re.compile(r"\s*<\?xml[^>]*?\bencoding\s*=\s*[\"']([^\"']+)[\"']")


def _open_cdata(raw: str) -> bool:
    """Whether `raw` begins a CDATA section that has not ended yet."""
    return raw.startswith("<![CDATA[") and not raw.endswith("]]>")


def escape_text(text: str) -> str:
    """Translated text as markup: &, < and > escaped (quotes need no escaping outside attributes)."""
    return html.escape(text, quote=False)

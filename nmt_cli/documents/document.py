"""An HTML or XML document translated whole: parse, cut into segments and sentences, translate
all sentences in one call (the batched search sorts them together), align those that carry
inline tags, and write the document back with every tag, comment and kept element in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from nmt_cli.documents.chunk import chunk_spans
from nmt_cli.documents.inline import Aligned, AlignedTranslator, for_real_text, place
from nmt_cli.documents.layout import Layout, layout
from nmt_cli.documents.lines import Measure, Splitting, Translator, copying_wordless, keeping_markers
from nmt_cli.documents.markup import READABLE, Item, escape_text, html_items, start_tag, xml_items
from nmt_cli.documents.segments import segments
from nmt_cli.documents.split import Span

if TYPE_CHECKING:
    from nmt_cli.documents.translate import DocumentConfig


def _pieces(lay: Layout, splitting: Splitting, measure: Measure) -> list[list[str]]:
    """For each unit, the source texts to translate (whitespace collapsed): its sentences (a
    unit is several where a tag straddled them; a model trained on sentences translates only
    the first of several given together), or its clause pieces when it is over-long and has
    no inner tags to place."""
    out = []
    tagged = set(lay.unit_of)
    for u, (s, e) in enumerate(lay.units):
        text = " ".join(lay.text[s:e].split())
        if u in tagged:
            out.append([" ".join(lay.text[a:b].split()) for a, b in lay.sentences_in(u)])
        elif measure([text])[0] <= splitting.max_tokens:
            out.append([text])
        else:
            out.append(
                [
                    text[a:b]
                    for a, b in chunk_spans(
                        text, lambda t: measure([t])[0], splitting.max_tokens, splitting.whole(text)
                    )
                ]
            )
    return out


def _joined(parts: Sequence[tuple[str, Aligned]]) -> tuple[str, Aligned]:
    """Sentences translated one by one, with their word alignments, as one unit's: the texts
    joined by spaces, each sentence's links moved past the words of those before it."""
    links: list[tuple[int, int]] = []
    n_src = n_tgt = 0
    for _, (a_src, a_tgt, sentence_links) in parts:
        links += [(s + n_src, t + n_tgt) for s, t in sentence_links]
        n_src, n_tgt = n_src + a_src, n_tgt + a_tgt
    return " ".join(text for text, _ in parts if text), (n_src, n_tgt, links)


def _gap_text(item: Item, a: int, b: int, start: int) -> str:
    """The part [a, b) of a text item (which starts at `start`) as it was written."""
    if item.raw == item.text:
        return item.raw[a - start : b - start]
    if (a, b) == (start, start + len(item.text)):
        return item.raw
    return escape_text(item.text[a - start : b - start])


def _unit_at(units: Sequence[Span], at: int) -> int:
    return next((u for u, (s, e) in enumerate(units) if s <= at < e), -1)


def render(lay: Layout, translated: Sequence[str]) -> str:
    """The segment with each unit replaced by its translated markup, everything outside the
    units (whitespace, outer tags) as it was."""
    inner = {i for el, u in zip(lay.elements, lay.unit_of) if u != -1 for i in (el.first, el.last)}
    out: list[str] = []
    done: set[int] = set()
    for i, (item, at) in enumerate(zip(lay.items, lay.positions)):
        if item.kind != "text":
            if i not in inner:
                out.append(item.raw)
            continue
        cuts = sorted(
            {at, at + len(item.text)}
            | {p for s, e in lay.units for p in (s, e) if at < p < at + len(item.text)}
        )
        for a, b in zip(cuts, cuts[1:]):
            u = _unit_at(lay.units, a)
            if u == -1:
                out.append(_gap_text(item, a, b, at))
            elif u not in done:
                out.append(translated[u])
                done.add(u)
    return "".join(out)


def _translate_attributes(items: list[Item], translator: Translator) -> list[Item]:
    """HTML start tags with their alt and title values translated (one translator call)."""
    where = [
        (i, k, v) for i, it in enumerate(items) for k, v in it.attrs if k in READABLE and v and v.strip()
    ]
    if not where:
        return items
    done = translator([" ".join(v.split()) for _, _, v in where])
    values: dict[int, dict[str, str]] = {}
    for (i, k, _), text in zip(where, done, strict=True):
        values.setdefault(i, {})[k] = text
    return [replace(it, raw=start_tag(it, values[i])) if i in values else it for i, it in enumerate(items)]


def translate_markup(
    document: str,
    cfg: DocumentConfig,
    translator: Translator,
    measure: Measure,
    aligned: AlignedTranslator | None,
) -> str:
    """Translate an HTML (`cfg.format == "html"`) or XML document; see the module docstring.
    Units with inline tags go to `aligned` (translation with alignment), all others to
    `translator`, each in one call."""
    splitting = cfg.splitting
    translator = keeping_markers(copying_wordless(translator))
    aligned = for_real_text(aligned) if aligned is not None else None
    is_html = cfg.format == "html"
    items = html_items(document) if is_html else xml_items(document)
    if is_html:
        items = _translate_attributes(items, translator)
    segs = segments(items, is_html)
    lays = [layout(seg.items, splitting) if seg.translate else None for seg in segs]
    pieces = [_pieces(lay, splitting, measure) if lay else [] for lay in lays]
    tagged = {(k, u) for k, lay in enumerate(lays) if lay for u in set(lay.unit_of) - {-1}}
    if aligned is None:
        tagged = set()
    plain = [
        p
        for k, unit_pieces in enumerate(pieces)
        for u, unit in enumerate(unit_pieces)
        if (k, u) not in tagged
        for p in unit
    ]
    done = iter(translator(plain) if plain else [])
    order = sorted(tagged)
    flat = aligned([p for k, u in order for p in pieces[k][u]]) if order and aligned else []
    parts = iter(flat)
    with_links = {(k, u): _joined([next(parts) for _ in pieces[k][u]]) for k, u in order}
    texts = [
        [
            with_links[(k, u)][0] if (k, u) in tagged else " ".join(next(done) for _ in unit)
            for u, unit in enumerate(unit_pieces)
        ]
        for k, unit_pieces in enumerate(pieces)
    ]
    links = {key: value[1] for key, value in with_links.items()}
    out = []
    for k, (seg, lay) in enumerate(zip(segs, lays)):
        if lay is None:
            out.append("".join(item.raw for item in seg.items))
            continue
        marked = [
            place(lay, u, texts[k][u], links[(k, u)]) if (k, u) in links else escape_text(texts[k][u])
            for u in range(len(lay.units))
        ]
        out.append(render(lay, marked))
    return "".join(out)

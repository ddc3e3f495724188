"""Documents with markup: tags, comments and kept elements survive translation, well-formed
and with the same nesting; inline tags follow the words they enclosed."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt_cli.documents.markup import html_items, xml_items
from nmt_cli.documents.translate import DocumentConfig, translate_with
from nmt_cli.errors import NMTError

HTML = DocumentConfig(format="html", lang="de")
XML = DocumentConfig(format="xml", lang="de")


def upper(sentences):
    return [s.upper() for s in sentences]


def reverse(sentences):
    return [" ".join(reversed(s.split())) for s in sentences]


def words(texts):
    return [len(t.split()) for t in texts]


def crossing(sources, targets):
    """Each sentence's words linked in reverse order, as a translator that reverses them."""
    out = []
    for s, t in zip(sources, targets):
        n = len(s.split())
        out.append((n, len(t.split()), [(i, n - 1 - i) for i in range(n)]))
    return out


def diagonal(sources, targets):
    return [
        (len(s.split()), len(t.split()), [(i, i) for i in range(len(s.split()))])
        for s, t in zip(sources, targets)
    ]


def mirrored(sources, targets):
    n = [len(s.split()) for s in sources]
    return [(k, k, [(i, k - 1 - i) for i in range(k)]) for k in n]


def shape(markup: str) -> list[tuple[str, str, str]]:
    """Every element as (tag, parent tag, attributes): what must survive translation (the
    values of alt and title are translated)."""
    root = ET.fromstring(f"<root>{markup}</root>")
    attrs = lambda e: repr(sorted((k, "*" if k in ("alt", "title") else v) for k, v in e.attrib.items()))  # noqa: E731
    return sorted((c.tag, p.tag, attrs(c)) for p in root.iter() for c in p)


def order(markup: str) -> list[str]:
    return [e.tag for e in ET.fromstring(f"<root>{markup}</root>").iter()]


WORD = st.sampled_from(["Hund", "Katze", "läuft", "z. B.", "am 3. Oktober", "Dr. Müller", "&amp;", "ja"])
END = st.sampled_from(["", ". ", "! ", "? ", " ", "\n", "... "])
TEXT = st.lists(st.tuples(WORD, END).map("".join), max_size=4).map(" ".join)
INLINE = ("b", "i", "em", "span", "strong")
BLOCKS = ("p", "div", "li", "td", "h1")


def element(children: list[str], tag: str) -> str:
    attrs = ' href="x.html"' if tag == "a" else ' class="c"' if tag == "span" else ""
    return f"<{tag}{attrs}>{' '.join(children)}</{tag}>"  # tags inside words: see the docs


FRAGMENT = st.recursive(
    st.one_of(
        TEXT,
        st.sampled_from(["<br/>", '<img src="a.png" alt="Bild"/>', "<!-- c -->", "<code>x &lt; y</code>"]),
    ),
    lambda inner: st.builds(element, st.lists(inner, max_size=4), st.sampled_from((*INLINE, "a", *BLOCKS))),
    max_leaves=12,
)
DOCUMENT = st.lists(FRAGMENT, min_size=1, max_size=4).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(
    doc=DOCUMENT, translator=st.sampled_from([upper, reverse]), aligner=st.sampled_from([diagonal, mirrored])
)
def test_any_well_formed_fragment_stays_well_formed_with_the_same_elements(doc, translator, aligner):
    out = translate_with(doc, HTML, translator, words, aligner)
    assert shape(out) == shape(doc)


@settings(max_examples=100, deadline=None)
@given(doc=DOCUMENT)
def test_xml_documents_keep_their_elements_and_nesting(doc):
    out = translate_with(f"<doc>{doc}</doc>", XML, reverse, words, mirrored)
    assert shape(out) == shape(f"<doc>{doc}</doc>")


@settings(max_examples=100, deadline=None)
@given(doc=DOCUMENT)
def test_with_an_identity_translator_the_text_comes_back(doc):
    out = translate_with(doc, HTML, lambda s: list(s), words, diagonal)
    text = lambda m: "".join("".join(ET.fromstring(f"<r>{m}</r>").itertext()).split())  # noqa: E731
    assert text(out) == text(doc)


def test_inline_tags_follow_their_words_and_nest():
    doc = "<p>Ein <b>großer <i>Hund</i></b> läuft <a href='x'>schnell</a>.</p>"
    out = translate_with(doc, HTML, reverse, words, mirrored)
    assert out == "<p><a href='x'>schnell</a>. läuft <b><i>Hund</i> großer</b> Ein</p>"


def test_void_elements_follow_their_source_neighbour():
    out = translate_with("<p>eins zwei<br/> drei</p>", HTML, upper, words, diagonal)
    assert out == "<p>EINS ZWEI<br/> DREI</p>"


@pytest.mark.parametrize(
    "doc, want",
    [
        ('<p>eins <span translate="no">X</span> zwei</p>', '<p>EINS <span translate="no">X</span> ZWEI</p>'),
        ("<p>eins:<code>x</code> zwei</p>", "<p>EINS:<code>x</code> ZWEI</p>"),
        ('<p>eins <img src="a"> zwei</p>', '<p>EINS <img src="a"> ZWEI</p>'),
        ("<p>eins<br>zwei</p>", "<p>EINS<br>ZWEI</p>"),  # glued as in the source; the <br> parts them
    ],
)
def test_a_void_or_kept_element_keeps_the_spaces_it_had_between_words(doc, want):
    assert translate_with(doc, HTML, upper, words, diagonal) == want


def test_script_style_code_and_translate_no_stay_verbatim():
    doc = (
        "<script>var a = '<b>Hund</b>';</script><style>p{}</style><p>Ein <code>Hund</code> hier.</p>"
        '<div translate="no">Ein Hund.</div><pre>Ein  Hund.</pre>'
    )
    out = translate_with(doc, HTML, upper, words, diagonal)
    assert out.startswith(
        "<script>var a = '<b>Hund</b>';</script><style>p{}</style><p>EIN <code>Hund</code> HIER.</p>"
    )
    assert out.endswith('<div translate="no">Ein Hund.</div><pre>Ein  Hund.</pre>')


def test_comments_entities_and_attributes_never_reach_the_translator():
    seen: list[str] = []
    doc = '<p title="Titel">Fisch &amp; Chips<!-- geheim --> sind <b class="x">gut</b>.</p>'
    out = translate_with(doc, HTML, lambda s: seen.extend(s) or list(s), words, diagonal)
    assert seen == ["Titel", "Fisch & Chips sind gut."]  # the title attribute is translated on its own
    assert out == '<p title="Titel">Fisch &amp; Chips<!-- geheim --> sind <b class="x">gut</b>.</p>'


def test_block_elements_are_translated_as_units_of_their_own():
    seen: list[str] = []
    translate_with(
        "<ul><li>Eins</li><li>Zwei</li></ul><p>Drei. Vier.</p>",
        HTML,
        lambda s: seen.extend(s) or list(s),
        words,
    )
    assert seen == ["Eins", "Zwei", "Drei.", "Vier."]


def test_an_element_across_sentences_is_placed_over_their_translations_made_one_by_one():
    """A model trained on sentences translates only the first of several given together, so
    the sentences an element straddles are translated one by one and their alignments joined."""
    seen: list[str] = []
    doc = "<p>Erster <b>Satz. Zweiter</b> Satz.</p>"
    out = translate_with(doc, HTML, lambda s: seen.extend(s) or list(s), words, diagonal)
    assert seen == ["Erster Satz.", "Zweiter Satz."] and out == doc
    doc = "<p>Eins. <b>Zwei. Drei</b> vier. <i>Fünf. Sechs</i> sieben.</p>"
    out = translate_with(doc, HTML, upper, words, diagonal)
    assert out == "<p>EINS. <b>ZWEI. DREI</b> VIER. <i>FÜNF. SECHS</i> SIEBEN.</p>"
    reversed_words = translate_with(  # each sentence's links count from its own first word
        doc, HTML, lambda s: [" ".join(x.split()[::-1]) for x in s], words, crossing
    )
    assert reversed_words == "<p>Eins. <b>Zwei. vier. Drei</b> <i>Fünf. sieben. Sechs</i></p>"


def test_an_element_around_whole_sentences_stays_where_it_was():
    seen: list[str] = []
    doc = "<p><b>Eins.</b> Zwei.</p>"
    out = translate_with(doc, HTML, lambda s: seen.extend(s) or [x.upper() for x in s], words)
    assert seen == ["Eins.", "Zwei."] and out == "<p><b>EINS.</b> ZWEI.</p>"


def test_xml_items_give_back_the_document_exactly():
    doc = '<?xml version="1.0"?>\n<!DOCTYPE d>\n<d a="1"><p>Hi &amp; <b>x</b><br/><![CDATA[<y>]]></p></d>\n'
    assert "".join(i.raw for i in xml_items(doc)) == doc
    out = translate_with(doc, XML, upper, words, diagonal)
    assert out.endswith("<![CDATA[<y>]]></p></d>\n") and "HI &amp; <b>X</b><br/>" in out


@pytest.mark.parametrize(
    "doc",
    [
        "<P>Ein Hund <B>läuft</B>.</P >",  # end tags as written, not lowercased
        "<![CDATA[ Hund ]]><p>Der Hund.</p>",  # a marked section keeps both closing brackets
        "<![if !IE]><p>Hund</p><![endif]>",
        "<!DOCTYPE html><!-- c --><?pi x?><p>a &amp; b</p>",  # (a char ref comes back as its character)
    ],
)
def test_html_items_give_back_the_document_exactly(doc):
    assert "".join(i.raw for i in html_items(doc)) == doc
    out = translate_with(doc, HTML, lambda s: list(s), words, diagonal)
    assert out == doc  # an identity translation changes nothing


def test_broken_xml_is_one_line_error():
    with pytest.raises(NMTError, match="not well-formed XML: line 1"):
        xml_items("<a><b></a>")


def test_lenient_html_is_written_back_even_when_unbalanced():
    doc = "<p>Eins <b>zwei<p>drei</i> vier"
    out = translate_with(doc, HTML, lambda s: list(s), words, diagonal)
    assert [i.kind for i in html_items(out)].count("open") == [i.kind for i in html_items(doc)].count("open")


def test_real_model_markup_document(tiny_model_dir):
    from nmt_cli.config import DecodeConfig
    from nmt_cli.documents import document_config, translate_document
    from nmt_cli.models.checkpoint import load_model

    loaded = load_model(tiny_model_dir)
    doc = "<html><body><p>ein <b>hund</b> läuft.<br/> eine <i>katze</i>!</p><!-- x --></body></html>"
    cfg = document_config(loaded.config, format="html")
    out = translate_document(loaded.model, loaded.tokenizer, doc, cfg, DecodeConfig(beam_size=2))
    assert shape(out) == shape(doc)


def test_cli_translates_an_html_file_by_its_extension(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from nmt_cli.cli.app import app

    page = tmp_path / "page.html"
    doc = "<!DOCTYPE html>\n<html><body><p>ein <b>hund</b> läuft.</p>\n<pre>ein hund</pre></body></html>\n"
    page.write_text(doc, encoding="utf-8")
    args = ["translate", "-m", str(tiny_model_dir), "-i", str(page), "--format", "auto", "-k", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.startswith("<!DOCTYPE html>\n<html><body><p>")
        and "<pre>ein hund</pre>" in result.stdout
    )
    body = result.stdout.split("\n", 1)[1]
    assert shape(body) == shape(doc.split("\n", 1)[1])


@pytest.mark.parametrize("ending", ["", "\n", "\r\n"])
def test_a_document_ends_and_breaks_its_lines_as_its_input_did(tiny_model_dir, tmp_path, ending):
    """Markup is read as the whole text: CRLF line ends kept, no newline added at the end."""
    from typer.testing import CliRunner

    from nmt_cli.cli.app import app

    page = tmp_path / "page.html"
    page.write_bytes(f"<p>ein hund</p>\r\n<pre>x</pre>{ending}".encode())
    result = CliRunner().invoke(
        app, ["translate", "-m", str(tiny_model_dir), "-i", str(page), "--format", "html"]
    )
    assert result.exit_code == 0, result.output
    out = result.stdout_bytes.decode()  # (`stdout` would turn CRLF into LF)
    assert "</p>\r\n<pre>x</pre>" in out and out.endswith(f"<pre>x</pre>{ending}")


def test_alt_and_title_are_translated_other_attributes_kept():
    doc = '<p title="Ein  Titel" hidden>Ein <IMG SRC="a.png" alt="Ein &quot;Hund&quot;"/> Hund.</p>'
    out = translate_with(doc, HTML, upper, words, diagonal)
    assert out == '<p title="EIN TITEL" hidden>EIN <IMG src="a.png" alt="EIN &quot;HUND&quot;"/> HUND.</p>'


def test_a_cdata_section_in_running_text_is_one_item_with_its_spacing_kept():
    doc = "<doc><p>Wert: <![CDATA[a < b]]> ist wahr.</p><p>Code <![CDATA[x&&y]]>läuft.</p></doc>"
    assert [i.raw for i in xml_items(doc) if i.raw.startswith("<![CDATA[")] == [
        "<![CDATA[a < b]]>",
        "<![CDATA[x&&y]]>",
    ]
    assert translate_with(doc, XML, upper, words, diagonal) == (
        "<doc><p>WERT: <![CDATA[a < b]]> IST WAHR.</p><p>CODE <![CDATA[x&&y]]>LÄUFT.</p></doc>"
    )


def test_an_xml_document_that_declares_another_encoding_is_refused_in_one_line():
    """nmt reads and writes UTF-8: a document declared ISO-8859-1 would be decoded wrongly."""
    with pytest.raises(NMTError, match="declares encoding ISO-8859-1.*iconv"):
        xml_items('<?xml version="1.0" encoding="ISO-8859-1"?>\n<d>Bär</d>')
    assert xml_items("<?xml version='1.0' encoding='UTF-8'?><d>Bär</d>")[-1].raw == "</d>"


@pytest.mark.parametrize("tail", ['<div class="x\n', "<!-- offen\n", "<b"])
def test_an_unfinished_tag_or_comment_at_the_end_is_kept_and_not_translated(tail):
    """html.parser's close() would hand the leftover to the model as text."""
    doc = "<p>Ein Hund.</p>\n" + tail
    items = html_items(doc)
    assert "".join(i.raw for i in items) == doc
    assert items[-1].kind == "raw" and items[-1].raw == tail
    assert translate_with(doc, HTML, upper, words) == "<p>EIN HUND.</p>\n" + tail


def test_script_and_math_inside_a_sentence_are_carried_like_void_elements():
    doc = "<p>Die Formel <math><mi>x</mi></math> gilt. Ein Hund <script>var x;</script> läuft.</p>"
    out = translate_with(doc, HTML, upper, words, crossing)
    assert out.count("<math><mi>x</mi></math>") == 1 and out.count("<script>var x;</script>") == 1
    assert "DIE FORMEL" in out and "GILT." in out and "EIN HUND" in out and "LÄUFT." in out


def test_tagged_units_follow_the_plain_rules_for_wordless_text_and_list_markers():
    """A tagged price or a row of links went to the model and came back empty (<b></b>); a
    tagged list item lost its marker. Both now behave as in plain text."""
    doc = (
        "<table><tr><td><b>49,90</b> €</td></tr></table>"
        "<ol><li><b>2.</b> schritt eins</li><li>3. <i>schritt</i> zwei</li></ol>"
    )
    out = translate_with(doc, HTML, reverse, words, crossing)  # a translator that reorders
    assert out == (
        "<table><tr><td><b>49,90</b> €</td></tr></table>"
        "<ol><li><b>2.</b> eins schritt</li><li>3. zwei <i>schritt</i></li></ol>"
    )

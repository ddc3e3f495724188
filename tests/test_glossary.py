"""Glossaries and protected spans: what they match in a sentence, that bad files fail in one
line, and that `nmt translate --glossary` puts the target terms into its output."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from nmt_cli.cli.app import app
from nmt_cli.decoding.glossary import Glossary, read_glossary
from nmt_cli.decoding.terms import Protector, TermFinder, restore
from nmt_cli.errors import NMTError

runner = CliRunner()


def targets(glossary: Glossary, line: str) -> list[str]:
    return [m.target for m in glossary.matches(line)]


def test_terms_match_whole_words_case_insensitively_but_for_a_capital():
    g = Glossary.from_pairs([("Morgen", "morning"), ("hund", "dog"), ("new  york", "New York")])
    assert targets(g, "Der HUND kam am Morgen nach New York.") == ["dog", "morning", "New York"]
    assert targets(g, "Bis morgen, Hundefreund!") == []  # morgen is not Morgen; no part words


def test_the_longest_overlapping_term_wins_and_star_covers_inflection():
    g = Glossary.from_pairs([("New York", "New York"), ("New York City", "NYC"), ("Bundestag*", "Bundestag")])
    assert targets(g, "in New York City und New York") == ["NYC", "New York"]
    assert targets(g, "Sitzung des Bundestages") == ["Bundestag"]


def test_a_malformed_glossary_line_is_one_clear_error(tmp_path):
    path = tmp_path / "g.tsv"
    path.write_text("# comment\n\nHund\tdog\nKatze cat\n", encoding="utf-8")
    with pytest.raises(NMTError, match=r"line 4: expected 'source term<TAB>target term'"):
        read_glossary(path)


def test_a_glossary_term_mapped_to_itself_is_kept_and_wins_over_protection():
    finder = TermFinder(Glossary.from_pairs([("Windows 11", "Windows 11")]), Protector.build())
    assert finder.targets("Windows 11 kam 2021 heraus.") == ["Windows 11", "2021"]


def test_a_token_of_80_characters_without_a_space_is_kept_whole_and_an_e_mail_address_found():
    """Base64, hashes and minified code are data, not words; German compounds stay shorter."""
    blob = "QUJD" * 20
    line = f"Der Schlüssel {blob} und Donaudampfschifffahrtsgesellschaftskapitän, an a.b+c@x.co.uk."
    found = [line[s:e] for s, e in Protector.build().spans(line)]
    assert found == [blob, "a.b+c@x.co.uk"]
    protector = Protector.build()
    assert protector.spans("a" * 79) == [] and protector.spans("a" * 100_000) == [(0, 100_000)]


def test_protected_spans_leave_sentence_punctuation_outside():
    p = Protector.build(["Acme\\w+"])
    line = "Siehe https://example.org/a?b=1. Mail an a.b@c.de, Pfad /usr/bin/nmt und `ls -l`, AcmeCorp 3,5."
    found = [line[s:e] for s, e in p.spans(line)]
    assert found == ["https://example.org/a?b=1", "a.b@c.de", "/usr/bin/nmt", "`ls -l`", "AcmeCorp", "3,5"]


@pytest.mark.parametrize("regex", ["(unclosed", "a{99999999999}"])
def test_an_invalid_keep_regex_is_one_clear_error(regex):
    with pytest.raises(NMTError, match="--keep"):
        Protector.build([regex])


def test_restore_puts_back_what_the_vocabulary_could_not_spell():
    assert restore("see  ⁇  now", ["{~}"], [" ⁇ "]) == "see {~} now"
    assert restore("keep 42", ["42"], ["42"]) == "keep 42"


URLS = st.builds(
    "https://{}.{}/{}".format,
    st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12),
    st.sampled_from(["com", "org", "de"]),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789_-=&?/", max_size=15),
)
NUMBERS = st.builds(
    lambda a, sep, b: f"{a}{sep}{b}" if sep else str(a),
    st.integers(0, 10**9),
    st.sampled_from(["", ".", ",", ":"]),
    st.integers(0, 999),
)


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from nmt_cli.config import RuntimeConfig
    from nmt_cli.decoding.session import load_for_decoding

    return load_for_decoding(tiny_model_dir, RuntimeConfig(threads=1))


@settings(max_examples=20, deadline=None)
@given(span=st.one_of(URLS, NUMBERS), beam=st.sampled_from([1, 3]))
def test_protected_spans_come_out_byte_for_byte(tiny, span, beam):
    """Even through a toy model whose vocabulary has no digits: the span is in the output."""
    from nmt_cli.config import DecodeConfig
    from nmt_cli.decoding.translate import translate

    line = f"ein hund {span} läuft"
    out = translate(tiny.model, tiny.tokenizer, [line], DecodeConfig(beam_size=beam, protect=True))
    # a URL's trailing "?" (or other sentence punctuation) is the sentence's, not the URL's
    assert span.rstrip(".,;:!?)]}'\"") in out[0].text


@settings(max_examples=20, deadline=None)
@given(span=st.one_of(URLS, NUMBERS), before=st.sampled_from(["", " ", "(", "- "]))
def test_a_line_that_is_only_protected_spans_is_copied_as_it_is(tiny, span, before):
    """Nothing is left to translate: a search would write a sentence of its own before the span."""
    from nmt_cli.config import DecodeConfig
    from nmt_cli.decoding.translate import translate

    lines = [before + span, "ein hund läuft"]
    cfg = DecodeConfig(beam_size=2, protect=True, keep=("^ein hund läuft$",))
    out = translate(tiny.model, tiny.tokenizer, lines, cfg)
    assert [t.text for t in out] == lines


def test_translate_with_a_glossary_contains_the_target_term(toy_model_dir, tmp_path):
    glossary = tmp_path / "g.tsv"
    glossary.write_text("hund\tpuppy\n", encoding="utf-8")
    src = tmp_path / "in.de"
    src.write_text("ein hund läuft im park\nein mann schläft\n", encoding="utf-8")
    args = ["translate", "-m", str(toy_model_dir), "-i", str(src), "--threads", "1", "--split", "none"]
    plain = runner.invoke(app, args)
    glossed = runner.invoke(app, [*args, "--glossary", str(glossary)])
    assert plain.exit_code == 0 and glossed.exit_code == 0, glossed.output
    assert "puppy" not in plain.stdout
    first, second = glossed.stdout.splitlines()
    assert first.count("puppy") == 1 and "park" in first
    assert second == plain.stdout.splitlines()[1]


def test_a_missing_glossary_file_is_one_line(tiny_model_dir, tmp_path):
    src = tmp_path / "in.de"
    src.write_text("ein hund\n", encoding="utf-8")
    result = runner.invoke(
        app,
        ["translate", "-m", str(tiny_model_dir), "-i", str(src), "--glossary", str(tmp_path / "none.tsv")],
    )
    assert result.exit_code == 1
    assert "none.tsv" in result.output and "Traceback" not in result.output


def test_a_line_whose_constrained_search_ends_nowhere_is_translated_without_spans(tiny, monkeypatch, caplog):
    """Beam search under spans that leave no way to end finishes no hypothesis: the line is
    translated again without them, with a warning, never left empty (the other line untouched)."""
    from nmt_cli.config import DecodeConfig
    from nmt_cli.decoding import search, translate

    real = search.beam_search

    def nothing_under_constraints(model, src, src_mask, cfg, constraints=None):
        found = real(model, src, src_mask, cfg, constraints)
        return found if constraints is None else [[] for _ in found]

    monkeypatch.setattr(search, "beam_search", nothing_under_constraints)
    lines = ["ein hund 25 läuft", "ein hund läuft"]
    cfg = DecodeConfig(beam_size=3, protect=True)
    out = translate.translate(tiny.model, tiny.tokenizer, lines, cfg)
    assert all(t.text and t.hypotheses for t in out)
    assert out[0].terms == [] and "translated without them" in caplog.text
    plain = translate.translate(tiny.model, tiny.tokenizer, lines, DecodeConfig(beam_size=3, protect=False))
    assert [t.text for t in out] == [t.text for t in plain]


def test_a_term_given_twice_with_different_targets_is_warned_about_and_the_later_wins(tmp_path, caplog):
    path = tmp_path / "g.tsv"
    path.write_text("Hund\tdog\nKatze\tcat\nHund \thound\nKatze\tcat\n", encoding="utf-8")
    glossary = read_glossary(path)
    assert targets(glossary, "Der Hund und die Katze") == ["hound", "cat"]
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and "line 3: 'Hund' was given on line 1" in warned[0]


def test_a_capitalised_term_and_its_lower_case_twin_are_two_entries(tmp_path, caplog):
    """German nouns and other words differ by case (Morgen: morning, morgen: tomorrow); the
    capitalised entry wins where the text has a capital, as at the start of a sentence."""
    path = tmp_path / "g.tsv"
    path.write_text("Morgen\tmorning\nmorgen\ttomorrow\nEssen\tfood\nessen\teat\n", encoding="utf-8")
    g = read_glossary(path)
    assert targets(g, "Guten Morgen, bis morgen!") == ["morning", "tomorrow"]
    assert targets(g, "Das Essen ist gut, wir essen.") == ["food", "eat"]
    assert targets(Glossary.from_pairs([("morgen", "tomorrow")]), "Morgen gehe ich.") == ["tomorrow"]
    assert targets(Glossary.from_pairs([("bundestag*", "B"), ("Bundestag*", "C")]), "Bundestags") == ["C"]
    assert caplog.records == []  # not a duplicate


def test_a_glossary_with_a_byte_order_mark_keeps_its_first_term(tmp_path):
    path = tmp_path / "g.tsv"
    path.write_bytes("\ufeffBahnhof\tterminal\r\nHund\thound\r\n".encode())
    assert targets(read_glossary(path), "Der Bahnhof und der Hund") == ["terminal", "hound"]


def test_a_glossary_term_inside_a_url_or_path_is_left_to_the_span():
    """`Datei` in /usr/share/Datei/readme.txt is part of a path, not a word to translate; a term
    that holds a number (3,5 Prozent) still wins over the number."""
    finder = TermFinder(
        Glossary.from_pairs([("Datei", "file"), ("3,5 Prozent", "3.5 percent")]), Protector.build()
    )
    line = "Die Datei /usr/share/Datei/readme.txt hat 3,5 Prozent."
    path = "/usr/share/Datei/readme.txt"
    assert [(line[s:e], t) for s, e, t in finder.found(line)] == [
        ("Datei", "file"), (path, path), ("3,5 Prozent", "3.5 percent")
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("line", "span"),
    [
        ("Die Datei liegt in C:\\Temp\\daten.txt.", "C:\\Temp\\daten.txt"),
        ("Öffne den Ordner (C:\\Temp) jetzt.", "C:\\Temp"),
        ("Besuchen Sie „https://example.com/info“ noch heute.", "https://example.com/info"),
        ("Siehe »https://a.de/x«.", "https://a.de/x"),
        (
            "Siehe https://de.wikipedia.org/wiki/Hund_(Haustier).",
            "https://de.wikipedia.org/wiki/Hund_(Haustier)",
        ),
    ],
)
def test_a_link_or_path_ends_before_the_punctuation_and_quotes_around_it(line, span):
    """Windows paths trim as URLs and Unix paths do; typographic quotes close a URL."""
    assert [line[s:e] for s, e in Protector.build().spans(line)] == [span]


def test_ascii_characters_the_vocabulary_lacks_and_folded_digits_are_unknown():
    """`|`, `^`, `{` are ⁇ to the shipped model; ², ₂ and ½ would be read as other characters
    (NFKC): words holding them are copied, on ASCII lines too."""
    from pathlib import Path

    from nmt_cli.data.tokenizer import Tokenizer

    tokenizer = Tokenizer(Path(__file__).resolve().parent.parent / "models" / "de-en" / "spm.model")
    assert tokenizer.src_unknown("Ja | Nein, a^b, {Enter}") == {"|", "^", "{", "}"}
    assert tokenizer.src_unknown("80 m², H₂O, ½ Million") == {"²", "₂", "½"}
    assert tokenizer.src_unknown("Ein Hund läuft… „gut“ – 3,5 km.") == set()


def test_a_line_that_finds_no_hypothesis_even_unconstrained_is_an_error(tiny, monkeypatch):
    """Only scores that are not numbers (a diverged or damaged model) leave a plain search with
    nothing: an error, not an empty line and a warning about glossary terms there were none of."""
    from nmt_cli.config import DecodeConfig
    from nmt_cli.decoding import search, translate

    monkeypatch.setattr(search, "beam_search", lambda model, src, mask, cfg, cons=None: [[] for _ in src])
    with pytest.raises(NMTError, match="no translation for 2 line"):
        translate.translate(tiny.model, tiny.tokenizer, ["ein hund", "eine katze"], DecodeConfig(beam_size=2))


@pytest.mark.parametrize(
    ("line", "spans"),
    [
        ("Das Kabel ist 3,5mm dick, der Takt 2.5GHz.", ["3,5mm", "2.5GHz"]),  # a whole number or none
        ("Es kostet $25, $4.99 oder 25€.", ["$25", "$4.99", "25€"]),
        ("Es sind -5 und +3 Grad, 2-3 Tage, 11% mehr.", ["-5", "+3", "2-3", "11"]),
        (
            "Folgen Sie #Sommerfest2024 und @MaxMuster; die Farbe ist #ff0000.",
            ["#Sommerfest2024", "@MaxMuster", "#ff0000"],
        ),
        ("Bearbeiten Sie config.yaml und archive.tar.gz.", ["config.yaml", "archive.tar.gz"]),
        ("Das Update v2.0.1-beta läuft auf 192.168.0.1.", ["v2.0.1-beta", "192.168.0.1"]),
        ("In den 1990er Jahren war es 5fach teurer.", []),  # German suffixes are words, not units
    ],
)
def test_technical_tokens_are_protected_whole(line, spans):
    """Units, prices, signs, hashtags, mentions, file names and versions came out mangled
    (3,5mm -> 3.5, $25 -> $2 3.5 25, config.yaml -> Datylam); a number is now protected whole
    or not at all."""
    assert [line[s:e] for s, e in Protector.build().spans(line)] == spans


def test_a_glossary_term_that_starts_the_translation_gets_the_sentence_capital():
    """`Hund -> hound` forced at the start of `Hund ist ein Tier.` was written `hound dog is ...`."""
    from nmt_cli.decoding.translate import capitalised

    assert capitalised("Hund ist ein Tier.", "hound is an animal.", ["hound"]) == "Hound is an animal."
    assert capitalised("Der Hund bellt.", "the hound barks.", ["hound"]) == "the hound barks."  # not the term
    assert capitalised("hund ist ein Tier.", "hound is an animal.", ["hound"]) == "hound is an animal."
    assert capitalised("Siehe https://x.de", "https://x.de see", []) == "https://x.de see"  # spans never

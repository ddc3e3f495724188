"""Placeholders for protected spans (decoding/placeholders.py): what is masked, that the spans
come back exactly where the placeholders were, and that none is ever lost."""

import re

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt_cli.decoding.constraints import Constraints
from nmt_cli.decoding.placeholders import NAMES, copied_whole, mask, plan, unmask
from nmt_cli.decoding.terms import Protector

SPANS = st.one_of(
    st.builds(
        "https://{}.de/{}".format,
        st.text("abcxyz09-", min_size=1, max_size=8),
        st.text("ab/_?=&", max_size=8),
    ),
    st.builds("/etc/{}.conf".format, st.text("abcxyz_", min_size=1, max_size=8)),
    st.builds("C:\\Programme\\{}.exe".format, st.text("abcxyz", min_size=1, max_size=8)),
    st.sampled_from(["max@example.de", "192.168.0.1", "123456-78", "`x = 1`"]),
)
WORDS = st.sampled_from(["ein", "Hund", "läuft", "in", "Berlin", "nach", "Paris", "und", "3", "12:30"])


def found(line: str) -> list[tuple[int, int, str]]:
    return [(s, e, line[s:e]) for s, e in Protector.build().spans(line)]


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(st.one_of(WORDS, SPANS), min_size=1, max_size=10))
def test_spans_come_back_exactly_where_their_placeholders_were(parts):
    line = " ".join(parts) + "."
    masked = mask(line, found(line))
    if masked is None:
        return
    for name, span in masked.originals.items():
        assert name in NAMES and name.casefold() not in line.casefold() and span not in masked.line
    for start, end, target in masked.found:  # the masked line's terms sit where it says
        assert masked.line[start:end] == target
    assert unmask(masked.line, masked.originals) == line  # a translation that copies every word


def test_short_numbers_stay_spans_and_long_ones_and_paths_are_masked():
    line = "Um 12:30 sind 3 Hunde in /etc/hosts und 192.168.0.1 gewesen."
    masked = mask(line, found(line))
    assert masked is not None and set(masked.originals.values()) == {"/etc/hosts", "192.168.0.1"}
    assert "12:30" in masked.line and " 3 " in masked.line
    assert mask("Um 12:30 kamen 3 Hunde.", found("Um 12:30 kamen 3 Hunde.")) is None


def test_a_placeholder_written_in_lower_case_twice_or_not_at_all_gives_its_span_once():
    originals = {"Berlin": "C:\\x\\y.exe", "Paris": "/etc/hosts"}
    assert unmask("see berlin and BERLIN.", originals) == "see C:\\x\\y.exe and. /etc/hosts"
    assert unmask("in Londont", {"London": "/tmp"}) == "in /tmp"  # pieces glued on by the model
    assert unmask("New-Berlin", {"Berlin": "/tmp"}) == "New-/tmp"


def test_a_line_of_spans_only_is_copied_and_the_others_get_placeholders():
    assert copied_whole("(https://x.de)", found("(https://x.de)"))
    assert not copied_whole("Siehe https://x.de", found("Siehe https://x.de"))
    lines = ["Siehe https://x.de jetzt", "https://x.de"]
    whole, masks = plan(lines, [found(line) for line in lines])
    assert whole == [False, True] and masks[0] is not None and masks[1] is None


def test_every_hypothesis_of_an_n_best_list_gets_its_spans_back(tiny_model_dir):
    """Placeholders serve n-best lists too: each hypothesis is written with the URL, never the
    placeholder, and the first is the line's translation."""
    from nmt_cli.config import DecodeConfig
    from nmt_cli.decoding.translate import translate
    from nmt_cli.models.checkpoint import load_model

    m = load_model(tiny_model_dir)
    line = "ein hund läuft zu https://x.de/a?b=1 ."
    [tr] = translate(m.model, m.tokenizer, [line], DecodeConfig(beam_size=4, nbest=3, protect=True))
    assert len(tr.alternatives) == len(tr.hypotheses) == 3 and tr.alternatives[0] == tr.text
    assert all("https://x.de/a?b=1" in text for text in tr.alternatives)
    assert not any(name in text for text in tr.alternatives for name in NAMES)


def test_beam_search_places_a_term_where_the_model_attends_to_its_source():
    """Rows in the middle of a constraint or attending to an unmet term's source subwords may
    only produce constraint tokens (Constraints.beam_force)."""
    cons = Constraints.build(
        [[[7, 8]], [[9]], [[5]]], torch.device("cpu"), spans=[[(2, 4)], [(0, 1)], [(3, 4)]]
    )
    cons = cons.advance(torch.tensor([7, 1, 1]))  # row 0 has begun its term
    attention = torch.tensor([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0]])
    assert cons.beam_force(attention).tolist() == [True, False, True]
    assert cons.beam_force(None).tolist() == [True, False, False]


def test_words_the_source_vocabulary_cannot_spell_are_copied_whole():
    """SentencePiece reads 🍕 or привет as ⁇ and the model drops them: such words are spans to
    copy, without the quotes and punctuation around them, unless a term holds them already."""
    from pathlib import Path

    from nmt_cli.data.tokenizer import Tokenizer
    from nmt_cli.decoding.placeholders import unknown_spans

    tokenizer = Tokenizer(Path(__file__).resolve().parent.parent / "models" / "de-en" / "spm.model")
    line = "Er sagt „привет“ zu Błędów, isst 🍕. Ein Hund läuft."
    unknown = tokenizer.src_unknown(line)
    assert {"🍕", "п", "ł"} <= unknown and not {"ä", "„", "E"} & unknown
    spans = unknown_spans(line, unknown, [])
    assert [target for _, _, target in spans] == ["привет", "Błędów", "🍕"]
    assert all(line[s:e] == target for s, e, target in spans)
    taken = [(spans[0][0], spans[0][1], "hello")]
    assert [t for _, _, t in unknown_spans(line, unknown, taken)] == ["hello", "Błędów", "🍕"]
    # unknown brackets stay with their word; a word takes the place of the numbers inside it
    line = "Drücke {Enter}, dann ist es 4×5 m² groß."
    numbers = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\d+", line)]
    spans = unknown_spans(line, tokenizer.src_unknown(line), numbers)
    assert [t for _, _, t in spans] == ["{Enter}", "4×5", "m²"]
    assert tokenizer.src_unknown("Ein Hund läuft.") == set()


def test_unknown_words_replace_the_spans_inside_them_on_a_long_line():
    """Each word's overlaps are found by bisection (a line of 64,000 emoji words and numbers
    took minutes when every word was checked against every span kept so far; speed is not
    timed here); each word still replaces exactly the numbers inside it."""
    from nmt_cli.decoding.placeholders import unknown_spans

    line = " ".join(["🍕 12 4×5"] * 64_000)
    numbers = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\d+", line)]
    spans = unknown_spans(line, {"🍕", "×"}, numbers)
    assert len(spans) == 3 * 64_000 and [t for _, _, t in spans[:3]] == ["🍕", "12", "4×5"]

"""Confidence: token, word and sentence scores from the model's probabilities; JSON lines; and
colours that appear only on a terminal without NO_COLOR."""

import io
import json
import math

from typer.testing import CliRunner

from nmt_cli.cli.app import app
from nmt_cli.cli.confidence_view import coloured
from nmt_cli.cli.console import colour_wanted
from nmt_cli.decoding.confidence import Confidence, Word, sentence_score, token_log_probs, words

runner = CliRunner()


def test_pieces_merge_into_words_scored_by_their_product():
    merged = words(
        ["▁The", "▁Bundes", "tag", "▁votes", "."], [math.log(0.9), math.log(0.5), math.log(0.4), 0.0, 0.0]
    )
    assert [w.text for w in merged] == ["The", "Bundestag", "votes."]
    assert [round(w.score, 3) for w in merged] == [0.9, 0.2, 1.0]


def test_the_sentence_score_is_the_geometric_mean_probability():
    assert abs(sentence_score([math.log(0.5), math.log(0.125)]) - 0.25) < 1e-9
    assert sentence_score([]) == 0.0


def test_the_model_is_more_confident_of_the_right_translation(trained):
    model, pairs = trained
    right = token_log_probs(model, [p[0] for p in pairs[:20]], [p[1] for p in pairs[:20]])
    wrong = token_log_probs(model, [p[0] for p in pairs[:20]], [p[0] for p in pairs[:20]])
    better = sum(sentence_score(r) > sentence_score(w) for r, w in zip(right, wrong) if r and w)
    assert better >= 18


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_without_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert colour_wanted(Terminal()) and not colour_wanted(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not colour_wanted(Terminal())
    monkeypatch.setenv("NO_COLOR", "")  # set but empty: colours stay (no-color.org)
    assert colour_wanted(Terminal())


def test_low_confidence_words_are_styled_and_the_text_is_unchanged():
    conf = Confidence(0.5, [Word("A", 0.9), Word("federal", 0.1), Word("law.", 0.4)])
    text = coloured("A federal law.", conf)
    assert text.plain == "A federal law."
    styled = {text.plain[s.start : s.end]: str(s.style) for s in text.spans}
    assert styled == {"federal": "bold red", "law.": "yellow"}


def test_piped_output_is_plain_text_and_json_lines_carry_scores(tiny_model_dir, tmp_path):
    src = tmp_path / "in.de"
    src.write_text("ein hund läuft\n\nein mann schläft im park\n", encoding="utf-8")
    args = ["translate", "-m", str(tiny_model_dir), "-i", str(src), "--threads", "1"]
    plain = runner.invoke(app, args, env={"NO_COLOR": ""})
    assert plain.exit_code == 0 and "\x1b[" not in plain.stdout
    as_json = runner.invoke(app, [*args, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [r["translation"] for r in rows] == plain.stdout.splitlines()
    assert rows[1]["words"] == [] and rows[1]["translation"] == ""
    for r in (rows[0], rows[2]):
        assert 0 < r["score"] <= 1 and all(0 <= w["score"] <= 1 for w in r["words"])
        assert " ".join(w["word"] for w in r["words"]) == r["translation"]


def test_scored_words_are_named_as_the_translation_writes_them():
    """A copied 😀 is <unk> to SentencePiece; the words shown are the translation's own."""
    from nmt_cli.decoding.confidence import Word, as_written

    scored = [Word("I", 0.9), Word("love", 0.8), Word("<unk>", 0.0)]
    assert [w.text for w in as_written(scored, "I love 😀")] == ["I", "love", "😀"]
    assert [w.score for w in as_written(scored, "I love 😀")] == [0.9, 0.8, 0.0]
    assert as_written(scored, "I love it so") == scored  # not one to one: as scored


def test_a_line_translated_sentence_by_sentence_is_scored_sentence_by_sentence(tiny_model_dir):
    """Read back given the whole line, a second sentence's words looked improbable (0.003 for
    a right "A"); each sentence now gets the scores it has alone, and the line the geometric
    mean over all their tokens."""
    from nmt_cli.decoding.confidence import confidences, token_log_probs, with_confidence
    from nmt_cli.decoding.translate import Translation
    from nmt_cli.models.checkpoint import load_model

    m = load_model(tiny_model_dir)
    parts = [("ein hund läuft .", "a dog runs ."), ("eine katze .", "a cat .")]
    line = Translation("ein hund läuft . eine katze .", [], [], "a dog runs . a cat .", parts=parts)
    [(_, got)] = list(with_confidence(m.model, m.tokenizer, [line]))
    alone = confidences(m.model, m.tokenizer, [s for s, _ in parts], [t for _, t in parts])
    assert got.words == alone[0].words + alone[1].words
    src = m.tokenizer.encode_src([s for s, _ in parts])
    tgt = m.tokenizer.encode_tgt([t for _, t in parts])
    every = [lp for lps in token_log_probs(m.model, src, tgt) for lp in lps]
    assert math.isclose(got.score, sentence_score(every), rel_tol=1e-6)

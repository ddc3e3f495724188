"""What rich draws: alignment output and heatmaps, score, validation and preparation tables,
benchmark tables, training progress on a console (the plain-text forms are in test_formats.py)."""

import io
import json

from rich.console import Console

from benchmarks.render import bench_tables, ct2_table, ddp_table
from nmt_cli.alignment.extract import Alignment
from nmt_cli.cli.render import (
    RichReporter,
    alignment_view,
    figures_table,
    score_table,
    validation_table,
    write_alignments,
)
from nmt_cli.evaluate import Perplexity, Score, Scores
from nmt_cli.training.report import StepStats, Validation


def text_of(renderable, width: int = 100) -> str:
    console = Console(file=io.StringIO(), width=width, no_color=True)
    console.print(renderable)
    return console.file.getvalue()


def alignment() -> Alignment:
    weights = [[0.9, 0.1], [0.2, 0.8]]
    return Alignment(
        "ein hund", "a dog", ["ein", "hund"], ["a", "dog"], weights, [0.1, 0.2], [(0, 0), (1, 1)], -1.5
    )


def test_alignments_are_written_in_the_chosen_format_and_their_links_returned():
    for form, expected in (("pharaoh", "0-0 1-1\n"), ("json", None)):
        out = io.StringIO()
        links = write_alignments([alignment()], form, out)
        assert links == [[(0, 0), (1, 1)]]
        if expected:
            assert out.getvalue() == expected
        else:
            assert json.loads(out.getvalue())["links"] == [[0, 0], [1, 1]]
    assert write_alignments([alignment()], "pharaoh", None) == [[(0, 0), (1, 1)]]
    table = io.StringIO()
    assert write_alignments([alignment()], "table", table, no_color=True) == [[(0, 0), (1, 1)]]
    assert "hund" in table.getvalue() and "dog" in table.getvalue() and "\x1b[" not in table.getvalue()


def test_heatmap_splits_wide_sentences_into_blocks_that_fit_the_width():
    n = 30
    a = Alignment("s", "t", [f"w{j}" for j in range(n)], ["x"], [[1.0 / n] * n], [0.0], [(0, 0)], None)
    text = text_of(alignment_view(a, 60), width=60)
    assert all(len(line) <= 60 for line in text.splitlines())
    assert "w0" in text and f"w{n - 1}" in text


def test_score_table_shows_each_metric_with_its_signature_and_the_perplexity():
    scores = Scores(
        ["ref.en"],
        2,
        [Score("bleu", "BLEU", 31.25, "nrefs:1|case:mixed")],
        src="src.de",
        perplexity=Perplexity(1.0, 2.72, 2),
    )
    text = text_of(score_table(scores), width=200)
    assert "31.25" in text and "nrefs:1|case:mixed" in text and "2.72" in text


def test_bench_tables_hold_every_model_and_figure():
    figures = {"model": "rnn", "precision": "fp32", "search": "greedy", "batch": "default", "sentences": 10}
    figures |= {"seconds": 2.0, "sentences_per_s": 5.0, "tokens_per_s": 50.0, "bleu": 33.3}
    results = {
        "date": "2026-11-25", "cores": 2, "threads": 2, "runs": 3, "torch": "2.13.0", "help_seconds": 0.2,
        "dropout": "compiled kernel (AVX-512)",
        "models": {"rnn": {"parameters": 1234, "load_seconds": 0.5, "translate": [figures],
                           "translate_peak_rss_mb": {"1": 400.0, "5": 420.0},
                           "train": {"tokens_per_s": 9000.0, "precision": "bf16", "peak_rss_mb": 800.0}}},
    }  # fmt: skip
    speed, models = (text_of(t, width=200) for t in bench_tables(results))
    assert "33.33" not in speed and "33.30" in speed and "5.0" in speed
    assert "training dropout: compiled kernel (AVX-512)" in speed
    assert "1,234" in models and "9,000 (bf16)" in models and "400 / 420" in models


def test_ct2_table_gives_our_time_over_ctranslate2s_for_each_precision_pair():
    def figure(engine, precision, seconds):
        return {"engine": engine, "precision": precision, "search": "greedy", "seconds": seconds}

    figures = [figure("nmt", "fp32", 3.0), figure("ctranslate2", "float32", 2.0), figure("nmt", "bf16", 1.0)]
    figures = [f | {"tokens_per_s": 1000.0, "bleu": 30.0} for f in figures]
    text = text_of(ct2_table({"src": "t.de", "threads": 1, "runs": 3, "figures": figures}), width=200)
    rows = [line for line in text.splitlines() if "greedy" in line]
    assert "1.50x" in rows[0] and "x" not in rows[1].split()[-1] and "x" not in rows[2].split()[-1]


def test_ddp_table_has_a_row_and_speedup_per_model():
    runs = {"rnn": {"1x2": 1000.0, "2x1": 1500.0, "speedup": 1.5}}
    text = text_of(ddp_table({"cores": 2, "steps": 30, "batch_tokens": 4096, "runs": runs}), width=200)
    assert "1,000" in text and "1,500" in text and "x1.50" in text


def test_figures_are_right_aligned_and_text_columns_left():
    table = figures_table("t", ("name", "seconds", "sent/s"), ("name",), caption="c")
    assert [c.justify for c in table.columns] == ["left", "right", "right"]
    assert table.caption == "c"


def test_validation_table_marks_the_best_bleu():
    history = [
        Validation(100, 0, 2.5, 12.2, 10.0, 1e-3, 60.0, True),
        Validation(200, 1, 2.0, 7.4, 14.5, 1e-3, 125.0, True),
    ]
    table = validation_table(history)
    assert [r.style for r in table.rows] == [None, "bold green"]
    text = text_of(table)
    assert "14.50" in text and "2:05" in text and " 2 " in text  # epochs count from 1


def test_reporter_prints_validations_and_their_table_when_not_on_a_terminal():
    out = io.StringIO()
    reporter = RichReporter(Console(file=out, width=200, no_color=True))
    reporter.step(StepStats(1, 0, 3.2, 1e-3, 1000.0, 1.0, -1.0))  # not a multiple of 500: not printed
    reporter.validation(Validation(100, 0, 2.5, 12.18, 10.0, 1e-3, 60.0, True))
    reporter.stop()
    text = out.getvalue()
    assert "step 1 " not in text
    assert "valid @ step 100 (epoch 1): loss 2.500  ppl 12.18  BLEU 10.00" in text and "new best" in text
    assert "Validations" in text


def test_text_for_the_terminal_holds_no_control_character_and_keeps_the_rest():
    """Issue #38: ESC]0;… in a table header set the terminal's title, ESC[2J cleared it."""
    import unicodedata

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from nmt_cli.cli.console import visible

    @settings(max_examples=300, deadline=None)
    @given(st.text())
    def check(text):
        shown = visible(text)
        assert not any(unicodedata.category(c) == "Cc" for c in shown)
        assert not any(0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in shown)
        plain = all(unicodedata.category(c) != "Cc" and not 0x202A <= ord(c) <= 0x206F for c in text)
        assert shown == text or not plain

    check()
    assert visible("a\x1b]0;title\x07b\nc") == "a\\x1b]0;title\\x07b\\x0ac"

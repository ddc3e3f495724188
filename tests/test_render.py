"""What users see: translations and n-best lists, alignment output, score tables, benchmark tables."""

import io
import json

from rich.console import Console

from nmt_cli.aer import AlignmentScores
from nmt_cli.align import Alignment
from nmt_cli.evaluate import Perplexity, Score, Scores
from nmt_cli.render import (
    alignment_scores,
    alignment_view,
    bench_tables,
    score_table,
    write_alignments,
    write_translations,
)
from nmt_cli.search import Hypothesis, Translation


def text_of(renderable, width: int = 100) -> str:
    console = Console(file=io.StringIO(), width=width, no_color=True)
    console.print(renderable)
    return console.file.getvalue()


def test_nbest_lines_are_moses_style_and_an_empty_line_keeps_its_index():
    translations = [
        Translation("a", [5], [Hypothesis([7], -0.5), Hypothesis([8], -1.25)], "x"),
        Translation("", [], [], ""),
    ]
    out = io.StringIO()
    write_translations(out, translations, lambda ids: [f"w{i[0]}" for i in ids], nbest=2)
    assert out.getvalue() == "0 ||| w7 ||| -0.5000\n0 ||| w8 ||| -1.2500\n1 |||  ||| 0.0000\n"
    out = io.StringIO()
    write_translations(out, translations, lambda ids: [], nbest=1)
    assert out.getvalue() == "x\n\n"


def alignment() -> Alignment:
    weights = [[0.9, 0.1], [0.2, 0.8]]
    return Alignment(
        "ein hund", "a dog", ["ein", "hund"], ["a", "dog"], weights, [0.1, 0.2], [(0, 0), (1, 1)], -1.5
    )


def test_alignments_are_written_in_the_chosen_format_and_their_links_returned():
    for form, expected in (("pharaoh", "0-0 1-1\n"), ("json", None)):
        out = io.StringIO()
        links = write_alignments([alignment()], form, out, Console(file=out))
        assert links == [[(0, 0), (1, 1)]]
        if expected:
            assert out.getvalue() == expected
        else:
            assert json.loads(out.getvalue())["links"] == [[0, 0], [1, 1]]
    assert write_alignments([alignment()], "pharaoh", None, Console(file=io.StringIO())) == [[(0, 0), (1, 1)]]


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


def test_aer_line_in_percent_or_json():
    s = AlignmentScores(0.25, 0.8, 0.7, 3, 10, 8, 12)
    assert alignment_scores(s, "pharaoh").startswith("AER 25.00  precision 80.00  recall 70.00")
    assert json.loads(alignment_scores(s, "json"))["aer"] == 0.25


def test_bench_tables_hold_every_model_and_figure():
    figures = {"model": "rnn", "precision": "fp32", "search": "greedy", "batch": "default", "sentences": 10}
    figures |= {"seconds": 2.0, "sentences_per_s": 5.0, "tokens_per_s": 50.0, "bleu": 33.3}
    results = {
        "date": "2026-11-25", "cores": 2, "threads": 2, "runs": 3, "torch": "2.13.0", "help_seconds": 0.2,
        "models": {"rnn": {"parameters": 1234, "load_seconds": 0.5, "translate": [figures],
                           "translate_peak_rss_mb": {"1": 400.0, "5": 420.0},
                           "train": {"tokens_per_s": 9000.0, "precision": "bf16", "peak_rss_mb": 800.0}}},
    }  # fmt: skip
    speed, models = (text_of(t, width=200) for t in bench_tables(results))
    assert "33.33" not in speed and "33.30" in speed and "5.0" in speed
    assert "1,234" in models and "9,000 (bf16)" in models and "400 / 420" in models

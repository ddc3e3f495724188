"""The plain-text forms: translation and n-best lines, the AER line, the preparation line,
training's status lines, durations and sizes."""

import io
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from nmt_cli.alignment.aer import AlignmentScores
from nmt_cli.cli.formats import (
    alignment_scores,
    byte_size,
    duration,
    peak_share,
    preparation_line,
    run_summary,
    step_line,
    validation_line,
    write_translations,
)
from nmt_cli.decoding.search import Hypothesis
from nmt_cli.decoding.translate import Translation
from nmt_cli.training.report import StepStats, Validation


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


def test_aer_line_in_percent_or_json():
    s = AlignmentScores(0.25, 0.8, 0.7, 3, 10, 8, 12)
    assert alignment_scores(s, "pharaoh").startswith("AER 25.00  precision 80.00  recall 70.00")
    assert "(3 sentences; 10 links, gold 8 sure, 12 possible)" in alignment_scores(s, "table")
    assert json.loads(alignment_scores(s, "json"))["aer"] == 0.25


def corpus(pairs, reused, skipped=0, dropped=0, held_out=0):
    return SimpleNamespace(
        pairs=pairs, reused=reused, skipped_empty=skipped, dropped_long=dropped, held_out=held_out
    )


def test_preparation_line_counts_every_pair_read_or_says_nothing_was_read():
    built = SimpleNamespace(
        corpora=[corpus(900, False, skipped=50, dropped=25, held_out=25), corpus(10_000, True)],
        valid_summary=corpus(25, False),
        seconds={"total": 2.0},
    )
    assert preparation_line(built, Path("d")) == "prepared in 2.0 s (500 pairs/s) into d"
    reused = SimpleNamespace(corpora=[corpus(10, True)], valid_summary=corpus(2, True), seconds={})
    assert preparation_line(reused, Path("d")) == "already prepared in d: nothing read"


def test_training_lines_count_epochs_from_one_and_show_no_bleu_before_the_first():
    line = step_line(StepStats(40, 0, 3.21, 1e-3, 12345.6, 75.0, -1.0))
    assert line == "step 40  epoch 1  loss 3.210  12,346 tok/s  lr 1.00e-03  1:15  best BLEU -"
    assert step_line(StepStats(40, 2, 3.21, 1e-3, 1.0, 75.0, 20.5)).endswith("best BLEU 20.50")
    v = validation_line(Validation(100, 1, 2.5, 12.18, 10.0, 5e-4, 3725.0, False))
    assert v == "valid @ step 100 (epoch 2): loss 2.500  ppl 12.18  BLEU 10.00  lr 5.00e-04  1:02:05"


def test_run_summary_says_resumed_and_processes_only_when_they_apply():
    info = {
        "arch": "rnn",
        "parameters": 1234567,
        "vocab_size": 8000,
        "device": "cpu",
        "precision": "fp32",
        "train_pairs": 29000,
        "skipped_empty": 1,
        "dropped_long": 2,
        "valid": "data/val",
        "valid_pairs": 1014,
        "resumed_at_step": None,
        "processes": 1,
    }
    fresh = run_summary(info)
    assert fresh[0] == "[bold]rnn[/]: 1,234,567 parameters, vocabulary 8000, cpu, fp32"
    assert fresh[1].startswith("training pairs: 29,000 (skipped 1 with an empty side, dropped 2 longer")
    resumed = run_summary({**info, "resumed_at_step": 300, "processes": 2})
    assert resumed[0] == "[bold]resuming[/] at step 300" and resumed[1].endswith(", 2 processes")


def test_durations_sizes_and_peak_shares_read_as_people_write_them():
    assert (duration(59.9), duration(61), duration(3600 + 62)) == ("0:59", "1:01", "1:01:02")
    assert (byte_size(1023), byte_size(2048), byte_size(5 * 1024**3)) == ("1023 B", "2.0 KB", "5.0 GB")
    assert peak_share({"peak_fraction": 0.123, "peak_gflops": 95.4}) == "12% of 95 GFLOP/s"
    assert peak_share({}) == "-"


@pytest.mark.slow
def test_writing_text_imports_neither_rich_nor_torch():
    code = (
        "import sys, nmt_cli.cli.formats; assert not {'rich', 'torch'} & set(sys.modules), sys.modules.keys()"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

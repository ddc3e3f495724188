"""The scale benchmark's parts: synthetic corpora drawn once with a fixed seed, stage shares,
the in-memory baseline measuring what in_memory.load_corpora does, and the training clock."""

from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import write_toy_corpus

from benchmarks import bench_scale
from benchmarks.in_memory import load_corpora


@pytest.fixture
def bundled(tmp_path, monkeypatch):
    """Two tiny corpora standing in for the bundled ones."""
    for name, seed in (("a/train", 1), ("b/train", 2)):
        write_toy_corpus(tmp_path / name, 50, seed=seed)
    monkeypatch.setattr(bench_scale, "ROOT", tmp_path)
    monkeypatch.setattr(bench_scale, "SOURCES", ("a/train", "b/train"))
    return tmp_path


def test_a_synthetic_corpus_draws_from_the_bundled_ones_with_a_fixed_seed(bundled, tmp_path):
    prefix = bench_scale.write_synthetic(tmp_path / "s1" / "train", 120)
    de = Path(f"{prefix}.de").read_text().splitlines()
    en = Path(f"{prefix}.en").read_text().splitlines()
    assert len(de) == len(en) == 120
    bundled_pairs = set()
    for name in ("a/train", "b/train"):
        bundled_pairs |= set(
            zip(
                (bundled / f"{name}.de").read_text().splitlines(),
                (bundled / f"{name}.en").read_text().splitlines(),
            )
        )
    assert set(zip(de, en)) <= bundled_pairs
    again = bench_scale.write_synthetic(tmp_path / "s2" / "train", 120)
    assert Path(f"{again}.de").read_text().splitlines() == de
    Path(f"{prefix}.de").write_text("kept\n")
    bench_scale.write_synthetic(prefix, 120)  # written once: an existing corpus is kept
    assert Path(f"{prefix}.de").read_text() == "kept\n"


def test_shares_are_each_stage_over_the_total():
    assert bench_scale.shares({"read": 1.0, "encode": 3.0, "total": 4.0}) == {"read": 0.25, "encode": 0.75}


def test_the_in_memory_baseline_keeps_the_pairs_load_corpora_trains_on(tmp_path):
    prefix = tmp_path / "train"
    write_toy_corpus(prefix, 300, seed=4)
    with open(f"{prefix}.de", "a") as de, open(f"{prefix}.en", "a") as en:
        de.write("\nhund\n")  # one pair with an empty side
        en.write("dog\n \n")
    measured = bench_scale.in_memory(str(prefix), 1)
    train, _, _, _ = load_corpora(bench_scale.data_config(str(prefix)), tmp_path, seed=1)
    assert measured["pairs"] == len(train)
    assert set(measured["seconds"]) == {"read", "normalise", "sentencepiece", "encode", "total"}


def test_the_step_clock_times_the_first_update_and_averages_the_later_ones():
    clock = bench_scale.StepClock()
    clock.step(SimpleNamespace(step=1, tokens_per_s=10.0))
    clock.step(SimpleNamespace(step=2, tokens_per_s=100.0))
    clock.step(SimpleNamespace(step=3, tokens_per_s=300.0))
    assert clock.first_update is not None and clock.first_update >= 0
    assert clock.rates == [100.0, 300.0]

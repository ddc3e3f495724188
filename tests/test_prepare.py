"""Streamed preparation: the same ids as the in-memory path, a cache that is reused and never
stale, and interrupts that leave nothing a later run would trust."""

import gzip
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import write_toy_corpus

from benchmarks.in_memory import load_corpora
from nmt_cli.config import DataConfig
from nmt_cli.data import cache
from nmt_cli.data.prepare import prepare_data
from nmt_cli.errors import NMTError


def data_config(prefix, **kw):
    return DataConfig(train=str(prefix), src_lang="de", tgt_lang="en", vocab_size=40, **kw)


def all_ids(shard, side):
    return [shard.ids(side, i) for i in range(len(shard))]


@pytest.fixture
def corpus(tmp_path):
    prefix = tmp_path / "corpus" / "train"
    write_toy_corpus(prefix, 1500, seed=3)
    return prefix


def test_streamed_preparation_gives_the_ids_of_the_in_memory_path(corpus, tmp_path):
    # Blank and over-long pairs too, so that skipping and dropping are compared as well.
    src = corpus.with_suffix(".de").read_text().splitlines() + ["", "hund " * 60, "katze"]
    tgt = corpus.with_suffix(".en").read_text().splitlines() + ["dog", "dog " * 60, "  "]
    corpus.with_suffix(".de").write_text("\n".join(src) + "\n")
    corpus.with_suffix(".en").write_text("\n".join(tgt) + "\n")
    for valid in (None, str(corpus)):  # held-out validation, then a --valid corpus
        cfg = data_config(corpus, valid=valid, max_len=50, valid_max_sentences=10_000)
        (tmp_path / "memory").mkdir(exist_ok=True)
        train, val, _, stats = load_corpora(cfg, tmp_path / "memory", seed=4)
        prepared = prepare_data(cfg, tmp_path / f"data-{valid is None}", seed=4, threads=1)
        shard = prepared.train.shards[0]
        assert all_ids(shard, "src") == train.src_ids and all_ids(shard, "tgt") == train.tgt_ids
        assert all_ids(prepared.valid.shards[0], "src") == val.src_ids
        assert all_ids(prepared.valid.shards[0], "tgt") == val.tgt_ids
        assert prepared.valid_src == val.src_lines
        summary = prepared.corpora[0]
        assert (summary.pairs, summary.skipped_empty, summary.dropped_long) == (
            stats.train_pairs,
            stats.skipped_empty,
            stats.dropped_long,
        )
        assert stats.dropped_long == 1


def test_a_large_valid_set_scores_bleu_on_a_fixed_subset_and_loss_on_all(corpus, tmp_path):
    cfg = data_config(corpus, valid=str(corpus), valid_max_sentences=100)
    a = prepare_data(cfg, tmp_path / "a", seed=1, threads=1)
    b = prepare_data(cfg, tmp_path / "b", seed=2, threads=1)
    assert len(a.valid) == 1500 and len(a.valid_src) == len(a.valid_ref) == 100
    assert a.valid_src == b.valid_src  # the same subset whatever the training seed
    lines = corpus.with_suffix(".de").read_text().splitlines()
    assert a.valid_src != lines[:100] and set(a.valid_src) <= set(lines)  # spread over the set


def test_gzipped_input_prepares_the_same_shards(corpus, tmp_path):
    for lang in ("de", "en"):
        with gzip.open(tmp_path / f"z.{lang}.gz", "wb") as f:
            f.write(corpus.with_suffix(f".{lang}").read_bytes())
    plain = prepare_data(data_config(corpus), tmp_path / "a", seed=1, threads=1)
    zipped = prepare_data(data_config(tmp_path / "z"), tmp_path / "b", seed=1, threads=1)
    assert all_ids(plain.train.shards[0], "tgt") == all_ids(zipped.train.shards[0], "tgt")


def test_the_cache_is_reused_unchanged_and_rebuilt_on_any_change(corpus, tmp_path):
    data = tmp_path / "data"
    first = prepare_data(data_config(corpus), data, seed=1, threads=1)
    assert not first.corpora[0].reused
    again = prepare_data(data_config(corpus), data, seed=1, threads=1)
    assert again.corpora[0].reused and again.valid_summary.reused
    assert again.seconds.keys() == {"total"}  # no stage ran: the text was not read
    # a cleaning setting
    shorter = prepare_data(data_config(corpus, max_len=4), data, seed=1, threads=1)
    assert not shorter.corpora[0].reused and shorter.corpora[0].dropped_long > 0
    # an input file: same size, new contents and modification time
    de = corpus.with_suffix(".de")
    text = de.read_text()
    de.write_text(text.replace("hund", "HUND", 1))
    os.utime(de, ns=(time.time_ns(), time.time_ns() + 10**9))
    changed = prepare_data(data_config(corpus), data, seed=1, threads=1)
    assert not changed.corpora[0].reused
    assert changed.train.shards[0].directory != first.train.shards[0].directory


def test_a_resumed_run_reuses_shards_with_its_own_sentencepiece_model(corpus, tmp_path):
    data = tmp_path / "data"
    fresh = prepare_data(data_config(corpus), data, seed=1, threads=1)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    shutil.copy(fresh.spm_dir / "spm.model", model_dir / "spm.model")
    resumed = prepare_data(data_config(corpus), data, seed=1, threads=1, tokenizer_dir=model_dir)
    assert resumed.corpora[0].reused and resumed.spm_dir is None


def test_sentencepiece_trains_on_a_bounded_sample(corpus, tmp_path):
    cfg = data_config(corpus, spm_sample=200, valid=str(corpus))
    prepared = prepare_data(cfg, tmp_path / "d", seed=1, threads=1)
    assert cache.read_meta(prepared.spm_dir)["sample_pairs"] == 200
    assert prepared.corpora[0].pairs == 1500  # while every pair is encoded


def test_several_corpora_are_prepared_and_cached_each_on_its_own(corpus, tmp_path):
    other = tmp_path / "other" / "train"
    write_toy_corpus(other, 300, seed=9)
    cfg = DataConfig(
        train=(str(corpus), str(other)), src_lang="de", tgt_lang="en", vocab_size=40, train_weights=(1.0, 4.0)
    )
    prepared = prepare_data(cfg, tmp_path / "d", seed=1, threads=1)
    assert [c.pairs for c in prepared.corpora] == [1350, 300]  # the held-out pairs come from the first
    assert prepared.train.sizes == [1350, 300] and prepared.weights == (1.0, 4.0)
    assert len({s.directory for s in prepared.train.shards}) == 2


@pytest.mark.parametrize("weight", [0.0, -1.0, float("nan"), float("inf"), 1e9])
def test_a_corpus_weight_must_be_positive_and_finite(corpus, tmp_path, weight):
    """1e9 built an epoch of 1e9 copies of the corpus' indices."""
    cfg = DataConfig(train=(str(corpus),) * 2, src_lang="de", tgt_lang="en", train_weights=(1.0, weight))
    with pytest.raises(NMTError, match="--train-weights needs one weight per --train corpus .* at most 1000"):
        prepare_data(cfg, tmp_path / "d", seed=1, threads=1)
    assert not (tmp_path / "d").exists()


def interrupted_run(corpus, data, sig):
    """Start `nmt prepare`, send `sig` once it is writing the training shard, return (code, stderr)."""
    cmd = [sys.executable, "-m", "nmt_cli", "prepare", "--train", str(corpus), "-s", "de", "-t", "en"]
    cmd += ["--data-dir", str(data), "--vocab-size", "40", "--spm-sample", "2000", "--threads", "1"]
    # A shell starts background jobs with SIGINT ignored, and children inherit that (a CI runner's
    # may): give `nmt prepare` the disposition of a command typed at a terminal.
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.name.startswith(".tmp-train.") for p in data.glob(".tmp-*")):
            break
        time.sleep(0.005)
    assert proc.poll() is None, "preparation finished before it could be interrupted"
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    return proc.returncode, stderr.decode()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_an_interrupted_preparation_leaves_nothing_a_later_run_trusts(tmp_path, sig):
    big = tmp_path / "big" / "train"
    pairs = 200_000  # preparation must outlast the poll: a quiet machine prepares 60,000 in 0.7 s
    write_toy_corpus(big, pairs, seed=1)
    data = tmp_path / "data"
    code, stderr = interrupted_run(big, data, sig)
    assert code == (130 if sig == signal.SIGINT else -signal.SIGKILL), stderr
    assert "Traceback" not in stderr
    trusted = [p for p in data.iterdir() if p.name.startswith("train.") and cache.read_meta(p) is not None]
    assert trusted == []
    if sig == signal.SIGINT:
        assert not list(data.glob(".tmp-*"))  # Ctrl-C cleans up after itself
    again = prepare_data(data_config(big, spm_sample=2000), data, seed=1, threads=1)
    assert not again.corpora[0].reused and again.corpora[0].pairs + again.corpora[0].held_out == pairs
    assert not list(data.glob(".tmp-*"))  # what a killed run left is gone
    lengths = again.train.lengths()
    assert len(lengths) == again.corpora[0].pairs and np.all(lengths > 1)


def test_nmt_prepare_summarises_then_finds_everything_prepared(corpus, tmp_path):
    from typer.testing import CliRunner

    from nmt_cli.cli.app import app

    args = ["prepare", "--train", str(corpus), "-s", "de", "-t", "en", "--vocab-size", "40", "--threads", "1"]
    runner = CliRunner()
    missing = runner.invoke(app, args)
    assert missing.exit_code == 1 and "--data-dir" in missing.output and "Traceback" not in missing.output
    first = runner.invoke(app, [*args, "--data-dir", str(tmp_path / "d")], env={"COLUMNS": "200"})
    assert first.exit_code == 0, first.output
    assert "1,350" in first.output and "built" in first.output and "pairs/s" in first.output
    again = runner.invoke(app, [*args, "-o", str(tmp_path / "m")], env={"COLUMNS": "200"})
    assert "built" in again.output  # another place: prepared afresh there
    third = runner.invoke(app, [*args, "-o", str(tmp_path / "m")], env={"COLUMNS": "200"})
    assert third.exit_code == 0 and "already prepared" in third.output and "reused" in third.output

"""The benchmark measures the real thing: training speed is that of `step.train_step`."""

import shutil

import pytest

import benchmarks.bench as bench
import nmt_cli.training.step as step


def test_median_time_is_the_median_of_the_runs(monkeypatch):
    clock = iter([0.0, 1.0, 10.0, 13.0, 20.0, 22.0])  # runs of 1, 3 and 2 seconds
    monkeypatch.setattr(bench.time, "perf_counter", lambda: next(clock))
    assert bench.median_time(lambda: None, 3) == 2.0


def test_training_speed_times_the_update_training_runs(toy_model_dir, tmp_path, monkeypatch):
    if not (bench.ROOT / "data" / "multi30k" / "train.de.gz").is_file():
        pytest.skip("data/multi30k is not in this checkout")
    shutil.copytree(toy_model_dir, tmp_path / "rnn")
    monkeypatch.setattr(bench, "CACHE", tmp_path)
    calls = []

    def counted(*args, **kwargs):
        calls.append(len(args[2]))
        return real(*args, **kwargs)

    real = step.train_step
    monkeypatch.setattr(step, "train_step", counted)
    result = bench.train_speed("rnn", steps=2, warmup=1)
    # warm-up, two timed updates and one whose FLOPs are counted, each one batch, all train_step
    assert calls == [1, 1, 1, 1]
    assert result["tokens_per_s"] > 0 and result["precision"] in ("fp32", "bf16")
    assert 0 < result["peak_fraction"] <= 1 and result["peak_gflops"] > 0
    assert bench.ensure_model("rnn", minutes=0.0) == tmp_path / "rnn"  # cached: nothing trained


def test_bench_parts_ct2_and_ddp_are_parts_of_make_bench():
    from typer.testing import CliRunner

    from benchmarks.__main__ import app
    from benchmarks.bench_ct2 import available

    runner = CliRunner()
    if not available():  # without the optional package the part is skipped, and make bench goes on
        result = runner.invoke(app, ["--part", "ct2"])
        assert result.exit_code == 0 and "CTranslate2 part skipped" in result.output
    result = runner.invoke(app, ["--part", "ddp", "--ddp-arch", "lstm"])
    assert result.exit_code == 1 and "--ddp-arch lstm" in result.output
    assert len(result.output.strip().splitlines()) == 1

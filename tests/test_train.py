"""Training bookkeeping: resuming, interrupting, validation by BLEU."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import TOY_TRAIN_ARGS

from nmt_cli.config import DataConfig, ModelConfig, TrainConfig
from nmt_cli.data.prepare import prepare_data
from nmt_cli.device import resolve_precision
from nmt_cli.models.checkpoint import load_model, safe_load
from nmt_cli.training.loop import train
from nmt_cli.training.validation import validate


def configs(corpus, out, max_steps):
    model = ModelConfig(embed_dim=32, hidden_dim=64, dropout=0.2)
    data = DataConfig(train=str(corpus), src_lang="de", tgt_lang="en", vocab_size=40, batch_tokens=600)
    run = TrainConfig(output=str(out), valid_every=10, max_steps=max_steps, lr=3e-3)
    return model, data, run


@pytest.mark.slow
def test_resumed_run_continues_exactly_where_it_stopped(toy_corpus, tmp_path):
    train(*configs(toy_corpus, tmp_path / "a", 30))
    first = train(*configs(toy_corpus, tmp_path / "b", 20))
    assert first.steps == 20
    resumed = train(*configs(toy_corpus, tmp_path / "b", 30), resume=True)
    assert resumed.steps == 30
    assert [v.step for v in resumed.history] == [10, 20, 30]
    # Same batches, same dropout masks, same optimizer moments: the same model.
    a = safe_load(tmp_path / "a" / "last.pt")["model"]
    b = safe_load(tmp_path / "b" / "last.pt")["model"]
    for name in a:
        assert torch.allclose(a[name].float(), b[name].float(), atol=1e-5), name


def test_time_budget_counts_the_minutes_spent_before_resuming(toy_corpus, tmp_path):
    first = train(*configs(toy_corpus, tmp_path / "m", 10))
    spent = safe_load(tmp_path / "m" / "last.pt")["progress"]["elapsed"]
    assert 0 < spent <= first.elapsed
    model, data, run = configs(toy_corpus, tmp_path / "m", 1000)
    run = dataclasses.replace(run, max_minutes=spent / 60 / 2)  # used up before this run starts
    resumed = train(model, data, run, resume=True)
    assert (resumed.steps, resumed.stopped_by) == (10, "max-minutes")
    assert resumed.elapsed >= spent


@pytest.mark.slow
def test_best_checkpoint_follows_validation_bleu(toy_corpus, tmp_path):
    model_cfg, data_cfg, run = configs(toy_corpus, tmp_path / "m", 60)
    result = train(model_cfg, data_cfg, run)
    best = max(v.bleu for v in result.history)
    assert result.best_bleu == best
    assert sum(v.is_best for v in result.history) >= 1
    # model.pt holds the weights that scored best: validating it again gives that BLEU.
    loaded = load_model(tmp_path / "m")
    prepared = prepare_data(data_cfg, tmp_path / "m" / "data", run.seed, tokenizer_dir=tmp_path / "m")
    assert prepared.corpora[0].reused  # the run's own preparation, found again
    device = torch.device("cpu")
    _, bleu = validate(
        loaded.model, loaded.tokenizer, prepared, device, resolve_precision(run.precision, device), 1
    )
    assert bleu == pytest.approx(best, abs=1e-9)
    if not result.history[-1].is_best:  # and not the last ones, which last.pt holds
        last = safe_load(tmp_path / "m" / "last.pt")["model"]
        assert any(not torch.equal(last[k], v) for k, v in loaded.model.state_dict().items())
    log = [json.loads(x) for x in (tmp_path / "m" / "train.log.jsonl").read_text().splitlines()]
    assert [e["bleu"] for e in log if e["event"] == "valid"] == [v.bleu for v in result.history]


@pytest.mark.slow
def test_sigint_saves_state_and_the_same_command_resumes(toy_corpus, tmp_path):
    out = tmp_path / "m"
    cmd = [
        sys.executable,
        "-m",
        "nmt_cli",
        "train",
        "--train",
        str(toy_corpus),
        "-s",
        "de",
        "-t",
        "en",
    ]
    cmd += ["-o", str(out), *TOY_TRAIN_ARGS, "--valid-every", "5", "--max-steps", "100000"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    log = out / "train.log.jsonl"
    deadline = time.monotonic() + 120
    while not (log.is_file() and '"valid"' in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr.decode()
    assert b"Traceback" not in stderr and b"state saved" in stderr
    step = safe_load(out / "last.pt")["progress"]["step"]
    assert step >= 5
    again = subprocess.run(
        [*cmd[:-1], str(step + 3)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert again.returncode == 0, again.stderr.decode()
    assert f"resuming at step {step}".encode() in again.stderr
    assert safe_load(out / "last.pt")["progress"]["step"] == step + 3


def test_weighted_corpora_train_from_shards_that_a_resumed_run_reuses(toy_corpus, tmp_path):
    from conftest import write_toy_corpus

    other = tmp_path / "in-domain" / "train"
    write_toy_corpus(other, 300, seed=5)
    model, data, run = configs(toy_corpus, tmp_path / "m", 4)
    data = dataclasses.replace(data, train=(str(toy_corpus), str(other)), train_weights=(1.0, 4.0))
    assert train(model, data, run).steps == 4
    prepared = sorted(p.name for p in (tmp_path / "m" / "data").iterdir())
    assert len(prepared) == 3 and prepared[0].startswith("spm-")  # one vocabulary, a shard per corpus
    assert prepared[2].startswith("train.in-domain.train-") and prepared[1].startswith("train.corpus")
    stamps = {n: (tmp_path / "m" / "data" / n / "meta.json").stat().st_mtime_ns for n in prepared}
    resumed = train(model, data, dataclasses.replace(run, max_steps=6), resume=True)
    assert resumed.steps == 6
    again = {n: (tmp_path / "m" / "data" / n / "meta.json").stat().st_mtime_ns for n in prepared}
    assert again == stamps and sorted(p.name for p in (tmp_path / "m" / "data").iterdir()) == prepared

"""Data-parallel training under torchrun on CPU (gloo, 2 processes on localhost).

Every process is started with a hard timeout, so a hang fails the test instead of blocking.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import rnn_config, transformer_config, write_toy_corpus
from ddp_worker import configs

from nmt_cli.data import batching
from nmt_cli.data.prepare import prepare_data
from nmt_cli.models.checkpoint import safe_load
from nmt_cli.models.seq2seq import build_model
from nmt_cli.training.distributed import World, empty_batch, share, world_from_env
from nmt_cli.training.loop import train
from nmt_cli.training.loss import loss_fn

HERE = Path(__file__).parent
ROOT = HERE.parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200", "PYTHONPATH": str(ROOT)}
BATCH = 280  # tokens per batch and rank (an odd number of batches per epoch)
TIMEOUT = 180


def torchrun(args: list[str], nproc: int = 2, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=ENV, cwd=ROOT)


def step_losses(model_dir: Path) -> list[float]:
    lines = (model_dir / "train.log.jsonl").read_text().splitlines()
    return [e["loss"] for e in map(json.loads, lines) if e["event"] == "step"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    prefix = tmp_path_factory.mktemp("ddp") / "train"
    write_toy_corpus(prefix, n=300, seed=3)
    return prefix


@pytest.fixture(scope="module")
def two_ranks(corpus, tmp_path_factory) -> Path:
    """One epoch on 2 ranks with batches of BATCH tokens, through torchrun."""
    out = tmp_path_factory.mktemp("ddp") / "two"
    done = torchrun([str(HERE / "ddp_worker.py"), str(corpus), str(out), str(BATCH), "1"])
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_world_comes_from_torchruns_environment():
    assert world_from_env({}) == World(0, 0, 1)
    assert world_from_env({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4"}) == World(3, 1, 4)


@pytest.mark.parametrize("n", range(0, 12))
def test_every_rank_gets_as_many_micro_batches_and_each_batch_goes_to_one_rank(n):
    group = list(range(n))
    shares = [share(group, r, 3) for r in range(3)]
    assert len({len(s) for s in shares}) == 1
    assert sorted(b for s in shares for b in s if b is not None) == group


@pytest.mark.parametrize("make_config", [rnn_config, transformer_config])
def test_an_empty_batch_has_no_loss_and_a_zero_gradient_for_every_parameter(make_config):
    model = build_model(make_config())
    batch = empty_batch()
    logits, _ = model(batch.src, batch.src_mask, batch.tgt_in)
    loss = loss_fn(logits, batch.tgt_out, 0.1)
    loss.backward()
    assert float(loss.detach()) == 0.0 and batch.n_tgt_tokens == 0
    for name, p in model.named_parameters():
        assert p.grad is not None and not p.grad.any(), name  # DDP waits for every gradient


@pytest.mark.slow
def test_ranks_hold_bit_identical_parameters_after_training(two_ranks):
    a = torch.load(two_ranks / "params.rank0.pt")
    b = torch.load(two_ranks / "params.rank1.pt")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


@pytest.mark.slow
def test_an_odd_number_of_batches_gives_both_ranks_the_same_updates(corpus, two_ranks):
    data_cfg = configs(str(corpus), two_ranks, BATCH, 1)[1]
    data = prepare_data(data_cfg, two_ranks / "data", seed=1, tokenizer_dir=two_ranks)  # found prepared
    n_batches = len(batching.epoch_batches(data.train.lengths(), data.train.sizes, data.weights, BATCH, 1, 0))
    assert n_batches % 2 == 1  # the premise: one rank gets an empty last batch
    progress = safe_load(two_ranks / "last.pt")["progress"]
    assert (progress["step"], progress["epoch"]) == ((n_batches + 1) // 2, 1)


@pytest.mark.slow
def test_two_ranks_learn_like_one_process_accumulating_their_two_batches(corpus, two_ranks, tmp_path):
    """Same global batches, loss divided by the update's global token count: same updates."""
    one = train(*configs(str(corpus), tmp_path / "one", BATCH, 2))
    assert one.model is not None
    assert step_losses(tmp_path / "one") == pytest.approx(step_losses(two_ranks), rel=1e-5)
    ranks = torch.load(two_ranks / "params.rank0.pt")
    for name, p in one.model.state_dict().items():
        assert torch.allclose(p, ranks[name], atol=1e-5), name


@pytest.mark.slow
def test_two_ranks_with_batch_b_follow_one_process_with_batch_2b(corpus, two_ranks, tmp_path):
    train(*configs(str(corpus), tmp_path / "one", 2 * BATCH, 1))
    one, two = step_losses(tmp_path / "one")[:6], step_losses(two_ranks)[:6]
    # Not the same batches (a batch of 2B is not two of B), so each loss differs a little, but
    # the curves agree: one process with batch B is some 4% above them on average here.
    assert one == pytest.approx(two, rel=0.05)
    assert sum(one) / 6 == pytest.approx(sum(two) / 6, rel=0.01)
    assert two[-1] < two[0] - 0.5  # and they learn


def cli_args(corpus: Path, out: Path, max_steps: int) -> list[str]:
    return [
        "-m", "nmt_cli", "train", "--train", str(corpus), "-s", "de", "-t", "en", "-o", str(out),
        "--vocab-size", "40", "--embed-dim", "32", "--hidden-dim", "64", "--batch-tokens", str(BATCH),
        "--valid-every", "5", "--threads", "1", "--log-every", "1", "--max-steps", str(max_steps),
    ]  # fmt: skip


def wait_for(path: Path, text: str, proc: subprocess.Popen, seconds: float = TIMEOUT) -> None:
    deadline = time.monotonic() + seconds
    while not (path.is_file() and text in path.read_text()):
        assert proc.poll() is None, "training ended early"
        assert time.monotonic() < deadline, f"no {text} in {path}"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_two_rank_run_interrupted_resumes_on_one_process_and_back_on_two(corpus, tmp_path):
    out = tmp_path / "m"
    run_args = cli_args(corpus, out, 100_000)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", *run_args[1:]]
    # A session of its own, so that killpg is Ctrl-C in a terminal: every process gets SIGINT.
    proc = subprocess.Popen(
        cmd, env=ENV, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_for(out / "train.log.jsonl", '"valid"', proc)
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert b"state saved" in stderr
    state = safe_load(out / "last.pt")
    step = state["progress"]["step"]
    assert step >= 5 and len(state["rank_rng"]) == 2

    one = subprocess.run(
        [sys.executable, *cli_args(corpus, out, step + 3)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=ENV,
    )
    assert one.returncode == 0, one.stderr[-3000:]
    assert f"resuming at step {step}" in one.stderr
    assert safe_load(out / "last.pt")["progress"]["step"] == step + 3

    two = torchrun(cli_args(corpus, out, step + 6)[1:])
    assert two.returncode == 0, two.stderr[-3000:]
    assert f"resuming at step {step + 3}" in two.stderr
    assert safe_load(out / "last.pt")["progress"]["step"] == step + 6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.parametrize("failure", ["killed", "hung"])
def test_a_rank_that_dies_or_hangs_makes_the_other_fail_with_a_clear_error(corpus, tmp_path, failure):
    """Without torchrun's agent to clean up: the survivor itself must notice and exit."""
    out, port = tmp_path / "m", free_port()
    args = [*cli_args(corpus, out, 100_000), "--dist-timeout", "0.2"]
    procs = []
    for rank in (0, 1):
        env = {**ENV, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2"}
        env |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
        procs.append(
            subprocess.Popen(
                [sys.executable, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    try:
        wait_for(out / "train.log.jsonl", '"step": 3,', procs[0])
        procs[1].send_signal(signal.SIGKILL if failure == "killed" else signal.SIGSTOP)
        start = time.monotonic()
        _, stderr = procs[0].communicate(timeout=90)
        assert time.monotonic() - start < 60
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert procs[0].returncode == 1
    assert "lost contact with the other training processes" in stderr, stderr
    assert "Traceback" not in stderr

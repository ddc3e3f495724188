"""kill -9 at any moment costs at most the steps since the last save: the directory still
loads, and the same command resumes to the same final weights as an uninterrupted run."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nmt_cli.models.checkpoint import load_model, safe_load

ARGS = ["--embed-dim", "16", "--hidden-dim", "32", "--vocab-size", "40", "--batch-tokens", "600"]
ARGS += ["--valid-every", "5", "--max-steps", "40", "--lr", "3e-3", "--threads", "1"]


def command(corpus: Path, out: Path) -> list[str]:
    train = ["train", "--train", str(corpus), "-s", "de", "-t", "en", "-o", str(out)]
    return [sys.executable, "-m", "nmt_cli", *train, *ARGS]


def log_records(out: Path) -> list[tuple[str, int]]:
    path = out / "train.log.jsonl"
    if not path.is_file():
        return []
    records = [json.loads(x) for x in path.read_text().splitlines() if x.endswith("}")]
    return [(r["event"], r["step"]) for r in records]


def kill_when_the_log_grows(cmd: list[str], out: Path, timeout: float = 120) -> None:
    """Start training and SIGKILL it right after its next log record: between writing the
    log and saving last.pt, the moment where records could be repeated."""
    seen = len(log_records(out))
    quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    proc = subprocess.Popen(cmd, **quiet)
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline and len(log_records(out)) <= seen:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)


@pytest.mark.slow
def test_killed_training_resumes_to_the_weights_of_an_uninterrupted_run(tiny_corpus, tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    done = subprocess.run(command(tiny_corpus, whole), capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    for _ in range(4):
        kill_when_the_log_grows(command(tiny_corpus, killed), killed)
    assert log_records(killed), "no kill landed during training"
    load_model(killed)  # what a kill leaves behind loads
    again = subprocess.run(command(tiny_corpus, killed), capture_output=True, timeout=300)
    assert again.returncode == 0, again.stderr.decode()
    assert log_records(killed) == log_records(whole)  # no record repeated, none missing
    a, b = safe_load(whole / "last.pt")["model"], safe_load(killed / "last.pt")["model"]
    for name in a:
        assert torch.allclose(a[name].float(), b[name].float(), atol=1e-5), name
    assert not [p.name for p in killed.iterdir() if p.name.endswith(".tmp")]

"""`make bench`, data-parallel part: training tokens/s of one process with 2 threads against two
processes with 1 thread each (torchrun, gloo), on Multi30k, at the same global batch.

Both run the real `nmt train` end to end; the figure is the tokens/s that rank 0 logs over
updates 2..N (the first update pays for allocation and oneDNN kernel compilation). Run it on a
quiet machine: other processes on the cores distort both sides unevenly. `python -m benchmarks --part ddp`
runs it; render.ddp_table shows it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from benchmarks.bench import CACHE, ROOT, SIZES
from nmt_cli.config import Arch
from nmt_cli.errors import NMTError

TRAIN = ROOT / "data" / "multi30k" / "train"
VALID = ROOT / "data" / "multi30k" / "val"


def tiny_valid(out: Path, lines: int = 20) -> Path:
    """A 20-pair validation set: the run's last validation decodes it, after the timing."""
    from nmt_cli.data.parallel import read_parallel

    src, tgt = read_parallel(str(VALID), "de", "en")
    prefix = out / "valid"
    out.mkdir(parents=True, exist_ok=True)
    Path(f"{prefix}.de").write_text("\n".join(src[:lines]) + "\n", encoding="utf-8")
    Path(f"{prefix}.en").write_text("\n".join(tgt[:lines]) + "\n", encoding="utf-8")
    return prefix


def size_args(arch: Arch) -> list[str]:
    """The reference model size as `nmt train` options."""
    return [arg for k, v in SIZES[arch].items() for arg in (f"--{k.replace('_', '-')}", str(v))]


def run_training(arch: Arch, processes: int, batch_tokens: int, steps: int, valid: Path) -> float:
    """Tokens/s (source + target, all ranks) of `nmt train` over updates 2..steps."""
    out = CACHE / "ddp" / f"{arch}-{processes}p"
    threads = 2 // processes if processes <= 2 else 1
    train_args = [
        "train", "--train", str(TRAIN), "--valid", str(valid), "-s", "de", "-t", "en", "-o", str(out),
        *size_args(arch), "--batch-tokens", str(batch_tokens), "--max-steps", str(steps),
        "--log-every", str(steps), "--valid-every", str(10 * steps), "--threads", str(threads), "--overwrite",
    ]  # fmt: skip
    if processes == 1:
        cmd = [sys.executable, "-m", "nmt_cli", *train_args]
    else:
        launch = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
        cmd = [sys.executable, *launch, "-m", "nmt_cli", *train_args]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    records = [json.loads(line) for line in (out / "train.log.jsonl").read_text().splitlines()]
    return float(next(r["tokens_per_s"] for r in records if r["event"] == "step" and r["step"] == steps))


def run_ddp(
    archs: Sequence[str] = ("rnn", "transformer"),
    steps: int = 30,
    batch_tokens: int = 4096,
    output: Path = CACHE / "ddp.json",
) -> dict[str, Any]:
    """The data-parallel part of `python -m benchmarks`: for each architecture, tokens/s of 1 process x 2
    threads and of 2 processes x 1 thread at the global batch `batch_tokens`, also written to
    `output` as JSON."""
    for arch in archs:
        if arch not in SIZES:
            raise NMTError(f"--ddp-arch {arch}: the reference models are {' and '.join(SIZES)}")
    valid = tiny_valid(CACHE / "ddp")
    results: dict[str, Any] = {
        "cores": os.cpu_count(),
        "steps": steps,
        "batch_tokens": batch_tokens,
        "runs": {},
    }
    for arch in archs:
        one = run_training(cast(Arch, arch), 1, batch_tokens, steps, valid)
        two = run_training(cast(Arch, arch), 2, batch_tokens // 2, steps, valid)
        results["runs"][arch] = {"1x2": one, "2x1": two, "speedup": two / one}
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2) + "\n")
    return results

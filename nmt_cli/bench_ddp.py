"""`make bench`, data-parallel part: training tokens/s of one process with 2 threads against two
processes with 1 thread each (torchrun, gloo), on Multi30k, at the same global batch.

Both run the real `nmt train` end to end; the figure is the tokens/s that rank 0 logs over
updates 2..N (the first update pays for allocation and oneDNN kernel compilation). Run it on a
quiet machine: other processes on the cores distort both sides unevenly.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from nmt_cli.bench import CACHE, ROOT, SIZES
from nmt_cli.config import Arch

TRAIN = ROOT / "data" / "multi30k" / "train"
VALID = ROOT / "data" / "multi30k" / "val"


def tiny_valid(out: Path, lines: int = 20) -> Path:
    """A 20-pair validation set: the run's last validation decodes it, after the timing."""
    from nmt_cli.data import read_parallel

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=30, help="updates per run (the first is not timed)")
    parser.add_argument("--batch-tokens", type=int, default=4096, help="global batch: split over processes")
    parser.add_argument("--archs", nargs="+", default=["rnn", "transformer"], choices=sorted(SIZES))
    parser.add_argument("--output", type=Path, default=CACHE / "ddp.json")
    args = parser.parse_args()
    valid = tiny_valid(CACHE / "ddp")
    results: dict = {
        "cores": os.cpu_count(),
        "steps": args.steps,
        "batch_tokens": args.batch_tokens,
        "runs": {},
    }
    print("training tokens/s at the same global batch (1 process x 2 threads vs 2 processes x 1 thread)")
    for arch in args.archs:
        one = run_training(arch, 1, args.batch_tokens, args.steps, valid)
        two = run_training(arch, 2, args.batch_tokens // 2, args.steps, valid)
        results["runs"][arch] = {"1x2": one, "2x1": two, "speedup": two / one}
        print(f"{arch:12s} 1 process x 2 threads {one:9,.0f}   2 x 1 thread {two:9,.0f}   x{two / one:.2f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()

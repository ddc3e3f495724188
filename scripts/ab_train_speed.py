"""Training speed of this checkout against an older commit, measured side by side (#16).

Each version runs in its own fresh process, with the process-wide settings its `nmt train`
uses (the newer code's allocator setting), the reference model sizes of `nmt bench`, untrained
weights from the same seed, bf16 where the CPU has it, and the same Multi30k batches (encoded
once with the shipped model's SentencePiece model). Runs alternate old, new, old, new, ... so
that load on the machine falls on both alike; the median of each is reported.

    .venv/bin/python scripts/ab_train_speed.py --old 7be7033 --runs 3

Not part of `nmt`: a maintainer's tool for checking a speed change before it is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = {
    "rnn": {"layers": 1, "embed_dim": 256, "hidden_dim": 512, "attention": "additive"},
    "transformer": {"layers": 3, "d_model": 256, "heads": 4, "ff_dim": 1024},
}

# Runs inside each version's tree; uses only what both versions have.
CHILD = r"""
import json, resource, sys, time, torch
from nmt_cli.config import model_config
try:  # the package in folders (#37)
    from nmt_cli.training import step
    from nmt_cli.data.batch import collate
    from nmt_cli.models.seq2seq import build_model
    from nmt_cli.device import resolve_precision
    from nmt_cli.training.allocator import keep_freed_memory
except ImportError:  # the flat package before it
    from nmt_cli import step
    from nmt_cli.data import collate
    from nmt_cli.model import build_model
    from nmt_cli.precision import resolve_precision
    try:
        from nmt_cli.allocator import keep_freed_memory
    except ImportError:
        keep_freed_memory = lambda: None
keep_freed_memory()
arch, sizes, batches_file = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
warmup, threads = int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(1)
model = build_model(model_config(arch, **sizes)).train()
opt = step.make_optimizer(model, 1e-4)
precision = resolve_precision("auto", torch.device("cpu"))
ids = json.load(open(batches_file))
batches = [collate(src, tgt) for src, tgt in ids]
tokens, start = 0, 0.0
for i, batch in enumerate(batches):
    if i == warmup:
        tokens, start = 0, time.perf_counter()
    result = step.train_step(model, opt, [batch], label_smoothing=0.1, clip_norm=1.0, precision=precision)
    tokens += result.tokens
seconds = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"tokens_per_s": tokens / seconds, "precision": precision, "peak_mb": peak_mb}))
"""


def export_tree(ref: str, into: Path) -> Path:
    """The `nmt_cli` package of commit `ref`, unpacked into `into`, with its compiled kernels
    built from its own sources where it has them (as its `pip install` would), so that an
    old commit is measured as its users ran it."""
    archive = into / "tree.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), ref, "nmt_cli"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    package = into / "tree" / "nmt_cli"
    compiler = shutil.which("cc")
    # each kernel the commit has (-fopenmp changes nothing in a source without OpenMP pragmas)
    flags = ["-O3", "-fopenmp", "-lm"]
    for name in ("dropout_kernel", "loss_kernel", "additive_kernel"):
        # the flat package kept its kernels at the top, the regrouped one in accel/
        found = [p for p in (package / f"{name}.c", package / "accel" / f"{name}.c") if p.is_file()]
        if found and compiler:
            source = found[0]
            library = source.parent / f"_{name}{sysconfig.get_config_var('EXT_SUFFIX')}"
            command = [compiler, *flags, "-shared", "-fPIC", "-o", str(library), str(source)]
            subprocess.run(command, check=True)
    return into / "tree"


def write_batches(path: Path, count: int) -> None:
    """`count` Multi30k training batches of 4,096 tokens as id lists, in the shipped subwords."""
    from benchmarks.step_profile import multi30k_batches_ids

    path.write_text(json.dumps(multi30k_batches_ids(ROOT / "models" / "de-en", count, pairs=29000)))


def run_once(tree: Path, arch: str, batches: Path, warmup: int, threads: int) -> tuple[float, float]:
    """(source+target tokens/s, peak resident MB) of one fresh process on `tree`'s code."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    args = [arch, json.dumps(SIZES[arch]), str(batches), str(warmup), str(threads)]
    # cwd=tree: `python -c` puts the working directory first on sys.path, so tree's nmt_cli is imported
    out = subprocess.run(
        [sys.executable, "-c", CHILD, *args], env=env, capture_output=True, text=True, check=True, cwd=tree
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    return float(found["tokens_per_s"]), float(found["peak_mb"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old", default="7be7033", help="commit to compare against")
    parser.add_argument("--arch", action="append", choices=sorted(SIZES), help="default: both")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40)
    # training keeps freed memory for reuse: the first updates still grow the heap (page faults)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = export_tree(args.old, Path(tmp))
        batches = Path(tmp) / "batches.json"
        write_batches(batches, args.warmup + args.steps)
        results = {}
        for arch in args.arch or sorted(SIZES):
            figures: dict[str, list[float]] = {"old": [], "new": []}
            peaks: dict[str, list[float]] = {"old": [], "new": []}
            for _ in range(args.runs):
                for name, tree in (("old", old), ("new", ROOT)):
                    tps, peak = run_once(tree, arch, batches, args.warmup, args.threads)
                    figures[name].append(tps)
                    peaks[name].append(peak)
            old_tps, new_tps = statistics.median(figures["old"]), statistics.median(figures["new"])
            results[arch] = {**figures, "peak_mb": peaks, "speedup": new_tps / old_tps}
            print(
                f"{arch}: {args.old} {old_tps:,.0f} src+tgt tok/s, this checkout {new_tps:,.0f} "
                f"({new_tps / old_tps:.2f}x); runs old {[round(x) for x in figures['old']]}, "
                f"new {[round(x) for x in figures['new']]}; peak MB old {max(peaks['old']):,.0f}, "
                f"new {max(peaks['new']):,.0f}",
                flush=True,
            )
    print(json.dumps(results))


if __name__ == "__main__":
    main()

"""The "scale" part of `make bench`: preparation and training on corpora far bigger than the
bundled ones (issue 14's targets).

Synthetic corpora of 100k and 1M pairs (plus `--scale-pairs N`) are drawn with a fixed seed
from the bundled training data (Multi30k, Tatoeba, newstest 2008-2012) and cached in
.cache/bench/scale. Each measurement runs in a fresh Python process, so that its peak resident
memory (ru_maxrss) is its own:

- streamed preparation (`prepare_data`): seconds, pairs/s, the share of each stage, peak RSS;
  then the same call again, which finds everything prepared and reads no text;
- the in-memory path (`in_memory.load_corpora`) on the same corpus, up to `--scale-in-memory-max`
  pairs: seconds, the share of each stage, peak RSS;
- training on the prepared corpus: time to the first update, training tokens/s, and peak RSS
  over the first `--scale-steps` updates (default Transformer);
- building batches from the memory map vs from Python lists (batches/s), the only part of an
  update the data path changes.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCALE = ROOT / ".cache" / "bench" / "scale"
SOURCES = ("data/multi30k/train", "data/tatoeba/train", "data/newstest/newstest2008-2012")
DEFAULT_PAIRS = (100_000, 1_000_000)


def write_synthetic(prefix: Path, pairs: int, seed: int = 1) -> Path:
    """`pairs` pairs drawn with replacement from the bundled corpora (fixed seed), written once."""
    from nmt_cli.data.parallel import read_parallel

    if Path(f"{prefix}.en").is_file():
        return prefix
    src: list[str] = []
    tgt: list[str] = []
    for source in SOURCES:
        s, t = read_parallel(str(ROOT / source), "de", "en")
        src += s
        tgt += t
    rng = random.Random(seed)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    tmp = {lang: Path(f"{prefix}.{lang}.tmp") for lang in ("de", "en")}
    with open(tmp["de"], "w", encoding="utf-8") as fd, open(tmp["en"], "w", encoding="utf-8") as fe:
        for start in range(0, pairs, 100_000):
            picks = [rng.randrange(len(src)) for _ in range(min(100_000, pairs - start))]
            fd.write("".join(src[i] + "\n" for i in picks))
            fe.write("".join(tgt[i] + "\n" for i in picks))
    for lang, path in tmp.items():
        path.rename(f"{prefix}.{lang}")
    return prefix


def in_child(function: str, *args: Any) -> dict[str, Any]:
    """Call `function` of this module in a fresh Python; its result and its peak RSS in MB."""
    code = (
        "import json, resource, sys\n"
        f"from benchmarks.bench_scale import {function}\n"
        f"r = {function}(*{args!r})\n"
        "r['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(json.dumps(r))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{function}: {out.stderr.strip()[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def data_config(prefix: str, data_dir: str | None = None) -> Any:
    from nmt_cli.config import DataConfig

    return DataConfig(train=prefix, src_lang="de", tgt_lang="en", valid_max_sentences=200, data_dir=data_dir)


def shares(seconds: dict[str, float]) -> dict[str, float]:
    return {k: v / seconds["total"] for k, v in seconds.items() if k != "total"}


def streamed(prefix: str, data_dir: str, threads: int) -> dict[str, Any]:
    """Child: `prepare_data` as training calls it."""
    from nmt_cli.data.prepare import prepare_data

    p = prepare_data(data_config(prefix), Path(data_dir), 1, threads)
    c = p.corpora[0]
    seen = c.pairs + c.skipped_empty + c.dropped_long + c.held_out
    return {
        "seconds": p.seconds,
        "shares": shares(p.seconds),
        "pairs": c.pairs,
        "pairs_per_s": seen / p.seconds["total"],
        "bytes_on_disk": c.bytes_on_disk,
        "reused": c.reused,
    }


def in_memory(prefix: str, threads: int) -> dict[str, Any]:
    """Child: today's in-memory path, stage by stage as `in_memory.load_corpora` runs it."""
    import tempfile
    import time

    from benchmarks.in_memory import build_tokenizer, encode_set, split_holdout
    from nmt_cli.data.corpus import StreamCounts, clean_pairs
    from nmt_cli.data.parallel import read_parallel

    cfg, s = data_config(prefix), {}
    t = time.perf_counter()
    src, tgt = read_parallel(prefix, "de", "en")
    s["read"], t = time.perf_counter() - t, time.perf_counter()
    kept = list(clean_pairs(zip(src, tgt), StreamCounts()))
    src, tgt, _, _ = split_holdout([p[0] for p in kept], [p[1] for p in kept], cfg.valid_holdout, 1)
    s["normalise"], t = time.perf_counter() - t, time.perf_counter()
    tok = build_tokenizer(Path(tempfile.mkdtemp()), src, tgt, cfg, 1)
    s["sentencepiece"], t = time.perf_counter() - t, time.perf_counter()
    data = encode_set(tok, src, tgt)
    data = data.subset([i for i, n in enumerate(data.lengths()) if n - 1 <= cfg.max_len])
    s["encode"] = time.perf_counter() - t
    s["total"] = sum(s.values())
    return {"seconds": s, "shares": shares(s), "pairs": len(data), "pairs_per_s": len(kept) / s["total"]}


class StepClock:
    """A training reporter that notes when updates happen (train.Reporter's shape)."""

    def __init__(self) -> None:
        self.created = time.perf_counter()
        self.first_update: float | None = None
        self.rates: list[float] = []

    def preparing(self, stage: str, done: int, total: int) -> None:
        pass

    def start(self, info: dict[str, Any]) -> None:
        pass

    def step(self, stats: Any) -> None:
        if stats.step == 1 and self.first_update is None:
            self.first_update = time.perf_counter() - self.created
        elif stats.step > 1:
            self.rates.append(stats.tokens_per_s)

    def validation(self, v: Any) -> None:
        pass

    def stop(self) -> None:
        pass


def training(prefix: str, data_dir: str, arch: str, steps: int, threads: int) -> dict[str, Any]:
    """Child: `train` on a prepared corpus; time to the first update, then tokens/s."""
    import tempfile

    from nmt_cli.config import ModelConfig, TrainConfig
    from nmt_cli.training.loop import train

    is_tf = arch == "transformer"
    model = ModelConfig(arch="transformer" if is_tf else "rnn", dropout=0.1 if is_tf else 0.3)
    run = TrainConfig(
        output=tempfile.mkdtemp(),
        max_steps=steps,
        valid_every=10**9,
        threads=threads,
        lr_schedule="inverse-sqrt" if is_tf else "plateau",
    )
    clock = StepClock()
    train(model, data_config(prefix, data_dir), run, reporter=clock)
    return {
        "seconds_to_first_update": clock.first_update,
        "tokens_per_s": sum(clock.rates) / len(clock.rates) if clock.rates else None,
    }


def batch_building(prefix: str, data_dir: str, batches: int) -> dict[str, Any]:
    """Child: batches/s gathered from the memory map vs collated from Python lists."""
    from nmt_cli.data.batch import collate
    from nmt_cli.data.batching import epoch_batches
    from nmt_cli.data.prepare import prepare_data

    p = prepare_data(data_config(prefix), Path(data_dir), 1, 1)
    data, shard = p.train, p.train.shards[0]
    t = time.perf_counter()
    order = epoch_batches(data.lengths(), data.sizes, p.weights, 4096, 1, 0)
    epoch_s, order = time.perf_counter() - t, order[:batches]
    t = time.perf_counter()
    for idx in order:
        data.batch(idx)
    mmap_s = time.perf_counter() - t
    rows = {i: (shard.ids("src", i), shard.ids("tgt", i)) for b in order for i in b.tolist()}
    t = time.perf_counter()
    for idx in order:
        collate([rows[i][0] for i in idx.tolist()], [rows[i][1] for i in idx.tolist()])
    lists_s = time.perf_counter() - t
    return {
        "epoch_order_seconds": epoch_s,
        "memmap_batches_per_s": len(order) / mmap_s,
        "list_batches_per_s": len(order) / lists_s,
    }


def run_scale(
    pairs: list[int], threads: int, steps: int, arch: str, in_memory_max: int, output: Path
) -> dict[str, Any]:
    """Every scale figure for each corpus size, also written to `output` as JSON; figures only
    mean something on a quiet machine."""
    results: dict[str, Any] = {}
    for n in pairs:
        prefix = str(write_synthetic(SCALE / f"synthetic-{n}" / "train", n))
        data_dir = SCALE / f"synthetic-{n}" / "data"
        shutil.rmtree(data_dir, ignore_errors=True)  # prepare from scratch, then once more: all reused
        entry: dict[str, Any] = {"pairs": n, "streamed": in_child("streamed", prefix, str(data_dir), threads)}
        again = in_child("streamed", prefix, str(data_dir), threads)
        entry["streamed_again"] = {"seconds": again["seconds"]["total"], "reused": again["reused"]}
        if n <= in_memory_max:
            entry["in_memory"] = in_child("in_memory", prefix, threads)
        entry["training"] = in_child("training", prefix, str(data_dir), arch, steps, threads)
        entry["batches"] = in_child("batch_building", prefix, str(data_dir), 200)
        results[str(n)] = entry
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2) + "\n")
    return results

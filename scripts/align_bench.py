"""What guided alignment costs (docs/alignment.md), as interleaved ratios in one process:

- training: one update of the real model on real batches of a prepared run, with the guided
  loss (the guide built from the cached links, the align head's weights kept) vs without;
- decoding: greedy translation of the same sentences by two model directories (the guided
  model and the one it was fine-tuned from), alternating.

    python scripts/align_bench.py --run runs/ga-de-en --old models/de-en --new runs/ga-de-en-avg
"""

from __future__ import annotations

import argparse
import gzip
import random
import time
from pathlib import Path

import numpy as np
import torch

from nmt_cli.config import DecodeConfig, RuntimeConfig
from nmt_cli.data.shards import Shard, ShardSet
from nmt_cli.decoding.session import load_for_decoding
from nmt_cli.decoding.translate import translate
from nmt_cli.training import guided
from nmt_cli.training.step import make_optimizer, train_step


def training_ratio(run: Path, rounds: int, batch_pairs: int) -> None:
    """Seconds per update with and without the guided loss, alternating on the same batches."""
    loaded = load_for_decoding(run, RuntimeConfig(threads=1))
    model = loaded.model
    model.train()
    data = run / "data"
    shards = ShardSet([Shard(p, "train") for p in sorted(data.glob("train.*-*"))])
    links = guided.corpus_links(shards, loaded.tokenizer, data)
    with_guide = guided.GuidedShardSet(shards.shards, links)
    opt = make_optimizer(model, 1e-9)  # a step that changes (almost) nothing: both arms see one model
    rng = random.Random(0)
    times = {"plain": 0.0, "guided": 0.0}
    for r in range(rounds):
        idx = np.array(sorted(rng.sample(range(len(shards)), batch_pairs)))
        for name in ("plain", "guided") if r % 2 == 0 else ("guided", "plain"):
            start = time.perf_counter()
            batch = (with_guide if name == "guided" else shards).batch(idx)
            train_step(model, opt, [batch], precision="bf16", alignment_weight=0.1)
            times[name] += time.perf_counter() - start
    ratio = times["guided"] / times["plain"]
    print(f"training update, {rounds} rounds of {batch_pairs} pairs: plain {times['plain']:.1f} s, "
          f"guided {times['guided']:.1f} s, ratio {ratio:.3f}")  # fmt: skip


def decoding_ratio(old: Path, new: Path, src: Path, sentences: int, rounds: int) -> None:
    """Greedy translation time of `new` over `old`, alternating on the same sentences."""
    with gzip.open(src, "rt", encoding="utf-8") as f:
        lines = [next(f).strip() for _ in range(sentences)]
    models = {
        name: load_for_decoding(path, RuntimeConfig(threads=1)) for name, path in (("old", old), ("new", new))
    }
    times = dict.fromkeys(models, 0.0)
    for r in range(rounds):
        for name in ("old", "new") if r % 2 == 0 else ("new", "old"):
            m = models[name]
            start = time.perf_counter()
            list(translate(m.model, m.tokenizer, lines, DecodeConfig(beam_size=1)))
            times[name] += time.perf_counter() - start
    print(f"greedy decoding of {sentences} sentences x {rounds}: old {times['old']:.1f} s, "
          f"new {times['new']:.1f} s, ratio {times['new'] / times['old']:.3f}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--old", type=Path, required=True)
    parser.add_argument("--new", type=Path, required=True)
    parser.add_argument("--src", type=Path, default=Path("data/multi30k/val.de.gz"))
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    torch.set_num_threads(1)
    training_ratio(args.run, args.rounds, 96)
    decoding_ratio(args.old, args.new, args.src, 300, args.rounds)

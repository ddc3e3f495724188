"""Preparation, once per input: stream the corpora, train SentencePiece on a bounded random
sample (vocab.py), encode in chunks into memory-mapped shards (binarize.py): fairseq's
preprocess, in a few functions. This module runs the stages for every corpus of a run and
says what they did.

Each stage bounds memory by something other than the corpus: the sample by `spm_sample`
pairs, encoding by CHUNK_PAIRS, the BLEU subset of validation by `valid_max_sentences`.
Every result is cached (cache.py) under a key of what it depends on, so a second run, a resume
or another run sharing `--data-dir` starts without reading the text again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nmt_cli.config import DataConfig
from nmt_cli.data import cache
from nmt_cli.data.binarize import prepare_corpus, prepare_valid, read_bleu_subset
from nmt_cli.data.corpus import OnProgress
from nmt_cli.data.shards import Shard, ShardSet
from nmt_cli.data.tokenizer import Tokenizer
from nmt_cli.data.vocab import ensure_sentencepiece, tokenizer_digest, tokenizer_in
from nmt_cli.errors import NMTError

MAX_WEIGHT = 1000  # --train-weights: visits of a corpus per epoch


@dataclass
class CorpusSummary:
    """What preparation did with one corpus."""

    prefix: str
    pairs: int
    skipped_empty: int
    dropped_long: int
    src_tokens: int
    tgt_tokens: int
    bytes_on_disk: int
    reused: bool
    held_out: int = 0


@dataclass
class Prepared:
    """Everything training reads: memory-mapped shards, the BLEU subset, the tokenizer."""

    train: ShardSet
    weights: tuple[float, ...]
    valid: ShardSet  # one shard
    valid_src: list[str]  # the fixed BLEU subset of validation: normalised sources ...
    valid_ref: list[str]  # ... and their references
    valid_source: str
    tokenizer: Tokenizer
    spm_dir: Path | None  # where a freshly trained SentencePiece model lives (None: given)
    corpora: list[CorpusSummary]
    valid_summary: CorpusSummary
    seconds: dict[str, float] = field(default_factory=dict)  # per stage, for `make bench`


def directory_bytes(directory: Path) -> int:
    """What a cache entry takes on disk (its files, not subdirectories)."""
    return sum(f.stat().st_size for f in directory.iterdir() if f.is_file())


def summary(prefix: str, entry: cache.Entry, part: str) -> CorpusSummary:
    """What a cache entry's meta.json says of its `part` ("train" or "valid") shard."""
    shard = entry.meta[part]
    return CorpusSummary(
        prefix,
        shard["pairs"],
        entry.meta.get("skipped_empty", 0),
        entry.meta.get("dropped_long", 0) if part == "train" else 0,
        shard["src_tokens"],
        shard["tgt_tokens"],
        directory_bytes(entry.path),
        entry.reused,
        entry.meta.get("held_out", 0),
    )


def prepare_data(
    cfg: DataConfig,
    data_dir: Path,
    seed: int,
    threads: int = 0,
    tokenizer_dir: Path | None = None,
    on_progress: OnProgress | None = None,
) -> Prepared:
    """Prepare (or find prepared) every corpus of `cfg` under `data_dir`.

    SentencePiece is trained on a sample of all training corpora unless `tokenizer_dir` holds
    the model(s) already (a resumed run). Without `cfg.valid`, `valid_holdout` pairs of the
    first corpus are held out for validation.
    """
    # At most MAX_WEIGHT visits per epoch: 1e9 made an epoch's index array of 1e9 copies of the corpus.
    if len(cfg.weights) != len(cfg.prefixes) or not all(0 < w <= MAX_WEIGHT for w in cfg.weights):
        raise NMTError(
            f"--train-weights needs one weight per --train corpus ({len(cfg.prefixes)}), each above 0 "
            f"and at most {MAX_WEIGHT}"
        )
    report = on_progress or (lambda stage, done, total: None)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    known_pairs = None
    spm_dir = None
    if tokenizer_dir is None:
        spm = ensure_sentencepiece(cfg, data_dir, seed, seconds, report)
        spm_dir = tokenizer_dir = spm.path
        known_pairs = spm.meta.get("first_corpus_pairs")
    tok = tokenizer_in(tokenizer_dir, cfg.joint_vocab)
    spm_key = tokenizer_digest(tokenizer_dir, cfg.joint_vocab)
    shards, corpora = [], []
    valid: cache.Entry | None = None
    for k, prefix in enumerate(cfg.prefixes):
        holdout = (cfg.valid_holdout, seed) if k == 0 and not cfg.valid else None
        entry = prepare_corpus(
            prefix,
            cfg,
            tok,
            spm_key=spm_key,
            data_dir=data_dir,
            threads=threads,
            holdout=holdout,
            known_pairs=known_pairs if k == 0 else None,
            seconds=seconds,
            on_progress=report,
        )
        shards.append(Shard(entry.path, "train"))
        corpora.append(summary(prefix, entry, "train"))
        valid = entry if holdout is not None else valid
    if cfg.valid:
        valid = prepare_valid(cfg.valid, cfg, tok, spm_key, data_dir, threads)
    assert valid is not None
    valid_src, valid_ref = read_bleu_subset(valid.path)
    seconds["total"] = time.perf_counter() - start
    return Prepared(
        train=ShardSet(shards),
        weights=cfg.weights,
        valid=ShardSet([Shard(valid.path, "valid")]),
        valid_src=valid_src,
        valid_ref=valid_ref,
        valid_source=cfg.valid or held_out_source(valid.meta, cfg.prefixes[0]),
        tokenizer=tok,
        spm_dir=spm_dir,
        corpora=corpora,
        valid_summary=summary(cfg.valid or cfg.prefixes[0], valid, "valid"),
        seconds=seconds,
    )


def held_out_source(meta: dict[str, Any], prefix: str) -> str:
    """Where validation comes from without --valid, in words for the training summary."""
    if meta.get("valid_on_train"):
        return f"the {meta['train']['pairs']} training pairs"
    return f"{meta['held_out']} pairs held out of {prefix}"

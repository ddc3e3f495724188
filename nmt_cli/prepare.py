"""Preparation, once per input: stream the corpora, train SentencePiece on a bounded random
sample, encode in chunks into memory-mapped shards (fairseq's preprocess, in a few functions).

Each stage bounds memory by something other than the corpus: the sample by `spm_sample`
pairs, encoding by CHUNK_PAIRS, the BLEU subset of validation by `valid_max_sentences`.
Every result is cached (cache.py) under a key of what it depends on, so a second run, a resume
or another run sharing `--data-dir` starts without reading the text again.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nmt_cli import cache
from nmt_cli.config import DataConfig
from nmt_cli.corpus import (
    OnProgress,
    Reservoir,
    StreamCounts,
    clean_pairs,
    holdout_indices,
    input_bytes,
    input_signature,
    stream_pairs,
    stream_raw_pairs,
)
from nmt_cli.data import NORMALIZATION, Tokenizer
from nmt_cli.errors import NMTError
from nmt_cli.shards import Shard, ShardSet, ShardWriter, token_dtype
from nmt_cli.vocab import ensure_sentencepiece, tokenizer_digest, tokenizer_in

CHUNK_PAIRS = 20_000
BLEU_SUBSET_SEED = 0  # the validation BLEU subset is the same whatever the training seed

log = logging.getLogger("nmt_cli")


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


def chunks(pairs: Iterator[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    chunk: list[tuple[str, str]] = []
    for pair in pairs:
        chunk.append(pair)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def encode(
    tok: Tokenizer, pairs: list[tuple[str, str]], threads: int
) -> tuple[list[list[int]], list[list[int]]]:
    """Subword ids of a chunk of normalised pairs, in SentencePiece's own threads."""
    n = threads if threads > 0 else -1
    src = tok.src.encode([p[0] for p in pairs], num_threads=n)
    tgt = tok.tgt.encode([p[1] for p in pairs], num_threads=n)
    return src, tgt


def directory_bytes(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.iterdir() if f.is_file())


def write_bleu_subset(directory: Path, src: list[str], ref: list[str]) -> None:
    text = json.dumps({"src": src, "ref": ref}, ensure_ascii=False)
    (directory / "bleu_subset.json").write_text(text + "\n", encoding="utf-8")


def read_bleu_subset(directory: Path) -> tuple[list[str], list[str]]:
    data = json.loads((directory / "bleu_subset.json").read_text(encoding="utf-8"))
    return list(data["src"]), list(data["ref"])


def entry_name(prefix: str) -> str:
    """A readable cache directory name for a corpus: `data/tatoeba/train` -> `tatoeba.train`."""
    path = Path(prefix)
    return ".".join(part for part in (path.parent.name, path.name) if part)


def count_pairs(prefix: str, cfg: DataConfig) -> int:
    """Non-empty pairs of a corpus, for the held-out split when no sampling pass counted them."""
    counts = StreamCounts()
    return sum(1 for _ in stream_pairs(prefix, cfg.src_lang, cfg.tgt_lang, counts))


def prepare_corpus(
    prefix: str,
    cfg: DataConfig,
    tok: Tokenizer,
    spm_key: list[str],
    data_dir: Path,
    threads: int,
    holdout: tuple[int, int] | None,
    known_pairs: int | None,
    seconds: dict[str, float],
    on_progress: OnProgress,
) -> cache.Entry:
    """One training corpus as a shard (and, with `holdout` = (size, seed), the held-out pairs as
    the validation shard), cached. Memory: one chunk of CHUNK_PAIRS pairs and the held-out pairs."""
    key = cache.cache_key(
        {
            "kind": "train",
            "inputs": input_signature(prefix, cfg),
            "spm": spm_key,
            "max_len": cfg.max_len,
            "holdout": holdout,
            "bleu_subset": cfg.valid_max_sentences if holdout else None,
            "normalization": NORMALIZATION,
        }
    )
    name = f"train.{entry_name(prefix)}"
    hit = cache.lookup(data_dir, name, key)
    if hit is not None:
        return hit

    def make(tmp: Path) -> dict[str, Any]:
        held: set[int] = set()
        if holdout is not None:
            n = known_pairs if known_pairs is not None else count_pairs(prefix, cfg)
            held = holdout_indices(n, *holdout)
        dtype = token_dtype(max(tok.src_vocab_size, tok.tgt_vocab_size))
        writer = ShardWriter(tmp, "train", dtype)
        counts, dropped, position, held_pairs = StreamCounts(), 0, 0, []
        total = input_bytes((prefix,), cfg)
        for chunk in chunks(stream_pairs(prefix, cfg.src_lang, cfg.tgt_lang, counts), CHUNK_PAIRS):
            if held:
                held_pairs += [p for i, p in enumerate(chunk, position) if i in held]
                position, chunk = (
                    position + len(chunk),
                    [p for i, p in enumerate(chunk, position) if i not in held],
                )
            start = time.perf_counter()
            src, tgt = encode(tok, chunk, threads)
            seconds["encode"] = seconds.get("encode", 0.0) + time.perf_counter() - start
            fits = [i for i in range(len(src)) if len(src[i]) <= cfg.max_len and len(tgt[i]) <= cfg.max_len]
            dropped += len(src) - len(fits)
            start = time.perf_counter()
            writer.append([src[i] for i in fits], [tgt[i] for i in fits])
            seconds["write"] = seconds.get("write", 0.0) + time.perf_counter() - start
            on_progress(f"encoding {prefix}", counts.bytes_read, total)
        meta: dict[str, Any] = {
            "prefix": prefix,
            "train": writer.close(),
            "skipped_empty": counts.skipped_empty,
            "dropped_long": dropped,
            "held_out": len(held_pairs),
        }
        if meta["train"]["pairs"] == 0:
            raise NMTError(f"no usable training pairs in {prefix}.{{{cfg.src_lang},{cfg.tgt_lang}}}")
        if holdout is not None:
            pairs: Iterator[tuple[str, str]] = iter(held_pairs)
            if not held_pairs:
                # Too small to hold out 10%: validating on training pairs beats failing after training.
                log.warning(
                    "%s has only %d usable pairs, too few to hold any out: validating on the training "
                    "pairs (pass --valid PREFIX for a real validation set)",
                    prefix,
                    meta["train"]["pairs"],
                )
                pairs = stream_pairs(prefix, cfg.src_lang, cfg.tgt_lang, StreamCounts())
                meta["valid_on_train"] = True
            triples = ((s, t, t) for s, t in pairs)
            meta["valid"] = write_valid(tmp, tok, triples, cfg.valid_max_sentences, threads)
        return meta

    return cache.build(data_dir, name, key, make)


def write_valid(
    directory: Path, tok: Tokenizer, triples: Iterator[tuple[str, str, str]], bleu_max: int, threads: int
) -> dict[str, Any]:
    """The validation shard (loss on every pair) and its BLEU subset: at most `bleu_max` pairs,
    a fixed random choice. `triples` are (source, target, reference), normalised but the last."""
    writer = ShardWriter(directory, "valid", token_dtype(max(tok.src_vocab_size, tok.tgt_vocab_size)))
    subset = Reservoir(bleu_max, random.Random(BLEU_SUBSET_SEED))
    chunk: list[tuple[str, str]] = []

    def flush() -> None:
        writer.append(*encode(tok, chunk, threads))
        chunk.clear()

    for src, tgt, ref in triples:
        chunk.append((src, tgt))
        subset.add(src, ref)
        if len(chunk) == CHUNK_PAIRS:
            flush()
    flush()
    chosen = subset.in_order()
    write_bleu_subset(directory, [c[1] for c in chosen], [c[2] for c in chosen])
    return {**writer.close(), "bleu_pairs": len(chosen)}


def prepare_valid(
    prefix: str, cfg: DataConfig, tok: Tokenizer, spm_key: list[str], data_dir: Path, threads: int
) -> cache.Entry:
    """A --valid corpus as a cached shard. Pairs with an empty side are skipped; none is
    dropped for length, so the loss covers the whole set."""
    key = cache.cache_key(
        {
            "kind": "valid",
            "inputs": input_signature(prefix, cfg),
            "spm": spm_key,
            "bleu_subset": cfg.valid_max_sentences,
            "normalization": NORMALIZATION,
        }
    )
    name = f"valid.{entry_name(prefix)}"
    hit = cache.lookup(data_dir, name, key)
    if hit is not None:
        return hit

    def make(tmp: Path) -> dict[str, Any]:
        counts = StreamCounts()
        triples = clean_pairs(stream_raw_pairs(prefix, cfg.src_lang, cfg.tgt_lang, counts), counts)
        meta = write_valid(tmp, tok, triples, cfg.valid_max_sentences, threads)
        return {"prefix": prefix, "valid": meta, "skipped_empty": counts.skipped_empty}

    return cache.build(data_dir, name, key, make)


def summary(prefix: str, entry: cache.Entry, part: str) -> CorpusSummary:
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
    if len(cfg.weights) != len(cfg.prefixes) or any(w <= 0 for w in cfg.weights):
        raise NMTError(f"--train-weights needs one positive weight per --train corpus ({len(cfg.prefixes)})")
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
            spm_key,
            data_dir,
            threads,
            holdout,
            known_pairs if k == 0 else None,
            seconds,
            report,
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

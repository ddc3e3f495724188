"""Binarising one corpus into a cached shard, as fairseq's binarizer does: stream its clean
pairs, encode them CHUNK_PAIRS at a time in SentencePiece's own threads, drop pairs longer than
--max-len, and append the ids to the shard's memory-mapped arrays (shards.py).

A validation set (pairs held out of the first corpus, or a --valid corpus) becomes a shard
too, for the loss on every pair, plus its fixed BLEU subset (bleu_subset.json). Memory is one
chunk and the held-out pairs, whatever the size of the corpus.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nmt_cli.config import DataConfig
from nmt_cli.data import cache
from nmt_cli.data.corpus import (
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
from nmt_cli.data.shards import ShardWriter, token_dtype
from nmt_cli.data.tokenizer import NORMALIZATION, Tokenizer
from nmt_cli.errors import NMTError
from nmt_cli.io.files import os_errors_as_words

CHUNK_PAIRS = 20_000
BLEU_SUBSET_SEED = 0  # the validation BLEU subset is the same whatever the training seed

log = logging.getLogger("nmt_cli")


def chunks(pairs: Iterator[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    """Consecutive lists of `size` pairs (the last one shorter), so encoding memory is bounded."""
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


def write_bleu_subset(directory: Path, src: list[str], ref: list[str]) -> None:
    text = json.dumps({"src": src, "ref": ref}, ensure_ascii=False)
    with os_errors_as_words("writing", directory / "bleu_subset.json"):
        (directory / "bleu_subset.json").write_text(text + "\n", encoding="utf-8")


def read_bleu_subset(directory: Path) -> tuple[list[str], list[str]]:
    data = json.loads((directory / "bleu_subset.json").read_text(encoding="utf-8"))
    return list(data["src"]), list(data["ref"])


def entry_name(prefix: str) -> str:
    """A readable cache directory name for a corpus: `data/tatoeba/train` -> `tatoeba.train`."""
    path = Path(prefix)
    return ".".join(part for part in (path.parent.name, path.name) if part)


def cached_corpus(
    kind: str,
    prefix: str,
    cfg: DataConfig,
    *,
    spm_key: list[str],
    data_dir: Path,
    settings: dict[str, Any],
    make: Callable[[Path], dict[str, Any]],
) -> cache.Entry:
    """The cache entry `kind.<corpus>`: found by its input files, the SentencePiece model, the
    normalisation and `settings` (the options its contents depend on), or built by `make`."""
    key = cache.cache_key(
        {
            "kind": kind,
            "inputs": input_signature(prefix, cfg),
            "spm": spm_key,
            "normalization": NORMALIZATION,
            **settings,
        }
    )
    return cache.get_or_build(data_dir, f"{kind}.{entry_name(prefix)}", key, make)


def count_pairs(prefix: str, cfg: DataConfig) -> int:
    """Non-empty pairs of a corpus, for the held-out split when no sampling pass counted them."""
    counts = StreamCounts()
    return sum(1 for _ in stream_pairs(prefix, cfg.src_lang, cfg.tgt_lang, counts))


def prepare_corpus(
    prefix: str,
    cfg: DataConfig,
    tok: Tokenizer,
    *,
    spm_key: list[str],
    data_dir: Path,
    threads: int,
    holdout: tuple[int, int] | None,
    known_pairs: int | None,
    seconds: dict[str, float],
    on_progress: OnProgress,
) -> cache.Entry:
    """One training corpus as a shard (and, with `holdout` = (size, seed), the held-out pairs as
    the validation shard), cached. Memory: one chunk of CHUNK_PAIRS pairs and the held-out pairs.
    The seconds spent encoding and writing are added to `seconds` (the preparation's timings)."""

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

    settings = {
        "max_len": cfg.max_len,
        "holdout": holdout,
        "bleu_subset": cfg.valid_max_sentences if holdout else None,
    }
    return cached_corpus(
        "train", prefix, cfg, spm_key=spm_key, data_dir=data_dir, settings=settings, make=make
    )


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

    def make(tmp: Path) -> dict[str, Any]:
        counts = StreamCounts()
        triples = clean_pairs(stream_raw_pairs(prefix, cfg.src_lang, cfg.tgt_lang, counts), counts)
        meta = write_valid(tmp, tok, triples, cfg.valid_max_sentences, threads)
        return {"prefix": prefix, "valid": meta, "skipped_empty": counts.skipped_empty}

    settings = {"bleu_subset": cfg.valid_max_sentences}
    return cached_corpus(
        "valid", prefix, cfg, spm_key=spm_key, data_dir=data_dir, settings=settings, make=make
    )

"""The subword vocabulary of a preparation: SentencePiece trained on a bounded random sample of
the training corpora drawn while streaming them, and cached like the shards it encodes.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nmt_cli.config import DataConfig
from nmt_cli.data import cache
from nmt_cli.data.corpus import (
    OnProgress,
    StreamCounts,
    holdout_indices,
    input_bytes,
    input_signature,
    reservoir_sample,
    stream_pairs,
)
from nmt_cli.data.tokenizer import NORMALIZATION, Tokenizer, spm_files, train_sentencepiece
from nmt_cli.errors import NMTError

PROGRESS_EVERY = 20_000  # pairs between progress reports


def ensure_sentencepiece(
    cfg: DataConfig, data_dir: Path, seed: int, seconds: dict[str, float], on_progress: OnProgress
) -> cache.Entry:
    """The SentencePiece model(s) for these corpora and settings, trained unless cached.

    Memory: the reservoir of `spm_sample` pairs, whatever the corpus size. Pairs that will be
    held out for validation are left out of the sample, as they are left out of training.
    """
    holdout = None if cfg.valid else cfg.valid_holdout
    key = cache.cache_key(
        {
            "kind": "spm",
            "inputs": [input_signature(p, cfg) for p in cfg.prefixes],
            "vocab_size": cfg.vocab_size,
            "joint": cfg.joint_vocab,
            "sample": cfg.spm_sample,
            "seed": seed,
            "holdout": holdout,
            "normalization": NORMALIZATION,
            "trained_from": "memory",  # models trained from a file embed its path (tokenizer.py)
        }
    )

    def make(tmp: Path) -> dict[str, Any]:
        start = time.perf_counter()
        total, done = input_bytes(cfg.prefixes, cfg), 0
        counts = [StreamCounts() for _ in cfg.prefixes]

        def stream() -> Iterator[tuple[str, str]]:
            nonlocal done
            for prefix, c in zip(cfg.prefixes, counts):
                for i, pair in enumerate(stream_pairs(prefix, cfg.src_lang, cfg.tgt_lang, c)):
                    if i % PROGRESS_EVERY == 0:
                        on_progress("sampling for SentencePiece", done + c.bytes_read, total)
                    yield pair
                done += c.bytes_read

        sample = reservoir_sample(stream(), cfg.spm_sample, random.Random(seed))
        first_pairs = counts[0].lines - counts[0].skipped_empty
        if holdout is not None:
            held = holdout_indices(first_pairs, holdout, seed)
            sample = [p for p in sample if p[0] not in held]
        if not sample:
            raise NMTError(
                f"no usable training pairs in {', '.join(cfg.prefixes)} ({cfg.src_lang}, {cfg.tgt_lang})"
            )
        seconds["read+sample"] = time.perf_counter() - start
        start = time.perf_counter()
        on_progress("training SentencePiece", 0, 1)
        src, tgt = [p[1] for p in sample], [p[2] for p in sample]
        if cfg.joint_vocab:
            pieces = train_sentencepiece(src + tgt, tmp / "spm", cfg.vocab_size, seed)
        else:
            pieces = train_sentencepiece(src, tmp / "spm.src", cfg.vocab_size, seed)
            train_sentencepiece(tgt, tmp / "spm.tgt", cfg.vocab_size, seed)
        seconds["sentencepiece"] = time.perf_counter() - start
        if pieces != cfg.vocab_size:  # SentencePiece fits the size to the corpus (hard_vocab_limit off)
            logging.getLogger("nmt_cli").warning(
                "--vocab-size %d: the corpus gave %d subwords, which the model uses", cfg.vocab_size, pieces
            )
        on_progress("training SentencePiece", 1, 1)
        return {"pieces": pieces, "sample_pairs": len(sample), "first_corpus_pairs": first_pairs}

    return cache.get_or_build(data_dir, "spm", key, make)


def tokenizer_in(directory: Path, joint: bool) -> Tokenizer:
    files = spm_files(joint)
    return Tokenizer(directory / files["src"], directory / files["tgt"])


def tokenizer_digest(tok_dir: Path, joint: bool) -> list[str]:
    return [cache.file_digest(tok_dir / f) for f in sorted(set(spm_files(joint).values()))]

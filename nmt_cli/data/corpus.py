"""Turning raw parallel text into clean pairs, by one rule (`clean_pairs`), as a stream whose
memory does not grow with the corpus (preparation, see prepare.py and binarize.py).

The in-memory path that preparation replaced lives on in benchmarks/in_memory.py, as the
baseline of `python -m benchmarks --part scale` and the reference the stream is tested against.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from nmt_cli.config import DataConfig
from nmt_cli.data import cache
from nmt_cli.data.parallel import corpus_file
from nmt_cli.data.tokenizer import normalize
from nmt_cli.errors import NMTError
from nmt_cli.io.lines import TextStream

log = logging.getLogger("nmt_cli")


OnProgress = Callable[[str, int, int], None]  # (stage, bytes done, bytes in all), for progress bars


def input_signature(prefix: str, cfg: DataConfig) -> list[dict[str, Any]]:
    """What identifies a corpus's two files for the cache, without reading them."""
    return [cache.file_signature(corpus_file(prefix, lang)) for lang in (cfg.src_lang, cfg.tgt_lang)]


def input_bytes(prefixes: tuple[str, ...], cfg: DataConfig) -> int:
    return sum(corpus_file(p, lang).stat().st_size for p in prefixes for lang in (cfg.src_lang, cfg.tgt_lang))


@dataclass
class StreamCounts:
    """What a stream has seen so far: lines, pairs skipped as empty, bytes read on disk."""

    lines: int = 0
    skipped_empty: int = 0
    bytes_read: int = 0


def stream_raw_pairs(
    prefix: str, src_lang: str, tgt_lang: str, counts: StreamCounts
) -> Iterator[tuple[str, str]]:
    """Both sides of a line-aligned corpus, pair by pair; unequal line counts are an NMTError."""
    src_path, tgt_path = corpus_file(prefix, src_lang), corpus_file(prefix, tgt_lang)
    src_stream, tgt_stream = TextStream(src_path), TextStream(tgt_path)
    src_it, tgt_it = iter(src_stream), iter(tgt_stream)
    for src in src_it:
        tgt = next(tgt_it, None)
        if tgt is None:
            n_src = counts.lines + 1 + sum(1 for _ in src_it)
            raise NMTError(f"line counts differ: {src_path} has {n_src} lines, {tgt_path} has {counts.lines}")
        counts.lines += 1
        if counts.lines % 4096 == 0:
            counts.bytes_read = src_stream.position + tgt_stream.position
        yield src, tgt
    rest = sum(1 for _ in tgt_it)
    if rest:
        raise NMTError(
            f"line counts differ: {src_path} has {counts.lines} lines, {tgt_path} has {counts.lines + rest}"
        )
    counts.bytes_read = src_path.stat().st_size + tgt_path.stat().st_size


def clean_pairs(pairs: Iterable[tuple[str, str]], counts: StreamCounts) -> Iterator[tuple[str, str, str]]:
    """The cleaning rule: both sides normalised, and a pair with a side left empty skipped (and
    counted), since it teaches nothing. Each kept pair comes with its raw target, which a
    validation set keeps as the BLEU reference (scored as written)."""
    for src, tgt in pairs:
        s, t = normalize(src), normalize(tgt)
        if s and t:
            yield s, t, tgt
        else:
            counts.skipped_empty += 1


def stream_pairs(
    prefix: str, src_lang: str, tgt_lang: str, counts: StreamCounts
) -> Iterator[tuple[str, str]]:
    """Normalised pairs with both sides non-empty, in corpus order; the rest are counted as skipped."""
    for src, tgt, _ in clean_pairs(stream_raw_pairs(prefix, src_lang, tgt_lang, counts), counts):
        yield src, tgt


class Reservoir:
    """A uniform random sample of `size` items from a stream of unknown length, in one pass
    (Vitter's algorithm R): memory is bounded by `size`, not by the stream. A stream shorter
    than `size` is kept whole and in order, so a small corpus trains SentencePiece on exactly
    its text, as the in-memory path does.
    """

    def __init__(self, size: int, rng: random.Random) -> None:
        self.size, self.rng, self.seen = size, rng, 0
        self.items: list[tuple[int, str, str]] = []  # (position in the stream, source, target)

    def add(self, src: str, tgt: str) -> None:
        i = self.seen
        self.seen += 1
        if i < self.size:
            self.items.append((i, src, tgt))
        else:
            j = self.rng.randrange(i + 1)
            if j < self.size:
                self.items[j] = (i, src, tgt)

    def in_order(self) -> list[tuple[int, str, str]]:
        return sorted(self.items)


def reservoir_sample(
    pairs: Iterable[tuple[str, str]], size: int, rng: random.Random
) -> list[tuple[int, str, str]]:
    """A Reservoir filled from `pairs`: (position, source, target) in stream order."""
    reservoir = Reservoir(size, rng)
    for src, tgt in pairs:
        reservoir.add(src, tgt)
    return reservoir.in_order()


def holdout_indices(n_pairs: int, size: int, seed: int) -> set[int]:
    """The positions of `size` random pairs (at most 10% of the corpus) held out for validation."""
    return set(random.Random(seed).sample(range(n_pairs), min(size, n_pairs // 10)))


def check_corpus_files(cfg: DataConfig) -> None:
    """Fail on a missing corpus file before anything is created or removed."""
    for prefix in (*cfg.prefixes, cfg.valid):
        if prefix is not None:
            corpus_file(prefix, cfg.src_lang)
            corpus_file(prefix, cfg.tgt_lang)

"""Turning raw parallel text into clean pairs, by one rule (`clean_pairs`): as a stream whose
memory does not grow with the corpus (preparation, see prepare.py and binarize.py), or in memory
(`load_corpora`: the path preparation replaced, kept as the baseline of `nmt bench --part scale`
and as the reference the streamed path is tested against).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nmt_cli.config import DataConfig
from nmt_cli.data import cache
from nmt_cli.data.parallel import corpus_file, read_parallel
from nmt_cli.data.tokenizer import Tokenizer, normalize, train_sentencepiece
from nmt_cli.errors import NMTError
from nmt_cli.io.output import TextStream

log = logging.getLogger("nmt_cli")


@dataclass
class ParallelSet:
    """Raw lines (for BLEU) and their subword ids (for training), pair for pair."""

    src_lines: list[str]
    tgt_lines: list[str]
    src_ids: list[list[int]]
    tgt_ids: list[list[int]]

    def __len__(self) -> int:
        return len(self.src_ids)

    def subset(self, idx: list[int]) -> ParallelSet:
        return ParallelSet(
            [self.src_lines[i] for i in idx],
            [self.tgt_lines[i] for i in idx],
            [self.src_ids[i] for i in idx],
            [self.tgt_ids[i] for i in idx],
        )

    def lengths(self) -> list[int]:
        """The longer side of each pair, what a padded batch pays for."""
        return [max(len(s), len(t)) + 1 for s, t in zip(self.src_ids, self.tgt_ids)]


@dataclass
class CorpusStats:
    train_pairs: int
    skipped_empty: int
    dropped_long: int
    valid_pairs: int
    valid_source: str


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


def split_holdout(
    src: list[str], tgt: list[str], size: int, seed: int
) -> tuple[list[str], list[str], list[str], list[str]]:
    """Hold out `size` random pairs (at most 10% of the corpus) for validation."""
    held = holdout_indices(len(src), size, seed)
    train = [i for i in range(len(src)) if i not in held]
    hold = sorted(held)
    return (
        [src[i] for i in train],
        [tgt[i] for i in train],
        [src[i] for i in hold],
        [tgt[i] for i in hold],
    )


def spm_files(joint: bool) -> dict[str, str]:
    """The fixed names of a model directory's SentencePiece model(s)."""
    return (
        {"src": "spm.model", "tgt": "spm.model"}
        if joint
        else {"src": "spm.src.model", "tgt": "spm.tgt.model"}
    )


def build_tokenizer(model_dir: Path, src: list[str], tgt: list[str], cfg: DataConfig, seed: int) -> Tokenizer:
    """Train SentencePiece on the training text (jointly on both sides by default)."""
    files = spm_files(cfg.joint_vocab)
    if cfg.joint_vocab:
        size = train_sentencepiece(src + tgt, model_dir / "spm", cfg.vocab_size, seed)
    else:
        size = train_sentencepiece(src, model_dir / "spm.src", cfg.vocab_size, seed)
        train_sentencepiece(tgt, model_dir / "spm.tgt", cfg.vocab_size, seed)
    if size != cfg.vocab_size:
        log.warning("vocabulary size %d instead of %d (the corpus decides)", size, cfg.vocab_size)
    return Tokenizer(model_dir / files["src"], model_dir / files["tgt"])


def encode_set(tok: Tokenizer, src: list[str], tgt: list[str]) -> ParallelSet:
    return ParallelSet(src, tgt, tok.encode_src(src), tok.encode_tgt(tgt))


def load_corpora(
    cfg: DataConfig, model_dir: Path, seed: int, tokenizer: Tokenizer | None = None
) -> tuple[ParallelSet, ParallelSet, Tokenizer, CorpusStats]:
    """Read, clean, split, (train SentencePiece unless given a tokenizer) and encode, all in memory."""
    counts = StreamCounts()
    kept = list(clean_pairs(zip(*read_parallel(cfg.prefixes[0], cfg.src_lang, cfg.tgt_lang)), counts))
    src, tgt, skipped = [p[0] for p in kept], [p[1] for p in kept], counts.skipped_empty
    if cfg.valid:
        v_src, v_tgt = read_parallel(cfg.valid, cfg.src_lang, cfg.tgt_lang)
        valid_source = cfg.valid
    else:
        src, tgt, v_src, v_tgt = split_holdout(src, tgt, cfg.valid_holdout, seed)
        valid_source = f"{len(v_src)} pairs held out of {cfg.prefixes[0]}"
    if not src:
        raise NMTError(f"no usable training pairs in {cfg.prefixes[0]}.{{{cfg.src_lang},{cfg.tgt_lang}}}")
    if not v_src:
        # Too small to hold out 10%: validating on training pairs beats failing after training.
        log.warning(
            "%s has only %d usable pairs, too few to hold any out: validating on the training "
            "pairs (pass --valid PREFIX for a real validation set)",
            cfg.prefixes[0],
            len(src),
        )
        v_src, v_tgt, valid_source = list(src), list(tgt), f"the {len(src)} training pairs"
    tok = tokenizer or build_tokenizer(model_dir, src, tgt, cfg, seed)
    train = encode_set(tok, src, tgt)
    fits = [i for i in range(len(train)) if max(len(train.src_ids[i]), len(train.tgt_ids[i])) <= cfg.max_len]
    dropped = len(train) - len(fits)
    train = train.subset(fits)
    v_kept = list(clean_pairs(zip(v_src, v_tgt), StreamCounts()))
    if not v_kept:
        raise NMTError(f"no usable validation pairs in {valid_source}: every pair has an empty side")
    valid = encode_set(tok, [p[0] for p in v_kept], [p[2] for p in v_kept])
    stats = CorpusStats(len(train), skipped, dropped, len(valid), valid_source)
    return train, valid, tok, stats


def check_corpus_files(cfg: DataConfig) -> None:
    """Fail on a missing corpus file before anything is created or removed."""
    for prefix in (*cfg.prefixes, cfg.valid):
        if prefix is not None:
            corpus_file(prefix, cfg.src_lang)
            corpus_file(prefix, cfg.tgt_lang)

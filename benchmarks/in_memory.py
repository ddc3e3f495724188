"""The in-memory corpus path that preparation replaced (`load_corpora`): read, clean, split,
train SentencePiece and encode, all in memory. Kept outside the package as the baseline of
`python -m benchmarks --part scale` and as the reference the streamed path is tested against.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from nmt_cli.config import DataConfig
from nmt_cli.data.corpus import StreamCounts, clean_pairs, holdout_indices
from nmt_cli.data.parallel import read_parallel
from nmt_cli.data.tokenizer import Tokenizer, spm_files, train_sentencepiece
from nmt_cli.errors import NMTError

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

"""Guided alignment training (Garg et al., 2019; Marian's --guided-alignment): the word links of
the training corpus, computed once by eflomal and cached with the prepared shards as subword
links, become a target distribution for one cross-attention head, trained towards it by an
extra cross-entropy term: loss = CE(translation) + λ · Σ_t −Σ_s G[t, s] · log A[t, s].

G's row t spreads 1 uniformly over the source subwords linked to target subword t (rows
without a link add nothing); EOS is linked to EOS. The head is the model's align layer and
head (ModelConfig.align_layer / align_head), which `nmt align` then reads by default.

With ModelConfig.align_shift the links of target subword t guide the step that reads it as
input (row t + 1), so the head aligns a word it has seen rather than one it is about to emit,
as Garg et al.'s full-context alignment does; EOS, read by no step, is then left unguided.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nmt_cli.alignment.word_align import (
    MISSING,
    eflomal_available,
    eflomal_links,
    subword_links,
    unit_words,
    units,
)
from nmt_cli.data import cache
from nmt_cli.data.batch import Batch
from nmt_cli.data.shards import Shard, ShardSet
from nmt_cli.data.tokenizer import Tokenizer
from nmt_cli.errors import NMTError

log = logging.getLogger("nmt_cli")
GUIDE_VERSION = 2  # bump when the word units or the mapping change: the cache key holds it


class GuidedShardSet(ShardSet):
    """Shards whose batches carry `guide` (B, T, S): the target attention of each target row."""

    def __init__(
        self, shards: Sequence[Shard], links: Sequence[tuple[np.ndarray, np.ndarray]], shift: bool = False
    ) -> None:
        super().__init__(shards)
        self.links = list(links)  # per shard: flat (source, target) pairs, per-pair offsets into them
        self.shift = shift  # guide row t + 1 (the step reading target t) instead of row t

    def batch(self, idx: np.ndarray) -> Batch:
        b = super().batch(idx)
        idx = np.sort(np.asarray(idx, dtype=np.int64))
        src_len = b.src_mask.sum(1).numpy() - 1  # real source tokens before EOS
        tgt_len = (b.tgt_out != 0).sum(1).numpy() - 1
        guide = np.zeros((len(idx), b.tgt_out.size(1), b.src.size(1)), dtype=np.float32)
        which = np.searchsorted(self.starts, idx, side="right") - 1
        for row, (k, i) in enumerate(zip(which, idx - self.starts[which], strict=True)):
            flat, offsets = self.links[k]
            pairs = np.asarray(flat[offsets[i] : offsets[i + 1]], dtype=np.int64).reshape(-1, 2)
            if self.shift:
                guide[row, pairs[:, 1] + 1, pairs[:, 0]] = 1.0
            else:
                guide[row, pairs[:, 1], pairs[:, 0]] = 1.0
                guide[row, tgt_len[row], src_len[row]] = 1.0  # EOS to EOS
        guide /= np.maximum(guide.sum(2, keepdims=True), 1.0)
        b.guide = torch.from_numpy(guide)
        return b


def alignment_loss(attention: Tensor, guide: Tensor) -> Tensor:
    """Σ over target rows of the cross-entropy of `attention` (B, T, S) against `guide`."""
    return -(guide * attention.float().clamp_min(1e-6).log()).sum()


def piece_table(sp: object) -> list[str]:
    """Every piece of a SentencePiece model, by id."""
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]  # type: ignore[attr-defined]


def shard_words(shard: Shard, side: str, pieces: list[str]) -> tuple[list[str], list[list[list[int]]]]:
    """Each pair's alignment words of one side, as text for eflomal and as piece groups."""
    tokens, offsets = shard.arrays[f"{side}.tokens"], shard.arrays[f"{side}.offsets"]
    flat = np.asarray(tokens).tolist()
    bounds = np.asarray(offsets).tolist()
    texts, groups = [], []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        p = [pieces[i] for i in flat[a:b]]
        g = units(p)
        texts.append(" ".join(unit_words(p, g)))
        groups.append(g)
    return texts, groups


def write_links(directory: Path, k: int, links: list[set[tuple[int, int]]]) -> None:
    """Shard k's subword links as flat uint16 (source, target) pairs plus per-pair offsets."""
    counts = np.array([len(x) for x in links], dtype=np.int64)
    flat = np.array([v for x in links for pair in sorted(x) for v in pair], dtype=np.uint16)
    np.save(directory / f"guide.{k}.links.npy", flat)
    np.save(directory / f"guide.{k}.offsets.npy", np.concatenate([[0], 2 * np.cumsum(counts)]))


def corpus_links(shards: ShardSet, tok: Tokenizer, data_dir: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """The subword links of every shard, aligned by eflomal once and cached under `data_dir`."""
    keys = [cache.read_meta(s.directory) or {} for s in shards.shards]
    key = cache.cache_key({"kind": "guide", "version": GUIDE_VERSION, "shards": [m.get("key") for m in keys]})

    def make(tmp: Path) -> dict[str, object]:
        start = time.perf_counter()
        src_pieces, tgt_pieces = piece_table(tok.src), piece_table(tok.tgt)
        words = [
            (shard_words(s, "src", src_pieces), shard_words(s, "tgt", tgt_pieces)) for s in shards.shards
        ]
        src_text = [t for (src, _), _ in words for t in src]
        tgt_text = [t for _, (tgt, _) in words for t in tgt]
        log.info("aligning %d training pairs with eflomal", len(src_text))
        word_links = iter(eflomal_links(src_text, tgt_text))
        for k, ((_, src_groups), (_, tgt_groups)) in enumerate(words):
            sub = [
                subword_links(next(word_links), sg, tg) for sg, tg in zip(src_groups, tgt_groups, strict=True)
            ]
            write_links(tmp, k, sub)
        return {"pairs": len(src_text), "seconds": round(time.perf_counter() - start, 1)}

    entry = cache.get_or_build(data_dir, "guide", key, make)
    log.info(
        "guided alignment: links of %d pairs (%s s to align)", entry.meta["pairs"], entry.meta["seconds"]
    )
    return [
        (
            np.load(entry.path / f"guide.{k}.links.npy", mmap_mode="r"),
            np.load(entry.path / f"guide.{k}.offsets.npy"),
        )
        for k in range(len(shards.shards))
    ]


def guided_shards(
    shards: ShardSet, tok: Tokenizer, data_dir: Path, source: str, shift: bool = False
) -> ShardSet:
    """`shards` with alignment guides from `source` ("eflomal"), or as they are for "none" or
    when eflomal is missing (said in one line); `shift` guides the step reading each word."""
    if source == "none":
        return shards
    if source != "eflomal":
        raise NMTError(f"--guided-alignment takes eflomal or none, not {source!r}")
    if not eflomal_available():
        log.warning(MISSING)
        return shards
    return GuidedShardSet(shards.shards, corpus_links(shards, tok, data_dir), shift)

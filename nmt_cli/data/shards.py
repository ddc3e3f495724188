"""Binarised corpora on disk, read through memory maps (after fairseq's preprocess + mmap datasets).

A shard is one corpus after preparation: the subword ids of all sources in one flat array, of
all targets in another, plus per-pair offsets and lengths, each an `.npy` file opened with
`np.load(mmap_mode="r")`. Memory then holds the pages a batch touches, not the corpus. A
shard directory is complete only when its `meta.json` exists and names its cache key
(cache.py writes it last, after every array is on disk).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from nmt_cli.config import BOS_ID, EOS_ID, PAD_ID
from nmt_cli.io.files import os_errors_as_words

if TYPE_CHECKING:
    from nmt_cli.data.batch import Batch

HEADER_BYTES = 128  # a fixed .npy header, rewritten with the true length when the file is closed
SIDES = ("src", "tgt")


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 while every id fits (vocabularies below 65,536 pieces), else uint32."""
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.uint32)


def npy_header(dtype: np.dtype, length: int) -> bytes:
    """A version 1.0 .npy header of exactly HEADER_BYTES for a 1-D array."""
    text = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (length,)})
    body = text.ljust(HEADER_BYTES - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body.encode("latin1")


class NpyAppender:
    """A 1-D .npy file written chunk by chunk, when its final length is not known in advance."""

    def __init__(self, path: Path, dtype: np.dtype) -> None:
        self.path, self.dtype, self.length = path, np.dtype(dtype), 0
        with os_errors_as_words("writing", path):
            self.file: IO[bytes] = open(path, "wb")  # noqa: SIM115 (closed by close())
            self.file.write(npy_header(self.dtype, 0))

    def append(self, values: np.ndarray) -> None:
        with os_errors_as_words("writing", self.path):  # a full disk names the shard
            self.file.write(np.ascontiguousarray(values, dtype=self.dtype).tobytes())
        self.length += len(values)

    def close(self) -> None:
        with os_errors_as_words("writing", self.path):
            self.file.seek(0)
            self.file.write(npy_header(self.dtype, self.length))
            self.file.close()


class ShardWriter:
    """Appends encoded pairs to a shard's arrays; memory is one chunk, whatever the corpus."""

    def __init__(self, directory: Path, name: str, dtype: np.dtype) -> None:
        self.directory, self.name, self.dtype = directory, name, np.dtype(dtype)
        self.pairs = 0
        self.tokens = dict.fromkeys(SIDES, 0)
        self.files = {
            f"{side}.{kind}": NpyAppender(directory / f"{name}.{side}.{kind}.npy", dt)
            for side in SIDES
            for kind, dt in (
                ("tokens", self.dtype),
                ("offsets", np.dtype(np.int64)),
                ("lengths", np.dtype(np.uint32)),
            )
        }
        for side in SIDES:
            self.files[f"{side}.offsets"].append(np.zeros(1, dtype=np.int64))

    def append(self, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]]) -> None:
        """Add pairs (lists of ids, without BOS/EOS) in order."""
        for side, rows in zip(SIDES, (src, tgt)):
            lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
            total = int(lengths.sum())
            flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=self.dtype, count=total)
            self.files[f"{side}.tokens"].append(flat)
            self.files[f"{side}.offsets"].append(self.tokens[side] + np.cumsum(lengths))
            self.files[f"{side}.lengths"].append(lengths)
            self.tokens[side] += total
        self.pairs += len(src)

    def close(self) -> dict[str, Any]:
        """Finish the files; the returned summary goes into the shard directory's meta.json."""
        for f in self.files.values():
            f.close()
        return {
            "pairs": self.pairs,
            "dtype": self.dtype.name,
            **{f"{s}_tokens": n for s, n in self.tokens.items()},
        }


class Shard:
    """A prepared corpus opened as memory maps: ids, offsets and lengths of each side."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory, self.name = directory, name
        self.arrays = {
            f"{side}.{kind}": np.load(directory / f"{name}.{side}.{kind}.npy", mmap_mode="r")
            for side in SIDES
            for kind in ("tokens", "offsets", "lengths")
        }

    def __len__(self) -> int:
        return len(self.arrays["src.lengths"])

    def lengths(self) -> np.ndarray:
        """The cost of each pair in a padded batch: its longer side plus BOS/EOS."""
        return np.maximum(self.arrays["src.lengths"], self.arrays["tgt.lengths"]).astype(np.uint32) + 1

    def rows(self, side: str, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ids of rows `idx` of one side as a flat array, and each row's length."""
        starts = np.asarray(self.arrays[f"{side}.offsets"][idx], dtype=np.int64)
        lengths = np.asarray(self.arrays[f"{side}.lengths"][idx], dtype=np.int64)
        within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        flat = self.arrays[f"{side}.tokens"][np.repeat(starts, lengths) + within]
        return np.asarray(flat, dtype=np.int64), lengths

    def ids(self, side: str, i: int) -> list[int]:
        """One row as a list, for tests and inspection."""
        flat, _ = self.rows(side, np.array([i]))
        return flat.tolist()


def padded(flat: np.ndarray, lengths: np.ndarray, prefix: int | None, suffix: int | None) -> np.ndarray:
    """Rows given flat + lengths as a (B, L) int64 array, with optional BOS before and EOS after."""
    extra = (prefix is not None) + (suffix is not None)
    out = np.full((len(lengths), max(int(lengths.max(initial=0)) + extra, 1)), PAD_ID, dtype=np.int64)
    row = np.repeat(np.arange(len(lengths)), lengths)
    col = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths) + (prefix is not None)
    out[row, col] = flat
    if prefix is not None:
        out[:, 0] = prefix
    if suffix is not None:
        out[np.arange(len(lengths)), lengths + (prefix is not None)] = suffix
    return out


class ShardSet:
    """Several shards seen as one corpus: global index i is pair i of the concatenation."""

    def __init__(self, shards: Sequence[Shard]) -> None:
        self.shards = list(shards)
        self.sizes = [len(s) for s in self.shards]
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)

    def __len__(self) -> int:
        return int(self.starts[-1])

    def lengths(self) -> np.ndarray:
        """Pair costs of every shard, concatenated: 4 bytes a pair in memory."""
        return np.concatenate([s.lengths() for s in self.shards]) if self.shards else np.zeros(0, np.uint32)

    def rows(self, side: str, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flat ids and lengths of global rows `idx`, which must be sorted."""
        which = np.searchsorted(self.starts, idx, side="right") - 1
        parts = [self.shards[k].rows(side, idx[which == k] - self.starts[k]) for k in np.unique(which)]
        if len(parts) == 1:
            return parts[0]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def batch(self, idx: np.ndarray) -> Batch:
        """The training tensors of rows `idx` (in increasing index order, which also reads the
        memory map front to back): source+EOS, BOS+target, target+EOS, as data.collate builds."""
        import torch

        from nmt_cli.data.batch import Batch

        idx = np.sort(np.asarray(idx, dtype=np.int64))
        src_flat, src_len = self.rows("src", idx)
        tgt_flat, tgt_len = self.rows("tgt", idx)
        src = torch.from_numpy(padded(src_flat, src_len, None, EOS_ID))
        tgt_in = torch.from_numpy(padded(tgt_flat, tgt_len, BOS_ID, None))
        tgt_out = torch.from_numpy(padded(tgt_flat, tgt_len, None, EOS_ID))
        return Batch(
            src=src,
            src_mask=src != PAD_ID,
            tgt_in=tgt_in,
            tgt_out=tgt_out,
            n_src_tokens=int(src_len.sum()) + len(idx),
            n_tgt_tokens=int(tgt_len.sum()) + len(idx),
        )

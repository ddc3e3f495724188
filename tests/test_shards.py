"""Memory-mapped shards: the .npy files, the rows they give back, batches equal to collate's."""

import numpy as np
import torch

from nmt_cli.data.batch import collate
from nmt_cli.data.shards import NpyAppender, Shard, ShardSet, ShardWriter, token_dtype


def random_rows(n, vocab, seed):
    rng = np.random.default_rng(seed)
    return [rng.integers(4, vocab, rng.integers(1, 12)).tolist() for _ in range(n)]


def write_shard(directory, src, tgt, dtype=np.uint16, chunk=7):
    directory.mkdir(parents=True, exist_ok=True)
    w = ShardWriter(directory, "train", np.dtype(dtype))
    for i in range(0, len(src), chunk):
        w.append(src[i : i + chunk], tgt[i : i + chunk])
    return w.close()


def test_appended_chunks_read_back_through_np_load_memory_maps(tmp_path):
    path = tmp_path / "a.npy"
    a = NpyAppender(path, np.dtype(np.uint32))
    chunks = [np.arange(5), np.arange(0), np.arange(70000, 70010)]
    for c in chunks:
        a.append(c)
    a.close()
    mapped = np.load(path, mmap_mode="r")
    assert isinstance(mapped, np.memmap) and mapped.dtype == np.uint32
    assert mapped.tolist() == np.concatenate(chunks).tolist()
    empty = tmp_path / "e.npy"
    NpyAppender(empty, np.dtype(np.uint16)).close()
    assert np.load(empty, mmap_mode="r").shape == (0,)


def test_ids_fit_the_smallest_dtype():
    assert token_dtype(8000) == np.uint16 and token_dtype(65536) == np.uint16
    assert token_dtype(65537) == np.uint32


def test_rows_come_back_as_written(tmp_path):
    src, tgt = random_rows(50, 300, 1), random_rows(50, 300, 2)
    meta = write_shard(tmp_path, src, tgt)
    assert meta["pairs"] == 50 and meta["src_tokens"] == sum(map(len, src))
    shard = Shard(tmp_path, "train")
    assert len(shard) == 50
    assert [shard.ids("src", i) for i in range(50)] == src
    assert [shard.ids("tgt", i) for i in range(50)] == tgt
    assert shard.lengths().tolist() == [max(len(s), len(t)) + 1 for s, t in zip(src, tgt)]


def test_a_batch_across_shards_equals_collate_of_the_same_pairs(tmp_path):
    src_a, tgt_a = random_rows(30, 70000, 3), random_rows(30, 70000, 4)
    src_b, tgt_b = random_rows(20, 70000, 5), random_rows(20, 70000, 6)
    write_shard(tmp_path / "a", src_a, tgt_a, np.uint32)
    write_shard(tmp_path / "b", src_b, tgt_b, np.uint32)
    both = ShardSet([Shard(tmp_path / "a", "train"), Shard(tmp_path / "b", "train")])
    assert len(both) == 50 and both.lengths().shape == (50,)
    src, tgt = src_a + src_b, tgt_a + tgt_b
    idx = np.array([44, 3, 29, 30, 0, 12])
    got = both.batch(idx)
    rows = sorted(idx.tolist())  # a batch reads its rows in index order
    want = collate([src[i] for i in rows], [tgt[i] for i in rows])
    for name in ("src", "src_mask", "tgt_in", "tgt_out"):
        assert torch.equal(getattr(got, name), getattr(want, name)), name
    assert (got.n_src_tokens, got.n_tgt_tokens) == (want.n_src_tokens, want.n_tgt_tokens)

"""Token-count batching in NumPy over a lengths array, as fairseq's batch_by_size.

An epoch is a global list of index arrays and a pure function of (seed, epoch): a resumed run
replays it batch for batch, and data-parallel ranks deal themselves micro-batches from the same
list (distributed.share).
No Python object is made per example; the loops run once per batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

POOL = 1 << 20  # pairs sorted by length together: large enough for little padding, still random


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The random stream of one epoch, independent of everything that came before."""
    return np.random.default_rng([seed, epoch])


def epoch_examples(sizes: Sequence[int], weights: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """The global indices one epoch visits: corpus k (of `sizes[k]` pairs) `weights[k]` times.

    A whole weight repeats every pair of the corpus; a fraction adds (or, below 1, keeps) a
    random subset of that share, drawn anew each epoch. With all weights 1 every pair appears
    exactly once.
    """
    dtype = index_dtype(sum(sizes))
    parts: list[np.ndarray] = []
    start = 0
    for n, weight in zip(sizes, weights):
        whole, fraction = int(weight), weight - int(weight)
        parts += [np.arange(start, start + n, dtype=dtype)] * whole
        extra = int(round(fraction * n))
        if extra:
            parts.append((start + np.sort(rng.choice(n, extra, replace=False))).astype(dtype))
        start += n
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def index_dtype(pairs: int) -> np.dtype:
    """int32 while every pair index fits: half the memory of int64 for an epoch's order and its
    batches (100 MB less at 5M pairs)."""
    return np.dtype(np.int32 if pairs < 1 << 31 else np.int64)


def cut_sorted(lengths: np.ndarray, batch_tokens: int) -> np.ndarray:
    """Batch ends over lengths sorted ascending: a batch grows while longest x size fits the budget.

    A pair longer than the whole budget still gets a batch of its own.
    """
    ends: list[int] = []
    start, n = 0, len(lengths)
    while start < n:
        cap = max(1, batch_tokens // max(int(lengths[start]), 1))
        window = lengths[start : start + cap].astype(np.int64)
        # window[j] * (j + 1) never decreases, so the pairs that fit are a prefix.
        fits = int(np.count_nonzero(window * np.arange(1, len(window) + 1) <= batch_tokens))
        start += max(fits, 1)
        ends.append(start)
    return np.asarray(ends, dtype=np.int64)


def token_batches(
    examples: np.ndarray,
    lengths: np.ndarray,
    batch_tokens: int,
    rng: np.random.Generator | None = None,
    pool: int = POOL,
) -> list[np.ndarray]:
    """Group `examples` (indices into `lengths`, each pair's padded cost) into batches of at most
    `batch_tokens` padded tokens.

    With `rng`: the examples in random order, sorted by length within pools of `pool` (ties stay
    in random order), cut, and the batches shuffled. Without: one length-sorted pass (validation).
    """
    order = np.array(examples)  # a copy, shuffled in place: the same order as examples[rng.permutation(n)]
    if rng is not None:
        rng.shuffle(order)
    batches: list[np.ndarray] = []
    size = pool if rng is not None else max(len(order), 1)
    for start in range(0, len(order), size):
        chunk = order[start : start + size]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += np.split(chunk, cut_sorted(lengths[chunk], batch_tokens)[:-1])
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def epoch_batches(
    lengths: np.ndarray,
    sizes: Sequence[int],
    weights: Sequence[float],
    batch_tokens: int,
    seed: int,
    epoch: int,
) -> list[np.ndarray]:
    """The batches of one training epoch over corpora concatenated in `lengths`; deterministic
    per (seed, epoch), so a resumed run replays the same order."""
    rng = epoch_rng(seed, epoch)
    return token_batches(epoch_examples(sizes, weights, rng), lengths, batch_tokens, rng)

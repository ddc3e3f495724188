"""Token-count batching over lengths arrays: coverage, budgets, determinism, weights, ranks."""

import numpy as np

from nmt_cli.data.batching import cut_sorted, epoch_batches, epoch_examples, epoch_rng, token_batches


def random_lengths(n, seed=0):
    return np.random.default_rng(seed).integers(2, 60, n).astype(np.uint32)


def test_every_example_appears_exactly_once_per_epoch_within_budget():
    lengths = random_lengths(5000)
    batches = epoch_batches(lengths, [3000, 2000], [1.0, 1.0], 1000, seed=1, epoch=0)
    seen = np.sort(np.concatenate(batches))
    assert np.array_equal(seen, np.arange(5000))
    padded = real = 0
    for b in batches:
        longest = int(lengths[b].max())
        assert longest * len(b) <= 1000 or len(b) == 1
        padded += longest * len(b)
        real += int(lengths[b].sum())
    assert real / padded > 0.95  # sorting within pools keeps padding small


def test_epoch_order_is_a_pure_function_of_seed_and_epoch():
    lengths = random_lengths(3000)

    def order(seed, epoch):
        return [b.tolist() for b in epoch_batches(lengths, [3000], [1.0], 800, seed, epoch)]

    assert order(1, 3) == order(1, 3)
    assert order(1, 3) != order(1, 4)
    assert order(1, 3) != order(2, 3)


def test_small_pools_still_cover_everything_once():
    lengths = random_lengths(2000)
    batches = token_batches(np.arange(2000), lengths, 500, epoch_rng(1, 0), pool=300)
    assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(2000))


def test_weights_upsample_corpora_in_proportion():
    sizes, weights = [1000, 200], [1.0, 4.0]
    lengths = random_lengths(1200)
    batches = epoch_batches(lengths, sizes, weights, 2000, seed=5, epoch=0)
    idx = np.concatenate(batches)
    from_second = int((idx >= 1000).sum())
    assert (len(idx), from_second) == (1800, 800)
    # every pair of the upsampled corpus four times, every pair of the other once
    assert np.array_equal(np.bincount(idx, minlength=1200), np.array([1] * 1000 + [4] * 200))


def test_fractional_weights_sample_a_fresh_subset_each_epoch():
    sizes, weights = [1000, 400], [1.0, 0.25]
    picks = [epoch_examples(sizes, weights, epoch_rng(1, e)) for e in range(20)]
    assert all(len(p) == 1100 for p in picks)
    second = [set(p[p >= 1000].tolist()) for p in picks]
    assert second[0] != second[1]
    counts = np.bincount(np.concatenate([p[p >= 1000] for p in picks]) - 1000, minlength=400)
    assert counts.mean() == 5.0  # 20 epochs x a quarter of the corpus
    assert (counts > 0).mean() > 0.95  # and not always the same quarter


def test_a_pair_longer_than_the_budget_gets_a_batch_of_its_own():
    ends = cut_sorted(np.array([3, 3, 3, 50, 400], dtype=np.uint32), 100)
    assert ends.tolist() == [3, 4, 5]

"""Seeded per-epoch batching and the global-batch sharding the distributed runtime relies on."""
import numpy as np
import pytest

from distflow.data import (batch_index_list, check_global_batch, epoch_order, iterate_batches,
                           iterate_shards, num_batches, shard_bounds, shard_index_list)


def test_epoch_order_depends_on_seed_and_epoch_only():
    a = epoch_order(50, seed=1, epoch=0)
    assert sorted(a.tolist()) == list(range(50))
    np.testing.assert_array_equal(a, epoch_order(50, seed=1, epoch=0))
    assert not np.array_equal(a, epoch_order(50, seed=1, epoch=1))
    assert not np.array_equal(a, epoch_order(50, seed=2, epoch=0))
    # (seed, epoch) are mixed, not added: seed 1 epoch 0 differs from seed 0 epoch 1
    assert not np.array_equal(a, epoch_order(50, seed=0, epoch=1))
    np.testing.assert_array_equal(epoch_order(5, 3, 9, shuffle=False), np.arange(5))
    with pytest.raises(ValueError, match="seed"):
        epoch_order(5, -1, 0)


@pytest.mark.parametrize("n, b, drop, sizes", [
    (10, 4, False, [4, 4, 2]),
    (10, 4, True, [4, 4]),
    (8, 4, False, [4, 4]),
    (3, 5, False, [3]),
    (3, 5, True, []),
])
def test_batches_keep_or_drop_the_short_last_batch(n, b, drop, sizes):
    batches = batch_index_list(n, b, seed=0, epoch=2, drop_remainder=drop)
    assert [len(i) for i in batches] == sizes
    assert num_batches(n, b, drop) == len(sizes)
    flat = np.concatenate(batches) if batches else np.array([], int)
    assert len(np.unique(flat)) == len(flat)
    if not drop:
        assert sorted(flat.tolist()) == list(range(n))


def test_iterate_batches_yields_matching_rows():
    x = np.arange(20).reshape(10, 2)
    y = np.arange(10) * 100
    seen = []
    for xb, yb in iterate_batches(x, y, 3, seed=5, epoch=1):
        np.testing.assert_array_equal(xb[:, 0] // 2 * 100, yb)
        seen.extend(yb.tolist())
    assert sorted(seen) == (np.arange(10) * 100).tolist()
    first = [yb.tolist() for _, yb in iterate_batches(x, y, 3, seed=5, epoch=1)]
    again = [yb.tolist() for _, yb in iterate_batches(x, y, 3, seed=5, epoch=1)]
    assert first == again
    with pytest.raises(ValueError, match="batch_size"):
        list(iterate_batches(x, y, 0))
    with pytest.raises(ValueError, match="different numbers of rows"):
        list(iterate_batches(x, y[:5], 2))


@pytest.mark.parametrize("length", range(0, 12))
@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_shard_bounds_are_contiguous_and_balanced(length, size):
    bounds = [shard_bounds(length, r, size) for r in range(size)]
    assert bounds[0][0] == 0 and bounds[-1][1] == length
    for (s0, e0), (s1, _) in zip(bounds, bounds[1:]):
        assert e0 == s1
    lengths = [e - s for s, e in bounds]
    assert max(lengths) - min(lengths) <= 1
    assert lengths == sorted(lengths, reverse=True)  # the extra rows go to the first ranks


@pytest.mark.parametrize("size", [1, 2, 3, 4])
@pytest.mark.parametrize("n, batch, drop", [
    (506, 32, False),  # 15 full batches and a short one of 26
    (506, 32, True),
    (10, 4, False),    # uneven: 4 over 3 ranks is 2+1+1
    (9, 4, False),     # short last batch of 1 row: some ranks get nothing in that step
    (7, 7, False),
])
def test_shards_together_are_exactly_each_global_batch(size, n, batch, drop):
    whole = batch_index_list(n, batch, seed=11, epoch=3, drop_remainder=drop)
    parts = [shard_index_list(n, batch, r, size, seed=11, epoch=3, drop_remainder=drop)
             for r in range(size)]
    assert all(len(p) == len(whole) for p in parts)  # every rank takes the same number of steps
    for step, global_batch in enumerate(whole):
        pieces = [parts[r][step][0] for r in range(size)]
        assert all(parts[r][step][1] == len(global_batch) for r in range(size))
        np.testing.assert_array_equal(np.concatenate(pieces), global_batch)
        lengths = [len(p) for p in pieces]
        assert max(lengths) - min(lengths) <= 1


def test_rank_gets_an_empty_part_only_in_a_short_last_batch():
    parts = shard_index_list(9, 4, rank=3, size=4, seed=0, epoch=0)
    assert [len(p) for p, _ in parts] == [1, 1, 0]
    assert [g for _, g in parts] == [4, 4, 1]


def test_iterate_shards_matches_the_single_process_batches():
    x = np.random.RandomState(0).randn(23, 3)
    y = np.arange(23.0)
    singles = list(iterate_batches(x, y, 8, seed=4, epoch=7))
    shards = [list(iterate_shards(x, y, 8, r, 3, seed=4, epoch=7)) for r in range(3)]
    for step, (xb, yb) in enumerate(singles):
        xs = np.concatenate([shards[r][step].x for r in range(3)])
        ys = np.concatenate([shards[r][step].y for r in range(3)])
        np.testing.assert_array_equal(xs, xb)
        np.testing.assert_array_equal(ys, yb)
        # the global-batch loss: sum over each rank's rows / global size, summed over ranks
        per_rank = [np.sum(shards[r][step].y ** 2) / shards[r][step].global_size for r in range(3)]
        assert np.isclose(sum(per_rank), np.mean(yb ** 2))


def test_check_global_batch_rejects_batches_smaller_than_the_world():
    check_global_batch(4, 4)
    with pytest.raises(ValueError, match="smaller than the number of ranks"):
        check_global_batch(3, 4)
    with pytest.raises(ValueError):
        shard_bounds(5, 2, 2)

"""Batches per epoch with seeded shuffling, and the global-batch sharding of data parallelism.

Everything here is a pure function of (n, batch_size, seed, epoch, rank, size): every MPI rank
computes the same epoch order locally, takes its own part of each global batch, and no data or
indices ever travel between ranks.

Global-batch sharding. `batch_size` is the GLOBAL batch: the rows one optimizer step uses over all
ranks together. Each global batch (the same on every rank) is cut into `size` contiguous parts
whose lengths differ by at most one, the first `len % size` ranks taking one extra row. So

  * the parts of one step, over all ranks, are exactly that global batch, each row once;
  * every rank takes the same number of steps per epoch (the number of global batches), which
    keeps the collective calls of all ranks in step;
  * a rank's loss is the SUM over its part divided by the global length of that step, and the
    all-reduce sums these, so N ranks compute what one process computes on the whole batch.

A rank's part can be empty when a global batch has fewer rows than there are ranks. The runtime
rejects batch_size < size up front (`check_global_batch`), but the short last batch of an epoch
(kept with drop_remainder=False) may still be shorter than `size`: a rank with an empty part then
contributes a zero loss sum and zero gradients, and still joins the all-reduce.
"""
import collections

import numpy as np

__all__ = ["Batch", "epoch_order", "num_batches", "batch_index_list", "shard_bounds",
           "shard_index_list", "check_global_batch", "iterate_batches", "iterate_shards"]

Batch = collections.namedtuple("Batch", ["x", "y", "global_size"])
Batch.__doc__ = """One rank's part of one global batch, and the global batch's length (the
divisor of the loss sum for global-batch semantics)."""


def epoch_order(n, seed, epoch, shuffle=True):
    """The order of the n rows in `epoch`: a permutation from (seed, epoch) alone, or arange(n)."""
    if not shuffle:
        return np.arange(n)
    # SeedSequence mixes the two integers, so neighbouring seeds and epochs give unrelated orders
    # (seed + epoch would make seed 1 epoch 0 equal seed 0 epoch 1).
    return np.random.default_rng([_nonneg(seed, "seed"), _nonneg(epoch, "epoch")]).permutation(n)


def num_batches(n, batch_size, drop_remainder=False):
    _check_batch_size(batch_size)
    return n // batch_size if drop_remainder else -(-n // batch_size)


def batch_index_list(n, batch_size, seed=0, epoch=0, shuffle=True, drop_remainder=False):
    """The row indices of each (global) batch of one epoch, in order."""
    order = epoch_order(n, seed, epoch, shuffle)
    steps = num_batches(n, batch_size, drop_remainder)
    return [order[i * batch_size:(i + 1) * batch_size] for i in range(steps)]


def shard_bounds(length, rank, size):
    """[start, stop) of rank's contiguous part of a batch of `length` rows split over `size`."""
    if size < 1 or not 0 <= rank < size:
        raise ValueError("Need 0 <= rank < size, got rank=%r, size=%r" % (rank, size))
    base, extra = divmod(length, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def shard_index_list(n, batch_size, rank, size, seed=0, epoch=0, shuffle=True,
                     drop_remainder=False):
    """[(indices of rank's part, length of the global batch)] for each step of one epoch."""
    out = []
    for batch in batch_index_list(n, batch_size, seed, epoch, shuffle, drop_remainder):
        start, stop = shard_bounds(len(batch), rank, size)
        out.append((batch[start:stop], len(batch)))
    return out


def check_global_batch(batch_size, size):
    """Raises ValueError when a global batch cannot give every one of `size` ranks a row."""
    _check_batch_size(batch_size)
    if batch_size < size:
        raise ValueError("The global batch_size (%d) is smaller than the number of ranks (%d): "
                         "some ranks would have no data in every step. Use a batch of at least "
                         "%d, or fewer ranks." % (batch_size, size, size))


def iterate_batches(x, y, batch_size, seed=0, epoch=0, shuffle=True, drop_remainder=False):
    """Yields (x_batch, y_batch) for one epoch; the order is a function of (seed, epoch)."""
    n = _common_length(x, y)
    for idx in batch_index_list(n, batch_size, seed, epoch, shuffle, drop_remainder):
        yield x[idx], y[idx]


def iterate_shards(x, y, batch_size, rank, size, seed=0, epoch=0, shuffle=True,
                   drop_remainder=False):
    """Yields Batch(x_part, y_part, global_size) for each step of one epoch on `rank` of `size`.

    With size=1 the parts are the whole batches of `iterate_batches`.
    """
    n = _common_length(x, y)
    for idx, global_size in shard_index_list(n, batch_size, rank, size, seed, epoch, shuffle,
                                             drop_remainder):
        yield Batch(x[idx], y[idx], global_size)


def _common_length(x, y):
    if len(x) != len(y):
        raise ValueError("x and y have different numbers of rows: %d and %d" % (len(x), len(y)))
    return len(x)


def _check_batch_size(batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError("batch_size must be a positive integer, got %r" % (batch_size,))


def _nonneg(v, what):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
        raise ValueError("%s must be a non-negative integer, got %r" % (what, v))
    return int(v)

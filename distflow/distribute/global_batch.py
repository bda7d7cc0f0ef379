"""Global-batch semantics: N ranks compute exactly what one process computes on the whole batch.

`batch_size` is the GLOBAL batch. Each step every rank takes its contiguous part of the same
global batch (`shard`, using distflow.data's `shard_bounds`: parts differ by at most one row),
computes its loss as the SUM over its part divided by the GLOBAL batch length
(`compute_average_loss`), and the gradients are summed across ranks. Metrics are reduced the same
way: sums and counts are added over ranks, then divided (`reduce_metrics`), never an average of
per-rank averages.
"""
import numpy as np

from distflow.data.batching import shard_bounds
from distflow.ops import math_ops


def shard(arrays, rank=None, size=None):
    """This rank's contiguous part of each array of one global batch (a list/tuple, or one
    array). rank and size default to the job's (init())."""
    if rank is None or size is None:
        from distflow.distribute import runtime
        ctx = runtime.init()
        rank = ctx.rank if rank is None else rank
        size = ctx.size if size is None else size
    single = not isinstance(arrays, (list, tuple))
    items = [arrays] if single else list(arrays)
    lengths = {len(a) for a in items}
    if len(lengths) != 1:
        raise ValueError("The arrays of one batch have different lengths: %s" % sorted(lengths))
    start, stop = shard_bounds(lengths.pop(), rank, size)
    parts = [a[start:stop] for a in items]
    return parts[0] if single else type(arrays)(parts)


def compute_average_loss(per_example_loss, global_batch_size):
    """sum(per_example_loss) / global_batch_size: this rank's share of the mean loss over the
    global batch (tf.nn.compute_average_loss). Summed over ranks, it is the global mean."""
    total = math_ops.reduce_sum(per_example_loss)
    return math_ops.divide(total, math_ops.cast(global_batch_size, total.dtype))


def reduce_metrics(sums, count, communicator=None):
    """({name: global sum / global count}, global count) from this rank's metric sums and its
    number of samples, in one float64 all-reduce. A rank with no samples passes count 0."""
    if communicator is None:
        from distflow.distribute import runtime
        communicator = runtime.init().communicator
    names = sorted(sums)
    communicator.check_same("reduce_metrics", [(n, "metric sum") for n in names])
    buf = np.array([float(sums[n]) for n in names] + [float(count)], dtype=np.float64)
    communicator.allreduce(buf, "sum", name="reduce_metrics")
    total = buf[-1]
    means = {n: (buf[i] / total if total else float("nan")) for i, n in enumerate(names)}
    return means, int(round(total))

"""tf.distribute's input side: distributed datasets, whose every element is a global batch and
whose iterator gives this rank its contiguous part of it (parts differ by at most one row, a
short last batch is split too), InputContext for distribute_datasets_from_function, and the
check that every rank holds the same global batch."""
import hashlib

import numpy as np

from distflow.data.batching import shard_bounds
from distflow.framework import context, errors, nest
from distflow.framework.eager import EagerTensor

__all__ = ["InputContext", "InputOptions", "DistributedDataset", "DistributedIterator",
           "shard_element", "check_same_batch"]


class InputContext:
    """What `distribute_datasets_from_function`'s dataset_fn learns about its input pipeline."""

    def __init__(self, num_input_pipelines=1, input_pipeline_id=0, num_replicas_in_sync=1):
        self.num_input_pipelines = num_input_pipelines
        self.input_pipeline_id = input_pipeline_id
        self.num_replicas_in_sync = num_replicas_in_sync

    def get_per_replica_batch_size(self, global_batch_size):
        if global_batch_size % self.num_replicas_in_sync:
            raise ValueError("The `global_batch_size` %r is not divisible by "
                             "`num_replicas_in_sync` %r" % (global_batch_size,
                                                            self.num_replicas_in_sync))
        return global_batch_size // self.num_replicas_in_sync


class InputOptions:
    """Accepted for TF's signatures; a rank's data stays on its own device anyway."""

    def __init__(self, experimental_fetch_to_device=None, experimental_replication_mode=None,
                 experimental_place_dataset_on_device=False,
                 experimental_per_replica_buffer_size=1):
        self.experimental_fetch_to_device = experimental_fetch_to_device


class DistributedDataset:
    """A dataset of global batches seen as this rank's parts (experimental_distribute_dataset)."""

    def __init__(self, dataset, strategy, split=True):
        self._dataset = dataset
        self._strategy = strategy
        self._split = split  # False: the dataset already holds this rank's per-replica batches

    @property
    def element_spec(self):
        return self._dataset.element_spec

    def __iter__(self):
        return DistributedIterator(iter(self._dataset), self._strategy, self._split)

    def __array__(self, *args, **kwargs):
        # Keras's fit / evaluate / predict take the dataset of global batches itself
        raise TypeError("A distributed dataset is for custom loops (strategy.run). Give Keras's "
                        "fit / evaluate / predict the tf.data.Dataset of global batches itself: "
                        "a model made in strategy.scope() splits each batch over the replicas")

    def reduce(self, initial_state, reduce_func):
        state = initial_state
        for element in self:
            state = reduce_func(state, element)
        return state


class DistributedIterator:
    def __init__(self, iterator, strategy, split=True):
        self._iterator = iterator
        self._strategy = strategy
        self._split = split
        self._checked = not split  # per-rank datasets differ by design

    def __iter__(self):
        return self

    def __next__(self):
        if not context.executing_eagerly():
            raise errors.UnimplementedError(
                None, None, "next() on a distributed iterator inside a df.function would read "
                "one batch when the function is traced and reuse it on every call: call "
                "next(iterator) outside and pass the batch in (train_step(next(iterator)))")
        element = next(self._iterator)
        if not self._checked:
            self._checked = True
            check_same_batch(self._strategy._communicator, element)
        if not self._split:
            return element
        return shard_element(element, self._strategy._rank, self._strategy.num_replicas_in_sync)

    def get_next(self):
        return next(self)

    def get_next_as_optional(self):
        raise NotImplementedError("get_next_as_optional is not supported; iterate with for")

    @property
    def element_spec(self):
        return getattr(self._iterator, "element_spec", None)


def shard_element(element, rank, size):
    """This rank's contiguous rows of every array in one global batch (a nest of arrays)."""
    if size == 1:
        return element
    flat = nest.flatten(element)
    lengths = {int(_shape(a)[0]) for a in flat if len(_shape(a))}
    if len(lengths) > 1:
        raise ValueError("The parts of one batch have different lengths %s: a global batch must "
                         "have one length to be split over the replicas" % sorted(lengths))
    if not lengths:
        return element
    start, stop = shard_bounds(lengths.pop(), rank, size)
    parts = [_rows(a, start, stop) for a in flat]
    return nest.pack_sequence_as(element, parts)


def check_same_batch(communicator, element):
    """Stops with a clear error unless every rank holds the same global batch (ranks must
    draw the same data order to split it; a per-rank order would train on the wrong data)."""
    if communicator.size == 1:
        return
    h = hashlib.sha256()
    for leaf in nest.flatten(element):
        arr = np.ascontiguousarray(_array(leaf))
        h.update(str((arr.dtype.str, arr.shape)).encode())
        h.update(arr.tobytes())
    digest = np.frombuffer(h.digest()[:8], dtype=np.int64).copy()
    every = communicator.allgather(digest, name="same global batch check")
    if not np.all(every == every[0]):
        differ = [r for r in range(communicator.size) if every[r] != every[0]]
        raise errors.InvalidArgumentError(
            None, None, "The ranks hold different global batches (rank%s %s differ%s from rank "
            "0): under a tf.distribute strategy every rank must read the same data in the same "
            "order, then each takes its part. Load the same data on every rank and seed any "
            "shuffle (shuffle(..., seed=...) or tf.random.set_seed)"
            % ("s" if len(differ) > 1 else "", ", ".join(map(str, differ)),
               "" if len(differ) > 1 else "s"))


def _array(x):
    """A host array of x (the digest reads its bytes)."""
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def _shape(a):
    return tuple(a._value.shape) if isinstance(a, EagerTensor) else np.shape(a)


def _rows(a, start, stop):
    if isinstance(a, EagerTensor):
        return EagerTensor(a._value[start:stop])
    return a[start:stop] if len(_shape(a)) else a

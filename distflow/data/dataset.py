"""`tf.data.Dataset`: the input pipelines of TF2 course programs, run eagerly in Python.

    ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(404, seed=1).batch(32)
    for x, y in ds: ...                  # EagerTensors, TF's dtypes (NumPy float64 stays float64)
    model.fit(ds, epochs=10, validation_data=val_ds)

A Dataset is a recipe: every `iter()` starts its chain of Python generators afresh (so a
`repeat` or a new epoch re-runs `map` and reshuffles). The element structure is TF's: a tuple or
a dict of tensors (a list is one tensor, as in tf.data); `map` and `filter` functions get the
tuple's items as arguments and run eagerly, element by element (no AutoGraph: Python control
flow on a tensor's value works; `num_parallel_calls` and `deterministic` are accepted and
ignored). `element_spec` of a map comes from tracing the function once on placeholders, as TF
does (falling back to the first element when that fails). `prefetch` changes nothing (one Python
thread has nothing to overlap); `cache` keeps the elements of the first full pass in memory.

shuffle uses TF's buffer algorithm (a buffer of buffer_size elements; each step emits a random
one and puts the next input element in its place), but not TF's random numbers: the order is
deterministic for a given seed (the op seed, or the global seed of tf.random.set_seed) and
differs from TF's. With buffer_size >= the dataset's size it is a uniform permutation; with
reshuffle_each_iteration each pass (epoch) draws a new one.

Not supported: string elements, padded_batch, interleave, TFRecord files. A Dataset passed to a
df.function is read while tracing (AutoGraph's for over it, distflow/autograph/operators.py).
"""
import itertools
import types

import numpy as np

from distflow.data import dataset_elements as elements
from distflow.framework import context, dtypes, errors, nest
from distflow.framework.eager import EagerTensor
from distflow.framework.tensor_spec import TensorSpec
from distflow.ops import random_ops

__all__ = ["Dataset", "AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY", "experimental"]

AUTOTUNE = -1
INFINITE_CARDINALITY = INFINITE = -1
UNKNOWN_CARDINALITY = UNKNOWN = -2


class Dataset:
    """A sequence of elements (tensors, or tuples / dicts of them) made afresh by each iter()."""

    def __init__(self, make, spec, cardinality, kind):
        self._make = make          # () -> a Python iterator of elements
        self._spec = spec          # a structure of TensorSpecs, or a () -> it, computed once
        self._card = cardinality   # a count, INFINITE or UNKNOWN
        self._kind = kind          # TF's class name, for repr

    # -- sources -----------------------------------------------------------------------------
    @staticmethod
    def from_tensor_slices(tensors, name=None):
        """One element per row of the tensors (all must have the same first dimension)."""
        arrays = elements.to_arrays(tensors)
        flat = nest.flatten(arrays)
        for a in flat:
            if a.ndim == 0:
                raise ValueError("Unbatching a tensor is only supported for rank >= 1")
        for a in flat[1:]:
            if len(a) != len(flat[0]):
                raise ValueError("Dimensions %d and %d are not compatible" % (len(flat[0]), len(a)))
        n = len(flat[0]) if flat else 0

        def make():
            for i in range(n):
                yield nest.pack_sequence_as(arrays, [EagerTensor(a[i, ...]) for a in flat])
        return Dataset(make, nest.map_structure(lambda a: elements.spec(a.shape[1:], a.dtype),
                                                arrays), n, "_TensorSliceDataset")

    @staticmethod
    def from_tensors(tensors, name=None):
        """One element: the tensors themselves."""
        arrays = elements.to_arrays(tensors)
        return Dataset(lambda: iter([nest.map_structure(EagerTensor, arrays)]),
                       nest.map_structure(lambda a: elements.spec(a.shape, a.dtype), arrays), 1,
                       "_TensorDataset")

    @staticmethod
    def range(*args, output_type=dtypes.int64, name=None):
        """range(stop), range(start, stop[, step]): int64 scalars by default."""
        numbers = range(*[int(a) for a in args])
        np_type = dtypes.as_dtype(output_type).as_numpy_dtype
        return Dataset(lambda: (EagerTensor(np.array(i, np_type)) for i in numbers),
                       elements.spec((), output_type), len(numbers), "_RangeDataset")

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None,
                       output_signature=None, name=None):
        """The elements `generator(*args)` yields, called afresh by each iter(); their
        structure, dtypes and shapes from `output_signature` (TensorSpecs), or from the older
        `output_types` and `output_shapes`."""
        if output_signature is None:
            if output_types is None:
                raise TypeError("The `output_signature` argument must be set.")
            shapes = output_shapes if output_shapes is not None else \
                nest.map_structure(lambda _: None, output_types)
            output_signature = nest.pack_sequence_as(output_types, [
                TensorSpec(s, t) for t, s in zip(nest.flatten(output_types),
                                                 _flat_shapes(shapes, output_types))])
        flat_specs = nest.flatten(output_signature)

        def make():
            for value in generator(*(args or ())):
                leaves = nest.flatten(value) if nest.is_nested(output_signature) else [value]
                if len(leaves) != len(flat_specs):
                    raise TypeError("`generator` yielded an element that did not match the "
                                    "expected structure %r: %r" % (output_signature, value))
                tensors = []
                for leaf, spec in zip(leaves, flat_specs):
                    arr = np.asarray(leaf, spec.dtype.as_numpy_dtype)
                    if not spec.shape.is_compatible_with(arr.shape):
                        raise TypeError("`generator` yielded an element of shape %s where an "
                                        "element of shape %s was expected."
                                        % (arr.shape, spec.shape))
                    tensors.append(EagerTensor(arr))
                yield nest.pack_sequence_as(output_signature, tensors)
        return Dataset(make, output_signature, UNKNOWN, "_FlatMapDataset")

    @staticmethod
    def zip(*datasets, name=None):
        """zip((a, b)) or zip(a, b): tuples (or dicts) of the datasets' elements, as long as
        the shortest."""
        structure = datasets[0] if len(datasets) == 1 else datasets
        parts = nest.flatten(structure)
        cards = [d._card for d in parts]
        card = UNKNOWN if UNKNOWN in cards else min((c for c in cards if c != INFINITE),
                                                    default=INFINITE)
        return Dataset(lambda: (nest.pack_sequence_as(structure, list(e))
                                for e in zip(*(d._make() for d in parts))),
                       lambda: nest.map_structure(lambda d: d.element_spec, structure), card,
                       "_ZipDataset")

    # -- transformations ---------------------------------------------------------------------
    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None,
              deterministic=None, name=None):
        """Stacks batch_size consecutive elements; the last, short batch is kept unless
        drop_remainder (then the batch dimension of element_spec is known)."""
        size = int(batch_size)
        if size <= 0:
            raise errors.InvalidArgumentError(None, None, "Batch size must be greater than zero.")

        def make():
            it = self._make()
            while True:
                chunk = list(itertools.islice(it, size))
                if not chunk or (drop_remainder and len(chunk) < size):
                    return
                yield elements.stack(chunk)
        card = self._card if self._card < 0 else \
            self._card // size if drop_remainder else -(-self._card // size)
        first = size if drop_remainder else None
        return Dataset(make, lambda: nest.map_structure(
            lambda s: elements.spec([first] + elements.dims(s), s.dtype), self.element_spec),
            card, "_BatchDataset")

    def unbatch(self, name=None):
        """The rows of each element, one by one (batch's inverse)."""
        def make():
            for e in self._make():
                flat = nest.flatten(e)
                for i in range(len(flat[0]) if flat else 0):
                    yield nest.pack_sequence_as(e, [EagerTensor(t._value[i, ...]) for t in flat])
        spec = self.element_spec
        firsts = {s.shape.as_tuple()[0] for s in nest.flatten(spec)}
        card = self._card * firsts.pop() if (self._card >= 0 and len(firsts) == 1
                                             and None not in firsts) else \
            self._card if self._card == INFINITE else UNKNOWN
        return Dataset(make, nest.map_structure(
            lambda s: elements.spec(elements.dims(s)[1:], s.dtype), spec), card, "_UnbatchDataset")

    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """map_func(*element) for a tuple element, map_func(element) otherwise, run eagerly."""
        def make():
            for e in self._make():
                yield elements.eager_call(map_func, e)
        return Dataset(make, lambda: elements.map_spec(map_func, self), self._card,
                       "_MapDataset" if num_parallel_calls is None else "_ParallelMapDataset")

    def filter(self, predicate, name=None):
        """The elements for which predicate(*element) is True (a scalar bool tensor)."""
        def make():
            for e in self._make():
                keep = elements.eager_call(predicate, e)
                if not isinstance(keep, EagerTensor) or keep.dtype != dtypes.bool_ or keep.ndim:
                    raise ValueError("Invalid `predicate`. `predicate` must return a `tf.bool` "
                                     "scalar tensor, but its return type is %r."
                                     % elements.spec_of(keep))
                if keep.numpy():
                    yield e
        return Dataset(make, lambda: self.element_spec, UNKNOWN, "_FilterDataset")

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True, name=None):
        """TF's buffer shuffle (see the module docstring: deterministic for a seed, not TF's
        order)."""
        size = int(buffer_size)
        if size <= 0:
            raise errors.InvalidArgumentError(None, None, "buffer_size must be greater than zero.")
        global_seed, op_seed = random_ops.get_seed(seed)
        base = [random_ops.unseeded_entropy()] if global_seed is None else [global_seed, op_seed]
        passes = itertools.count()

        def make():
            again = reshuffle_each_iteration and not elements.PEEKING[0]
            rng = np.random.default_rng(base + ([next(passes)] if again else []))
            it, buffer = self._make(), []
            buffer.extend(itertools.islice(it, size))
            while buffer:
                j = int(rng.integers(len(buffer)))
                yield buffer[j]
                nxt = next(it, None)
                if nxt is not None:
                    buffer[j] = nxt
                else:
                    buffer[j] = buffer[-1]
                    buffer.pop()
        return Dataset(make, lambda: self.element_spec, self._card, "_ShuffleDataset")

    def repeat(self, count=None, name=None):
        """count passes over the dataset; forever when count is None or -1."""
        count = -1 if count is None else int(count)
        forever = count < 0

        def make():
            for _ in (itertools.count() if forever else range(count)):
                empty = True
                for e in self._make():
                    empty = False
                    yield e
                if empty:  # an empty pass ends it, as in TF (else repeat() would spin forever)
                    return
        c = self._card
        card = (0 if c == 0 else INFINITE) if forever else 0 if count == 0 else \
            c if c < 0 else c * count
        return Dataset(make, lambda: self.element_spec, card, "_RepeatDataset")

    def take(self, count, name=None):
        """The first count elements (all of them for count = -1)."""
        count, c = int(count), self._card
        card = UNKNOWN if c == UNKNOWN else count if c == INFINITE else \
            c if count < 0 else min(c, count)
        return Dataset(lambda: itertools.islice(self._make(), count if count >= 0 else None),
                       lambda: self.element_spec, card, "_TakeDataset")

    def skip(self, count, name=None):
        """All but the first count elements (none for count = -1)."""
        count, c = int(count), self._card
        card = c if c < 0 else 0 if count < 0 else max(0, c - count)
        def make():
            return iter(()) if count < 0 else itertools.islice(self._make(), count, None)
        return Dataset(make, lambda: self.element_spec, card, "_SkipDataset")

    def shard(self, num_shards, index, name=None):
        """Every num_shards-th element from the index-th on: one worker's part (Horovod's
        programs call ds.shard(hvd.size(), hvd.rank()))."""
        n, i = int(num_shards), int(index)
        if n <= 0:
            raise errors.InvalidArgumentError(None, None, "Number of shards must be greater than "
                                              "zero (currently num_shards = %d)." % n)
        if not 0 <= i < n:
            raise errors.InvalidArgumentError(None, None, "Index must be between 0 and %d "
                                              "(currently index = %d)." % (n - 1, i))
        c = self._card
        card = c if c < 0 else c // n + (1 if i < c % n else 0)
        return Dataset(lambda: itertools.islice(self._make(), i, None, n),
                       lambda: self.element_spec, card, "_ShardDataset")

    def enumerate(self, start=0, name=None):
        """(int64 index, element) pairs."""
        return Dataset.zip((Dataset.range(start, np.iinfo(np.int64).max), self))

    def concatenate(self, dataset, name=None):
        a, b = self._card, dataset._card
        card = INFINITE if INFINITE in (a, b) else UNKNOWN if UNKNOWN in (a, b) else a + b
        return Dataset(lambda: itertools.chain(self._make(), dataset._make()),
                       lambda: self.element_spec, card, "_ConcatenateDataset")

    def prefetch(self, buffer_size, name=None):
        """Nothing to overlap in one Python thread: the same elements, nothing ahead."""
        return Dataset(self._make, lambda: self.element_spec, self._card,
                       "_PrefetchDataset")

    def cache(self, filename="", name=None):
        """The first complete pass's elements, kept in memory and replayed (`filename` is
        ignored: nothing is written to disk)."""
        kept = []

        def make():
            if kept:
                yield from kept[0]
                return
            seen = []
            for e in self._make():
                seen.append(e)
                yield e
            kept.append(seen)
        return Dataset(make, lambda: self.element_spec, self._card, "CacheDataset")

    def apply(self, transformation_func):
        return transformation_func(self)

    def reduce(self, initial_state, reduce_func, name=None):
        """reduce_func(state, element) over every element, eagerly; the final state."""
        state = elements.outputs(initial_state)
        for e in self._make():
            with context.eager_mode():
                state = elements.outputs(reduce_func(state, e))
        return state

    # -- looking at it -----------------------------------------------------------------------
    @property
    def element_spec(self):
        if callable(self._spec):
            self._spec = self._spec()
        return self._spec

    def cardinality(self):
        """The number of elements as an int64 tensor: INFINITE (-1) after repeat(), UNKNOWN (-2)
        after filter()."""
        return EagerTensor(np.array(self._card, np.int64))

    def __len__(self):
        if self._card == INFINITE:
            raise TypeError("The dataset is infinite.")
        if self._card == UNKNOWN:
            raise TypeError("The dataset length is unknown.")
        return self._card

    def __bool__(self):  # as TF's: a dataset is true even when empty (__len__ would say not)
        return True

    def __iter__(self):
        return elements.Iterator(self)

    def make_one_shot_iterator(self):
        """TF1: an iterator whose get_next() is a graph op (data/graph_iterator.py)."""
        from distflow.data import graph_iterator
        return graph_iterator.make_one_shot_iterator(self)

    def make_initializable_iterator(self, shared_name=None):
        from distflow.data import graph_iterator
        return graph_iterator.make_initializable_iterator(self)

    def as_numpy_iterator(self):
        """The elements with NumPy arrays (NumPy scalars for scalars) for tensors."""
        return (nest.map_structure(lambda t: t.numpy(), e) for e in self._make())

    def __repr__(self):
        return "<%s element_spec=%r>" % (self._kind, self.element_spec)


def _flat_shapes(shapes, types_structure):
    """output_shapes as one shape per leaf of output_types (a shape is a list of sizes, which
    nest would take apart)."""
    if not nest.is_nested(types_structure):
        return [shapes]
    return [s for sub, t in zip(shapes, types_structure) for s in _flat_shapes(sub, t)]


experimental = types.SimpleNamespace(
    AUTOTUNE=AUTOTUNE, INFINITE_CARDINALITY=INFINITE, UNKNOWN_CARDINALITY=UNKNOWN,
    cardinality=lambda dataset: dataset.cardinality())

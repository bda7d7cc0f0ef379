"""The elements of a tf.data.Dataset (dataset.py): structures (a tensor, or a tuple / dict of
them) converted, stacked, passed to the user's functions and described by TensorSpecs; and the
iterator that iter(dataset) returns."""
import numpy as np

from distflow import backend
from distflow.framework import context, dtypes, errors, nest
from distflow.framework.eager import EagerTensor
from distflow.framework.graph import Graph
from distflow.framework.tensor_spec import TensorSpec
from distflow.ops import dispatch
from distflow.ops.constant_op import Placeholder


class Iterator:
    """iter(dataset): next() raises StopIteration at the end, get_next() OutOfRangeError."""

    def __init__(self, dataset):
        self._dataset = dataset
        self._it = dataset._make()

    @property
    def element_spec(self):
        return self._dataset.element_spec

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._it)

    def get_next(self):
        try:
            return next(self._it)
        except StopIteration:
            raise errors.OutOfRangeError(None, None, "End of sequence") from None


def to_arrays(tensors):
    """NumPy arrays with TF's dtypes for the leaves of a tuple / dict (a list is one tensor)."""
    if isinstance(tensors, dict):
        return type(tensors)((k, to_arrays(v)) for k, v in tensors.items())
    if isinstance(tensors, tuple):
        items = [to_arrays(v) for v in tensors]
        return type(tensors)(*items) if hasattr(tensors, "_fields") else tuple(items)
    if tensors is None:
        raise ValueError("None values not supported.")
    with context.eager_mode():
        t = dispatch.convert_to_tensor(tensors)
    return np.array(backend.to_numpy(t._value))  # a private copy, as TF's constant is


def outputs(value):
    """A function's result as an element: tensors with TF's dtypes, a list as a tuple."""
    if isinstance(value, dict):
        return type(value)((k, outputs(v)) for k, v in value.items())
    if isinstance(value, (tuple, list)):
        items = [outputs(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if value is None:
        raise ValueError("None values not supported.")
    with context.eager_mode():
        return dispatch.convert_to_tensor(value)


def call(fn, element):
    return fn(*element) if type(element) is tuple else fn(element)


def eager_call(fn, element):
    """fn on an element, run eagerly (also while a graph is being built around the loop)."""
    with context.eager_mode():
        return outputs(call(fn, element))


def spec_of(element):
    return nest.map_structure(TensorSpec.from_tensor, element)


def spec(shape, dtype):
    return TensorSpec(list(shape), dtypes.as_dtype(dtype))


def dims(tensor_spec):
    sizes = tensor_spec.shape.as_tuple()
    return list(sizes) if sizes is not None else []


def stack(chunk):
    """One element from a list of elements, each tensor stacked along a new first axis."""
    flats = [nest.flatten(e) for e in chunk]
    columns = []
    for k, column in enumerate(zip(*flats)):
        values = [t._value for t in column]
        for i, v in enumerate(values[1:], 1):
            if v.shape != values[0].shape:
                raise errors.InvalidArgumentError(None, None, "Cannot batch tensors with different"
                                                  " shapes in component %d. First element had "
                                                  "shape %s and element %d had shape %s."
                                                  % (k, list(values[0].shape), i, list(v.shape)))
        columns.append(EagerTensor(backend.get_array_module(*values).stack(values)))
    return nest.pack_sequence_as(chunk[0], columns)


PEEKING = [False]  # True while map_spec looks at a first element (dataset.shuffle reads it)


def map_spec(fn, dataset):
    """map's element_spec: fn traced once on placeholders of the input's specs, as TF does; the
    first element's specs when tracing fails (a function that needs values)."""
    try:
        graph = Graph()
        with graph.as_default():
            args = nest.map_structure(lambda s: dispatch.build_op(
                graph, Placeholder, [], {"dtype": s.dtype, "shape": s.shape}, None),
                dataset.element_spec)
            out = call(fn, args)
            return nest.map_structure(lambda t: TensorSpec(t.shape, t.dtype), outputs(out))
    except Exception:  # noqa: BLE001 (any failure: ask the data instead)
        PEEKING[0] = True  # a look at the first element is no pass: shuffles keep their order
        try:
            for e in dataset._make():
                return spec_of(eager_call(fn, e))
        finally:
            PEEKING[0] = False
        raise

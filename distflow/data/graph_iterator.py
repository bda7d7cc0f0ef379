"""TF1's dataset iterators in a graph: `dataset.make_one_shot_iterator()` and
`make_initializable_iterator()`, whose `get_next()` is an op that takes the next element each
time a Session runs it (an OutOfRangeError at the end, as in TF), and whose `initializer`
starts the dataset over. The op pulls from the Python pipeline (dataset.py) through
numpy_function, with the element_spec's dtypes and shapes as its static ones."""
import contextlib

import numpy as np

from distflow.framework import context, errors, nest
from distflow.ops import dispatch, script_ops


class GraphIterator:
    def __init__(self, dataset, initializable):
        self._dataset = dataset
        self._it = None if initializable else iter(dataset)
        self._initializable = initializable
        self._initializer = None

    @property
    def element_spec(self):
        return self._dataset.element_spec

    @property
    def output_types(self):
        return nest.map_structure(lambda s: s.dtype, self.element_spec)

    @property
    def output_shapes(self):
        return nest.map_structure(lambda s: s.shape, self.element_spec)

    @property
    def initializer(self):
        if not self._initializable:
            raise ValueError("The iterator does not have an initializer. This means it was "
                             "likely created using `tf.data.Dataset.make_one_shot_iterator()`. "
                             "For an initializable iterator, use "
                             "`tf.data.Dataset.make_initializable_iterator()` instead.")
        if self._initializer is None:
            def restart():
                self._it = iter(self._dataset)
                return []
            with _building():
                self._initializer = dispatch.apply(script_ops.PyFunc, [], {
                    "func": restart, "Tout": []}, name="MakeIterator")
        return self._initializer

    def get_next(self, name=None):
        flat = nest.flatten(self.element_spec)

        def pull():
            if self._it is None:
                raise errors.FailedPreconditionError(
                    None, None, "GetNext() failed because the iterator has not been "
                    "initialized. Ensure that you have run the initializer operation for this "
                    "iterator before getting the next element.")
            return [np.asarray(t.numpy()) for t in nest.flatten(self._it.get_next())]
        with _building():
            out = script_ops._apply(script_ops.PyFunc, pull, [], [s.dtype for s in flat],
                                    name or "IteratorGetNext", shapes=[s.shape for s in flat])
        return nest.pack_sequence_as(self.element_spec, out)


def _building():
    """TF1's default: a graph op (unless compat.v1.enable_eager_execution() was called)."""
    return contextlib.nullcontext() if context.ctx.v1_eager else context.graph_mode()


def make_one_shot_iterator(dataset):
    return GraphIterator(dataset, initializable=False)


def make_initializable_iterator(dataset, shared_name=None):
    return GraphIterator(dataset, initializable=True)

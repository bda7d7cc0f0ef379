"""tf.TensorArray: a list of same-shaped tensors that loops can fill, in every mode.

Here a TensorArray is one dense tensor (`[size, *element_shape]`) and every method is built from
existing ops (gather, select, scatter_nd, concat), so it runs eagerly, in TF1 graphs and in
df.functions alike and is differentiable through them, with no op of its own. `write` and
`scatter` return a new TensorArray, as in TF2 (the one written to is left as it was). With
`dynamic_size` a write past the end grows the array. Until the first write a TensorArray whose
element shape is unknown has no tensor at all; a loop that fills it (a while_loop or AutoGraph's
for) sees it as that one tensor, with an unknown first dimension when it may grow.
"""
from distflow.framework import dtypes
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import (array_ops, comparison_ops, dispatch, indexing_ops, math_ops,
                          reduction_ops, slicing_ops)

__all__ = ["TensorArray"]


class TensorArray:
    """TF's TensorArray(dtype, size, dynamic_size, element_shape, ...)."""

    def __init__(self, dtype, size=None, dynamic_size=None, clear_after_read=None,
                 tensor_array_name=None, handle=None, flow=None, infer_shape=True,
                 element_shape=None, colocate_with_first_write_call=True, name=None):
        self._dtype = dtypes.as_dtype(dtype)
        if size is None and not dynamic_size and flow is None:
            raise ValueError("Size must be provided if handle is not provided")
        self._dynamic = bool(dynamic_size)
        self._size = 0 if size is None else size
        self._element_shape = TensorShape(element_shape)
        self._infer_shape = infer_shape
        self._buffer = flow  # [size, *element_shape] once the element shape is known
        if self._buffer is None and self._element_shape.is_fully_defined():
            self._buffer = self._zeros(self._element_shape.as_list())

    def _like(self, buffer, element_shape=None):
        out = TensorArray.__new__(TensorArray)
        out._dtype, out._dynamic, out._infer_shape = self._dtype, self._dynamic, self._infer_shape
        out._size = self._size
        out._element_shape = element_shape if element_shape is not None else \
            self._element_shape
        out._buffer = buffer
        return out

    def _zeros(self, element_shape, size=None):
        size = self._size if size is None else size
        dims = array_ops.concat([array_ops.reshape(math_ops.cast(size, dtypes.int32), [1]),
                                 math_ops.cast(element_shape, dtypes.int32)
                                 if dispatch.dtype_of(element_shape) is not None
                                 else dispatch.convert_to_tensor(list(element_shape),
                                                                 dtypes.int32)], 0)
        zero = dispatch.convert_to_tensor(self._dtype.as_numpy_dtype(0), self._dtype)
        return array_ops.fill(dims, zero)

    # -- what it is --------------------------------------------------------------------------
    @property
    def dtype(self):
        return self._dtype

    @property
    def dynamic_size(self):
        return self._dynamic

    @property
    def element_shape(self):
        return self._element_shape

    @property
    def flow(self):
        return self._buffer

    def size(self, name=None):
        if self._buffer is None:
            return dispatch.convert_to_tensor(self._size, dtypes.int32)
        return array_ops.shape(self._buffer)[0]

    # -- reading -----------------------------------------------------------------------------
    def _need_buffer(self, what):
        if self._buffer is None:
            raise ValueError("Could not %s from TensorArray: no element has been written to it "
                             "yet and its element_shape is unknown." % what)
        return self._buffer

    def read(self, index, name=None):
        return slicing_ops.gather(self._need_buffer("read"), index)

    def gather(self, indices, name=None):
        return slicing_ops.gather(self._need_buffer("gather"), indices)

    def stack(self, name=None):
        if self._buffer is None and isinstance(self._size, int) and self._size == 0:
            return self._zeros([0] if self._element_shape.rank is None
                               else self._element_shape.as_list(), 0)
        return self._need_buffer("stack")

    def concat(self, name=None):
        buffer = self._need_buffer("concat")
        shape = array_ops.shape(buffer)
        return array_ops.reshape(buffer, array_ops.concat([[-1], shape[2:]], 0))

    # -- writing -----------------------------------------------------------------------------
    def _value(self, value):
        value = dispatch.convert_to_tensor(value, self._dtype) \
            if dispatch.dtype_of(value) is None else value
        if value.dtype != self._dtype:
            raise TypeError("TensorArray dtype is %s but Op is trying to write dtype %s"
                            % (self._dtype.name, value.dtype.name))
        return value

    def _check_shape(self, shape):
        if not self._element_shape.is_compatible_with(shape):
            raise ValueError("Incompatible shape for value (%s), expected (%s)"
                             % (shape, self._element_shape))
        return self._element_shape.merge_with(shape) if self._infer_shape else \
            self._element_shape

    def write(self, index, value, name=None):
        """A new TensorArray with `value` at `index`."""
        value = self._value(value)
        element_shape = self._check_shape(value.shape)
        index = math_ops.cast(index, dtypes.int32) if dispatch.dtype_of(index) is not None \
            else dispatch.convert_to_tensor(index, dtypes.int32)
        buffer = self._buffer
        if buffer is None:
            buffer = self._zeros(array_ops.shape(value))
        if self._dynamic:  # grow to index + 1 rows when needed
            n = array_ops.shape(buffer)[0]
            more = comparison_ops.maximum(index + 1 - n, 0)
            buffer = array_ops.concat([buffer, self._zeros(array_ops.shape(value), more)], 0)
        rows = array_ops.shape(buffer)[0]
        hit = comparison_ops.equal(slicing_ops.range(rows), index)
        hit = array_ops.reshape(hit, array_ops.concat(
            [[-1], array_ops.ones_like(array_ops.shape(value))], 0))
        new = comparison_ops.where(hit, array_ops.expand_dims(value, 0), buffer)
        return self._like(new, element_shape)

    def unstack(self, value, name=None):
        """A new TensorArray whose elements are the rows of `value`."""
        value = self._value(value)
        return self._like(value, self._check_shape(value.shape[1:]) if value.shape.rank
                          else self._element_shape)

    def scatter(self, indices, value, name=None):
        """A new TensorArray with the rows of `value` at `indices`."""
        value = self._value(value)
        element_shape = self._check_shape(value.shape[1:]) if value.shape.rank \
            else self._element_shape
        indices = math_ops.cast(indices, dtypes.int32) if dispatch.dtype_of(indices) is not None \
            else dispatch.convert_to_tensor(indices, dtypes.int32)
        buffer = self._buffer
        if buffer is None:
            buffer = self._zeros(array_ops.shape(value)[1:])
        if self._dynamic:
            n = array_ops.shape(buffer)[0]
            more = comparison_ops.maximum(reduction_ops.reduce_max(indices) + 1 - n, 0)
            buffer = array_ops.concat([buffer, self._zeros(array_ops.shape(value)[1:], more)], 0)
        shape = array_ops.shape(buffer)
        rows = shape[0]
        hit = reduction_ops.reduce_any(comparison_ops.equal(
            array_ops.expand_dims(slicing_ops.range(rows), 1),
            array_ops.expand_dims(indices, 0)), axis=1)
        hit = array_ops.reshape(hit, array_ops.concat(
            [[-1], array_ops.ones_like(shape[1:])], 0))
        placed = indexing_ops.scatter_nd(array_ops.expand_dims(indices, 1), value, shape)
        return self._like(comparison_ops.where(hit, placed, buffer), element_shape)

    def split(self, value, lengths, name=None):
        raise NotImplementedError("TensorArray.split is not supported by distflow")

    def identity(self):
        return self

    def mark_used(self):
        pass

    def close(self, name=None):
        pass

    def __repr__(self):
        return "<TensorArray dtype=%s element_shape=%s>" % (self._dtype.name,
                                                             self._element_shape)

    # -- as loop variables (while_loop, AutoGraph) --------------------------------------------
    def _components(self):
        return self._need_buffer("carry it through a loop")

    def _invariant(self):
        """The shape the loop must allow: any number of rows when the array may grow."""
        shape = self._buffer.shape
        if self._dynamic and shape.rank is not None:
            return TensorShape([None] + shape.as_list()[1:])
        return shape

    def _from_components(self, buffer):
        shape = buffer.shape
        element = TensorShape(shape.as_list()[1:]) if shape.rank else self._element_shape
        return self._like(buffer, element)


def to_components(structure):
    """`structure` with each TensorArray replaced by its tensor, and a function mapping a
    structure of that form back (TensorArrays rebuilt around the new tensors)."""
    from distflow.framework import nest
    flat = nest.flatten(structure)
    arrays = {i: x for i, x in enumerate(flat) if isinstance(x, TensorArray)}
    if not arrays:
        return structure, None, lambda s: s
    plain = nest.pack_sequence_as(structure, [x._components() if i in arrays else x
                                              for i, x in enumerate(flat)])

    def rebuild(result):
        values = nest.flatten(result)
        return nest.pack_sequence_as(structure, [
            arrays[i]._from_components(v) if i in arrays else v for i, v in enumerate(values)])

    def invariants(shapes):
        """Shape invariants (flat, one per leaf) with the arrays' own."""
        return [arrays[i]._invariant() if i in arrays and s is None else s
                for i, s in enumerate(shapes)]
    return plain, invariants, rebuild


def strip(structure):
    """`structure` with each TensorArray replaced by its tensor (what a loop body returns)."""
    from distflow.framework import nest
    return nest.map_structure(lambda x: x._components() if isinstance(x, TensorArray) else x,
                              structure)

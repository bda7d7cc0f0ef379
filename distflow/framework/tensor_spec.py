"""TensorSpec: the dtype and shape a tensor must have, None marking a size that may vary.

df.function's input_signature is a list of them; a traced function's inputs are described by them.
"""
from distflow.framework import dtypes
from distflow.framework.tensor_shape import TensorShape

__all__ = ["TensorSpec"]


class TensorSpec:
    """The dtype and shape a tensor argument must have; None marks a dimension of any size."""

    __slots__ = ("_shape", "_dtype", "_name")

    def __init__(self, shape, dtype=dtypes.float32, name=None):
        self._shape = TensorShape(shape)
        self._dtype = dtypes.as_dtype(dtype)
        self._name = name

    @classmethod
    def from_tensor(cls, tensor, name=None):
        return cls(tensor.shape, tensor.dtype, name)

    shape = property(lambda self: self._shape)
    dtype = property(lambda self: self._dtype)
    name = property(lambda self: self._name)

    def is_compatible_with(self, other):
        """True for a tensor (or spec) of this dtype whose shape fits this one."""
        return getattr(other, "dtype", None) == self._dtype and \
            self._shape.is_compatible_with(TensorShape(other.shape))

    def __repr__(self):
        return "TensorSpec(shape=%s, dtype=%r, name=%r)" % (v2_shape(self._shape), self._dtype,
                                                             self._name)

    def __eq__(self, other):
        return (isinstance(other, TensorSpec) and self._shape.as_tuple() == other._shape.as_tuple()
                and self._dtype == other._dtype and self._name == other._name)

    def __hash__(self):
        return hash((self._shape.as_tuple(), self._dtype.name, self._name))


def v2_shape(shape):
    """TF2 prints a TensorSpec's shape with None for unknown sizes: (None, 13)."""
    dims = shape.as_tuple()
    return "<unknown>" if dims is None else str(tuple(dims))

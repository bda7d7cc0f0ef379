"""EagerTensor: a value computed at once (TF2), wrapping a NumPy or CuPy array."""
import operator

import numpy as np

from distflow import backend
from distflow.framework import dtypes
from distflow.framework.tensor_shape import TensorShape


class EagerTensor:
    __slots__ = ("_value", "__weakref__")
    __array_priority__ = 100

    def __init__(self, value, dtype=None):
        if dtype is not None:
            value = np.asarray(value, dtype=dtypes.as_dtype(dtype).as_numpy_dtype)
        self._value = value

    @property
    def dtype(self):
        return dtypes.of_array(self._value)

    @property
    def shape(self):
        return TensorShape(self._value.shape)

    def get_shape(self):
        return self.shape

    @property
    def ndim(self):
        return self._value.ndim

    @property
    def device(self):
        return "gpu" if backend.is_cupy_array(self._value) else "cpu"

    @property
    def name(self):
        raise AttributeError("Tensor.name is undefined when eager execution is enabled.")

    @property
    def op(self):
        raise AttributeError("Tensor.op is undefined when eager execution is enabled.")

    def numpy(self):
        """A NumPy copy of the value; a NumPy scalar (np.int32(48)) for a scalar, as in TF."""
        v = np.asarray(backend.to_numpy(self._value))
        return v[()] if v.ndim == 0 else v.copy()

    def __array__(self, dtype=None, copy=None):
        v = np.asarray(backend.to_numpy(self._value))
        if copy:
            return np.array(v, dtype=dtype, copy=True)
        return v if dtype is None else v.astype(dtype, copy=False)

    # TF2 prints the NumPy text of the value, on a line of its own when it spans several lines.
    def __str__(self):
        return "tf.Tensor(%s, shape=%s, dtype=%s)" % (
            _numpy_text(str(self.numpy())), self.shape, self.dtype.name)

    def __repr__(self):
        v = self.numpy()
        text = repr(v) if self.ndim else str(v)  # a scalar shows `48`, not `np.int32(48)`
        return "<tf.Tensor: shape=%s, dtype=%s, numpy=%s>" % (
            self.shape, self.dtype.name, _numpy_text(text))

    def __format__(self, spec):  # f"{t}" and f"{t:.2f}" format the value, as TF 2's do
        return format(self.numpy(), spec)

    def __bool__(self):
        return bool(self._value)

    def __float__(self):
        return float(self._value)

    def __int__(self):
        return int(self._value)

    def __index__(self):
        # Only integer scalars may index a list, as for NumPy's: a float tensor raises TypeError.
        return operator.index(self.numpy())

    def __len__(self):
        if not self.ndim:
            raise TypeError("Scalar tensor has no `len()`")
        return len(self._value)

    def __iter__(self):
        if not self.ndim:
            raise TypeError("Cannot iterate over a scalar tensor.")
        return (self[i] for i in range(len(self._value)))

    def __hash__(self):
        raise TypeError("Tensor is unhashable. Instead, use tensor.ref() as the key.")

    def ref(self):
        return _Ref(self)


def _numpy_text(text):
    return "\n" + text if "\n" in text else text


class _Ref:
    __slots__ = ("t",)

    def __init__(self, t):
        self.t = t

    def deref(self):
        return self.t

    def __hash__(self):
        return id(self.t)

    def __eq__(self, other):
        return isinstance(other, _Ref) and other.t is self.t

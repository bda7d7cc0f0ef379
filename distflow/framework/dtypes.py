"""DTypes with TensorFlow's names, each mapped to one NumPy dtype."""
import numpy as np


class DType:
    """A tensor element type: `float32`, `int32`, ... (TF names, NumPy storage)."""

    __slots__ = ("name", "as_numpy_dtype", "_np")

    def __init__(self, name, np_type):
        self.name = name
        self.as_numpy_dtype = np_type
        self._np = np.dtype(np_type)

    @property
    def is_floating(self):
        return self._np.kind == "f"

    @property
    def is_integer(self):
        return self._np.kind in "iu"

    @property
    def is_bool(self):
        return self._np.kind == "b"

    @property
    def is_unsigned(self):
        return self._np.kind == "u"

    @property
    def size(self):
        return self._np.itemsize

    @property
    def base_dtype(self):
        return self

    @property
    def min(self):
        return np.finfo(self._np).min if self.is_floating else np.iinfo(self._np).min

    @property
    def max(self):
        return np.finfo(self._np).max if self.is_floating else np.iinfo(self._np).max

    def __repr__(self):
        return "tf." + self.name

    def __str__(self):
        return "<dtype: %r>" % self.name

    def __eq__(self, other):
        if other is self:  # one DType object per dtype: the usual comparison, eagerly per op
            return True
        if other is None:
            return False
        try:
            return self._np == as_dtype(other)._np
        except TypeError:
            return False

    def __ne__(self, other):
        return other is not self and not self.__eq__(other)

    def __hash__(self):
        return hash(self._np)

    def __reduce__(self):
        return as_dtype, (self.name,)


float16 = DType("float16", np.float16)
float32 = DType("float32", np.float32)
float64 = DType("float64", np.float64)
int8 = DType("int8", np.int8)
int16 = DType("int16", np.int16)
int32 = DType("int32", np.int32)
int64 = DType("int64", np.int64)
uint8 = DType("uint8", np.uint8)
bool_ = DType("bool", np.bool_)
half, double = float16, float64

ALL = (float16, float32, float64, int8, int16, int32, int64, uint8, bool_)
_BY_NP = {d._np: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}
# TF's names, not NumPy's: "float" is float32 (NumPy reads it as float64)
_BY_NAME.update(half=float16, double=float64, float=float32)


def of_array(array):
    """The DType of an array (NumPy or CuPy): as_dtype(array.dtype), by one dict lookup, for
    the eager hot path, which asks it several times per op."""
    found = _BY_NP.get(array.dtype)
    return found if found is not None else as_dtype(array.dtype)


def as_dtype(value):
    """Converts a DType, a name ('float32'), a NumPy dtype or a Python type to a DType."""
    if isinstance(value, DType):
        return value
    if isinstance(value, np.dtype):  # the hot path: an array's dtype, asked on every eager op
        found = _BY_NP.get(value)
        if found is not None:
            return found
    if isinstance(value, str) and value in _BY_NAME:
        return _BY_NAME[value]
    if value is float:
        return float32
    if value is int:
        return int32
    if value is bool:
        return bool_
    try:
        return _BY_NP[np.dtype(value)]
    except (TypeError, KeyError):
        raise TypeError("Cannot convert value %r to a distflow DType." % (value,)) from None

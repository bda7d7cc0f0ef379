"""Python operators on Tensor, EagerTensor and Variable, installed in one place.

`x * y` builds (or runs) the same op as `multiply(x, y)`; in graphs the node is named like TF's
operators name theirs (`mul`, `add`, `sub`, `truediv`), so `x * y` is `mul:0`.
"""
from distflow.framework.eager import EagerTensor
from distflow.framework.graph import Tensor
from distflow.ops import array_ops, comparison_ops, math_ops, matmul_ops
from distflow.ops.variables import Variable


def _op(fn_name):
    # Comparisons and logical ops live in comparison_ops, matmul in matmul_ops, the rest in math_ops.
    for module in (math_ops, comparison_ops, matmul_ops):
        fn = getattr(module, fn_name, None)
        if fn is not None:
            return fn
    raise AttributeError(fn_name)


def _binary(fn_name, op_name, reverse=False):
    fn = _op(fn_name)

    def method(self, other):
        try:
            return fn(other, self, name=op_name) if reverse else fn(self, other, name=op_name)
        except TypeError:
            if not _tensor_like(other):
                return NotImplemented
            raise
    method.__name__ = "__%s__" % fn_name
    return method


def _tensor_like(x):
    import numpy as np
    return isinstance(x, (Tensor, EagerTensor, Variable, int, float, bool, list, tuple,
                          np.ndarray, np.generic))


def _unary(fn_name, op_name=None):
    fn = _op(fn_name)

    def method(self):
        return fn(self, name=op_name)
    return method


def _getitem(self, key):
    return array_ops.slice_helper(self, key)


_BINARY = [
    ("__add__", "add", "add", False), ("__radd__", "add", "add", True),
    ("__sub__", "subtract", "sub", False), ("__rsub__", "subtract", "sub", True),
    ("__mul__", "multiply", "mul", False), ("__rmul__", "multiply", "mul", True),
    ("__truediv__", "divide", "truediv", False), ("__rtruediv__", "divide", "truediv", True),
    ("__floordiv__", "floordiv", "floordiv", False), ("__rfloordiv__", "floordiv", "floordiv", True),
    ("__mod__", "mod", "mod", False), ("__rmod__", "mod", "mod", True),
    ("__pow__", "pow", "pow", False), ("__rpow__", "pow", "pow", True),
    ("__matmul__", "matmul", "matmul", False), ("__rmatmul__", "matmul", "matmul", True),
    ("__lt__", "less", "Less", False), ("__le__", "less_equal", "LessEqual", False),
    ("__gt__", "greater", "Greater", False), ("__ge__", "greater_equal", "GreaterEqual", False),
    ("__and__", "logical_and", "and", False), ("__rand__", "logical_and", "and", True),
    ("__or__", "logical_or", "or", False), ("__ror__", "logical_or", "or", True),
    ("__xor__", "logical_xor", "xor", False), ("__rxor__", "logical_xor", "xor", True),
]

_UNARY = [("__neg__", "negative", None), ("__abs__", "abs", None),
          ("__invert__", "logical_not", None)]


def install(cls):
    for dunder, fn, name, rev in _BINARY:
        setattr(cls, dunder, _binary(fn, name, rev))
    for dunder, fn, name in _UNARY:
        setattr(cls, dunder, _unary(fn, name))
    cls.__getitem__ = _getitem


for _cls in (Tensor, EagerTensor, Variable):
    install(_cls)


def _eager_eq(self, other):
    if other is None:  # as in TF: `t == None` is plain False, not an error
        return False
    return comparison_ops.equal(self, other)


def _eager_ne(self, other):
    if other is None:
        return True
    return comparison_ops.not_equal(self, other)


# TF2 compares eager tensors elementwise; graph tensors compare by identity (they are feed keys).
EagerTensor.__eq__ = _eager_eq
EagerTensor.__ne__ = _eager_ne

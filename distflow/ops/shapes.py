"""Shared shape rules and the one place broadcasting is undone in gradients."""
import numpy as np

from distflow.framework import context
from distflow.framework.eager import EagerTensor
from distflow.framework.tensor_shape import TensorShape


def same_as_input(x, *rest, **attrs):
    return [(x.shape, x.dtype)]


def check_same_dtype(opname, x, y, names=("x", "y")):
    if type(x) is EagerTensor and type(y) is EagerTensor \
            and x._value.dtype == y._value.dtype:  # eagerly: no DType objects to make
        return
    if x.dtype != y.dtype:
        raise TypeError("Input '%s' of '%s' Op has type %s that does not match type %s of argument "
                        "'%s'." % (names[1], opname, y.dtype.name, x.dtype.name, names[0]))


def broadcast_shapes(a, b, opname="op"):
    """NumPy broadcasting of two static shapes; None stays unknown where it cannot be decided."""
    da, db = TensorShape(a).as_tuple(), TensorShape(b).as_tuple()
    if da is None or db is None:
        return TensorShape(None)
    n = max(len(da), len(db))
    da = (1,) * (n - len(da)) + da
    db = (1,) * (n - len(db)) + db
    out = []
    for x, y in zip(da, db):
        if x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        elif x is None:
            out.append(y)
        elif y is None or x == y:
            out.append(x)
        else:
            raise ValueError("Dimensions must be equal, but are %d and %d for '%s' with input shapes: "
                             "%s, %s." % (x, y, opname, _as_list(a), _as_list(b)))
    return TensorShape(out)


def _as_list(s):
    s = TensorShape(s)
    return "?" if s.rank is None else "[%s]" % ",".join("?" if d is None else str(d) for d in s)


def binary_infer(name, out_dtype=None):
    def infer(x, y, **attrs):
        check_same_dtype(name, x, y)
        return [(broadcast_shapes(x.shape, y.shape, name), out_dtype or x.dtype)]
    return infer


def normalize_axis(axis, rank):
    """A tuple of non-negative axes, or None for all axes."""
    if axis is None:
        return None
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    if rank is None:
        return tuple(int(a) for a in axes)
    out = []
    for a in axes:
        a = int(a)
        if not -rank <= a < rank:
            raise ValueError("Invalid reduction dimension %d for input with %d dimensions." % (a, rank))
        out.append(a % rank)
    return tuple(sorted(set(out)))


def reduced_shape(shape, axis, keepdims):
    dims = shape.as_tuple()
    if dims is None:
        return TensorShape(None)
    axes = normalize_axis(axis, len(dims))
    if axes is None:
        axes = tuple(range(len(dims)))
    if keepdims:
        return TensorShape([1 if i in axes else d for i, d in enumerate(dims)])
    return TensorShape([d for i, d in enumerate(dims) if i not in axes])


def static_shape(t):
    """The concrete shape of `t` as a tuple when known without running anything, else None."""
    if isinstance(t, EagerTensor):
        return t._value.shape
    s = t.shape
    return s.as_tuple() if s.is_fully_defined() else None


def shape_tensor(t):
    """`t`'s shape as an int32 tensor: a constant when known statically."""
    if type(t) is EagerTensor:  # the eager hot path (every bias gradient): no conversion needed
        return EagerTensor(np.array(t._value.shape, dtype=np.int32))
    from distflow.ops import array_ops
    s = static_shape(t)
    if s is not None:
        from distflow.ops.dispatch import convert_to_tensor
        return convert_to_tensor(np.array(s, dtype=np.int32))
    return array_ops.shape(t)


def unbroadcast(grad, x):
    """Sums `grad` down to `x`'s shape, undoing NumPy broadcasting (nothing to do if equal)."""
    if grad is None:
        return None
    gs, xs = static_shape(grad), static_shape(x)
    if gs is not None and gs == xs:
        return grad
    from distflow.ops import math_ops
    return math_ops.sum_to(grad, shape_tensor(x))


def binary_grad(op, grad_x, grad_y):
    """The (x, y) gradients of a broadcasting two-input op: `grad_x(x, y)` and `grad_y(x, y)`
    give each input's gradient at the output's shape (None: not differentiable), summed here
    down to the input's shape. An input nobody needs (registry.skips_input: eagerly, a constant
    operand such as a label or a data batch) gets None and its function is never called."""
    from distflow.ops.registry import skips_input
    x, y = op.inputs
    return (None if grad_x is None or skips_input(op, 0) else unbroadcast(grad_x(x, y), x),
            None if grad_y is None or skips_input(op, 1) else unbroadcast(grad_y(x, y), y))


def executing_eagerly():
    return context.executing_eagerly()


def check_mergeable(a, b):
    """Raises TF's shape-function error when static shapes `a` and `b` cannot be the same shape
    (the first sentence of what TF's C++ Merge says; Assign and PlaceholderWithDefault use it)."""
    if a.rank is None or b.rank is None:
        return
    if a.rank != b.rank:
        raise ValueError("Shapes must be equal rank, but are %d and %d" % (a.rank, b.rank))
    for i, (x, y) in enumerate(zip(a.as_list(), b.as_list())):
        if x is not None and y is not None and x != y:
            raise ValueError("Dimension %d in both shapes must be equal, but are %d and %d. "
                             "Shapes are %s and %s." % (i, x, y, a.as_list(), b.as_list()))

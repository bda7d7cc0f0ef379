"""Scans: cumsum, the running sum along one axis (TF's Cumsum, with its exclusive and reverse
variants). Its gradient is the same scan run the other way: each input element counts in the
sums at and after it (before it, when reversed).
"""
from distflow.ops.dispatch import apply
from distflow.ops.math_ops import numeric_input
from distflow.ops.registry import op_def
from distflow.ops.shapes import same_as_input

__all__ = [
    "cumsum",
]


def _cumsum_forward(xp, x, axis=0, exclusive=False, reverse=False):
    if x.ndim == 0:
        return x.copy()
    axis %= x.ndim  # a negative axis stays negative while the rank is unknown
    if reverse:
        x = xp.flip(x, axis)
    out = xp.cumsum(x, axis=axis, dtype=x.dtype)
    if exclusive:  # shifted by one, not out - x: the same bits as an exclusive sum computed alone
        out = xp.roll(out, 1, axis)
        first = [slice(None)] * x.ndim
        first[axis] = 0
        out[tuple(first)] = 0
    return xp.flip(out, axis) if reverse else out


def _cumsum_grad(op, dy):
    return cumsum(dy, axis=op.attrs["axis"], exclusive=op.attrs["exclusive"],
                  reverse=not op.attrs["reverse"])


Cumsum = op_def("Cumsum", infer=same_as_input, forward=_cumsum_forward, grad=_cumsum_grad)


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    """The running sum of x along `axis`: [a, b, c] gives [a, a + b, a + b + c]; `exclusive`
    leaves out each element itself ([0, a, a + b]); `reverse` sums from the end."""
    x = numeric_input("Cumsum", x)
    rank = x.shape.rank
    axis = int(axis)
    if rank is not None and not -max(rank, 1) <= axis < max(rank, 1):
        raise ValueError("axis %d is out of range for a tensor of rank %d" % (axis, rank))
    return apply(Cumsum, [x], {"axis": axis, "exclusive": bool(exclusive),
                               "reverse": bool(reverse)}, name=name)

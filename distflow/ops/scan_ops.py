"""Scans: cumsum and cumprod, the running sum and product along one axis (TF's Cumsum and
Cumprod, with their exclusive and reverse variants). Cumsum's gradient is the same scan run the
other way: each input element counts in the sums at and after it (before it, when reversed).
Cumprod's is TF's: the products times dy, summed the other way, divided by x.
"""
from distflow.ops.dispatch import apply
from distflow.ops.math_ops import divide_no_nan, numeric_input
from distflow.ops.registry import op_def
from distflow.ops.shapes import same_as_input

__all__ = [
    "cumsum",
]  # cumprod is tf.math.cumprod only in TF2: distflow/math.py exports it


def _scan(scan, identity):
    def forward(xp, x, axis=0, exclusive=False, reverse=False):
        if x.ndim == 0:
            return x.copy()
        axis %= x.ndim  # a negative axis stays negative while the rank is unknown
        if reverse:
            x = xp.flip(x, axis)
        out = getattr(xp, scan)(x, axis=axis, dtype=x.dtype)
        if exclusive:  # shifted by one, not out - x: the same bits as an exclusive scan alone
            out = xp.roll(out, 1, axis)
            first = [slice(None)] * x.ndim
            first[axis] = 0
            out[tuple(first)] = identity
        return xp.flip(out, axis) if reverse else out
    return forward


_cumsum_forward = _scan("cumsum", 0)


def _cumsum_grad(op, dy):
    return cumsum(dy, axis=op.attrs["axis"], exclusive=op.attrs["exclusive"],
                  reverse=not op.attrs["reverse"])


Cumsum = op_def("Cumsum", infer=same_as_input, forward=_cumsum_forward, grad=_cumsum_grad)


def _apply_scan(opdef, x, axis, exclusive, reverse, name):
    x = numeric_input(opdef.name, x)
    rank = x.shape.rank
    axis = int(axis)
    if rank is not None and not -max(rank, 1) <= axis < max(rank, 1):
        raise ValueError("axis %d is out of range for a tensor of rank %d" % (axis, rank))
    return apply(opdef, [x], {"axis": axis, "exclusive": bool(exclusive),
                              "reverse": bool(reverse)}, name=name)


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    """The running sum of x along `axis`: [a, b, c] gives [a, a + b, a + b + c]; `exclusive`
    leaves out each element itself ([0, a, a + b]); `reverse` sums from the end."""
    return _apply_scan(Cumsum, x, axis, exclusive, reverse, name)


# -- Cumprod --------------------------------------------------------------------------------
def _cumprod_grad(op, dy):
    """TF's _CumprodGrad: d y_i / d x_k = y_i / x_k for every y_i that x_k is a factor of, so
    the gradient is the reversed cumsum of y * dy, divided by x. Exact where no element of x is
    zero. Where one is, TF's formula (kept here, for parity) is wrong at the zeros themselves:
    div_no_nan gives them 0, where the true gradient sums the products of the other factors.
    (Elsewhere it stays right: every product a zero is a factor of is 0 on both sides.)"""
    x = op.inputs[0]
    axis, exclusive, reverse = op.attrs["axis"], op.attrs["exclusive"], op.attrs["reverse"]
    prod = cumprod(x, axis, exclusive=exclusive, reverse=reverse)
    out = cumsum(prod * dy, axis, exclusive=exclusive, reverse=not reverse)
    return divide_no_nan(out, x)


Cumprod = op_def("Cumprod", infer=same_as_input, forward=_scan("cumprod", 1), grad=_cumprod_grad)


def cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    """The running product of x along `axis`: [a, b, c] gives [a, a * b, a * b * c];
    `exclusive` leaves out each element itself ([1, a, a * b]); `reverse` multiplies from the
    end. Its gradient is TF's, exact only where x has no zeros (see _cumprod_grad)."""
    return _apply_scan(Cumprod, x, axis, exclusive, reverse, name)

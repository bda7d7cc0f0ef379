"""Joining and splitting ops: concat, stack, unstack, split, tile (re-exported by array_ops,
whose helpers they use)."""
import numpy as np

from distflow.framework.errors import InvalidArgumentError
from distflow.framework.tensor_shape import TensorShape, unknown_shape
from distflow.ops.array_ops import (as_int32, as_tensor, check_axis, convert_all, identity,
                                    known_int, known_ints, output_list, reshape, same_dtype,
                                    shape, transpose)
from distflow.ops.dispatch import apply
from distflow.ops.registry import op_def
from distflow.ops.shapes import static_shape


# -- ConcatV2 -------------------------------------------------------------------------------
def _concat_infer(*inputs):
    values, axis = inputs[:-1], known_int(inputs[-1])
    dtype = same_dtype("ConcatV2", values)
    shapes = [v.shape.as_tuple() for v in values]
    known = [s for s in shapes if s is not None]
    if not known:
        return [(TensorShape(None), dtype)]
    r = len(known[0])
    for s in known:
        if len(s) != r:
            raise ValueError("Shape must be rank %d but is rank %d for 'ConcatV2'" % (r, len(s)))
    if axis is None:
        return [(unknown_shape(r), dtype)]
    a = check_axis(axis, r)
    out = list(TensorShape(unknown_shape(r)))
    for s in known:
        rest = [d if i != a else None for i, d in enumerate(s)]
        try:
            out = list(TensorShape(out).merge_with(rest))
        except ValueError:
            raise ValueError("Dimensions of inputs should match except along axis %d: %s" % (
                a, ", ".join(str(TensorShape(s)) for s in known))) from None
    sizes = [None if s is None else s[a] for s in shapes]
    out[a] = None if None in sizes else sum(sizes)
    return [(TensorShape(out), dtype)]


def _concat_grad(op, dy):
    values, axis = op.inputs[:-1], op.inputs[-1]
    a = known_int(axis)
    shapes = [static_shape(v) for v in values]
    if a is not None and None not in shapes:
        sizes = [s[a] for s in shapes]
    else:
        sizes = stack([shape(v)[axis] for v in values])
    return split(dy, sizes, axis) + [None]


ConcatV2 = op_def("ConcatV2", host_inputs=(-1,), infer=_concat_infer, grad=_concat_grad,
                  forward=lambda xp, *args: xp.concatenate(args[:-1], axis=int(args[-1])))


def concat(values, axis, name="concat"):
    """The tensors in `values` joined along an existing dimension `axis` (may be negative)."""
    values = convert_all(list(values))
    if len(values) == 1:
        return identity(values[0], name=name)
    same_dtype("ConcatV2", values)  # eager calls skip the shape rule; NumPy would promote
    return apply(ConcatV2, values + [as_int32(axis)], name=name)


# -- Pack, Unpack (stack, unstack) ----------------------------------------------------------
def _pack_infer(*values, axis=0):
    dtype = same_dtype("Pack", values)
    shape = TensorShape(None)
    for v in values:
        shape = shape.merge_with(v.shape)
    if shape.rank is None:
        return [(shape, dtype)]
    dims = list(shape)
    dims.insert(check_axis(axis, len(dims) + 1), len(values))
    return [(TensorShape(dims), dtype)]


Pack = op_def("Pack", infer=_pack_infer,
              forward=lambda xp, *values, axis=0: xp.stack(values, axis=axis),
              grad=lambda op, dy: tuple(unstack(dy, num=len(op.inputs), axis=op.attrs["axis"])))


def stack(values, axis=0, name="stack"):
    """The rank-R tensors in `values` stacked into one rank-(R+1) tensor along a new `axis`."""
    values = convert_all(list(values))
    same_dtype("Pack", values)  # eager calls skip the shape rule; NumPy would promote
    rank = values[0].shape.rank if values else None
    if rank is not None and not -rank - 1 <= int(axis) <= rank:
        raise ValueError("Argument `axis` = %d not in range [%d, %d)" % (axis, -rank - 1,
                                                                         rank + 1))
    return apply(Pack, values, {"axis": int(axis)}, name=name)


def _unpack_infer(x, num, axis=0):
    dims = x.shape.as_tuple()
    if dims is None:
        return [(TensorShape(None), x.dtype)] * num
    a = check_axis(axis, len(dims))
    if dims[a] is not None and dims[a] != num:
        raise ValueError("Dimension %d in shape %s must be %d (the number of outputs)"
                         % (a, x.shape, num))
    return [(TensorShape(dims[:a] + dims[a + 1:]), x.dtype)] * num


def _unpack_forward(xp, x, num, axis=0):
    if x.shape[axis] != num:
        raise InvalidArgumentError(None, None, "Input shape axis %d must equal %d, got shape %s"
                                   % (axis, num, list(x.shape)))
    # Views, one per index along `axis` (asarray: NumPy yields scalars, not 0-d arrays, from 1-D).
    return tuple(xp.asarray(v) for v in xp.moveaxis(x, axis, 0))


Unpack = op_def("Unpack", infer=_unpack_infer, forward=_unpack_forward, aliases=True,
                grad=lambda op, *dys: stack(list(dys), axis=op.attrs["axis"]))


def unstack(value, num=None, axis=0, name="unstack"):
    """The list of rank-(R-1) tensors that `value` holds along `axis`."""
    value = as_tensor(value)
    if num is None:
        dims = value.shape.as_tuple()
        if dims is None or dims[check_axis(axis, len(dims))] is None:
            raise ValueError("Cannot infer argument `num` from shape %s" % value.shape)
        num = dims[axis]
    return output_list(apply(Unpack, [value], {"num": int(num), "axis": int(axis)}, name=name))


# -- Split, SplitV --------------------------------------------------------------------------
def _uneven(axis, size, num):
    return ("Number of ways to split should evenly divide the split dimension, but got "
            "split_dim %d (size = %d) and num_split %d" % (axis, size, num))


def _split_infer(axis, x, num_split):
    a, dims = known_int(axis), x.shape.as_tuple()
    if dims is None or a is None:
        return [(unknown_shape(None if dims is None else len(dims)), x.dtype)] * num_split
    a = check_axis(a, len(dims))
    d = dims[a]
    if d is not None and d % num_split:
        raise ValueError(_uneven(a, d, num_split))
    out = dims[:a] + (None if d is None else d // num_split,) + dims[a + 1:]
    return [(TensorShape(out), x.dtype)] * num_split


def _split_forward(xp, axis, x, num_split):
    a = int(axis)
    if x.shape[a] % num_split:
        raise InvalidArgumentError(None, None, _uneven(a, x.shape[a], num_split))
    return tuple(xp.split(x, num_split, axis=a))


Split = op_def("Split", host_inputs=(0,), infer=_split_infer, forward=_split_forward,
               aliases=True,
               grad=lambda op, *dys: (None, concat(list(dys), op.inputs[0])))


def _resolve_sizes(sizes, total, error):
    """Fills in one -1 of `sizes` from the total and checks that the sizes add up to it."""
    if sizes.count(-1) > 1:
        raise error("Only one dimension in size_splits may be -1, got %s" % sizes)
    if -1 in sizes:
        rest = total - (sum(sizes) + 1)
        if rest < 0:
            raise error("size_splits %s add up to more than the split dimension (%d)"
                        % (sizes, total))
        sizes = [rest if s == -1 else s for s in sizes]
    if sum(sizes) != total or min(sizes, default=0) < 0:
        raise error("Determined shape must either match input shape along split_dim exactly if "
                    "fully specified, or be less than the size of the input along split_dim if "
                    "not fully specified.  Got: %d" % sum(sizes))
    return sizes


def _split_v_infer(x, size_splits, axis, num_split):
    sizes, a, dims = known_ints(size_splits), known_int(axis), x.shape.as_tuple()
    if dims is None or a is None:
        return [(unknown_shape(None if dims is None else len(dims)), x.dtype)] * num_split
    a = check_axis(a, len(dims))
    if sizes is None:
        parts = [None] * num_split
    elif dims[a] is None:
        parts = [None if s == -1 else s for s in sizes]
    else:
        parts = _resolve_sizes(sizes, dims[a], ValueError)
    return [(TensorShape(dims[:a] + (p,) + dims[a + 1:]), x.dtype) for p in parts]


def _split_v_forward(xp, x, size_splits, axis, num_split):
    a = int(axis)
    error = lambda msg: InvalidArgumentError(None, None, msg)  # noqa: E731
    sizes = _resolve_sizes([int(s) for s in size_splits.tolist()], x.shape[a], error)
    return tuple(xp.split(x, np.cumsum(sizes)[:-1].tolist(), axis=a))


SplitV = op_def("SplitV", host_inputs=(1, 2),
                infer=_split_v_infer, forward=_split_v_forward, aliases=True,
                grad=lambda op, *dys: (concat(list(dys), op.inputs[2]), None, None))


def split(value, num_or_size_splits, axis=0, num=None, name="split"):
    """A list of pieces of `value` along `axis`: `n` equal ones for an int, else of the given
    sizes (one size may be -1)."""
    n = num_or_size_splits
    if isinstance(n, (int, np.integer)) and not isinstance(n, bool):
        return output_list(apply(Split, [as_int32(axis), value], {"num_split": int(n)}, name=name))
    sizes = as_int32(n)
    if num is None:
        dims = sizes.shape.as_tuple()
        if not dims or dims[0] is None:
            raise ValueError("Cannot infer argument `num` from shape %s" % sizes.shape)
        num = dims[0]
    return output_list(apply(SplitV, [value, sizes, as_int32(axis)], {"num_split": int(num)},
                          name=name))


# -- Tile -----------------------------------------------------------------------------------
def _tile_infer(x, multiples):
    m, dims = known_ints(multiples), x.shape.as_tuple()
    if m is None:
        n = multiples.shape.as_tuple()
        return [(unknown_shape(len(dims) if dims is not None else n[0] if n else None), x.dtype)]
    if dims is None:
        return [(unknown_shape(len(m)), x.dtype)]
    if len(m) != len(dims):
        raise ValueError("Expected multiples argument to be a vector of length %d but got length "
                         "%d" % (len(dims), len(m)))
    return [(TensorShape([None if d is None else d * k for d, k in zip(dims, m)]), x.dtype)]


def _tile_grad(op, dy):
    # dy viewed as [m0, d0, m1, d1, ...]: each copy of x is one index along the m axes; sum them.
    x, multiples = op.inputs
    xs, m = static_shape(x), known_ints(multiples)
    if xs is not None and m is not None:
        r = len(xs)
        split_shape = [v for pair in zip(m, xs) for v in pair]
    else:
        r = x.shape.rank if x.shape.rank is not None else multiples.shape[0]
        if r is None:
            raise ValueError("The gradient of Tile needs the rank of its input")
        split_shape = reshape(transpose(stack([multiples, shape(x)])), [-1])
    from distflow.ops.math_ops import reduce_sum
    return reduce_sum(reshape(dy, split_shape), axis=list(range(0, 2 * r, 2))), None


def _tile_forward(xp, x, multiples):
    multiples = tuple(multiples.tolist())
    if len(multiples) != x.ndim:  # NumPy's tile would pad x's shape with ones instead
        raise InvalidArgumentError(None, None, "Expected multiples argument to be a vector of "
                                   "length %d but got length %d" % (x.ndim, len(multiples)))
    return xp.tile(x, multiples)


Tile = op_def("Tile", host_inputs=(1,), infer=_tile_infer, grad=_tile_grad,
              forward=_tile_forward)


def tile(input, multiples, name=None):
    """`input` repeated `multiples[i]` times along each dimension i."""
    return apply(Tile, [input, as_int32(multiples)], name=name)

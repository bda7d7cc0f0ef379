"""Shape and array manipulation ops: reshape, transpose, squeeze, concat, stack, split, tile...

Indexing ops (slicing and `t[...]`, pad, gather, one_hot, range) live in slicing_ops.py; concat,
stack, unstack, split and tile in concat_split_ops.py (their names are re-exported here).
"""
import contextlib

import numpy as np

from distflow.framework import context, dtypes
from distflow.framework.errors import InvalidArgumentError
from distflow.framework.graph import get_default_graph
from distflow.framework.tensor_shape import TensorShape, unknown_shape
from distflow.ops import dispatch
from distflow.ops.constant_op import constant_value
from distflow.ops.dispatch import apply, convert_to_tensor
from distflow.ops.registry import ALWAYS, NOT_DIFFERENTIABLE, SAME_SHAPE, op_def
from distflow.ops.shapes import same_as_input, shape_tensor


__all__ = [
    "identity",
    "stop_gradient",
    "shape",
    "size",
    "reshape",
    "expand_dims",
    "zeros_like",
    "ones_like",
    "fill",
    "zeros",
    "ones",
    "rank",
    "transpose",
    "invert_permutation",
    "squeeze",
    "concat",
    "stack",
    "unstack",
    "split",
    "tile",
]


# -- Identity -------------------------------------------------------------------------------
Identity = op_def("Identity", pass_through=ALWAYS,
                  infer=same_as_input, forward=lambda xp, x: x, aliases=True,
                  grad=lambda op, dy: dy)


def identity(input, name=None):
    """The same value, as a new tensor."""
    return apply(Identity, [input], name=name)


# -- Snapshot: a copy, where an alias would change under a later in-place update ---------------
Snapshot = op_def("Snapshot", infer=same_as_input, forward=lambda xp, x: xp.array(x, copy=True),
                  grad=lambda op, dy: dy)


def snapshot(input, name=None):
    """The value now, as a copy (TF's Snapshot): a variable's value read before an update."""
    return apply(Snapshot, [input], name=name)


# -- StopGradient ---------------------------------------------------------------------------
StopGradient = op_def("StopGradient", pass_through=ALWAYS,
                      infer=same_as_input, forward=lambda xp, x: x,
                      aliases=True, grad=lambda op, dy: None)


def stop_gradient(input, name=None):
    """The same value; no gradient flows back through it."""
    return apply(StopGradient, [input], name=name)


# -- Shape, Size, Rank ----------------------------------------------------------------------
def _shape_infer(x, out_type=dtypes.int32):
    rank = x.shape.rank
    return [(TensorShape([rank]), out_type)]


Shape = op_def("Shape", shape_only=True, infer=_shape_infer, grad=NOT_DIFFERENTIABLE,
               forward=lambda xp, x, out_type=dtypes.int32: np.array(
                   x.shape, dtype=out_type.as_numpy_dtype))


def shape(input, name=None, out_type=dtypes.int32):
    """The shape of `input` as a 1-D integer tensor, computed at run time."""
    return apply(Shape, [input], {"out_type": dtypes.as_dtype(out_type)}, name=name)


Size = op_def("Size", shape_only=True,
              infer=lambda x, out_type=dtypes.int32: [(TensorShape([]), out_type)],
              grad=NOT_DIFFERENTIABLE,
              forward=lambda xp, x, out_type=dtypes.int32: np.array(
                  x.size, dtype=out_type.as_numpy_dtype))


def size(input, name=None, out_type=dtypes.int32):
    """The number of elements of `input`."""
    return apply(Size, [input], {"out_type": dtypes.as_dtype(out_type)}, name=name)


# -- Reshape --------------------------------------------------------------------------------
def _reshape_infer(x, shape):
    value = constant_value(shape)
    if value is None:
        n = shape.shape.as_tuple()
        return [(TensorShape(None if not n or n[0] is None else [None] * n[0]), x.dtype)]
    dims = [int(v) for v in value]
    if dims.count(-1) > 1:
        raise ValueError("Cannot infer multiple unknown dimensions in shape %s" % dims)
    if -1 in dims:
        known = x.shape.num_elements()
        rest = int(np.prod([d for d in dims if d != -1]))
        if known is not None and rest:
            if known % rest:
                raise ValueError("Cannot reshape a tensor with %d elements to shape %s"
                                 % (known, dims))
            dims[dims.index(-1)] = known // rest
        else:
            dims[dims.index(-1)] = None
    else:
        known = x.shape.num_elements()
        if known is not None and known != int(np.prod(dims)):
            raise ValueError("Cannot reshape a tensor with %d elements to shape %s (%d elements)"
                             % (known, dims, int(np.prod(dims))))
    return [(TensorShape(dims), x.dtype)]


Reshape = op_def("Reshape", host_inputs=(1,), pass_through=SAME_SHAPE,
                 infer=_reshape_infer, aliases=True,
                 forward=lambda xp, x, shape: xp.reshape(x, tuple(shape.tolist())),
                 grad=lambda op, dy: (reshape(dy, shape_tensor(op.inputs[0])), None))


def reshape(tensor, shape, name=None):
    """`tensor` with a new shape of the same size; one dimension may be -1."""
    return apply(Reshape, [tensor, as_int32(shape)], name=name)


# -- ExpandDims -----------------------------------------------------------------------------
def _expand_dims_infer(x, axis):
    dims = x.shape.as_tuple()
    if dims is None:
        return [(TensorShape(None), x.dtype)]
    rank = len(dims) + 1
    if not -rank <= axis < rank:
        raise ValueError("axis %d is out of range for a tensor of rank %d" % (axis, rank - 1))
    a = axis % rank
    return [(TensorShape(dims[:a] + (1,) + dims[a:]), x.dtype)]


ExpandDims = op_def("ExpandDims", infer=_expand_dims_infer, aliases=True,
                    forward=lambda xp, x, axis: xp.expand_dims(x, axis),
                    grad=lambda op, dy: reshape(dy, shape_tensor(op.inputs[0])))


def expand_dims(input, axis, name=None):
    """`input` with a new dimension of size 1 at `axis`."""
    return apply(ExpandDims, [input], {"axis": int(axis)}, name=name)


# -- ZerosLike, OnesLike, Fill ----------------------------------------------------------------
ZerosLike = op_def("ZerosLike", shape_only=True,
                   infer=same_as_input, forward=lambda xp, x: xp.zeros_like(x),
                   grad=NOT_DIFFERENTIABLE)
OnesLike = op_def("OnesLike", shape_only=True,
                  infer=same_as_input, forward=lambda xp, x: xp.ones_like(x),
                  grad=NOT_DIFFERENTIABLE)


def zeros_like(tensor, dtype=None, name=None):
    """Zeros with the shape (and dtype, unless given) of `tensor`."""
    out = apply(ZerosLike, [tensor], name=name)
    return out if dtype is None else _cast(out, dtype)


def ones_like(tensor, dtype=None, name=None):
    """Ones with the shape (and dtype, unless given) of `tensor`."""
    out = apply(OnesLike, [tensor], name=name)
    return out if dtype is None else _cast(out, dtype)


def _cast(x, dtype):
    from distflow.ops.math_ops import cast
    return cast(x, dtype)


def _fill_infer(dims, value):
    v = constant_value(dims)
    if v is None:
        n = dims.shape.as_tuple()
        return [(TensorShape(None if not n or n[0] is None else [None] * n[0]), value.dtype)]
    return [(TensorShape([int(d) for d in v]), value.dtype)]


Fill = op_def("Fill", host_inputs=(0,), infer=_fill_infer,
              forward=lambda xp, dims, value: xp.full(tuple(int(d) for d in dims), value,
                                                      dtype=value.dtype),
              grad=lambda op, dy: (None, _sum_all(dy)))


def _sum_all(x):
    from distflow.ops.math_ops import reduce_sum
    return reduce_sum(x)


def shape_arg(shape):
    """A shape argument as a vector: TF's shape-taking ops read a plain int `n` as `[n]`
    (`tf.zeros(2)`, `tf.random.normal(5)`); tensors and sequences pass through."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        return [int(shape)]
    return shape


def fill(dims, value, name=None):
    """A tensor of shape `dims` filled with the scalar `value`."""
    return apply(Fill, [as_int32(shape_arg(dims)), convert_to_tensor(value)], name=name)


def zeros(shape, dtype=dtypes.float32, name=None):
    """A tensor of zeros."""
    dtype = dtypes.as_dtype(dtype)
    return fill(shape, np.zeros((), dtype.as_numpy_dtype), name=name)


def ones(shape, dtype=dtypes.float32, name=None):
    """A tensor of ones."""
    dtype = dtypes.as_dtype(dtype)
    return fill(shape, np.ones((), dtype.as_numpy_dtype), name=name)


# -- helpers for the ops below ----------------------------------------------------------------
@contextlib.contextmanager
def op_scope(name, values):
    """TF's `name_scope(name)` around a composite op, in the graph of `values`.

    Yields the scope (`"transpose/"`); passing it as an op's name names the op after the scope
    itself (`transpose`), with its helper constants inside (`transpose/perm`), as TF does. Yields
    None while executing eagerly, where names do not exist.
    """
    graph = dispatch.graph_of(values)
    if graph is None and context.executing_eagerly():
        yield None
        return
    graph = graph or get_default_graph()
    with graph.as_default(), graph.name_scope(name) as scope:
        yield scope


def known_ints(t):
    """The values of an integer tensor as a list of ints when known while building, else None."""
    v = constant_value(t)
    return None if v is None else [int(i) for i in np.reshape(v, [-1])]


def known_int(t):
    v = constant_value(t)
    return None if v is None else int(v)


def check_axis(axis, rank, what="axis"):
    if not -rank <= axis < rank:
        raise ValueError("%s %d is out of range for a tensor of rank %d" % (what, axis, rank))
    return axis % rank


def output_list(outs):
    # Graph mode returns a bare Tensor for a single output; multi-output ops always give lists.
    return list(outs) if isinstance(outs, (list, tuple)) else [outs]


def convert_all(values):
    """Converts tensors and plain values together: plain values take the tensors' dtype."""
    dtype = next((d for d in map(dispatch.dtype_of, values) if d is not None), None)
    return [convert_to_tensor(v, dtype) if dispatch.dtype_of(v) is None else v for v in values]


def as_tensor(x):
    return convert_to_tensor(x) if dispatch.dtype_of(x) is None else x


def as_int32(x):
    return x if dispatch.dtype_of(x) is not None else convert_to_tensor(x, dtypes.int32)


def same_dtype(opname, values):
    for v in values[1:]:
        if v.dtype != values[0].dtype:
            raise TypeError("%s expects all its values to have one dtype, got %s and %s"
                            % (opname, values[0].dtype.name, v.dtype.name))
    return values[0].dtype


def slice_helper(tensor, key):
    """`tensor[key]`; defined in slicing_ops.py, which builds on this module (imported lazily)."""
    from distflow.ops import slicing_ops
    return slicing_ops.slice_helper(tensor, key)


# -- Rank -----------------------------------------------------------------------------------
Rank = op_def("Rank", shape_only=True,
              infer=lambda x: [(TensorShape([]), dtypes.int32)], grad=NOT_DIFFERENTIABLE,
              forward=lambda xp, x: np.array(x.ndim, dtype=np.int32))


def rank(input, name=None):
    """The number of dimensions of `input`, as a scalar int32 tensor."""
    return apply(Rank, [input], name=name)


# -- Transpose, InvertPermutation -----------------------------------------------------------
def _transpose_infer(x, perm):
    p, dims = known_ints(perm), x.shape.as_tuple()
    if p is None:
        n = perm.shape.as_tuple()
        return [(unknown_shape(len(dims) if dims is not None else n[0] if n else None), x.dtype)]
    if sorted(p) != list(range(len(p))):
        raise ValueError("%s is not a valid permutation" % p)
    if dims is None:
        return [(unknown_shape(len(p)), x.dtype)]
    if len(p) != len(dims):
        raise ValueError("Dimension must be %d but is %d for 'Transpose' with input shapes: %s, "
                         "[%d]." % (len(dims), len(p), x.shape, len(p)))
    return [(TensorShape([dims[i] for i in p]), x.dtype)]


def _transpose_grad(op, dy):
    perm = op.inputs[1]
    p = known_ints(perm)
    inverse = invert_permutation(perm) if p is None else np.argsort(p).astype(np.int32)
    return transpose(dy, inverse), None


Transpose = op_def("Transpose", host_inputs=(1,),
                   infer=_transpose_infer, aliases=True, grad=_transpose_grad,
                   forward=lambda xp, x, perm: xp.transpose(x, tuple(perm.tolist())))


def transpose(a, perm=None, name="transpose", conjugate=False):
    """`a` with its dimensions permuted: output dim i is input dim perm[i]; reversed by default."""
    a = as_tensor(a)
    with op_scope(name, [a]) as scope:
        if perm is None:
            r = a.shape.rank
            if r is None:  # reverse at run time: rank-1, ..., 0
                from distflow.ops.slicing_ops import range as range_op
                perm = range_op(rank(a) - 1, -1, -1)
            else:
                perm = np.arange(r - 1, -1, -1, dtype=np.int32)
        if dispatch.dtype_of(perm) is None:
            perm = convert_to_tensor(perm, dtypes.int32, name="perm")
        return apply(Transpose, [a, perm], name=scope)


def _invert_permutation_forward(xp, p):
    n = p.shape[0]
    if not bool((xp.sort(p) == xp.arange(n, dtype=p.dtype)).all()):
        raise InvalidArgumentError(None, None, "%s is not a permutation" % (p.tolist(),))
    out = xp.empty_like(p)
    out[p] = xp.arange(n, dtype=p.dtype)
    return out


InvertPermutation = op_def("InvertPermutation", infer=same_as_input, grad=NOT_DIFFERENTIABLE,
                           forward=_invert_permutation_forward)


def invert_permutation(x, name=None):
    """The inverse permutation: y[x[i]] = i."""
    return apply(InvertPermutation, [as_int32(x)], name=name)


# -- Squeeze --------------------------------------------------------------------------------
def _squeeze_message(axis, size):
    return "Can not squeeze dim[%d], expected a dimension of 1, got %d" % (axis, size)


def _squeeze_infer(x, squeeze_dims):
    dims = x.shape.as_tuple()
    if dims is None:
        return [(TensorShape(None), x.dtype)]
    if not squeeze_dims:
        if None in dims:  # an unknown dim may or may not be 1: TF gives up on the rank too
            return [(TensorShape(None), x.dtype)]
        return [(TensorShape([d for d in dims if d != 1]), x.dtype)]
    axes = {check_axis(a, len(dims)) for a in squeeze_dims}
    for a in sorted(axes):
        if dims[a] not in (None, 1):
            raise ValueError(_squeeze_message(a, dims[a]))
    return [(TensorShape([d for i, d in enumerate(dims) if i not in axes]), x.dtype)]


def _squeeze_forward(xp, x, squeeze_dims):
    if not squeeze_dims:
        return xp.squeeze(x)
    for a in squeeze_dims:
        if x.shape[a] != 1:
            raise InvalidArgumentError(None, None, _squeeze_message(a % x.ndim, x.shape[a]))
    return xp.squeeze(x, axis=tuple(squeeze_dims))


Squeeze = op_def("Squeeze", infer=_squeeze_infer, forward=_squeeze_forward, aliases=True,
                 grad=lambda op, dy: reshape(dy, shape_tensor(op.inputs[0])))


def squeeze(input, axis=None, name=None, squeeze_dims=None):
    """`input` without its size-1 dimensions (only those in `axis`, when given)."""
    axis = squeeze_dims if axis is None else axis
    axes = [] if axis is None else [int(a) for a in np.reshape(axis, [-1])]
    return apply(Squeeze, [input], {"squeeze_dims": axes}, name=name)


# Joining and splitting ops live in concat_split_ops.py (it builds on the helpers above); their
# names stay here, where TF has them.
from distflow.ops.concat_split_ops import (ConcatV2, Pack, Split, SplitV, Tile,  # noqa: E402,F401
                                           Unpack, concat, split, stack, tile, unstack)

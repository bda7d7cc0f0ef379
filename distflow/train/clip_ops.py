"""Clipping gradients by their norm: `clip_by_global_norm`, `global_norm`, `clip_by_norm`.

As TF's tensorflow/python/ops/clip_ops.py. Clipping by the *global* norm rescales every gradient by
the same factor, so the update keeps its direction; clipping each tensor on its own would not.
"""
from distflow.framework.graph import name_scope
from distflow.ops import array_ops, comparison_ops, dispatch, math_ops

__all__ = ["clip_by_global_norm", "clip_by_norm", "global_norm"]


def _check_sequence(t_list):
    if not isinstance(t_list, (list, tuple)):
        raise TypeError("t_list should be a sequence")
    return list(t_list)


def global_norm(t_list, name=None):
    """sqrt(sum of the squares of every element of every tensor in `t_list`); None entries are
    skipped."""
    tensors = [dispatch.convert_to_tensor(t) for t in _check_sequence(t_list) if t is not None]
    if not tensors:
        raise ValueError("global_norm needs at least one tensor that is not None")
    with name_scope(name or "global_norm"):
        squares = [math_ops.reduce_sum(math_ops.square(t)) for t in tensors]
        total = squares[0] if len(squares) == 1 else math_ops.add_n(squares)
        return math_ops.sqrt(total, name="global_norm")


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """Returns (list_clipped, global_norm): every tensor times clip_norm / max(global_norm,
    clip_norm), so the list's global norm is at most clip_norm and nothing changes when it
    already is. None entries stay None. `use_norm` gives a global norm already computed.

    If the norm is infinite or NaN, every clipped tensor is NaN, as in TF: a step with exploding
    gradients should be seen, not silently zeroed.
    """
    t_list = _check_sequence(t_list)
    with name_scope(name or "clip_by_global_norm"):
        norm = global_norm(t_list) if use_norm is None else dispatch.convert_to_tensor(use_norm)
        clip_norm = dispatch.convert_to_tensor(clip_norm, norm.dtype)
        scale = math_ops.divide(clip_norm, comparison_ops.maximum(norm, clip_norm))
        # norm - norm is 0 for a finite norm and NaN for inf or NaN
        scale = math_ops.add(scale, math_ops.subtract(norm, norm))
        clipped = [None if t is None else array_ops.identity(math_ops.multiply(t, scale))
                   for t in t_list]
    return clipped, norm


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """`t * clip_norm / max(l2norm(t), clip_norm)`, the L2 norm taken over `axes` (all of them by
    default), so each slice along the other axes ends with a norm of at most clip_norm."""
    with name_scope(name or "clip_by_norm"):
        t = dispatch.convert_to_tensor(t)
        l2sum = math_ops.reduce_sum(math_ops.multiply(t, t), axes, keepdims=True)
        # sqrt has an infinite slope at 0: route a zero sum around it so gradients stay finite
        positive = comparison_ops.greater(l2sum, 0)
        safe = comparison_ops.where(positive, l2sum, array_ops.ones_like(l2sum))
        l2norm = comparison_ops.where(positive, math_ops.sqrt(safe), l2sum)
        clip_norm = dispatch.convert_to_tensor(clip_norm, t.dtype)
        return array_ops.identity(math_ops.divide(math_ops.multiply(t, clip_norm),
                                                  comparison_ops.maximum(l2norm, clip_norm)))

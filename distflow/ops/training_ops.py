"""Fused optimizer updates: one op per variable and step, in place inside a Session plan.

Each follows TF1's kernel of the same name (tensorflow/core/kernels/training_ops.cc).
"""
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def
from distflow.ops.shapes import same_as_input


def _apply_infer(var, *args, **attrs):
    return same_as_input(var)


# var -= alpha * delta
ApplyGradientDescent = op_def(
    "ApplyGradientDescent", infer=_apply_infer,
    forward=lambda xp, var, alpha, delta: var - alpha * delta,
    inplace=lambda xp, var, alpha, delta: xp.subtract(var, alpha * delta, out=var),
    ref_input=0, aliases=True, grad=NOT_DIFFERENTIABLE)

"""More activations, as TF defines them: relu6, leaky_relu, selu and log_sigmoid.

Each kernel, dtype rule, node name and gradient is TF's (tensorflow/python/ops/nn_grad.py and the
C++ kernels), including the value of a gradient exactly at a kink:
  relu6       d/dx = 1 for 0 < y < 6, else 0 (0 at x = 0 and at x = 6), from the output y;
  leaky_relu  d/dx = 1 for x > 0, else alpha (alpha at x = 0);
  selu        d/dx = scale for y >= 0 (scale at x = 0), y + scale * alpha for y < 0.
The gradient ops (Relu6Grad, LeakyReluGrad, SeluGrad) are linear in the incoming gradient and
carry their own gradients, so second derivatives work as in TF.
relu6 accepts integers (TF's Relu6 does); leaky_relu casts integers to float32 first (TF's
Python wrapper does); selu and log_sigmoid refuse them.
"""
from distflow.framework import dtypes
from distflow.framework.graph import name_scope
from distflow.ops import array_ops, comparison_ops, math_ops
from distflow.ops.dispatch import apply, convert_to_tensor
from distflow.ops.nn_ops import _float_input, softplus
from distflow.ops.registry import op_def

# tf.nn's names; log_sigmoid is TF's tf.math.log_sigmoid (and TF1's tf.log_sigmoid), not tf.nn's.
__all__ = [
    "relu6",
    "leaky_relu",
    "selu",
]
MATH_NAMES = ["log_sigmoid"]


def _same(x, *rest, **attrs):
    return [(x.shape, x.dtype)]


def _like_first(dy, *rest, **attrs):
    return [(dy.shape, dy.dtype)]


def _float_tensor(x, opname, param):
    """x as a tensor, refused unless floating: eager calls skip the shape rule that checks it."""
    x = convert_to_tensor(x, name=param)
    _float_input(opname, param)(x)
    return x


# -- Relu6 ------------------------------------------------------------------------------------
# TF's Relu6Grad(dy, y) passes dy where 0 < y < 6: its features input is the forward output.
Relu6Grad = op_def("Relu6Grad", infer=_like_first,
                   forward=lambda xp, dy, y: dy * ((y > 0) & (y < 6)),
                   grad=lambda op, ddy: (apply(Relu6Grad, [ddy, op.inputs[1]]), None))

Relu6 = op_def("Relu6", infer=_same,
               forward=lambda xp, x: xp.minimum(xp.maximum(x, x.dtype.type(0)), x.dtype.type(6)),
               grad=lambda op, dy: apply(Relu6Grad, [dy, op.outputs[0]]))


def relu6(features, name=None):
    """min(max(features, 0), 6) elementwise."""
    return apply(Relu6, [features], name=name)


# -- LeakyRelu --------------------------------------------------------------------------------
def _leaky_forward(xp, x, alpha):
    return xp.where(x > 0, x, x * x.dtype.type(alpha))


def _leaky_grad_forward(xp, dy, x, alpha):
    return xp.where(x > 0, dy, dy * dy.dtype.type(alpha))


LeakyReluGrad = op_def(
    "LeakyReluGrad", infer=_like_first, forward=_leaky_grad_forward,
    grad=lambda op, ddy: (apply(LeakyReluGrad, [ddy, op.inputs[1]],
                                {"alpha": op.attrs["alpha"]}), None))

LeakyRelu = op_def(
    "LeakyRelu", infer=_float_input("LeakyRelu", "features"), forward=_leaky_forward,
    grad=lambda op, dy: apply(LeakyReluGrad, [dy, op.inputs[0]], {"alpha": op.attrs["alpha"]}))


def leaky_relu(features, alpha=0.2, name=None):
    """features where positive, alpha * features elsewhere; integers are cast to float32."""
    with name_scope(name, "LeakyRelu") as scope:
        features = convert_to_tensor(features, name="features")
        if features.dtype.is_integer:
            features = math_ops.cast(features, dtypes.float32)
        features = _float_tensor(features, "LeakyRelu", "features")
        return apply(LeakyRelu, [features], {"alpha": float(alpha)}, name=scope or None)


# -- Selu -------------------------------------------------------------------------------------
_SCALE = 1.0507009873554804934193349852946
_SCALE_ALPHA = 1.7580993408473768599402175208123  # scale * alpha, alpha = 1.6732632423543772...


def _selu_forward(xp, x):
    t = x.dtype.type
    # TF's kernel: exp(x) - 1, not expm1, so a tiny negative x gives 0 and the gradient there is
    # TF's (scale, from y >= 0). exp only of non-positive values: no overflow warnings.
    neg = xp.minimum(x, t(0))
    return xp.where(x < 0, t(_SCALE_ALPHA) * (xp.exp(neg) - t(1)), t(_SCALE) * x)


def _selu_grad_forward(xp, dy, y):
    t = y.dtype.type
    return xp.where(y < 0, dy * (y + t(_SCALE_ALPHA)), dy * t(_SCALE))


def _selu_grad_grad(op, g):
    # SeluGrad(dy, y) is linear in dy; in y its slope is dy where y < 0 and 0 elsewhere.
    dy, y = op.inputs
    return (apply(SeluGrad, [g, y]),
            comparison_ops.where(comparison_ops.less(y, 0.0), g * dy, array_ops.zeros_like(g)))


SeluGrad = op_def("SeluGrad", infer=_like_first, forward=_selu_grad_forward, grad=_selu_grad_grad)

Selu = op_def("Selu", infer=_float_input("Selu", "features"), forward=_selu_forward,
              grad=lambda op, dy: apply(SeluGrad, [dy, op.outputs[0]]))


def selu(features, name=None):
    """scale * x for x > 0, scale * alpha * (exp(x) - 1) otherwise (Klambauer et al., 2017)."""
    return apply(Selu, [_float_tensor(features, "Selu", "features")], name=name)


# -- log_sigmoid (composed, as TF builds it) --------------------------------------------------
def log_sigmoid(x, name=None):
    """log(1 / (1 + exp(-x))) = -softplus(-x): finite for any x, exact far in both tails."""
    with name_scope(name, "LogSigmoid") as scope:
        x = convert_to_tensor(x, name="x")
        return math_ops.negative(softplus(math_ops.negative(x)), name=scope or None)

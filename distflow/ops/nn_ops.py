"""Neural-network ops: activations, softmax, the cross-entropy losses, l2_loss, dropout, bias_add.

Every kernel is written to stay finite where the textbook formula overflows: sigmoid and
softplus never exponentiate a positive number, softmax and log_softmax subtract the row maximum
first, and the losses work from log_softmax / softplus instead of log(softmax) / log(sigmoid).
Gradients are built from distflow ops (mostly these very ops), so they can be differentiated again.
"""
import numpy as np

from distflow import backend
from distflow.framework import errors
from distflow.framework.eager import EagerTensor
from distflow.framework.graph import name_scope
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import array_ops, math_ops, random_ops
from distflow.ops.dispatch import apply, convert_to_tensor, dtype_of
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def
from distflow.ops.shapes import shape_tensor

__all__ = [
    "relu",
    "sigmoid",
    "tanh",
    "softplus",
    "elu",
    "softmax",
    "log_softmax",
    "sigmoid_cross_entropy_with_logits",
    "softmax_cross_entropy_with_logits",
    "softmax_cross_entropy_with_logits_v2",
    "sparse_softmax_cross_entropy_with_logits",
    "l2_loss",
    "dropout",
    "bias_add",
]


def _float_input(opname, param="x"):
    """A shape rule for ops defined on floating-point tensors only (TF's message)."""
    def infer(x, *rest, **attrs):
        if not x.dtype.is_floating:
            raise TypeError("Value passed to parameter '%s' has DataType %s not in list of allowed "
                            "values: float16, float32, float64 (op %s)"
                            % (param, x.dtype.name, opname))
        return [(x.shape, x.dtype)]
    return infer


def _apply_float(opdef, x, name, attrs=None, param="x"):
    """apply() for an op defined on floats only. Eager calls skip the shape rule, so the dtype is
    checked here too: TF refuses sigmoid(int32), where NumPy would return float64."""
    if type(x) is EagerTensor:  # the eager hot path: the array's dtype, no DType objects
        if x._value.dtype.kind != "f":
            _float_input(opdef.name, param)(x)  # raises TF's message
    else:  # graph building checks in the shape rule; a Python value is converted first
        x = convert_to_tensor(x) if dtype_of(x) is None else x
        _float_input(opdef.name, param)(x)
    return apply(opdef, [x], attrs, name=name)


def _axis_in_range(axis, shape):
    rank = shape.rank
    if rank is not None and not -rank <= axis < rank:
        raise ValueError("axis %d is out of range for a tensor of rank %d" % (axis, rank))


# -- Relu -------------------------------------------------------------------------------------
# The gradient passes dy where the output is positive; ReluGrad is that masking as one op (TF's
# name), itself linear in dy, so it is also its own gradient with respect to dy.
ReluGrad = op_def("ReluGrad", infer=lambda dy, y: [(dy.shape, dy.dtype)],
                  # TF's kernel multiplies by the mask; xp.where is ~15x slower on big arrays
                  forward=lambda xp, dy, y: dy * (y > 0),
                  grad=lambda op, ddy: (apply(ReluGrad, [ddy, op.inputs[1]]), None))

Relu = op_def("Relu", infer=lambda x: [(x.shape, x.dtype)],
              # a Python 0 keeps the array's dtype (a weak scalar), with no 0-d array per call
              forward=lambda xp, x: xp.maximum(x, 0),
              grad=lambda op, dy: apply(ReluGrad, [dy, op.outputs[0]]))


def relu(features, name=None):
    """max(features, 0) elementwise."""
    return apply(Relu, [features], name=name)


# -- Sigmoid ----------------------------------------------------------------------------------
def _sigmoid_forward(xp, x):
    # exp of -|x| is at most 1: no overflow, and full relative precision for very negative x.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


Sigmoid = op_def("Sigmoid", infer=_float_input("Sigmoid"), forward=_sigmoid_forward,
                 grad=lambda op, dy: dy * (op.outputs[0] * (1.0 - op.outputs[0])))


def sigmoid(x, name=None):
    """1 / (1 + exp(-x)) elementwise, computed without overflow."""
    return _apply_float(Sigmoid, x, name)


# -- Tanh -------------------------------------------------------------------------------------
Tanh = op_def("Tanh", infer=_float_input("Tanh"), forward=lambda xp, x: xp.tanh(x),
              grad=lambda op, dy: dy * (1.0 - op.outputs[0] * op.outputs[0]))


def tanh(x, name=None):
    """Hyperbolic tangent elementwise."""
    return _apply_float(Tanh, x, name)


# -- Softplus ---------------------------------------------------------------------------------
def _softplus_forward(xp, x):
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): exact for large |x| where e^x would overflow.
    return xp.maximum(x, xp.zeros((), x.dtype)) + xp.log1p(xp.exp(-xp.abs(x)))


Softplus = op_def("Softplus", infer=_float_input("Softplus", "features"), forward=_softplus_forward,
                  grad=lambda op, dy: dy * sigmoid(op.inputs[0]))


def softplus(features, name=None):
    """log(1 + exp(features)) elementwise, stable for large magnitudes."""
    return _apply_float(Softplus, features, name, param="features")


# -- Elu --------------------------------------------------------------------------------------
def _elu_forward(xp, x):
    neg = xp.minimum(x, xp.zeros((), x.dtype))  # expm1 only of non-positive values
    return xp.where(x > 0, x, xp.expm1(neg))


def _elu_grad(op, dy):
    # d elu/dx is 1 for x > 0 and e^x = y + 1 for x <= 0, i.e. 1 - relu(-y) in both cases:
    # built from Relu, so the second derivative (e^x on the left, 0 on the right) comes for free.
    y = op.outputs[0]
    return dy * (1.0 - relu(-y))


Elu = op_def("Elu", infer=_float_input("Elu", "features"), forward=_elu_forward, grad=_elu_grad)


def elu(features, name=None):
    """x for x > 0, exp(x) - 1 otherwise."""
    return _apply_float(Elu, features, name, param="features")


# -- Softmax and LogSoftmax -------------------------------------------------------------------
def _log_softmax_kernel(xp, x, axis):
    shifted = x - xp.max(x, axis=axis, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def _softmax_kernel(xp, x, axis):
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def _softmax_infer(opname):
    def infer(x, axis=-1):
        _axis_in_range(axis, x.shape)
        return _float_input(opname, "logits")(x)
    return infer


def _softmax_grad(op, dy):
    # J^T dy for J = diag(y) - y y^T along the axis: (dy - <dy, y>) * y.
    y, axis = op.outputs[0], op.attrs["axis"]
    return (dy - math_ops.reduce_sum(dy * y, axis=axis, keepdims=True)) * y


def _log_softmax_grad(op, dy):
    # d log_softmax_i / dx_j = delta_ij - softmax_j, so the vector-Jacobian product is
    # dy - sum(dy) * softmax(x).
    x, axis = op.inputs[0], op.attrs["axis"]
    return dy - math_ops.reduce_sum(dy, axis=axis, keepdims=True) * softmax(x, axis=axis)


Softmax = op_def("Softmax", infer=_softmax_infer("Softmax"), forward=_softmax_kernel,
                 grad=_softmax_grad)
LogSoftmax = op_def("LogSoftmax", infer=_softmax_infer("LogSoftmax"), forward=_log_softmax_kernel,
                    grad=_log_softmax_grad)


def _axis_attr(axis, dim):
    if dim is not None:  # TF1's old name for axis
        axis = dim
    return -1 if axis is None else int(axis)


def softmax(logits, axis=None, name=None, dim=None):
    """exp(logits) / sum(exp(logits)) along `axis` (the last by default), shifted to stay finite."""
    return _apply_float(Softmax, logits, name, {"axis": _axis_attr(axis, dim)}, "logits")


def log_softmax(logits, axis=None, name=None, dim=None):
    """logits - log(sum(exp(logits))) along `axis`, computed without forming softmax."""
    return _apply_float(LogSoftmax, logits, name, {"axis": _axis_attr(axis, dim)}, "logits")


# -- sigmoid cross-entropy (composed) ---------------------------------------------------------
def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None, _sentinel=None):
    """Elementwise -z*log(sigmoid(x)) - (1-z)*log(1-sigmoid(x)) for labels z and logits x.

    TF's stable form is max(x, 0) - x*z + log(1 + exp(-|x|)); the first and last terms together
    are exactly softplus(x), so the loss is softplus(x) - x*z, finite for any logits, and
    differentiable in both logits (sigmoid(x) - z) and labels (-x).
    """
    if _sentinel is not None or labels is None or logits is None:
        raise ValueError("Only call `sigmoid_cross_entropy_with_logits` with named arguments "
                         "(labels=..., logits=..., ...)")
    with name_scope(name, "logistic_loss") as scope:
        logits = convert_to_tensor(logits)
        labels = _same_dtype(labels, logits, "labels", "logits")
        if not logits.shape.is_compatible_with(labels.shape):
            raise ValueError("logits and labels must have the same shape (%s vs %s)"
                             % (logits.shape, labels.shape))
        return math_ops.subtract(softplus(logits), logits * labels, name=scope or None)


def _same_dtype(x, like, x_name, like_name):
    """`x` as a tensor of `like`'s dtype: plain values adapt, tensors must already match."""
    if dtype_of(x) is None:
        return convert_to_tensor(x, like.dtype)
    x = convert_to_tensor(x)
    if x.dtype != like.dtype:
        raise TypeError("%s have dtype %s but %s have dtype %s"
                        % (x_name, x.dtype.name, like_name, like.dtype.name))
    return x


# -- SoftmaxCrossEntropyWithLogits ------------------------------------------------------------
def _xent_infer(logits, labels, axis=-1):
    if not logits.dtype.is_floating or labels.dtype != logits.dtype:
        raise TypeError("SoftmaxCrossEntropyWithLogits needs floating logits and labels of the "
                        "same dtype, got %s and %s" % (logits.dtype.name, labels.dtype.name))
    if not logits.shape.is_compatible_with(labels.shape):
        raise ValueError("logits and labels must have the same shape (%s vs %s)"
                         % (logits.shape, labels.shape))
    shape = logits.shape.merge_with(labels.shape)
    _axis_in_range(axis, shape)
    dims = shape.as_tuple()
    if dims is None:
        return [(TensorShape(None), logits.dtype)]
    a = axis % len(dims)
    return [(TensorShape(dims[:a] + dims[a + 1:]), logits.dtype)]


def _xent_forward(xp, logits, labels, axis=-1):
    return -xp.sum(labels * _log_softmax_kernel(xp, logits, axis), axis=axis)


def _xent_grad(op, dy):
    # loss = -sum(z * x) + sum(z) * logsumexp(x), so d/dx = sum(z) * softmax(x) - z (the familiar
    # softmax - z when each row of labels sums to 1) and d/dz = -log_softmax(x).
    x, z = op.inputs
    axis = op.attrs["axis"]
    dy = array_ops.expand_dims(dy, axis)
    mass = math_ops.reduce_sum(z, axis=axis, keepdims=True)
    dx = dy * (mass * softmax(x, axis=axis) - z)
    dz = -dy * log_softmax(x, axis=axis)
    return dx, dz


SoftmaxCrossEntropyWithLogits = op_def("SoftmaxCrossEntropyWithLogits", infer=_xent_infer,
                                       forward=_xent_forward, grad=_xent_grad)


def softmax_cross_entropy_with_logits_v2(labels=None, logits=None, axis=-1, name=None, dim=None):
    """-sum(labels * log_softmax(logits)) along `axis`: one loss per example.

    `labels` may be any probability distributions (not only one-hot). Gradients flow into both
    logits and labels, as in TF2; wrap labels in stop_gradient for TF1's old behaviour.
    """
    if labels is None or logits is None:
        raise ValueError("Both labels=... and logits=... must be given")
    logits = convert_to_tensor(logits)
    labels = _same_dtype(labels, logits, "labels", "logits")
    axis = _axis_attr(axis, dim)
    rank = logits.shape.rank
    if rank is not None and axis < 0:
        axis += rank  # a non-negative axis names the same dimension before and after reducing
    return apply(SoftmaxCrossEntropyWithLogits, [logits, labels], {"axis": axis}, name=name)


softmax_cross_entropy_with_logits = softmax_cross_entropy_with_logits_v2


def softmax_cross_entropy_with_logits_v1(_sentinel=None, labels=None, logits=None, dim=-1,
                                         name=None, axis=None):
    """TF1's tf.compat.v1.nn.softmax_cross_entropy_with_logits: the _v2 loss with labels wrapped
    in stop_gradient, so no gradient flows into the labels (TF2's function lets it flow)."""
    if _sentinel is not None or labels is None or logits is None:
        raise ValueError("Only call `softmax_cross_entropy_with_logits` with named arguments "
                         "(labels=..., logits=..., ...)")
    with name_scope(name, "softmax_cross_entropy_with_logits_sg") as scope:
        logits = convert_to_tensor(logits)
        labels = array_ops.stop_gradient(_same_dtype(labels, logits, "labels", "logits"),
                                         name="labels_stop_gradient")
        return softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits,
                                                    axis=dim if axis is None else axis,
                                                    name=scope or None)


# -- SparseSoftmaxCrossEntropyWithLogits ------------------------------------------------------
def _check_labels(labels, classes):
    # Like TF's CPU kernel; on GPUs TF gives NaN instead, and checking would cost a device sync.
    if backend.is_cupy_array(labels) or labels.size == 0:
        return
    bad = (labels < 0) | (labels >= classes)
    if bad.any():
        raise errors.InvalidArgumentError(
            None, None, "Received a label value of %d which is outside the valid range of [0, %d)."
            % (int(labels[bad].reshape(-1)[0]), classes))


def _sparse_infer(logits, labels):
    if not logits.dtype.is_floating:
        raise TypeError("logits must be floating point, got %s" % logits.dtype.name)
    if not labels.dtype.is_integer:
        raise TypeError("labels must be integer class indices, got %s" % labels.dtype.name)
    lr, zr = logits.shape.rank, labels.shape.rank
    if lr is not None and zr is not None:
        if zr != lr - 1:
            raise ValueError("Rank mismatch: Rank of labels (received %d) should equal rank of "
                             "logits minus 1 (received %d)." % (zr, lr))
        if not TensorShape(logits.shape.as_tuple()[:-1]).is_compatible_with(labels.shape):
            raise ValueError("Shape mismatch: The shape of labels (received %s) should equal the "
                             "shape of logits except for the last dimension (received %s)."
                             % (labels.shape, logits.shape))
    if lr is not None:
        return [(TensorShape(logits.shape.as_tuple()[:-1]), logits.dtype)]
    return [(labels.shape, logits.dtype)]


def _sparse_forward(xp, logits, labels):
    _check_labels(labels, logits.shape[-1])
    lsm = _log_softmax_kernel(xp, logits, -1)
    picked = xp.take_along_axis(lsm, labels[..., None].astype(np.intp), axis=-1)
    return -picked[..., 0]


def _sparse_grad_forward(xp, dy, logits, labels):
    onehot = xp.arange(logits.shape[-1]) == labels[..., None]
    return dy[..., None] * (_softmax_kernel(xp, logits, -1) - onehot)


def _sparse_grad_grad(op, dg):
    # G(dy, x) = dy[..., None] * (softmax(x) - onehot): linear in dy, and softmax's Jacobian in x.
    dy, x, labels = op.inputs
    ddy = math_ops.reduce_sum(dg * apply(SparseSoftmaxCrossEntropyGrad,
                                         [array_ops.ones_like(dy), x, labels]), axis=-1)
    v = dg * array_ops.expand_dims(dy, -1)
    s = softmax(x)
    dx = (v - math_ops.reduce_sum(v * s, axis=-1, keepdims=True)) * s
    return ddy, dx, None


# The gradient of the sparse loss w.r.t. logits, as one op: it forms the one-hot rows in the
# kernel instead of in the graph, and has its own gradient, so second derivatives work too.
SparseSoftmaxCrossEntropyGrad = op_def(
    "SparseSoftmaxCrossEntropyGrad",
    infer=lambda dy, logits, labels: [(logits.shape, logits.dtype)],
    forward=_sparse_grad_forward, grad=_sparse_grad_grad)

SparseSoftmaxCrossEntropyWithLogits = op_def(
    "SparseSoftmaxCrossEntropyWithLogits", infer=_sparse_infer, forward=_sparse_forward,
    grad=lambda op, dy: (apply(SparseSoftmaxCrossEntropyGrad, [dy] + list(op.inputs)), None))


def sparse_softmax_cross_entropy_with_logits(labels=None, logits=None, name=None, _sentinel=None):
    """-log_softmax(logits)[label] per example; `labels` are integer class indices."""
    if _sentinel is not None or labels is None or logits is None:
        raise ValueError("Only call `sparse_softmax_cross_entropy_with_logits` with named "
                         "arguments (labels=..., logits=..., ...)")
    logits = convert_to_tensor(logits)
    labels = convert_to_tensor(labels)
    _sparse_infer(logits, labels)  # eagerly too: float labels would index nothing sensible
    return apply(SparseSoftmaxCrossEntropyWithLogits, [logits, labels], name=name)


# -- L2Loss -----------------------------------------------------------------------------------
def _l2_loss_infer(x):
    _float_input("L2Loss", "t")(x)
    return [(TensorShape([]), x.dtype)]


L2Loss = op_def("L2Loss", infer=_l2_loss_infer,
                forward=lambda xp, x: xp.asarray(xp.sum(xp.square(x)) / 2, dtype=x.dtype),
                grad=lambda op, dy: dy * op.inputs[0])


def l2_loss(t, name=None):
    """sum(t ** 2) / 2: the weight-decay penalty, without the square root of a norm."""
    return _apply_float(L2Loss, t, name, param="t")


# -- Dropout ----------------------------------------------------------------------------------
def _dropout_mask_forward(xp, uniform, rate):
    # Inverted dropout: kept units are scaled by 1/keep now, so inference needs no rescaling.
    # The floor on keep only matters when rate is 1 (nothing kept), where it avoids 0 * inf.
    keep = xp.maximum(1 - rate, np.finfo(uniform.dtype).tiny)
    return xp.where(uniform >= rate, 1 / keep, xp.zeros((), uniform.dtype)).astype(uniform.dtype)


# 1/keep where uniform >= rate (kept), 0 elsewhere; the mask is random, so no gradient flows
# into it, while x gets dy * mask through the multiplication.
DropoutMask = op_def("DropoutMask", infer=lambda u, rate: [(u.shape, u.dtype)],
                     forward=_dropout_mask_forward, grad=NOT_DIFFERENTIABLE)


def dropout(x, rate=None, keep_prob=None, noise_shape=None, seed=None, name=None):
    """Zeroes each element with probability `rate` and scales the rest by 1 / (1 - rate).

    Give either `rate` (TF2) or `keep_prob` (TF1, = 1 - rate); either may be a tensor, such as a
    placeholder fed 1.0 at test time. The mask follows the random ops' seed rules, and
    `noise_shape` (broadcast against x) shares one mask value across dimensions.
    """
    if rate is not None and keep_prob is not None:
        raise ValueError("Cannot specify both 'rate' and 'keep_prob'")
    if rate is None and keep_prob is None:
        raise ValueError("You must provide a rate to dropout.")
    with name_scope(name, "dropout") as scope:
        x = convert_to_tensor(x)
        if not x.dtype.is_floating:
            raise ValueError("x has to be a floating point tensor since it's going to be scaled. "
                             "Got a %s tensor instead." % x.dtype.name)
        if keep_prob is not None:
            rate = 1 - keep_prob if dtype_of(keep_prob) is None else 1.0 - math_ops.cast(
                keep_prob, x.dtype)
        if dtype_of(rate) is None:
            rate = float(np.asarray(rate))
            if not 0 <= rate < 1:
                raise ValueError("rate must be a scalar tensor or a float in the range [0, 1), got "
                                 "%g" % rate)
            if rate == 0:
                return x
        else:
            rate = math_ops.cast(rate, x.dtype)
        uniform = random_ops.uniform_01(_noise_shape(x, noise_shape), x.dtype, seed)
        mask = apply(DropoutMask, [uniform, convert_to_tensor(rate, x.dtype, name="rate")])
        return math_ops.multiply(x, mask, name=scope or None)


def _noise_shape(x, noise_shape):
    if noise_shape is None:
        return shape_tensor(x)
    if isinstance(noise_shape, (list, tuple)) and any(d is None for d in noise_shape):
        dims = x.shape.as_tuple()  # None means "as in x", which must then be known
        if dims is None or len(dims) != len(noise_shape):
            raise ValueError("noise_shape %s does not match the rank of x %s"
                             % (noise_shape, x.shape))
        noise_shape = [xd if d is None else d for d, xd in zip(noise_shape, dims)]
        if any(d is None for d in noise_shape):
            raise ValueError("noise_shape has a None where x's dimension is unknown too")
    return noise_shape


# -- BiasAdd ----------------------------------------------------------------------------------
def _channel_axis(data_format, rank):
    return 1 if data_format == "NCHW" and rank is not None and rank > 2 else -1


def _bias_add_infer(value, bias, data_format=None):
    if value.dtype != bias.dtype:
        raise TypeError("Input 'bias' of 'BiasAdd' Op has type %s that does not match type %s of "
                        "argument 'value'." % (bias.dtype.name, value.dtype.name))
    if bias.shape.rank is not None and bias.shape.rank != 1:
        raise ValueError("Shape must be rank 1 but is rank %d for 'BiasAdd'" % bias.shape.rank)
    dims = value.shape.as_tuple()
    if dims is not None:
        if len(dims) < 2:
            raise ValueError("Shape must be at least rank 2 but is rank %d for 'BiasAdd'"
                             % len(dims))
        c, b = dims[_channel_axis(data_format, len(dims))], bias.shape.as_tuple()
        if c is not None and b is not None and b[0] is not None and c != b[0]:
            raise ValueError("Dimensions must be equal, but are %d and %d for 'BiasAdd' with input "
                             "shapes: %s, %s." % (c, b[0], value.shape, bias.shape))
    return [(value.shape, value.dtype)]


def _bias_add_forward(xp, value, bias, data_format=None):
    if _channel_axis(data_format, value.ndim) == 1:
        bias = bias.reshape((-1,) + (1,) * (value.ndim - 2))
    return value + bias


def _bias_add_grad_infer(dy, data_format=None):
    dims = dy.shape.as_tuple()
    if dims is None:
        return [(TensorShape([None]), dy.dtype)]
    return [(TensorShape([dims[_channel_axis(data_format, len(dims))]]), dy.dtype)]


def _bias_add_grad_forward(xp, dy, data_format=None):
    channel = _channel_axis(data_format, dy.ndim) % dy.ndim
    return xp.sum(dy, axis=tuple(a for a in range(dy.ndim) if a != channel))


# The bias gradient sums dy over every dimension but the channel; as one op (TF's BiasAddGrad) it
# works even when the rank is only known at run time. Its own gradient spreads the bias gradient
# back along the channel, which is a BiasAdd onto zeros.
def _bias_add_grad_forward_out(xp, dy, data_format=None, out=None):
    channel = _channel_axis(data_format, dy.ndim) % dy.ndim
    xp.sum(dy, axis=tuple(a for a in range(dy.ndim) if a != channel), out=out)
    return out


BiasAddGrad = op_def(
    "BiasAddGrad", infer=_bias_add_grad_infer, forward=_bias_add_grad_forward,
    forward_out=_bias_add_grad_forward_out,
    grad=lambda op, ddb: bias_add(array_ops.zeros_like(op.inputs[0]), ddb,
                                  data_format=op.attrs["data_format"]))


def _bias_add_grad(op, dy):
    return dy, apply(BiasAddGrad, [dy], {"data_format": op.attrs["data_format"]})


BiasAdd = op_def("BiasAdd", infer=_bias_add_infer, forward=_bias_add_forward, grad=_bias_add_grad)


def _check_bias(value, bias, data_format):
    """The shape rule's checks on the arrays of an eager call, which skips the rule."""
    if bias.ndim != 1:
        raise ValueError("Shape must be rank 1 but is rank %d for 'BiasAdd'" % bias.ndim)
    if value.ndim < 2:
        raise ValueError("Shape must be at least rank 2 but is rank %d for 'BiasAdd'"
                         % value.ndim)
    channels = value.shape[_channel_axis(data_format, value.ndim)]
    if channels != bias.shape[0]:
        raise ValueError("Dimensions must be equal, but are %d and %d for 'BiasAdd' with input "
                         "shapes: %s, %s." % (channels, bias.shape[0], value.shape, bias.shape))


def bias_add(value, bias, data_format=None, name=None):
    """value + bias, with the 1-D bias added along the channel dimension (last, or 1 for NCHW)."""
    if data_format not in (None, "NHWC", "NCHW", "N...C", "NC..."):
        raise ValueError("data_format must be NHWC or NCHW, got %r" % (data_format,))
    data_format = "NCHW" if data_format in ("NCHW", "NC...") else "NHWC"
    value = convert_to_tensor(value)
    bias = _same_dtype(bias, value, "bias", "value")
    if type(value) is EagerTensor and type(bias) is EagerTensor:  # graphs check in the rule
        _check_bias(value._value, bias._value, data_format)  # NumPy would broadcast a bad bias
    return apply(BiasAdd, [value, bias], {"data_format": data_format}, name=name)

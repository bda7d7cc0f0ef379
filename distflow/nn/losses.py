"""TF2's losses (`tf.losses`, which is `tf.keras.losses`), built from distflow ops: they run
eagerly, build into graphs, and differentiate.

Two kinds, as in Keras (keras/src/losses/losses.py, Keras 3.x as shipped with TF 2.21):

  functions  `mean_squared_error(y_true, y_pred)` (mse), `mean_absolute_error` (mae), `huber`,
             `binary_crossentropy`, `categorical_crossentropy`, `sparse_categorical_crossentropy`
             return ONE VALUE PER SAMPLE: the mean over the last axis, shape (n,) for (n, k)
             inputs, no reduction and no weights.
  classes    `MeanSquaredError()`, `MeanAbsoluteError()`, `Huber(delta)`, `BinaryCrossentropy`,
             `CategoricalCrossentropy`, `SparseCategoricalCrossentropy` (`from_logits` where
             Keras has it) are called as `loss_fn(y_true, y_pred, sample_weight=None)`: the
             per-sample values times sample_weight, reduced by `reduction`:
               "sum_over_batch_size" (the default) and "mean": sum / number of values
                                                       (0, not NaN, for an empty batch whose
                                                       size is known only at run time; one of
                                                       known size (0,) gives the empty values
                                                       back, as Keras's does),
               "sum": the sum, "mean_with_sample_weight": sum / sum(sample_weight),
               "none" or None: the weighted per-sample values.

TF1's `tf.losses` (labels, predictions, weights, SUM_BY_NONZERO_WEIGHTS) is a different API;
it lives in distflow/compat/v1/losses.py.

Targets and predictions whose ranks differ by one with a trailing 1 are lined up, never
broadcast to (n, n) (Keras's squeeze_or_expand_to_same_rank): (n,) against (n, 1) becomes
(n, 1) against (n, 1); (n, k) against (n, k, 1) squeezes the 1.

Global-batch semantics for data parallelism: a rank holding part of a global batch must not take
the mean over its own rows. It sums its per-sample values and divides by the global batch size,
`compute_average_loss(per_sample, global_batch_size)` as TF names it (tf.nn), so that the
gradients summed over ranks equal the gradient of the mean over the whole batch.
"""
import re

from distflow.framework import dtypes
from distflow.framework.graph import name_scope
from distflow.ops import array_ops, comparison_ops, math_ops, nn_ops
from distflow.ops.dispatch import convert_to_tensor, dtype_of

__all__ = ["Reduction", "Loss", "MeanSquaredError", "MeanAbsoluteError", "Huber",
           "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
           "mean_squared_error", "mean_absolute_error", "huber", "binary_crossentropy",
           "categorical_crossentropy", "sparse_categorical_crossentropy", "mse", "mae", "MSE",
           "MAE", "compute_average_loss", "scale_regularization_loss", "get"]

EPSILON = 1e-7  # keras.backend.epsilon(): probabilities are clipped to [eps, 1 - eps]


class Reduction:
    """`tf.losses.Reduction` of TF 2.21 (keras.src.legacy.losses.Reduction)."""
    AUTO = "auto"
    NONE = "none"
    SUM = "sum"
    SUM_OVER_BATCH_SIZE = "sum_over_batch_size"

    @classmethod
    def all(cls):
        return (cls.AUTO, cls.NONE, cls.SUM, cls.SUM_OVER_BATCH_SIZE)

    @classmethod
    def validate(cls, reduction):
        """The reduction a Loss class accepts (Keras 3's standardize_reduction), or ValueError.
        "auto" (Keras 2's default) is taken as "sum_over_batch_size"."""
        if reduction == cls.AUTO:
            return cls.SUM_OVER_BATCH_SIZE
        allowed = (None, "none", "sum", "sum_over_batch_size", "mean", "mean_with_sample_weight")
        if reduction not in allowed:
            raise ValueError("Invalid value for argument `reduction`. Expected one of %s. "
                             "Received: reduction=%r" % (allowed, reduction))
        return reduction


# -- the per-sample functions ----------------------------------------------------------------------
def mean_squared_error(y_true, y_pred):
    """mean((y_true - y_pred)^2, axis=-1): one value per sample."""
    y_true, y_pred = _aligned(y_true, y_pred)
    return math_ops.reduce_mean(math_ops.square(math_ops.subtract(y_true, y_pred)), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_true - y_pred|, axis=-1): one value per sample."""
    y_true, y_pred = _aligned(y_true, y_pred)
    return math_ops.reduce_mean(math_ops.abs(math_ops.subtract(y_true, y_pred)), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """mean over the last axis of 0.5 e^2 where |e| <= delta, else delta (|e| - 0.5 delta).

    Quadratic near zero and linear beyond delta, so outliers pull with a bounded force.
    """
    if not delta > 0:
        raise ValueError("huber needs delta > 0, got %r" % (delta,))
    y_true, y_pred = _aligned(y_true, y_pred)
    error = math_ops.abs(math_ops.subtract(y_pred, y_true))
    # Split |e| into its part up to delta, q = min(|e|, delta) = |e| - relu(|e| - delta), and the
    # rest, linear = relu(|e| - delta): the loss is 0.5 q^2 + delta * linear, with no branch,
    # and the gradient is e where |e| <= delta and delta * sign(e) beyond.
    linear = nn_ops.relu(math_ops.subtract(error, delta))
    quadratic = math_ops.subtract(error, linear)
    values = math_ops.add(math_ops.multiply(math_ops.square(quadratic), 0.5),
                          math_ops.multiply(linear, delta))
    return math_ops.reduce_mean(values, axis=-1)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """mean over `axis` of -(z log p + (1 - z) log(1 - p)).

    Probabilities are clipped to [1e-7, 1 - 1e-7] as Keras does; with from_logits it is
    nn.sigmoid_cross_entropy_with_logits, stable for any logits. label_smoothing moves the
    targets to z (1 - s) + s / 2.
    """
    y_pred = _float_tensor(y_pred)
    y_true = _like(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if not y_true.shape.is_compatible_with(y_pred.shape):
        raise ValueError("Arguments `target` and `output` must have the same shape. Received: "
                         "target.shape=%s, output.shape=%s" % (y_true.shape, y_pred.shape))
    if from_logits:
        values = nn_ops.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)
    else:
        p = comparison_ops.clip_by_value(y_pred, EPSILON, 1.0 - EPSILON)
        values = -(y_true * math_ops.log(p) + (1.0 - y_true) * math_ops.log(1.0 - p))
    return math_ops.reduce_mean(values, axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """-sum(y_true * log(p)) over `axis` (the classes): one value per sample.

    Probabilities are renormalised to sum to 1 and clipped to [1e-7, 1 - 1e-7] (Keras); with
    from_logits it is nn.softmax_cross_entropy_with_logits. label_smoothing s turns the targets
    into y (1 - s) + s / num_classes.
    """
    y_pred = _float_tensor(y_pred)
    y_true = _like(y_true, y_pred)
    if label_smoothing:
        num_classes = math_ops.cast(array_ops.shape(y_true)[-1], y_pred.dtype)
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / num_classes
    if not y_true.shape.is_compatible_with(y_pred.shape):
        raise ValueError("Arguments `target` and `output` must have the same shape. Received: "
                         "target.shape=%s, output.shape=%s" % (y_true.shape, y_pred.shape))
    if from_logits:
        return nn_ops.softmax_cross_entropy_with_logits_v2(labels=y_true, logits=y_pred,
                                                           axis=axis)
    p = y_pred / math_ops.reduce_sum(y_pred, axis=axis, keepdims=True)
    p = comparison_ops.clip_by_value(p, EPSILON, 1.0 - EPSILON)
    return -math_ops.reduce_sum(y_true * math_ops.log(p), axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """Categorical cross-entropy with integer class indices y_true of shape (n,) or (n, 1)."""
    y_pred = _float_tensor(y_pred)
    rank = y_pred.shape.rank
    if axis != -1 and axis != (rank or 0) - 1:
        raise ValueError("Only axis=-1 is currently supported. Received: axis=%r" % (axis,))
    y_true = convert_to_tensor(y_true)
    if not y_true.dtype.is_integer:
        y_true = math_ops.cast(y_true, dtypes.int64)
    dims = y_true.shape.as_tuple()
    if dims is not None and len(dims) == rank and dims[-1] == 1:
        y_true = array_ops.squeeze(y_true, axis=[-1])
    if not from_logits:
        y_pred = math_ops.log(comparison_ops.clip_by_value(y_pred, EPSILON, 1.0 - EPSILON))
    return nn_ops.sparse_softmax_cross_entropy_with_logits(labels=y_true, logits=y_pred)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


# -- the classes -----------------------------------------------------------------------------------
class Loss:
    """A loss object: `loss_fn(y_true, y_pred, sample_weight=None)` is the reduced loss.

    As in Keras, inputs are cast to the loss's dtype (float32 unless `dtype` says otherwise),
    and in a graph its nodes sit under the loss's name (`mean_squared_error/...`).
    """

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None):
        self.reduction = Reduction.validate(reduction)
        self.name = name or re.sub(r"(?<!^)(?=[A-Z])", "_", type(self).__name__).lower()
        self.dtype = dtypes.as_dtype(dtype or dtypes.float32)

    def __call__(self, y_true, y_pred, sample_weight=None):
        with name_scope(self.name):
            y_pred = _cast(y_pred, self.dtype)
            y_true = _cast(y_true, self.dtype)
            # Keras lines up (n,) against (n, 1) here, for every loss class; the functions
            # alone refuse that pair where their formula needs equal shapes (binary_crossentropy)
            y_true, y_pred = _squeeze_or_expand(y_true, y_pred)
            values = self.call(y_true, y_pred)
            return reduce_weighted_values(values, sample_weight, self.reduction)

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    def __repr__(self):
        return "<%s name=%r reduction=%r>" % (type(self).__name__, self.name, self.reduction)


class _Wrapper(Loss):
    fn = None
    default_name = None

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(reduction, name or self.default_name, dtype)
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return type(self).fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return dict(super().get_config(), **self._fn_kwargs)


class MeanSquaredError(_Wrapper):
    fn, default_name = staticmethod(mean_squared_error), "mean_squared_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(reduction, name, dtype)


class MeanAbsoluteError(_Wrapper):
    fn, default_name = staticmethod(mean_absolute_error), "mean_absolute_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(reduction, name, dtype)


class Huber(_Wrapper):
    fn, default_name = staticmethod(huber), "huber_loss"

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(reduction, name, dtype, delta=delta)


class BinaryCrossentropy(_Wrapper):
    fn, default_name = staticmethod(binary_crossentropy), "binary_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(reduction, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class CategoricalCrossentropy(_Wrapper):
    fn, default_name = staticmethod(categorical_crossentropy), "categorical_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(reduction, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_Wrapper):
    fn = staticmethod(sparse_categorical_crossentropy)
    default_name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(reduction, name, dtype, from_logits=from_logits)


def reduce_weighted_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Keras's reduce_weighted_values: weight the per-sample values, then reduce them."""
    reduction = Reduction.validate(reduction)
    values = convert_to_tensor(values)
    if sample_weight is not None:
        sample_weight = _like(sample_weight, values)
        values, sample_weight = _squeeze_or_expand(values, sample_weight)
        values = math_ops.multiply(values, sample_weight)
    dims = values.shape.as_tuple()
    if reduction in (None, "none") or dims in ((), (0,)):
        return values
    total = math_ops.reduce_sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        divisor = math_ops.reduce_sum(sample_weight)
    else:
        divisor = math_ops.cast(array_ops.size(values), total.dtype)
    return math_ops.divide_no_nan(total, divisor)


def compute_average_loss(per_example_loss, global_batch_size=None, name=None):
    """sum(per_example_loss) / global_batch_size: each rank's share of the global batch's mean.

    Summed over the ranks (by the all-reduce of the gradients) this is exactly the mean over the
    whole global batch, for uneven shards and short last batches too. Without global_batch_size
    it is the local mean, or, inside tf.distribute's strategy.run with several replicas, the sum
    divided by the number of samples of all replicas (one small all-reduce finds it).
    """
    with name_scope(name, "average_loss"):
        per_example_loss = _float_tensor(per_example_loss)
        total = math_ops.reduce_sum(per_example_loss)
        if global_batch_size is None:
            replica = _replica_context()
            if replica is None:
                return math_ops.reduce_mean(per_example_loss)
            count = math_ops.cast(array_ops.size(per_example_loss), total.dtype)
            return math_ops.divide_no_nan(total, replica.all_reduce("SUM", count))
        if dtype_of(global_batch_size) is not None:
            return math_ops.divide(total, math_ops.cast(global_batch_size, total.dtype))
        if not global_batch_size > 0:
            raise ValueError("global_batch_size must be positive, got %r" % (global_batch_size,))
        return math_ops.divide(total, float(global_batch_size))


def scale_regularization_loss(regularization_loss, name=None):
    """tf.nn.scale_regularization_loss: the loss divided by the number of replicas in sync, so
    that adding it on every replica (whose gradients are summed) counts it once."""
    replica = _replica_context()
    loss = _float_tensor(regularization_loss)
    if replica is None:
        return loss
    return math_ops.divide(loss, float(replica.num_replicas_in_sync))


def _replica_context():
    """The tf.distribute replica context of a strategy.run with several replicas, or None."""
    from distflow.framework import context
    replicas = context.ctx.replica_contexts
    replica = replicas[-1] if replicas else None
    return replica if replica is not None and replica.num_replicas_in_sync > 1 else None


_FUNCTIONS = {"mse": mean_squared_error, "mean_squared_error": mean_squared_error,
              "mae": mean_absolute_error, "mean_absolute_error": mean_absolute_error,
              "huber": huber, "binary_crossentropy": binary_crossentropy,
              "categorical_crossentropy": categorical_crossentropy,
              "sparse_categorical_crossentropy": sparse_categorical_crossentropy}
_CLASSES = {c.__name__: c for c in (MeanSquaredError, MeanAbsoluteError, Huber,
                                    BinaryCrossentropy, CategoricalCrossentropy,
                                    SparseCategoricalCrossentropy)}


def get(identifier):
    """A loss from its name, as keras.losses.get: a function name ('mse', 'huber', ...) gives
    the per-sample function, a class name ('MeanSquaredError') a new loss object; a callable is
    returned as it is."""
    if callable(identifier):
        return identifier
    if isinstance(identifier, str):
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        if identifier.lower() in _FUNCTIONS:
            return _FUNCTIONS[identifier.lower()]
    raise ValueError("Could not interpret loss identifier: %r; known: %s"
                     % (identifier, ", ".join(sorted(_FUNCTIONS) + sorted(_CLASSES))))


# -- helpers ---------------------------------------------------------------------------------------
def _float_tensor(x):
    """A tensor; NumPy arrays keep their dtype, Python floats become float32, and integer
    predictions become float32 (Keras averages them in floatx)."""
    x = convert_to_tensor(x)
    if not x.dtype.is_floating:
        x = math_ops.cast(x, dtypes.float32)
    return x


def _like(y, reference):
    """`y` as a tensor of `reference`'s dtype: plain values are converted, integer or other float
    targets cast (Keras does the same), so that int labels work against float predictions."""
    if dtype_of(y) is None:
        return convert_to_tensor(y, reference.dtype)
    y = convert_to_tensor(y)
    return y if y.dtype == reference.dtype else math_ops.cast(y, reference.dtype)


def _cast(x, dtype):
    if dtype_of(x) is None:
        return convert_to_tensor(x, dtype)
    x = convert_to_tensor(x)
    return x if x.dtype == dtype else math_ops.cast(x, dtype)


def _squeeze_or_expand(x1, x2):
    """Keras's squeeze_or_expand_to_same_rank: when the ranks differ by one and the longer shape
    ends in 1, a rank-1 partner gains a trailing axis; otherwise the 1 is squeezed away."""
    r1, r2 = x1.shape.rank, x2.shape.rank
    if r1 is None or r2 is None or r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and x1.shape.as_tuple()[-1] == 1:
        if r2 == 1:
            x2 = array_ops.expand_dims(x2, -1)
        else:
            x1 = array_ops.squeeze(x1, axis=[-1])
    elif r2 == r1 + 1 and x2.shape.as_tuple()[-1] == 1:
        if r1 == 1:
            x1 = array_ops.expand_dims(x1, -1)
        else:
            x2 = array_ops.squeeze(x2, axis=[-1])
    return x1, x2


def _aligned(y_true, y_pred):
    """(y_true, y_pred) as tensors of y_pred's dtype, lined up (never broadcast to (n, n))."""
    y_pred = _float_tensor(y_pred)
    y_true = _like(y_true, y_pred)
    y_true, y_pred = _squeeze_or_expand(y_true, y_pred)
    if not y_true.shape.is_compatible_with(y_pred.shape):
        raise ValueError("y_true of shape %s does not match y_pred of shape %s (losses do not "
                         "broadcast targets against predictions)" % (y_true.shape, y_pred.shape))
    return y_true, y_pred



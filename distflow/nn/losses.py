"""Losses built from distflow ops: they run eagerly, build into graphs, and differentiate.

Each loss first computes one value per sample (the first axis is the batch; further axes are
averaged, as Keras does for a sample with several outputs), then reduces them:

  reduction="mean"  the mean over the samples (the default; Keras's "sum_over_batch_size"),
  reduction="sum"   the sum over the samples,
  reduction="none"  the per-sample vector.

Global-batch semantics for data parallelism: a rank holding part of a global batch must not take
the mean over its own rows. It takes the SUM (reduction="sum") and divides by the global batch
size, `compute_average_loss(per_sample, global_batch_size)` as TF names it, so that the gradients
summed over ranks equal the gradient of the mean over the whole batch.

Targets of shape (n,) against predictions of shape (n, 1), or the reverse, are lined up instead
of being broadcast to (n, n), a classic silent bug of regression code.
"""
from distflow.framework.graph import name_scope
from distflow.ops import array_ops, math_ops, nn_ops
from distflow.ops.dispatch import convert_to_tensor, dtype_of

__all__ = ["Reduction", "mean_squared_error", "mean_absolute_error", "huber", "huber_loss",
           "sigmoid_cross_entropy", "softmax_cross_entropy", "sparse_softmax_cross_entropy",
           "compute_average_loss", "mse", "mae", "get"]


class Reduction:
    MEAN = "mean"
    SUM = "sum"
    NONE = "none"
    SUM_OVER_BATCH_SIZE = "sum_over_batch_size"  # Keras's name for MEAN

    @classmethod
    def validate(cls, reduction):
        if reduction not in (cls.MEAN, cls.SUM, cls.NONE, cls.SUM_OVER_BATCH_SIZE):
            raise ValueError("Invalid reduction %r: use 'mean', 'sum' or 'none'" % (reduction,))
        return cls.MEAN if reduction == cls.SUM_OVER_BATCH_SIZE else reduction


def mean_squared_error(y_true, y_pred, reduction="mean", name=None):
    """mean((y_pred - y_true)^2) per sample, then reduced."""
    with name_scope(name, "mean_squared_error"):
        y_true, y_pred = _aligned(y_true, y_pred)
        return _reduce(math_ops.square(math_ops.subtract(y_pred, y_true)), reduction)


def mean_absolute_error(y_true, y_pred, reduction="mean", name=None):
    """mean(|y_pred - y_true|) per sample, then reduced."""
    with name_scope(name, "mean_absolute_error"):
        y_true, y_pred = _aligned(y_true, y_pred)
        return _reduce(math_ops.abs(math_ops.subtract(y_pred, y_true)), reduction)


def huber(y_true, y_pred, delta=1.0, reduction="mean", name=None):
    """0.5 * e^2 where |e| <= delta, else delta * (|e| - 0.5 * delta), for e = y_pred - y_true.

    Quadratic near zero and linear beyond delta, so outliers pull with a bounded force.
    """
    if not delta > 0:
        raise ValueError("huber needs delta > 0, got %r" % (delta,))
    with name_scope(name, "huber_loss"):
        y_true, y_pred = _aligned(y_true, y_pred)
        error = math_ops.abs(math_ops.subtract(y_pred, y_true))
        # Split |e| into its part up to delta, q = min(|e|, delta) = |e| - relu(|e| - delta), and
        # the rest, linear = relu(|e| - delta): the loss is 0.5 q^2 + delta * linear, with no
        # branch, and the gradient is e where |e| <= delta and delta * sign(e) beyond.
        linear = nn_ops.relu(math_ops.subtract(error, delta))
        quadratic = math_ops.subtract(error, linear)
        values = math_ops.add(math_ops.multiply(math_ops.square(quadratic), 0.5),
                              math_ops.multiply(linear, delta))
        return _reduce(values, reduction)


def huber_loss(labels, predictions, delta=1.0, reduction="mean", name=None):
    """TF1's spelling (labels, predictions) of `huber`."""
    return huber(labels, predictions, delta, reduction, name)


def sigmoid_cross_entropy(labels, logits, reduction="mean", name=None):
    """Binary cross-entropy from logits: -z log(sigmoid(x)) - (1 - z) log(1 - sigmoid(x)) per
    value (nn.sigmoid_cross_entropy_with_logits, stable for any logits), averaged per sample."""
    with name_scope(name, "sigmoid_cross_entropy_loss"):
        labels, logits = _aligned(labels, logits)
        values = nn_ops.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
        return _reduce(values, reduction)


def softmax_cross_entropy(onehot_labels, logits, reduction="mean", name=None):
    """-sum(labels * log_softmax(logits)) over the classes (last axis): one value per sample.
    `onehot_labels` may be any distributions over the classes, not only one-hot rows."""
    with name_scope(name, "softmax_cross_entropy_loss"):
        logits = _float_tensor(logits)
        labels = _like(onehot_labels, logits)
        values = nn_ops.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits)
        return _reduce(values, reduction)


def sparse_softmax_cross_entropy(labels, logits, reduction="mean", name=None):
    """Softmax cross-entropy with integer class indices `labels` of shape (n,)."""
    with name_scope(name, "sparse_softmax_cross_entropy_loss"):
        logits = _float_tensor(logits)
        values = nn_ops.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        return _reduce(values, reduction)


def compute_average_loss(per_example_loss, global_batch_size=None, name=None):
    """sum(per_example_loss) / global_batch_size: each rank's share of the global batch's mean.

    Summed over the ranks (by the all-reduce of the gradients) this is exactly the mean over the
    whole global batch, for uneven shards and short last batches too. Without global_batch_size
    it is the local mean.
    """
    with name_scope(name, "average_loss"):
        per_example_loss = _float_tensor(per_example_loss)
        total = math_ops.reduce_sum(per_example_loss)
        if global_batch_size is None:
            return math_ops.reduce_mean(per_example_loss)
        if dtype_of(global_batch_size) is not None:
            return math_ops.divide(total, math_ops.cast(global_batch_size, total.dtype))
        if not global_batch_size > 0:
            raise ValueError("global_batch_size must be positive, got %r" % (global_batch_size,))
        return math_ops.divide(total, float(global_batch_size))


mse = mean_squared_error
mae = mean_absolute_error

_BY_NAME = {"mse": mean_squared_error, "mean_squared_error": mean_squared_error,
            "mae": mean_absolute_error, "mean_absolute_error": mean_absolute_error,
            "huber": huber, "huber_loss": huber,
            "sigmoid_cross_entropy": sigmoid_cross_entropy,
            "binary_crossentropy_from_logits": sigmoid_cross_entropy,
            "softmax_cross_entropy": softmax_cross_entropy,
            "categorical_crossentropy_from_logits": softmax_cross_entropy,
            "sparse_softmax_cross_entropy": sparse_softmax_cross_entropy}


def get(identifier):
    """A loss function from its name ('mse', 'mae', 'huber', ...) or the callable itself."""
    if callable(identifier):
        return identifier
    try:
        return _BY_NAME[identifier.lower()]
    except (KeyError, AttributeError):
        raise ValueError("Unknown loss %r; known: %s" % (identifier, ", ".join(sorted(_BY_NAME))))


# -- helpers ---------------------------------------------------------------------------------------
def _float_tensor(x):
    x = convert_to_tensor(x)  # NumPy arrays keep their dtype; Python floats become float32
    if not x.dtype.is_floating:
        raise TypeError("Losses need floating-point predictions, got %s" % x.dtype.name)
    return x


def _like(y, reference):
    """`y` as a tensor of `reference`'s dtype: plain values are converted, integer or other float
    targets cast (Keras does the same), so that int labels work against float predictions."""
    if dtype_of(y) is None:
        return convert_to_tensor(y, reference.dtype)
    y = convert_to_tensor(y)
    return y if y.dtype == reference.dtype else math_ops.cast(y, reference.dtype)


def _aligned(y_true, y_pred):
    """(y_true, y_pred) as tensors of one dtype and the same static shape where it is known."""
    y_pred = _float_tensor(y_pred)
    y_true = _like(y_true, y_pred)
    rt, rp = y_true.shape.rank, y_pred.shape.rank
    if rt is not None and rp is not None:
        if rp == rt + 1 and y_pred.shape.as_tuple()[-1] == 1:
            y_true = array_ops.expand_dims(y_true, -1)
        elif rt == rp + 1 and y_true.shape.as_tuple()[-1] == 1:
            y_pred = array_ops.expand_dims(y_pred, -1)
    if not y_true.shape.is_compatible_with(y_pred.shape):
        raise ValueError("y_true of shape %s does not match y_pred of shape %s (losses do not "
                         "broadcast targets against predictions)" % (y_true.shape, y_pred.shape))
    return y_true, y_pred


def _per_sample(values):
    """One value per sample: the mean over every axis but the first (the batch)."""
    rank = values.shape.rank
    if rank is None:
        raise ValueError("Losses need inputs of known rank, got shape %s" % values.shape)
    if rank <= 1:
        return values
    return math_ops.reduce_mean(values, axis=list(range(1, rank)))


def _reduce(values, reduction):
    reduction = Reduction.validate(reduction)
    per_sample = _per_sample(values)
    if reduction == Reduction.NONE:
        return per_sample
    if reduction == Reduction.SUM:
        return math_ops.reduce_sum(per_sample)
    return math_ops.reduce_mean(per_sample)

"""TF1's `tf.losses` (`tf.compat.v1.losses`): (labels, predictions, weights), a Reduction, and
the LOSSES collection.

Each loss computes its elementwise values, multiplies them by `weights` (a scalar, or a tensor
whose rank equals the values' rank with each dimension 1 or equal: per-sample weights of shape
(n, 1), per-element weights of shape (n, k)), and reduces them as TF1's compute_weighted_loss
(tensorflow/python/ops/losses/losses_impl.py) does:

  NONE                      the weighted values, unreduced;
  SUM                       the sum of ALL weighted values;
  MEAN                      that sum / sum(weights broadcast to the values);
  SUM_OVER_BATCH_SIZE       that sum / the number of values;
  SUM_BY_NONZERO_WEIGHTS    that sum / the number of values whose weight is not 0 (the default;
  (= SUM_OVER_NONZERO_WEIGHTS)  a mean over the values that count).

Divisions are 'no NaN': 0 when every weight is 0. As in TF, mean_squared_error,
absolute_difference, huber_loss and log_loss compute in float32 whatever their inputs' dtype;
the cross-entropies keep the logits' dtype. In a graph each loss is named under its scope
(`mean_squared_error/value:0`) and added to the LOSSES collection, from which get_losses() and
get_total_loss() read; executing eagerly nothing is collected, as in TF.
"""
from distflow.framework import context, dtypes
from distflow.framework.graph import GraphKeys, add_to_collection, get_collection, name_scope
from distflow.ops import array_ops, comparison_ops, math_ops, nn_ops
from distflow.ops.constant_op import constant
from distflow.ops.dispatch import convert_to_tensor, dtype_of

__all__ = ["Reduction", "compute_weighted_loss", "mean_squared_error", "absolute_difference",
           "huber_loss", "log_loss", "sigmoid_cross_entropy", "softmax_cross_entropy",
           "sparse_softmax_cross_entropy", "add_loss", "get_losses", "get_regularization_losses",
           "get_regularization_loss", "get_total_loss"]

_LOSSES = GraphKeys.LOSSES
_REGULARIZATION_LOSSES = "regularization_losses"  # tf.GraphKeys.REGULARIZATION_LOSSES


class Reduction:
    """TF1's loss reductions (tf.compat.v1.losses.Reduction), with TF's string values."""
    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls):
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE,
                cls.SUM_OVER_NONZERO_WEIGHTS, cls.SUM_BY_NONZERO_WEIGHTS)

    @classmethod
    def validate(cls, key):
        if key not in cls.all():
            raise ValueError("Invalid Reduction Key %s. Key should be one of %s."
                             % (key, cls.all()))


def compute_weighted_loss(losses, weights=1.0, scope=None, loss_collection=_LOSSES,
                          reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """`losses * weights`, reduced by `reduction` (see the module's docstring), collected."""
    Reduction.validate(reduction)
    with name_scope(scope, "weighted_loss"):
        losses = convert_to_tensor(losses)
        input_dtype = losses.dtype
        losses = math_ops.cast(losses, dtypes.float32)
        weights = _float32(weights)
        _assert_broadcastable(weights, losses)
        weighted = math_ops.multiply(losses, weights)
        if reduction == Reduction.NONE:
            loss = weighted
        else:
            loss = math_ops.reduce_sum(weighted)
            if reduction == Reduction.MEAN:
                loss = _safe_mean(loss, math_ops.reduce_sum(
                    math_ops.multiply(array_ops.ones_like(losses), weights)))
            elif reduction == Reduction.SUM_BY_NONZERO_WEIGHTS:
                loss = _safe_mean(loss, _num_present(losses, weights))
            elif reduction == Reduction.SUM_OVER_BATCH_SIZE:
                loss = _safe_mean(loss, _num_elements(losses))
        loss = math_ops.cast(loss, input_dtype)
        add_loss(loss, loss_collection)
        return loss


def mean_squared_error(labels, predictions, weights=1.0, scope=None, loss_collection=_LOSSES,
                       reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """(predictions - labels)^2, weighted and reduced."""
    with name_scope(scope, "mean_squared_error") as scope:
        labels, predictions = _float32_pair(labels, predictions)
        losses = math_ops.square(math_ops.subtract(predictions, labels))
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


def absolute_difference(labels, predictions, weights=1.0, scope=None, loss_collection=_LOSSES,
                        reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """|predictions - labels|, weighted and reduced."""
    with name_scope(scope, "absolute_difference") as scope:
        labels, predictions = _float32_pair(labels, predictions)
        losses = math_ops.abs(math_ops.subtract(predictions, labels))
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


def huber_loss(labels, predictions, weights=1.0, delta=1.0, scope=None, loss_collection=_LOSSES,
               reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """0.5 e^2 where |e| <= delta, else 0.5 delta^2 + delta (|e| - delta); e = predictions -
    labels. TF's form: q = min(|e|, delta), 0.5 q^2 + delta (|e| - q)."""
    with name_scope(scope, "huber_loss") as scope:
        labels, predictions = _float32_pair(labels, predictions)
        abs_error = math_ops.abs(math_ops.subtract(predictions, labels))
        quadratic = comparison_ops.minimum(abs_error, delta)
        linear = math_ops.subtract(abs_error, quadratic)
        losses = math_ops.add(math_ops.multiply(0.5, math_ops.multiply(quadratic, quadratic)),
                              math_ops.multiply(delta, linear))
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


def log_loss(labels, predictions, weights=1.0, epsilon=1e-7, scope=None,
             loss_collection=_LOSSES, reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """-z log(p + eps) - (1 - z) log(1 - p + eps) for probabilities p, weighted and reduced."""
    with name_scope(scope, "log_loss") as scope:
        labels, predictions = _float32_pair(labels, predictions)
        losses = (-math_ops.multiply(labels, math_ops.log(predictions + epsilon))
                  - math_ops.multiply(1.0 - labels, math_ops.log(1.0 - predictions + epsilon)))
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


def sigmoid_cross_entropy(multi_class_labels, logits, weights=1.0, label_smoothing=0, scope=None,
                          loss_collection=_LOSSES, reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """nn.sigmoid_cross_entropy_with_logits per value; label_smoothing s moves the labels to
    z (1 - s) + s / 2."""
    with name_scope(scope, "sigmoid_cross_entropy_loss") as scope:
        logits = convert_to_tensor(logits)
        labels = _cast_like(multi_class_labels, logits)
        _assert_compatible(logits, labels)
        if label_smoothing > 0:
            labels = labels * (1.0 - label_smoothing) + 0.5 * label_smoothing
        losses = nn_ops.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits,
                                                          name="xentropy")
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


def softmax_cross_entropy(onehot_labels, logits, weights=1.0, label_smoothing=0, scope=None,
                          loss_collection=_LOSSES, reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """-sum(labels * log_softmax(logits)) per sample; label_smoothing s gives the labels
    y (1 - s) + s / num_classes. No gradient flows into the labels (TF1 stops it)."""
    with name_scope(scope, "softmax_cross_entropy_loss") as scope:
        logits = convert_to_tensor(logits)
        labels = _cast_like(onehot_labels, logits)
        _assert_compatible(logits, labels)
        if label_smoothing > 0:
            num_classes = math_ops.cast(array_ops.shape(labels)[-1], logits.dtype)
            labels = labels * (1.0 - label_smoothing) + label_smoothing / num_classes
        labels = array_ops.stop_gradient(labels, name="labels_stop_gradient")
        losses = nn_ops.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits,
                                                             name="xentropy")
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


def sparse_softmax_cross_entropy(labels, logits, weights=1.0, scope=None,
                                 loss_collection=_LOSSES,
                                 reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """Softmax cross-entropy with integer class indices `labels` of shape (n,) (or (n, 1))."""
    with name_scope(scope, "sparse_softmax_cross_entropy_loss") as scope:
        logits = convert_to_tensor(logits)
        labels = convert_to_tensor(labels)
        weights = _float32(weights)
        # TF's _remove_squeezable_dimensions(expected_rank_diff=1)
        rl, rg = labels.shape.rank, logits.shape.rank
        if rl is not None and rg is not None and rl == rg and labels.shape.as_tuple()[-1] == 1:
            labels = array_ops.squeeze(labels, axis=[-1])
        rl, rw = labels.shape.rank, weights.shape.rank
        if rl is not None and rw is not None and rw > 0:
            if rw == rl + 1 and weights.shape.as_tuple()[-1] == 1:
                weights = array_ops.squeeze(weights, axis=[-1])
            elif rw == rl - 1:
                weights = array_ops.expand_dims(weights, -1)
        losses = nn_ops.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits,
                                                                 name="xentropy")
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


# -- the collection --------------------------------------------------------------------------------
def add_loss(loss, loss_collection=_LOSSES):
    """Adds `loss` to the collection; nothing is collected while executing eagerly (TF)."""
    if loss_collection and not context.executing_eagerly():
        add_to_collection(loss_collection, loss)


def get_losses(scope=None, loss_collection=_LOSSES):
    return get_collection(loss_collection, scope)


def get_regularization_losses(scope=None):
    return get_collection(_REGULARIZATION_LOSSES, scope)


def get_regularization_loss(scope=None, name="total_regularization_loss"):
    losses = get_regularization_losses(scope)
    if losses:
        return math_ops.add_n(losses, name=name)
    return constant(0.0)


def get_total_loss(add_regularization_losses=True, name="total_loss", scope=None):
    """The sum of the collected losses (and regularization losses): one tensor to minimize."""
    losses = get_losses(scope=scope)
    if add_regularization_losses:
        losses = losses + get_regularization_losses(scope=scope)
    if not losses:
        raise ValueError("inputs must be an iterable of at least one Tensor/IndexedSlices with "
                         "the same dtype and shape")
    return math_ops.add_n(losses, name=name)


# -- helpers ---------------------------------------------------------------------------------------
def _float32(x):
    if dtype_of(x) is None:
        return convert_to_tensor(x, dtypes.float32)
    return math_ops.cast(x, dtypes.float32)


def _cast_like(x, like):
    if dtype_of(x) is None:
        return convert_to_tensor(x, like.dtype)
    return math_ops.cast(x, like.dtype)


def _assert_compatible(a, b):
    if not a.shape.is_compatible_with(b.shape):
        raise ValueError("Shapes %s and %s are incompatible" % (a.shape, b.shape))


def _float32_pair(labels, predictions):
    if labels is None:
        raise ValueError("Argument `labels` must not be None.")
    if predictions is None:
        raise ValueError("Argument `predictions` must not be None.")
    predictions, labels = _float32(predictions), _float32(labels)
    _assert_compatible(predictions, labels)
    return labels, predictions


def _assert_broadcastable(weights, values):
    """TF's static assert_broadcastable: a scalar, or the same rank with each dim 1 or equal."""
    w, v = weights.shape, values.shape
    if w.rank == 0 or w.rank is None or v.rank is None:
        return
    wd, vd = w.as_tuple(), v.as_tuple()
    ok = w.rank == v.rank and all(a is None or b is None or a in (1, b) for a, b in zip(wd, vd))
    if not ok:
        raise ValueError("weights can not be broadcast to values. values.rank=%d. "
                         "weights.rank=%d. values.shape=%s. weights.shape=%s."
                         % (v.rank, w.rank, v, w))


def _safe_mean(total, count):
    """total / count, and 0 when count is 0: TF's div_no_nan, named 'value' as TF names it."""
    return math_ops.divide_no_nan(total, count, name="value")


def _num_elements(losses):
    with name_scope(None, "num_elements"):
        return math_ops.cast(array_ops.size(losses), losses.dtype)


def _num_present(losses, weights):
    """The number of values whose (broadcast) weight is not 0."""
    with name_scope(None, "num_present"):
        present = comparison_ops.where(comparison_ops.equal(weights, 0.0),
                                       array_ops.zeros_like(weights),
                                       array_ops.ones_like(weights))
        present = math_ops.multiply(present, array_ops.ones_like(losses))
        return math_ops.reduce_sum(present)

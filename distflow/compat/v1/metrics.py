"""TF1's streaming metrics (`tf.metrics.accuracy`, `tf.metrics.mean`): each returns
`(value, update_op)` over two local variables, `total` and `count`, which live in the
LOCAL_VARIABLES and METRIC_VARIABLES collections and start at zero once
`tf.local_variables_initializer()` runs; every run of `update_op` adds one batch."""
from distflow.framework import dtypes
from distflow.framework.graph import GraphKeys, get_default_graph
from distflow.ops import array_ops, comparison_ops, dispatch, math_ops, reduction_ops
from distflow.ops.variables import GraphVariable


def _local(name, dtype):
    return GraphVariable(dtypes.as_dtype(dtype).as_numpy_dtype(0), trainable=False, name=name,
                         collections=[GraphKeys.LOCAL_VARIABLES, GraphKeys.METRIC_VARIABLES])


def _add_to(collections, value):
    for c in collections or ():
        get_default_graph().add_to_collection(c, value)


def mean(values, weights=None, metrics_collections=None, updates_collections=None, name=None):
    """The (weighted) mean of every value seen so far: total / count, 0 before any."""
    with get_default_graph().name_scope(name or "mean"):
        return _mean(values, weights, metrics_collections, updates_collections)


def _mean(values, weights, metrics_collections, updates_collections):
    graph = get_default_graph()
    values = dispatch.convert_to_tensor(values)
    if not values.dtype.is_floating:
        values = math_ops.cast(values, dtypes.float32)
    total = _local("total", values.dtype)
    count = _local("count", values.dtype)
    if weights is None:
        num = math_ops.cast(reduction_ops.reduce_prod(array_ops.shape(values)), values.dtype)
        batch_sum = math_ops.reduce_sum(values)
    else:
        weights = math_ops.cast(dispatch.convert_to_tensor(weights), values.dtype)
        weights = weights * array_ops.ones_like(values)  # broadcast, as TF's weights may be
        num = math_ops.reduce_sum(weights)
        batch_sum = math_ops.reduce_sum(values * weights)
    update_total = total.assign_add(batch_sum)
    with graph.control_dependencies([values]):
        update_count = count.assign_add(num)
    value = math_ops.divide_no_nan(total.read_value(), count.read_value(), name="value")
    update = math_ops.divide_no_nan(update_total, update_count, name="update_op")
    _add_to(metrics_collections, value)
    _add_to(updates_collections, update)
    return value, update


def accuracy(labels, predictions, weights=None, metrics_collections=None,
             updates_collections=None, name=None):
    """How often `predictions` equal `labels`, over every batch seen so far."""
    with get_default_graph().name_scope(name or "accuracy"):
        predictions = dispatch.convert_to_tensor(predictions)
        labels = dispatch.convert_to_tensor(labels)
        if labels.dtype != predictions.dtype:
            predictions = math_ops.cast(predictions, labels.dtype)
        correct = math_ops.cast(comparison_ops.equal(predictions, labels), dtypes.float32)
        return _mean(correct, weights, metrics_collections, updates_collections)


__all__ = ["accuracy", "mean"]

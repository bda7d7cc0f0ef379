"""Evaluation metrics kept as sums and counts, so that they combine exactly.

A metric's state is a few float64 sums (for MSE: the sum of squared errors and the number of
values). Updating batch by batch adds to the sums; merging two metrics adds their sums; the
distributed runtime all-reduces the flat `state()` arrays with a plain sum. The result is then
exactly the metric over all the data, whatever the batch sizes or the number of ranks, which a
mean of per-batch means is not when batches differ in size (the short last batch, uneven shards).

Metrics work on NumPy arrays (or anything `np.asarray` accepts, such as eager tensors): they run
after a step, outside the graph. Errors are counted per value, so a model with k outputs per sample
counts k values per sample.

Names and meanings follow Keras (TF 2.x's tf.metrics): Accuracy counts exact matches
y_pred == y_true; BinaryAccuracy(threshold=0.5), CategoricalAccuracy and SparseCategoricalAccuracy
threshold or argmax class scores; R2Score is R^2 per output column, averaged.
"""
import numpy as np

__all__ = ["Metric", "MeanSquaredError", "RootMeanSquaredError", "MeanAbsoluteError", "R2Score",
           "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
           "get", "pack_states", "unpack_states"]


class Metric:
    """Base: a flat float64 state of sums; subclasses name the sums and say how to fill them."""

    state_names = ()

    def __init__(self, name=None):
        self.name = name or self.default_name
        self._state = np.zeros(len(self.state_names), dtype=np.float64)
        self._strategy = _strategy_of_scope()

    # -- the sums ------------------------------------------------------------------------------
    def update_state(self, y_true, y_pred):
        """Adds one batch; returns self so calls can be chained."""
        self._state += self._batch_sums(*_paired(y_true, y_pred, self.name))
        return self

    def state(self):
        """A copy of the sums as a flat float64 array: what the runtime all-reduces."""
        return self._state.copy()

    def set_state(self, state):
        """Replaces the sums, e.g. with the all-reduced sums of every rank."""
        state = np.asarray(state, dtype=np.float64)
        if state.shape != self._state.shape:
            raise ValueError("%s keeps %d sums %s, got a state of shape %s"
                             % (self.name, len(self.state_names), self.state_names, state.shape))
        self._state = state.copy()
        return self

    def merge(self, other):
        """Adds another metric's sums (or a state array) of the same kind to this one."""
        if isinstance(other, Metric):
            if type(other) is not type(self):
                raise TypeError("Cannot merge %s into %s" % (type(other).__name__,
                                                             type(self).__name__))
            other = other._state
        return self.set_state(self._state + np.asarray(other, dtype=np.float64))

    def reset_state(self):
        self._state[:] = 0.0

    reset_states = reset_state  # TF 2.0-2.4 spelling

    @property
    def count(self):
        return self._state[-1]

    def result(self):
        """The metric over everything added so far, as a Python float; NaN before any data.
        Made in a tf.distribute scope of several replicas, over every replica's data (TF's
        rule: every rank must then ask, since the sums are all-reduced)."""
        saved = self._state
        self._state = _replica_sums(getattr(self, "_strategy", None), saved)
        try:
            if self.count == 0:
                return float("nan")
            return float(self._result())
        finally:
            self._state = saved

    def __repr__(self):
        return "<%s %s=%.6g over %d values>" % (type(self).__name__, self.name, self.result(),
                                                 self.count)

    # -- for subclasses ------------------------------------------------------------------------
    def _batch_sums(self, y_true, y_pred):
        raise NotImplementedError

    def _result(self):
        raise NotImplementedError


class MeanSquaredError(Metric):
    default_name = "mse"
    state_names = ("sum_squared_error", "count")

    def _batch_sums(self, y_true, y_pred):
        return [np.sum(np.square(y_pred - y_true)), y_true.size]

    def _result(self):
        return self._state[0] / self.count


class RootMeanSquaredError(MeanSquaredError):
    """The square root of the combined MSE, not a mean of per-batch RMSEs."""
    default_name = "rmse"

    def _result(self):
        return np.sqrt(self._state[0] / self.count)


class MeanAbsoluteError(Metric):
    default_name = "mae"
    state_names = ("sum_absolute_error", "count")

    def _batch_sums(self, y_true, y_pred):
        return [np.sum(np.abs(y_pred - y_true)), y_true.size]

    def _result(self):
        return self._state[0] / self.count


class R2Score(Metric):
    """Keras's R2Score: the coefficient of determination 1 - SS_res / SS_tot per output column,
    from per-column sums that add over batches and ranks.

    class_aggregation: "uniform_average" (the default) averages the columns' R^2,
    "variance_weighted_average" weights them by SS_tot, None returns them all (an array).
    num_regressors p > 0 gives the adjusted R^2, 1 - (1 - R^2)(n - 1) / (n - p - 1) with n the
    number of values (Keras falls back to R^2 when n - 1 <= p). As in Keras, a column with
    SS_tot = 0 scores 0 (NaN when its residuals are 0 too).

    Inputs are (n, k); a (n,) vector is taken as one column (Keras wants 2-D inputs and raises).
    The state is [sum_y (k), sum_y^2 (k), SS_res (k), count (k), values]; it is sized by the
    first batch, by a state loaded with set_state / merge (an all-reduce), or up front by
    `num_outputs=k` (a distflow extension), so ranks that saw no data can still take it.
    """
    default_name = "r2_score"
    state_names = ("values",)

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name=None, *,
                 num_outputs=None):
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError("Invalid value for argument `class_aggregation`. Expected one of "
                             "(None, 'uniform_average', 'variance_weighted_average'). "
                             "Received: class_aggregation=%r" % (class_aggregation,))
        if num_regressors < 0:
            raise ValueError("Invalid value for argument `num_regressors`. Expected a value "
                             ">= 0. Received: num_regressors=%r" % (num_regressors,))
        super().__init__(name)
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self.state_names = ("values",)
        if num_outputs is not None:
            self._build(int(num_outputs))

    def _build(self, k):
        self.state_names = tuple("%s_%d" % (s, j) for s in ("sum_y", "sum_y_squared",
                                                             "sum_squared_residual", "count")
                                 for j in range(k)) + ("values",)
        self._state = np.zeros(4 * k + 1, dtype=np.float64)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _paired(y_true, y_pred, self.name)
        if y_true.ndim == 1:
            y_true, y_pred = y_true[:, None], y_pred[:, None]
        if y_true.ndim != 2:
            raise ValueError("R2Score expects 2D inputs with shape (batch_size, output_dim). "
                             "Received input shapes: y_pred.shape=%s and y_true.shape=%s."
                             % (y_pred.shape, y_true.shape))
        k = y_true.shape[1]
        if len(self._state) == 1:
            values = self._state[0]
            self._build(k)
            self._state[-1] = values
        elif len(self._state) != 4 * k + 1:
            raise ValueError("%s was built for %d outputs, got %d" % (
                self.name, (len(self._state) - 1) // 4, k))
        w = np.ones_like(y_true) if sample_weight is None else \
            np.asarray(sample_weight, dtype=np.float64)
        if w.ndim == 1:
            w = w[:, None]
        w = np.broadcast_to(w, y_true.shape)
        self._state += np.concatenate([np.sum(y_true * w, 0), np.sum(y_true * y_true * w, 0),
                                       np.sum((y_true - y_pred) ** 2 * w, 0), np.sum(w, 0),
                                       [y_true.size]])
        return self

    def set_state(self, state):
        state = np.asarray(state, dtype=np.float64)
        if state.ndim == 1 and len(self._state) == 1 and len(state) % 4 == 1:
            self._build(len(state) // 4)
        return super().set_state(state)

    def merge(self, other):
        size = len(other._state) if isinstance(other, Metric) else len(np.ravel(other))
        if len(self._state) == 1 and size % 4 == 1 and size > 1:
            values = self._state[0]
            self._build(size // 4)
            self._state[-1] = values
        return super().merge(other)

    def reset_state(self):
        self._state = np.zeros(1, dtype=np.float64)
        self.state_names = ("values",)

    reset_states = reset_state

    def result(self):
        if self.count == 0:
            return float("nan")
        k = (len(self._state) - 1) // 4
        s, s2, res, cnt = (self._state[i * k:(i + 1) * k] for i in range(4))
        with np.errstate(divide="ignore", invalid="ignore"):
            total = s2 - s * (s / cnt)
            raw = 1.0 - res / total
        raw = np.where(np.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            r2 = float(np.mean(raw))
        elif self.class_aggregation == "variance_weighted_average":
            r2 = float(np.sum(total * raw) / np.sum(total))
        else:
            r2 = raw
        n, p = self.count, self.num_regressors
        if p and p < n - 1:
            r2 = 1.0 - (1.0 - r2) * (n - 1) / (n - p - 1)
        return r2


class _MeanOfMatches(Metric):
    """A Keras MeanMetricWrapper of 0/1 matches: each sample scores the mean of its matches,
    and the result is the (sample_weight-weighted) mean over samples."""
    state_names = ("correct", "count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        check_values(self.name, y_true, y_pred)
        matches = np.asarray(self._matches(np.asarray(y_true), np.asarray(y_pred)), np.float64)
        if matches.ndim > 1:
            matches = matches.reshape(matches.shape[0], -1).mean(axis=1)
        if sample_weight is None:
            self._state += [np.sum(matches), matches.shape[0] if matches.ndim else 1]
        else:
            w = np.asarray(sample_weight, np.float64)  # one weight per sample (or a scalar)
            w = np.broadcast_to(w.reshape(-1) if w.ndim else w, matches.shape)
            self._state += [np.sum(matches * w), np.sum(w)]
        return self

    def _result(self):
        return self._state[0] / self.count


class Accuracy(_MeanOfMatches):
    """Keras's Accuracy: the fraction of predictions EQUAL to their labels (y_pred == y_true,
    y_true taken in y_pred's dtype). For class scores use CategoricalAccuracy or
    SparseCategoricalAccuracy; for probabilities, BinaryAccuracy."""
    default_name = "accuracy"

    def _matches(self, y_true, y_pred):
        y_true, y_pred = _same_rank(y_true.astype(y_pred.dtype), y_pred)
        return y_true == y_pred


class BinaryAccuracy(_MeanOfMatches):
    """The fraction of labels (0 or 1) equal to (y_pred > threshold); use threshold=0.0 for
    logits."""
    default_name = "binary_accuracy"

    def __init__(self, name=None, dtype=None, threshold=0.5):
        super().__init__(name)
        self.threshold = threshold

    def _matches(self, y_true, y_pred):
        y_true, y_pred = _same_rank(y_true.astype(y_pred.dtype), y_pred)
        return y_true == (y_pred > self.threshold).astype(y_true.dtype)


class CategoricalAccuracy(_MeanOfMatches):
    """The fraction of samples whose argmax of the scores equals the argmax of the one-hot
    (or probability) labels."""
    default_name = "categorical_accuracy"

    def _matches(self, y_true, y_pred):
        labels = np.argmax(y_true, axis=-1)
        if labels.ndim == y_pred.ndim:
            labels = labels.reshape(labels.shape[:-1])
        return labels == np.argmax(y_pred, axis=-1)


class SparseCategoricalAccuracy(_MeanOfMatches):
    """The fraction of samples whose argmax of the scores equals the integer label, with labels
    of shape (n,) or (n, 1)."""
    default_name = "sparse_categorical_accuracy"

    def _matches(self, y_true, y_pred):
        y_true = y_true.astype(y_pred.dtype)
        if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
            y_true = y_true.reshape(y_true.shape[:-1])
        return y_true == np.argmax(y_pred, axis=-1).astype(y_true.dtype)


_BY_NAME = {"mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
            "rmse": RootMeanSquaredError, "root_mean_squared_error": RootMeanSquaredError,
            "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
            "r2": R2Score, "r2_score": R2Score, "accuracy": Accuracy, "acc": Accuracy,
            "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
            "sparse_categorical_accuracy": SparseCategoricalAccuracy}


def get(identifier):
    """A new metric from its name ('mse', 'rmse', 'mae', 'r2', 'accuracy', 'binary_accuracy',
    ...), or the metric itself."""
    if isinstance(identifier, Metric):
        return identifier
    try:
        return _BY_NAME[identifier.lower()]()
    except (KeyError, AttributeError):
        raise ValueError("Unknown metric %r; known: %s" % (identifier, ", ".join(sorted(_BY_NAME))))


def _strategy_of_scope():
    """The tf.distribute strategy of an open scope with several replicas, or None."""
    from distflow.framework import context
    strategies = context.ctx.distribution_strategies
    strategy = strategies[-1] if strategies else None
    return strategy if strategy is not None and strategy.num_replicas_in_sync > 1 else None


def _replica_sums(strategy, state):
    if strategy is None:
        return state
    total = state.copy()
    strategy._communicator.allreduce(total, "sum", name="metric result")
    return total


def pack_states(metrics):
    """The states of several metrics in one flat float64 array: one all-reduce for all of them."""
    if not metrics:
        return np.zeros(0, dtype=np.float64)
    return np.concatenate([m.state() for m in metrics])


def unpack_states(metrics, flat):
    """Sets each metric's state from a flat array made by pack_states (after reducing it)."""
    flat = np.asarray(flat, dtype=np.float64)
    sizes = [len(m.state_names) for m in metrics]
    if flat.shape != (sum(sizes),):
        raise ValueError("Expected a flat state of %d values, got shape %s" % (sum(sizes),
                                                                               flat.shape))
    offset = 0
    for m, k in zip(metrics, sizes):
        m.set_state(flat[offset:offset + k])
        offset += k
    return metrics


def check_values(name, *values):
    """Metrics add up values after a step: a symbolic tensor (inside a df.function or a graph)
    has none yet, so it is refused with what to do instead."""
    from distflow.framework.graph import Tensor
    if any(isinstance(v, Tensor) for v in values):
        raise TypeError("%s.update_state got a symbolic tensor (inside a tf.function or a TF1 "
                        "graph): distflow's metrics add up values after a step. Return the "
                        "labels and predictions from the step and call update_state on them "
                        "outside the function." % name)


def _paired(y_true, y_pred, name):
    """float64 arrays of one shape. (n,) against (n, 1) is reshaped, never broadcast to (n, n)."""
    check_values(name, y_true, y_pred)
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        if y_true.size != y_pred.size or np.squeeze(y_true).shape != np.squeeze(y_pred).shape:
            raise ValueError("%s: y_true of shape %s does not match y_pred of shape %s"
                             % (name, y_true.shape, y_pred.shape))
        y_true = y_true.reshape(y_pred.shape)
    return y_true, y_pred


def _same_rank(y_true, y_pred):
    """Keras's squeeze_or_expand_to_same_rank for NumPy arrays."""
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        if y_pred.ndim == 1:
            y_pred = y_pred[..., None]
        else:
            y_true = y_true[..., 0]
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        if y_true.ndim == 1:
            y_true = y_true[..., None]
        else:
            y_pred = y_pred[..., 0]
    return y_true, y_pred

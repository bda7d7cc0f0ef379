"""Evaluation metrics kept as sums and counts, so that they combine exactly.

A metric's state is a few float64 sums (for MSE: the sum of squared errors and the number of
values). Updating batch by batch adds to the sums; merging two metrics adds their sums; the
distributed runtime all-reduces the flat `state()` arrays with a plain sum. The result is then
exactly the metric over all the data, whatever the batch sizes or the number of ranks, which a
mean of per-batch means is not when batches differ in size (the short last batch, uneven shards).

Metrics work on NumPy arrays (or anything `np.asarray` accepts, such as eager tensors): they run
after a step, outside the graph. Errors are counted per value, so a model with k outputs per sample
counts k values per sample.
"""
import numpy as np

__all__ = ["Metric", "MeanSquaredError", "RootMeanSquaredError", "MeanAbsoluteError", "RSquared",
           "Accuracy", "get", "pack_states", "unpack_states"]


class Metric:
    """Base: a flat float64 state of sums; subclasses name the sums and say how to fill them."""

    state_names = ()

    def __init__(self, name=None):
        self.name = name or self.default_name
        self._state = np.zeros(len(self.state_names), dtype=np.float64)

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
        """The metric over everything added so far, as a Python float; NaN before any data."""
        if self.count == 0:
            return float("nan")
        return float(self._result())

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


class RSquared(Metric):
    """Coefficient of determination, 1 - SS_res / SS_tot, from sums that add over batches.

    SS_tot = sum(y^2) - (sum y)^2 / n is computed once at the end from float64 sums. That
    subtraction loses digits only when the targets' mean is huge against their spread (about
    1e8 times), far from house prices in $1000s; R^2 is NaN when all targets are equal.
    """
    default_name = "r2"
    state_names = ("sum_y", "sum_y_squared", "sum_squared_residual", "count")

    def _batch_sums(self, y_true, y_pred):
        return [np.sum(y_true), np.sum(np.square(y_true)), np.sum(np.square(y_pred - y_true)),
                y_true.size]

    def _result(self):
        sum_y, sum_y2, ss_res, n = self._state
        ss_tot = sum_y2 - sum_y * sum_y / n
        if ss_tot <= 0:
            return float("nan")
        return 1.0 - ss_res / ss_tot


class Accuracy(Metric):
    """The fraction of correct predictions.

    With class scores of shape (n, k), k > 1, the prediction is the argmax, and y_true holds class
    indices of shape (n,) or (n, 1), or one-hot rows of shape (n, k). With one score per sample,
    (n,) or (n, 1), it is a binary prediction: score > threshold (0.5 for probabilities; use 0.0
    for logits) compared with y_true > 0.5.
    """
    default_name = "accuracy"
    state_names = ("correct", "count")

    def __init__(self, name=None, threshold=0.5):
        super().__init__(name)
        self.threshold = threshold

    def update_state(self, y_true, y_pred):
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        if y_pred.ndim >= 2 and y_pred.shape[-1] > 1:
            predicted = np.argmax(y_pred, axis=-1)
            if y_true.shape == y_pred.shape:
                labels = np.argmax(y_true, axis=-1)
            else:
                labels = y_true.reshape(y_true.shape[:-1]) if y_true.ndim == y_pred.ndim \
                    else y_true
            if labels.shape != predicted.shape:
                raise ValueError("%s: labels of shape %s do not match scores of shape %s"
                                 % (self.name, y_true.shape, y_pred.shape))
            correct = predicted == labels
        else:
            y_true, y_pred = _paired(y_true, y_pred, self.name)
            correct = (y_pred > self.threshold) == (y_true > 0.5)
        self._state += [np.sum(correct), correct.size]
        return self

    def _result(self):
        return self._state[0] / self.count


_BY_NAME = {"mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
            "rmse": RootMeanSquaredError, "root_mean_squared_error": RootMeanSquaredError,
            "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
            "r2": RSquared, "r_squared": RSquared, "accuracy": Accuracy, "acc": Accuracy}


def get(identifier):
    """A new metric from its name ('mse', 'rmse', 'mae', 'r2', 'accuracy'), or the metric itself."""
    if isinstance(identifier, Metric):
        return identifier
    try:
        return _BY_NAME[identifier.lower()]()
    except (KeyError, AttributeError):
        raise ValueError("Unknown metric %r; known: %s" % (identifier, ", ".join(sorted(_BY_NAME))))


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


def _paired(y_true, y_pred, name):
    """float64 arrays of one shape. (n,) against (n, 1) is reshaped, never broadcast to (n, n)."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        if y_true.size != y_pred.size or np.squeeze(y_true).shape != np.squeeze(y_pred).shape:
            raise ValueError("%s: y_true of shape %s does not match y_pred of shape %s"
                             % (name, y_true.shape, y_pred.shape))
        y_true = y_true.reshape(y_pred.shape)
    return y_true, y_pred

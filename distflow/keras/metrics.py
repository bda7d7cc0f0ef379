"""`tf.keras.metrics`: distflow's sum-and-count metrics under Keras's class names and default
names (`MeanAbsoluteError().name == "mean_absolute_error"`, as Keras names it, where
`df.metrics.MeanAbsoluteError` says "mae"), the per-sample metric functions, and `get`, which
compile() uses to turn `metrics=[...]` into metric objects.

A metric here is updated with NumPy arrays after a step (distflow/nn/metrics.py explains why:
the sums combine exactly over batches of any size). A plain function `fn(y_true, y_pred)` of
distflow ops is wrapped as Keras's MeanMetricWrapper: the mean of its per-sample values.
"""
import numpy as np

from distflow.nn import metrics as _m
from distflow.nn.losses import (binary_crossentropy, categorical_crossentropy,  # noqa: F401
                                mae, mean_absolute_error, mean_squared_error, mse,
                                sparse_categorical_crossentropy)
from distflow.nn.metrics import Metric

__all__ = ["Metric", "Mean", "Sum", "MeanSquaredError", "RootMeanSquaredError", "MeanAbsoluteError", "R2Score",
           "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
           "MeanMetricWrapper", "mean_squared_error", "mean_absolute_error", "mse", "mae",
           "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
           "get"]


class MeanSquaredError(_m.MeanSquaredError):
    default_name = "mean_squared_error"


class RootMeanSquaredError(_m.RootMeanSquaredError):
    default_name = "root_mean_squared_error"


class MeanAbsoluteError(_m.MeanAbsoluteError):
    default_name = "mean_absolute_error"


R2Score = _m.R2Score
Accuracy = _m.Accuracy
BinaryAccuracy = _m.BinaryAccuracy
CategoricalAccuracy = _m.CategoricalAccuracy
SparseCategoricalAccuracy = _m.SparseCategoricalAccuracy


class MeanMetricWrapper(Metric):
    """Keras's MeanMetricWrapper: `fn(y_true, y_pred)` gives one value per sample (run eagerly
    on the batch); the metric is their mean over every sample seen."""

    state_names = ("total", "count")

    def __init__(self, fn, name=None):
        self.default_name = getattr(fn, "__name__", "mean_metric_wrapper")
        super().__init__(name)
        self._fn = fn

    def update_state(self, y_true, y_pred):
        _m.check_values(self.name, y_true, y_pred)
        values = self._fn(np.asarray(y_true), np.asarray(y_pred))
        values = np.asarray(values.numpy() if hasattr(values, "numpy") else values, np.float64)
        if values.ndim > 1:
            values = values.reshape(len(values), -1).mean(axis=1)
        self._state += [values.sum(), values.shape[0] if values.ndim else 1]
        return self

    def _result(self):
        return self._state[0] / self.count


class Mean(Metric):
    """Keras's Mean: the (weighted) mean of every value given to update_state(values,
    sample_weight=None)."""

    default_name = "mean"
    state_names = ("total", "count")

    def __init__(self, name="mean", dtype=None):
        super().__init__(name)

    def update_state(self, values, sample_weight=None):
        _m.check_values(self.name, values, sample_weight)
        values = np.asarray(values.numpy() if hasattr(values, "numpy") else values, np.float64)
        if sample_weight is None:
            self._state += [values.sum(), values.size]
            return self
        weights = np.broadcast_to(np.asarray(
            sample_weight.numpy() if hasattr(sample_weight, "numpy") else sample_weight,
            np.float64), values.shape)
        self._state += [(values * weights).sum(), weights.sum()]
        return self

    def __call__(self, values, sample_weight=None):
        self.update_state(values, sample_weight)
        return self.result()

    def _result(self):
        return self._state[0] / self.count


class Sum(Mean):
    """Keras's Sum: the sum of every value given to update_state."""

    default_name = "sum"

    def __init__(self, name="sum", dtype=None):
        super().__init__(name)

    def result(self):
        saved = self._state
        self._state = _m._replica_sums(getattr(self, "_strategy", None), saved)
        try:
            return float(self._state[0])
        finally:
            self._state = saved


_BY_NAME = {"mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
            "rmse": RootMeanSquaredError, "root_mean_squared_error": RootMeanSquaredError,
            "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
            "r2_score": R2Score, "binary_accuracy": BinaryAccuracy,
            "categorical_accuracy": CategoricalAccuracy,
            "sparse_categorical_accuracy": SparseCategoricalAccuracy}
_BY_CLASS = {"MeanSquaredError": MeanSquaredError, "RootMeanSquaredError": RootMeanSquaredError,
             "MeanAbsoluteError": MeanAbsoluteError, "R2Score": R2Score, "Accuracy": Accuracy,
             "BinaryAccuracy": BinaryAccuracy, "CategoricalAccuracy": CategoricalAccuracy,
             "SparseCategoricalAccuracy": SparseCategoricalAccuracy}


def get(identifier, y_shape=None, output_shape=None):
    """A fresh metric for a name (named as given, as Keras's compile names it: 'mae' logs as
    "mae"), the metric object itself, or a MeanMetricWrapper around a function.

    'accuracy' / 'acc' picks binary, sparse categorical or categorical accuracy from the shapes
    of the targets and of the model's output, by Keras's rule."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            cls = _accuracy_for(y_shape, output_shape)
        else:
            cls = _BY_NAME.get(key) or _BY_CLASS.get(identifier)
        if cls is None:
            raise ValueError("Could not interpret metric identifier: %s" % identifier)
        return cls(name=identifier if identifier not in _BY_CLASS else None)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError("Could not interpret metric identifier: %s" % (identifier,))


def _accuracy_for(y_shape, output_shape):
    """keras/src/trainers/compile_utils.is_binary_or_sparse_categorical."""
    out_last = None if not output_shape else output_shape[-1]
    if out_last == 1:
        return BinaryAccuracy
    if y_shape is not None and output_shape is not None and (
            len(y_shape) == len(output_shape) - 1 or (y_shape and y_shape[-1] == 1)):
        return SparseCategoricalAccuracy
    return CategoricalAccuracy

"""`tf.keras.metrics.TopKCategoricalAccuracy` and `SparseTopKCategoricalAccuracy`: the fraction
of samples whose true class is among the k highest scores. As TF's in_top_k, a class whose
score ties with the k-th highest counts as in the top k."""
import numpy as np

from distflow.nn import metrics as _m

__all__ = ["TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy"]


def _in_top_k(labels, y_pred, k):
    labels = labels.astype(np.int64)
    scores = y_pred.reshape(-1, y_pred.shape[-1])
    target = scores[np.arange(len(scores)), labels.reshape(-1)]
    higher = (scores > target[:, None]).sum(axis=1)
    return (higher < k).reshape(labels.shape)


class TopKCategoricalAccuracy(_m._MeanOfMatches):
    """One-hot (or probability) labels: their argmax is the true class."""

    default_name = "top_k_categorical_accuracy"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(name)
        self.k = int(k)

    def _matches(self, y_true, y_pred):
        return _in_top_k(np.argmax(y_true, axis=-1), y_pred, self.k)


class SparseTopKCategoricalAccuracy(_m._MeanOfMatches):
    """Integer labels of shape (n,) or (n, 1)."""

    default_name = "sparse_top_k_categorical_accuracy"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(name)
        self.k = int(k)

    def _matches(self, y_true, y_pred):
        if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
            y_true = y_true.reshape(y_true.shape[:-1])
        return _in_top_k(y_true, y_pred, self.k)

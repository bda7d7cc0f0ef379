"""Feature standardization, fitted on the training split only and saved with the model.

Fitting the mean and spread on all rows would leak the test set into training; the scaler is
therefore fitted once on the training rows and then applied unchanged to validation, test and
prediction inputs. It saves as plain lists (JSON-able, no pickle) so that a saved model carries
the exact transformation its inputs need.
"""
import numpy as np

__all__ = ["Standardizer"]


class Standardizer:
    """x -> (x - mean) / std per feature, with the population std (ddof=0) of the fitted rows.

    A feature that is constant in the training rows gets std 1, so it maps to 0 instead of
    dividing by zero (scikit-learn's StandardScaler does the same).
    """

    def __init__(self, mean=None, std=None, feature_names=None):
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.std = None if std is None else np.asarray(std, dtype=np.float64)
        self.feature_names = None if feature_names is None else list(feature_names)
        if (self.mean is None) != (self.std is None):
            raise ValueError("Give both mean and std, or neither")
        if self.mean is not None and self.mean.shape != self.std.shape:
            raise ValueError("mean and std have different shapes: %s and %s"
                             % (self.mean.shape, self.std.shape))

    @property
    def fitted(self):
        return self.mean is not None

    def fit(self, x):
        x = _as_2d(x)
        if x.shape[0] == 0:
            raise ValueError("Cannot fit a Standardizer on zero rows")
        self.mean = x.mean(axis=0)
        std = x.std(axis=0)
        self.std = np.where(std > 0, std, 1.0)
        return self

    def transform(self, x, dtype=None):
        self._check(x)
        x = np.asarray(x)
        out = (x.astype(np.float64) - self.mean) / self.std
        return out.astype(dtype or (x.dtype if x.dtype.kind == "f" else np.float64))

    def fit_transform(self, x, dtype=None):
        return self.fit(x).transform(x, dtype)

    def inverse_transform(self, z, dtype=None):
        self._check(z)
        z = np.asarray(z)
        out = z.astype(np.float64) * self.std + self.mean
        return out.astype(dtype or (z.dtype if z.dtype.kind == "f" else np.float64))

    def to_dict(self):
        """Plain Python lists and strings: `json.dumps(s.to_dict())` works."""
        if not self.fitted:
            raise ValueError("The Standardizer has not been fitted")
        d = {"type": "standardizer", "mean": self.mean.tolist(), "std": self.std.tolist()}
        if self.feature_names is not None:
            d["feature_names"] = list(self.feature_names)
        return d

    @classmethod
    def from_dict(cls, d):
        if d.get("type", "standardizer") != "standardizer":
            raise ValueError("Not a standardizer: type %r" % d.get("type"))
        return cls(d["mean"], d["std"], d.get("feature_names"))

    def _check(self, x):
        if not self.fitted:
            raise ValueError("The Standardizer has not been fitted; call fit(x_train) first")
        n = np.shape(x)[-1] if np.ndim(x) else None
        if n != self.mean.shape[0]:
            raise ValueError("The Standardizer was fitted on %d features, got input of shape %s"
                             % (self.mean.shape[0], np.shape(x)))

    def __repr__(self):
        if not self.fitted:
            return "Standardizer(unfitted)"
        return "Standardizer(%d features)" % self.mean.shape[0]


def _as_2d(x):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("Expected a 2-D array (rows, features), got shape %s" % (x.shape,))
    return x

"""Weight initializers: functions of (shape, dtype) that return NumPy arrays, seeded and
deterministic.

An initializer with a seed gives the same values for the same shape and dtype on every call, in
every process and on every platform: the numbers come from NumPy's PCG64 generator seeded with
`seed`, drawn in float64 and then cast. The distributed runtime relies on this (every replica can
build identical weights), and tests can rebuild a model from its seed. Without a seed each call
draws fresh values from the operating system's entropy, as TensorFlow does for unseeded ops.

Scales follow Keras's VarianceScaling: the "fan" of a (fan_in, fan_out) kernel sets the variance;
the normal variants draw from a normal truncated at two standard deviations, rescaled by
0.8796... so that the truncated samples still have the intended variance.
"""
import numpy as np

__all__ = ["Initializer", "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "Zeros",
           "Ones", "Constant", "RandomNormal", "RandomUniform", "glorot_uniform", "glorot_normal",
           "he_normal", "he_uniform", "zeros", "ones", "constant", "get", "compute_fans"]

# The standard deviation of a unit normal truncated to [-2, 2]; dividing by it restores the
# variance the truncation removes (Keras uses the same constant).
_TRUNCATED_STD = 0.87962566103423978


class Initializer:
    def __call__(self, shape, dtype=np.float32):
        raise NotImplementedError

    def get_config(self):
        return {}

    def __repr__(self):
        args = ", ".join("%s=%r" % kv for kv in self.get_config().items())
        return "%s(%s)" % (type(self).__name__, args)


class _Seeded(Initializer):
    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or seed < 0):
            raise ValueError("seed must be a non-negative integer or None, got %r" % (seed,))
        self.seed = seed

    def _rng(self):
        return np.random.default_rng(self.seed)

    def get_config(self):
        return {"seed": self.seed}

    def with_seed(self, seed):
        """A copy seeded with `seed` (layers use it to seed string-named initializers)."""
        config = self.get_config()
        config["seed"] = seed
        return type(self)(**config)


def compute_fans(shape):
    """(fan_in, fan_out): a dense kernel (in, out) gives (in, out); higher ranks treat the last
    two axes as (in, out) channels and the leading axes as the receptive field."""
    shape = tuple(int(d) for d in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated_normal(rng, shape, std):
    """Normal(0, std) samples redrawn until all lie within two standard deviations."""
    x = rng.standard_normal(shape)
    outside = np.abs(x) > 2.0
    while outside.any():
        x[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(x) > 2.0
    return x * std


class _VarianceScaling(_Seeded):
    """Draws with variance scale / fan, uniform or truncated normal."""
    scale = 1.0
    mode = "fan_avg"
    distribution = "uniform"

    def __call__(self, shape, dtype=np.float32):
        shape = tuple(int(d) for d in shape)
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, fan)
        rng = self._rng()
        if self.distribution == "uniform":
            limit = np.sqrt(3.0 * variance)
            values = rng.uniform(-limit, limit, shape)
        else:
            values = _truncated_normal(rng, shape, np.sqrt(variance) / _TRUNCATED_STD)
        return np.asarray(values, dtype=dtype)


class GlorotUniform(_VarianceScaling):
    """Uniform in [-limit, limit], limit = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""


class GlorotNormal(_VarianceScaling):
    """Truncated normal with variance 2 / (fan_in + fan_out)."""
    distribution = "truncated_normal"


class HeNormal(_VarianceScaling):
    """Truncated normal with variance 2 / fan_in, for ReLU layers (He et al. 2015)."""
    scale, mode, distribution = 2.0, "fan_in", "truncated_normal"


class HeUniform(_VarianceScaling):
    """Uniform with variance 2 / fan_in: limit sqrt(6 / fan_in)."""
    scale, mode = 2.0, "fan_in"


class RandomNormal(_Seeded):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=np.float32):
        return np.asarray(self._rng().normal(self.mean, self.stddev, tuple(shape)), dtype=dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(_Seeded):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=np.float32):
        return np.asarray(self._rng().uniform(self.minval, self.maxval, tuple(shape)), dtype=dtype)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=np.float32):
        return np.full(tuple(shape), self.value, dtype=dtype)

    def get_config(self):
        return {"value": self.value}


class Zeros(Constant):
    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {}


class Ones(Constant):
    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {}


# Lower-case names, as Keras and tf.initializers spell them: each makes an initializer.
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
he_normal = HeNormal
he_uniform = HeUniform
zeros = Zeros
ones = Ones
constant = Constant

_BY_NAME = {"glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
            "he_normal": HeNormal, "he_uniform": HeUniform, "zeros": Zeros, "ones": Ones,
            "random_normal": RandomNormal, "random_uniform": RandomUniform}


def get(identifier, seed=None):
    """An initializer from a name ('glorot_uniform', 'zeros', ...), a number (a constant), an
    Initializer or a callable(shape, dtype). `seed` seeds an initializer made from a name."""
    if isinstance(identifier, (Initializer,)) or (callable(identifier)
                                                  and not isinstance(identifier, type)):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        identifier = identifier.__name__
    if isinstance(identifier, (int, float)) and not isinstance(identifier, bool):
        return Constant(identifier)
    if isinstance(identifier, str):
        key = "".join("_" + c.lower() if c.isupper() else c for c in identifier).lstrip("_")
        cls = _BY_NAME.get(key)
        if cls is not None:
            return cls(seed=seed) if issubclass(cls, _Seeded) else cls()
    raise ValueError("Unknown initializer %r; known: %s"
                     % (identifier, ", ".join(sorted(_BY_NAME))))

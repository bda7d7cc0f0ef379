"""TF1's initializer objects (`tf.zeros_initializer()`, `tf.glorot_uniform_initializer()`, ...).

Unlike distflow.nn.initializers, which return NumPy arrays, a TF1 initializer called with a shape
builds ops: `get_variable` calls it inside the variable's `Initializer` name scope, so the graph
holds `v/Initializer/random_uniform`, as TF1's does; the numbers are drawn each time a Session
runs the initializer, and follow the graph seed (`tf.set_random_seed`) like any random op. The
fan computation and the truncation constant are nn.initializers', which follow the same formulas.
"""
import functools
import math

import numpy as np

from distflow.framework import context, dtypes
from distflow.framework.graph import name_scope
from distflow.nn.initializers import _TRUNCATED_STD, compute_fans
from distflow.ops import array_ops, constant_op, random_ops


def _float_dtype(dtype):
    dtype = dtypes.as_dtype(dtype)
    if not dtype.is_floating:
        raise ValueError("Expected floating point type, got %s." % dtype.name)
    return dtype


def building_graphs(fn):
    """`fn` run building a graph (TF1's default), unless enable_eager_execution() was called:
    what compat.v1's `_v1` does for functions, for methods of the classes defined here."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if context.ctx.v1_eager:
            return fn(*args, **kwargs)
        with context.graph_mode():
            return fn(*args, **kwargs)
    return wrapper


class Initializer:
    """`init(shape, dtype=None, partition_info=None)` -> a tensor of that shape."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__call__" in cls.__dict__:
            cls.__call__ = building_graphs(cls.__dict__["__call__"])

    def __call__(self, shape, dtype=None, partition_info=None):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _filled(shape, dtype, value, name):
    # TF writes a small one as one Const named after the op; a large one as a Fill
    shape = [int(d) for d in shape]
    if int(np.prod(shape)) < 1000:
        return constant_op.constant(value, dtype=dtype, shape=shape, name=name)
    with name_scope(name) as scope:
        return array_ops.fill(shape, np.array(value, dtype.as_numpy_dtype), name=scope or None)


class Zeros(Initializer):
    def __init__(self, dtype=dtypes.float32):
        self.dtype = dtypes.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        return _filled(shape, dtypes.as_dtype(dtype or self.dtype), 0, "zeros")

    def get_config(self):
        return {"dtype": self.dtype.name}


class Ones(Zeros):
    def __call__(self, shape, dtype=None, partition_info=None):
        return _filled(shape, dtypes.as_dtype(dtype or self.dtype), 1, "ones")


class Constant(Initializer):
    """A value broadcast to the shape (a scalar), or a list of exactly shape's size."""

    def __init__(self, value=0, dtype=dtypes.float32, verify_shape=False):
        self.value, self.dtype, self.verify_shape = value, dtypes.as_dtype(dtype), verify_shape

    def __call__(self, shape, dtype=None, partition_info=None, verify_shape=None):
        return constant_op.constant(self.value, dtype=dtypes.as_dtype(dtype or self.dtype),
                                    shape=shape)

    def get_config(self):
        return {"value": self.value, "dtype": self.dtype.name, "verify_shape": self.verify_shape}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=1.0, seed=None, dtype=dtypes.float32):
        self.mean, self.stddev, self.seed = mean, stddev, seed
        self.dtype = _float_dtype(dtype)

    _op = staticmethod(random_ops.normal)

    def __call__(self, shape, dtype=None, partition_info=None):
        return self._op(shape, self.mean, self.stddev, _float_dtype(dtype or self.dtype),
                        seed=self.seed)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed,
                "dtype": self.dtype.name}


class TruncatedNormal(RandomNormal):
    _op = staticmethod(random_ops.truncated_normal)


class RandomUniform(Initializer):
    def __init__(self, minval=0.0, maxval=None, seed=None, dtype=dtypes.float32):
        self.minval, self.maxval, self.seed = minval, maxval, seed
        self.dtype = dtypes.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        return random_ops.uniform(shape, self.minval, self.maxval,
                                  dtypes.as_dtype(dtype or self.dtype), seed=self.seed)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed,
                "dtype": self.dtype.name}


class VarianceScaling(Initializer):
    """Variance scale / fan: uniform within sqrt(3 * variance), or a normal truncated at two
    standard deviations and widened so that the kept samples have that variance."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 dtype=dtypes.float32):
        if scale <= 0.:
            raise ValueError("`scale` must be positive float.")
        if mode not in {"fan_in", "fan_out", "fan_avg"}:
            raise ValueError("Invalid `mode` argument:", mode)
        distribution = distribution.lower()
        if distribution not in {"normal", "uniform", "truncated_normal", "untruncated_normal"}:
            raise ValueError("Invalid `distribution` argument:", distribution)
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.seed, self.dtype = seed, _float_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        dtype = _float_dtype(dtype or self.dtype)
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}
        scale = self.scale / max(1., fan[self.mode])
        if self.distribution in ("normal", "truncated_normal"):
            return random_ops.truncated_normal(shape, 0.0, math.sqrt(scale) / _TRUNCATED_STD,
                                               dtype, seed=self.seed)
        if self.distribution == "untruncated_normal":
            return random_ops.normal(shape, 0.0, math.sqrt(scale), dtype, seed=self.seed)
        limit = math.sqrt(3.0 * scale)
        return random_ops.uniform(shape, -limit, limit, dtype, seed=self.seed)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed, "dtype": self.dtype.name}


class GlorotUniform(VarianceScaling):
    """Uniform within sqrt(6 / (fan_in + fan_out)): TF1's default for float get_variable."""

    def __init__(self, seed=None, dtype=dtypes.float32):
        super().__init__(1.0, "fan_avg", "uniform", seed, dtype)

    def get_config(self):
        return {"seed": self.seed, "dtype": self.dtype.name}


class GlorotNormal(GlorotUniform):
    def __init__(self, seed=None, dtype=dtypes.float32):
        VarianceScaling.__init__(self, 1.0, "fan_avg", "truncated_normal", seed, dtype)


# TF1 spells the classes in snake case at the top level; tf.initializers has short names.
V1_NAMES = {
    "zeros_initializer": Zeros, "ones_initializer": Ones, "constant_initializer": Constant,
    "random_normal_initializer": RandomNormal, "truncated_normal_initializer": TruncatedNormal,
    "random_uniform_initializer": RandomUniform, "variance_scaling_initializer": VarianceScaling,
    "glorot_uniform_initializer": GlorotUniform, "glorot_normal_initializer": GlorotNormal,
}
SHORT_NAMES = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "truncated_normal": TruncatedNormal, "random_uniform": RandomUniform,
    "variance_scaling": VarianceScaling, "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
}

"""Random ops (normal, uniform, truncated normal) with TensorFlow's two-level seeds.

Which numbers an op draws depends on two seeds, as in TF (`random_seed.get_seed`):
  * the global seed: the graph's (`tf.set_random_seed`) in graph mode, or the eager one
    (`df.random.set_seed`, which also sets the default graph's);
  * the op seed: the `seed=` argument.
  global and op seed set    -> both used;
  only the global seed set  -> the op seed is derived from the graph (the number of ops built before
                               it) or, eagerly, from a counter that set_seed resets; so a program
                               gives the same numbers on every run;
  only the op seed set      -> the global seed is a fixed default (TF's 87654321);
  neither                   -> fresh, nondeterministic numbers.
The pair keys a NumPy Philox generator, so an op's numbers depend only on its seeds, never on what
other ops drew before it. A Session holds one generator per op: each run continues the op's
stream, and a new Session starts it again. Eagerly, each (op type, dtype, seeds) has one stream,
which continues across calls until set_seed. Numbers are drawn on the host with NumPy and then
moved to the session's device, so a GPU run sees the same numbers.
"""
import random as pyrandom

import numpy as np

from distflow import backend
from distflow.framework import context, dtypes
from distflow.framework.graph import Tensor, get_default_graph, name_scope
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import array_ops, math_ops
from distflow.ops.constant_op import constant_value
from distflow.ops.dispatch import apply, convert_to_tensor
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def

__all__ = [
    "normal",
    "uniform",
    "truncated_normal",
    "set_seed",
    "set_random_seed",
]

# TF1 spells these at the top level: tf.random_normal, tf.set_random_seed, ...
V1_NAMES = ["random_normal", "random_uniform", "truncated_normal", "set_random_seed"]

DEFAULT_GRAPH_SEED = 87654321
_MAXINT32 = 2**31 - 1


# -- seeds ------------------------------------------------------------------------------------
class _EagerSeeds:
    """The eager global seed, the generator of derived op seeds, and the eager streams.

    Only ops given an explicit seed keep a stream across calls: a derived op seed is new on every
    call, so its stream would never be used again (and keeping it would leak memory per call).
    """

    def __init__(self):
        self.reset(None)

    def reset(self, seed):
        self.global_seed = seed
        # TF draws derived op seeds at random from the global seed (not 1, 2, 3...), so they
        # almost never coincide with a seed a user chose for another op.
        self.op_seeds = pyrandom.Random(seed)
        self.streams = {}

    def next_op_seed(self):
        return self.op_seeds.randint(0, _MAXINT32)

    def keep_stream(self, op_type, dtype, seed, seed2):
        self.streams.setdefault((op_type, np.dtype(dtype.as_numpy_dtype), seed, seed2), None)

    def generator(self, op_type, dtype, seed, seed2):
        """The kept stream of an explicitly seeded op, else a generator for this call only."""
        key = (op_type, dtype, seed, seed2)
        if key not in self.streams:
            return _new_generator(seed, seed2)
        gen = self.streams[key]
        if gen is None:
            gen = self.streams[key] = _new_generator(seed, seed2)
        return gen


_eager = _EagerSeeds()


def set_seed(seed):
    """TF2's global seed: for eager ops (restarting their streams) and for the default graph."""
    seed = None if seed is None else int(seed)
    _eager.reset(seed)
    get_default_graph().seed = seed


def set_random_seed(seed):
    """TF1's global seed: the default graph's (the eager one when executing eagerly)."""
    seed = None if seed is None else int(seed)
    if context.executing_eagerly():
        _eager.reset(seed)
    else:
        get_default_graph().seed = seed


def eager_global_seed():
    """The global seed eager ops use (None when unset); a traced function's graph should start
    from it, as TF's FuncGraph does, so that seeded programs stay reproducible under tracing."""
    return _eager.global_seed


def get_seed(op_seed, graph=None):
    """The (global, op) seed pair an op built now uses; (None, None) means nondeterministic.

    `graph` is the graph the op goes into, or None for an eager op. Other stateful code (variable
    initializers, dataset shuffles) can call this to follow the same rules.
    """
    global_seed = _eager.global_seed if graph is None else graph.seed
    if global_seed is not None:
        if op_seed is None:
            op_seed = _eager.next_op_seed() if graph is None else len(graph.get_operations())
        seeds = (_truncate(global_seed), _truncate(op_seed))
    elif op_seed is not None:
        seeds = (DEFAULT_GRAPH_SEED, _truncate(op_seed))
    else:
        return None, None
    # TF reserves (0, 0) for "nondeterministic"; a user asking for zeros still gets fixed numbers.
    return (0, _MAXINT32) if seeds == (0, 0) else seeds


_shared_entropy = []  # [entropy, draws]: set by a tf.distribute strategy (share_entropy)


def unseeded_entropy():
    """Entropy for a data order with no seed (an unseeded Dataset.shuffle, Keras fit's
    shuffling): the operating system's, unless a tf.distribute strategy made every rank share
    one stream (share_entropy), so that every rank draws the same order, as global-batch
    training needs."""
    if not _shared_entropy:
        return np.random.SeedSequence().entropy
    _shared_entropy[1] += 1
    return int(np.random.SeedSequence([_shared_entropy[0], _shared_entropy[1]])
               .generate_state(4, np.uint32).view(np.uint64)[0])


def share_entropy(entropy):
    """Makes unseeded_entropy() a stream from `entropy`, which every rank must pass alike."""
    if not _shared_entropy:
        _shared_entropy.extend([int(entropy), 0])


def _truncate(seed):
    return int(seed) % (_MAXINT32 + 1)


def _new_generator(seed, seed2):
    if seed is None:
        return np.random.Generator(np.random.Philox())  # fresh entropy from the OS
    return np.random.Generator(np.random.Philox(key=np.array([seed, seed2], dtype=np.uint64)))


# -- draws: host NumPy code, one per op type ---------------------------------------------------
def _work_dtype(dtype):
    # NumPy's generators draw float32 or float64; float16 is drawn as float32 and rounded.
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float32)


def _rounded(out, dtype, bound):
    """`out` in `dtype`, kept strictly inside (-bound, bound) where rounding could reach it
    (float16 turns 0.9999 into 1.0)."""
    if out.dtype == dtype:
        return out
    below = np.nextafter(dtype.type(bound), dtype.type(0))
    return np.clip(out.astype(dtype), -below, below)


def _draw_normal(gen, dims, dtype):
    return gen.standard_normal(dims, dtype=_work_dtype(dtype)).astype(dtype, copy=False)


def _draw_uniform(gen, dims, dtype):
    return _rounded(gen.random(dims, dtype=_work_dtype(dtype)), dtype, 1)


def _draw_truncated(gen, dims, dtype):
    # TF keeps values strictly within 2 standard deviations and redraws the others.
    work = _work_dtype(dtype)
    out = gen.standard_normal(dims, dtype=work)
    bad = np.abs(out) >= 2
    while bad.any():
        out[bad] = gen.standard_normal(int(bad.sum()), dtype=work)
        bad = np.abs(out) >= 2
    return _rounded(out, dtype, 2)


def _draw_int(gen, dims, dtype, minval, maxval):
    lo, hi = int(minval), int(maxval)
    if lo >= hi:
        from distflow.framework.errors import InvalidArgumentError
        raise InvalidArgumentError(None, None, "Need minval < maxval: %d >= %d" % (lo, hi))
    return gen.integers(lo, hi, size=dims, dtype=dtype)


def _random_kernel(draw):
    """kernel(op, runtime) for a random op: binds the op's generator, per session or eager."""
    def kernel(op, runtime):
        seed, seed2 = op.attrs["seed"], op.attrs["seed2"]
        dtype = np.dtype(op.attrs["dtype"].as_numpy_dtype)
        if runtime is None:  # eager
            gen = _eager.generator(op.type, dtype, seed, seed2)
        else:
            gen = runtime.op_state(op, lambda: _new_generator(seed, seed2))
        # The session's array module (eagerly: the device scope's); numbers are drawn on the host
        # and then moved there, so a GPU sees the numbers the CPU sees.
        xp = backend.eager_xp() if runtime is None else getattr(runtime, "_xp", np)

        def run(shape, *bounds):
            out = draw(gen, tuple(int(d) for d in shape), dtype, *bounds)
            return out if xp is np else xp.asarray(out)
        return run
    return kernel


def _random_infer(shape, *bounds, dtype, seed, seed2):
    value = constant_value(shape)
    if value is not None:
        return [(TensorShape([int(d) for d in np.reshape(value, -1)]), dtype)]
    n = shape.shape.as_tuple()
    return [(TensorShape(None if not n or n[0] is None else [None] * n[0]), dtype)]


RandomStandardNormal = op_def("RandomStandardNormal", effects="random", infer=_random_infer,
                              kernel=_random_kernel(_draw_normal), grad=NOT_DIFFERENTIABLE)
RandomUniform = op_def("RandomUniform", effects="random", infer=_random_infer,
                       kernel=_random_kernel(_draw_uniform), grad=NOT_DIFFERENTIABLE)
TruncatedNormal = op_def("TruncatedNormal", effects="random", infer=_random_infer,
                         kernel=_random_kernel(_draw_truncated), grad=NOT_DIFFERENTIABLE)
RandomUniformInt = op_def("RandomUniformInt", effects="random", infer=_random_infer,
                          kernel=_random_kernel(_draw_int), grad=NOT_DIFFERENTIABLE)


def _random(opdef, shape, dtype, seed, bounds=(), name=None):
    """Applies a random op, deriving its seeds from the graph it goes into (or the eager state)."""
    if not isinstance(shape, Tensor):
        shape = convert_to_tensor(array_ops.shape_arg(shape), dtypes.int32, name="shape")
    graph = shape.op.graph if isinstance(shape, Tensor) else None  # None: executing eagerly
    explicit = seed is not None
    seed, seed2 = get_seed(seed, graph)
    if graph is None and explicit:
        _eager.keep_stream(opdef.name, dtype, seed, seed2)
    return apply(opdef, [shape] + list(bounds), {"dtype": dtype, "seed": seed, "seed2": seed2},
                 name=name)


def _float_dtype(dtype, what):
    dtype = dtypes.as_dtype(dtype)
    if not dtype.is_floating:
        raise ValueError("Invalid dtype %s for %s: a floating-point dtype is needed"
                         % (dtype.name, what))
    return dtype


def uniform_01(shape, dtype, seed=None):
    """Uniform numbers in [0, 1) as one op (what dropout needs, without a scale and shift)."""
    return _random(RandomUniform, shape, _float_dtype(dtype, "uniform"), seed)


# -- public wrappers --------------------------------------------------------------------------
def normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Samples of a normal distribution: standard normals * stddev + mean."""
    return _scaled(RandomStandardNormal, "random_normal", shape, mean, stddev, dtype, seed, name)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Normal samples, redrawn where they fall 2 or more standard deviations from the mean."""
    return _scaled(TruncatedNormal, "truncated_normal", shape, mean, stddev, dtype, seed, name)


def _scaled(opdef, default_name, shape, mean, stddev, dtype, seed, name):
    """Standard samples of `opdef` * stddev + mean, named as TF names them."""
    dtype = _float_dtype(dtype, default_name)
    with name_scope(name, default_name) as scope:
        mean = convert_to_tensor(mean, dtype, name="mean")
        stddev = convert_to_tensor(stddev, dtype, name="stddev")
        rnd = _random(opdef, shape, dtype, seed)
        return math_ops.add(rnd * stddev, mean, name=scope or None)


def uniform(shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None, name=None):
    """Uniform samples in [minval, maxval); maxval defaults to 1 for floats and is required for
    integers."""
    dtype = dtypes.as_dtype(dtype)
    if dtype.is_integer:
        if maxval is None:
            raise ValueError("Must specify maxval for integer dtype %r" % dtype)
    elif not dtype.is_floating:
        raise ValueError("Invalid dtype %s for random_uniform" % dtype.name)
    elif maxval is None:
        maxval = 1
    with name_scope(name, "random_uniform") as scope:
        lo = convert_to_tensor(minval, dtype, name="min")
        hi = convert_to_tensor(maxval, dtype, name="max")
        if dtype.is_integer:
            return _random(RandomUniformInt, shape, dtype, seed, (lo, hi), name=scope or None)
        rnd = _random(RandomUniform, shape, dtype, seed)
        return math_ops.add(rnd * (hi - lo), lo, name=scope or None)


random_normal = normal
random_uniform = uniform

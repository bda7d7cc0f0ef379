"""The op table on the GPU: every case of tests/ops, run on a GPU Session and eagerly inside
`df.device("gpu")`, must give what the same case gives on the CPU (values, and gradients from
both `gradients()` and the tape). Eagerly it also checks that the op really ran on the GPU: an
output computed from a non-int32 input must live there (int32 shape values stay on the host).
"""
import importlib
import os
import sys

import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf1
from distflow import backend
from op_check import _objective, _weights, as_tuple, float_inputs

pytestmark = pytest.mark.gpu

OPS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ops")


def _cases(module):
    if OPS_DIR not in sys.path:  # the op tables import each other by module name
        sys.path.insert(0, OPS_DIR)
    return importlib.import_module(module).CASES


CASES = [c for m in ("test_math_ops", "test_array_ops", "test_nn_ops", "test_set_ops",
                     "test_linalg_ops", "test_indexing_and_sort_ops", "test_rounding_and_scan_ops",
                     "test_activation_and_normalization_ops", "test_special_math_ops",
                     "test_conv_ops")
         for c in _cases(m)]


def _tolerances(case):
    return dict(rtol=max(case.rtol, 1e-6), atol=max(case.atol, 1e-6))


def _graph_values(case, device, known_shapes=True):
    g = tf1.Graph()
    with g.as_default():
        phs = [tf1.placeholder(df.as_dtype(np.asarray(a).dtype),
                               shape=np.shape(a) if known_shapes else None) for a in case.inputs]
        outs = list(as_tuple(case.fn(*phs)))
        with tf1.Session(graph=g, device=device) as s:
            return s.run(outs, dict(zip(phs, case.inputs)))


def _graph_grads(case, device):
    weights = _weights(case)
    g = tf1.Graph()
    with g.as_default():
        xs = [tf1.placeholder(df.as_dtype(np.asarray(a).dtype), shape=np.shape(a))
              for a in case.inputs]
        grads = tf1.gradients(_objective(case, xs, weights), [xs[i] for i in float_inputs(case)])
        with tf1.Session(graph=g, device=device) as s:
            feed = dict(zip(xs, case.inputs))
            return [None if gr is None else s.run(gr, feed) for gr in grads]


def _eager(case):
    xs = [df.constant(a) for a in case.inputs]
    outs = as_tuple(case.fn(*xs))
    sources = [xs[i] for i in float_inputs(case)] if case.grad else []
    grads = []
    if sources:
        with df.GradientTape() as tape:
            tape.watch(sources)
            y = _objective(case, xs, _weights(case))
        grads = tape.gradient(y, sources)
    return outs, grads


def _same(got, want, case, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, "%s (%s): %s %s vs %s %s" % (
        case.name, what, got.shape, got.dtype, want.shape, want.dtype)
    if got.dtype.kind in "fc":
        np.testing.assert_allclose(got, want, err_msg="%s (%s)" % (case.name, what),
                                   **_tolerances(case))
    else:
        np.testing.assert_array_equal(got, want, err_msg="%s (%s)" % (case.name, what))


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_graph_forward_matches_the_cpu(case):
    for known in (True, False):
        cpu = _graph_values(case, "cpu", known)
        gpu = _graph_values(case, "gpu", known)
        for i, (g, c) in enumerate(zip(gpu, cpu)):
            assert not backend.is_cupy_array(g), \
                "%s: a Session on a GPU must fetch NumPy arrays" % case.name
            _same(g, c, case, "graph output %d, known shapes %s" % (i, known))


@pytest.mark.parametrize("case", [c for c in CASES if c.grad], ids=repr)
def test_graph_gradients_match_the_cpu(case):
    for i, (g, c) in enumerate(zip(_graph_grads(case, "gpu"), _graph_grads(case, "cpu"))):
        assert (g is None) == (c is None), case.name
        if g is not None:
            _same(g, c, case, "gradient of input %d" % i)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_eager_on_the_gpu_matches_the_cpu(case):
    cpu_outs, cpu_grads = _eager(case)
    with df.device("gpu"):
        gpu_outs, gpu_grads = _eager(case)
    uses_device = any(np.asarray(a).dtype != np.int32 for a in case.inputs)
    for i, (g, c) in enumerate(zip(gpu_outs, cpu_outs)):
        if uses_device and g.dtype != df.int32:
            assert backend.is_cupy_array(g._value), \
                "%s: output %d (%s) was computed on the host" % (case.name, i, g.dtype.name)
        _same(g.numpy(), c.numpy(), case, "eager output %d" % i)
    for i, (g, c) in enumerate(zip(gpu_grads, cpu_grads)):
        assert (g is None) == (c is None), case.name
        if g is not None:
            _same(g.numpy(), c.numpy(), case, "tape gradient of input %d" % i)

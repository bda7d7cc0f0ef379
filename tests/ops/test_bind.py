"""The `bind` contract (ops/registry.py): the kernel a CPU plan binds for fixed attrs gives the
values `forward` gives, bit for bit, and with `out` it writes into that array and returns it.
Checked on every use, in the forward and gradient graphs of the op tables, of an op with `bind`;
and a plan's results with bound kernels equal the eager results (the op tables' graph mode)."""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf1
from distflow.ops.registry import REGISTRY
from op_check import _objective, _weights, float_inputs
from test_math_ops import CASES as MATH_CASES
from test_nn_ops import CASES as NN_CASES

CASES = [c for c in MATH_CASES + NN_CASES if c.grad]
WITH_BIND = sorted(name for name, d in REGISTRY.items() if d.bind is not None)


def uses_with_bind(case):
    """[(op, its input values)] for every op with bind in the case's forward and gradient graphs."""
    g = tf1.Graph()
    with g.as_default():
        xs = [tf1.placeholder(df.as_dtype(np.asarray(a).dtype), shape=np.shape(a))
              for a in case.inputs]
        tf1.gradients(_objective(case, xs, _weights(case)), [xs[i] for i in float_inputs(case)])
        ops = [op for op in g.get_operations() if op.opdef.bind is not None]
        with tf1.Session(graph=g) as s:
            values = s.run([list(op.inputs) for op in ops], dict(zip(xs, case.inputs)))
    return list(zip(ops, values))


def _same(got, want, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, what
    assert np.array_equal(got, want, equal_nan=True), what


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_bound_kernel_is_forward_bit_for_bit(case):
    for op, inputs in uses_with_bind(case):
        want = op.opdef.forward(np, *inputs, **op.attrs)
        _same(op.opdef.bind(np, **op.attrs)(*inputs), want, op.type)
        if op.opdef.forward_out is not None and len(op.outputs) == 1:
            want = np.asarray(want)
            for order in ("C", "F"):  # a view of a flat buffer, or any other array
                out = np.full(want.shape, np.nan, want.dtype, order=order)
                got = op.opdef.bind(np, out=out, **op.attrs)(*inputs)
                assert got is out, "%s: the bound out= kernel returned a new array" % op.type
                _same(out, want, "%s (out, %s order)" % (op.type, order))


def test_every_op_with_bind_is_checked():
    checked = {op.type for case in CASES for op, _ in uses_with_bind(case)}
    assert set(WITH_BIND) <= checked, set(WITH_BIND) - checked


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_matmul_bound_for_each_transpose(ta, tb):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4) if not ta else (4, 3)).astype(np.float32)
    b = rng.standard_normal((4, 5) if not tb else (5, 4)).astype(np.float32)
    d = REGISTRY["MatMul"]
    want = d.forward(np, a, b, transpose_a=ta, transpose_b=tb)
    _same(d.bind(np, transpose_a=ta, transpose_b=tb)(a, b), want, "MatMul")
    out = np.empty((3, 5), np.float32)
    assert d.bind(np, out=out, transpose_a=ta, transpose_b=tb)(a, b) is out
    _same(out, want, "MatMul out")

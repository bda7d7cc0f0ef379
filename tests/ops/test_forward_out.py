"""The `forward_out` contract (ops/registry.py): the kernel writes its output into the `out` array
it is given and returns that very array, with the values `forward` computes. The zero-copy plan
relies on it: the fused all-reduce trusts that a producer bound with out= its buffer's view has
written there. Checked on every op use of the op tables, forward and gradient graphs alike."""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf1
from distflow.ops.registry import REGISTRY
from op_check import _objective, _weights, float_inputs
from test_math_ops import CASES as MATH_CASES
from test_nn_ops import CASES as NN_CASES

CASES = [c for c in MATH_CASES + NN_CASES if c.grad]
WITH_OUT = sorted(name for name, d in REGISTRY.items() if d.forward_out is not None)


def uses_with_out(case):
    """[(op, its input values)] for every op with forward_out in the case's forward and
    gradient graphs."""
    g = tf1.Graph()
    with g.as_default():
        xs = [tf1.placeholder(df.as_dtype(np.asarray(a).dtype), shape=np.shape(a))
              for a in case.inputs]
        tf1.gradients(_objective(case, xs, _weights(case)), [xs[i] for i in float_inputs(case)])
        ops = [op for op in g.get_operations()
               if op.opdef.forward_out is not None and len(op.outputs) == 1]
        with tf1.Session(graph=g) as s:
            values = s.run([list(op.inputs) for op in ops], dict(zip(xs, case.inputs)))
    return list(zip(ops, values))


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_forward_out_writes_into_out_and_returns_it(case):
    for op, inputs in uses_with_out(case):
        want = np.asarray(op.opdef.forward(np, *inputs, **op.attrs))
        out = np.full(want.shape, np.nan, want.dtype)
        got = op.opdef.forward_out(np, *inputs, out=out, **op.attrs)
        assert got is out, "%s: forward_out returned a new array" % op.type
        np.testing.assert_allclose(out, want, rtol=1e-12, err_msg=op.type)


def test_every_op_with_forward_out_is_checked():
    checked = {op.type for case in CASES for op, _ in uses_with_out(case)}
    assert set(WITH_OUT) <= checked, set(WITH_OUT) - checked

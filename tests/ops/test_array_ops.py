"""The op table for array ops."""
import numpy as np
import pytest

import distflow as df
from op_check import Case, check_forward, check_gradient, check_second_derivative

R = np.random.RandomState(7)


def f64(*shape):
    return R.uniform(-2.0, 2.0, shape)


CASES = [
    Case("identity", df.identity, lambda x: x, [f64(2, 3)], second=True),
    Case("stop_gradient", lambda x: df.stop_gradient(x) * x, lambda x: x * x, [f64(3)], grad=False),
    Case("reshape", lambda x: df.reshape(x, [3, -1]), lambda x: x.reshape(3, -1), [f64(2, 3, 2)],
         second=True),
    Case("expand_dims", lambda x: df.expand_dims(x, 1), lambda x: np.expand_dims(x, 1), [f64(2, 3)]),
    Case("shape", df.shape, lambda x: np.array(x.shape, np.int32), [f64(2, 3)], grad=False),
    Case("size", df.size, lambda x: np.array(x.size, np.int32), [f64(2, 3)], grad=False),
    Case("zeros_like", df.zeros_like, np.zeros_like, [f64(2, 3)], grad=False),
    Case("ones_like", df.ones_like, np.ones_like, [f64(2, 3)], grad=False),
    Case("fill", lambda v: df.fill([2, 3], v), lambda v: np.full((2, 3), v), [np.float64(1.5)]),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_forward_and_shapes(case):
    check_forward(case)


@pytest.mark.parametrize("case", [c for c in CASES if c.grad], ids=repr)
def test_gradient(case):
    check_gradient(case)


@pytest.mark.parametrize("case", [c for c in CASES if c.second], ids=repr)
def test_second_derivative(case):
    check_second_derivative(case)


def test_stop_gradient_blocks_the_gradient():
    x = df.constant([1.0, 2.0])
    with df.GradientTape() as tape:
        tape.watch(x)
        y = df.reduce_sum(df.stop_gradient(x) * x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [1.0, 2.0])

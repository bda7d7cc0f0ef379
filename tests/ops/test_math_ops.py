"""The op table for math ops: forward, shapes, gradients and second derivatives, both modes."""
import numpy as np
import pytest

import distflow as df
from op_check import Case, check_forward, check_gradient, check_second_derivative

R = np.random.RandomState(42)


def f64(*shape, lo=-2.0, hi=2.0):
    return R.uniform(lo, hi, shape)


CASES = [
    Case("add", df.add, np.add, [f64(3, 4), f64(3, 4)], second=True),
    Case("add_broadcast", df.add, np.add, [f64(3, 1), f64(4)], second=True),
    Case("add_int", df.add, np.add, [np.array([1, 2], np.int32), np.array([3, 4], np.int32)], grad=False),
    Case("subtract", df.subtract, np.subtract, [f64(2, 3), f64(3)], second=True),
    Case("multiply", df.multiply, np.multiply, [f64(2, 3), f64(2, 3)], second=True),
    Case("multiply_broadcast", df.multiply, np.multiply, [f64(2, 1, 3), f64(4, 1)], second=True),
    Case("divide", df.divide, np.divide, [f64(3, 2), f64(3, 2, lo=0.5, hi=2.0)], second=True),
    Case("negative", df.negative, np.negative, [f64(5)], second=True),
    Case("square", df.square, np.square, [f64(2, 3)], second=True),
    Case("add_n", lambda a, b, c: df.add_n([a, b, c]), lambda a, b, c: a + b + c,
         [f64(2, 2), f64(2, 2), f64(2, 2)], second=True),
    Case("reduce_sum_all", df.reduce_sum, np.sum, [f64(3, 4)], second=True),
    Case("reduce_sum_axis", lambda x: df.reduce_sum(x, axis=1), lambda x: np.sum(x, 1), [f64(3, 4)]),
    Case("reduce_sum_keepdims", lambda x: df.reduce_sum(x, axis=[0, 2], keepdims=True),
         lambda x: np.sum(x, (0, 2), keepdims=True), [f64(2, 3, 4)]),
    Case("reduce_mean", df.reduce_mean, np.mean, [f64(3, 4)], second=True),
    Case("reduce_mean_axis", lambda x: df.reduce_mean(x, axis=-1), lambda x: np.mean(x, -1), [f64(3, 4)]),
    Case("cast", lambda x: df.cast(x, df.float32), lambda x: x.astype(np.float32), [f64(3)],
         grad=False, rtol=1e-6),
    Case("sum_to", lambda x: df.sum_to(x, [3, 1]), lambda x: x.sum(axis=(0, 2), keepdims=False)
         .reshape(3, 1), [f64(2, 3, 4)]),
    Case("broadcast_to", lambda x: df.broadcast_to(x, [2, 3, 4]),
         lambda x: np.broadcast_to(x, (2, 3, 4)), [f64(3, 1)], second=True),
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

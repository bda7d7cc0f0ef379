"""tf.py_function and tf.numpy_function: Python run as an op, in every mode, with gradients for
py_function (its gradient runs the function again under a tape)."""

import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf1
from distflow.ops import script_ops
from distflow.ops.registry import REGISTRY
from op_check import Case, op_types_built, table_tests

R = np.random.RandomState(5)


def f64(*shape):
    return R.uniform(-2.0, 2.0, shape)


def _cube(x):
    return df.py_function(lambda a: a * a * a, [x], df.float64)


def _two(x, y):
    return tuple(df.py_function(lambda a, b: (a * b, df.sin(a) - b), [x, y],
                                [df.float64, df.float64]))


CASES = [
    Case("py_function cube", _cube, lambda x: x ** 3, [f64(3)], second=True,
         unknown_shape=True),
    Case("py_function two outputs", _two, lambda x, y: (x * y, np.sin(x) - y),
         [f64(2, 3), f64(2, 3)], second=True, unknown_shape=True),
    Case("numpy_function sort", lambda x: df.numpy_function(np.sort, [x], df.float64),
         lambda x: np.sort(x), [f64(5)], grad=False, unknown_shape=True),
]

(test_forward_and_shapes, test_gradient, test_graph_gradient_with_unknown_dims,
 test_second_derivative) = table_tests(CASES)


def test_every_script_op_has_a_case():
    built = set().union(*(op_types_built(c) for c in CASES))
    ours = {name for name, d in REGISTRY.items() if d in (script_ops.EagerPyFunc,
                                                           script_ops.PyFunc)}
    assert ours <= built


def test_the_guides_decorated_py_function_runs_at_every_call(capsys):
    @df.py_function(Tout=df.float32)
    def py_plus(x, y):
        print("Executing eagerly.")
        return x + y

    @df.function
    def wrapper(x, y):
        print("Tracing.")
        return py_plus(x, y)

    assert float(wrapper(df.constant(1.0), df.constant(2.0))) == 3.0
    assert float(wrapper(df.constant(1.0), df.constant(2.0))) == 3.0
    assert capsys.readouterr().out.split("\n") == ["Tracing.", "Executing eagerly.",
                                                   "Executing eagerly.", ""]


def test_an_unread_py_function_still_runs_in_a_function():
    calls = []

    @df.function
    def f(x):
        df.numpy_function(lambda a: calls.append(a.copy()) or a, [x], df.float32)
        return x * 2.0

    f(df.constant(1.0))
    f(df.constant(2.0))
    assert [float(c) for c in calls] == [1.0, 2.0]


def test_in_a_tf1_session_and_tf1_py_func():
    p = tf1.placeholder(tf1.float32, [None])
    out = tf1.py_func(lambda a: a * 2, [p], tf1.float32)
    with tf1.Session() as s:
        np.testing.assert_allclose(s.run(out, {p: [1.0, 2.0]}), [2.0, 4.0])
    assert out.shape.rank is None  # unknown while building, as TF's


def test_errors_name_the_problem():
    with pytest.raises(TypeError, match="needs Tout"):
        df.py_function(lambda a: a, [df.constant(1.0)], None)
    x = df.constant(1.0)
    with pytest.raises(df.errors.InvalidArgumentError, match="returned 1 values for 2 Tout"):
        df.py_function(lambda a: a, [x], [df.float32, df.float32])

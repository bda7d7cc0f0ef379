"""cond and while_loop: values in graph, eager and df.function modes; only the taken branch runs;
gradients against finite differences; names; errors."""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf1
from distflow.framework.errors import InvalidArgumentError
from op_check import Case, op_types_built, table_tests

R = np.random.RandomState(5)


def f64(*shape):
    return R.uniform(0.5, 2.0, shape)


def _pick(x, y):
    return df.cond(df.reduce_sum(x) > df.reduce_sum(y), lambda: x * y + df.sin(x),
                   lambda: df.exp(y) * x)


def _np_pick(x, y):
    return x * y + np.sin(x) if x.sum() > y.sum() else np.exp(y) * x


def _nested(x):
    s = df.reduce_sum(x)
    return df.cond(s > 0.0, lambda: df.cond(s > 3.0, lambda: x * x * x, lambda: x * 2.0),
                   lambda: -x)


def _np_nested(x):
    s = x.sum()
    return (x ** 3 if s > 3 else x * 2.0) if s > 0 else -x


def _power(x):  # x ** 4 by repeated multiplication, with a captured factor
    _, p = df.while_loop(lambda i, p: i < 4, lambda i, p: (i + 1, p * x),
                         [df.constant(0), df.ones_like(x)])
    return p


def _capped_sum(x):  # stops at maximum_iterations, not at its condition
    _, s = df.while_loop(lambda i, s: i < 100, lambda i, s: (i + 1, s + x * df.cast(i, x.dtype)),
                         (df.constant(0), df.zeros_like(x)), maximum_iterations=3)
    return s


CASES = [
    Case("cond then", _pick, _np_pick, [f64(3) + 2.0, f64(3)], second=True),
    Case("cond else", _pick, _np_pick, [f64(3), f64(3) + 2.0], second=True),
    Case("cond two outputs", lambda x: df.cond(df.reduce_sum(x) > 0.0, lambda: (x * x, x + 1.0),
                                               lambda: (x, x)),
         lambda x: (x * x, x + 1.0) if x.sum() > 0 else (x, x), [f64(2, 2)]),
    Case("cond nested inner then", _nested, _np_nested, [f64(3) + 1.0], second=True),
    Case("cond nested inner else", _nested, _np_nested, [f64(3) * 0.3]),
    Case("cond nested outer else", _nested, _np_nested, [-f64(3)]),
    Case("while power", _power, lambda x: x ** 4, [f64(3)]),
    Case("while maximum_iterations", _capped_sum, lambda x: x * 3.0, [f64(2)]),
]

(test_forward_and_shapes, test_gradient, test_graph_gradient_with_unknown_dims,
 test_second_derivative) = table_tests(CASES)


def test_the_table_builds_every_control_flow_op():
    built = set().union(*(op_types_built(c) for c in CASES))
    assert {"StatelessIf", "StatelessWhile", "WhileGrad"} <= built


# -- the three modes ----------------------------------------------------------------------------
def test_eager_cond_and_loop_run_python_and_tape_records_them():
    x = df.constant(2.0)
    with df.GradientTape() as tape:
        tape.watch(x)
        y = df.cond(x > 1.0, lambda: x * x, lambda: x)
        n, z = df.while_loop(lambda i, z: i < 3, lambda i, z: (i + 1, z * x), [0, y])
    assert float(y) == 4.0 and int(n) == 3 and float(z) == 32.0
    assert float(tape.gradient(z, x)) == pytest.approx(5 * 2.0 ** 4)
    assert df.cond(False, lambda: 1.0, lambda: 2.0) == 2.0


def test_df_function_cond_and_loop_match_eager_with_gradients():
    @df.function
    def f(x, p):
        y = df.cond(p, lambda: df.square(x), lambda: df.sin(x))
        _, y = df.while_loop(lambda i, y: i < 2, lambda i, y: (i + 1, y * x), [0, y])
        return y

    x = df.constant([0.5, 1.5])
    for p, want, dwant in ((True, x.numpy() ** 4, 4 * x.numpy() ** 3),
                           (False, np.sin(x.numpy()) * x.numpy() ** 2,
                            np.cos(x.numpy()) * x.numpy() ** 2
                            + 2 * x.numpy() * np.sin(x.numpy()))):
        with df.GradientTape() as tape:
            tape.watch(x)
            y = f(x, df.constant(p))
        np.testing.assert_allclose(y.numpy(), want, rtol=1e-5)
        np.testing.assert_allclose(tape.gradient(y, x).numpy(), dwant, rtol=1e-5)
    assert f.experimental_get_tracing_count() == 1
    types = {op.type for op in f.get_concrete_function(x, df.constant(True)).graph.get_operations()}
    assert {"StatelessIf", "StatelessWhile"} <= types


def test_second_derivative_through_cond_under_nested_tapes_in_a_function():
    f = df.function(lambda x: df.cond(x > 0.0, lambda: x * x * x, lambda: x * x))
    x = df.constant(2.0)
    with df.GradientTape() as outer:
        outer.watch(x)
        with df.GradientTape() as inner:
            inner.watch(x)
            y = f(x)
        dy = inner.gradient(y, x)
    assert float(dy) == pytest.approx(12.0)
    assert float(outer.gradient(dy, x)) == pytest.approx(12.0)


# -- only the taken branch runs -----------------------------------------------------------------
def test_session_assign_happens_only_in_the_taken_branch():
    g = tf1.Graph()
    with g.as_default():
        v = tf1.Variable(1.0)
        p = tf1.placeholder(tf1.bool, [])
        out = tf1.cond(p, lambda: tf1.assign_add(v, 5.0), lambda: v * 10.0)
        with tf1.Session() as s:
            s.run(tf1.global_variables_initializer())
            assert s.run(out, {p: False}) == 10.0 and s.run(v) == 1.0
            assert s.run(out, {p: True}) == 6.0 and s.run(v) == 6.0
            assert s.run(out, {p: False}) == 60.0 and s.run(v) == 6.0
    assert out.op.inputs[0].op.type == "If"  # a branch with an update: the stateful op


def test_while_body_assigns_each_iteration_in_a_session():
    g = tf1.Graph()
    with g.as_default():
        v = tf1.Variable(0.0)

        def body(i):
            tf1.assign_add(v, 2.0)  # read by nothing: runs because it is an update
            return i + 1
        n = tf1.while_loop(lambda i: i < 4, body, [tf1.constant(0)])
        with tf1.Session() as s:
            s.run(tf1.global_variables_initializer())
            assert s.run(n) == 4 and s.run(v) == 8.0


def test_a_failing_branch_fails_only_when_taken():
    g = tf1.Graph()
    with g.as_default():
        x = tf1.placeholder(tf1.float32, [3])
        i = tf1.placeholder(tf1.int32, [])
        y = tf1.cond(i < 3, lambda: tf1.gather(x, i), lambda: tf1.constant(-1.0))
        z = tf1.cond(i < 3, lambda: tf1.constant(0.0), lambda: tf1.gather(x, i))
        with tf1.Session() as s:
            assert s.run(y, {x: [1, 2, 3], i: 2}) == 3.0
            assert s.run(y, {x: [1, 2, 3], i: 7}) == -1.0
            with pytest.raises(InvalidArgumentError):
                s.run(z, {x: [1, 2, 3], i: 7})


def test_df_function_runs_the_branch_update_on_the_eager_variable():
    v = df.Variable(1.0)

    @df.function
    def step(p):
        df.cond(p, lambda: v.assign_add(1.0), lambda: v.assign_sub(0.5))
        return 0

    step(df.constant(True))
    step(df.constant(True))
    step(df.constant(False))
    assert float(v.numpy()) == 2.5


def test_branch_reading_a_variable_gets_its_gradient():
    g = tf1.Graph()
    with g.as_default():
        w = tf1.Variable(3.0)
        p = tf1.placeholder(tf1.bool, [])
        y = tf1.cond(p, lambda: w * w, lambda: w + 1.0)
        dw, = tf1.gradients(y, [w])
        with tf1.Session() as s:
            s.run(tf1.global_variables_initializer())
            assert s.run(dw, {p: True}) == 6.0 and s.run(dw, {p: False}) == 1.0


# -- names, structures and errors ---------------------------------------------------------------
def test_tf1_node_names():
    g = tf1.Graph()
    with g.as_default():
        x = tf1.placeholder(tf1.float32, [3])
        y = tf1.cond(x[0] > 0.0, lambda: x, lambda: -x)
        y2 = tf1.cond(x[0] > 0.0, lambda: (x, x), lambda: (x, x), name="pair")
        n = tf1.while_loop(lambda i: i < 3, lambda i: i + 1, [tf1.constant(0)])
        dx, = tf1.gradients(y, x)
    assert y.name == "cond/Identity:0" and y.op.inputs[0].op.name == "cond"
    assert [t.name for t in y2] == ["pair/Identity:0", "pair/Identity_1:0"]
    assert n.name == "while/Identity_2:0"
    assert {"while/loop_counter", "while/maximum_iterations"} <= {o.name for o in g.get_operations()}
    assert dx.name == "gradients/cond_grad/Identity:0"


def test_structures_shapes_and_one_loop_variable_in_tf1():
    g = tf1.Graph()
    with g.as_default():
        p = tf1.placeholder(tf1.bool, [])
        a = tf1.placeholder(tf1.float32, [3])
        b = tf1.placeholder(tf1.float32, [None])
        assert tf1.cond(p, lambda: a, lambda: b).shape.as_list() == [None]
        assert tf1.cond(p, lambda: a, lambda: a * 2.0).shape.as_list() == [3]
        d = df.cond(p, lambda: {"k": a, "n": [a]}, lambda: {"k": a, "n": [b]})
        assert set(d) == {"k", "n"} and isinstance(d["n"], list)
        assert isinstance(tf1.cond(p, lambda: [a], lambda: [a]), list)  # as TF 2's compat.v1
        with pytest.raises(TypeError, match="same nested structure"):
            df.cond(p, lambda: [a, a], lambda: (a, a))
        one = tf1.while_loop(lambda x: x < 3.0, lambda x: x + 1.0, [tf1.constant(0.0)])
        assert isinstance(one, df.Tensor)
        assert isinstance(df.while_loop(lambda x: x < 3.0, lambda x: x + 1.0,
                                        [tf1.constant(0.0)]), list)
        with tf1.Session() as s:
            assert s.run(one) == 3.0


def test_mismatched_branches_raise_tfs_type_error():
    g = tf1.Graph()
    with g.as_default():
        p = tf1.placeholder(tf1.bool, [])
        x = tf1.placeholder(tf1.float32, [3])
        with pytest.raises(TypeError, match="(?s)must have the same number, type, and "
                           "overall structure.*float32.* and .*float64.* have different types"):
            tf1.cond(p, lambda: x, lambda: tf1.cast(x, tf1.float64))
        with pytest.raises(TypeError, match="same set of keys"):
            tf1.cond(p, lambda: {"a": x}, lambda: {"b": x})
        with pytest.raises(TypeError, match="same number of elements"):
            tf1.cond(p, lambda: (x, x), lambda: (x, x, x))
        with pytest.raises(TypeError, match="pred must not be a Python bool"):
            tf1.cond(True, lambda: x, lambda: x)
        with pytest.raises(TypeError, match="'false_fn' argument required"):
            tf1.cond(p, lambda: x)


def test_loop_shape_and_dtype_errors_and_shape_invariants():
    g = tf1.Graph()
    with g.as_default():
        x = tf1.placeholder(tf1.float32, [3])
        body = lambda i, y: (i + 1.0, tf1.concat([y, y], 0))  # noqa: E731
        with pytest.raises(ValueError, match="enters the loop with shape \\(3,\\), but has shape "
                                             "\\(6,\\) after one iteration"):
            tf1.while_loop(lambda i, y: i < 2.0, body, (tf1.constant(0.0), x))
        with pytest.raises(TypeError, match="enters the loop with type <dtype: 'int32'> but has "
                                            "type <dtype: 'float32'>"):
            tf1.while_loop(lambda a: a < 5, lambda a: tf1.cast(a, tf1.float32), [tf1.constant(0)])
        i, y = tf1.while_loop(lambda i, y: i < 2.0, body, (tf1.constant(0.0), x),
                              shape_invariants=(tf1.TensorShape([]), tf1.TensorShape([None])))
        assert y.shape.as_list() == [None]
        dy, = tf1.gradients(y, x)
        with tf1.Session() as s:
            got, grad = s.run([y, dy], {x: [1, 2, 3]})
    np.testing.assert_array_equal(got, [1, 2, 3] * 4)
    np.testing.assert_array_equal(grad, [4, 4, 4])


def test_second_derivative_through_while_loop_names_the_op():
    g = tf1.Graph()
    with g.as_default():
        x = tf1.placeholder(tf1.float32, [])
        _, y = tf1.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * x), [0, x])
        dx, = tf1.gradients(y, x)
        with pytest.raises(LookupError, match="No gradient defined for operation "
                                              "'.*WhileGrad' \\(op type: WhileGrad\\)"):
            tf1.gradients(dx, x)
        with tf1.Session() as s:
            assert s.run(dx, {x: 2.0}) == pytest.approx(4 * 2.0 ** 3)


def test_a_read_after_an_assign_in_the_same_branch_sees_the_new_value():
    # TF 2.21 gives 20.0 and 9.0 for these two programs
    v = df.Variable(1.0)

    @df.function
    def in_cond(p):
        def taken():
            v.assign_add(1.0)
            return v * 10.0
        return df.cond(p, taken, lambda: v * 10.0)

    assert float(in_cond(df.constant(True))) == 20.0 and float(v.numpy()) == 2.0
    w = df.Variable(1.0)

    @df.function
    def in_loop():
        def body(i, total):
            w.assign_add(1.0)
            return i + 1, total + w
        return df.while_loop(lambda i, total: i < 3, body, [df.constant(0), df.constant(0.0)])

    assert float(in_loop()[1]) == 9.0  # 2 + 3 + 4


def test_a_read_before_the_bodys_own_assign_sees_the_previous_iteration():
    # TF 2.21: 1 + 2 + 3 = 6.0, and the loop on the variable's value stops at 5
    w = df.Variable(1.0)

    @df.function
    def read_then_assign():
        def body(i, total):
            total = total + w
            w.assign_add(1.0)
            return i + 1, total
        return df.while_loop(lambda i, total: i < 3, body, [df.constant(0), df.constant(0.0)])

    assert float(read_then_assign()[1]) == 6.0 and float(w.numpy()) == 4.0
    v = df.Variable(0)

    @df.function
    def count():
        while v < 5:
            v.assign_add(1)
        return v.read_value()

    assert int(count()) == 5

"""TF1 names beyond variable scopes: tf.assign*, placeholder_with_default, the to_* casts, the
initializer aliases, is_variable_initialized, tf.Print and tf.print (both faces)."""
import sys

import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf
from distflow.ops import constant_op, logging_ops
from op_check import Case, check_forward, check_gradient


def test_assign_ops_are_named_as_tf1_and_give_the_new_value():
    v = tf.Variable([1.0, 2.0])
    a = tf.assign(v, [5.0, 6.0])
    add = tf.assign_add(v, [1.0, 1.0])
    sub = tf.assign_sub(v, [0.5, 0.5], name="down")
    assert (a.name, a.op.type) == ("Assign:0", "Assign")
    assert (add.name, add.op.type) == ("AssignAdd:0", "AssignAdd")
    assert (sub.name, sub.op.type) == ("down:0", "AssignSub")
    assert a.shape == (2,) and a.dtype == tf.float32
    with tf.Session() as sess:
        sess.run(v.initializer)
        np.testing.assert_array_equal(sess.run(a), [5.0, 6.0])
        np.testing.assert_array_equal(sess.run(add), [6.0, 7.0])
        np.testing.assert_array_equal(sess.run(sub), [5.5, 6.5])
        np.testing.assert_array_equal(sess.run(v), [5.5, 6.5])
    with pytest.raises(ValueError, match="Dimension 0 in both shapes must be equal, but are 2 "
                       "and 3. Shapes are \\[2\\] and \\[3\\]."):
        tf.assign(v, [1.0, 2.0, 3.0])
    with pytest.raises(TypeError):
        tf.assign(tf.constant(1.0), 2.0)   # a tensor is not a ref


def test_assign_counter_in_a_loop_like_the_course():
    counter = tf.Variable(0, name="counter")
    step = tf.assign(counter, counter + 1)
    with tf.Session() as sess:
        sess.run(tf.initialize_all_variables())
        assert [int(sess.run(step)) for _ in range(3)] == [1, 2, 3]


def test_assign_ops_have_no_gradient():
    from distflow.ops import state_ops
    from distflow.ops.registry import NOT_DIFFERENTIABLE
    for opdef in (state_ops.Assign, state_ops.AssignAdd, state_ops.AssignSub,
                  state_ops.IsVariableInitialized, logging_ops._PrintV2):
        assert opdef.grad is NOT_DIFFERENTIABLE, opdef.name


def test_placeholder_with_default_gives_the_default_or_the_fed_value():
    p = tf.placeholder_with_default([1.0, 2.0], shape=[None])
    assert (p.name, p.op.type, str(p.shape)) == ("PlaceholderWithDefault:0",
                                                 "PlaceholderWithDefault", "(?,)")
    assert p.op.inputs[0].name == "PlaceholderWithDefault/input:0"
    y = p * 2.0
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y), [2.0, 4.0])
        np.testing.assert_array_equal(sess.run(y, {p: [1.0, 2.0, 3.0]}), [2.0, 4.0, 6.0])
        with pytest.raises(ValueError, match=r"Cannot feed value of shape \(2, 2\) for Tensor "
                           r"'PlaceholderWithDefault:0', which has shape '\(\?,\)'"):
            sess.run(y, {p: [[1.0, 2.0], [3.0, 4.0]]})
    with pytest.raises(ValueError, match="Dimension 0 in both shapes must be equal, but are 2 "
                       "and 3"):
        tf.placeholder_with_default([1.0, 2.0], shape=[3])
    with pytest.raises(ValueError, match="Shapes must be equal rank, but are 1 and 2"):
        tf.placeholder_with_default([1.0, 2.0], shape=[2, 1])


def test_placeholder_with_default_and_print_forward_and_gradient():
    cases = [
        Case("placeholder_with_default",
             lambda x: constant_op.placeholder_with_default(x, x.shape),
             lambda x: x, [np.linspace(-1, 1, 6).reshape(2, 3)]),
        Case("Print", lambda x, y: logging_ops.Print(x, [x, y], "tensors: "),
             lambda x, y: x, [np.linspace(-1, 1, 4), np.arange(3.0)], wrt=(0,)),
    ]
    for case in cases:
        check_forward(case)
        check_gradient(case)


def test_print_gradient_flows_to_input_only():
    x = tf.constant([1.0, 2.0])
    d = tf.constant(3.0)
    y = tf.Print(x, [d, x], message="m")
    gx, gd = tf.gradients(tf.reduce_sum(y * y), [x, d])
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(gx), [2.0, 4.0])
    assert gd is None


def test_to_casts_are_named_as_tf1():
    x = tf.constant([1.7, -2.2])
    casts = [tf.to_float(tf.constant([1, 2])), tf.to_int32(x), tf.to_int64(x), tf.to_double(x)]
    assert [(c.name, c.dtype) for c in casts] == [("ToFloat:0", tf.float32), ("ToInt32:0", tf.int32),
                                                  ("ToInt64:0", tf.int64), ("ToDouble:0", tf.float64)]
    with tf.Session() as sess:
        assert sess.run(casts[1]).tolist() == [1, -2]


def test_initializer_aliases_and_is_variable_initialized():
    v = tf.Variable(1.0)
    init = tf.global_variables_initializer()
    local = tf.local_variables_initializer()
    legacy = tf.initialize_all_variables()
    assert (init.name, local.name, legacy.name) == ("init", "init_1", "init_2")
    assert local.type == "NoOp" and tf.local_variables() == []
    assert tf.initializers.local_variables().name == "init_3"
    ready = tf.is_variable_initialized(v)
    assert (ready.name, ready.dtype, ready.shape) == ("IsVariableInitialized:0", tf.bool, ())
    with tf.Session() as sess:
        sess.run(local)
        assert sess.run(ready) == False  # noqa: E712 (a NumPy bool)
        sess.run(legacy)
        assert sess.run(ready) == True  # noqa: E712
    with tf.Session() as fresh:   # the state is per session
        assert not fresh.run(ready)


def test_tf1_print_writes_message_and_summaries_to_stderr_first_n_times(capsys):
    x = tf.constant([[1.5, 2.0], [0.1, 4.0]])
    n = tf.constant(7)
    y = tf.Print(x, [x, n, tf.constant(True)], message="x is: ", first_n=2)
    z = tf.Print(tf.constant(1.0), [tf.range(10)], summarize=4)
    assert (y.name, y.op.type, y.shape) == ("Print:0", "Print", (2, 2))
    with tf.Session() as sess:
        for _ in range(3):
            out = sess.run(y)
        sess.run(z)
    np.testing.assert_array_equal(out, np.float32([[1.5, 2.0], [0.1, 4.0]]))
    assert capsys.readouterr().err == "x is: [[1.5 2][0.1...]...][7][1]\n" * 2 + "[0 1 2 3...]\n"


def test_print_formats_numbers_as_tf():
    assert logging_ops.summarize_flat(np.arange(6).reshape(2, 3), 3) == "[0 1 2]..."
    assert logging_ops.summarize_flat(np.arange(4).reshape(2, 2), -1) == "[0 1][2 3]"
    fmt = logging_ops.summarize_nested
    assert fmt(np.float32(3.1415927), 3) == "3.14159274"
    assert fmt(np.array([1e-8, 1e10, 123456789.0], np.float32), 3) == "[1e-08 1e+10 123456792]"
    assert fmt(np.float64(0.1), 3) == "0.1"
    assert fmt(np.arange(10), 3) == "[0 1 2 ... 7 8 9]"
    assert fmt(np.array([[1, 2], [3, 4]]), 3) == "[[1 2]\n [3 4]]"
    assert fmt(np.zeros((2, 1, 2), np.int32), 3) == "[[[0 0]]\n\n [[0 0]]]"
    assert fmt(np.array([True, False]), 3) == "[1 0]"
    assert fmt(np.array([-0.0, np.nan], np.float32), 3) == "[-0 nan]"


def test_tf_print_in_a_graph_is_an_op_that_prints_when_run(capsys):
    v = tf.Variable([1, 2])
    op = tf.print("v:", v, {"b": 2, "a": tf.constant([0.5])}, [3, "s"], output_stream=sys.stdout)
    assert isinstance(op, tf.Operation) and op.type == "PrintV2"
    assert capsys.readouterr().out == ""
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(op) is None
    assert capsys.readouterr().out == "v: [1 2] {'a': [0.5], 'b': 2} [3, 's']\n"


def test_df_print_prints_now_when_eager_and_on_every_call_of_a_function(capsys):
    assert df.print("x", df.constant([1.0, 2.5]), sep="|", end="!\n") is None
    assert capsys.readouterr().err == "x|[1 2.5]!\n"

    @df.function
    def f(x):
        df.print("in f", x, output_stream=sys.stdout)
        return x * 2
    assert capsys.readouterr().out == ""
    assert int(f(df.constant(3))) == 6
    assert int(f(df.constant(4))) == 8
    assert capsys.readouterr().out == "in f 3\nin f 4\n"


def test_math_namespace_and_convert_to_tensor_build_graphs():
    x = tf.convert_to_tensor([1.0, 2.0])
    assert x.name == "Const:0"
    total = tf.math.reduce_sum(tf.math.cumsum(x))
    with tf.Session() as sess:
        assert sess.run(total) == 4.0


def test_nn_top_k_and_in_top_k_take_tf1s_argument_order():
    predictions = tf.constant([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
    values, indices = tf.nn.top_k(predictions, k=1)
    hits = tf.nn.in_top_k(predictions, tf.constant([1, 2]), 1)  # (predictions, targets, k)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(indices), [[1], [0]])
        np.testing.assert_array_equal(sess.run(hits), [True, False])


def test_tf1_top_level_math_names_that_tf2_keeps_under_tf_math():
    x = tf.constant([0.5, 1.0])
    outputs = [tf.expm1(x), tf.erf(x), tf.erfc(x), tf.cumprod(x)]
    with tf.Session() as sess:
        expm1, erf, erfc, cumprod = sess.run(outputs)
    np.testing.assert_allclose(expm1, np.expm1([0.5, 1.0]), rtol=1e-6)
    np.testing.assert_allclose(erf + erfc, [1.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(cumprod, [0.5, 0.5], rtol=1e-6)

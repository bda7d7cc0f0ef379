"""The Session contract: fetch structures, feed checks with TF's messages, variables, life cycle."""
import collections

import numpy as np
import pytest

import distflow.compat.v1 as tf


def test_fetch_structures_come_back_in_the_same_shape():
    a, b = tf.constant(2.0), tf.constant(3.0)
    c = a * b
    init = tf.no_op(name="noop")
    P = collections.namedtuple("P", "x y")
    with tf.Session() as s:
        assert s.run(c) == 6.0
        assert s.run([a, b]) == [2.0, 3.0]
        assert s.run((a, [b, c])) == (2.0, [3.0, 6.0])
        assert s.run({"a": a, "n": {"c": c}}) == {"a": 2.0, "n": {"c": 6.0}}
        p = s.run(P(a, c))
        assert isinstance(p, P) and p == P(2.0, 6.0)
        od = s.run(collections.OrderedDict([("z", c), ("a", a)]))
        assert isinstance(od, collections.OrderedDict) and list(od) == ["z", "a"]
        assert s.run(init) is None
        assert s.run([c, init]) == [6.0, None]
        assert s.run("mul:0") == 6.0
        assert s.run(["noop", "Const:0"]) == [None, 2.0]


def test_scalar_fetch_is_a_numpy_scalar_that_prints_plainly():
    with tf.Session() as s:
        v = s.run(tf.multiply(tf.constant(6), tf.constant(8)))
    assert isinstance(v, np.int32) and str(v) == "48"


def test_a_tensor_fetched_twice_is_computed_once():
    x = tf.placeholder(tf.float32, shape=[])
    y = x * 2.0
    with tf.Session() as s:
        r = s.run([y, y, {"again": y}], {x: 1.5})
        plan = next(p for p in s._plans.values() if hasattr(p, "source"))
    assert r == [3.0, 3.0, {"again": 3.0}]
    assert plan.source.count("k0(") == 1


def test_fetch_errors_match_tensorflow():
    with tf.Session() as s:
        tf.constant(1)
        with pytest.raises(TypeError, match=r"Fetch argument 3 has invalid type <class 'int'>, must be a "
                                            r"string or Tensor"):
            s.run(1 + 2)
        other = tf.Graph()
        with other.as_default():
            foreign = tf.constant(1.0)
        with pytest.raises(ValueError, match="cannot be interpreted as a Tensor.*not an element of this graph"):
            s.run(foreign)


def test_feed_shape_error_has_tensorflows_exact_message():
    x = tf.placeholder(tf.int32, shape=[4])
    y = x * 2
    with tf.Session() as s:
        with pytest.raises(ValueError) as e:
            s.run(y, {x: [1, 2, 3]})
    assert str(e.value) == "Cannot feed value of shape (3,) for Tensor 'Placeholder:0', which has shape '(4,)'"


def test_unknown_dims_accept_any_size_and_unknown_rank_anything():
    x = tf.placeholder(tf.float32, shape=[None, 2])
    u = tf.placeholder(tf.float32)
    with tf.Session() as s:
        assert s.run(tf.reduce_sum(x), {x: np.ones((5, 2))}) == 10.0
        assert s.run(tf.reduce_sum(u), {u: np.ones((2, 3, 4))}) == 24.0
        with pytest.raises(ValueError, match=r"shape \(5, 3\).*which has shape '\(\?, 2\)'"):
            s.run(x, {x: np.ones((5, 3))})


def test_missing_feed_names_the_placeholder_its_dtype_and_shape():
    x = tf.placeholder(tf.int32, shape=[4])
    u = tf.placeholder(tf.float32, name="free")
    with tf.Session() as s:
        with pytest.raises(tf.errors.InvalidArgumentError) as e:
            s.run(x + 1)
        assert str(e.value) == ("You must feed a value for placeholder tensor 'Placeholder' with dtype "
                                "int32 and shape [4]")
        with pytest.raises(tf.errors.InvalidArgumentError, match="'free' with dtype float$"):
            s.run(u * 2.0)


def test_wrong_dtype_feed_is_an_error_not_a_silent_cast():
    x = tf.placeholder(tf.int32, shape=[2])
    f = tf.placeholder(tf.float32, shape=[2])
    with tf.Session() as s:
        with pytest.raises(TypeError, match="dtype float64 for Tensor 'Placeholder:0' of dtype int32"):
            s.run(x, {x: [1.5, 2.0]})
        # Widening and same-kind conversions are what users expect to work.
        assert s.run(f, {f: np.array([1, 2], np.int64)}).dtype == np.float32
        assert s.run(f, {f: np.array([1.5, 2.5])}).tolist() == [1.5, 2.5]
        with pytest.raises(TypeError, match="larger type"):
            s.run(x, {x: [2**40, 1]})


def test_feed_value_cannot_be_a_tensor_and_key_must_be_a_tensor():
    x = tf.placeholder(tf.float32, shape=[])
    c = tf.constant(1.0)
    with tf.Session() as s:
        with pytest.raises(TypeError, match="The value of a feed cannot be a tf.Tensor object"):
            s.run(x, {x: c})
        with pytest.raises(TypeError, match="Cannot interpret feed_dict key as Tensor"):
            s.run(x, {"nonexistent:0": 1.0})


def test_any_tensor_can_be_fed_and_its_producers_are_skipped():
    x = tf.placeholder(tf.float32, shape=[])
    y = x * 3.0
    z = y + 1.0
    with tf.Session() as s:
        assert s.run(z, {y: 10.0}) == 11.0   # x need not be fed: y overrides it
        assert s.run(z, {"mul/y:0": 5.0, x: 1.0}) == 6.0  # TF names the 3.0 after its op


def test_uninitialized_variable_raises_failed_precondition():
    v = tf.Variable(1.0)
    w = tf.Variable(2.0, name="weights")
    with tf.Session() as s:
        with pytest.raises(tf.errors.FailedPreconditionError,
                           match="^Attempting to use uninitialized value Variable$"):
            s.run(v * 2.0)
        s.run(v.initializer)
        assert s.run(v * 2.0) == 2.0
        with pytest.raises(tf.errors.FailedPreconditionError, match="uninitialized value weights"):
            s.run(w.assign_add(1.0))


def test_variable_values_live_in_each_session():
    v = tf.Variable(1.0)
    inc = v.assign_add(1.0)
    init = tf.global_variables_initializer()
    s1, s2 = tf.Session(), tf.Session()
    s1.run(init)
    s2.run(init)
    s1.run(inc)
    s1.run(inc)
    assert s1.run(v) == 3.0 and s2.run(v) == 1.0


def test_fetched_variable_values_are_snapshots_not_live_storage():
    v = tf.Variable([1.0, 2.0])
    inc = v.assign_add([1.0, 1.0])
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        before = s.run(v)
        s.run(inc)
        assert before.tolist() == [1.0, 2.0]
        assert s.run(v).tolist() == [2.0, 3.0]


def test_closed_session_and_empty_graph():
    with pytest.raises(RuntimeError, match="The Session graph is empty"):
        tf.Session().run([])
    c = tf.constant(1)
    s = tf.Session()
    s.close()
    with pytest.raises(RuntimeError, match="^Attempted to use a closed Session.$"):
        s.run(c)


def test_default_session_for_eval_and_run():
    v = tf.Variable(4.0)
    y = v * 2.0
    with pytest.raises(ValueError, match="No default session is registered"):
        y.eval()
    with tf.Session() as s:
        v.initializer.run()
        assert y.eval() == 8.0
        assert y.eval(feed_dict={v: 1.0}) == 2.0
    sess = tf.InteractiveSession()
    try:
        v.initializer.run()
        assert y.eval() == 8.0
    finally:
        sess.close()
    with pytest.raises(ValueError):
        y.eval()


def test_plans_are_compiled_once_and_reused():
    x = tf.placeholder(tf.float32, shape=[None])
    y = tf.reduce_sum(x * 2.0)
    with tf.Session() as s:
        for i in range(5):
            assert s.run(y, {x: np.arange(3, dtype=np.float32) + i}) == 2 * (3 + 3 * i)
        plans = {id(p[0]) for p in s._plans.values() if isinstance(p, tuple)}
    assert len(plans) == 1


def test_plan_source_is_straight_line_code():
    x = tf.placeholder(tf.float32, shape=[2])
    y = tf.reduce_sum(x * x)
    with tf.Session() as s:
        s.run(y, {x: [1.0, 2.0]})
        plan = next(p[0] for p in s._plans.values() if isinstance(p, tuple))
    assert "for " not in plan.source and "while " not in plan.source
    assert len(plan.ops) == 2  # mul and Sum: the Const feeding nothing else is folded in


def test_kernel_errors_name_the_node():
    x = tf.placeholder(tf.float32, shape=None)
    y = tf.reshape(x, [3])
    with tf.Session() as s:
        with pytest.raises(tf.errors.InvalidArgumentError, match="Reshape"):
            s.run(y, {x: [1.0, 2.0]})


def test_the_failing_node_is_named_among_others():
    # ops run before and after the failing one, in the plain plan and in the shape-specialized
    # one (the second run of the same shapes): the message names the op whose kernel failed
    x = tf.placeholder(tf.float32, shape=[None, None], name="x")
    h = tf.nn.relu(x * 2.0 + 1.0)
    w = tf.constant(np.ones((3, 2), np.float32))
    y = tf.matmul(h, w, name="the_product")
    z = tf.reduce_sum(tf.square(y) - 1.0)
    with tf.Session() as s:
        step = s.make_callable(z, [x])
        assert step(np.ones((4, 3), np.float32)) == 4 * 2 * (3 * 3) ** 2 - 8
        for _ in range(3):
            with pytest.raises(tf.errors.InvalidArgumentError,
                               match=r"\[\[node the_product \(op MatMul\)\]\]"):
                step(np.ones((4, 5), np.float32))
            with pytest.raises(tf.errors.InvalidArgumentError,
                               match=r"\[\[node the_product \(op MatMul\)\]\]"):
                s.run(z, {x: np.ones((2, 5), np.float32)})


def test_make_callable_runs_the_same_plan():
    x = tf.placeholder(tf.float32, shape=[])
    y = x * x
    with tf.Session() as s:
        f = s.make_callable(y, [x])
        assert f(3.0) == 9.0 and f(4.0) == 16.0


# -- what TF 1.x users see (found by scripts/tf_parity against TF 2.21's compat.v1) ---------------
def test_scalar_results_are_numpy_scalars_as_in_tf():
    c, v = tf.constant(6), tf.Variable(2.5)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        assert type(s.run(c)) is np.int32 and type(s.run(v)) is np.float32
        first, second = s.run([c, tf.constant([1.0])])
        assert type(first) is np.int32 and type(second) is np.ndarray
        assert type(s.make_callable(c)()) is np.int32


def test_python_operands_are_named_after_their_op_like_tf():
    c = tf.constant(1.0)
    c * 2.0
    tf.add(c, 3.0)
    2.0 - c
    names = [op.name for op in tf.get_default_graph().get_operations()]
    assert names == ["Const", "mul/y", "mul", "Add/y", "Add", "sub/x", "sub"]
    assert tf.constant(0.0).name == "Const_1:0"  # the numbering is not disturbed


def test_group_and_read_value_names_follow_tf():
    v = tf.Variable(1.0)
    assert tf.group(v.initializer).name == "group_deps"
    assert tf.no_op().name == "NoOp"
    assert v.read_value().name == "read:0"


def test_no_default_session_messages_are_tfs():
    with pytest.raises(ValueError, match=r"^Cannot execute operation using `run\(\)`: .*"
                                         r"`with sess.as_default\(\):`"):
        tf.no_op().run()
    with pytest.raises(ValueError, match=r"^Cannot evaluate tensor using `eval\(\)`"):
        tf.constant(1).eval()


def test_an_operation_name_where_a_tensor_is_wanted_is_named_as_such():
    tf.constant(1.0, name="c")
    with pytest.raises(ValueError, match="The name 'c' refers to an Operation, not a Tensor"):
        tf.get_default_graph().get_tensor_by_name("c")
    with pytest.raises(ValueError, match="looks like an \\(invalid\\) Operation name"):
        tf.get_default_graph().get_tensor_by_name("nothing")

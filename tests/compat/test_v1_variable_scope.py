"""TF1 variable sharing: get_variable, variable_scope, reuse, AUTO_REUSE, initializer objects."""
import numpy as np
import pytest

import distflow.compat.v1 as tf


def _names(prefix):
    return sorted(op.name for op in tf.get_default_graph().get_operations()
                  if op.name.startswith(prefix))


def test_get_variable_names_the_variable_by_its_scopes_and_ops_by_the_name_scope():
    with tf.variable_scope("foo") as scope:
        v = tf.get_variable("v", [2, 3])
        y = v + 1.0
    assert scope.name == "foo" and scope.original_name_scope == "foo/"
    assert v.name == "foo/v:0" and v.shape == (2, 3) and v.dtype == tf.float32
    assert repr(v) == "<tf.Variable 'foo/v:0' shape=(2, 3) dtype=float32_ref>"
    assert y.name == "foo/add:0"
    # glorot_uniform under the variable's Initializer scope, as TF1 builds it
    assert "foo/v/Initializer/random_uniform" in _names("foo/v/")
    assert {"foo/v", "foo/v/Assign", "foo/v/read"} <= set(_names("foo/v"))
    with tf.variable_scope("foo", reuse=True):
        again = tf.get_variable("v")
        z = again * 2.0
    assert again is v
    assert z.name == "foo_1/mul:0"   # a second name scope for the ops; the variable stays foo/v


def test_creating_twice_and_reusing_a_missing_variable_raise_tf1s_errors():
    with tf.variable_scope("foo"):
        tf.get_variable("v", [1])
    with pytest.raises(ValueError, match=r"^Variable foo/v already exists, disallowed\. Did you "
                       r"mean to set reuse=True or reuse=tf\.AUTO_REUSE in VarScope\?"):
        with tf.variable_scope("foo"):
            tf.get_variable("v", [1])
    with pytest.raises(ValueError, match=r"^Variable foo/w does not exist, or was not created "
                       r"with tf\.get_variable\(\)\. Did you mean to set reuse=tf\.AUTO_REUSE in "
                       r"VarScope\?$"):
        with tf.variable_scope("foo", reuse=True):
            tf.get_variable("w", [1])
    with pytest.raises(ValueError, match=r"Trying to share variable foo/v, but specified shape "
                       r"\(2,\) and found shape \(1,\)\."):
        with tf.variable_scope("foo", reuse=True):
            tf.get_variable("v", [2])
    with pytest.raises(ValueError, match="did not get an initializer, so its `shape`"):
        tf.get_variable("no_shape")
    with pytest.raises(ValueError, match="If initializer is a constant, do not specify shape."):
        tf.get_variable("c", [2], initializer=tf.constant([1.0, 2.0]))


def test_auto_reuse_and_reuse_variables_and_inherited_reuse():
    def layer():
        with tf.variable_scope("layer", reuse=tf.AUTO_REUSE):
            return tf.get_variable("w", [3], initializer=tf.ones_initializer())
    assert layer() is layer()
    with tf.variable_scope("net") as scope:
        a = tf.get_variable("a", [1])
        scope.reuse_variables()
        assert tf.get_variable_scope().reuse is True
        assert tf.get_variable("a") is a
        with tf.variable_scope("inner"):  # reuse is inherited by sub-scopes
            assert tf.get_variable_scope().reuse is True
            with pytest.raises(ValueError, match="does not exist"):
                tf.get_variable("b", [1])
    with tf.variable_scope(scope, reuse=True) as again:  # a scope object re-enters its name
        assert again.name == "net" and tf.get_variable("a") is a
    assert tf.get_variable_scope().name == "" and tf.get_variable_scope().reuse is False
    with pytest.raises(ValueError, match="The reuse parameter must be True or False or None."):
        tf.variable_scope("x", reuse="yes")
    with pytest.raises(ValueError, match="reuse=True cannot be used without a name_or_scope"):
        with tf.variable_scope(None, default_name="d", reuse=True):
            pass


def test_default_names_are_made_unique_and_nested_scopes_prefix():
    names = []
    for _ in range(2):
        with tf.variable_scope(None, default_name="dense") as s:
            names.append((s.name, tf.get_variable("k", [1]).name))
    assert names == [("dense", "dense/k:0"), ("dense_1", "dense_1/k:0")]
    with tf.variable_scope("a"):
        with tf.variable_scope("b"):
            v = tf.get_variable("v", [], dtype=tf.int32)
            t = tf.constant(1, name="t")
    assert v.name == "a/b/v:0" and t.name == "a/b/t:0"
    assert "a/b/v/Initializer/zeros" in _names("a/b/v/")   # integers start at zero


def test_scope_state_is_per_graph():
    with tf.variable_scope("s"):
        tf.get_variable("v", [1])
    g = tf.Graph()
    with g.as_default():
        with tf.variable_scope("s"):
            assert tf.get_variable("v", [1]).name == "s/v:0"  # no "already exists" here
    tf.reset_default_graph()
    with tf.variable_scope("s"):
        assert tf.get_variable("v", [1]).graph is tf.get_default_graph()


def test_initializer_values_dtypes_and_collections():
    x = tf.get_variable("x", [2, 2], initializer=tf.constant_initializer(3.0))
    y = tf.get_variable("y", initializer=tf.constant([1, 2]))          # dtype from the value
    z = tf.get_variable("z", [4], initializer=tf.zeros_initializer(), trainable=False)
    n = tf.get_variable("n", [1000], dtype=tf.float64, initializer=tf.random_normal_initializer(
        mean=1.0, stddev=2.0, seed=1))
    u = tf.get_variable("u", [1000], initializer=tf.random_uniform_initializer(-1.0, 3.0, seed=2))
    t = tf.get_variable("t", [2000], initializer=tf.truncated_normal_initializer(stddev=0.5))
    g = tf.get_variable("g", [100, 200], initializer=tf.glorot_uniform_initializer(seed=3))
    gn = tf.get_variable("gn", [100, 200], initializer=tf.glorot_normal_initializer(seed=3))
    np_init = tf.get_variable("np", [2], initializer=lambda shape, dtype: np.full(shape, 7.0))
    assert y.dtype == tf.int32 and n.dtype == tf.float64
    assert z not in tf.trainable_variables() and z in tf.global_variables()
    assert x in tf.trainable_variables()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        xv, yv, zv, nv, uv, tv, gv, gnv, npv = sess.run([x, y, z, n, u, t, g, gn, np_init])
    np.testing.assert_array_equal(xv, np.full((2, 2), 3.0, np.float32))
    np.testing.assert_array_equal(yv, [1, 2])
    np.testing.assert_array_equal(zv, np.zeros(4))
    np.testing.assert_array_equal(npv, [7.0, 7.0])
    assert nv.dtype == np.float64 and abs(nv.mean() - 1.0) < 0.3 and abs(nv.std() - 2.0) < 0.3
    assert uv.min() >= -1.0 and uv.max() < 3.0 and uv.max() > 2.5
    assert np.abs(tv).max() < 1.0                    # truncated at two standard deviations
    limit = np.sqrt(6.0 / 300)
    assert np.abs(gv).max() <= limit and np.abs(gv).max() > 0.95 * limit
    assert abs(gnv.std() - np.sqrt(2.0 / 300)) < 0.01
    assert np.abs(gnv).max() < 2 * np.sqrt(2.0 / 300) / 0.87962566103423978


def test_scope_initializer_and_dtype_are_defaults_for_get_variable():
    with tf.variable_scope("s", initializer=tf.ones_initializer(), dtype=tf.float64):
        v = tf.get_variable("v", [2])
        with tf.variable_scope("inner"):
            w = tf.get_variable("w", [2], initializer=tf.zeros_initializer())
    assert v.dtype == tf.float64
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(v), [1.0, 1.0])
        np.testing.assert_array_equal(sess.run(w), [0.0, 0.0])


def test_initializers_namespace_and_direct_calls_build_graph_ops():
    assert tf.initializers.zeros is tf.zeros_initializer
    assert tf.initializers.glorot_uniform is tf.glorot_uniform_initializer
    t = tf.initializers.ones()([2, 3])
    assert t.name == "ones:0" and t.shape == (2, 3)
    r = tf.random_normal_initializer()([2])
    assert r.name == "random_normal:0"
    with pytest.raises(ValueError, match="Expected floating point type, got int32."):
        tf.random_normal_initializer(dtype=tf.int32)


def test_a_course_program_with_shared_layers_trains_like_tf1(capsys):
    """Two towers share one linear layer through reuse; tf.assign sets a parameter by hand."""
    x = tf.placeholder(tf.float32, [None, 1])
    y = tf.placeholder(tf.float32, [None, 1])

    def linear(inputs):
        with tf.variable_scope("linear", reuse=tf.AUTO_REUSE):
            w = tf.get_variable("w", [1, 1], initializer=tf.zeros_initializer())
            b = tf.get_variable("b", [1], initializer=tf.zeros_initializer())
            return tf.matmul(inputs, w) + b

    loss = tf.reduce_mean(tf.square(linear(x) - y))
    pred = linear(x)   # the second tower reuses w and b
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.variable_scope("linear", reuse=True):
        set_b = tf.assign(tf.get_variable("b"), [1.0])
    assert [v.name for v in tf.trainable_variables()] == ["linear/w:0", "linear/b:0"]
    xs = np.arange(8, dtype=np.float32).reshape(-1, 1) / 8
    ys = 3 * xs + 1
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        print(sess.run(set_b))
        for _ in range(500):
            sess.run(train, {x: xs, y: ys})
        w, b = sess.run(["linear/w:0", "linear/b:0"])
        print(np.round(w.item(), 2), np.round(b.item(), 2))
        print(sess.run(pred, {x: [[1.0]]}).round(1))
    assert capsys.readouterr().out == "[1.]\n3.0 1.0\n[[4.]]\n"

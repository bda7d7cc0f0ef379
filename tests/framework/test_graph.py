import pytest

import distflow as df
import distflow.compat.v1 as tf


def test_op_names_are_unique_case_insensitively():
    a = tf.multiply(tf.constant(1), tf.constant(2))
    b = tf.multiply(tf.constant(1), tf.constant(2))
    c = tf.constant(1) * tf.constant(2)   # operator: lowercase 'mul' collides with 'Mul'
    assert (a.name, b.name, c.name) == ("Mul:0", "Mul_1:0", "mul_2:0")
    assert tf.constant(1, name="Mul").name == "Mul_3:0"


def test_tensor_str_and_repr():
    x = tf.placeholder(tf.float32, shape=[None, 3])
    u = tf.placeholder(tf.int32)
    assert str(x) == 'Tensor("Placeholder:0", shape=(?, 3), dtype=float32)'
    assert repr(x) == "<tf.Tensor 'Placeholder:0' shape=(?, 3) dtype=float32>"
    assert str(u) == 'Tensor("Placeholder_1:0", dtype=int32)'


def test_name_scopes_nest_and_uniquify():
    g = tf.get_default_graph()
    with tf.name_scope("layer"):
        a = tf.constant(1.0, name="w")
        with tf.name_scope("inner"):
            b = tf.constant(1.0)
    with tf.name_scope("layer"):
        c = tf.constant(1.0, name="w")
    with g.name_scope("layer/"):
        d = tf.constant(1.0, name="w")
    assert [t.op.name for t in (a, b, c, d)] == ["layer/w", "layer/inner/Const", "layer_1/w", "layer/w_1"]


def test_default_graph_stack_and_reset():
    g = tf.Graph()
    with g.as_default():
        assert tf.get_default_graph() is g
        c = tf.constant(1.0)
    assert c.graph is g and tf.get_default_graph() is not g
    first = tf.get_default_graph()
    tf.reset_default_graph()
    assert tf.get_default_graph() is not first


def test_collections_and_graph_lookup():
    v = tf.Variable(1.0, name="v")
    w = tf.Variable(2.0, trainable=False)
    assert tf.global_variables() == [v, w]
    assert tf.trainable_variables() == [v]
    g = tf.get_default_graph()
    assert g.get_tensor_by_name("v:0") is v._ref
    assert g.get_operation_by_name("v/Assign") is v.initializer
    assert [op.name for op in g.get_operations()][:4] == ["v/initial_value", "v", "v/Assign", "v/read"]
    assert repr(v) == "<tf.Variable 'v:0' shape=() dtype=float32_ref>"


def test_finalized_graph_refuses_new_ops():
    g = tf.Graph()
    with g.as_default():
        tf.constant(1)
        g.finalize()
        with pytest.raises(RuntimeError, match="Graph is finalized and cannot be modified."):
            tf.constant(2)


def test_symbolic_tensor_cannot_be_a_python_bool():
    with pytest.raises(TypeError, match="as a Python `bool` is not allowed"):
        bool(tf.constant(True))


def test_control_dependencies_order_side_effects():
    v = tf.Variable(0.0)
    inc = v.assign_add(1.0)
    with tf.control_dependencies([inc]):
        read = tf.identity(v)
    with tf.Session() as s:
        s.run(v.initializer)
        assert s.run(read) == 1.0 and s.run(read) == 2.0


def test_v1_face_builds_graphs_while_tf2_face_stays_eager():
    assert isinstance(tf.constant(1.0), tf.Tensor)
    assert isinstance(df.constant(1.0), df.EagerTensor)
    assert df.executing_eagerly() and not tf.executing_eagerly()
    assert isinstance(tf.Variable(1.0), tf.Variable) and isinstance(df.Variable(1.0), tf.Variable)


def test_dtype_mismatch_in_a_binary_op_is_a_type_error():
    with pytest.raises(TypeError, match="Input 'y' of 'Mul' Op has type float32 that does not match "
                                        "type int32 of argument 'x'."):
        tf.multiply(tf.constant(1), tf.constant(1.0))


def test_python_scalars_take_the_tensors_dtype():
    x = tf.constant(3.0)
    assert (x * 4).dtype == tf.float32 and (2 * x).dtype == tf.float32
    assert (tf.constant(6) * 8).dtype == tf.int32
    with pytest.raises(TypeError, match="Expected int32, got 4.5"):
        tf.constant(6) * 4.5

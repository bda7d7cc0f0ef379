"""The eager hot paths (ops/dispatch.py) keep the general path's meaning: variables read once and
watched, graph tensors capturing variables, NumPy batches converted with TF's dtype rules."""
import numpy as np
import pytest

import distflow as df
from distflow.framework.graph import Graph


def test_variable_operands_are_read_once_and_watched():
    v = df.Variable(np.array([1.0, 2.0], np.float32))
    w = df.Variable(np.array([3.0, 4.0], np.float32))
    x = df.constant(np.array([5.0, 6.0], np.float32))
    with df.GradientTape() as tape:
        y = df.reduce_sum(v * w + x * v) + df.reduce_sum(
            df.matmul(df.reshape(x, [1, 2]), df.reshape(w, [2, 1])))
    gv, gw = tape.gradient(y, [v, w])
    np.testing.assert_array_equal(gv.numpy(), w.numpy() + x.numpy())
    np.testing.assert_array_equal(gw.numpy(), v.numpy() + x.numpy())
    assert {id(t) for t in tape.watched_variables()} == {id(v), id(w)}


def test_a_read_keeps_its_value_after_the_variable_changes():
    v = df.Variable(np.array([1.0, 2.0], np.float32))
    t = v + df.constant(np.zeros(2, np.float32))
    v.assign_add(np.ones(2, np.float32))
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])


def test_a_graph_tensor_beside_an_eager_variable_captures_it():
    # a constant of the variable's value would stop following its assignments
    v = df.Variable(np.float32(2.0))
    g = Graph()
    with g.as_default():
        x = df.compat.v1.placeholder(df.float32, [])
    y = x + v
    types = [op.type for op in g.get_operations()]
    assert "CapturedVariable" in types and "Const" not in types, types
    assert isinstance(y, df.Tensor)


def test_numpy_batches_convert_with_tfs_dtype_rules():
    batch = np.ones((2, 3), np.float32)
    t = df.convert_to_tensor(batch)
    assert t.dtype == df.float32 and t.shape.as_list() == [2, 3]
    assert df.convert_to_tensor(np.ones(2)).dtype == df.float64  # a NumPy value keeps its dtype
    assert df.convert_to_tensor(np.array([1.5]), df.int32).numpy().tolist() == [1]
    with pytest.raises(TypeError):
        df.convert_to_tensor(np.array(["a"]))
    # a batch beside a variable takes the variable's dtype, as TF converts it
    v = df.Variable(np.ones((3, 1), np.float32))
    assert df.matmul(np.ones((2, 3)), v).dtype == df.float32


def test_dtype_mismatch_still_refused():
    a = df.constant(np.ones((2, 2), np.float32))
    b = df.constant(np.ones((2, 2), np.float64))
    with pytest.raises(TypeError, match="that does not match type"):
        df.matmul(a, b)
    with pytest.raises((TypeError, df.errors.InvalidArgumentError)):
        a + b
    assert df.float32 == df.float32 and df.float32 != df.float64
    assert df.float32 == "float32" and df.float32 != None  # noqa: E711


def test_a_long_tape_reading_one_variable_often_stays_linear():
    v = df.Variable(np.float32(1.0))
    with df.GradientTape() as tape:
        total = df.constant(np.float32(0.0))
        for _ in range(2000):  # every read stays alive on the tape
            total = total + v
    assert float(tape.gradient(total, v)) == 2000.0
    # the dead-read list is pruned only when it doubled: at most about twice the live reads
    assert len(v.__dict__["_reads"]) <= 2 * 2000 + 16

"""Eager tensors as a TF2 user meets them: values at once, TF2's printing, Python protocols."""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf1


# -- modes ----------------------------------------------------------------------------------
def test_distflow_runs_eagerly_and_compat_v1_builds_graphs():
    assert df.executing_eagerly()
    assert isinstance(df.constant(1.0), df.EagerTensor)
    t = tf1.constant(1.0)
    assert isinstance(t, df.Tensor) and t.name == "Const:0"
    assert df.executing_eagerly()  # compat.v1 switched nothing globally


def test_graph_as_default_builds_a_graph_explicitly():
    g = df.Graph()
    with g.as_default():
        assert not df.executing_eagerly()
        t = df.constant(6) * 8
        assert isinstance(t, df.Tensor) and t.graph is g
        with df.Session(graph=g) as sess:
            assert sess.run(t) == 48
    assert df.executing_eagerly()


# -- printing -------------------------------------------------------------------------------
def test_str_and_repr_of_scalars_match_tf2():
    t = df.constant(6) * 8
    assert str(t) == "tf.Tensor(48, shape=(), dtype=int32)"
    assert repr(t) == "<tf.Tensor: shape=(), dtype=int32, numpy=48>"
    assert str(df.constant(2.5)) == "tf.Tensor(2.5, shape=(), dtype=float32)"
    assert repr(df.constant(True)) == "<tf.Tensor: shape=(), dtype=bool, numpy=True>"


def test_str_and_repr_of_arrays_match_tf2():
    v = df.constant([1, 2, 3])
    assert str(v) == "tf.Tensor([1 2 3], shape=(3,), dtype=int32)"
    assert repr(v) == "<tf.Tensor: shape=(3,), dtype=int32, numpy=array([1, 2, 3], dtype=int32)>"
    m = df.constant([[1.0, 2.0], [3.0, 4.0]])
    # TF starts a value that spans several lines on a line of its own
    assert str(m) == "tf.Tensor(\n[[1. 2.]\n [3. 4.]], shape=(2, 2), dtype=float32)"
    assert repr(m) == ("<tf.Tensor: shape=(2, 2), dtype=float32, numpy=\n"
                       "array([[1., 2.],\n       [3., 4.]], dtype=float32)>")


def test_format_spec_applies_to_the_value():
    assert "%s" % df.constant(1) == "tf.Tensor(1, shape=(), dtype=int32)"
    assert "{:.2f}".format(df.constant(2.5)) == "2.50"


# -- value, shape, dtype --------------------------------------------------------------------
def test_numpy_shape_and_dtype():
    t = df.constant([[1, 2, 3], [4, 5, 6]], dtype=df.float64)
    assert t.shape.as_list() == [2, 3] and str(t.shape) == "(2, 3)"
    assert t.dtype == df.float64 and t.ndim == 2
    value = t.numpy()
    assert isinstance(value, np.ndarray) and value.dtype == np.float64
    np.testing.assert_array_equal(value, [[1, 2, 3], [4, 5, 6]])
    value[0, 0] = 100.0  # numpy() is a copy: the tensor is immutable
    assert t.numpy()[0, 0] == 1.0


def test_numpy_of_a_scalar_is_a_numpy_scalar():
    v = df.constant(48).numpy()
    assert type(v) is np.int32 and v == 48


def test_symbolic_only_attributes_raise():
    t = df.constant(1.0)
    with pytest.raises(AttributeError, match="eager execution"):
        t.name
    with pytest.raises(AttributeError, match="eager execution"):
        t.op


# -- conversion -----------------------------------------------------------------------------
@pytest.mark.parametrize("value, dtype, expected", [
    (3, df.int32, 3),
    (2.5, df.float32, 2.5),
    (True, df.bool, True),
    ([1, 2], df.int32, [1, 2]),
    ([[1.0], [2.0]], df.float32, [[1.0], [2.0]]),
    (np.array([1.5, 2.5]), df.float64, [1.5, 2.5]),       # NumPy keeps its dtype
    (np.arange(3, dtype=np.int64), df.int64, [0, 1, 2]),
    (np.float32(4.0), df.float32, 4.0),
])
def test_conversion_from_python_and_numpy(value, dtype, expected):
    for t in (df.constant(value), df.convert_to_tensor(value)):
        assert isinstance(t, df.EagerTensor)
        assert t.dtype == dtype
        np.testing.assert_array_equal(t.numpy(), expected)


def test_conversion_with_a_requested_dtype_and_its_errors():
    assert df.constant([1, 2], dtype=df.float64).dtype == df.float64
    with pytest.raises(TypeError):
        df.constant([1.5], dtype=df.int32)   # would lose the fraction
    with pytest.raises(ValueError, match="dtype"):
        df.convert_to_tensor(df.constant(1.0), dtype=df.int32)


def test_array_protocol_lets_numpy_take_tensors():
    t = df.constant([[1.0, 2.0], [3.0, 4.0]])
    a = np.asarray(t)
    assert a.dtype == np.float32 and a.shape == (2, 2)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    np.testing.assert_allclose(np.linalg.inv(t), np.linalg.inv(a))
    assert float(np.sum(t)) == 10.0


def test_python_scalar_conversions():
    assert float(df.constant(2.5)) == 2.5
    assert int(df.constant(7)) == 7
    assert bool(df.constant(True)) is True and bool(df.constant(0)) is False
    assert [10, 20, 30][df.constant(1)] == 20
    with pytest.raises(TypeError):
        [10, 20, 30][df.constant(1.0)]   # only integer tensors index lists
    assert df.constant(3) < 4 and not (df.constant(3) > 4)


# -- len, iteration, indexing ---------------------------------------------------------------
def test_len_and_iteration():
    t = df.constant([[1, 2], [3, 4], [5, 6]])
    assert len(t) == 3
    rows = list(t)
    assert len(rows) == 3 and all(isinstance(r, df.EagerTensor) for r in rows)
    np.testing.assert_array_equal(rows[2].numpy(), [5, 6])
    with pytest.raises(TypeError, match="Scalar tensor has no `len\\(\\)`"):
        len(df.constant(1))
    with pytest.raises(TypeError):
        iter(df.constant(1))


def test_indexing_and_slicing_follow_numpy():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t = df.constant(a)
    for key in [1, -1, (0, 2), (1, slice(None), 3), slice(0, 1), (Ellipsis, 1),
                (slice(None), slice(None, None, -1)), (0, None, slice(1, 3))]:
        np.testing.assert_array_equal(t[key].numpy(), a[key], err_msg=str(key))


def test_indexing_is_differentiable_under_a_tape():
    x = df.constant([1.0, 2.0, 3.0])
    with df.GradientTape() as tape:
        tape.watch(x)
        y = x[1] * x[2] + sum(e for e in x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [1.0, 4.0, 3.0])


# -- operators ------------------------------------------------------------------------------
def test_python_operators_compute_at_once():
    a = np.array([[1.5, -2.0], [3.0, 4.0]], np.float32)
    b = np.array([[2.0, 0.5], [-1.0, 3.0]], np.float32)
    x, y = df.constant(a), df.constant(b)
    cases = [
        (x + y, a + b), (x - y, a - b), (x * y, a * b), (x / y, a / b), (x @ y, a @ b),
        (-x, -a), (abs(x), np.abs(a)), (x ** 2, a ** 2), (2.0 - x, 2.0 - a), (1.0 / x, 1.0 / a),
        (x // y, a // b), (x % y, np.mod(a, b)),
        (x < y, a < b), (x <= y, a <= b), (x > y, a > b), (x >= y, a >= b),
        (x == y, a == b), (x != y, a != b),
        ((x > 0) & (y > 0), (a > 0) & (b > 0)), ((x > 0) | (y > 0), (a > 0) | (b > 0)),
        (~(x > 0), ~(a > 0)),
    ]
    for got, want in cases:
        assert isinstance(got, df.EagerTensor)
        assert got.dtype == df.as_dtype(want.dtype)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)


def test_python_and_numpy_scalars_take_the_tensor_dtype():
    assert (df.constant(6) * 8).dtype == df.int32
    assert (2 * df.constant(1.5)).dtype == df.float32
    r = np.float32(2.0) * df.constant([1.0, 2.0])
    assert isinstance(r, df.EagerTensor) and r.dtype == df.float32


def test_tensors_are_unhashable_but_have_refs():
    t = df.constant(1.0)
    with pytest.raises(TypeError, match="unhashable"):
        {t: 1}
    d = {t.ref(): "x"}
    assert d[t.ref()] == "x" and d.popitem()[0].deref() is t


def test_format_formats_the_value_as_tf2_does():
    t = df.constant(1.5)
    assert f"{t}" == "1.5" and f"{t:.2f}" == "1.50" and "loss %.1f" % t == "loss 1.5"
    assert str(t) == "tf.Tensor(1.5, shape=(), dtype=float32)"  # print() is unchanged
    assert repr(df.constant([[1, 2]]).shape) == "TensorShape([1, 2])"

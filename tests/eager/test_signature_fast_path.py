"""df.function with an input_signature: arrays that fit their TensorSpecs take a fast path past
argument conversion; everything else takes the general path. Both must behave the same."""
import numpy as np
import pytest

import distflow as df


def make():
    w = df.Variable(np.array([[1.0], [2.0]], np.float32))

    @df.function(input_signature=[df.TensorSpec([None, 2], df.float32),
                                  df.TensorSpec([None, 1], df.float32)])
    def f(x, y):
        return df.reduce_sum(df.square(df.matmul(x, w) - y))
    return f


X = np.array([[1.0, 0.5], [0.0, 2.0], [3.0, 1.0]], np.float32)
Y = np.array([[1.0], [2.0], [3.0]], np.float32)
EXPECTED = float(np.sum((X @ np.array([[1.0], [2.0]]) - Y) ** 2))


@pytest.mark.parametrize("convert", [
    lambda a: a,                          # fits the spec: fast path
    lambda a: df.constant(a),             # an eager tensor that fits: fast path
    lambda a: a.astype(np.float64),       # converted to float32 by the general path
    lambda a: a.tolist(),                 # a nested list: general path
], ids=["ndarray", "eager", "float64", "list"])
def test_every_kind_of_argument_gives_the_same_result(convert):
    f = make()
    f(X, Y)  # the trace
    assert float(f(convert(X), convert(Y))) == pytest.approx(EXPECTED, rel=1e-6)
    assert f.experimental_get_tracing_count() == 1


def test_a_shape_that_does_not_fit_is_rejected_on_either_path():
    f = make()
    f(X, Y)
    for bad in (np.ones((3, 3), np.float32), np.ones((3, 3), np.float64)):
        with pytest.raises(ValueError, match="input_signature"):
            f(bad, Y)
    with pytest.raises(ValueError, match="input_signature"):
        f(np.ones(2, np.float32), Y)  # wrong rank


def test_a_tape_around_a_fast_path_call_differentiates_the_tensors_passed():
    f = make()
    f(X, Y)
    x = df.constant(X)
    with df.GradientTape() as tape:
        tape.watch(x)
        loss = f(x, Y)  # an eager tensor and an array that fit: the fast path
    dx = tape.gradient(loss, x)
    w = np.array([[1.0], [2.0]], np.float32)
    assert dx is not None
    np.testing.assert_allclose(dx.numpy(), 2 * (X @ w - Y) @ w.T, rtol=1e-6)


def test_a_structure_returned_comes_back_whole_from_the_fast_path():
    @df.function(input_signature=[df.TensorSpec([None], df.float32)])
    def f(x):
        return {"double": 2 * x, "pair": (x + 1, None)}
    f(np.zeros(2, np.float32))
    out = f(np.array([1.0, 3.0], np.float32))
    assert sorted(out) == ["double", "pair"] and out["pair"][1] is None
    np.testing.assert_allclose(out["double"].numpy(), [2.0, 6.0])
    np.testing.assert_allclose(out["pair"][0].numpy(), [2.0, 4.0])

"""TF2 losses (`df.losses`, Keras's): per-sample functions and reducing classes, against NumPy
formulas and against numbers TensorFlow 2.21 / Keras 3.15 printed for the same inputs; eager and
graph; gradients against finite differences; the global-batch sum the distributed runtime uses."""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf
from distflow import losses

R = np.random.RandomState(1)
N, K = 6, 3
T = R.normal(0, 2, (N, K))
P = T + R.normal(0, 1.5, (N, K))  # some errors beyond delta=1, some inside
LOGITS = R.normal(0, 3, (N, K))
BINARY = (R.uniform(size=(N, K)) > 0.5).astype(np.float64)
ONEHOT = np.eye(K)[R.randint(0, K, N)]
LABELS = ONEHOT.argmax(axis=1).astype(np.int32)

# small inputs with TF 2.21 / Keras 3.15.1 results
L = np.array([[1., 2.], [3., -1.], [0., 0.5]], np.float32)
PR = np.array([[1.5, 0.], [2., -1.], [2., 1.]], np.float32)
XL = np.array([[1., 2., 0.5], [0., -1., 3.]], np.float32)
OH = np.array([[0., 1., 0.], [1., 0., 0.]], np.float32)


def np_huber(e, d):
    a = np.abs(e)
    return np.where(a <= d, 0.5 * e ** 2, d * (a - 0.5 * d))


def np_log_softmax(x):
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def np_softmax(x):
    return np.exp(np_log_softmax(x))


CASES = {
    # name: (per-sample fn(t, p), inputs, per-sample NumPy values)
    "mse": (losses.mean_squared_error, (T, P), np.mean((P - T) ** 2, axis=1)),
    "mae": (losses.mean_absolute_error, (T, P), np.mean(np.abs(P - T), axis=1)),
    "huber": (losses.huber, (T, P), np.mean(np_huber(P - T, 1.0), axis=1)),
    "huber_delta2": (lambda t, p: losses.huber(t, p, delta=2.0), (T, P),
                     np.mean(np_huber(P - T, 2.0), axis=1)),
    "bce_logits": (lambda t, p: losses.binary_crossentropy(t, p, from_logits=True),
                   (BINARY, LOGITS),
                   np.mean(-BINARY * np.log(1 / (1 + np.exp(-LOGITS)))
                           - (1 - BINARY) * np.log(1 - 1 / (1 + np.exp(-LOGITS))), axis=1)),
    "cce_logits": (lambda t, p: losses.categorical_crossentropy(t, p, from_logits=True),
                   (ONEHOT, LOGITS), -np.sum(ONEHOT * np_log_softmax(LOGITS), axis=1)),
    "cce_probs": (losses.categorical_crossentropy, (ONEHOT, np_softmax(LOGITS)),
                  -np.sum(ONEHOT * np.log(np.clip(np_softmax(LOGITS), 1e-7, 1 - 1e-7)), axis=1)),
}


def run_graph(fn, *arrays):
    g = tf.Graph()
    with g.as_default():
        out = fn(*[tf.constant(a) for a in arrays])
        with tf.Session() as sess:
            return sess.run(out)


@pytest.mark.parametrize("name", sorted(CASES))
def test_functions_give_one_value_per_sample_in_both_modes(name):
    fn, inputs, per_sample = CASES[name]
    eager = fn(*inputs).numpy()
    assert eager.shape == (N,)
    np.testing.assert_allclose(eager, per_sample, rtol=1e-6)
    np.testing.assert_allclose(run_graph(fn, *inputs), per_sample, rtol=1e-6)


def test_functions_match_tensorflow():
    # TF 2.21: keras.losses.mean_squared_error(L, PR) etc.
    np.testing.assert_allclose(losses.mse(L, PR).numpy(), [2.125, 0.5, 2.125])
    np.testing.assert_allclose(losses.mae(L, PR).numpy(), [1.25, 0.5, 1.25])
    np.testing.assert_allclose(losses.huber(L, PR, delta=0.5).numpy(), [0.5, 0.1875, 0.5])
    # (n,) against (n, 1): both become (n, 1), so one value per sample, not a scalar
    np.testing.assert_allclose(losses.mse(L[:, 0], PR[:, :1]).numpy(), [0.25, 1.0, 4.0])
    probs = np_softmax(XL.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(losses.binary_crossentropy(OH, probs).numpy(),
                               [0.29281047, 1.9452676], rtol=1e-5)
    np.testing.assert_allclose(losses.binary_crossentropy(OH, XL, from_logits=True,
                                                          label_smoothing=0.2).numpy(),
                               [0.82142216, 1.2849988], rtol=1e-5)
    np.testing.assert_allclose(losses.categorical_crossentropy(OH, probs).numpy(),
                               [0.46436873, 3.0658839], rtol=1e-5)
    np.testing.assert_allclose(losses.categorical_crossentropy(OH, XL, from_logits=True,
                                                               label_smoothing=0.1).numpy(),
                               [0.54770213, 2.9992173], rtol=1e-5)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(
        np.array([1, 0]), probs).numpy(), [0.4643688, 3.0658839], rtol=1e-5)


def test_classes_reduce_with_sample_weight_as_tensorflow_does():
    sw = np.array([1., 0., 2.])
    # TF 2.21 / Keras 3.15.1
    assert losses.MeanSquaredError()(L, PR).numpy() == pytest.approx(4.75 / 3)
    assert losses.MeanSquaredError()(L, PR, sample_weight=sw).numpy() == pytest.approx(2.125)
    assert losses.MeanSquaredError(reduction="sum")(L, PR).numpy() == pytest.approx(4.75)
    assert losses.MeanSquaredError(reduction="mean_with_sample_weight")(
        L, PR, sample_weight=sw).numpy() == pytest.approx(2.125)
    none = losses.MeanSquaredError(reduction=None)(L, PR, sample_weight=sw).numpy()
    np.testing.assert_allclose(none, [2.125, 0.0, 4.25])
    assert losses.Huber(0.5)(L, PR).numpy() == pytest.approx(0.39583334)
    assert losses.BinaryCrossentropy(from_logits=True)(OH, XL).numpy() == pytest.approx(
        1.0782105, rel=1e-5)
    assert losses.SparseCategoricalCrossentropy(from_logits=True)(
        np.array([[1], [0]]), XL).numpy() == pytest.approx(1.7651263, rel=1e-5)
    assert losses.MeanAbsoluteError().name == "mean_absolute_error"
    assert losses.Huber().name == "huber_loss"
    # Keras casts to the loss's dtype, float32 unless told
    assert losses.MeanSquaredError()(T, P).dtype == df.float32
    assert losses.MeanSquaredError(dtype="float64")(T, P).dtype == df.float64
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="avg")


def test_class_in_a_graph_is_named_and_differentiable():
    g = tf.Graph()
    with g.as_default():
        p = tf.placeholder(tf.float32, [None, 1])
        loss = losses.MeanSquaredError()(tf.placeholder(tf.float32, [None]), p)
        assert loss.name.startswith("mean_squared_error/") and loss.shape.as_list() == []
        assert losses.mse(p, p).shape.as_list() == [None]


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_wrt_predictions_matches_finite_differences(name):
    fn, (t, p), _ = CASES[name]
    x = df.Variable(p)
    with df.GradientTape() as tape:
        loss = df.reduce_mean(fn(t, x))
    grad = tape.gradient(loss, x).numpy()
    eps, numeric = 1e-6, np.zeros_like(p)
    for i in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[i] += eps
        down[i] -= eps
        numeric[i] = (np.mean(fn(t, up).numpy()) - np.mean(fn(t, down).numpy())) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_global_batch_sum_over_shards_equals_the_full_batch_mean():
    # a rank's share: its loss SUM divided by the GLOBAL batch size; the shares add up to the
    # mean over the whole batch
    full = np.mean(losses.mean_squared_error(T, P).numpy())
    shares = []
    for part in np.array_split(np.arange(N), 4):  # uneven: 2, 2, 1, 1 rows
        per_sample = losses.mean_squared_error(T[part], P[part])
        shares.append(losses.compute_average_loss(per_sample, global_batch_size=N).numpy())
    np.testing.assert_allclose(sum(shares), full, rtol=1e-12)
    # an empty shard contributes zero, not NaN
    empty = losses.mean_squared_error(np.zeros((0, 1)), np.zeros((0, 1)))
    assert losses.compute_average_loss(empty, global_batch_size=N).numpy() == 0.0


def test_targets_are_lined_up_with_predictions_not_broadcast():
    col = P[:, :1]
    flat = losses.mean_squared_error(T[:, 0], col).numpy()  # (n,) against (n, 1)
    np.testing.assert_allclose(flat, (col[:, 0] - T[:, 0]) ** 2, rtol=1e-12)
    flat = losses.mean_absolute_error(T[:, :1], col[:, 0]).numpy()
    assert flat.shape == (N,)
    with pytest.raises(ValueError, match="does not match"):
        losses.mean_squared_error(np.zeros((4, 2)), np.zeros((4, 3)))
    # integer targets are cast to the predictions' dtype
    ints = losses.mean_absolute_error(np.array([[1], [2]], np.int32),
                                      df.constant([[1.5], [2.0]])).numpy()
    np.testing.assert_allclose(ints, [0.5, 0.0])
    assert ints.dtype == np.float32
    with pytest.raises(ValueError, match="delta"):
        losses.huber(T, P, delta=0.0)


def test_get_and_names():
    assert df.losses.get("mse") is losses.mean_squared_error
    assert isinstance(df.losses.get("MeanSquaredError"), losses.MeanSquaredError)
    assert df.nn.losses.mae is losses.mean_absolute_error
    assert losses.Reduction.SUM_OVER_BATCH_SIZE == "sum_over_batch_size"
    with pytest.raises(ValueError, match="loss identifier"):
        losses.get("nope")


def test_loss_classes_line_up_targets_of_shape_n_with_predictions_of_shape_n_1():
    y = np.array([0.0, 1.0, 1.0], np.float32)
    p = np.array([[0.2], [0.7], [0.9]], np.float32)
    # 0.22839302 is what tf.keras.losses.BinaryCrossentropy() gives (TF 2.21, Keras 3.15)
    np.testing.assert_allclose(float(df.losses.BinaryCrossentropy()(y, p)), 0.22839302, rtol=1e-6)
    with pytest.raises(ValueError):
        df.losses.binary_crossentropy(y, p)  # the function alone refuses it, as Keras's does

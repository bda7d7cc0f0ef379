"""Each loss against its NumPy formula, eagerly and in a graph, with every reduction; gradients
against finite differences; and the global-batch sum that the distributed runtime relies on."""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf
from distflow import losses

R = np.random.RandomState(1)
N, K = 6, 3
T = R.normal(0, 2, (N, 1))
P = T + R.normal(0, 1.5, (N, 1))  # some errors beyond delta=1, some inside
LOGITS = R.normal(0, 3, (N, K))
BINARY = (R.uniform(size=(N, K)) > 0.5).astype(np.float64)
ONEHOT = np.eye(K)[R.randint(0, K, N)]
LABELS = ONEHOT.argmax(axis=1).astype(np.int32)


def np_huber(e, d):
    a = np.abs(e)
    return np.where(a <= d, 0.5 * e ** 2, d * (a - 0.5 * d))


def np_log_softmax(x):
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


CASES = {
    # name: (fn(t, p) building the loss with reduction r, inputs, per-sample NumPy values)
    "mse": (lambda t, p, r: losses.mean_squared_error(t, p, reduction=r), (T, P),
            np.mean((P - T) ** 2, axis=1)),
    "mae": (lambda t, p, r: losses.mean_absolute_error(t, p, reduction=r), (T, P),
            np.mean(np.abs(P - T), axis=1)),
    "huber": (lambda t, p, r: losses.huber(t, p, delta=1.0, reduction=r), (T, P),
              np.mean(np_huber(P - T, 1.0), axis=1)),
    "huber_delta2": (lambda t, p, r: losses.huber(t, p, delta=2.0, reduction=r), (T, P),
                     np.mean(np_huber(P - T, 2.0), axis=1)),
    "sigmoid_xent": (lambda t, p, r: losses.sigmoid_cross_entropy(t, p, reduction=r),
                     (BINARY, LOGITS),
                     np.mean(-BINARY * np.log(1 / (1 + np.exp(-LOGITS)))
                             - (1 - BINARY) * np.log(1 - 1 / (1 + np.exp(-LOGITS))), axis=1)),
    "softmax_xent": (lambda t, p, r: losses.softmax_cross_entropy(t, p, reduction=r),
                     (ONEHOT, LOGITS), -np.sum(ONEHOT * np_log_softmax(LOGITS), axis=1)),
}


def run_graph(fn, *arrays):
    g = tf.Graph()
    with g.as_default():
        out = fn(*[tf.constant(a) for a in arrays])
        with tf.Session() as sess:
            return sess.run(out)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_matches_numpy_in_both_modes(name, reduction):
    fn, inputs, per_sample = CASES[name]
    expected = {"mean": per_sample.mean(), "sum": per_sample.sum(), "none": per_sample}[reduction]
    eager = fn(*inputs, reduction).numpy()
    np.testing.assert_allclose(eager, expected, rtol=1e-10)
    graph = run_graph(lambda t, p: fn(t, p, reduction), *inputs)
    np.testing.assert_allclose(graph, expected, rtol=1e-10)


def test_sparse_softmax_cross_entropy_equals_the_one_hot_form():
    dense = losses.softmax_cross_entropy(ONEHOT, LOGITS).numpy()
    sparse = losses.sparse_softmax_cross_entropy(LABELS, LOGITS).numpy()
    np.testing.assert_allclose(sparse, dense, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_wrt_predictions_matches_finite_differences(name):
    fn, (t, p), _ = CASES[name]
    x = df.Variable(p)
    with df.GradientTape() as tape:
        loss = fn(t, x, "mean")
    grad = tape.gradient(loss, x).numpy()
    eps, numeric = 1e-6, np.zeros_like(p)
    for i in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[i] += eps
        down[i] -= eps
        numeric[i] = (fn(t, up, "mean").numpy() - fn(t, down, "mean").numpy()) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_global_batch_sum_over_shards_equals_the_full_batch_mean():
    # a rank's share: its loss SUM divided by the GLOBAL batch size; the shares add up to the
    # mean over the whole batch, and so do their gradients
    full = losses.mean_squared_error(T, P).numpy()
    shares = []
    for part in np.array_split(np.arange(N), 4):  # uneven: 2, 2, 1, 1 rows
        per_sample = losses.mean_squared_error(T[part], P[part], reduction="none")
        shares.append(losses.compute_average_loss(per_sample, global_batch_size=N).numpy())
        np.testing.assert_allclose(
            shares[-1], losses.mean_squared_error(T[part], P[part], reduction="sum").numpy() / N)
    np.testing.assert_allclose(sum(shares), full, rtol=1e-12)
    # an empty shard contributes zero, not NaN
    empty = losses.mean_squared_error(np.zeros((0, 1)), np.zeros((0, 1)), reduction="sum")
    assert empty.numpy() == 0.0


def test_targets_are_lined_up_with_predictions_not_broadcast():
    flat = losses.mean_squared_error(T[:, 0], P).numpy()  # (n,) against (n, 1)
    np.testing.assert_allclose(flat, np.mean((P - T) ** 2), rtol=1e-12)
    flat = losses.mean_absolute_error(T, P[:, 0]).numpy()
    np.testing.assert_allclose(flat, np.mean(np.abs(P - T)), rtol=1e-12)
    with pytest.raises(ValueError, match="does not match"):
        losses.mean_squared_error(np.zeros((4, 2)), np.zeros((4, 3)))
    # integer targets are cast to the predictions' dtype
    ints = losses.mean_absolute_error(np.array([[1], [2]], np.int32),
                                      df.constant([[1.5], [2.0]])).numpy()
    assert ints == pytest.approx(0.25) and ints.dtype == np.float32


def test_graph_losses_are_named_and_reductions_checked():
    g = tf.Graph()
    with g.as_default():
        p = tf.placeholder(tf.float32, [None, 1])
        loss = losses.mean_squared_error(tf.placeholder(tf.float32, [None, 1]), p)
        assert loss.name.startswith("mean_squared_error/") and loss.shape.as_list() == []
        per = losses.huber(p, p, reduction="none")
        assert per.shape.as_list() == [None]
    with pytest.raises(ValueError, match="Invalid reduction"):
        losses.mean_squared_error(T, P, reduction="avg")
    with pytest.raises(ValueError, match="delta"):
        losses.huber(T, P, delta=0.0)
    assert df.losses.get("mse") is losses.mean_squared_error
    assert df.nn.losses.mae is losses.mean_absolute_error

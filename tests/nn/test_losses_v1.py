"""TF1's tf.losses (`distflow.compat.v1.losses`): weights, every Reduction, names and the LOSSES
collection, against numbers TensorFlow 2.21's tf.compat.v1.losses printed for the same inputs."""
import numpy as np
import pytest

import distflow.compat.v1 as tf

L = np.array([[1., 2.], [3., -1.], [0., 0.5]], np.float32)
P = np.array([[1.5, 0.], [2., -1.], [2., 1.]], np.float32)
W = np.array([[1.], [0.], [2.]], np.float32)  # per-sample weights; one sample weighs 0
XL = np.array([[1., 2., 0.5], [0., -1., 3.]], np.float32)
OH = np.array([[0., 1., 0.], [1., 0., 0.]], np.float32)
Red = tf.losses.Reduction


def run(build):
    g = tf.Graph()
    with g.as_default():
        out = build()
        with tf.Session() as sess:
            return sess.run(out)


@pytest.mark.parametrize("reduction, expected", [
    # TF 2.21: tf.compat.v1.losses.mean_squared_error(L, P, W, reduction=...)
    ("SUM", 12.75),                   # the sum of ALL weighted values
    ("MEAN", 2.125),                  # / sum of the broadcast weights (2 columns x 3)
    ("SUM_OVER_BATCH_SIZE", 2.125),   # / the number of values (6)
    ("SUM_BY_NONZERO_WEIGHTS", 3.1875),  # / the values with a non-zero weight (4): the default
])
def test_weighted_reductions(reduction, expected):
    out = run(lambda: tf.losses.mean_squared_error(L, P, W, reduction=getattr(Red, reduction)))
    assert out == pytest.approx(expected)


def test_values_match_tensorflow():
    assert run(lambda: tf.losses.mean_squared_error(L, P)) == pytest.approx(1.5833334)
    assert run(lambda: tf.losses.mean_squared_error(L, P, 0.0)) == 0.0  # no NaN
    np.testing.assert_allclose(run(lambda: tf.losses.mean_squared_error(
        L, P, W, reduction=Red.NONE)), [[0.25, 4.], [0., 0.], [8., 0.5]])
    assert run(lambda: tf.losses.absolute_difference(L, P, W)) == pytest.approx(1.875)
    assert run(lambda: tf.losses.huber_loss(L, P, W, delta=0.5)) == pytest.approx(0.75)
    assert run(lambda: tf.losses.huber_loss(L, P, 2.0)) == pytest.approx(1.25)  # 3rd: weights
    assert run(lambda: tf.losses.softmax_cross_entropy(OH, XL, label_smoothing=0.1)) == \
        pytest.approx(1.7734597, rel=1e-6)
    assert run(lambda: tf.losses.sparse_softmax_cross_entropy(
        [1, 0], XL, weights=[2., 1.])) == pytest.approx(1.9973108, rel=1e-6)
    assert run(lambda: tf.losses.sigmoid_cross_entropy(OH, XL)) == pytest.approx(1.0782105,
                                                                                 rel=1e-6)
    assert run(lambda: tf.losses.log_loss(OH, tf.nn.softmax(XL))) == pytest.approx(1.1190382,
                                                                                   rel=1e-6)


def test_weighted_gradient():
    def build():
        p = tf.constant(P)
        return tf.gradients(tf.losses.mean_squared_error(L, p, W), p)[0]
    np.testing.assert_allclose(run(build), [[0.25, -1.], [0., 0.], [2., 0.5]])  # TF 2.21


def test_names_collection_and_errors():
    g = tf.Graph()
    with g.as_default():
        loss = tf.losses.mean_squared_error(L, P)
        assert loss.name == "mean_squared_error/value:0"  # as TF names it
        assert tf.losses.mean_squared_error(L, P, reduction=Red.SUM).name == \
            "mean_squared_error_1/Sum:0"
        assert tf.losses.softmax_cross_entropy(OH, XL).name == "softmax_cross_entropy_loss/value:0"
        assert tf.losses.get_losses() == tf.get_collection(tf.GraphKeys.LOSSES)
        assert len(tf.losses.get_losses()) == 3
        total = tf.losses.get_total_loss()
        assert total.name == "total_loss:0"
        tf.losses.huber_loss(L, P, loss_collection=None)
        assert len(tf.losses.get_losses()) == 3
        # float64 inputs: TF computes these losses in float32
        assert tf.losses.mean_squared_error(L.astype(np.float64), P).dtype == tf.float32
        with pytest.raises(ValueError, match="weights can not be broadcast"):
            tf.losses.mean_squared_error(L, P, np.ones(3, np.float32))
        with pytest.raises(ValueError, match="incompatible"):
            tf.losses.mean_squared_error(L[:, 0], P[:, :1])
        with pytest.raises(ValueError, match="Invalid Reduction Key"):
            tf.losses.mean_squared_error(L, P, reduction="mean")
    assert Red.SUM_BY_NONZERO_WEIGHTS == Red.SUM_OVER_NONZERO_WEIGHTS == \
        "weighted_sum_by_nonzero_weights"


def test_softmax_cross_entropy_with_logits_v1_stops_the_labels_gradient():
    def build(fn):
        z, x = tf.constant(OH), tf.constant(XL)
        return tf.gradients(fn(labels=z, logits=x), [z, x])
    g = tf.Graph()
    with g.as_default():
        dz, dx = build(tf.nn.softmax_cross_entropy_with_logits)
        assert dz is None and dx is not None  # TF1 wraps the labels in stop_gradient
        dz2, _ = build(tf.nn.softmax_cross_entropy_with_logits_v2)
        assert dz2 is not None
        with tf.Session() as sess:
            np.testing.assert_allclose(sess.run(dz2), -np.log(sess.run(tf.nn.softmax(XL))),
                                       rtol=1e-6)

"""clip_by_global_norm, global_norm and clip_by_norm against NumPy, eagerly and in graphs."""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf

RNG = np.random.RandomState(0)
T_LIST = [RNG.randn(3, 4), RNG.randn(5), np.array(2.5)]
NORM = np.sqrt(sum((t ** 2).sum() for t in T_LIST))


def numpy_clip(t_list, clip_norm):
    norm = np.sqrt(sum((t ** 2).sum() for t in t_list if t is not None))
    scale = clip_norm / max(norm, clip_norm)
    return [None if t is None else t * scale for t in t_list], norm


@pytest.mark.parametrize("clip_norm", [0.5 * NORM, 2.0 * NORM])
def test_clip_by_global_norm_eagerly(clip_norm):
    tensors = [df.constant(t) for t in T_LIST]
    tensors.insert(1, None)
    clipped, norm = df.clip_by_global_norm(tensors, clip_norm)
    ref, ref_norm = numpy_clip(T_LIST, clip_norm)
    np.testing.assert_allclose(norm.numpy(), ref_norm, rtol=1e-12)
    assert clipped[1] is None and len(clipped) == 4
    for got, want in zip(clipped[:1] + clipped[2:], ref):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    # after clipping the global norm is min(norm, clip_norm): the direction is kept
    np.testing.assert_allclose(df.global_norm(clipped).numpy(), min(NORM, clip_norm), rtol=1e-12)


def test_clip_by_global_norm_in_a_graph_with_a_fed_list():
    phs = [tf.placeholder(tf.float64, shape=t.shape) for t in T_LIST]
    clipped, norm = tf.clip_by_global_norm(phs, 1.0)
    with tf.Session() as s:
        got, got_norm = s.run([clipped, norm], dict(zip(phs, T_LIST)))
    ref, ref_norm = numpy_clip(T_LIST, 1.0)
    np.testing.assert_allclose(got_norm, ref_norm, rtol=1e-12)
    for g, want in zip(got, ref):
        np.testing.assert_allclose(g, want, rtol=1e-12)


def test_clip_by_global_norm_with_use_norm_and_with_a_non_finite_norm():
    t = [df.constant([3.0, 4.0], df.float64)]
    clipped, norm = df.clip_by_global_norm(t, 1.0, use_norm=df.constant(10.0, df.float64))
    np.testing.assert_allclose(clipped[0].numpy(), [0.3, 0.4])
    assert norm.numpy() == 10.0
    with np.errstate(invalid="ignore", over="ignore"):
        clipped, norm = df.clip_by_global_norm([df.constant([np.inf, 1.0])], 1.0)
    assert np.isinf(norm.numpy()) and np.isnan(clipped[0].numpy()).all()
    with pytest.raises(TypeError, match="t_list should be a sequence"):
        df.clip_by_global_norm(df.constant([1.0]), 1.0)


def test_zero_gradients_pass_unchanged():
    clipped, norm = df.clip_by_global_norm([df.zeros([3])], 1.0)
    assert norm.numpy() == 0.0 and (clipped[0].numpy() == 0.0).all()


def test_global_norm_skips_none():
    np.testing.assert_allclose(df.global_norm([df.constant(t) for t in T_LIST] + [None]).numpy(),
                               NORM, rtol=1e-12)
    x = tf.placeholder(tf.float32, shape=[2])
    with tf.Session() as s:
        assert s.run(tf.global_norm([x, None]), {x: [6.0, 8.0]}) == 10.0


def test_clip_by_norm_whole_tensor_and_per_axis():
    x = np.array([[0.3, -0.4, 0.0], [3.0, 4.0, 12.0], [1.0, -1.0, 1.0], [-6.0, 0.5, 2.0]])
    got = df.clip_by_norm(df.constant(x), 2.0).numpy()
    np.testing.assert_allclose(got, x * 2.0 / max(np.sqrt((x ** 2).sum()), 2.0), rtol=1e-12)
    rows = np.sqrt((x ** 2).sum(axis=1, keepdims=True))
    got = df.clip_by_norm(df.constant(x), 2.0, axes=[1]).numpy()
    np.testing.assert_allclose(got, x * 2.0 / np.maximum(rows, 2.0), rtol=1e-12)
    assert rows.max() > 2.0 > rows.min()  # some rows are clipped, some are not
    np.testing.assert_allclose(np.sqrt((got ** 2).sum(axis=1)), np.minimum(rows[:, 0], 2.0),
                               rtol=1e-12)


def test_clip_by_norm_has_a_finite_gradient_at_zero():
    x = df.Variable(np.zeros(3))
    with df.GradientTape() as tape:
        y = df.reduce_sum(df.clip_by_norm(x, 1.0))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [1.0, 1.0, 1.0])


def test_clipped_gradients_feed_an_optimizer():
    w = df.Variable(np.float64([3.0, 4.0]))
    with df.GradientTape() as tape:
        loss = df.reduce_sum(w * w) / 2.0  # gradient w, norm 5
    grads, norm = df.clip_by_global_norm(tape.gradient(loss, [w]), 1.0)
    df.optimizers.SGD(learning_rate=1.0).apply_gradients(zip(grads, [w]))
    np.testing.assert_allclose(w.numpy(), [3.0 - 0.6, 4.0 - 0.8], rtol=1e-12)
    assert norm.numpy() == 5.0

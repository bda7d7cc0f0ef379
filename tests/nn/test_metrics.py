"""Metrics combine exactly: batch-wise updates equal one shot, merged halves equal the whole."""
import json

import numpy as np
import pytest

from distflow import metrics as m

R = np.random.RandomState(0)
Y_TRUE = R.uniform(5, 50, 37)
Y_PRED = Y_TRUE + R.normal(0, 4, 37)


def reference(name, t, p):
    e = p - t
    return {"mse": np.mean(e ** 2), "rmse": np.sqrt(np.mean(e ** 2)), "mae": np.mean(np.abs(e)),
            "r2": 1 - np.sum(e ** 2) / np.sum((t - t.mean()) ** 2)}[name]


@pytest.mark.parametrize("name", ["mse", "rmse", "mae", "r2"])
def test_one_shot_matches_numpy(name):
    metric = m.get(name).update_state(Y_TRUE, Y_PRED)
    np.testing.assert_allclose(metric.result(), reference(name, Y_TRUE, Y_PRED), rtol=1e-12)


@pytest.mark.parametrize("name", ["mse", "rmse", "mae", "r2"])
def test_uneven_batches_combine_exactly_not_as_a_mean_of_means(name):
    bounds = [0, 16, 32, 37]  # the last batch is short
    metric = m.get(name)
    for a, b in zip(bounds, bounds[1:]):
        metric.update_state(Y_TRUE[a:b], Y_PRED[a:b])
    whole = reference(name, Y_TRUE, Y_PRED)
    np.testing.assert_allclose(metric.result(), whole, rtol=1e-12)
    mean_of_means = np.mean([reference(name, Y_TRUE[a:b], Y_PRED[a:b])
                             for a, b in zip(bounds, bounds[1:])])
    assert abs(mean_of_means - whole) > 1e-6  # the naive way would be visibly wrong


@pytest.mark.parametrize("name", ["mse", "rmse", "mae", "r2", "accuracy"])
def test_merged_states_of_two_halves_equal_the_whole(name):
    t, p = (Y_TRUE > 25).astype(float), (Y_PRED > 25).astype(float)
    if name != "accuracy":
        t, p = Y_TRUE, Y_PRED
    first, second, whole = m.get(name), m.get(name), m.get(name)
    first.update_state(t[:11], p[:11])
    second.update_state(t[11:], p[11:])
    whole.update_state(t, p)
    # what the distributed runtime does: all-reduce (sum) the flat states, then load the sum
    reduced = first.state() + second.state()
    assert reduced.dtype == np.float64 and reduced.ndim == 1
    np.testing.assert_allclose(m.get(name).set_state(reduced).result(), whole.result(),
                               rtol=1e-12)
    np.testing.assert_allclose(first.merge(second).result(), whole.result(), rtol=1e-12)


def test_pack_and_unpack_states_for_one_all_reduce():
    ranks = [[m.MeanSquaredError(), m.MeanAbsoluteError(), m.R2Score()] for _ in range(3)]
    pieces = np.array_split(np.arange(37), 3)
    for metrics, idx in zip(ranks, pieces):
        for metric in metrics:
            metric.update_state(Y_TRUE[idx], Y_PRED[idx])
    flat = sum(m.pack_states(metrics) for metrics in ranks)
    assert flat.shape == (2 + 2 + 5,)  # R2Score: 4 sums per output column, and the count
    out = m.unpack_states([m.MeanSquaredError(), m.MeanAbsoluteError(), m.R2Score(num_outputs=1)],
                          flat)
    for metric, name in zip(out, ["mse", "mae", "r2"]):
        np.testing.assert_allclose(metric.result(), reference(name, Y_TRUE, Y_PRED), rtol=1e-12)
    with pytest.raises(ValueError, match="flat state of 9"):
        m.unpack_states(out, flat[:5])


def test_shapes_are_lined_up_not_broadcast():
    metric = m.MeanSquaredError().update_state(Y_TRUE, Y_PRED[:, None])
    np.testing.assert_allclose(metric.result(), reference("mse", Y_TRUE, Y_PRED))
    assert metric.count == 37
    with pytest.raises(ValueError, match="does not match"):
        m.MeanAbsoluteError().update_state(Y_TRUE[:5], Y_PRED[:6])


def test_accuracies_follow_keras():
    # values from TF 2.21 / Keras 3.15.1 on the same inputs
    scores = np.array([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5], [0.3, 0.4, 0.3]])
    # Accuracy is exact equality, never an argmax or a threshold
    assert m.Accuracy().update_state([1, 2, 3, 4], [1, 2, 0, 4]).result() == 0.75
    assert m.Accuracy().update_state([1., 0., 1.], [0.7, 0.2, 1.0]).result() == \
        pytest.approx(1 / 3)
    assert m.Accuracy().update_state([1, 0], [[0.1, 0.9], [0.8, 0.2]]).result() == 0.0
    assert m.Accuracy().update_state([1, 2, 3], [1, 0, 3], sample_weight=[1., 2., 1.]).result() \
        == 0.5
    assert m.CategoricalAccuracy().update_state(np.eye(3)[[1, 0, 0, 1]], scores).result() == 0.75
    sparse = m.SparseCategoricalAccuracy().update_state([[1], [0], [0], [1]], scores)
    assert sparse.result() == 0.75
    sparse.update_state([2, 2, 2, 1], scores)  # batches combine exactly
    assert sparse.result() == 5 / 8
    assert m.BinaryAccuracy().update_state([1, 0, 1, 0], [0.9, 0.4, 0.2, 0.6]).result() == 0.5
    logits = m.BinaryAccuracy(threshold=0.0).update_state([[1], [0]], [[2.0], [-1.0]])
    assert logits.result() == 1.0
    assert isinstance(m.get("binary_accuracy"), m.BinaryAccuracy)


def test_r2_score_follows_keras():
    y = np.array([[1., 2.], [2., 4.], [3., 5.], [4., 9.]])
    p = np.array([[1.1, 2.5], [1.8, 3.], [3.3, 6.], [3.9, 8.]])
    # TF 2.21 / Keras 3.15.1 keras.metrics.R2Score
    assert m.R2Score().update_state(y, p).result() == pytest.approx(0.9225, rel=1e-6)
    assert m.R2Score(class_aggregation="variance_weighted_average").update_state(
        y, p).result() == pytest.approx(0.8903225660324097, rel=1e-6)
    np.testing.assert_allclose(m.R2Score(class_aggregation=None).update_state(y, p).result(),
                               [0.97, 0.875], rtol=1e-6)
    assert m.R2Score(num_regressors=2).update_state(y, p).result() == pytest.approx(
        0.8914999961853027, rel=1e-6)
    halves = m.R2Score().update_state(y[:1], p[:1]).merge(m.R2Score().update_state(y[1:], p[1:]))
    assert halves.result() == pytest.approx(0.9225)
    # constant targets: SS_tot = 0, Keras scores 0
    assert m.R2Score().update_state([[3.0], [3.0]], [[1.0], [2.0]]).result() == 0.0
    with pytest.raises(ValueError, match="class_aggregation"):
        m.R2Score(class_aggregation="mean")
    assert not hasattr(m, "RSquared")  # Keras 3's name only


def test_reset_empty_and_state_round_trip():
    metric = m.RootMeanSquaredError()
    assert np.isnan(metric.result())
    metric.update_state([1.0, 2.0], [2.0, 4.0])
    state = json.loads(json.dumps(metric.state().tolist()))
    assert m.RootMeanSquaredError().set_state(state).result() == metric.result()
    metric.reset_state()
    assert metric.count == 0 and np.isnan(metric.result())
    with pytest.raises(TypeError, match="Cannot merge"):
        m.MeanSquaredError().merge(m.MeanAbsoluteError())
    with pytest.raises(ValueError, match="Unknown metric"):
        m.get("auc")

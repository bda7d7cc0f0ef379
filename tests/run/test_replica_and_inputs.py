"""The pieces of a run, without subprocesses: the replica's step against NumPy, global-batch
gradients that add up over parts, dropout masks, splits and the synthetic data."""
import numpy as np
import pytest

from distflow.distribute.single import SingleCommunicator
from distflow.run import config as run_config
from distflow.run import inputs
from distflow.run.evaluate import evaluate_arrays, reduce_metrics
from distflow.run.replica import Replica, dropout_masks


def _config(*overrides):
    return run_config.load_config(None, list(overrides))


def _replica(cfg, n_features=5, seed=3):
    return Replica(cfg, n_features, seed, SingleCommunicator())


def _data(n=12, f=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, f)).astype(np.float32), rng.normal(size=n).astype(np.float32)


def test_sgd_step_matches_numpy_gradient():
    """One SGD step of the linear model: w -= lr * 2/N X^T (Xw + b - y)."""
    cfg = _config("model.hidden=[]", "optimizer.name=sgd", "optimizer.learning_rate=0.1")
    r = _replica(cfg)
    x, y = _data()
    w0, b0 = r.get_arrays()["dense/kernel"][:, 0], r.get_arrays()["dense/bias"]
    loss, sse, sae = r.train_step(x, y, len(y))
    err = x.astype(np.float64) @ w0 + b0 - y
    assert loss == pytest.approx(np.mean(err ** 2), rel=1e-5)
    assert sse == pytest.approx(np.sum(err ** 2), rel=1e-5)
    assert sae == pytest.approx(np.sum(np.abs(err)), rel=1e-5)
    after = r.get_arrays()
    np.testing.assert_allclose(after["dense/kernel"][:, 0], w0 - 0.1 * 2 / 12 * x.T @ err,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(after["dense/bias"], b0 - 0.1 * 2 / 12 * err.sum(), rtol=1e-5)
    assert after["global_step"] == 1


def test_parts_of_a_global_batch_add_up_to_the_whole():
    """Each rank's loss is its sum over the GLOBAL batch size: the updates of two parts (from
    identical replicas, plain SGD) add up to the update of the whole batch, uneven parts too."""
    cfg = _config("model.hidden=[7]", "optimizer.name=sgd", "optimizer.learning_rate=0.05")
    x, y = _data(n=11)
    whole, a, b = _replica(cfg), _replica(cfg), _replica(cfg)
    start = whole.get_arrays()
    whole.train_step(x, y, 11)
    a.train_step(x[:6], y[:6], 11)
    b.train_step(x[6:], y[6:], 11)
    for name in ("dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"):
        d_whole = whole.get_arrays()[name] - start[name]
        d_parts = (a.get_arrays()[name] - start[name]) + (b.get_arrays()[name] - start[name])
        np.testing.assert_allclose(d_parts, d_whole, rtol=1e-4, atol=1e-7, err_msg=name)


def test_same_seed_same_weights_and_names():
    cfg = _config()
    one, two = _replica(cfg, seed=9).get_arrays(), _replica(cfg, seed=9).get_arrays()
    assert sorted(one) == sorted(two)
    assert {"dense/kernel", "dense_1/kernel", "dense_2/bias", "dense/kernel/Adam",
            "beta1_power", "global_step"} <= set(one)
    for k in one:
        np.testing.assert_array_equal(one[k], two[k])
    other = _replica(cfg, seed=10).get_arrays()
    assert not np.array_equal(one["dense/kernel"], other["dense/kernel"])


def test_set_arrays_rejects_another_model():
    r = _replica(_config())
    arrays = r.get_arrays()
    arrays["dense/kernel"] = np.zeros((4, 64), np.float32)
    with pytest.raises(ValueError, match="dense/kernel has shape"):
        r.set_arrays(arrays)
    del arrays["dense/kernel"]
    with pytest.raises(ValueError, match="no value for dense/kernel"):
        r.set_arrays(arrays)


def test_dropout_masks_are_cut_from_one_global_mask():
    full = dropout_masks(5, 2, 7, 10, 0, 10, 0.25, [6, 3])
    parts = [dropout_masks(5, 2, 7, 10, lo, hi, 0.25, [6, 3]) for lo, hi in ((0, 4), (4, 7),
                                                                            (7, 10))]
    for i in range(2):
        np.testing.assert_array_equal(np.concatenate([p[i] for p in parts]), full[i])
    assert set(np.unique(full[0])) <= {0.0, np.float32(1 / 0.75)}
    big = dropout_masks(1, 0, 0, 4000, 0, 4000, 0.25, [50])[0]
    assert np.mean(big == 0) == pytest.approx(0.25, abs=0.01)
    assert not np.array_equal(dropout_masks(5, 2, 8, 10, 0, 10, 0.25, [6])[0], full[0])


def test_dropout_step_uses_the_fed_mask():
    cfg = _config("model.hidden=[4]", "model.dropout=0.5", "optimizer.name=sgd")
    r = _replica(cfg)
    x, y = _data(n=3)
    zero = [np.zeros((3, 4), np.float32)]  # every hidden unit dropped: the output is the bias
    loss, _, _ = r.train_step(x, y, 3, zero)
    bias = 0.0  # the output bias starts at zero
    assert loss == pytest.approx(np.mean((bias - y.astype(np.float64)) ** 2), rel=1e-5)
    # at prediction time dropout is off
    w = r.get_arrays()
    h = np.maximum(x @ w["dense/kernel"] + w["dense/bias"], 0)
    np.testing.assert_allclose(r.predict(x), (h @ w["dense_1/kernel"] + w["dense_1/bias"])[:, 0],
                               rtol=1e-5)


def test_evaluate_arrays_and_reduce_metrics():
    r = _replica(_config("model.hidden=[3]"))
    x, y = _data(n=20)
    got = evaluate_arrays(r, x, y, SingleCommunicator())
    err = r.predict(x) - y
    assert got["count"] == 20
    assert got["mse"] == pytest.approx(np.mean(err ** 2)) and got["mae"] == pytest.approx(
        np.mean(np.abs(err)))
    assert got["rmse"] == pytest.approx(np.sqrt(got["mse"]))
    assert reduce_metrics(SingleCommunicator(), 8.0, 4.0, 2)["rmse"] == pytest.approx(2.0)


def test_splits():
    cfg = _config()
    (keras,) = inputs.splits(cfg, 506)
    assert (len(keras.train), len(keras.test)) == (404, 102)
    folds = inputs.splits(_config("data.split=kfold", "data.folds=4"), 506)
    assert [f.name for f in folds] == ["fold-1", "fold-2", "fold-3", "fold-4"]
    assert sorted(np.concatenate([f.test for f in folds]).tolist()) == list(range(506))
    for f in folds:
        assert not set(f.train) & set(f.test)
    assert len({f.seed for f in folds}) == 4  # each fold's model starts from its own weights
    rep = inputs.splits(_config("data.split=repeated", "data.repeats=3"), 100)
    assert len(rep) == 3 and all(len(s.test) == 20 for s in rep)
    assert not np.array_equal(rep[0].test, rep[1].test)
    assert np.array_equal(rep[2].test, inputs.splits(
        _config("data.split=repeated", "data.repeats=3"), 100)[2].test)
    with pytest.raises(run_config.ConfigError, match="data.folds = 600"):
        inputs.splits(_config("data.split=kfold", "data.folds=600"), 506)


def test_prepare_standardizes_with_training_rows_only():
    cfg = _config()
    ds = inputs.load_dataset(cfg)
    (split,) = inputs.splits(cfg, len(ds.y))
    p = inputs.prepare(ds, split)
    assert p.x_train.dtype == np.float32 and p.x_train.shape == (404, 13)
    np.testing.assert_allclose(p.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(p.standardizer.mean, ds.x[split.train].mean(axis=0))
    assert abs(p.x_test.mean()) > 1e-3  # test rows keep the training statistics
    raw = inputs.prepare(ds, split, standardize=False)
    np.testing.assert_array_equal(raw.x_test, ds.x[split.test].astype(np.float32))


def test_synthetic_data_is_a_function_of_the_seed():
    x1, y1 = inputs.synthetic(300, 8, 1)
    x2, y2 = inputs.synthetic(300, 8, 1)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(inputs.synthetic(300, 8, 2)[1], y1)
    assert x1.shape == (300, 8) and 0.5 < np.std(y1) < 3


def test_dataset_errors_name_the_key(tmp_path):
    with pytest.raises(run_config.ConfigError, match="data.target = 'PRICE'"):
        inputs.load_dataset(_config("data.target=PRICE"))
    with pytest.raises(run_config.ConfigError, match="data.features"):
        inputs.load_dataset(_config("data.features=[CRIM, NOPE]"))
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    cfg = _config("data.dataset=csv", "data.csv=%s" % (tmp_path / "t.csv"), "data.target=y")
    with pytest.raises(run_config.ConfigError, match="no column 'y'"):
        inputs.load_dataset(cfg)


def test_the_replica_reduces_its_gradients_once():
    """The step reduces gradients and loss in one buffer; applying them must not add a second
    all-reduce (which would sum the summed gradients again on several ranks)."""
    r = _replica(_config("model.hidden=[4]"))
    fused = [op for op in r.graph.get_operations() if op.type == "FusedAllReduce"]
    # the DistributedOptimizer's one op, gradients and loss together
    assert [op.name for op in fused] == ["DistributedAdam_Allreduce/FusedAllReduce"]
    assert fused[0].get_attr("names")[-1] == "loss"

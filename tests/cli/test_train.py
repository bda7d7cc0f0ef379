"""`distflow train` end to end: the Boston MLP reaches the training library's bar (test MAE <= 2.6),
alone and on two ranks with the same result, and leaves a complete run directory."""
import json
import os

import numpy as np
import pytest
import yaml

from cli_support import BOSTON_YAML, LINEAR_YAML, distflow, final_arrays, numpy_predict

from distflow.data import boston


@pytest.fixture(scope="module")
def boston_runs(tmp_path_factory):
    """configs/boston.yaml as shipped, on one process and on two ranks."""
    base = tmp_path_factory.mktemp("boston")
    procs = {}
    for ranks in (1, 2):
        out = base / ("ranks%d" % ranks)
        procs[ranks] = (out, distflow(["train", BOSTON_YAML, "--output", out], ranks=ranks,
                                      cwd=base, timeout=300))
    return procs


@pytest.mark.slow
@pytest.mark.parametrize("ranks", [1, 2])
def test_boston_mlp_meets_the_bar(boston_runs, ranks):
    out, proc = boston_runs[ranks]
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_mae"] <= 2.6
    assert summary["ranks"] == ranks and summary["test_count"] == 102
    # the final summary printed by rank 0, once
    assert proc.stdout.count("distflow: trained 130 epochs") == 1
    assert "test RMSE %.4f, MAE %.4f" % (summary["test_rmse"], summary["test_mae"]) in proc.stdout
    assert "on %d rank" % ranks in proc.stdout
    # Boston's 20 KiB of gradients are below the shared-memory all-reduce's 32 KiB
    assert summary["allreduce"] == (None if ranks == 1 else "mpi")
    assert ("on 2 ranks (cpu; gradients through mpi)" in proc.stdout) == (ranks == 2)
    # not a terminal: one plain progress line per epoch, no carriage-return bar
    assert proc.stdout.count("epoch 1/130 ") == 1 and "\r" not in proc.stdout
    # the metric is really the model's: recompute it in NumPy from the final checkpoint
    arrays, meta = final_arrays(out)
    (_, _), (x_test, y_test) = boston.load_data()
    mae = np.mean(np.abs(numpy_predict(arrays, meta, x_test) - y_test))
    assert mae == pytest.approx(summary["test_mae"], rel=1e-4)


@pytest.mark.slow
def test_the_summary_says_when_gradients_went_through_shared_memory(tmp_path):
    out = tmp_path / "wide"
    proc = distflow(["train", BOSTON_YAML, "--output", out, "--set", "train.epochs=2",
                     "--set", "model.hidden=[128,128]"], ranks=2, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "on 2 ranks (cpu; gradients through shared memory)" in proc.stdout
    assert json.loads((out / "summary.json").read_text())["allreduce"] == "shared memory"


@pytest.mark.slow
def test_two_ranks_train_the_same_model_as_one(boston_runs):
    one, _ = final_arrays(boston_runs[1][0])
    two, _ = final_arrays(boston_runs[2][0])
    assert sorted(one) == sorted(two)
    for name in one:  # only the float summation order differs
        np.testing.assert_allclose(two[name], one[name], rtol=1e-3, atol=1e-4, err_msg=name)


@pytest.mark.slow
def test_run_directory(boston_runs):
    out, _ = boston_runs[1]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == list(range(1, 131))
    assert records[-1]["step"] == 130 * 26  # 404 rows in global batches of 16
    for key in ("train_loss", "train_mse", "train_rmse", "train_mae", "test_mse", "test_rmse",
                "test_mae", "samples_per_s"):
        assert np.isfinite(records[-1][key]), key
    assert records[-1]["train_rmse"] == pytest.approx(np.sqrt(records[-1]["train_mse"]))
    assert records[-1]["train_loss"] < records[0]["train_loss"] / 20
    # the resolved config, with every default filled in
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["train"]["batch_size"] == 16 and saved["output"]["dir"] == str(out)
    assert saved["optimizer"]["clip_norm"] is None and "distributed" in saved
    # the last `keep` (3) checkpoints, written every 10 epochs
    ckpts = sorted(os.listdir(out / "checkpoints"))
    assert ckpts == ["ckpt-%08d.npz" % (e * 26) for e in (110, 120, 130)]
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_tensorboard_reads_the_run(boston_runs):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    out, _ = boston_runs[2]
    acc = EventAccumulator(str(out), size_guidance={"scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"loss/train", "loss/test", "mae/test", "rmse/train"} <= set(tags["scalars"])
    assert tags["graph"]
    test_mae = acc.Scalars("mae/test")
    assert [e.step for e in test_mae] == list(range(1, 131))
    summary = json.loads((out / "summary.json").read_text())
    assert test_mae[-1].value == pytest.approx(summary["test_mae"], rel=1e-6)
    names = {node.name for node in acc.Graph().node}
    assert {"features", "dense/MatMul", "loss"} <= names
    assert any(n.endswith("_Allreduce/FusedAllReduce") for n in names), names


def test_linear_config_reaches_least_squares(tmp_path):
    """configs/linear.yaml: full-batch gradient descent ends at the least-squares fit."""
    out = tmp_path / "linear"
    proc = distflow(["train", LINEAR_YAML, "--output", out, "--no-progress"], cwd=tmp_path,
                    timeout=300)
    assert proc.returncode == 0, proc.stderr
    (x_train, y_train), (x_test, y_test) = boston.load_data()
    a = np.c_[x_train, np.ones(len(x_train))]
    w = np.linalg.lstsq(a, y_train, rcond=None)[0]
    err = np.c_[x_test, np.ones(len(x_test))] @ w - y_test
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_rmse"] == pytest.approx(np.sqrt(np.mean(err ** 2)), rel=2e-3)
    assert summary["test_mae"] == pytest.approx(np.mean(np.abs(err)), rel=2e-3)
    assert "epoch" not in proc.stdout.replace("2000 epochs", "")  # --no-progress


@pytest.mark.parametrize("mode,count,prefix", [("kfold", 3, "fold"), ("repeated", 2, "split")])
def test_kfold_and_repeated_splits_report_mean_and_spread(tmp_path, mode, count, prefix):
    out = tmp_path / mode
    proc = distflow(["train", BOSTON_YAML, "--output", out, "--set", "data.split=" + mode,
                     "--set", "data.folds=3", "--set", "data.repeats=2", "--set",
                     "train.epochs=3", "--no-progress"], cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    per_split = [json.loads((out / ("%s-%d" % (prefix, i + 1)) / "summary.json").read_text())
                 for i in range(count)]
    maes = np.array([s["test_mae"] for s in per_split])
    assert summary["test_mae_mean"] == pytest.approx(maes.mean())
    assert summary["test_mae_std"] == pytest.approx(maes.std())
    assert summary["test_mae_std"] > 0  # different test rows give different errors
    assert "test MAE: mean %.4f, std %.4f" % (maes.mean(), maes.std()) in proc.stdout
    if mode == "kfold":  # every row is tested exactly once over the folds
        assert sum(s["test_count"] for s in per_split) == 506
    else:
        assert all(s["test_count"] == 101 for s in per_split)

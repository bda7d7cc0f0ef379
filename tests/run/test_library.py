"""`distflow.run` used as a library: train() returns what the CLI prints; the run log and the
progress output behave on resume and without a terminal."""
import io
import json

import numpy as np
import pytest

from distflow.run import ConfigError, evaluate, load_config, predict_array, train
from distflow.run import checkpoint
from distflow.run.metrics_log import RunLog, read_history, truncate_history
from distflow.run.progress import Progress

BOSTON = "configs/boston.yaml"


def _config(*overrides):
    import os
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return load_config(os.path.join(here, BOSTON), list(overrides))


def test_train_returns_the_final_metrics(tmp_path):
    cfg = _config("train.epochs=3", "output.plot=false", "output.tensorboard=false")
    result = train(cfg, output=str(tmp_path / "run"), progress=False)
    assert result["epochs"] == 3 and result["steps"] == 3 * 26 and result["ranks"] == 1
    assert result["devices"] == ["cpu"]
    assert result["test_rmse"] == pytest.approx(np.sqrt(result["test_mse"]))
    again = evaluate(str(tmp_path / "run"))
    assert again["mae"] == pytest.approx(result["test_mae"], rel=1e-9)
    assert again["epoch"] == 3
    # the config given is not changed by train()
    assert cfg["output"]["dir"] == "runs/boston"
    from distflow.data import boston
    (_, _), (x_test, y_test) = boston.load_data()
    pred = predict_array(str(tmp_path / "run"), x_test)
    assert np.mean(np.abs(pred - y_test)) == pytest.approx(result["test_mae"], rel=1e-6)


def test_train_resumes_a_finished_run_without_training(tmp_path):
    cfg = _config("train.epochs=2", "output.plot=false", "output.tensorboard=false")
    first = train(cfg, output=str(tmp_path / "run"), progress=False)
    with pytest.raises(ConfigError, match="already holds a run"):
        train(cfg, output=str(tmp_path / "run"), progress=False)
    second = train(cfg, output=str(tmp_path / "run"), resume=True, progress=False)
    assert second["resumed_at_epoch"] == 2 and second["samples_per_s"] is None
    assert second["test_mae"] == first["test_mae"]
    assert len(checkpoint.all_checkpoints(str(tmp_path / "run" / "checkpoints"))) == 1


def test_checkpoint_holds_the_whole_training_state(tmp_path):
    cfg = _config("train.epochs=2", "output.plot=false", "output.tensorboard=false",
                  "output.checkpoint_every=1")
    train(cfg, output=str(tmp_path / "run"), progress=False)
    arrays, meta = checkpoint.load(checkpoint.latest(str(tmp_path / "run" / "checkpoints")))
    assert meta["epoch"] == 2 and meta["step"] == 52 and meta["step_in_epoch"] == 0
    assert int(arrays["global_step"]) == 52
    assert float(arrays["beta1_power"]) == pytest.approx(0.9 ** 53, rel=1e-5)  # Adam's powers
    assert arrays["dense/kernel/Adam"].shape == (13, 64)  # the slots
    assert len(meta["standardizer"]["mean"]) == 13 and meta["features"][0] == "CRIM"
    assert meta["rng"] == {"data_order": [42, 2], "dropout": [42, 2, 0]}
    assert meta["config"]["train"]["epochs"] == 2 and meta["ranks"] == 1


def test_truncate_history_keeps_epochs_up_to_the_checkpoint(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"epoch": e, "train_loss": 1.0 / e}) for e in (1, 2, 3, 4)]
    path.write_text("\n".join(lines) + '\n{"epoch": 5, "train_lo')  # killed mid-line
    assert [r["epoch"] for r in read_history(str(tmp_path))] == [1, 2, 3, 4]
    truncate_history(str(tmp_path), 2)
    assert [r["epoch"] for r in read_history(str(tmp_path))] == [1, 2]
    log = RunLog(str(tmp_path), resume_epoch=1, tensorboard=False)
    log.write({"epoch": 2, "train_loss": 0.25})
    log.close()
    assert read_history(str(tmp_path)) == [{"epoch": 1, "train_loss": 1.0},
                                           {"epoch": 2, "train_loss": 0.25}]


def test_progress_without_a_terminal_prints_lines():
    out = io.StringIO()
    p = Progress(epochs=2, steps_per_epoch=4, stream=out, log_every=3)
    for step in range(1, 5):
        p.step(1, step, step, 10.0 / step, 1000.0)
    p.epoch({"epoch": 1, "step": 4, "train_loss": 2.5, "train_rmse": 1.58, "train_mae": 1.2,
             "test_loss": None, "samples_per_s": 1234.0})
    p.close()
    lines = out.getvalue().splitlines()
    assert lines == ["epoch 1/2 step 3 (3/4): loss 3.333, 1000 samples/s",
                     "epoch 1/2 (step 4): train loss 2.5 RMSE 1.58 MAE 1.2, 1234 samples/s"]


def test_progress_bar_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    out = Tty()
    p = Progress(epochs=1, steps_per_epoch=3, stream=out)
    for step in range(1, 4):
        p.step(1, step, step, 1.5, 99.0)
    p.close()
    text = out.getvalue()
    assert "\r" in text and "3/3" in text and "epoch 1/1, step 3, loss 1.5" in text


def test_progress_is_silent_on_other_ranks():
    out = io.StringIO()
    p = Progress(epochs=1, steps_per_epoch=1, enabled=False, stream=out, log_every=1)
    p.step(1, 1, 1, 1.0, 1.0)
    p.write("x")
    p.close()
    assert out.getvalue() == ""

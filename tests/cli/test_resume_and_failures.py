"""Checkpoints at work: a run killed at a random moment and resumed ends with exactly the
parameters of an uninterrupted run; a checkpoint resumes on another number of ranks; a NaN loss
stops training with the step named and keeps the last good checkpoint."""
import json
import os
import random
import shutil
import signal
import time

import numpy as np
import pytest

from cli_support import BOSTON_YAML, distflow, final_arrays, start

from distflow.run import checkpoint

QUICK = ["--set", "output.plot=false", "--no-progress"]


def _train(out, *overrides, ranks=1, resume=False, cwd=None):
    args = ["train", BOSTON_YAML, "--output", out] + QUICK
    for o in overrides:
        args += ["--set", o]
    if resume:
        args.append("--resume")
    return distflow(args, ranks=ranks, cwd=cwd, timeout=300)


def _assert_same(a, b, exact=True):
    assert sorted(a) == sorted(b)  # weights, Adam slots, beta powers, global step
    for name in a:
        if exact:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        else:
            np.testing.assert_allclose(a[name], b[name], rtol=1e-4, atol=1e-5, err_msg=name)


def test_kill_at_a_random_moment_then_resume_is_exact(tmp_path):
    settings = ["train.epochs=60", "output.checkpoint_every=2", "output.keep=2"]
    assert _train(tmp_path / "whole", *settings).returncode == 0
    whole, _ = final_arrays(tmp_path / "whole")

    out = tmp_path / "killed"
    args = ["train", BOSTON_YAML, "--output", out] + QUICK
    for s in settings:
        args += ["--set", s]
    proc = start(args, cwd=tmp_path)
    ckpts = out / "checkpoints"
    deadline = time.time() + 120
    while not (ckpts.exists() and checkpoint.all_checkpoints(str(ckpts))) and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(random.uniform(0.0, 0.3))  # somewhere in a later epoch, maybe mid-checkpoint
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    _, meta = final_arrays(out)
    assert meta["epoch"] < 60

    resumed = _train(out, *settings, resume=True, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from" in resumed.stdout
    final, meta = final_arrays(out)
    assert meta["epoch"] == 60 and meta["step"] == 60 * 26
    _assert_same(final, whole, exact=True)
    # metrics.jsonl reads as one run: each epoch once, in order
    epochs = [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert epochs == list(range(1, 61))


@pytest.mark.parametrize("first,then", [(1, 2), (2, 1)])
def test_resume_on_a_different_number_of_ranks(tmp_path, first, then):
    settings = ["train.epochs=8", "output.checkpoint_every=4", "output.keep=5"]
    whole_dir = tmp_path / "whole"
    assert _train(whole_dir, *settings, ranks=first).returncode == 0
    whole, _ = final_arrays(whole_dir)
    # the same run, as if stopped after epoch 4: drop what came later
    part = tmp_path / "part"
    shutil.copytree(whole_dir, part)
    for path in checkpoint.all_checkpoints(str(part / "checkpoints")):
        if checkpoint.load(path)[1]["epoch"] > 4:
            os.unlink(path)
    proc = _train(part, *settings, ranks=then, resume=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("resuming from") == 1 and "epoch 4" in proc.stdout
    final, meta = final_arrays(part)
    assert meta["ranks"] == then and meta["epoch"] == 8
    _assert_same(final, whole, exact=False)  # only float summation order differs


@pytest.mark.parametrize("ranks", [1, 2])
def test_nan_loss_stops_with_the_step_named(tmp_path, ranks):
    # SGD at 1e-3 for 60 steps (two good epochs, each checkpointed), then a rate that diverges
    out = tmp_path / "nan"
    proc = _train(out, "optimizer.name=sgd", "optimizer.schedule=piecewise",
                  "optimizer.boundaries=[60]", "optimizer.values=[0.001, 10.0]",
                  "output.checkpoint_every=1", "train.epochs=10", ranks=ranks)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "RuntimeWarning" not in proc.stderr
    messages = [line for line in proc.stderr.splitlines() if "distflow:" in line]
    assert len(messages) == 1, proc.stderr
    msg = messages[0]
    assert "the loss became" in msg and "(epoch 3, step" in msg
    step = int(msg.split("at step ")[1].split()[0])
    assert 60 < step <= 78
    good = os.path.join(str(out), "checkpoints", "ckpt-00000052.npz")
    assert good in msg
    arrays, meta = final_arrays(out)
    assert meta["epoch"] == 2 and all(np.all(np.isfinite(a)) for a in arrays.values())
    epochs = [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2] and not (out / "summary.json").exists()

"""TF's multi-worker tutorial CNN in Keras fit under MultiWorkerMirroredStrategy on 1, 2 and 3
ranks gives the weights and History of one process without a strategy (1e-5), on the bundled
digits, with arrays (a short last batch, validation_split) and with the tutorial's repeated
dataset and steps_per_epoch (workers/strategy_cnn.py)."""
import os
import subprocess
import sys

import numpy as np
import pytest

from mpi_launch import REPO, WORKERS, assert_ok, launches_mpi, run_mpi

WORKER = os.path.join(WORKERS, "strategy_cnn.py")


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    folder = tmp_path_factory.mktemp("strategy_cnn_reference")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "OMPI_"))}
    made = {}
    for mode in ("arrays", "dataset"):
        made[mode] = str(folder / (mode + ".npz"))
        proc = subprocess.run([sys.executable, WORKER, made[mode], mode, "reference"], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stderr[-4000:]
    return made


@launches_mpi
@pytest.mark.parametrize("ranks", [1, 2, 3])
@pytest.mark.parametrize("mode", ["arrays", "dataset"])
def test_tutorial_cnn_fit_on_n_ranks_is_one_process(references, tmp_path, ranks, mode):
    out = str(tmp_path / "out.npz")
    assert_ok(run_mpi(ranks, [WORKER, out, mode], timeout=240))
    ref, got = np.load(references[mode]), np.load(out)
    assert sorted(ref.files) == sorted(got.files)
    expected = {"history_loss", "history_accuracy"}
    if mode == "arrays":
        expected |= {"history_val_loss", "history_val_accuracy"}
    assert expected <= set(got.files), got.files
    for key in ref.files:
        np.testing.assert_allclose(got[key], ref[key], rtol=1e-5, atol=1e-6, err_msg=key)
    assert not np.allclose(got["history_loss"][0], got["history_loss"][-1])  # it trained

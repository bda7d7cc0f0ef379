"""`distflow train` on a GPU: the Boston run reaches the CPU's test metrics, CUDA graphs change
nothing but speed, and two ranks sharing the GPU (host-staged) train as one process does."""
import json
import os

import pytest

import distflow.distribute as dd
from distflow.run import trainer
from distflow.run.config import load_config
from mpi_launch import REPO, assert_ok, launches_mpi, run_mpi

pytestmark = pytest.mark.gpu

BOSTON = os.path.join(REPO, "configs", "boston.yaml")
QUIET = ["output.plot=false", "output.tensorboard=false", "output.checkpoint_every=0"]


def _train(tmp_path, name, device, *overrides):
    dd.shutdown()  # each run joins its own job (device, communicator)
    try:
        config = load_config(BOSTON, QUIET + list(overrides))
        return trainer.train(config, output=str(tmp_path / name), device=device, progress=False)
    finally:
        dd.shutdown()


def test_boston_on_the_gpu_reaches_the_test_metrics_of_the_cpu(tmp_path):
    cpu = _train(tmp_path, "cpu", "cpu", "train.epochs=20")
    gpu = _train(tmp_path, "gpu", "gpu", "train.epochs=20")
    assert gpu["devices"] == ["gpu:0"] and cpu["devices"] == ["cpu"]
    for key in ("test_rmse", "test_mae", "train_rmse"):
        assert gpu[key] == pytest.approx(cpu[key], rel=2e-2), key
    print("Boston, 20 epochs: test RMSE cpu %.4f gpu %.4f; %.0f vs %.0f samples/s"
          % (cpu["test_rmse"], gpu["test_rmse"], cpu["samples_per_s"], gpu["samples_per_s"]))


def test_cuda_graphs_change_nothing_but_speed(tmp_path):
    on = _train(tmp_path, "on", "gpu", "train.epochs=3", "cuda_graphs=true")
    off = _train(tmp_path, "off", "gpu", "train.epochs=3", "cuda_graphs=false")
    for key in ("test_rmse", "test_mae", "train_rmse"):
        assert on[key] == pytest.approx(off[key], rel=1e-6), key
    print("Boston, 3 epochs on the GPU: %.0f samples/s with CUDA graphs, %.0f without"
          % (on["samples_per_s"], off["samples_per_s"]))


@launches_mpi
def test_two_ranks_sharing_the_gpu_train_as_one_process(tmp_path):
    one = _train(tmp_path, "one", "gpu", "train.epochs=3")
    out = tmp_path / "two"
    args = ["-m", "distflow", "train", BOSTON, "--device", "gpu", "--output", str(out),
            "--no-progress"] + [a for o in QUIET + ["train.epochs=3"] for a in ("--set", o)]
    proc = run_mpi(2, args, timeout=300)
    assert_ok(proc)
    assert "host-staged communicator" in proc.stdout  # the choice is logged, with its reason
    with open(out / "summary.json") as f:
        two = json.load(f)
    assert two["ranks"] == 2 and two["devices"] == ["gpu:0", "gpu:0"]
    for key in ("test_rmse", "test_mae", "train_rmse"):
        assert two[key] == pytest.approx(one[key], rel=1e-3), key

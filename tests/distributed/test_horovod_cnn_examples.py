"""Horovod's two TF2 example programs (examples/tensorflow2/tensorflow2_mnist.py and
tensorflow2_keras_mnist.py), their patterns and their CNN, on `mpirun -n 2` and `-n 3` with
MNIST read from Keras's cache: small mnist-<rank>.npz files in Keras's exact format (uint8
x_train (n, 28, 28), y_train (n,), x_test, y_test) in a temporary KERAS_HOME, never the
network. workers/horovod_cnn_examples.py checks that the replicas end identical."""
import os

import numpy as np
import pytest

from mpi_launch import WORKERS, assert_ok, launches_mpi, run_mpi

WORKER = os.path.join(WORKERS, "horovod_cnn_examples.py")


def make_keras_home(folder, ranks, rows=48):
    datasets = folder / "datasets"
    datasets.mkdir(parents=True)
    for r in range(ranks):
        rng = np.random.default_rng(r)
        np.savez_compressed(datasets / ("mnist-%d.npz" % r),
                            x_train=rng.integers(0, 256, (rows, 28, 28), dtype=np.uint8),
                            y_train=rng.integers(0, 10, rows).astype(np.uint8),
                            x_test=rng.integers(0, 256, (8, 28, 28), dtype=np.uint8),
                            y_test=rng.integers(0, 10, 8).astype(np.uint8))
    return str(folder)


@launches_mpi
@pytest.mark.parametrize("ranks", [2, 3])
@pytest.mark.parametrize("mode", ["tape", "keras"])
def test_horovod_tf2_example_runs_and_replicas_end_identical(tmp_path, ranks, mode):
    home = make_keras_home(tmp_path / "keras", ranks)
    out = tmp_path / "out"
    out.mkdir()
    proc = run_mpi(ranks, [WORKER, str(out), mode], timeout=300, collective_timeout=120,
                   env={"KERAS_HOME": home})
    assert_ok(proc)
    assert "%s ok: %d ranks" % (mode, ranks) in proc.stdout, proc.stdout
    if mode == "keras":  # Horovod's warmup callback reports the end of its warmup (rank 0)
        assert proc.stdout.count("finished gradual learning rate warmup") == 1, proc.stdout

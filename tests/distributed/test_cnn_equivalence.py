"""The tutorial CNN (conv, max pooling and their gradients) on the bundled digits: 2 and 3
ranks with DistributedOptimizer train exactly as one process on the global batch
(workers/cnn_equivalence.py compares every parameter after every step to 1e-5)."""
import os

import pytest

from mpi_launch import WORKERS, assert_ok, launches_mpi, run_mpi

WORKER = os.path.join(WORKERS, "cnn_equivalence.py")


@launches_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_n_ranks_train_the_cnn_like_one_process(ranks):
    proc = run_mpi(ranks, [WORKER], timeout=240)
    assert_ok(proc)
    assert "cnn equivalent: %d ranks, 6 steps" % ranks in proc.stdout, proc.stdout

"""Keras files and tf.saved_model under mpirun: only rank 0 writes, every rank reads rank 0's
.keras back with its own predictions, LR callbacks agree across ranks and print once."""
import os
import re

import pytest

from mpi_launch import WORKERS, assert_ok, launches_mpi, run_mpi

pytest.importorskip("h5py")


@launches_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_only_rank0_writes_and_every_rank_reads(tmp_path, ranks):
    proc = run_mpi(ranks, [os.path.join(WORKERS, "keras_files.py"), str(tmp_path)], timeout=240)
    assert_ok(proc)
    # lines of several ranks may interleave without a newline between them
    assert sorted(re.findall(r"rank (\d+) ok", proc.stdout)) == [str(r) for r in range(ranks)]
    assert proc.stdout.count("LearningRateScheduler setting learning rate to 0.05.") == 1

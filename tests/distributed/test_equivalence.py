"""THE guarantee of data parallelism: N ranks train exactly as one process on the global batch.

Each case runs workers/equivalence.py under `mpirun -n N`: the Boston MLP 13-64-64-1 (ReLU),
3 epochs, plain SGD and Adam, in graph mode (Session), eagerly and in a df.function, with the
parameters compared to a one-process run after EVERY step to 1e-5 relative. 506 rows make a
short last batch (26 rows at batch 32, 26 at batch 30), and batch 30 on 4 ranks gives uneven
parts (8, 8, 7, 7), and 7, 7, 6, 6 in the last batch.
"""
import os

import pytest

from mpi_launch import WORKERS, assert_ok, launches_mpi, run_mpi

WORKER = os.path.join(WORKERS, "equivalence.py")


@launches_mpi
@pytest.mark.parametrize("ranks, batch, modes", [(2, 32, "graph,function"), (4, 30, "graph")])
def test_with_gradients_reduced_in_shared_memory_too(ranks, batch, modes):
    """Hidden layers of 128 make 73 KiB of gradients: a plan reduces them through shared memory
    (distribute/shared_memory.py) instead of MPI_Allreduce, with the same guarantee; batch 30
    on 4 ranks gives parts of 8 and 7 rows, and 7 and 6 in the last batch."""
    proc = run_mpi(ranks, [WORKER, "--batch", str(batch), "--modes", modes, "--hidden", "128",
                           "--optimizers", "sgd,adam"], timeout=240)
    assert_ok(proc)
    for mode in modes.split(","):
        for opt in ("sgd", "adam"):
            assert "equivalent: %s %s, %d ranks" % (mode, opt, ranks) in proc.stdout, proc.stdout
    # One buffer per optimizer and mode (a df.function step is a plan too): the short last batch
    # of an epoch gets a plan of its own, which shares the first plan's buffer.
    assert "buffers reduced in shared memory: %d" % (2 * len(modes.split(","))) in proc.stdout


@launches_mpi
@pytest.mark.parametrize("ranks, batch, modes", [
    (1, 32, "graph,eager,function"),
    (2, 32, "graph,eager,function"),
    (3, 32, "graph,eager,function"),
    (4, 32, "graph"),
    (4, 30, "graph,eager,function"),
])
def test_n_ranks_train_exactly_like_one_process(ranks, batch, modes):
    proc = run_mpi(ranks, [WORKER, "--batch", str(batch), "--modes", modes,
                           "--optimizers", "sgd,adam"], timeout=240)
    assert_ok(proc)
    for mode in modes.split(","):
        for opt in ("sgd", "adam"):
            line = "equivalent: %s %s, %d ranks, global batch %d" % (mode, opt, ranks, batch)
            assert line in proc.stdout, proc.stdout
    # 506 rows: 16 steps per epoch at batch 32, 17 at batch 30, over 3 epochs.
    assert ("%d steps" % (3 * -(-506 // batch))) in proc.stdout
    # Only rank 0 speaks.
    assert proc.stdout.count("equivalent:") == 2 * len(modes.split(","))

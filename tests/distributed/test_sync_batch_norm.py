"""SyncBatchNormalization: N ranks (2 and 3), each with part of the global batch, train a small
CNN exactly as one process with BatchNormalization on the whole batch (workers/
sync_batch_norm.py compares outputs, weights and moving statistics after every step)."""
import os

import numpy as np
import pytest

from mpi_launch import WORKERS, assert_ok, launches_mpi, run_mpi
from op_check import (Case, check_forward, check_graph_gradient_with_unknown_dims,
                      check_second_derivative, op_types_built)

WORKER = os.path.join(WORKERS, "sync_batch_norm.py")


@launches_mpi
@pytest.mark.parametrize("ranks, mode", [(2, "eager"), (3, "function")])
def test_n_ranks_normalize_with_the_global_batch(ranks, mode):
    proc = run_mpi(ranks, [WORKER, "--mode", mode], timeout=180)
    assert_ok(proc)
    assert "sync batch norm equivalent: %s, %d ranks" % (mode, ranks) in proc.stdout, proc.stdout


def test_one_process_is_plain_batch_statistics():
    import distflow as tf
    x = (np.random.RandomState(1).randn(8, 3, 3, 4) * 3 - 2).astype(np.float32)
    plain = tf.keras.layers.BatchNormalization(momentum=0.5)
    sync = tf.keras.layers.experimental.SyncBatchNormalization(momentum=0.5)
    np.testing.assert_allclose(sync(x, training=True).numpy(), plain(x, training=True).numpy(),
                               atol=1e-5)
    np.testing.assert_allclose(sync.moving_variance.numpy(), plain.moving_variance.numpy(),
                               rtol=1e-5)
    assert sync.name.startswith("sync_batch_normalization")


# CollectiveSum (the differentiable sum over ranks under the synchronized statistics) against the
# op table's checks: on one rank the identity, with gradients (graph, finite differences) and
# second derivatives (nested tapes and graph). Its kernel is stateful (a collective), so the
# eager tape runs its backward through the walker, never a compiled plan: the table's
# compiled-backward check does not apply.
def _collective_sum(x):
    from distflow.distribute.collective_sum import collective_sum
    return collective_sum(x * x) * 2.0


CASE = Case("collective_sum", _collective_sum, lambda x: 2 * x * x,
            [np.random.RandomState(2).uniform(-1, 1, (3, 2))], second=True)


def test_collective_sum_forward_gradient_and_second_derivative():
    check_forward(CASE)
    check_graph_gradient_with_unknown_dims(CASE)
    check_second_derivative(CASE)
    assert "CollectiveSum" in op_types_built(CASE)
    import distflow as tf
    x = tf.constant(CASE.inputs[0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(_collective_sum(x))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), 4 * CASE.inputs[0])

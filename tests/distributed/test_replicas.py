"""broadcast_variables, variables_checksum and reduce_metrics: in-process on one rank, and on
real ranks (launched under mpirun -n 2 and -n 3) where replicas start different on purpose."""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf
import distflow.distribute as dd
from distflow.distribute.runtime import launched_by_mpi
from mpi_launch import assert_ok, launches_mpi, run_pytest_under_mpi

UNDER_MPI = launched_by_mpi()


@pytest.fixture
def comm():
    if UNDER_MPI:
        return dd.init().communicator
    return dd.SingleCommunicator()


def _graph_model(rank):
    """Two variables whose values depend on the rank, one that does not, and a session."""
    w = tf.Variable(np.full((2, 3), 1.0 + rank, np.float32), name="w")
    b = tf.Variable(np.arange(3, dtype=np.float64) * (rank + 1), name="b")
    same = tf.Variable(np.int32(7), name="same")
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    return [w, b, same], sess


def test_checksum_follows_the_values(comm):
    (w, b, same), sess = _graph_model(0)
    first = dd.variables_checksum(sess, communicator=comm)
    assert first == dd.variables_checksum(sess, [w, b, same], communicator=comm)
    sess.run(w.assign(np.zeros((2, 3), np.float32)))
    assert dd.variables_checksum(sess, communicator=comm) != first
    assert dd.variables_checksum(sess, [w], communicator=comm) != \
        dd.variables_checksum(sess, [b], communicator=comm)


def test_checksum_of_graph_variables_needs_a_session(comm):
    w = tf.Variable(np.ones(2, np.float32), name="w")
    with pytest.raises(ValueError, match="needs a Session"):
        dd.variables_checksum([w], communicator=comm)


def test_broadcast_on_one_rank_changes_nothing():
    (w, b, same), sess = _graph_model(0)
    before = sess.run([w, b, same])
    dd.broadcast_variables(sess, communicator=dd.SingleCommunicator())
    for x, y in zip(before, sess.run([w, b, same])):
        np.testing.assert_array_equal(x, y)


@pytest.mark.mpi(min_size=2)
def test_graph_replicas_differ_until_broadcast(comm):
    (w, b, same), sess = _graph_model(comm.rank)
    with pytest.raises(dd.ReplicaMismatchError) as err:
        dd.variables_checksum(sess, communicator=comm)
    others = ", ".join(str(r) for r in range(1, comm.size))
    msg = str(err.value)
    assert "2 of 3 variables" in msg
    plural = "s" if comm.size > 2 else ""
    assert "'w:0' differs from rank 0's on rank%s %s" % (plural, others) in msg
    assert "'b:0'" in msg and "'same:0'" not in msg
    dd.broadcast_variables(sess, communicator=comm)
    np.testing.assert_array_equal(sess.run(w), np.ones((2, 3)))
    np.testing.assert_array_equal(sess.run(b), np.arange(3.0))
    digest = dd.variables_checksum(sess, communicator=comm)
    assert comm.allgather_object(digest) == [digest] * comm.size


@pytest.mark.mpi(min_size=2)
def test_broadcast_from_another_root_and_as_an_op(comm):
    (w, b, same), sess = _graph_model(comm.rank)
    root = comm.size - 1
    op = dd.broadcast_variables([w, b], root=root, communicator=comm)
    assert op.type == "BroadcastVariables"
    sess.run(op)
    np.testing.assert_array_equal(sess.run(w), np.full((2, 3), 1.0 + root))
    np.testing.assert_array_equal(sess.run(b), np.arange(3.0) * (root + 1))


@pytest.mark.mpi(min_size=2)
def test_eager_replicas_are_made_identical(comm):
    v = df.Variable(np.full(4, float(comm.rank), np.float32))
    snapshot = v.read_value()
    dd.broadcast_variables([v], communicator=comm)
    np.testing.assert_array_equal(v.numpy(), np.zeros(4))
    np.testing.assert_array_equal(snapshot.numpy(), np.full(4, float(comm.rank)))  # reads stay
    dd.variables_checksum([v], communicator=comm)


@pytest.mark.mpi(min_size=2)
def test_broadcasting_uninitialized_variables_fails_on_every_rank(comm):
    w = tf.Variable(np.ones(2, np.float32), name="w")
    sess = tf.Session()
    with pytest.raises(tf.errors.FailedPreconditionError, match="uninitialized value w:0"):
        dd.broadcast_variables(sess, communicator=comm)


@pytest.mark.mpi(min_size=2)
def test_metrics_are_weighted_by_sample_counts(comm):
    r, n = comm.rank, comm.size
    means, count = dd.reduce_metrics({"loss": float((r + 1) ** 2)}, r + 1, communicator=comm)
    assert count == n * (n + 1) // 2
    expected = sum((k + 1) ** 2 for k in range(n)) / count  # not the mean of per-rank means
    assert means["loss"] == pytest.approx(expected)


@launches_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_on_real_ranks(ranks):
    assert_ok(run_pytest_under_mpi(ranks, "test_replicas.py"))

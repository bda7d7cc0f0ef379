"""Event files written by FileWriter (TF1) and create_file_writer (TF2), read back with
TensorBoard's own loaders: what a user sees in TensorBoard's Scalars, Histograms and Graph tabs."""
import glob
import os
import socket
import time

import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf
from distflow.framework import context

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader  # noqa: E402
from tensorboard.compat.proto.event_pb2 import Event  # noqa: E402


def _event_files(logdir):
    return sorted(glob.glob(os.path.join(str(logdir), "events.out.tfevents.*")))


def _events(path):
    """The events exactly as stored (EventFileLoader would add converted copies of some)."""
    return [Event.FromString(raw) for raw in RawEventFileLoader(path).Load()]


def _accumulator(logdir):
    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


def _scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def _course_program(logdir, steps=5):
    """The TF1 course's linear regression with a loss summary, as students write it."""
    rng = np.random.default_rng(1)
    xs = rng.normal(size=(16, 1)).astype(np.float32)
    ys = (3 * xs + 0.5).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 1], name="x")
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    w = tf.Variable(tf.zeros([1, 1]), name="w")
    b = tf.Variable(tf.zeros([1]), name="b")
    loss = tf.reduce_mean(tf.square(x * w + b - y))
    train_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    tf.summary.scalar("loss", loss)
    merged = tf.summary.merge_all()
    losses = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        writer = tf.summary.FileWriter(str(logdir), sess.graph)
        for step in range(steps):
            summ, l, _ = sess.run([merged, loss, train_op], {x: xs, y: ys})
            writer.add_summary(summ, step)
            losses.append(float(l))
        writer.close()
    return xs, ys, losses, tf.get_default_graph()


def test_course_program_scalars_and_graph(tmp_path):
    xs, ys, losses, graph = _course_program(tmp_path)
    path, = _event_files(tmp_path)
    # TensorFlow's file name: events.out.tfevents.<10-digit seconds>.<hostname>
    seconds, host = os.path.basename(path).split(".", 3)[3].split(".", 1)
    assert len(seconds) == 10 and abs(int(seconds) - time.time()) < 600
    assert host == socket.gethostname()

    events = _events(path)
    assert events[0].file_version == "brain.Event:2"
    assert events[1].WhichOneof("what") == "graph_def"
    assert [e.WhichOneof("what") for e in events[2:]] == ["summary"] * 5

    acc = _accumulator(tmp_path)
    assert acc.Tags()["scalars"] == ["loss"]
    got = _scalars(acc, "loss")
    assert [s for s, _ in got] == list(range(5))
    assert [v for _, v in got] == [np.float32(l) for l in losses]
    # Step 0 runs before any update: w = b = 0, so the loss is mean(y^2), computed here by NumPy.
    assert got[0][1] == pytest.approx(float(np.mean(ys.astype(np.float64) ** 2)), rel=1e-6)
    assert got[-1][1] < got[0][1]

    gd = acc.Graph()
    nodes = {n.name: n for n in gd.node}
    assert [(n.name, n.op) for n in gd.node] == [(o.name, o.type) for o in graph.get_operations()]
    assert nodes["x"].op == "Placeholder" and nodes["loss"].op == "ScalarSummary"
    assert nodes["Merge/MergeSummary"].input == ["loss"]
    assert nodes["loss"].input == ["Mean"] and nodes["Mean"].op == "Mean"


def test_summary_named_like_an_existing_op_gets_a_unique_tag_as_in_tf():
    loss = tf.reduce_mean(tf.constant([1.0, 2.0]), name="loss")
    assert tf.summary.scalar("loss", loss).op.get_attr("tag") == "loss_1"


def test_summary_op_naming_follows_tf1():
    x = tf.constant(1.0)
    s1 = tf.summary.scalar("acc", x)
    s2 = tf.summary.scalar("acc", x)
    with tf.name_scope("eval"):
        s3 = tf.summary.scalar("acc", x)
    s4 = tf.summary.scalar("acc", x, family="train")
    assert [s.op.name for s in (s1, s2, s3, s4)] == ["acc", "acc_1", "eval/acc", "train/acc"]
    assert [s.op.get_attr("tag") for s in (s1, s2, s3, s4)] == \
        ["acc", "acc_1", "eval/acc", "train/train/acc"]
    assert tf.get_collection(tf.GraphKeys.SUMMARIES) == [s1, s2, s3, s4]
    assert str(s1.shape) == "(?,)" and s1.dtype == tf.uint8
    assert tf.summary.scalar("loss value!", x).op.get_attr("tag") == "loss_value_"


def test_merge_all_is_none_without_summaries():
    tf.constant(1.0)
    assert tf.summary.merge_all() is None


def test_merged_summary_holds_every_value(tmp_path):
    a = tf.placeholder(tf.float32, [], name="value")
    tf.summary.scalar("a", a)
    tf.summary.scalar("twice_a", a * 2)
    tf.summary.histogram("weights", tf.constant([1.0, 2.0, 2.0, 8.0]))
    merged = tf.summary.merge_all()
    with tf.Session() as sess, tf.summary.FileWriter(str(tmp_path)) as writer:
        for step, value in [(10, 0.0), (20, -1.5)]:
            writer.add_summary(sess.run(merged, {a: value}), global_step=step)
    acc = _accumulator(tmp_path)
    assert _scalars(acc, "a") == [(10, 0.0), (20, -1.5)]
    assert _scalars(acc, "twice_a") == [(10, 0.0), (20, -3.0)]
    h = acc.Histograms("weights")[0].histogram_value
    assert (h.min, h.max, h.num, h.sum, h.sum_squares) == (1.0, 8.0, 4.0, 13.0, 73.0)
    counts = np.histogram([1.0, 2.0, 2.0, 8.0], bins=30, range=(1.0, 8.0))[0]
    assert list(h.bucket) == list(counts) and sum(h.bucket) == 4
    assert h.bucket_limit[-1] == 8.0


def test_histogram_of_nan_fails_like_tf():
    h = tf.summary.histogram("w", tf.constant([1.0, float("nan")]))
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError,
                                             match="Nan in summary histogram for: w"):
        sess.run(h)


def test_scalar_summary_of_a_vector_is_rejected():
    with pytest.raises(ValueError, match=r"tags and values not the same shape: \[\] != \[3\]"):
        tf.summary.scalar("v", tf.constant([1.0, 2.0, 3.0]))


def test_add_summary_accepts_a_hand_built_summary_and_rejects_a_plain_tensor_value(tmp_path):
    with tf.summary.FileWriter(str(tmp_path)) as writer:
        s = tf.Summary(value=[tf.Summary.Value(tag="manual", simple_value=0.75)])
        writer.add_summary(s, 3)
        with pytest.raises(TypeError, match="summary op"):
            writer.add_summary(np.float32(0.5), 4)
    assert _scalars(_accumulator(tmp_path), "manual") == [(3, 0.75)]


def test_flush_makes_events_readable_before_close(tmp_path):
    writer = tf.summary.FileWriter(str(tmp_path), flush_secs=3600, max_queue=100)
    writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="t", simple_value=1.0)]), 1)
    assert len(_events(writer.path)) == 1  # the file_version record is flushed at once
    writer.flush()
    assert len(_events(writer.path)) == 2
    writer.close()
    writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="t", simple_value=2.0)]), 2)
    assert len(_events(writer.path)) == 2  # dropped after close(), as in TensorFlow
    writer.reopen()
    writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="t", simple_value=3.0)]), 3)
    writer.close()
    assert len(_event_files(tmp_path)) == 2
    assert _scalars(_accumulator(tmp_path), "t") == [(1, 1.0), (3, 3.0)]


def test_max_queue_flushes_without_close(tmp_path):
    writer = tf.summary.FileWriter(str(tmp_path), flush_secs=3600, max_queue=2)
    for step in range(4):
        writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="t", simple_value=step)]), step)
    assert len(_events(writer.path)) == 5
    writer.close()


def test_writers_in_one_directory_in_the_same_second_get_separate_files(tmp_path):
    w1 = tf.summary.FileWriter(str(tmp_path))
    w2 = tf.summary.FileWriter(str(tmp_path))
    assert w1.path != w2.path
    w1.close()
    w2.close()
    assert len(_event_files(tmp_path)) == 2


# -- TF2 -------------------------------------------------------------------------------------------
def test_tf2_scalars_histogram_and_graph(tmp_path):
    writer = df.summary.create_file_writer(str(tmp_path / "run"))
    assert writer.path.endswith(".v2")
    v = df.Variable(2.0)
    with writer.as_default():
        for step in range(3):
            assert df.summary.scalar("loss", 1.0 / (step + 1), step=step)
        assert df.summary.scalar("var", v, step=7)
        assert df.summary.scalar("tensor", df.constant(0.5, df.float64), step=df.constant(8))
        assert df.summary.histogram("h", np.arange(10.0), step=1, buckets=5)
        g = tf.Graph()
        with g.as_default():
            tf.placeholder(tf.float32, [None, 13], name="features")
        assert df.summary.graph(g)
    # as_default() flushed on exit: everything is on disk without close().
    acc = _accumulator(tmp_path / "run")
    assert _scalars(acc, "loss") == [(0, 1.0), (1, np.float32(0.5)), (2, np.float32(1 / 3))]
    assert _scalars(acc, "var") == [(7, 2.0)]
    assert _scalars(acc, "tensor") == [(8, 0.5)]
    h = acc.Histograms("h")[0]
    assert h.step == 1 and list(h.histogram_value.bucket) == [2, 2, 2, 2, 2]
    assert [n.name for n in acc.Graph().node] == ["features"]
    writer.close()


def test_tf2_default_step_and_missing_step(tmp_path):
    writer = df.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        with pytest.raises(ValueError, match="No step set"):
            df.summary.scalar("x", 1.0)
        df.summary.experimental.set_step(5)
        try:
            df.summary.scalar("x", 1.0)
        finally:
            df.summary.experimental.set_step(None)
    with writer.as_default(step=9):
        df.summary.scalar("x", 2.0)
    writer.close()
    assert _scalars(_accumulator(tmp_path), "x") == [(5, 1.0), (9, 2.0)]


def test_tf2_without_default_writer_writes_nothing(tmp_path):
    assert df.summary.scalar("x", 1.0, step=0) is False
    with df.summary.create_noop_writer().as_default():
        assert df.summary.scalar("x", 1.0, step=0) is True
    assert _event_files(tmp_path) == []


def test_tf2_rejects_non_scalars_and_symbolic_tensors(tmp_path):
    writer = df.summary.create_file_writer(str(tmp_path))
    with writer.as_default(step=0):
        with pytest.raises(ValueError, match="Expected scalar shape"):
            df.summary.scalar("v", [1.0, 2.0])
        with pytest.raises(TypeError, match="symbolic tensor"):
            df.summary.scalar("v", tf.constant(1.0))
    writer.close()


def test_summary_op_runs_eagerly_under_v1_eager_execution(tmp_path):
    tf.enable_eager_execution()
    try:
        summ = tf.summary.scalar("eager", tf.constant(4.0))
        with tf.summary.FileWriter(str(tmp_path)) as writer:
            writer.add_summary(summ, 1)
    finally:  # disable_eager_execution() would leave every name building graphs, as in TF
        context.reset_defaults()
    assert _scalars(_accumulator(tmp_path), "eager") == [(1, 4.0)]


def test_tf2_flush_writes_pending_events(tmp_path):
    writer = df.summary.create_file_writer(str(tmp_path), max_queue=100, flush_millis=3600000)
    with writer.as_default(step=1):
        df.summary.scalar("x", 1.0)
        assert len(_events(writer.path)) == 1  # only the file_version record so far
        df.summary.flush()
        assert len(_events(writer.path)) == 2
    writer.close()


def test_histogram_reaches_tensorboards_histogram_plugin_format(tmp_path):
    """TensorBoard's UI converts old-style histograms to (left, right, count) rows; ours must
    come out as NumPy's histogram of the same data."""
    from tensorboard import data_compat
    from tensorboard.util import tensor_util
    data = np.random.default_rng(3).normal(size=200)
    with df.summary.create_file_writer(str(tmp_path)).as_default(step=0):
        df.summary.histogram("w", data, buckets=8)
    value, = [v for e in _events(_event_files(tmp_path)[0]) for v in e.summary.value]
    rows = tensor_util.make_ndarray(data_compat.migrate_value(value).tensor)
    counts, edges = np.histogram(data, bins=8)
    np.testing.assert_allclose(rows[:, 0], edges[:-1])
    np.testing.assert_allclose(rows[:, 1], edges[1:])
    np.testing.assert_array_equal(rows[:, 2], counts)

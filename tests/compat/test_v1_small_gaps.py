"""The small TF1 pieces real programs hit first: TF's dtype names, disable_v2_behavior, int
shapes, d v / d v, tf.logging / tf.app / tf.flags, ConfigProto, MonitoredTrainingSession with its
hooks, tf.metrics with local variables, and the plotting that leaves the caller's backend."""
import logging
import subprocess
import sys

import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf
from distflow.framework import context


@pytest.fixture
def restore_mode():
    yield
    context.reset_defaults()


def test_placeholder_dtype_names_are_tfs():
    assert tf.placeholder("float").dtype == tf.float32
    assert tf.placeholder("double").dtype == tf.float64
    assert tf.placeholder("half").dtype == tf.float16
    assert df.as_dtype("float") == df.float32


def test_disable_v2_behavior_then_tf2_names_build_graphs(restore_mode):
    # aymericdamien's programs: import tensorflow.compat.v1 as tf; tf.disable_v2_behavior()
    tf.disable_v2_behavior()
    assert not df.executing_eagerly() and not tf.executing_eagerly()
    x = tf.placeholder("float", [None, 2])
    w = df.Variable(df.ones([2, 1]))           # TF2 names, graph mode as in TF after the call
    y = df.matmul(x, w)
    assert isinstance(y, df.Tensor) and y.shape.as_list() == [None, 1]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(y, {x: [[1.0, 2.0]]}), [[3.0]])
    tf.enable_eager_execution()
    assert df.executing_eagerly() and tf.executing_eagerly()
    assert float(tf.constant(2.0) * 3.0) == 6.0   # TF1 names run eagerly too


@pytest.mark.parametrize("make, shape", [
    (lambda: df.zeros(2), (2,)), (lambda: df.ones(3), (3,)), (lambda: df.fill(3, 7.0), (3,)),
    (lambda: df.random.normal(5), (5,)), (lambda: df.random.uniform(4), (4,))])
def test_plain_int_shapes(make, shape):
    t = make()
    assert t.shape == shape and t.dtype == df.float32
    g = tf.zeros(2)
    assert g.shape.as_list() == [2]


def test_gradient_of_a_variable_by_itself_is_ones():
    v = df.Variable([1.0, 2.0])
    s = df.Variable(3.0)
    with df.GradientTape(persistent=True) as tape:
        y = s * s
    np.testing.assert_array_equal(tape.gradient(v, v), [1.0, 1.0])
    assert float(tape.gradient([y, s], s)) == 7.0       # 2 s + 1
    assert tape.gradient(s, v) is None

    @df.function
    def traced():
        with df.GradientTape() as t:
            z = s * 2.0
        return t.gradient([s, z], s)
    assert float(traced()) == 3.0


def test_logging_writes_tensorflows_lines():
    seen = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append((record.levelname, record.getMessage()))
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    old = tf.logging.get_verbosity()
    try:
        tf.logging.set_verbosity(tf.logging.WARN)
        tf.logging.info("hidden %d", 1)
        tf.logging.set_verbosity(tf.logging.INFO)
        tf.logging.info("step %d", 3)
        tf.logging.warning("careful")
    finally:
        logger.removeHandler(handler)
        tf.logging.set_verbosity(old)
    assert seen == [("INFO", "step 3"), ("WARNING", "careful")]


def test_app_run_parses_flags_and_exits_with_main(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(
        "import distflow.compat.v1 as tf\n"
        "tf.app.flags.DEFINE_integer('steps', 5, 'how many')\n"
        "tf.app.flags.DEFINE_boolean('fast', False, 'go fast')\n"
        "FLAGS = tf.app.flags.FLAGS\n"
        "def main(argv):\n"
        "    print(FLAGS.steps, FLAGS.fast, argv[1:])\n"
        "    return 3\n"
        "tf.app.run()\n")
    out = subprocess.run([sys.executable, str(script), "--steps", "9", "--fast", "rest"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 3, out.stderr
    assert out.stdout.strip() == "9 True ['rest']"


def test_config_proto_is_accepted_and_checked():
    config = tf.ConfigProto(allow_soft_placement=True, log_device_placement=False)
    config.gpu_options.allow_growth = True
    with tf.Session(config=config) as sess:
        assert sess.run(tf.constant(2.0)) == 2.0
    with pytest.raises(AttributeError, match="no \"allow_growht\" field"):
        config.gpu_options.allow_growht = True
    with pytest.raises(TypeError, match="config must be a tf.ConfigProto"):
        tf.Session(config={"allow_soft_placement": True})


def _regression():
    x = tf.placeholder("float", [None, 1])
    y = tf.placeholder("float", [None, 1])
    w = tf.Variable(tf.zeros([1, 1]))
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y), name="loss")
    step = tf.train.get_or_create_global_step()
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=step)
    return x, y, loss, step, train


def test_monitored_training_session_stops_logs_saves_and_resumes(tmp_path):
    x, y, loss, step, train = _regression()
    feed = {x: [[1.0], [2.0]], y: [[2.0], [4.0]]}
    seen = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    old = tf.logging.get_verbosity()
    tf.logging.set_verbosity(tf.logging.INFO)
    hooks = [tf.train.StopAtStepHook(last_step=7),
             tf.train.LoggingTensorHook({"loss": loss, "step": step}, every_n_iter=3)]
    runs = 0
    try:
        with tf.train.MonitoredTrainingSession(checkpoint_dir=str(tmp_path), hooks=hooks,
                                               save_checkpoint_steps=5) as sess:
            while not sess.should_stop():
                sess.run(train, feed)
                runs += 1
    finally:
        logger.removeHandler(handler)
        tf.logging.set_verbosity(old)
    assert runs == 7
    logged = [m for m in seen if m.startswith("loss")]
    assert logged[0] == "loss = 10.0, step = 1" and len(logged) == 3
    assert logged[1].startswith("loss = 0.15625, step = 4 (") and logged[1].endswith(" sec)")
    saves = [m for m in seen if m.startswith("Saving checkpoints")]
    assert [int(m.split()[3]) for m in saves] == [0, 5, 7]
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-7")
    # a second session over the same graph restores step 7 and runs two more
    with tf.train.MonitoredTrainingSession(checkpoint_dir=str(tmp_path),
                                           hooks=[tf.train.StopAtStepHook(num_steps=2)]) as sess:
        assert sess.run(step) == 7
        steps = []
        while not sess.should_stop():
            steps.append(sess.run([train, step], feed)[1])
    assert steps == [8, 9]
    with pytest.raises(RuntimeError, match="Run called even after should_stop"):
        sess.run(train, feed)


def test_hooks_need_a_global_step_and_out_of_range_ends_quietly():
    tf.Variable(1.0)
    with pytest.raises(RuntimeError, match="Global step should be created to use StopAtStepHook"):
        tf.train.MonitoredTrainingSession(hooks=[tf.train.StopAtStepHook(num_steps=1)])
    with pytest.raises(ValueError, match="Only one of num_steps or last_step"):
        tf.train.StopAtStepHook(num_steps=1, last_step=2)
    tf.reset_default_graph()
    c = tf.constant(1.0)
    with tf.train.MonitoredTrainingSession() as sess:
        assert sess.run(c) == 1.0
        raise tf.errors.OutOfRangeError(None, None, "End of sequence")


def test_metrics_accuracy_and_mean_stream_over_local_variables():
    labels = tf.placeholder(tf.int32, [None])
    preds = tf.placeholder(tf.int32, [None])
    acc, acc_update = tf.metrics.accuracy(labels, preds)
    vals = tf.placeholder(tf.float32, [None])
    mean, mean_update = tf.metrics.mean(vals, weights=tf.constant(2.0))
    names = sorted(v.op.name for v in tf.local_variables())
    assert names == ["accuracy/count", "accuracy/total", "mean/count", "mean/total"]
    assert not tf.trainable_variables()
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        assert sess.run(acc) == 0.0                      # no batch yet: 0, not NaN
        assert sess.run(acc_update, {labels: [1, 0, 1], preds: [1, 1, 1]}) == pytest.approx(2 / 3)
        sess.run(acc_update, {labels: [0], preds: [0]})
        assert sess.run(acc) == pytest.approx(3 / 4)
        sess.run(mean_update, {vals: [1.0, 2.0]})
        assert sess.run(mean_update, {vals: [6.0]}) == pytest.approx(3.0)
        sess.run(tf.local_variables_initializer())       # a new evaluation starts at zero
        assert sess.run(acc) == 0.0


def test_plot_history_leaves_the_callers_backend(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    from distflow.run.plot import plot_history
    matplotlib.use("svg")
    before = matplotlib.get_backend()
    path = plot_history([{"epoch": 1, "train_loss": 2.0, "test_loss": 3.0},
                         {"epoch": 2, "train_loss": 1.0, "test_loss": 1.5}],
                        str(tmp_path / "loss.png"))
    assert matplotlib.get_backend() == before
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert "matplotlib.pyplot" not in sys.modules or not sys.modules["matplotlib.pyplot"] \
        .get_fignums()


def test_cli_version():
    out = subprocess.run([sys.executable, "-m", "distflow", "--version"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "distflow " + df.__version__


def test_keras_fit_after_disable_eager_execution_says_what_to_do(restore_mode):
    # TF's Keras falls back to Sessions here; distflow's refuses in one message (not a TypeError)
    model = df.keras.Sequential([df.keras.layers.Dense(1, input_shape=(2,))])
    model.compile("sgd", "mse")
    tf.disable_eager_execution()
    x, y = np.ones((4, 2), np.float32), np.ones((4, 1), np.float32)
    for call in (lambda: model.fit(x, y, verbose=0), lambda: model.evaluate(x, y, verbose=0),
                 lambda: model.predict(x, verbose=0)):
        with pytest.raises(RuntimeError, match="disable_eager_execution"):
            call()
    tf.enable_eager_execution()
    assert model.fit(x, y, verbose=0).history["loss"]

"""The seams between the two dialects of data parallelism: a Horovod DistributedOptimizer or
DistributedGradientTape (distflow.horovod), or distflow.distribute's DistributedOptimizer, used
under a tf.distribute strategy, whose optimizer step sums the gradients across replicas itself.
Each such use would reduce twice (a Sum wrapper would make the update N times too large), so
each is refused with a message naming both, before any variable changes; the plain optimizer
under the strategy and the wrapper without it train, with replicas identical. The tutorial CNN
on the bundled digits; on one rank in-process and under `mpirun -n 2` / `-n 3`."""
import numpy as np
import pytest

import distflow as tf
import distflow.distribute as dd
import distflow.horovod as hvd
from distflow.data import load_digits
from mpi_launch import assert_ok, launches_mpi, run_pytest_under_mpi

GLOBAL = 12


def digits():
    images, labels = load_digits()
    return (images[:GLOBAL] / 16.0).astype(np.float32), labels[:GLOBAL].astype(np.int64)


def cnn():
    return tf.keras.Sequential([
        tf.keras.layers.InputLayer(input_shape=(8, 8, 1)),
        tf.keras.layers.Conv2D(8, 3, activation='relu'),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(16, activation='relu'),
        tf.keras.layers.Dense(10)])


def snapshot(model):
    return [w.copy() for w in model.get_weights()]


def assert_unchanged(model, before):
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def identical_everywhere(arrays):
    every = dd.communicator().allgather_object([np.asarray(a) for a in arrays])
    for other in every[1:]:
        for a, b in zip(every[0], other):
            np.testing.assert_array_equal(a, b)


LOSS = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
WRAPPERS = {
    "hvd": lambda: hvd.DistributedOptimizer(tf.keras.optimizers.Adam(0.01)),
    "hvd-sum": lambda: hvd.DistributedOptimizer(tf.keras.optimizers.Adam(0.01), op=hvd.Sum),
    "distflow-mean": lambda: dd.DistributedOptimizer(tf.keras.optimizers.Adam(0.01), op="mean"),
}


@pytest.fixture(autouse=True)
def _init():
    hvd.init()
    yield
    tf.keras.backend.clear_session()  # Keras's layer-name counters, as a fresh process has them


# -- Keras compile / fit ----------------------------------------------------------------------
@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
def test_keras_compile_in_a_strategy_scope_refuses_a_distributed_optimizer(wrapper):
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = cnn()
        with pytest.raises(ValueError, match="distributed optimizer .*tf.distribute strategy"):
            model.compile(optimizer=WRAPPERS[wrapper](), loss=LOSS)
    assert not model.compiled


@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
def test_keras_fit_under_a_strategy_refuses_a_distributed_optimizer_compiled_outside(wrapper):
    x, y = digits()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    tf.keras.utils.set_random_seed(dd.rank())
    model = cnn()
    model.compile(optimizer=WRAPPERS[wrapper](), loss=LOSS)
    before = snapshot(model)
    with strategy.scope():
        with pytest.raises(ValueError, match="distributed optimizer .*tf.distribute strategy"):
            model.fit(x, y, batch_size=GLOBAL, epochs=1, verbose=0)
    assert_unchanged(model, before)  # not even the scope's broadcast


def test_keras_fit_under_the_strategy_with_the_plain_optimizer_trains_alike():
    x, y = digits()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    tf.keras.utils.set_random_seed(dd.rank())
    with strategy.scope():
        model = cnn()
        model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss=LOSS)
    before = snapshot(model)
    model.fit(x, y, batch_size=GLOBAL, epochs=2, verbose=0)
    identical_everywhere(model.get_weights())
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


# -- custom loops: strategy.run ---------------------------------------------------------------
def _loop_step(strategy, model, opt, tape_wrapper=None, traced=False):
    xs, ys = digits()  # every rank the same rows: what matters here is the seam

    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = tf.nn.compute_average_loss(LOSS(yb, model(xb, training=True)),
                                              global_batch_size=GLOBAL * dd.size())
        if tape_wrapper is not None:
            tape = tape_wrapper(tape)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss
    fn = tf.function(step) if traced else step
    return strategy.run(fn, args=(xs, ys))


@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.parametrize("wrapper", sorted(WRAPPERS) + ["hvd tape"])
def test_strategy_run_refuses_a_distributed_optimizer_or_tape(wrapper, traced):
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = cnn()
        if wrapper == "hvd tape":
            opt, tape_wrapper = tf.keras.optimizers.Adam(0.01), hvd.DistributedGradientTape
        else:
            opt, tape_wrapper = WRAPPERS[wrapper](), None
    before = snapshot(model)
    with pytest.raises(ValueError, match="inside strategy.run of MultiWorkerMirroredStrategy.*"
                                         "reduce twice"):
        _loop_step(strategy, model, opt, tape_wrapper, traced)
    assert_unchanged(model, before)


@pytest.mark.parametrize("traced", [False, True])
def test_strategy_run_with_the_plain_optimizer_trains_alike(traced):
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    tf.keras.utils.set_random_seed(dd.rank())
    with strategy.scope():
        model = cnn()
        opt = tf.keras.optimizers.Adam(0.01)
    before = snapshot(model)
    for _ in range(2):
        _loop_step(strategy, model, opt, traced=traced)
    identical_everywhere(model.get_weights())
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_one_device_strategy_keeps_horovods_single_reduction():
    # OneDeviceStrategy sums nothing across ranks: Horovod's wrapper reduces once, as without it
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    tf.keras.utils.set_random_seed(dd.rank())
    model = cnn()
    hvd.broadcast_variables(model.variables, root_rank=0)
    opt = hvd.DistributedOptimizer(tf.keras.optimizers.Adam(0.01))
    x, y = digits()
    rows = slice(dd.rank() * 4, dd.rank() * 4 + 4)  # each rank its own data (Horovod's way)

    def step():
        with tf.GradientTape() as tape:
            loss = LOSS(y[rows], model(x[rows], training=True))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                model.trainable_variables))
    strategy.run(step)
    identical_everywhere(model.get_weights())


@launches_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_on_real_ranks(ranks):
    assert_ok(run_pytest_under_mpi(ranks, "test_dialect_seams.py", timeout=300))

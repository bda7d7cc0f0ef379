"""tf.distribute's MultiWorkerMirroredStrategy on distflow's runtime: N ranks train as one
process, with Keras fit (arrays with a shuffle and validation_split, or a dataset of global
batches) and with TF's custom-loop pattern. Each rank starts from a different seed: the
strategy's scope must give every replica rank 0's weights.

The global batches end short (2 rows at batch 8 on 3 ranks leaves one rank without rows), so the
equality covers uneven parts and empty parts too.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mpi_launch import REPO, WORKERS, assert_ok, launches_mpi, run_mpi

KERAS = os.path.join(WORKERS, "strategy_keras.py")
LOOP = os.path.join(WORKERS, "strategy_loop.py")


def _one_process(args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "OMPI_"))}
    proc = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]


def _assert_same(reference, got, rtol=1e-5, atol=1e-6):
    ref, out = np.load(reference), np.load(got)
    assert sorted(ref.files) == sorted(out.files)
    for key in ref.files:
        if key == "replicas":  # the loop worker's count of replicas, checked by its test
            continue
        np.testing.assert_allclose(out[key], ref[key], rtol=rtol, atol=atol, err_msg=key)


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    folder = tmp_path_factory.mktemp("strategy_reference")
    made = {}
    for name, args in (("arrays", [KERAS, "arrays"]), ("dataset", [KERAS, "dataset"]),
                       ("loop", [LOOP])):
        path = str(folder / (name + ".npz"))
        _one_process([args[0], path, *args[1:], "reference"])
        made[name] = path
    return made


@launches_mpi
@pytest.mark.parametrize("ranks", [1, 2, 3])
@pytest.mark.parametrize("mode", ["arrays", "dataset"])
def test_keras_fit_on_n_ranks_gives_one_process_weights_and_history(references, tmp_path,
                                                                     ranks, mode):
    out = str(tmp_path / "out.npz")
    assert_ok(run_mpi(ranks, [KERAS, out, mode], timeout=180))
    _assert_same(references[mode], out)
    history = np.load(out)
    assert {"history_loss", "history_accuracy", "history_val_loss",
            "history_val_accuracy"} <= set(history.files)


@launches_mpi
def test_mirrored_strategy_spans_the_ranks_alike(references, tmp_path):
    out = str(tmp_path / "out.npz")
    assert_ok(run_mpi(2, [KERAS, out, "arrays", "mirrored"], timeout=180))
    _assert_same(references["arrays"], out)


@launches_mpi
@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_custom_loop_on_n_ranks_gives_one_process_weights(references, tmp_path, ranks):
    out = str(tmp_path / "out.npz")
    assert_ok(run_mpi(ranks, [LOOP, out], timeout=180))
    _assert_same(references["loop"], out)
    assert int(np.load(out)["replicas"]) == ranks


_DIFFERENT_DATA = """
import numpy as np, distflow as tf
strategy = tf.distribute.MultiWorkerMirroredStrategy()
rank = strategy.cluster_resolver.task_id
x = np.random.RandomState(rank).randn(12, 3).astype(np.float32)  # each rank its own data
with strategy.scope():
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
model.fit(x, x[:, :1], batch_size=4, epochs=1, verbose=0)
"""

_UNSEEDED_SHUFFLE = """
import numpy as np, distflow as tf
strategy = tf.distribute.MultiWorkerMirroredStrategy()
x = np.arange(40, dtype=np.float32).reshape(20, 2)
data = tf.data.Dataset.from_tensor_slices((x, x[:, :1])).shuffle(20).batch(5)
with strategy.scope():
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
model.fit(data, epochs=2, verbose=0)      # unseeded shuffles: every rank draws the same order
model.fit(x, x[:, :1], batch_size=6, epochs=2, verbose=0)  # unseeded fit shuffle: rank 0's seed
every = np.concatenate([w.ravel() for w in model.get_weights()])
from distflow.distribute import runtime
assert (runtime.init().communicator.allgather(every) == every).all()
print("same order on every rank")
"""


@launches_mpi
def test_ranks_with_different_data_stop_with_a_clear_error():
    proc = run_mpi(2, ["-c", _DIFFERENT_DATA], timeout=120)
    assert proc.returncode != 0
    assert "The ranks hold different global batches" in proc.stdout + proc.stderr


@launches_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_unseeded_shuffles_agree_across_ranks(ranks):
    proc = run_mpi(ranks, ["-c", _UNSEEDED_SHUFFLE], timeout=120)
    assert_ok(proc)
    assert proc.stdout.count("same order on every rank") == ranks


_WRITERS = """
import os, sys, numpy as np, distflow as tf
out = sys.argv[1]
strategy = tf.distribute.MultiWorkerMirroredStrategy()
rank = strategy.cluster_resolver.task_id
folder = os.path.join(out, "rank%d" % rank)  # a rank other than 0 must leave its folder unmade
if rank == 0:
    os.makedirs(folder)  # CSVLogger, as Keras's, writes into a folder that exists
x = np.random.RandomState(0).randn(12, 3).astype(np.float32)
with strategy.scope():
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
callbacks = [tf.keras.callbacks.ModelCheckpoint(os.path.join(folder, "w-{epoch}"),
                                                save_weights_only=True),
             tf.keras.callbacks.CSVLogger(os.path.join(folder, "log.csv")),
             tf.keras.callbacks.TensorBoard(os.path.join(folder, "tb"))]
model.fit(x, x[:, :1], batch_size=4, epochs=2, verbose=1, callbacks=callbacks)
ckpt = tf.train.Checkpoint(model=model)
tf.train.CheckpointManager(ckpt, os.path.join(folder, "manager"), max_to_keep=1).save()
ckpt.save(os.path.join(folder, "ckpt"))
"""


@launches_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_only_rank_0_writes_files_and_prints(tmp_path, ranks):
    proc = run_mpi(ranks, ["-c", _WRITERS, str(tmp_path)], timeout=120)
    assert_ok(proc)
    assert sorted(os.listdir(tmp_path)) == ["rank0"]
    made = sorted(os.listdir(tmp_path / "rank0"))
    assert made == ["checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index", "log.csv",
                    "manager", "tb", "w-1.data-00000-of-00001", "w-1.index",
                    "w-2.data-00000-of-00001", "w-2.index"]
    assert proc.stdout.count("Epoch 2/2") == 1


_TUTORIAL = """
import json, os
import numpy as np
import distflow as tf

config = json.loads(os.environ["TF_CONFIG"])               # the tutorial reads it itself
workers = len(config["cluster"]["worker"])
strategy = tf.distribute.MultiWorkerMirroredStrategy()
assert strategy.cluster_resolver.task_id == config["task"]["index"]
assert strategy.num_replicas_in_sync == workers

(images, labels), _ = tf.keras.datasets.mnist.load_data()  # Keras's cache: KERAS_HOME
images = images / np.float32(255)
data = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int64)))
data = data.shuffle(1000).repeat().batch(8 * workers)      # unseeded: ranks must still agree
with strategy.scope():                                     # the tutorial's CNN
    model = tf.keras.Sequential([tf.keras.layers.InputLayer(input_shape=(28, 28)),
                                 tf.keras.layers.Reshape(target_shape=(28, 28, 1)),
                                 tf.keras.layers.Conv2D(32, 3, activation="relu"),
                                 tf.keras.layers.Flatten(),
                                 tf.keras.layers.Dense(128, activation="relu"),
                                 tf.keras.layers.Dense(10)])
    model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=tf.keras.optimizers.SGD(learning_rate=0.01), metrics=["accuracy"])
history = model.fit(data, epochs=2, steps_per_epoch=5)
mine = np.concatenate([w.ravel() for w in model.get_weights()]
                      + [np.array(history.history["loss"])])
from distflow.distribute import runtime
every = runtime.init().communicator.allgather(mine)
assert (every == every[0]).all(), "replicas or histories differ"
print("tutorial pattern ran on rank", strategy.cluster_resolver.task_id)
"""


@launches_mpi
def test_the_multi_worker_tutorial_pattern_with_one_tf_config_per_rank(tmp_path):
    """TF's multi-worker Keras tutorial: each worker gets its own TF_CONFIG (here one mpirun
    section per rank), MNIST comes from Keras's cache, an unseeded shuffled repeated dataset
    of global batches, fit with steps_per_epoch."""
    from mpi_launch import _extra_flags, find_mpirun
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    rng = np.random.RandomState(0)
    np.savez(datasets / "mnist.npz", x_train=rng.randint(0, 256, (96, 28, 28)).astype(np.uint8),
             y_train=rng.randint(0, 10, 96).astype(np.uint8),
             x_test=np.zeros((4, 28, 28), np.uint8), y_test=np.zeros(4, np.uint8))
    mpirun = find_mpirun()
    open_mpi = "--oversubscribe" in _extra_flags(mpirun)
    cluster = {"worker": ["localhost:12345", "localhost:23456"]}
    cmd = [mpirun, *_extra_flags(mpirun)]
    for index in range(2):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        env = ["-x", "TF_CONFIG=" + config] if open_mpi else ["-env", "TF_CONFIG", config]
        cmd += ([":"] if index else []) + ["-n", "1", *env, sys.executable, "-c", _TUTORIAL]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "OMPI_"))}
    env.update(KERAS_HOME=str(tmp_path), DISTFLOW_COLLECTIVE_TIMEOUT="30")
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert_ok(proc)
    assert proc.stdout.count("tutorial pattern ran on rank") == 2
    assert proc.stdout.count("Epoch 2/2") == 1  # rank 0 speaks


@launches_mpi
def test_a_tf_config_that_disagrees_with_mpirun_is_refused():
    config = json.dumps({"cluster": {"worker": ["a:1", "b:2", "c:3"]},
                         "task": {"type": "worker", "index": 0}})
    proc = run_mpi(2, ["-c", "import distflow as tf; tf.distribute.MultiWorkerMirroredStrategy()"],
                   env={"TF_CONFIG": config}, timeout=60)
    assert proc.returncode != 0
    assert "TF_CONFIG describes 3 workers" in proc.stdout + proc.stderr


_PLAIN_MPI = """
import os, sys, numpy as np, distflow as tf
rank = int(os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0")))
folder = os.path.join(sys.argv[1], "rank%d" % rank)   # distflow's runtime is never started
os.makedirs(folder) if rank == 0 else None
x = np.ones((4, 2), np.float32)
model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])
model.compile(optimizer="sgd", loss="mse")
model.fit(x, x[:, :1], verbose=0, callbacks=[
    tf.keras.callbacks.ModelCheckpoint(os.path.join(folder, "w-{epoch}"), save_weights_only=True),
    tf.keras.callbacks.CSVLogger(os.path.join(folder, "log.csv"))])
tf.train.Checkpoint(model=model).save(os.path.join(folder, "ckpt"))
assert "distflow.distribute.runtime" not in sys.modules or \\
    sys.modules["distflow.distribute.runtime"]._context is None
"""


@launches_mpi
def test_any_mpirun_job_writes_from_rank_0_only(tmp_path):
    """Horovod-style programs that never start distflow's runtime: the launcher's rank decides."""
    assert_ok(run_mpi(2, ["-c", _PLAIN_MPI, str(tmp_path)], timeout=60))
    assert sorted(os.listdir(tmp_path)) == ["rank0"]
    assert "log.csv" in os.listdir(tmp_path / "rank0")


@launches_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_a_strategy_refuses_horovods_reducers_on_every_rank(ranks):
    proc = run_mpi(ranks, [os.path.join(WORKERS, "strategy_with_horovod.py")], timeout=180)
    assert_ok(proc)
    assert proc.stdout.count("refused alike on %d ranks" % ranks) == 1

"""Keras fit of TF's multi-worker tutorial CNN (Conv2D 32 3x3 + ReLU, MaxPooling2D, Flatten,
Dense 64 + ReLU, Dense 10 logits, SGD) on the bundled digits under MultiWorkerMirroredStrategy on
however many ranks mpirun started, or in one process with no strategy ('reference'). Rank 0
writes the final weights and History to an .npz; every rank checks its replica equals rank 0's.

    python strategy_cnn.py OUT.npz arrays|dataset [reference]
arrays: 83 digits, validation_split=0.2 (66 training rows in global batches of 16: the last has 2
rows, fewer than 3 ranks), shuffled each epoch. dataset: the tutorial's shuffle().repeat().batch()
with steps_per_epoch.
"""
import sys

import numpy as np

import distflow as tf
from distflow.data import load_digits

out, mode = sys.argv[1], sys.argv[2]
reference = len(sys.argv) > 3 and sys.argv[3] == "reference"

images, labels = load_digits()
x = (images[:83] / 16.0).astype(np.float32)
y = labels[:83].astype(np.int64)

if reference:
    strategy, rank = tf.distribute.get_strategy(), 0
else:
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    rank = strategy.cluster_resolver.task_id
tf.random.set_seed(100 + rank)  # the scope must give every replica rank 0's weights

with strategy.scope():
    model = tf.keras.Sequential([
        tf.keras.layers.InputLayer(input_shape=(8, 8, 1)),
        tf.keras.layers.Conv2D(32, 3, activation='relu'),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(64, activation='relu'),
        tf.keras.layers.Dense(10)])
    model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=tf.keras.optimizers.SGD(learning_rate=0.1), metrics=['accuracy'])

if mode == "arrays":
    history = model.fit(x, y, batch_size=16, epochs=3, validation_split=0.2, verbose=0)
else:
    # one global seed on every rank from here on: every rank reads the same global batches
    tf.random.set_seed(7)
    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(83, seed=5).repeat().batch(16)
    history = model.fit(data, epochs=3, steps_per_epoch=4, verbose=0)

weights = model.get_weights()
if not reference:
    from distflow.distribute import runtime
    mine = np.concatenate([w.ravel() for w in weights])
    every = runtime.init().communicator.allgather(mine)
    assert np.array_equal(every[0], mine), "rank %d's replica differs from rank 0's" % rank
if rank == 0:
    np.savez(out, *weights, **{"history_" + k: np.array(v) for k, v in history.history.items()})

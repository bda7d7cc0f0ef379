"""Keras fit / evaluate / predict under MultiWorkerMirroredStrategy on however many ranks
mpirun started (or one process, or no strategy at all: the reference). Rank 0 writes the final
weights, History, evaluate's and predict's results to an .npz; every rank checks that its own
replica equals rank 0's.

    python strategy_keras.py OUT.npz MODE [reference | mirrored]
MODE: 'arrays' (shuffled arrays, validation_split, a short last batch smaller than the number
of ranks) or 'dataset' (a tf.data.Dataset of global batches). 'reference': no strategy;
'mirrored': MirroredStrategy instead of MultiWorkerMirroredStrategy.
"""
import sys

import numpy as np

import distflow as tf

out, mode = sys.argv[1], sys.argv[2]
reference = len(sys.argv) > 3 and sys.argv[3] == "reference"
mirrored = len(sys.argv) > 3 and sys.argv[3] == "mirrored"

rng = np.random.RandomState(0)
x = rng.randn(53, 5).astype(np.float32)
labels = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)

if reference:
    strategy = tf.distribute.get_strategy()  # the default strategy: one process, as it was
    rank = 0
else:
    strategy = tf.distribute.MirroredStrategy() if mirrored \
        else tf.distribute.MultiWorkerMirroredStrategy()
    rank = strategy.cluster_resolver.task_id
# each rank its own seed: the scope must give every replica rank 0's weights (seed 100's)
tf.random.set_seed(100 + rank)

with strategy.scope():
    model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu", input_shape=(5,)),
                                 tf.keras.layers.Dense(3)])
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])

if mode == "arrays":
    # 42 training rows in global batches of 8: the last has 2 rows, fewer than 3 ranks
    history = model.fit(x, labels, batch_size=8, epochs=4, validation_split=0.2, verbose=0)
else:
    data = tf.data.Dataset.from_tensor_slices((x, labels)).batch(10)
    history = model.fit(data, epochs=3, validation_data=(x[:7], labels[:7]), verbose=0)
evaluated = model.evaluate(x, labels, batch_size=7, verbose=0)
predicted = model.predict(x[:11], batch_size=4, verbose=0)

weights = model.get_weights()
if not reference:
    comm = tf.distribute.get_strategy()  # outside the scope: the default strategy again
    assert not tf.distribute.has_strategy(), comm
    mine = np.concatenate([w.ravel() for w in weights])
    from distflow.distribute import runtime
    every = runtime.init().communicator.allgather(mine)
    assert np.array_equal(every[0], mine), "rank %d's replica differs from rank 0's" % rank
if rank == 0:
    np.savez(out, *weights, evaluated=np.array(evaluated), predicted=predicted,
             **{"history_" + k: np.array(v) for k, v in history.history.items()})

"""Saving under MultiWorkerMirroredStrategy on however many ranks mpirun started: every rank
calls model.save / save_weights / tf.saved_model.save with a path naming its rank, and only
rank 0's files may appear; every rank then loads rank 0's .keras file and must predict what its
own replica predicts. LearningRateScheduler(verbose=1) and ReduceLROnPlateau run in the same
fit: the rates they log agree on every rank, and the scheduler's line prints once (rank 0).

    python keras_files.py OUT_DIR
"""
import os
import sys

import numpy as np

import distflow as tf

out = sys.argv[1]
strategy = tf.distribute.MultiWorkerMirroredStrategy()
rank = strategy.cluster_resolver.task_id
rng = np.random.RandomState(0)
x = rng.randn(40, 3).astype(np.float32) * [1, 10, 100]
y = (x @ np.array([1.0, 0.1, 0.01]) + 2).astype(np.float32)
tf.random.set_seed(100 + rank)  # the scope must give every replica rank 0's weights

with strategy.scope():
    inputs = tf.keras.Input(shape=(3,))
    norm = tf.keras.layers.Normalization()
    norm.adapt(x)
    hidden = tf.keras.layers.Dense(8, activation="relu")(norm(inputs))
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(1)(hidden))
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05), loss="mean_absolute_error")

history = model.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[
    tf.keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.05 / (epoch + 1), verbose=1),
    tf.keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=1, min_delta=100.0)])
model.save(os.path.join(out, "m_rank%d.keras" % rank))
model.save_weights(os.path.join(out, "w_rank%d.weights.h5" % rank))


class Scaled(tf.Module):
    def __init__(self):
        super().__init__()
        self.s = tf.Variable(2.0)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def __call__(self, v):
        return v * self.s


tf.saved_model.save(Scaled(), os.path.join(out, "sm_rank%d" % rank))
model.evaluate(x, y, verbose=0)  # a collective: rank 0 has written its files by now
present = sorted(os.listdir(out))
want = ["m_rank0.keras", "sm_rank0", "w_rank0.weights.h5"]
assert [p for p in present if not p.endswith(".log")] == want, (rank, present)
reloaded = tf.keras.models.load_model(os.path.join(out, "m_rank0.keras"))
np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0),
                           rtol=1e-6, atol=1e-6)
rates = history.history["learning_rate"]
all_rates = strategy.reduce("SUM", tf.constant(np.array(rates, np.float32)), axis=None)
np.testing.assert_allclose(all_rates.numpy(), np.array(rates) * strategy.num_replicas_in_sync,
                           rtol=1e-6)
assert tf.saved_model.load(os.path.join(out, "sm_rank0"))(np.ones(2, np.float32)).numpy()[0] == 2
print("rank %d ok" % rank)

"""One rank of a job that pairs a tf.distribute strategy with Horovod's reducers (run by
tests/distributed/test_strategy.py under mpirun): every rank refuses alike, with the message,
and nothing hangs; Horovod alone, with ds.shard, keeps the ranks' weights equal."""
import numpy as np

import distflow as tf
import distflow.horovod as hvd_tf
import distflow.horovod.keras as hvd

hvd.init()
strategy = tf.distribute.MultiWorkerMirroredStrategy()
x, y = np.ones((12, 2), np.float32), np.ones((12, 1), np.float32)
with strategy.scope():
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])
    try:  # refused at compile in the scope
        model.compile(optimizer=hvd.DistributedOptimizer(tf.keras.optimizers.SGD(0.1),
                                                         op=hvd.Sum), loss="mse")
        raise SystemExit("compile in a strategy's scope took Horovod's optimizer")
    except ValueError as e:
        assert "sums the gradients itself" in str(e), e
    v = tf.Variable(1.0)
# compiled outside the scope, the model made in it still trains under the strategy: fit refuses
model.compile(optimizer=hvd.DistributedOptimizer(tf.keras.optimizers.SGD(0.1), op=hvd.Sum),
              loss="mse")
try:
    model.fit(x, y, verbose=0)
    raise SystemExit("fit under a strategy took Horovod's optimizer")
except ValueError as e:
    assert "sums the gradients itself" in str(e), e


def step():
    with tf.GradientTape() as tape:
        loss = v * v
    return hvd_tf.DistributedGradientTape(tape).gradient(loss, v)


try:
    strategy.run(step)
    raise SystemExit("strategy.run took Horovod's DistributedGradientTape")
except ValueError as e:
    assert "all-reduces its gradients itself" in str(e), e

# Horovod on its own: each rank its shard, averaged gradients, equal weights everywhere
data = tf.data.Dataset.from_tensor_slices((np.arange(12, dtype=np.float32).reshape(6, 2),
                                           np.arange(6, dtype=np.float32)))
part = data.shard(hvd.size(), hvd.rank()).batch(2)
dense = tf.keras.layers.Dense(1, kernel_initializer="ones")
optimizer = tf.keras.optimizers.SGD(0.01)
for xb, yb in part.take(1):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((dense(xb)[:, 0] - yb) ** 2)
    tape = hvd_tf.DistributedGradientTape(tape)
    optimizer.apply_gradients(zip(tape.gradient(loss, dense.trainable_variables),
                                  dense.trainable_variables))
weights = np.concatenate([w.ravel() for w in dense.get_weights()])
everyone = hvd_tf.allgather_object(weights)
assert all(np.array_equal(w, everyone[0]) for w in everyone), everyone
assert len(list(part)) == len(range(hvd.rank(), 6, hvd.size())) // 2 + \
    (len(range(hvd.rank(), 6, hvd.size())) % 2)
if hvd.rank() == 0:
    print("strategy with horovod: refused alike on %d ranks" % hvd.size())

"""TF's custom training loop under MultiWorkerMirroredStrategy (the distribute guide's pattern):
experimental_distribute_dataset, strategy.run with apply_gradients in the replica context,
strategy.reduce and ReplicaContext.all_reduce. Rank 0 writes the weights and the per-step
reduced losses; 'reference' runs the same code with the default strategy in one process.

    python strategy_loop.py OUT.npz [reference]
"""
import sys

import numpy as np

import distflow as tf

out = sys.argv[1]
reference = len(sys.argv) > 2 and sys.argv[2] == "reference"
GLOBAL_BATCH = 8

rng = np.random.RandomState(1)
x = rng.randn(50, 4).astype(np.float32)  # 50 rows: the last global batch has 2 (3 ranks: 1, 1, 0)
y = (x[:, 0] - x[:, 3] > 0).astype(np.int64)

strategy = tf.distribute.get_strategy() if reference \
    else tf.distribute.MultiWorkerMirroredStrategy()
replicas = strategy.num_replicas_in_sync
rank = 0 if reference else strategy.cluster_resolver.task_id
tf.random.set_seed(5 + rank)  # rank 0's weights win under the strategy

with strategy.scope():
    model = tf.keras.Sequential([tf.keras.layers.Dense(6, activation="tanh", input_shape=(4,)),
                                 tf.keras.layers.Dense(2)])
    optimizer = tf.keras.optimizers.SGD(learning_rate=0.3, momentum=0.5)
    loss_object = tf.keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=tf.keras.losses.Reduction.NONE)
    accuracy = tf.keras.metrics.SparseCategoricalAccuracy()  # made in the scope: over replicas

dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
dist_dataset = strategy.experimental_distribute_dataset(dataset)


def step_fn(inputs, global_batch=GLOBAL_BATCH):
    features, labels = inputs
    with tf.GradientTape() as tape:
        logits = model(features, training=True)
        per_example = loss_object(labels, logits)
        # None: the mean over every replica's samples (TF's rule, exact here: an all-reduce)
        loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    rows = tf.distribute.get_replica_context().all_reduce(
        tf.distribute.ReduceOp.SUM, tf.cast(tf.shape(features)[0], tf.float32))
    return loss, rows, tf.reduce_sum(per_example)


@tf.function
def train_step(inputs, global_batch):
    loss, rows, total = strategy.run(step_fn, args=(inputs, global_batch))
    return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None), rows,
            strategy.reduce("SUM", total, axis=None))


losses, rows = [], []
for epoch in range(3):
    for batch in dist_dataset:
        loss, n, _ = train_step(batch, GLOBAL_BATCH if epoch < 2 else None)
        losses.append(float(loss))
        rows.append(float(n))
assert rows[:7] == [8.0] * 6 + [2.0], rows

# reduce along an axis: the MEAN over every element of the global batch
values = strategy.experimental_distribute_dataset(
    tf.data.Dataset.from_tensor_slices(np.arange(10, dtype=np.float32)).batch(10))
local = next(iter(values))
mean = float(strategy.reduce(tf.distribute.ReduceOp.MEAN, local, axis=0))
assert abs(mean - 4.5) < 1e-6, mean
assert abs(float(strategy.reduce("SUM", local, axis=0)) - 45.0) < 1e-6

for features, labels in dist_dataset:  # each rank its part; result() sums every rank's
    accuracy.update_state(labels.numpy(), model(features).numpy())
seen = accuracy.count
overall = accuracy.result()  # on every rank: it all-reduces the sums

weights = model.get_weights()
if rank == 0:
    np.savez(out, *weights, losses=np.array(losses), replicas=np.array(replicas),
             accuracy=np.array(overall))
assert seen < 50 or replicas == 1  # this rank's own count stays local

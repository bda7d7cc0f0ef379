"""Run under `mpirun -n N`: the two programs of Horovod's examples/tensorflow2 folder, as their
users write them (tensorflow2_mnist.py: DistributedGradientTape in a tf.function with the
first-batch broadcast and tf.train.Checkpoint on rank 0; tensorflow2_keras_mnist.py: Keras fit
with DistributedOptimizer, the three Horovod callbacks and ModelCheckpoint on rank 0), with their
CNN (two Conv2D, MaxPooling2D, Dropout, Flatten, Dense), their MNIST from Keras's cache
(KERAS_HOME, one mnist-<rank>.npz per rank, made by the test) and fewer steps.

    python horovod_cnn_examples.py OUT_DIR tape|keras

Each rank starts from its own seed, so only the broadcast makes the replicas equal; at the end
every rank checks that its replica (weights and optimizer state) equals rank 0's, that training
moved the weights, and rank 0 checks the files it wrote. Prints "<mode> ok: N ranks".
"""
import os
import sys

import numpy as np

import distflow as tf
import distflow.horovod as hvd_tf
import distflow.horovod.keras as hvd_keras

out_dir, mode = sys.argv[1], sys.argv[2]
hvd = hvd_keras if mode == "keras" else hvd_tf
hvd.init()
rank, size = hvd.rank(), hvd.size()

gpus = tf.config.experimental.list_physical_devices('GPU')
for gpu in gpus:
    tf.config.experimental.set_memory_growth(gpu, True)
if gpus:
    tf.config.experimental.set_visible_devices(gpus[hvd.local_rank()], 'GPU')

(images, labels), _ = tf.keras.datasets.mnist.load_data(path='mnist-%d.npz' % rank)
assert images.shape[1:] == (28, 28) and images.dtype == np.uint8, (images.shape, images.dtype)
dataset = tf.data.Dataset.from_tensor_slices(
    (tf.cast(images[..., tf.newaxis] / 255.0, tf.float32), tf.cast(labels, tf.int64)))
dataset = dataset.repeat().shuffle(64).batch(8)

tf.keras.utils.set_random_seed(10 + rank)  # a different start on every rank
model = tf.keras.Sequential([
    tf.keras.layers.Conv2D(32, [3, 3], activation='relu'),
    tf.keras.layers.Conv2D(64, [3, 3], activation='relu'),
    tf.keras.layers.MaxPooling2D(pool_size=(2, 2)),
    tf.keras.layers.Dropout(0.25),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(128, activation='relu'),
    tf.keras.layers.Dropout(0.5),
    tf.keras.layers.Dense(10, activation='softmax')
])
model.build((None, 28, 28, 1))
start = [w.copy() for w in model.get_weights()]
scaled_lr = 0.001 * size

if mode == "tape":
    loss = tf.losses.SparseCategoricalCrossentropy()
    opt = tf.optimizers.Adam(scaled_lr)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=opt)

    @tf.function
    def training_step(images, labels, first_batch):
        with tf.GradientTape() as tape:
            probs = model(images, training=True)
            loss_value = loss(labels, probs)
        tape = hvd.DistributedGradientTape(tape)
        grads = tape.gradient(loss_value, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        if first_batch:
            hvd.broadcast_variables(model.variables, root_rank=0)
            hvd.broadcast_variables(opt.variables, root_rank=0)
        return loss_value

    losses = [float(training_step(x, y, batch == 0))
              for batch, (x, y) in enumerate(dataset.take(6 // size))]
    assert all(np.isfinite(losses)), losses
    if rank == 0:
        saved = checkpoint.save(os.path.join(out_dir, 'checkpoints'))
        assert os.path.exists(saved + ".index"), saved
    state = model.variables + opt.variables
else:
    opt = hvd.DistributedOptimizer(tf.optimizers.Adam(scaled_lr), backward_passes_per_step=1,
                                   average_aggregated_gradients=True)
    model.compile(loss=tf.losses.SparseCategoricalCrossentropy(), optimizer=opt,
                  metrics=['accuracy'], experimental_run_tf_function=False)
    callbacks = [hvd.callbacks.BroadcastGlobalVariablesCallback(0),
                 hvd.callbacks.MetricAverageCallback(),
                 hvd.callbacks.LearningRateWarmupCallback(initial_lr=scaled_lr, warmup_epochs=2,
                                                          verbose=1)]
    if rank == 0:
        callbacks.append(tf.keras.callbacks.ModelCheckpoint(
            os.path.join(out_dir, 'checkpoint-{epoch}.weights'), save_weights_only=True))
    history = model.fit(dataset, steps_per_epoch=6 // size, callbacks=callbacks, epochs=3,
                        verbose=1 if rank == 0 else 0)
    assert sorted(history.history) == ['accuracy', 'loss', 'lr'], history.history
    assert len(history.history['loss']) == 3 and np.isfinite(history.history['loss']).all()
    # MetricAverageCallback: every rank's History holds the average over the ranks
    every = hvd_tf.allgather_object(history.history['loss'])
    assert all(h == every[0] for h in every), every
    assert abs(history.history['lr'][-1] - scaled_lr) < 1e-6, history.history['lr']  # warmed up
    if rank == 0:
        written = sorted(f for f in os.listdir(out_dir) if f.startswith('checkpoint-'))
        assert [f for f in written if f.endswith('.index')] == \
            ['checkpoint-%d.weights.index' % e for e in (1, 2, 3)], written
    state = model.variables + opt.variables

mine = [np.asarray(v.numpy()) for v in state]
theirs = hvd_tf.broadcast_object(mine, root_rank=0)
assert len(theirs) == len(mine)
for i, (a, b) in enumerate(zip(mine, theirs)):
    assert np.array_equal(a, b), "rank %d: state #%d differs from rank 0's" % (rank, i)
assert any(not np.array_equal(a, b) for a, b in zip(start, model.get_weights())), "no training"
hvd_tf.barrier()
if rank == 0:
    print("%s ok: %d ranks" % (mode, size))

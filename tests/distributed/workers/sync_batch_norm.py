"""Run under `mpirun -n N`: a small CNN with SyncBatchNormalization on N ranks, each with its
part of the global batch, trains exactly as one process with BatchNormalization on the whole
batch (test_sync_batch_norm.py).

Both copies start from the same weights. The distributed loss is this rank's squared-error sum
divided by the global batch; its gradients are summed over ranks (dd.allreduce), so with exact
global statistics the update is the one-process update. After every step every weight and both
moving statistics must match to 1e-5 relative to the variable's scale, and so must the outputs.
Modes: eager (GradientTape) and function (the same step in df.function).
"""
import argparse

import numpy as np

import distflow as tf
import distflow.distribute as dd

GLOBAL, STEPS, LR, RTOL = 12, 4, 0.05, 1e-5


def model(sync):
    bn = tf.keras.layers.SyncBatchNormalization if sync else tf.keras.layers.BatchNormalization
    layers = [tf.keras.layers.Conv2D(3, 3, activation="relu"), bn(momentum=0.8),
              tf.keras.layers.Flatten(), tf.keras.layers.Dense(2)]

    def run(x):
        h = x
        for layer in layers:
            h = layer(h, training=True)
        return h
    return layers, run


def weights_of(layers):
    return [w for layer in layers for w in layer.weights]


def make_step(layers, run, function):
    trainable = [w for layer in layers for w in layer.trainable_weights]

    def step(x, y, reduce):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(run(x) - y)) / float(GLOBAL)
        grads = tape.gradient(loss, trainable)
        if reduce:
            grads = dd.allreduce(grads)
        for v, g in zip(trainable, grads):
            v.assign_sub(LR * g)
        return run(x)
    if not function:
        return step
    return tf.function(step, reduce_retracing=False)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=("eager", "function"), default="eager")
    args = p.parse_args()
    ctx = dd.init()
    rng = np.random.RandomState(0)
    x = (rng.randn(GLOBAL, 6, 6, 2) * 2 + 1).astype(np.float32)
    y = rng.randn(GLOBAL, 2).astype(np.float32)
    part = slice(ctx.rank * GLOBAL // ctx.size, (ctx.rank + 1) * GLOBAL // ctx.size)
    ref_layers, ref_run = model(False)
    dist_layers, dist_run = model(True)
    ref_run(x[:1])
    dist_run(x[:1])
    init = [np.random.RandomState(7 + i).uniform(-0.5, 0.5, w.shape).astype(np.float32)
            for i, w in enumerate(weights_of(ref_layers))]
    init[-3] = np.abs(init[-3]) + 0.5  # a positive moving variance
    for layers in (ref_layers, dist_layers):
        for w, v in zip(weights_of(layers), init):
            w.assign(v)
    ref_step = make_step(ref_layers, ref_run, args.mode == "function")
    dist_step = make_step(dist_layers, dist_run, args.mode == "function")
    worst = 0.0
    for step in range(STEPS):
        out_ref = ref_step(x, y, False).numpy()[part]
        out = dist_step(x[part], y[part], True).numpy()
        pairs = [(out, out_ref)] + [(d.numpy(), r.numpy()) for d, r in
                                    zip(weights_of(dist_layers), weights_of(ref_layers))]
        for i, (d, r) in enumerate(pairs):
            err = float(np.max(np.abs(d - r))) / (float(np.max(np.abs(r))) or 1.0)
            worst = max(worst, err)
            if not err <= RTOL:
                raise AssertionError("rank %d, step %d: %s differs from one process by %.3g"
                                     % (ctx.rank, step, "output" if i == 0 else
                                        weights_of(dist_layers)[i - 1].name, err))
    moved = np.abs(dist_layers[1].moving_mean.numpy()).max()
    if ctx.rank == 0:
        print("sync batch norm equivalent: %s, %d ranks, worst %.2e, moving mean %.3f"
              % (args.mode, ctx.size, worst, moved), flush=True)


if __name__ == "__main__":
    main()

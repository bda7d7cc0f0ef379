"""Run under `mpirun -n N`: the tutorial CNN (Conv2D 32 3x3 + ReLU, MaxPool 2x2, Flatten,
Dense 64 + ReLU, Dense 10) on the bundled digits trains on N ranks exactly as one process on the
global batch (test_cnn_equivalence.py).

Every rank builds two copies in TF1 graphs: the reference on the whole global batch with the
mean sparse cross-entropy and Adam, and the distributed one on this rank's part with its loss
sum divided by the global batch (dd.compute_average_loss) and dd.DistributedOptimizer, starting
from values that differ per rank until dd.broadcast_variables. After every step all parameters
must match to 1e-5 relative to each variable's scale.
"""
import numpy as np

import distflow.compat.v1 as tf
import distflow.distribute as dd
from distflow.data import load_digits

GLOBAL, STEPS, RTOL = 24, 6, 1e-5


def initial_values():
    rng = np.random.RandomState(3)

    def glorot(shape, fan_in, fan_out):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape).astype(np.float32)
    return [glorot((3, 3, 1, 32), 9, 288), np.zeros(32, np.float32),
            glorot((288, 64), 288, 64), np.zeros(64, np.float32),
            glorot((64, 10), 64, 10), np.zeros(10, np.float32)]


def logits(x, v):
    h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, v[0], 1, "VALID"), v[1]))
    h = tf.reshape(tf.nn.max_pool2d(h, 2, 2, "VALID"), [-1, 288])
    h = tf.nn.relu(tf.matmul(h, v[2]) + v[3])
    return tf.matmul(h, v[4]) + v[5]


def build(values, distributed):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 8, 8, 1])
        y = tf.placeholder(tf.int64, [None])
        v = [tf.Variable(a) for a in values]
        per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y,
                                                                      logits=logits(x, v))
        if distributed:
            train = dd.DistributedOptimizer(tf.train.AdamOptimizer(0.01)).minimize(
                dd.compute_average_loss(per_example, GLOBAL))
        else:
            train = tf.train.AdamOptimizer(0.01).minimize(tf.reduce_mean(per_example))
        sess = tf.Session(graph=graph)
        sess.run(tf.global_variables_initializer())
    return sess, x, y, v, train


def main():
    ctx = dd.init()
    images, labels = load_digits()
    images = images.astype(np.float32) / 16.0
    labels = labels.astype(np.int64)
    init = initial_values()
    ref = build(init, False)
    dist = build([a + 0.5 * ctx.rank for a in init], True)  # wrong until broadcast
    dd.broadcast_variables(dist[0])
    lo, hi = ctx.rank * GLOBAL // ctx.size, (ctx.rank + 1) * GLOBAL // ctx.size
    worst = 0.0
    for step in range(STEPS):
        rows = slice(step * GLOBAL, (step + 1) * GLOBAL)
        xs, ys = images[rows], labels[rows]
        sess, x, y, v, train = ref
        sess.run(train, {x: xs, y: ys})
        sess, x, y, v, train = dist
        sess.run(train, {x: xs[lo:hi], y: ys[lo:hi]})
        for i, (a, b) in enumerate(zip(dist[0].run(dist[3]), ref[0].run(ref[3]))):
            err = float(np.max(np.abs(a - b))) / (float(np.max(np.abs(b))) or 1.0)
            worst = max(worst, err)
            if not err <= RTOL:
                raise AssertionError("rank %d, step %d: parameter %d differs from one process "
                                     "by %.3g" % (ctx.rank, step, i, err))
    if ctx.is_chief:
        print("cnn equivalent: %d ranks, %d steps, largest relative difference %.2g"
              % (ctx.size, STEPS, worst), flush=True)


if __name__ == "__main__":
    main()

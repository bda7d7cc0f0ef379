"""Run under `mpirun -n N`: N ranks train exactly as one process does (test_equivalence.py).

Every rank trains two copies of the Boston MLP 13-64-64-1 (ReLU; --hidden changes the 64) side by
side for 3 epochs:

  reference    the ordinary one-process program: the WHOLE global batch, the mean squared
               error, the plain optimizer;
  distributed  this rank's part of the same global batch, its squared-error SUM divided by the
               global batch length, DistributedOptimizer (one fused all-reduce per step), and
               initial values that differ per rank until broadcast_variables fixes them.

Modes: graph (Session.run of DistributedOptimizer.minimize), eager (minimize(loss_fn)) and
function (a df.function step with a GradientTape, traced once).

After every step it asserts that the distributed parameters equal the reference's to 1e-5
relative (each element compared with tolerance 1e-5 times the largest magnitude in its
variable, so elements near zero are judged on the variable's scale). A failure raises, and the
abort hook ends the whole job with a non-zero status.
"""
import argparse

import numpy as np

import distflow as df
import distflow.compat.v1 as tf
import distflow.distribute as dd
from distflow.data import Standardizer, iterate_batches, iterate_shards, load_boston

LAYERS = [13, 64, 64, 1]
EPOCHS = 3
DATA_SEED = 11
RTOL = 1e-5


def initial_values():
    rng = np.random.default_rng(5)
    values = []
    for fan_in, fan_out in zip(LAYERS[:-1], LAYERS[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))  # Glorot uniform
        values.append(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))
        values.append(rng.uniform(0.0, 0.1, fan_out).astype(np.float32))
    return values


def make_optimizer(kind):
    # A learning rate at which this model converges. Where training is chaotic (SGD at 0.01 kills
    # ReLUs and jumps between plateaus), a rounding difference flips a ReLU and ANY two summation
    # orders part ways, one process against itself included; equivalence is about semantics.
    if kind == "sgd":
        return tf.train.GradientDescentOptimizer(0.003)
    return tf.train.AdamOptimizer(0.003)


def mlp(x, params, ops):
    h = x
    for i in range(0, len(params), 2):
        h = ops.matmul(h, params[i]) + params[i + 1]
        if i + 2 < len(params):
            h = ops.nn.relu(h)
    return h


def perturbed(values, rank):
    """Wrong values on every rank but 0: only broadcast_variables can make them right."""
    return [v + np.float32(0.25 * rank) for v in values]


def compare(dist, ref, where):
    for i, (d, r) in enumerate(zip(dist, ref)):
        scale = float(np.max(np.abs(r))) or 1.0
        err = float(np.max(np.abs(d - r))) / scale
        if not err <= RTOL:
            raise AssertionError("rank %d, %s: parameter %d differs from the one-process run by "
                                 "%.3g relative (> %g)" % (dd.rank(), where, i, err, RTOL))
    return max(float(np.max(np.abs(d - r))) / (float(np.max(np.abs(r))) or 1.0)
               for d, r in zip(dist, ref))


def batches(x, y, batch, ctx):
    """(reference batch, this rank's part) for every step of every epoch, same data order."""
    for epoch in range(EPOCHS):
        whole = iterate_batches(x, y, batch, seed=DATA_SEED, epoch=epoch)
        parts = iterate_shards(x, y, batch, ctx.rank, ctx.size, seed=DATA_SEED, epoch=epoch)
        for step, (full, part) in enumerate(zip(whole, parts)):
            yield "epoch %d step %d" % (epoch, step), full, part


def train_graph(kind, x, y, batch, ctx):
    init = initial_values()
    ref_graph = tf.Graph()
    with ref_graph.as_default():
        xr = tf.placeholder(tf.float32, [None, 13])
        yr = tf.placeholder(tf.float32, [None, 1])
        ref_vars = [tf.Variable(v) for v in init]
        ref_loss = tf.reduce_mean(tf.square(mlp(xr, ref_vars, tf) - yr))
        ref_train = make_optimizer(kind).minimize(ref_loss)
        ref_sess = tf.Session(graph=ref_graph)
        ref_sess.run(tf.global_variables_initializer())
    graph = tf.Graph()
    with graph.as_default():
        xd = tf.placeholder(tf.float32, [None, 13])
        yd = tf.placeholder(tf.float32, [None, 1])
        global_batch = tf.placeholder(tf.float32, [])
        dist_vars = [tf.Variable(v) for v in perturbed(init, ctx.rank)]
        loss = dd.compute_average_loss(tf.square(mlp(xd, dist_vars, tf) - yd), global_batch)
        train = dd.DistributedOptimizer(make_optimizer(kind)).minimize(loss)
        sess = tf.Session(graph=graph)
        sess.run(tf.global_variables_initializer())
        dd.broadcast_variables(sess)
        dd.variables_checksum(sess)
    worst = compare(sess.run(dist_vars), ref_sess.run(ref_vars), "after broadcast")
    steps = 0
    for where, (xb, yb), part in batches(x, y, batch, ctx):
        ref_sess.run(ref_train, {xr: xb, yr: yb})
        sess.run(train, {xd: part.x, yd: part.y, global_batch: part.global_size})
        worst = max(worst, compare(sess.run(dist_vars), ref_sess.run(ref_vars), where))
        steps += 1
    dd.variables_checksum(sess)
    return steps, worst


def train_eager(kind, x, y, batch, ctx):
    init = initial_values()
    ref_vars = [df.Variable(v) for v in init]
    dist_vars = [df.Variable(v) for v in perturbed(init, ctx.rank)]
    dd.broadcast_variables(dist_vars)
    dd.variables_checksum(dist_vars)
    ref_opt = make_optimizer(kind)
    dist_opt = dd.DistributedOptimizer(make_optimizer(kind))
    worst, steps = 0.0, 0
    for where, (xb, yb), part in batches(x, y, batch, ctx):
        ref_opt.minimize(lambda: df.reduce_mean(df.square(mlp(xb, ref_vars, df) - yb)),
                         var_list=ref_vars)
        dist_opt.minimize(lambda: dd.compute_average_loss(
            df.square(mlp(part.x, dist_vars, df) - part.y), part.global_size), var_list=dist_vars)
        worst = max(worst, compare([v.numpy() for v in dist_vars],
                                   [v.numpy() for v in ref_vars], where))
        steps += 1
    dd.variables_checksum(dist_vars)
    return steps, worst


def train_function(kind, x, y, batch, ctx):
    """The distributed step traced once by df.function; the reference runs eagerly."""
    init = initial_values()
    ref_vars = [df.Variable(v) for v in init]
    dist_vars = [df.Variable(v) for v in perturbed(init, ctx.rank)]
    dd.broadcast_variables(dist_vars)
    ref_opt = make_optimizer(kind)
    dist_opt = dd.DistributedOptimizer(make_optimizer(kind))

    @df.function(input_signature=[df.TensorSpec([None, 13]), df.TensorSpec([None, 1]),
                                  df.TensorSpec([])])
    def step(xb, yb, global_size):
        with df.GradientTape() as tape:
            loss = dd.compute_average_loss(df.square(mlp(xb, dist_vars, df) - yb), global_size)
        dist_opt.minimize(loss, var_list=dist_vars, tape=tape)

    worst, steps = 0.0, 0
    for where, (xb, yb), part in batches(x, y, batch, ctx):
        ref_opt.minimize(lambda: df.reduce_mean(df.square(mlp(xb, ref_vars, df) - yb)),
                         var_list=ref_vars)
        step(part.x, part.y, np.float32(part.global_size))
        worst = max(worst, compare([v.numpy() for v in dist_vars],
                                   [v.numpy() for v in ref_vars], where))
        steps += 1
    assert step.experimental_get_tracing_count() == 1
    dd.variables_checksum(dist_vars)
    return steps, worst


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--modes", default="graph")
    p.add_argument("--optimizers", default="sgd,adam")
    p.add_argument("--hidden", type=int, default=64,
                   help="128 makes 73 KiB of gradients: the shared-memory all-reduce's size")
    args = p.parse_args()
    LAYERS[1:3] = [args.hidden, args.hidden]
    ctx = dd.init()
    x, y = load_boston(dtype=np.float32)
    x = Standardizer().fit_transform(x).astype(np.float32)
    y = y.reshape(-1, 1).astype(np.float32)
    for mode in args.modes.split(","):
        for kind in args.optimizers.split(","):
            run = {"graph": train_graph, "eager": train_eager, "function": train_function}[mode]
            steps, worst = run(kind, x, y, args.batch, ctx)
            if ctx.is_chief:
                print("equivalent: %s %s, %d ranks, global batch %d, %d steps, largest relative "
                      "difference %.2g" % (mode, kind, ctx.size, args.batch, steps, worst),
                      flush=True)
    segments = getattr(ctx.communicator, "_segments", None)
    if ctx.is_chief and segments is not None:
        print("buffers reduced in shared memory: %d" % segments.connected, flush=True)


if __name__ == "__main__":
    main()

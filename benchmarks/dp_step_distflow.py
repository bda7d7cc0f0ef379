"""W4 with distflow: the data-parallel Boston step on several ranks, TF1 style.

DistributedOptimizer(GradientDescentOptimizer(0.01)) puts ONE fused all-reduce between the
gradients and the update; each rank's loss is its sum of squared errors over its part of the
global batch divided by the global batch size (compute_average_loss), so the summed gradients are
the one-process gradients. Session.run(train_op, feed_dict) runs forward, backward, all-reduce and
update as one plan. The `horovod` variant is the same step as a Horovod program writes it
(distflow.horovod's DistributedOptimizer, each rank's mean loss; equal parts, so the same
gradients), run as a callable. The variants are timed in alternation, block by block, and each
but the callable also reports `vs_callable` (and `vs_callable_cpu`): the median over rounds of
its block time over the callable's block time of the same round.

    mpirun -n 2 python benchmarks/dp_step_distflow.py

With --workload W2 it measures weak scaling instead: the wide MLP with a batch of 256 rows PER
RANK (the global batch grows with the ranks), so that 1 rank and N ranks do the same work per
rank and efficiency = (step time on 1 rank) / (step time on N ranks). Under mpirun both times
come from the one job, in alternating blocks (common.time_weak_scaling: rank 0 runs the
one-process program while the others sleep); alone, it times the 1-rank job, which run.py
shows beside it.

    python benchmarks/dp_step_distflow.py --workload W2 && \
        mpirun -n 2 python benchmarks/dp_step_distflow.py --workload W2

--workload W6 does the same for the tutorial CNN of benchmarks/cnn_step.py: 64 images of
28x28x1 PER RANK, sparse softmax cross-entropy summed over the rank's part and divided by the
global batch, SGD through DistributedOptimizer (one fused all-reduce of the 347,146 gradients, 1.4 MB).
"""
import argparse
import random
import statistics
import time

import common
from dp_step_numpy_mpi import local_batches


def wide_rank_batches(rank, size, per_rank):
    """This rank's `per_rank` rows of each global batch of per_rank * size wide rows."""
    x, y = common.wide_data()
    per_step = per_rank * size
    lo = rank * per_rank
    return [(xb[lo:lo + per_rank], yb[lo:lo + per_rank])
            for xb, yb in common.batches(x, y, per_step)]


def build_step(tf, dd, spec, global_batch, variant, communicator=None):
    """(step(x, y), the model's weight variables, its Session): the distributed training step
    of the MLP `spec`, over `communicator` (init()'s by default)."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, spec["sizes"][0]])
        y = tf.placeholder(tf.float32, [None, 1])
        h, ws = x, []
        params = common.init_params(spec["sizes"])
        for i, (w0, b0) in enumerate(params):
            w, b = tf.Variable(w0), tf.Variable(b0)
            ws.append(w)
            h = tf.matmul(h, w) + b
            if i < len(params) - 1:
                h = tf.nn.relu(h)
        if variant == "horovod":  # Horovod's program: each rank's mean loss, averaged gradients
            import distflow.horovod as hvd
            hvd.init()
            loss = tf.reduce_mean(tf.square(h - y))
            opt = hvd.DistributedOptimizer(tf.train.GradientDescentOptimizer(spec["lr"]))
        else:
            loss = dd.compute_average_loss(tf.square(h - y), global_batch)
            opt = dd.DistributedOptimizer(tf.train.GradientDescentOptimizer(spec["lr"]),
                                          communicator=communicator)
        train = opt.minimize(loss)
        init = tf.global_variables_initializer()
    sess = tf.Session(graph=graph)
    sess.run(init)
    if variant in ("callable", "horovod"):
        return sess.make_callable(train, [x, y]), ws, sess

    def step(xb, yb):
        sess.run(train, feed_dict={x: xb, y: yb})
    return step, ws, sess


def build_cnn_step(tf, dd, global_batch, communicator=None):
    """(step(x, y), the weight variables, Session): the W6 CNN's distributed training step."""
    import cnn_step
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 28, 28, 1])
        y = tf.placeholder(tf.int64, [None])
        ws = [tf.Variable(w) for w in cnn_step.init_weights()]
        k, b, w1, b1, w2, b2 = ws
        h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, k, 1, "VALID"), b))
        h = tf.reshape(tf.nn.max_pool2d(h, 2, 2, "VALID"), [-1, 5408])
        logits = tf.matmul(tf.nn.relu(tf.matmul(h, w1) + b1), w2) + b2
        per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
        loss = dd.compute_average_loss(per_example, global_batch)
        opt = dd.DistributedOptimizer(tf.train.GradientDescentOptimizer(cnn_step.LR),
                                      communicator=communicator)
        train = opt.minimize(loss)
        init = tf.global_variables_initializer()
    sess = tf.Session(graph=graph)
    sess.run(init)
    return sess.make_callable(train, [x, y]), ws, sess


def cnn_rank_batches(rank, steps=4):
    """This rank's 64 images of each step (different images on each rank, as in training)."""
    import cnn_step
    return cnn_step.data(steps=steps, seed=common.SEED + 1 + rank)


def weak_scaling(tf, dd, ctx, workload, warmup, blocks, per_block):
    """W2 or W6 with a fixed batch per rank: 1 rank alone, or N ranks with the 1-rank program
    interleaved in the same job (common.time_weak_scaling)."""
    if workload == "W2":
        per_rank = common.W2["batch"]
        feeds = wide_rank_batches(ctx.rank, ctx.size, per_rank)
        solo_feeds = wide_rank_batches(0, 1, per_rank)

        def build(global_batch, communicator=None):
            return build_step(tf, dd, common.W2, global_batch, "callable", communicator)[0]
    else:
        import cnn_step
        per_rank = cnn_step.BATCH
        feeds, solo_feeds = cnn_rank_batches(ctx.rank), cnn_rank_batches(0)

        def build(global_batch, communicator=None):
            return build_cnn_step(tf, dd, global_batch, communicator)[0]
    step = build(per_rank * ctx.size)
    if ctx.size == 1:
        stats = common.time_steps(step, feeds, warmup, blocks, per_block)
        common.emit("scaling", "distflow", "%s weak, 1 rank(s)" % workload, ranks=1,
                    per_rank_batch=per_rank, **stats)
        return
    # The one-process program, as a 1-rank job runs it: the global batch is this rank's.
    solo = build(per_rank, dd.SingleCommunicator())
    dist, alone = common.time_weak_scaling(step, solo, feeds, solo_feeds,
                                           ctx.communicator.mpi_comm, warmup, blocks, per_block)
    if ctx.rank == 0:
        common.emit("scaling", "distflow", "%s weak, interleaved" % workload, ranks=ctx.size,
                    per_rank_batch=per_rank, solo_us=alone["wall_us"],
                    efficiency=alone["wall_us"] / dist["wall_us"], **dist)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--variant", nargs="+", choices=("graph", "callable", "horovod"),
                   default=["graph", "callable", "horovod"],
                   help="horovod: the same step written with distflow.horovod (callable)")
    p.add_argument("--workload", choices=("W1", "W2", "W6"), default="W1",
                   help="W1: the W4 step (global batch 32); W2: weak scaling, 256 rows per rank; "
                   "W6: weak scaling of the tutorial CNN, 64 images per rank")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    import distflow.compat.v1 as tf
    import distflow.distribute as dd
    ctx = dd.init()
    warmup, blocks, per_block = common.scale(args.workload, args.quick)
    if args.workload in ("W2", "W6"):
        weak_scaling(tf, dd, ctx, args.workload, warmup, blocks, per_block)
        return
    spec = common.W1
    feeds = local_batches(ctx.rank, ctx.size, spec["batch"])
    barrier = ctx.communicator.mpi_comm.Barrier if ctx.size > 1 else None
    built = [build_step(tf, dd, spec, spec["batch"], v) for v in args.variant]
    timed = time_variants([step for step, _, _ in built], feeds, warmup, blocks, per_block,
                          barrier)
    ref = args.variant.index("callable") if "callable" in args.variant else None
    for i, (variant, (_, ws, sess), (stats, wall, cpu)) in enumerate(zip(args.variant, built,
                                                                          timed)):
        if ref is not None and i != ref:  # the same blocks' ratio: load hits both alike
            stats["vs_callable"] = statistics.median(a / b for a, b in zip(wall, timed[ref][1]))
            stats["vs_callable_cpu"] = statistics.median(
                a / b for a, b in zip(cpu, timed[ref][2]))
        if ctx.rank == 0:
            common.emit("W4", "distflow", variant, ranks=ctx.size,
                        param_sum=float(sum(sess.run(w).sum() for w in ws)), **stats)


def time_variants(steps, feeds, warmup, blocks, per_block, sync=None):
    """[(summary, block walls, block cpus)] of each step(*feed), timed in alternation block by
    block (a shuffled order per round, the same on every rank: the steps are collectives), as
    common.time_steps times one. Timed one after the other, each variant met the load of its
    own minute: on the shared 2-core machine the same variant measured 66 us in one and 100 us
    in the next, more than the differences between variants."""
    n = len(feeds)
    for step in steps:
        for i in range(warmup):
            step(*feeds[i % n])
    walls, cpus = [[] for _ in steps], [[] for _ in steps]
    order = list(range(len(steps)))
    shuffle = random.Random(common.SEED).shuffle
    i = 0
    for _ in range(blocks):
        shuffle(order)
        for j in order:
            step = steps[j]
            if sync is not None:
                sync()
            t0, c0 = time.perf_counter(), time.process_time()
            for k in range(per_block):
                step(*feeds[(i + k) % n])
            c1, t1 = time.process_time(), time.perf_counter()
            walls[j].append((t1 - t0) / per_block * 1e6)
            cpus[j].append((c1 - c0) / per_block * 1e6)
        i += per_block
    return [(common.summary(w, c), w, c) for w, c in zip(walls, cpus)]


if __name__ == "__main__":
    main()

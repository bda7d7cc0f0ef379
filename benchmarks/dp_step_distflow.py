"""W4 with distflow: the data-parallel Boston step on several ranks, TF1 style.

DistributedOptimizer(GradientDescentOptimizer(0.01)) puts ONE fused all-reduce between the
gradients and the update; each rank's loss is its sum of squared errors over its part of the
global batch divided by the global batch size (compute_average_loss), so the summed gradients are
the one-process gradients. Session.run(train_op, feed_dict) runs forward, backward, all-reduce and
update as one plan. The `horovod` variant is the same step as a Horovod program writes it
(distflow.horovod's DistributedOptimizer, each rank's mean loss; equal parts, so the same
gradients), run as a callable.

    mpirun -n 2 python benchmarks/dp_step_distflow.py

With --workload W2 it measures weak scaling instead: the wide MLP with a batch of 256 rows PER
RANK (the global batch grows with the ranks), so that 1 rank and N ranks do the same work per
rank and efficiency = (step time on 1 rank) / (step time on N ranks). Under mpirun both times
come from the one job, in alternating blocks (common.time_weak_scaling: rank 0 runs the
one-process program while the others sleep); alone, it times the 1-rank job, which run.py
shows beside it.

    python benchmarks/dp_step_distflow.py --workload W2 && \
        mpirun -n 2 python benchmarks/dp_step_distflow.py --workload W2
"""
import argparse

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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--variant", nargs="+", choices=("graph", "callable", "horovod"),
                   default=["graph", "callable", "horovod"],
                   help="horovod: the same step written with distflow.horovod (callable)")
    p.add_argument("--workload", choices=("W1", "W2"), default="W1",
                   help="W1: the W4 step (global batch 32); W2: weak scaling, 256 rows per rank")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    import distflow.compat.v1 as tf
    import distflow.distribute as dd
    ctx = dd.init()
    warmup, blocks, per_block = common.scale(args.workload, args.quick)
    if args.workload == "W2":
        spec = common.W2
        feeds = wide_rank_batches(ctx.rank, ctx.size, spec["batch"])
        step, _, _ = build_step(tf, dd, spec, spec["batch"] * ctx.size, "callable")
        if ctx.size == 1:
            stats = common.time_steps(step, feeds, warmup, blocks, per_block)
            common.emit("scaling", "distflow", "W2 weak, 1 rank(s)", ranks=1,
                        per_rank_batch=spec["batch"], **stats)
            return
        # The one-process program, as a 1-rank job runs it: the global batch is this rank's.
        solo, _, _ = build_step(tf, dd, spec, spec["batch"], "callable", dd.SingleCommunicator())
        dist, alone = common.time_weak_scaling(step, solo, feeds,
                                               wide_rank_batches(0, 1, spec["batch"]),
                                               ctx.communicator.mpi_comm, warmup, blocks,
                                               per_block)
        if ctx.rank == 0:
            common.emit("scaling", "distflow", "W2 weak, interleaved", ranks=ctx.size,
                        per_rank_batch=spec["batch"], solo_us=alone["wall_us"],
                        efficiency=alone["wall_us"] / dist["wall_us"], **dist)
        return
    spec = common.W1
    feeds = local_batches(ctx.rank, ctx.size, spec["batch"])
    barrier = ctx.communicator.mpi_comm.Barrier if ctx.size > 1 else None
    for variant in args.variant:
        step, ws, sess = build_step(tf, dd, spec, spec["batch"], variant)
        stats = common.time_steps(step, feeds, warmup, blocks, per_block, sync=barrier)
        if ctx.rank == 0:
            common.emit("W4", "distflow", variant, ranks=ctx.size,
                        param_sum=float(sum(sess.run(w).sum() for w in ws)), **stats)


if __name__ == "__main__":
    main()

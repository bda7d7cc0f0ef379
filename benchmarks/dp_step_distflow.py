"""W4 with distflow: the data-parallel Boston step on several ranks, TF1 style.

DistributedOptimizer(GradientDescentOptimizer(0.01)) puts ONE fused all-reduce between the
gradients and the update; each rank's loss is its sum of squared errors over its part of the
global batch divided by the global batch size (compute_average_loss), so the summed gradients are
the one-process gradients. Session.run(train_op, feed_dict) runs forward, backward, all-reduce and
update as one plan.

    mpirun -n 2 python benchmarks/dp_step_distflow.py
"""
import argparse

import common
from dp_step_numpy_mpi import local_batches


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--variant", nargs="+", choices=("graph", "callable"),
                   default=["graph", "callable"])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    import distflow.compat.v1 as tf
    import distflow.distribute as dd
    ctx = dd.init()
    spec = common.W1
    feeds = local_batches(ctx.rank, ctx.size, spec["batch"])
    barrier = ctx.communicator.mpi_comm.Barrier
    for variant in args.variant:
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
            loss = dd.compute_average_loss(tf.square(h - y), spec["batch"])
            opt = dd.DistributedOptimizer(tf.train.GradientDescentOptimizer(spec["lr"]))
            train = opt.minimize(loss)
            init = tf.global_variables_initializer()
        sess = tf.Session(graph=graph)
        sess.run(init)
        if variant == "callable":
            step = sess.make_callable(train, [x, y])
        else:
            def step(xb, yb):
                sess.run(train, feed_dict={x: xb, y: yb})
        warmup, blocks, per_block = common.scale("W1", args.quick)
        stats = common.time_steps(step, feeds, warmup, blocks, per_block, sync=barrier)
        if ctx.rank == 0:
            common.emit("W4", "distflow", variant, ranks=ctx.size,
                        param_sum=float(sum(sess.run(w).sum() for w in ws)), **stats)


if __name__ == "__main__":
    main()

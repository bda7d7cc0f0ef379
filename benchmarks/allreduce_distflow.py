"""W3 with distflow: the fused all-reduce op inside a Session plan, as a training step runs it.

The tensors reduced have the gradients' shapes of the W1 model (5,121 floats in 6 tensors) or of
the W2 model (1,313,793 floats); the plan reads them from variables and reduces them with ONE
FusedAllReduce (copies into the flat buffer, one collective, views out). Measured in alternation,
block by block, in the same processes (so with the same MPI thread level and the same load):

  mpi4py        raw comm.Allreduce(IN_PLACE, buf) of a flat buffer of the same size: the floor
  communicator  distflow's communicator.allreduce(buf): the collective and its bookkeeping
  fused op      a plan running the FusedAllReduce op on tensors read from variables: the plain
                path (the copies into the flat buffer, the collective, the views)
  in place      the op's kernel as a zero-copy plan binds it, called with the gradients already
                in its buffer (backprop wrote them there): what a training step pays for the op

    mpirun -n 2 python benchmarks/allreduce_distflow.py --sizes 5121 1313793
"""
import argparse

import numpy as np

import common
from allreduce_mpi4py import bandwidths, calls_for, thread_level_name


def model_shapes(n):
    """The parameter shapes of the W1 or W2 MLP, whichever has `n` parameters."""
    for spec in (common.W1, common.W2):
        sizes = spec["sizes"]
        shapes = [s for a, b in zip(sizes[:-1], sizes[1:]) for s in ((a, b), (b,))]
        if sum(int(np.prod(s)) for s in shapes) == n:
            return shapes
    return [(n,)]


def fused_plan(tf, dd, comm, n):
    """A callable running a plan whose only work is one FusedAllReduce of model-shaped tensors."""
    graph = tf.Graph()
    with graph.as_default():
        grads = [tf.Variable(np.ones(s, np.float32)) for s in model_shapes(n)]
        reduced = dd.allreduce([g.value() for g in grads], communicator=comm)
        op = tf.group(*reduced)
        init = tf.global_variables_initializer()
    sess = tf.Session(graph=graph)
    sess.run(init)
    return sess.make_callable(op), len(grads)


def fused_in_place(tf, dd, comm, n):
    """A callable running the FusedAllReduce kernel the way a zero-copy plan's line runs it."""
    shapes = model_shapes(n)
    graph = tf.Graph()
    with graph.as_default():
        xs = [tf.placeholder(tf.float32, s) for s in shapes]
        op = dd.allreduce(xs, communicator=comm)[0].op
    sess = tf.Session(graph=graph)
    kernel = op.opdef.kernel(op, sess)  # bound as Plan binds it
    views = kernel.input_buffers(shapes, [np.float32] * len(shapes), np,
                                 written=range(len(shapes)))  # as a zero-copy plan binds it
    for v in views:
        v[...] = 1
    return lambda: kernel(*views)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=list(common.W3_SIZES))
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    import distflow.compat.v1 as tf
    import distflow.distribute as dd
    ctx = dd.init()
    comm = ctx.communicator
    from mpi4py import MPI
    raw_comm = comm.mpi_comm
    for n in args.sizes:
        raw_buf, df_buf = np.ones(n, np.float32), np.ones(n, np.float32)
        run_fused, n_tensors = fused_plan(tf, dd, comm, n)
        fns = [lambda: raw_comm.Allreduce(MPI.IN_PLACE, raw_buf, MPI.SUM),
               lambda: comm.allreduce(df_buf), run_fused, fused_in_place(tf, dd, comm, n)]
        warmup, blocks, per_block = calls_for(n, args.quick)
        stats = common.time_interleaved(fns, warmup, blocks, per_block, sync=raw_comm.Barrier)
        if ctx.rank == 0:
            for (impl, variant), s in zip((("mpi4py", "in-process, size %d" % n),
                                           ("distflow", "communicator, size %d" % n),
                                           ("distflow", "fused op, size %d" % n),
                                           ("distflow", "fused op in place, size %d" % n)),
                                          stats):
                algbw, busbw = bandwidths(n * 4, s["wall_us"] / 1e6, ctx.size)
                common.emit("W3", impl, variant, size=n, ranks=ctx.size, tensors=n_tensors,
                            thread_level=thread_level_name(MPI), algbw_gbs=algbw,
                            busbw_gbs=busbw, **s)


if __name__ == "__main__":
    main()

"""W4 with hand-written NumPy plus ONE fused mpi4py Allreduce per step (the baseline).

Each of the ranks takes its contiguous part of every global batch of 32 rows, computes the
gradient of (its sum of squared errors) / 32 straight into one flat buffer, sums that buffer over
the ranks in place with a single Allreduce, and applies SGD: N ranks compute exactly what one
process computes on the global batch.

    mpirun -n 2 python benchmarks/dp_step_numpy_mpi.py

With --workload W2, the peer of dp_step_distflow.py's weak-scaling measurement: the wide MLP
with 256 rows per rank, timed against the one-process program in alternating blocks of one job.
"""
import argparse

import common
from numpy_mlp import NumpyMLP


def local_batches(rank, size, global_batch):
    """This rank's part of each full global batch of the Boston training rows."""
    x, y = common.boston_train()
    per = global_batch // size
    lo, hi = rank * per, (rank + 1) * per
    return [(xb[lo:hi], yb[lo:hi]) for xb, yb in common.batches(x, y, global_batch)]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--workload", choices=("W1", "W2"), default="W1")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    if args.workload == "W2":
        return weak_scaling(comm, MPI, args.quick)
    spec = common.W1
    feeds = local_batches(comm.rank, comm.size, spec["batch"])
    model = NumpyMLP(common.init_params(spec["sizes"]), len(feeds[0][0]), spec["lr"])
    scale = 2.0 / spec["batch"]

    def step(xb, yb):
        model.forward_backward(xb, yb, scale)
        comm.Allreduce(MPI.IN_PLACE, model.flat_grad, MPI.SUM)
        model.apply()

    warmup, blocks, per_block = common.scale("W1", args.quick)
    stats = common.time_steps(step, feeds, warmup, blocks, per_block, sync=comm.Barrier)
    if comm.rank == 0:
        common.emit("W4", "numpy+mpi4py", "step", ranks=comm.size,
                    param_sum=float(sum(w.sum() for w in model.ws)), **stats)


def weak_scaling(comm, MPI, quick):
    from dp_step_distflow import wide_rank_batches
    spec = common.W2
    batch = spec["batch"]
    model = NumpyMLP(common.init_params(spec["sizes"]), batch, spec["lr"])
    solo = NumpyMLP(common.init_params(spec["sizes"]), batch, spec["lr"])
    scale = 2.0 / (batch * comm.size)

    def step(xb, yb):
        model.forward_backward(xb, yb, scale)
        comm.Allreduce(MPI.IN_PLACE, model.flat_grad, MPI.SUM)
        model.apply()

    def solo_step(xb, yb):
        solo.forward_backward(xb, yb, 2.0 / batch)
        solo.apply()

    warmup, blocks, per_block = common.scale("W2", quick)
    dist, alone = common.time_weak_scaling(step, solo_step,
                                           wide_rank_batches(comm.rank, comm.size, batch),
                                           wide_rank_batches(0, 1, batch), comm, warmup, blocks,
                                           per_block)
    if comm.rank == 0:
        common.emit("scaling", "numpy+mpi4py", "W2 weak, interleaved", ranks=comm.size,
                    per_rank_batch=batch, solo_us=alone["wall_us"],
                    efficiency=alone["wall_us"] / dist["wall_us"], **dist)


if __name__ == "__main__":
    main()

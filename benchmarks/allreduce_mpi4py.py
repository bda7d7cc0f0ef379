"""W3 with raw mpi4py: an in-place Allreduce (sum) of one float32 buffer, the floor distflow's
fused all-reduce is compared with. Run under mpirun with 2 ranks:

    mpirun -n 2 python benchmarks/allreduce_mpi4py.py --sizes 5121 1313793

MPI's thread level is mpi4py's rc setting; run.py sets it with MPI4PY_RC_THREAD_LEVEL (single,
funneled, serialized or multiple, mpi4py's default) to compare them. With MPICH the thread level
chooses the algorithm: a single-threaded process gets the shared-memory "release_gather"
all-reduce (fast for small buffers, slow for large ones), a multi-threaded one MPICH's generic
algorithms; MPIR_CVAR_ALLREDUCE_POSIX_INTRA_ALGORITHM=mpir forces the latter, which shows it.
MPIR_CVAR_CH4_POSIX_COLL_SELECTION_TUNING_JSON_FILE set to distflow's selection file (what
distflow sets under MPICH 5, see distflow/distribute/runtime.py) keeps release_gather for buffers
up to 64 KiB in a process that is not multi-threaded, and uses the generic algorithms above.
"""
import argparse
import os

import numpy as np

import common


def bandwidths(nbytes, seconds, size):
    """nccl-tests' definitions for all-reduce: algbw = bytes / time, busbw = algbw * 2(n-1)/n."""
    algbw = nbytes / seconds / 1e9
    return algbw, algbw * 2 * (size - 1) / size


def thread_level_name(MPI):
    return {MPI.THREAD_SINGLE: "single", MPI.THREAD_FUNNELED: "funneled",
            MPI.THREAD_SERIALIZED: "serialized", MPI.THREAD_MULTIPLE: "multiple"}[MPI.Query_thread()]


def calls_for(nelems, quick):
    """(warmup, blocks, per_block): about the same time per size."""
    if quick:
        return 2, 3, 3
    return (200, 40, 100) if nelems < 100000 else (10, 30, 5)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=list(common.W3_SIZES))
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    for n in args.sizes:
        buf = np.ones(n, np.float32)

        def call():
            comm.Allreduce(MPI.IN_PLACE, buf, MPI.SUM)
        warmup, blocks, per_block = calls_for(n, args.quick)
        stats = common.time_steps(call, [()], warmup, blocks, per_block, sync=comm.Barrier)
        if comm.rank == 0:
            algbw, busbw = bandwidths(buf.nbytes, stats["wall_us"] / 1e6, comm.size)
            algorithm = os.environ.get("MPIR_CVAR_ALLREDUCE_POSIX_INTRA_ALGORITHM")
            variant = "size %d" % n + (", MPICH algorithm %s" % algorithm if algorithm else "")
            if os.environ.get("MPIR_CVAR_CH4_POSIX_COLL_SELECTION_TUNING_JSON_FILE"):
                variant += ", distflow's MPICH selection"
            common.emit("W3", "mpi4py", variant, size=n, ranks=comm.size,
                        thread_level=thread_level_name(MPI), algbw_gbs=algbw, busbw_gbs=busbw,
                        **stats)


if __name__ == "__main__":
    main()

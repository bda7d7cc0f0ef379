"""W3 with torch.distributed on gloo (an optional peer): all_reduce of one float32 tensor.

Started by mpirun like the others (rank and size come from the launcher's PMI variables); the
ranks meet over TCP on 127.0.0.1.

    mpirun -n 2 python benchmarks/allreduce_gloo.py --sizes 5121 1313793
"""
import argparse

import common
from allreduce_mpi4py import bandwidths, calls_for
from torch_dist import init_gloo


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=list(common.W3_SIZES))
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    dist = init_gloo()
    if dist is None:
        common.emit("W3", "gloo", skipped="not installed")
        return
    import torch
    rank, size = dist.get_rank(), dist.get_world_size()
    for n in args.sizes:
        buf = torch.ones(n, dtype=torch.float32)
        warmup, blocks, per_block = calls_for(n, args.quick)
        stats = common.time_steps(lambda: dist.all_reduce(buf), [()], warmup, blocks, per_block,
                                  sync=dist.barrier)
        if rank == 0:
            algbw, busbw = bandwidths(n * 4, stats["wall_us"] / 1e6, size)
            common.emit("W3", "gloo", "size %d" % n, size=n, ranks=size, algbw_gbs=algbw,
                        busbw_gbs=busbw, **stats)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

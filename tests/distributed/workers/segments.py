"""Run under mpirun by test_mpich_segments.py: each rank writes what it maps of MPICH's shared
memory (and its record of it) to DIR/rank-<r>.json, then waits until DIR/go exists (or is
killed meanwhile) and ends normally."""
import json
import os
import sys
import time

import numpy as np

import distflow.distribute as dd


def main(out):
    comm = dd.init().communicator
    comm.allreduce(np.ones(4, np.float32), name="warm-up")
    report = {"pid": os.getpid(),
              "segments": sorted({line.split()[-1] for line in open("/proc/self/maps")
                                  if "/dev/shm/mpich_shm_" in line}),
              "record": getattr(comm, "_segment_record", None)}
    with open(os.path.join(out, "rank-%d.json.tmp" % comm.rank), "w") as f:
        json.dump(report, f)
    os.rename(os.path.join(out, "rank-%d.json.tmp" % comm.rank),
              os.path.join(out, "rank-%d.json" % comm.rank))
    deadline = time.time() + 120
    while not os.path.exists(os.path.join(out, "go")) and time.time() < deadline:
        time.sleep(0.05)
    comm.barrier(name="done")


if __name__ == "__main__":
    main(sys.argv[1])

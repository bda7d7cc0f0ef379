"""Under mpirun: ranks below argv[2] ask for the CPU, the others for GPUs (as `device: auto` does
on nodes with and without GPUs); each rank writes what init() said to argv[1]/rank-<rank>.txt."""
import os
import sys

import distflow.distribute as dd
from distflow.run.world import launcher_rank

rank = launcher_rank()
try:
    ctx = dd.init(device="cpu" if rank < int(sys.argv[2]) else "gpu", collective_timeout=20)
    said = "joined as %s" % ctx.device
except dd.DeviceMismatchError as e:
    said = "DeviceMismatchError: %s" % e
with open(os.path.join(sys.argv[1], "rank-%d.txt" % rank), "w") as f:
    f.write(said)

"""Run under mpirun on several (simulated) nodes: each rank writes DIR/rank-<rank>.json saying where
the runtime puts it, and what a fused all-reduce big enough for the shared-memory path gave (a
file each: mpirun may interleave the ranks' output lines)."""
import json
import os
import socket
import sys

import numpy as np

import distflow as df
import distflow.distribute as dd

ctx = dd.init()
# 64 KiB: on one host this size goes through /dev/shm; across hosts it must go through MPI
mine = np.full(16384, float(ctx.rank + 1), np.float32)
with df.Graph().as_default():  # a Session plan: its fused buffer is the one /dev/shm may hold
    x = df.compat.v1.placeholder(df.float32, [16384])
    reduced = dd.allreduce(x, op="sum")
    with df.compat.v1.Session() as sess:
        total = sess.run(reduced, {x: mine})
facts = {
    "rank": ctx.rank, "size": ctx.size, "local_rank": ctx.local_rank,
    "local_size": ctx.local_size, "host": ctx.host, "hostname": socket.gethostname(),
    "hosts": ctx.communicator.host_names(), "device": ctx.device,
    "allreduce_ok": bool(np.all(total == sum(range(1, ctx.size + 1)))),
    "fused_path": ctx.communicator.fused_path(),
}
with open(os.path.join(sys.argv[1], "rank-%d.json" % ctx.rank), "w") as f:
    json.dump(facts, f)

"""Run under mpirun by test_failures.py: one rank misbehaves, and the job must end, not hang.

    exception   rank 1 raises while the others wait in an all-reduce
    stall       the last rank sleeps instead of joining an all-reduce (collective timeout)
    stall-shared  the same, in a plan whose 400 KiB fused buffer is reduced in shared memory
    stall-attacked  stall, and every rank writes its side channel's port (and a genuine frame
                it sent, for replaying) to $FAILURES_DIR, where the test attacks from
    mismatch    rank 1 builds a model with other shapes than the others'
    loop        all-reduces forever (rank 1 a little slower), until the test sends Ctrl-C
    exit        rank 1's program ends early while the others wait in an all-reduce
    thread      a worker thread of rank 1 raises; its main thread then waits for that thread's
                result, as a data-loading thread's consumer would
"""
import json
import os
import socket
import sys
import threading
import time

import numpy as np

import distflow.distribute as dd


def shared_memory_step():
    import distflow.compat.v1 as tf
    x = tf.placeholder(tf.float32, [100000])
    reduced = dd.allreduce(x, name="grads")
    run = tf.Session().make_callable(reduced, [x])
    return lambda: run(np.ones(100000, np.float32))


def expose_side_channel(comm):
    """Each rank writes its port, and a frame it sent the next rank (genuine, and accepted
    there), for the test to attack with; then 'ready'."""
    side, out = comm.watchdog._side, os.environ["FAILURES_DIR"]
    nxt = (comm.rank + 1) % comm.size
    genuine = side.encode(nxt, "answer", comm.watchdog.state())
    addrs, port = side._peers[nxt]
    with socket.create_connection((addrs[0], port)) as s:
        s.sendall(genuine)
    comm.barrier(name="exposed")
    with open(os.path.join(out, "rank-%d.json" % comm.rank), "w") as f:
        json.dump({"port": side._listener.getsockname()[1], "replay_to": nxt,
                   "replay": genuine.hex()}, f)


def mismatch(comm):
    import distflow.compat.v1 as tf
    x = tf.placeholder(tf.float32, [None, 3])
    w = tf.Variable(tf.ones([3, 2 + (comm.rank == 1)]), name="w")
    opt = dd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.1))
    train = opt.minimize(tf.reduce_sum(tf.matmul(x, w)))
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    sess.run(train, {x: np.ones((2, 3), np.float32)})


def report_shared_memory():
    """What of /dev/shm this rank's job owns, for the test to check that none is left: "shm"
    <pid> <MPICH segments it maps>."""
    with open("/proc/self/maps") as maps:
        segments = {line.split()[-1] for line in maps if "/dev/shm/mpich_shm_" in line}
    print("shm %d %s" % (os.getpid(), ",".join(sorted(segments))), flush=True)


def main(scenario):
    comm = dd.init().communicator
    report_shared_memory()
    if scenario == "mismatch":
        mismatch(comm)
    if scenario == "loop":
        buf = np.ones(1000, np.float32)
        comm.allreduce(buf, name="warm-up")
        if comm.rank == 0:
            print("looping", flush=True)
        while True:
            comm.allreduce(buf, name="step")
            if comm.rank == 1:
                time.sleep(0.001)
    buf = np.ones(4, np.float32)
    if scenario == "stall-shared":
        step = shared_memory_step()
        step()
        assert comm._segments.connected == 1
    else:
        step = None
        comm.allreduce(buf, name="warm-up")
    if scenario == "stall-attacked":
        expose_side_channel(comm)
    culprit = comm.size - 1 if scenario.startswith("stall") else 1
    if comm.rank == culprit:
        if scenario == "exception":
            print("raising at %.3f" % time.time(), file=sys.stderr, flush=True)
            raise ValueError("boom on purpose")
        if scenario.startswith("stall"):
            time.sleep(120)
        if scenario == "exit":
            sys.exit(0)
        if scenario == "thread":
            def load():
                print("raising at %.3f" % time.time(), file=sys.stderr, flush=True)
                raise OSError("data file vanished")
            threading.Thread(target=load).start()
            time.sleep(120)  # waiting for data that never comes
    if step is not None:
        step()
    else:
        comm.allreduce(buf, name="the-step")
    print("rank %d finished: the job did not stop" % comm.rank, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])

"""Run under mpirun by test_failures.py: one rank misbehaves, and the job must end, not hang.

    exception   rank 1 raises while the others wait in an all-reduce
    stall       the last rank sleeps instead of joining an all-reduce (collective timeout)
    stall-shared  the same, in a plan whose 400 KiB fused buffer is reduced in shared memory
    exit        rank 1's program ends early while the others wait in an all-reduce
    thread      a worker thread of rank 1 raises; its main thread then waits for that thread's
                result, as a data-loading thread's consumer would
"""
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


def main(scenario):
    comm = dd.init().communicator
    buf = np.ones(4, np.float32)
    if scenario == "stall-shared":
        step = shared_memory_step()
        step()
        assert comm._segments.connected == 1
    else:
        step = None
        comm.allreduce(buf, name="warm-up")
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

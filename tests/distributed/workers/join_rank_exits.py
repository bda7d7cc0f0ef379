"""Run under `mpirun -n N`: every rank runs a plan's hvd.allreduce twice (the layout is then
negotiated and runs without negotiating); the last rank ends its program without join(), the
others call join(), which must stop with a message naming that rank, not wait forever."""
import sys

import numpy as np

import distflow as tf
import distflow.horovod as hvd

hvd.init()
run = tf.function(lambda a: hvd.allreduce(a, op=hvd.Sum))
for _ in range(2):
    run(np.ones(3, np.float32))
if hvd.rank() == hvd.size() - 1:
    sys.exit(0)
hvd.join()
print("join returned on rank %d" % hvd.rank())

"""`distflow.distribute`: data-parallel training over MPI; on GPUs over NCCL, or MPI through host
memory (host-staged), behind the same interfaces.

    import distflow.distribute as dd
    ctx = dd.init()                                  # rank, size, local_rank, device
    opt = dd.DistributedOptimizer(tf.train.AdamOptimizer(1e-3))
    loss = dd.compute_average_loss(per_example_loss, global_batch_size)
    train_op = opt.minimize(loss)       # one plan: forward, backward, all-reduce, update
    sess.run(init); dd.broadcast_variables(sess); dd.variables_checksum(sess)

Run it with `mpirun -n 4 python train.py`; without mpirun it is one rank and needs no MPI.
Importing this package does not import mpi4py: init() does, and only under an MPI launcher.
"""
from distflow.distribute.allreduce_op import (DEFAULT_BUCKET_BYTES, FusedAllReduce,  # noqa: F401
                                              allreduce, bucket_layout)
from distflow.distribute.communicator import (REDUCE_OPS, CollectiveMismatchError,  # noqa: F401
                                              Communicator)
from distflow.distribute.devices import SharedGPUError, check_gpu_sharing  # noqa: F401
from distflow.distribute.global_batch import (compute_average_loss, reduce_metrics,  # noqa: F401
                                              shard, shard_bounds)
from distflow.distribute.optimizer import DistributedOptimizer  # noqa: F401
from distflow.distribute.runtime import (DEFAULT_COLLECTIVE_TIMEOUT,  # noqa: F401
                                         DeviceMismatchError, DistContext, communicator, device,
                                         get_context, init, is_chief, launched_by_mpi,
                                         local_rank, local_size, rank, shutdown, size)
from distflow.distribute.single import SingleCommunicator  # noqa: F401
from distflow.distribute.variables import (ReplicaMismatchError,  # noqa: F401
                                           broadcast_global_variables, broadcast_variables,
                                           variables_checksum)
# tf.distribute's names (`import distflow as tf; tf.distribute.MultiWorkerMirroredStrategy()`)
from distflow.distribute.strategy import (InputContext, InputOptions,  # noqa: F401,E402
                                          MirroredStrategy, MultiWorkerMirroredStrategy,
                                          OneDeviceStrategy, ReduceOp, ReplicaContext, Strategy,
                                          experimental_set_strategy, get_replica_context,
                                          get_strategy, has_strategy, in_cross_replica_context)
from distflow.distribute import experimental, cluster_resolver  # noqa: F401,E402

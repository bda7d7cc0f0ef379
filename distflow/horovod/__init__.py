"""`distflow.horovod`: horovod.tensorflow's API over distflow's runtime.

    import distflow as tf
    import distflow.horovod as hvd          # was: import horovod.tensorflow as hvd
    hvd.init()
    opt = hvd.DistributedOptimizer(tf.keras.optimizers.Adam(0.001 * hvd.size()))

Horovod's semantics: each rank trains on its own data and gradients are AVERAGED over the ranks
(op=hvd.Average, the default). distflow.distribute's own DistributedOptimizer keeps its
global-batch semantics (losses divided by the global batch, gradients summed); docs/horovod.md
says which to use when. Run with `mpirun -n N python train.py`; without mpirun it is one rank.
Every collective is negotiated across the ranks first (collectives.py): ranks that call
different collectives get an error instead of a hang, and a rank that stops (or never arrives)
ends the job through distflow's watchdog.
"""
from distflow.horovod.basics import (Compression, ProcessSet, ccl_built,  # noqa: F401
                                     cross_rank, cross_size, cuda_built, ddl_built,
                                     global_process_set, gloo_built, gloo_enabled, init,
                                     is_homogeneous, is_initialized, local_rank, local_size,
                                     mpi_built, mpi_enabled, mpi_threads_supported, nccl_built,
                                     rank, rocm_built, shutdown, size, start_timeline,
                                     stop_timeline)
from distflow.horovod.collectives import ADASUM as Adasum  # noqa: F401
from distflow.horovod.collectives import AVERAGE as Average  # noqa: F401
from distflow.horovod.collectives import MAX as Max  # noqa: F401
from distflow.horovod.collectives import MIN as Min  # noqa: F401
from distflow.horovod.collectives import PRODUCT as Product  # noqa: F401
from distflow.horovod.collectives import SUM as Sum  # noqa: F401
from distflow.horovod.functions import (BroadcastGlobalVariablesHook,  # noqa: F401
                                        allgather_object, broadcast_global_variables,
                                        broadcast_object, broadcast_object_fn,
                                        broadcast_variables)
from distflow.horovod.mpi_ops import (allgather, alltoall, barrier, broadcast,  # noqa: F401
                                      join)
from distflow.horovod.optimizer import (DistributedGradientTape,  # noqa: F401
                                        DistributedOptimizer)


def allreduce(tensor, average=None, device_dense="", device_sparse="",
              compression=Compression.none, op=None, prescale_factor=1.0, postscale_factor=1.0,
              name=None, process_set=None, ignore_name_scope=False):
    """`tensor` reduced over the ranks: op=Average (the default), Sum, Min, Max or Product,
    scaled by prescale_factor before and postscale_factor after."""
    from distflow.horovod import mpi_ops
    mpi_ops._global_only(process_set)
    op = _op(op, average)
    compressed, ctx = compression.compress(tensor)
    reduced = mpi_ops.allreduce_op(compressed, op, prescale_factor, postscale_factor, name=name)
    return compression.decompress(reduced, ctx)


def grouped_allreduce(tensors, average=None, device_dense="", device_sparse="",
                      compression=Compression.none, op=None, prescale_factor=1.0,
                      postscale_factor=1.0, process_set=None, ignore_name_scope=False,
                      name=None):
    """allreduce of every tensor of the list, in one fused collective."""
    from distflow.horovod import mpi_ops
    mpi_ops._global_only(process_set)
    if not tensors:
        return tensors
    op = _op(op, average)
    compressed, ctxs = zip(*[compression.compress(t) for t in tensors])
    reduced = mpi_ops.grouped_allreduce_op(compressed, op, prescale_factor, postscale_factor,
                                           name=name)
    return [compression.decompress(t, c) for t, c in zip(reduced, ctxs)]


def reducescatter(tensor, device_dense="", compression=Compression.none, op=Average, name=None,
                  process_set=None, ignore_name_scope=False, prescale_factor=1.0,
                  postscale_factor=1.0):
    """`tensor` reduced over the ranks (Average or Sum), this rank's part of its first
    dimension (the first d % size ranks get one row more)."""
    from distflow.horovod import mpi_ops
    mpi_ops._global_only(process_set)
    compressed, ctx = compression.compress(tensor)
    reduced = mpi_ops.reducescatter_op(compressed, op, prescale_factor, postscale_factor,
                                       name=name)
    return compression.decompress(reduced, ctx)


def size_op(process_set_id=0, name=None):
    """hvd.size() as an int32 tensor (a job's size never changes here: no elastic mode)."""
    return _constant(size(), name or "size")


def local_size_op(name=None):
    return _constant(local_size(), name or "local_size")


def rank_op(name=None):
    return _constant(rank(), name or "rank")


def local_rank_op(name=None):
    return _constant(local_rank(), name or "local_rank")


def _constant(value, name):
    from distflow.ops import constant_op
    import numpy as np
    return constant_op.constant(np.int32(value), name=name)


def _op(op, average):
    """Horovod's handle_average_backwards_compatibility: `average` is the deprecated spelling."""
    if op is not None and average is not None:
        raise ValueError("The op parameter supersedes average. Please provide only one of them.")
    if average is not None:
        return Average if average else Sum
    return Average if op is None else op


def run(*args, **kwargs):
    """horovod.run starts the ranks itself; distflow's are mpirun's."""
    raise NotImplementedError("horovod.run is not available in distflow.horovod: start the job "
                              "with `mpirun -n N python script.py`")

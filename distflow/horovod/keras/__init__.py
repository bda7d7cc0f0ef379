"""`distflow.horovod.keras`: horovod.tensorflow.keras over distflow's Keras and runtime.

    import distflow.horovod.keras as hvd    # was: import horovod.tensorflow.keras as hvd
    hvd.init()
    model.compile(optimizer=hvd.DistributedOptimizer(tf.keras.optimizers.Adam(1e-3 * hvd.size())),
                  loss="mse")
    model.fit(x, y, callbacks=[hvd.callbacks.BroadcastGlobalVariablesCallback(0),
                               hvd.callbacks.MetricAverageCallback()])

fit's train step calls the optimizer's apply_gradients with each rank's local gradients; the
distributed optimizer averages them over the ranks there, in the step's graph.
"""
from distflow.horovod import (Average, Compression, ProcessSet, Sum,  # noqa: F401
                              ccl_built, cross_rank, cross_size, cuda_built, ddl_built,
                              global_process_set, gloo_built, gloo_enabled, init,
                              is_homogeneous, is_initialized, local_rank, local_size, mpi_built,
                              mpi_enabled, mpi_threads_supported, nccl_built, rank, rocm_built,
                              shutdown, size, start_timeline, stop_timeline)
from distflow.horovod import allgather as _allgather
from distflow.horovod import allreduce as _allreduce
from distflow.horovod import broadcast as _broadcast
from distflow.horovod import broadcast_global_variables as _broadcast_global_variables
from distflow.horovod import reducescatter as _reducescatter
from distflow.horovod import optimizer as _optimizer
from distflow.horovod.keras import callbacks  # noqa: F401
from distflow.ops import dispatch


def DistributedOptimizer(optimizer, name=None, device_dense="", device_sparse="",
                         compression=Compression.none, sparse_as_dense=False,
                         gradient_predivide_factor=1.0, op=Average, backward_passes_per_step=1,
                         average_aggregated_gradients=False, num_groups=0, groups=None,
                         process_set=None, scale_local_gradients=True):
    """A Keras optimizer of `optimizer`'s class whose gradients are averaged (op=Average) or
    summed (op=Sum) over the ranks before every update, in fit and in custom loops."""
    if op != Average and op != Sum:
        raise ValueError("op currently only supports Average and Sum")
    return _optimizer.DistributedOptimizer(
        optimizer, name=name, compression=compression, sparse_as_dense=sparse_as_dense,
        backward_passes_per_step=backward_passes_per_step, op=op,
        gradient_predivide_factor=gradient_predivide_factor,
        average_aggregated_gradients=average_aggregated_gradients, num_groups=num_groups,
        groups=groups, process_set=process_set, scale_local_gradients=scale_local_gradients)


def broadcast_global_variables(root_rank):
    """TF1 Keras only (graph mode), as Horovod's."""
    return _broadcast_global_variables(root_rank)


def allreduce(value, name=None, average=None, prescale_factor=1.0, postscale_factor=1.0, op=None,
              compression=Compression.none):
    """`value` (a number, array or tensor) reduced over the ranks (Average by default)."""
    return _allreduce(dispatch.convert_to_tensor(value), average=average, op=op,
                      prescale_factor=prescale_factor, postscale_factor=postscale_factor,
                      compression=compression, name=name)


def allgather(value, name=None):
    return _allgather(dispatch.convert_to_tensor(value), name=name)


def broadcast(value, root_rank, name=None):
    return _broadcast(dispatch.convert_to_tensor(value), root_rank, name=name)


def reducescatter(value, name=None, op=Average):
    return _reducescatter(dispatch.convert_to_tensor(value), op=op, name=name)

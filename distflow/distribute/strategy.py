"""`tf.distribute` over distflow's runtime: MultiWorkerMirroredStrategy and MirroredStrategy.

    strategy = tf.distribute.MultiWorkerMirroredStrategy()     # mpirun -n N python train.py
    with strategy.scope():
        model = make_model(); model.compile(...)                 # variables: rank 0's values
    model.fit(x, y, batch_size=64, epochs=3)                     # 64 = the GLOBAL batch

Each MPI rank is one replica (one process, one device): `num_replicas_in_sync` is the job's size,
`cluster_resolver.task_id` its rank. The ranks come from mpirun; TF_CONFIG is read only to check
that it agrees with them. MirroredStrategy is the same strategy (one process: one replica; under
mpirun, one replica per rank).

Semantics are distflow's global batch (DESIGN.md, global_batch.py), which are TF's: every step the
ranks split one global batch, each divides its loss sum by the global batch size, and the
gradients are summed, so N ranks compute what one process computes. In a custom loop,
`strategy.run(step_fn, args=(batch,))` runs step_fn in a replica context, where
`optimizer.apply_gradients` sums the gradients across replicas before applying them (TF's
optimizers do the same), and `get_replica_context().all_reduce` reduces any value.

Variables created in `scope()` (or during `run`) are overwritten with rank 0's values as they are
made, so replicas start identical. Unseeded data orders (Dataset.shuffle, Keras fit's shuffle)
come from one stream of entropy rank 0 sends when the strategy is made, so every rank draws the
same global batches; a distributed dataset also compares its first batch across ranks each pass.
"""
import contextlib
import enum
import weakref

import numpy as np

from distflow.distribute import runtime
from distflow.distribute.allreduce_op import allreduce
from distflow.distribute.cluster_resolver import ClusterResolver, read_tf_config
from distflow.distribute.input_lib import (DistributedDataset, InputContext,  # noqa: F401
                                           InputOptions)
from distflow.distribute.variables import broadcast_variables
from distflow.framework import context, nest
from distflow.ops import array_ops, comparison_ops, dispatch, math_ops, random_ops

__all__ = ["Strategy", "MultiWorkerMirroredStrategy", "MirroredStrategy", "OneDeviceStrategy",
           "ReduceOp",
           "ReplicaContext", "InputContext", "InputOptions", "get_strategy", "has_strategy",
           "get_replica_context", "in_cross_replica_context", "experimental_set_strategy"]


class ReduceOp(enum.Enum):
    """How values are combined across replicas (tf.distribute.ReduceOp)."""
    SUM = "SUM"
    MEAN = "MEAN"

    @staticmethod
    def from_variable_aggregation(aggregation):
        name = str(getattr(aggregation, "name", aggregation)).upper()
        if name not in ("SUM", "MEAN"):
            raise ValueError("Could not convert from `tf.VariableAggregation` %r to "
                             "`tf.distribute.ReduceOp` type" % (aggregation,))
        return ReduceOp[name]


def _reduce_op(op):
    if isinstance(op, ReduceOp):
        return op
    if isinstance(op, str) and op.upper() in ("SUM", "MEAN"):
        return ReduceOp[op.upper()]
    raise ValueError("reduce_op must be tf.distribute.ReduceOp.SUM or ReduceOp.MEAN, got %r"
                     % (op,))


class Strategy:
    """The strategy of an MPI job: one replica per rank (see the module docstring)."""

    # its optimizer step sums gradients across the ranks (a Horovod or distflow.distribute
    # wrapper inside strategy.run would reduce them twice: train/optimizer.py refuses it)
    sums_across_ranks = True

    def __init__(self, cluster_resolver=None):
        self._context = runtime.init()
        self._communicator = comm = self._context.communicator
        self._tf_config = read_tf_config(comm.rank, comm.size)
        self.cluster_resolver = cluster_resolver or ClusterResolver(comm.rank, comm.size,
                                                                    self._tf_config)
        entropy = np.random.SeedSequence().entropy if comm.rank == 0 else None
        random_ops.share_entropy(comm.broadcast_object(entropy) if comm.size > 1 else entropy)
        self._broadcast = weakref.WeakSet()  # variables already holding rank 0's values
        self.extended = _Extended(self)

    # -- what the job looks like ---------------------------------------------------------------
    @property
    def num_replicas_in_sync(self):
        return self._communicator.size

    @property
    def _rank(self):
        return self._communicator.rank

    def __repr__(self):
        return "<%s: %d replica%s, rank %d>" % (type(self).__name__, self.num_replicas_in_sync,
                                                "" if self.num_replicas_in_sync == 1 else "s",
                                                self._rank)

    # -- scope and variables -------------------------------------------------------------------
    @contextlib.contextmanager
    def scope(self):
        """Variables made inside start with rank 0's values; Keras models compiled inside
        train under this strategy."""
        ctx = context.ctx
        ctx.distribution_strategies.append(self)
        ctx.variable_observers.append(self._on_new_variable)
        try:
            yield self
        finally:
            ctx.variable_observers.remove(self._on_new_variable)
            ctx.distribution_strategies.pop()

    def _on_new_variable(self, variable):
        self._broadcast_variables([variable])

    def _broadcast_variables(self, variables):
        """Gives the variables rank 0's values, each only once (every rank asks alike)."""
        fresh = [v for v in variables if v not in self._broadcast]
        if fresh and self._communicator.size > 1:
            broadcast_variables(fresh, communicator=self._communicator)
        self._broadcast.update(fresh)

    # -- running on the replicas ---------------------------------------------------------------
    def run(self, fn, args=(), kwargs=None, options=None):
        """fn(*args, **kwargs) on this rank's replica, in a replica context: its gradients are
        summed across replicas by optimizer.apply_gradients. Returns fn's value on this rank."""
        ctx = context.ctx
        ctx.replica_contexts.append(ReplicaContext(self))
        ctx.variable_observers.append(self._on_new_variable)
        try:
            return fn(*args, **(kwargs or {}))
        finally:
            ctx.variable_observers.remove(self._on_new_variable)
            ctx.replica_contexts.pop()

    def reduce(self, reduce_op, value, axis=None):
        """A per-replica value reduced across replicas (and along `axis`, if given): SUM adds,
        MEAN divides by the number of replicas (axis=None) or of elements along the axis."""
        op = _reduce_op(reduce_op)
        value = _tensor(value)
        if axis is None:
            total = self._sum([value])[0]
            return total if op is ReduceOp.SUM else \
                math_ops.divide(total, math_ops.cast(self.num_replicas_in_sync, total.dtype))
        local = math_ops.reduce_sum(value, axis=axis)
        if op is ReduceOp.SUM:
            return self._sum([local])[0]
        count = math_ops.divide(
            math_ops.cast(array_ops.size(value), local.dtype),
            comparison_ops.maximum(math_ops.cast(array_ops.size(local), local.dtype), 1.0))
        total, n = self._sum([local, math_ops.cast(count, local.dtype)])
        return math_ops.divide(total, n)

    def _sum(self, tensors, names=None):
        return allreduce(list(tensors), op="sum", communicator=self._communicator, names=names)

    def experimental_local_results(self, value):
        return (value,)

    def gather(self, value, axis):
        """The replicas' values concatenated along `axis` (eagerly; shapes may differ there)."""
        if not context.executing_eagerly():
            raise NotImplementedError("strategy.gather runs eagerly only (outside df.function)")
        local = np.asarray(_tensor(value).numpy())
        parts = self._communicator.allgather_object(local) if self._communicator.size > 1 \
            else [local]
        return dispatch.to_eager(np.concatenate(parts, axis=axis))

    # -- data -----------------------------------------------------------------------------------
    def experimental_distribute_dataset(self, dataset, options=None):
        """Each element of `dataset` is a global batch; iterating gives this rank's contiguous
        part of it (parts differ by at most one row; a short last batch is split too)."""
        return DistributedDataset(dataset, self)

    def distribute_datasets_from_function(self, dataset_fn, options=None):
        """dataset_fn(InputContext) makes this rank's dataset of per-replica batches, used as
        it is (TF's contract: the function shards and batches)."""
        comm = self._communicator
        dataset = dataset_fn(InputContext(comm.size, comm.rank, comm.size))
        return DistributedDataset(dataset, self, split=False)

    experimental_distribute_datasets_from_function = distribute_datasets_from_function

    def experimental_run_v2(self, fn, args=(), kwargs=None, options=None):
        return self.run(fn, args, kwargs, options)


class _Extended:
    """strategy.extended: the few attributes TF programs read from it."""

    def __init__(self, strategy):
        self._strategy = strategy
        self.experimental_between_graph = True
        self.experimental_should_init = True
        self.should_checkpoint = strategy._rank == 0
        self.should_save_summary = strategy._rank == 0

    @property
    def worker_devices(self):
        return (runtime.device(),)

    parameter_devices = worker_devices


class MultiWorkerMirroredStrategy(Strategy):
    """tf.distribute.MultiWorkerMirroredStrategy: one replica per MPI rank."""

    def __init__(self, cluster_resolver=None, communication_options=None, communication=None):
        super().__init__(cluster_resolver)


class MirroredStrategy(Strategy):
    """tf.distribute.MirroredStrategy: one process is one replica (distflow runs one device per
    process); under mpirun it spans the ranks like MultiWorkerMirroredStrategy."""

    def __init__(self, devices=None, cross_device_ops=None):
        if devices is not None and len(list(devices)) > 1:
            raise ValueError("distflow runs one device per process, got devices=%r: start one "
                             "process per device with `mpirun -n %d python ...` instead"
                             % (list(devices), len(list(devices))))
        super().__init__()


class OneDeviceStrategy(Strategy):
    """tf.distribute.OneDeviceStrategy: one replica in this process, even under mpirun (each
    rank then trains alone); `device` is accepted as TF spells it."""

    def __init__(self, device):
        from distflow.backend import gpu
        from distflow.distribute.single import SingleCommunicator
        gpu.parse_device(device)  # an unknown device name is refused here
        self._context = None
        self._communicator = SingleCommunicator()
        self._tf_config = None
        self.cluster_resolver = ClusterResolver(0, 1)
        self.sums_across_ranks = False  # each rank its own replica
        self._broadcast = weakref.WeakSet()
        self.extended = _Extended(self)


class ReplicaContext:
    """Inside strategy.run: this replica's view (tf.distribute.ReplicaContext)."""

    def __init__(self, strategy):
        self.strategy = strategy

    @property
    def num_replicas_in_sync(self):
        return self.strategy.num_replicas_in_sync

    @property
    def replica_id_in_sync_group(self):
        return self.strategy._rank

    def all_reduce(self, reduce_op, value, options=None):
        """Every replica's `value` (a tensor or a nest of them) summed, or averaged (MEAN)."""
        op = _reduce_op(reduce_op)
        flat = [_tensor(v) for v in nest.flatten(value)]
        if self.strategy is _DEFAULT or not flat:
            return value
        out = self.strategy._sum(flat)
        if op is ReduceOp.MEAN:
            n = self.num_replicas_in_sync
            out = [math_ops.divide(t, math_ops.cast(n, t.dtype)) for t in out]
        return nest.pack_sequence_as(value, out)

    def aggregate_gradients(self, grads_and_vars):
        """[(gradient summed over the replicas, variable)]; what apply_gradients calls."""
        if self.strategy is _DEFAULT:
            return grads_and_vars
        present = [i for i, (g, _) in enumerate(grads_and_vars) if g is not None]
        if not present:
            return grads_and_vars
        names = ["gradient of %s" % grads_and_vars[i][1].name for i in present]
        summed = self.strategy._sum([grads_and_vars[i][0] for i in present], names=names)
        out = list(grads_and_vars)
        for i, g in zip(present, summed):
            out[i] = (g, out[i][1])
        return out

    def merge_call(self, merge_fn, args=(), kwargs=None):
        return merge_fn(self.strategy, *args, **(kwargs or {}))


class _DefaultStrategy(Strategy):
    """What get_strategy() returns outside any scope: one replica, nothing to communicate."""

    def __init__(self):  # no runtime: a plain program never starts MPI through it
        self.cluster_resolver = None
        self.extended = None

    sums_across_ranks = False

    num_replicas_in_sync = 1
    _rank = 0

    @contextlib.contextmanager
    def scope(self):
        yield self

    def run(self, fn, args=(), kwargs=None, options=None):
        return fn(*args, **(kwargs or {}))

    def reduce(self, reduce_op, value, axis=None):
        op = _reduce_op(reduce_op)
        if axis is None:
            return value
        return (math_ops.reduce_sum if op is ReduceOp.SUM else math_ops.reduce_mean)(
            _tensor(value), axis=axis)

    def _broadcast_variables(self, variables):
        pass

    def experimental_distribute_dataset(self, dataset, options=None):
        return dataset

    def distribute_datasets_from_function(self, dataset_fn, options=None):
        return dataset_fn(InputContext())

    def gather(self, value, axis):
        return value


_DEFAULT = _DefaultStrategy()
_set_globally = []


def get_strategy():
    """The strategy of the innermost scope() (or strategy.run), else the default strategy."""
    ctx = context.ctx
    if ctx.replica_contexts and ctx.replica_contexts[-1] is not None:
        return ctx.replica_contexts[-1].strategy
    if ctx.distribution_strategies:
        return ctx.distribution_strategies[-1]
    return _set_globally[-1] if _set_globally else _DEFAULT


def has_strategy():
    return get_strategy() is not _DEFAULT


def get_replica_context():
    """Inside strategy.run: its ReplicaContext. Inside a scope (cross-replica): None. Outside
    any: the default strategy's replica context."""
    ctx = context.ctx
    if ctx.replica_contexts and ctx.replica_contexts[-1] is not None:
        return ctx.replica_contexts[-1]
    if ctx.distribution_strategies or _set_globally:
        return None
    return ReplicaContext(_DEFAULT)


def in_cross_replica_context():
    return get_replica_context() is None


def experimental_set_strategy(strategy):
    """Makes `strategy` current outside any scope (None: back to the default)."""
    del _set_globally[:]
    if strategy is not None:
        _set_globally.append(strategy)


def current_strategy():
    """The strategy of an open scope or set globally, or None (for Keras's compile)."""
    strategy = get_strategy()
    return None if strategy is _DEFAULT else strategy


def _tensor(value):
    if dispatch.dtype_of(value) is None:
        return dispatch.convert_to_tensor(value)
    return value

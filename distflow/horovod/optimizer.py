"""Horovod's DistributedOptimizer and DistributedGradientTape: each rank's gradients of its own
data, averaged over the ranks (op=Average, Horovod's default) before the update.

DistributedOptimizer returns an optimizer of the wrapped optimizer's own class (as Horovod's Keras
one does), so Keras's compile accepts it and `opt.learning_rate`, `opt.variables` and the slots
are the ones users know. Every path that updates reduces first:
  * compute_gradients / minimize reduce (Horovod's), and apply_gradients then uses them as they
    are, also after the user transformed them (clipping);
  * apply_gradients with gradients that did not come from this optimizer's compute_gradients
    (Keras fit's step, a GradientTape loop) reduces them first. Horovod's TF1 wrapper applies
    them unreduced there, silently: here that path is reduced too.
All gradients of one call travel in one fused buffer per dtype (one HorovodGroupedAllreduce op).

The average costs no pass of its own where the gradients are built here, from a loss in a graph
(TF1's minimize / compute_gradients, a df.function): the loss's gradient seed is 1 / size
instead of 1 (TF's own practice under a strategy: the loss scaled by 1 / replicas, the gradients
summed), so backprop's constants carry the division and the buffer is summed, not summed and then
divided. DistributedGradientTape does the same for a single tensor target in a graph. Backprop
is linear in its seed, so the reduced gradients are the same averages (to rounding); gradients
handed in from elsewhere (apply_gradients, Keras fit) or computed eagerly are averaged by the
collective.
"""
import copy

import numpy as np

from distflow.framework import context, nest
from distflow.framework.graph import Tensor
from distflow.horovod import collectives
from distflow.horovod.basics import Compression
from distflow.horovod.collectives import AVERAGE, SUM
from distflow.horovod.mpi_ops import grouped_allreduce_op
from distflow.ops import array_ops, dispatch, math_ops
from distflow.autodiff.tape import GradientTape
from distflow.train.keras_style import KerasStyle
from distflow.train.optimizer import Optimizer, refuse_in_replica_context


def make_allreduce_grads_fn(name, compression, sparse_as_dense, op, gradient_predivide_factor):
    """grads (list, None entries kept) -> the reduced list, as Horovod's _make_allreduce_grads_fn:
    with op=Average, gradients are scaled by 1 / gradient_predivide_factor before the sum and by
    gradient_predivide_factor / size after it."""
    collectives.check_op(op)
    if gradient_predivide_factor != 1.0 and op != AVERAGE:
        raise ValueError("gradient_predivide_factor not supported with op != Average")
    if op not in (AVERAGE, SUM):
        raise ValueError("Gradients are reduced with hvd.Average or hvd.Sum, got hvd.%s"
                         % collectives.OP_NAMES[op])
    prescale = 1.0 / gradient_predivide_factor if op == AVERAGE else 1.0
    postscale = gradient_predivide_factor if op == AVERAGE else 1.0

    def allreduce_grads(grads):
        grads = list(grads)
        present = [i for i, g in enumerate(grads) if g is not None]
        if not present:
            return grads
        compressed, ctxs = zip(*[compression.compress(grads[i]) for i in present])
        graph = dispatch.graph_of(list(compressed))
        if graph is None:
            reduced = grouped_allreduce_op(compressed, op, prescale, postscale)
        else:
            with graph.as_default(), graph.name_scope(name + "_Allreduce"):
                reduced = grouped_allreduce_op(compressed, op, prescale, postscale)
        out = list(grads)
        for i, g, ctx in zip(present, reduced, ctxs):
            out[i] = compression.decompress(g, ctx)
        return out
    return allreduce_grads


class _DistributedMixin:
    """Put before the wrapped optimizer's class: reduces on every path to the update."""

    def compute_gradients(self, loss, var_list=None, grad_loss=None, tape=None, **kwargs):
        refuse_in_replica_context("hvd.DistributedOptimizer")
        scale = None if self._hvd_passes > 1 else self._hvd_seed_scale(loss, tape)
        if scale is not None:
            grad_loss = _scaled_seed(loss, grad_loss, scale)
        pairs = super().compute_gradients(loss, var_list=var_list, grad_loss=grad_loss,
                                          tape=tape, **kwargs)
        if self._hvd_passes > 1:
            return pairs  # apply_gradients accumulates local gradients, then reduces
        reduced = self._hvd_reduce_pairs(pairs, None if scale is None else self._hvd_allreduce_sum)
        self._hvd_reduced = {id(v) for g, v in reduced if g is not None}
        return reduced

    def apply_gradients(self, grads_and_vars, global_step=None, name=None, **kwargs):
        refuse_in_replica_context("hvd.DistributedOptimizer")
        pairs = list(grads_and_vars)
        reduced, self._hvd_reduced = self._hvd_reduced, set()
        if self._hvd_passes > 1:
            return self._hvd_accumulate(pairs, global_step, name)
        local = [i for i, (g, v) in enumerate(pairs) if g is not None and id(v) not in reduced]
        if local:
            done = self._hvd_reduce_pairs([pairs[i] for i in local])
            for i, pair in zip(local, done):
                pairs[i] = pair
        return super().apply_gradients(pairs, global_step=global_step, name=name)

    def _hvd_reduce_pairs(self, pairs, allreduce=None):
        pairs = list(pairs)
        grads = (allreduce or self._hvd_allreduce)([g for g, _ in pairs])
        return [(g, v) for g, (_, v) in zip(grads, pairs)]

    def _hvd_seed_scale(self, loss, tape):
        """1 / size when the average can ride on the loss's gradient seed (see the module
        doc): op=Average, a floating loss in a graph whose gradients this call builds; else
        None."""
        if self._hvd_allreduce_sum is None or tape is not None or not isinstance(loss, Tensor) \
                or not loss.dtype.is_floating:
            return None
        size = _comm_size()
        return 1.0 / size if size > 1 else None

    def _hvd_accumulate(self, pairs, global_step, name):
        """backward_passes_per_step > 1: sums the local gradients of each call; every
        backward_passes_per_step-th call reduces the sum (or its mean over the passes, with
        average_aggregated_gradients) and applies it."""
        if not context.executing_eagerly():
            raise NotImplementedError(
                "backward_passes_per_step > 1 accumulates gradients eagerly only in "
                "distflow.horovod (not in a graph, a df.function or Keras fit): run the step "
                "eagerly (model.compile(..., run_eagerly=True)) or use backward_passes_per_step=1")
        for g, v in pairs:
            if g is None:
                continue
            entry = self._hvd_sums.get(id(v))
            self._hvd_sums[id(v)] = (v, g if entry is None else entry[1] + g)
        self._hvd_count += 1
        if self._hvd_count < self._hvd_passes:
            return None
        sums = [(s, v) for v, s in self._hvd_sums.values()]
        if self._hvd_average_aggregated:
            sums = [(s / self._hvd_passes, v) for s, v in sums]
        self._hvd_sums, self._hvd_count = {}, 0
        return super().apply_gradients(self._hvd_reduce_pairs(sums), global_step=global_step,
                                       name=name)


_classes = {}


def _distributed_class(base):
    cls = _classes.get(base)
    if cls is None:
        cls = _classes[base] = type(base.__name__, (_DistributedMixin, base),
                                    {"__module__": base.__module__})
    return cls


def DistributedOptimizer(optimizer, name=None, use_locking=False, device_dense="",
                         device_sparse="", compression=Compression.none, sparse_as_dense=False,
                         backward_passes_per_step=1, op=AVERAGE, gradient_predivide_factor=1.0,
                         average_aggregated_gradients=False, num_groups=0, groups=None,
                         process_set=None, scale_local_gradients=True):
    """`optimizer` (a TF1 tf.train optimizer or a Keras one) whose gradients are averaged over
    the ranks before every update; see the module doc."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError("hvd.DistributedOptimizer wraps a distflow optimizer (tf.train.* or "
                        "tf.keras.optimizers.*), got %r" % (optimizer,))
    if isinstance(optimizer, _DistributedMixin):
        raise ValueError("%r is already a hvd.DistributedOptimizer: wrapping it again would "
                         "reduce its gradients twice" % (optimizer,))
    if op == collectives.ADASUM:
        collectives.check_op(op)
    if isinstance(backward_passes_per_step, bool) or not isinstance(backward_passes_per_step, int) \
            or backward_passes_per_step < 1:
        raise ValueError("backward_passes_per_step must be a positive integer, got %r"
                         % (backward_passes_per_step,))
    _no_groups(num_groups, groups, process_set)
    wrapped = copy.copy(optimizer)
    wrapped.__class__ = _distributed_class(type(optimizer))
    if isinstance(optimizer, KerasStyle):
        # A fresh optimizer of the same configuration, as Horovod's Keras one is rebuilt from
        # its config: the state it makes is its own.
        wrapped._hyper = dict(optimizer._hyper)
        wrapped._slots, wrapped._non_slots, wrapped._eager_numbers = {}, {}, {}
        wrapped._iterations = None
    # else (TF1): Horovod's wrapper applies through the wrapped optimizer, so both see the same
    # slots; the shallow copy shares its dictionaries of slots and hyperparameters alike
    wrapped._hvd_allreduce = make_allreduce_grads_fn(
        name or "Distributed" + type(optimizer).__name__, compression, sparse_as_dense, op,
        gradient_predivide_factor)
    # op=Average with the division folded into the loss's gradient (compute_gradients)
    wrapped._hvd_allreduce_sum = make_allreduce_grads_fn(
        name or "Distributed" + type(optimizer).__name__, compression, sparse_as_dense, SUM,
        1.0) if op == AVERAGE else None
    wrapped._hvd_reduced = set()
    wrapped._hvd_passes = backward_passes_per_step
    wrapped._hvd_average_aggregated = bool(average_aggregated_gradients)
    wrapped._hvd_sums, wrapped._hvd_count = {}, 0
    return wrapped


def _comm_size():
    from distflow.distribute import runtime
    return runtime.init().communicator.size


def _scaled_seed(loss, grad_loss, scale):
    """The loss's gradient seed (`grad_loss`, ones by default) times `scale`: a constant when
    the loss's shape is static (folded into backprop's constants by the plan), else an op."""
    if grad_loss is None and loss.shape.is_fully_defined():
        return np.full(loss.shape.as_list(), scale, dtype=loss.dtype.as_numpy_dtype)
    with dispatch.graph_of([loss]).as_default():
        seed = array_ops.ones_like(loss) if grad_loss is None else grad_loss
        return math_ops.multiply(seed, np.asarray(scale, dtype=loss.dtype.as_numpy_dtype))


def _no_groups(num_groups, groups, process_set):
    if num_groups or groups is not None:
        raise NotImplementedError("groups / num_groups: distflow.horovod reduces all gradients "
                                  "of a step in one fused buffer per dtype already")
    if process_set is not None and getattr(process_set, "process_set_id", 0) != 0:
        raise NotImplementedError("process sets are not supported by distflow.horovod")


class _DistributedGradientTape(GradientTape):
    """The recorded tape, whose gradient() returns gradients averaged over the ranks."""

    def __init__(self, tape, allreduce_grads, allreduce_sum):  # noqa: a view, no super().__init__
        self.__dict__["_hvd_tape"] = tape
        self.__dict__["_hvd_allreduce"] = allreduce_grads
        self.__dict__["_hvd_allreduce_sum"] = allreduce_sum  # op=Average: the seed carries 1/size

    def __getattr__(self, name):
        return getattr(self.__dict__["_hvd_tape"], name)

    def __setattr__(self, name, value):
        setattr(self._hvd_tape, name, value)

    def __enter__(self):
        self._hvd_tape.__enter__()
        return self

    def __exit__(self, *exc):
        return self._hvd_tape.__exit__(*exc)

    def watch(self, tensor):
        return self._hvd_tape.watch(tensor)

    def watched_variables(self):
        return self._hvd_tape.watched_variables()

    def gradient(self, target, sources, output_gradients=None, **kwargs):
        refuse_in_replica_context("hvd.DistributedGradientTape")
        allreduce = self._hvd_allreduce
        if self._hvd_allreduce_sum is not None and isinstance(target, Tensor) \
                and target.dtype.is_floating and _comm_size() > 1:
            # in a graph (a df.function), as DistributedOptimizer.compute_gradients does
            output_gradients = _scaled_seed(target, output_gradients, 1.0 / _comm_size())
            allreduce = self._hvd_allreduce_sum
        grads = self._hvd_tape.gradient(target, sources, output_gradients, **kwargs)
        flat = nest.flatten(grads)
        return nest.pack_sequence_as(grads, allreduce(flat))


def DistributedGradientTape(gradtape, device_dense="", device_sparse="",
                            compression=Compression.none, sparse_as_dense=False, op=AVERAGE,
                            gradient_predivide_factor=1.0, num_groups=0, groups=None,
                            process_set=None, scale_local_gradients=True):
    """`gradtape` (recorded already, or to record in) whose gradient() averages over the ranks."""
    if not isinstance(gradtape, GradientTape):
        raise TypeError("hvd.DistributedGradientTape wraps a tf.GradientTape, got %r"
                        % (gradtape,))
    _no_groups(num_groups, groups, process_set)
    return _DistributedGradientTape(gradtape, make_allreduce_grads_fn(
        "DistributedGradientTape", compression, sparse_as_dense, op, gradient_predivide_factor),
        make_allreduce_grads_fn("DistributedGradientTape", compression, sparse_as_dense, SUM, 1.0)
        if op == AVERAGE else None)

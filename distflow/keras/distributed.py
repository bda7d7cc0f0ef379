"""Keras fit / evaluate / predict under a tf.distribute strategy (distflow/distribute/strategy.py).

training.py calls in here when the model was compiled inside `strategy.scope()` (or fit runs
inside one); without a strategy nothing here runs. The strategy reaches this layer through the
execution context (context.ctx.distribution_strategies), so keras never imports distribute.

Global-batch semantics, so N ranks give the history and weights of one process:
  * `batch_size` (or a dataset's batches) is the GLOBAL batch; every rank makes the same batches
    (the same shuffle: its seed comes from rank 0) and takes its contiguous part of each;
  * the train step scales this rank's batch loss by (its rows / the global rows) ('sum'
    reduction: by 1), sums the gradients across ranks in one fused all-reduce and applies them:
    the update of one process on the whole batch, for uneven parts and a short last batch too;
  * an epoch's loss and metrics come from sums and counts added over ranks (one float64
    all-reduce per epoch), so every rank logs the numbers one process would, and callbacks see
    them alike (rank 0 alone writes files: see callbacks.is_chief);
  * predict returns every row's prediction on every rank.
"""
import numpy as np

from distflow.autodiff.tape import GradientTape
from distflow.framework import context, dtypes
from distflow.function import TensorSpec, function
from distflow.nn import losses as losses_module
from distflow.nn import metrics as nn_metrics
from distflow.ops import math_ops


def current_strategy():
    """The tf.distribute strategy of an open scope, or None (the default strategy)."""
    if context.ctx.distribution_strategies:
        return context.ctx.distribution_strategies[-1]
    import sys  # a strategy set with experimental_set_strategy (only once distribute is loaded)
    module = sys.modules.get("distflow.distribute.strategy")
    return module.current_strategy() if module is not None else None


def strategy_for(model):
    """The strategy model trains under: compile()'s, else the one whose scope is open now."""
    strategy = getattr(model, "_distribute_strategy", None)
    return strategy if strategy is not None else current_strategy()


def shuffle_seed(strategy, draw):
    """fit's shuffling seed: rank 0's draw, so that every rank makes the same batches."""
    comm = strategy._communicator
    seed = draw() if comm.rank == 0 else None
    return comm.broadcast_object(seed) if comm.size > 1 else seed


def prepare(model, strategy):
    """Before a model's first step under a strategy: rank 0's weights everywhere (variables
    built outside the scope included), and no second all-reduce in the optimizer."""
    refuse_distributed_optimizer(strategy, getattr(model, "optimizer", None))
    strategy._broadcast_variables(list(model.variables))  # after the refusal: nothing changed


def refuse_distributed_optimizer(strategy, optimizer):
    """A strategy's step sums the gradients itself: a wrapper that reduces them too (Horovod's
    or distflow.distribute's) is refused, at compile in a scope and at fit under one."""
    # distflow.distribute's wrapper has reduce_gradients, Horovod's _hvd_allreduce;
    # OneDeviceStrategy sums nothing across ranks, so a wrapper there reduces once
    if not getattr(strategy, "sums_across_ranks", False):
        return
    if optimizer is not None and (hasattr(optimizer, "reduce_gradients")
                                  or hasattr(optimizer, "_hvd_allreduce")):
        raise ValueError("This model was compiled with a distributed optimizer (%s) under a "
                         "tf.distribute strategy, which sums the gradients itself: compile with "
                         "the plain optimizer inside strategy.scope()" % _wrapper_name(optimizer))


def _wrapper_name(optimizer):
    if hasattr(optimizer, "_hvd_allreduce"):
        return "hvd.DistributedOptimizer(%s)" % type(optimizer).__name__
    return type(optimizer).__name__


def run_epoch(model, strategy, kind, x, y, batch_size, metric_objects, order=None, cbs=None):
    """training.Trainer._run_epoch under a strategy: the same logs, exact over all ranks."""
    from distflow.distribute import input_lib as strategy_module  # the layer above (lazy)
    prepare(model, strategy)
    comm = strategy._communicator
    rank, size = comm.rank, comm.size
    hooks = cbs.batch_hooks if cbs is not None else []
    scale_by_rows = _loss_reduction(model) != "sum"
    results = []
    for b, (xb, yb) in enumerate(model._batches(x, y, batch_size, order)):
        if b == 0:  # same data, same order on every rank, or a clear error
            strategy_module.check_same_batch(comm, (xb, yb))
        n_global = len(xb)
        xs, ys = strategy_module.shard_element((xb, yb), rank, size)
        for cb in hooks:
            cb.on_train_batch_begin(b, None)
        if kind == "train":
            scale = len(xs) / n_global if scale_by_rows else 1.0
            loss, y_pred = _train_step(model, strategy, xs, ys)(xs, ys, np.float32(scale))
        else:
            loss, y_pred = model._step(kind, xs, ys)(xs, ys)
        results.append((len(xs), n_global, ys, loss, y_pred))
        if hooks:  # the batch's loss over all ranks (each step waits for it only here)
            share = _share(float(_host(loss)), len(xs), n_global, scale_by_rows)
            batch = comm.allreduce(np.array([share], np.float64), "sum", name="batch loss") \
                if size > 1 else np.array([share])
            for cb in hooks:
                cb.on_train_batch_end(b, {"loss": float(batch[0] / n_global)})
            if model.stop_training:
                break
    # the epoch's values cross to the host here, after its last step
    for m in metric_objects:
        m.reset_state()
        m._strategy = None  # reduced below, once for all of them
    total, seen = 0.0, 0
    for n, n_global, ys, loss, y_pred in results:
        total += _share(float(_host(loss)), n, n_global, scale_by_rows)
        seen += n
        for m in metric_objects:
            m.update_state(ys, _host(y_pred))
    states = nn_metrics.pack_states(metric_objects)
    buf = np.concatenate([[total, float(seen)], states]).astype(np.float64)
    if size > 1:
        comm.allreduce(buf, "sum", name="epoch metrics")
    nn_metrics.unpack_states(metric_objects, buf[2:])
    logs = {"loss": float(buf[0] / buf[1]) if buf[1] else 0.0}  # a float, as w/o strategy
    logs.update((m.name, float(m.result())) for m in metric_objects)
    return logs


def predict(model, strategy, batches):
    """Each rank predicts its part of every batch; every rank gets all rows, in order."""
    from distflow.distribute import input_lib as strategy_module  # the layer above (lazy)
    prepare(model, strategy)
    comm = strategy._communicator
    outs = []
    for xb in batches:
        xs = strategy_module.shard_element(xb, comm.rank, comm.size)
        outs.append(_host(model._step("predict", xs)(xs)))
    if comm.size == 1:
        return outs
    everyone = comm.allgather_object(outs)
    return [np.concatenate([parts[b] for parts in everyone]) for b in range(len(outs))]


def _train_step(model, strategy, x, y):
    """The compiled train step under a strategy: (x, y, loss scale) -> (batch loss, y_pred)."""
    key = ("strategy-train", x.dtype.str, x.shape[1:], y.dtype.str, y.shape[1:])
    steps = model.__dict__.setdefault("_steps", {})
    step = steps.get(key)
    if step is None:
        def train(xb, yb, scale):
            with GradientTape() as tape:
                y_pred = model(xb, training=True)
                loss = model.compute_loss(yb, y_pred)
                scaled = math_ops.multiply(loss, math_ops.cast(scale, loss.dtype))
            variables = model.trainable_variables
            grads = list(tape.gradient(scaled, variables))
            present = [i for i, g in enumerate(grads) if g is not None]
            summed = strategy._sum([grads[i] for i in present],
                                   names=["gradient of %s" % variables[i].name for i in present])
            for i, g in zip(present, summed):
                grads[i] = g
            model.optimizer.apply_gradients(zip(grads, variables))
            return loss, y_pred
        if getattr(model, "_run_eagerly", False):
            step = train
        else:
            step = function(train, input_signature=[
                TensorSpec([None] + list(x.shape[1:]), dtypes.as_dtype(x.dtype)),
                TensorSpec([None] + list(y.shape[1:]), dtypes.as_dtype(y.dtype)),
                TensorSpec([], dtypes.float32)])
        steps[key] = step
    return step


def _share(loss, rows, global_rows, scale_by_rows):
    """This rank's share of (batch loss x global rows); summed over ranks: one process's."""
    return loss * rows if scale_by_rows else loss * global_rows


def _loss_reduction(model):
    loss = getattr(model, "_loss_fn", None)
    return loss.reduction if isinstance(loss, losses_module.Loss) else "sum_over_batch_size"


def _host(t):
    return t.numpy() if hasattr(t, "numpy") else np.asarray(t)

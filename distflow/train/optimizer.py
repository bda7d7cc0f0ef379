"""The Optimizer template of TF1, working in graph mode (ops) and eager mode (immediate updates).

Subclasses give `_create_slots(var_list)`, `_apply_dense(grad, var)` and optionally `_prepare()`
and `_finish(update_ops, name)`; each update is one fused distflow op (ops/training_ops.py), so
one definition serves both modes.

Hyperparameters (learning rate, betas, ...) are registered with `_set_hyper` and read per
variable with `_get_hyper(name, var)`, which gives a tensor in the variable's dtype. Each may be
a number, a tensor or Variable, a callable of no arguments (called once per apply, TF1's eager
style) or a `LearningRateSchedule` (called with `optimizer.iterations`, TF2's style).
"""
import numpy as np

from distflow.framework import context
from distflow.framework.eager import EagerTensor
from distflow.framework.graph import (GraphKeys, Tensor, control_dependencies, get_default_graph,
                                      name_scope)
from distflow.ops import control_flow_ops, dispatch, math_ops, variables
from distflow.ops.registry import may_update_in_place
from distflow.ops.state_ops import AssignAdd
from distflow.ops.training_ops import ApplyWeightDecay
from distflow.train import eager_flat
from distflow.train.learning_rate_schedule import LearningRateSchedule


class Optimizer:
    # TF2-style optimizers count their steps in `iterations` (Keras's); TF1's count only when a
    # schedule needs the count.
    _counts_iterations = False

    def __init__(self, use_locking=False, name="Optimizer", weight_decay=0.0):
        self._name = name
        self._use_locking = use_locking
        self._hyper = {}
        self._slots = {}        # slot name -> {id(var): (var, slot variable)}
        self._non_slots = {}    # name -> variable (e.g. Adam's beta1_power)
        self._iterations = None
        self._eager_numbers = {}  # (name, dtype) -> (number, its EagerTensor): see _get_hyper
        self._set_hyper("weight_decay", weight_decay)

    def get_name(self):
        return self._name

    # -- public API ----------------------------------------------------------------------------
    def minimize(self, loss, global_step=None, var_list=None, name=None, grad_loss=None,
                 tape=None):
        grads_and_vars = self.compute_gradients(loss, var_list=var_list, grad_loss=grad_loss,
                                                tape=tape)
        vars_with_grad = [v for g, v in grads_and_vars if g is not None]
        if not vars_with_grad:
            raise ValueError("No gradients provided for any variable, check your graph for ops "
                             "that do not support gradients, between variables %s and loss %s."
                             % ([str(v) for _, v in grads_and_vars], loss))
        return self.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def compute_gradients(self, loss, var_list=None, grad_loss=None, tape=None, **unused):
        """[(gradient or None, variable)] for the trainable variables (or `var_list`)."""
        if callable(loss) and context.executing_eagerly():
            from distflow.autodiff.tape import GradientTape
            with GradientTape() as tape:
                loss_value = loss()
            var_list = var_list if var_list is not None else tape.watched_variables()
            grads = tape.gradient(loss_value, var_list, output_gradients=grad_loss)
            return list(zip(grads, var_list))
        if tape is not None:
            grads = tape.gradient(loss, var_list, output_gradients=grad_loss)
            return list(zip(grads, var_list))
        if var_list is None:
            graph = dispatch.graph_of([loss]) or get_default_graph()
            var_list = graph.get_collection(GraphKeys.TRAINABLE_VARIABLES)
        var_list = list(var_list)
        if not var_list:
            raise ValueError("No variables to optimize.")
        from distflow.autodiff.gradients import gradients
        grads = gradients(loss, var_list, grad_ys=None if grad_loss is None else [grad_loss])
        return list(zip(grads, var_list))

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """Applies the updates; in a graph, returns the Operation that does so."""
        return self._apply_aggregated(aggregate_across_replicas(grads_and_vars), global_step,
                                      name)

    def _apply_aggregated(self, grads_and_vars, global_step=None, name=None):
        """apply_gradients once the gradients are summed across tf.distribute replicas."""
        grads_and_vars = list(grads_and_vars)
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable: %s."
                             % ([v.name for _, v in grads_and_vars],))
        var_list = [v for _, v in pairs]
        graph = dispatch.graph_of(var_list + [g for g, _ in pairs])
        if graph is None and not context.executing_eagerly():
            graph = get_default_graph()
        if graph is None:
            return self._apply(pairs, global_step, name, eager=True)
        with graph.as_default():
            return self._apply(pairs, global_step, name, eager=False)

    @property
    def iterations(self):
        """How many times this optimizer has applied gradients (an int64 Variable)."""
        if self._iterations is None:
            with _init_scope(context.executing_eagerly()):
                self._iterations = variables.Variable(np.int64(0), trainable=False, name="iter")
        return self._iterations

    def _apply(self, pairs, global_step, name, eager):
        if eager:
            return self._apply_eagerly(pairs, global_step, name)
        # Eager variables get eager slots, even while a df.function traces this call (TF2 lifts
        # them out of the function the same way), so the slots outlive the trace.
        eager_state = eager or all(isinstance(v, variables.EagerVariable) for _, v in pairs)
        with _init_scope(eager_state):
            self._create_slots([v for _, v in pairs])
            if self._counts_iterations or any(isinstance(h, LearningRateSchedule)
                                              for h in self._hyper.values()):
                self.iterations  # noqa: B018  (created here, before any initializer runs)
        # Session plans update variables in place and gradients may read any variable, so no
        # update may start before every gradient is computed (TF2's automatic control deps).
        grads = [g for g, _ in pairs if isinstance(g, Tensor)]
        with name_scope(name or self._name) as scope:
            with control_dependencies(grads):
                self._prepare()
                if eager:  # name scopes do nothing eagerly: no need to make their names
                    for g, v in self._apply_now_in_place(pairs):
                        self._apply_with_decay(g, v)
                    updates = [v for _, v in pairs]  # what eager update ops return
                else:
                    updates = []
                    for g, v in pairs:
                        with name_scope("update_" + v.name.split(":")[0].replace("/", "_")):
                            updates.append(self._apply_with_decay(g, v))
            finish = self._finish(updates, scope)
        counters = [c for c in (self._iterations, global_step) if c is not None]
        if eager:
            for c in counters:
                if not _increment_now_in_place(c):
                    c.assign_add(1)
            return None
        if not counters:
            return finish
        graph = get_default_graph()
        with graph.control_dependencies([finish]):
            steps = []
            if self._iterations is not None:
                steps.append(self._iterations.assign_add(1).op)
            if global_step is not None:
                steps.append(global_step.assign_add(1, name=name or self._name).op)
        return steps[0] if len(steps) == 1 else control_flow_ops.group(*steps)

    def _apply_eagerly(self, pairs, global_step, name):
        """_apply while executing eagerly: the same steps without a graph's concerns (state made
        where it is made anyway, control dependencies that are no-ops eagerly, update ops)."""
        var_list = [v for _, v in pairs]
        made = self._slots_made_for
        # The slots of the variables of the last apply are made (and no optimizer has made or
        # reset any since): a training loop's every step asks for the same, once is enough.
        if made is None or made[1] != _slot_epoch[0] or made[2] is not self._slots \
                or made[3] is not self._non_slots or not _same_list(made[0], var_list):
            self._create_slots(var_list)
            self._slots_made_for = (tuple(var_list), _slot_epoch[0], self._slots,
                                    self._non_slots)
        if self._counts_iterations or any(isinstance(h, LearningRateSchedule)
                                          for h in self._hyper.values()):
            self.iterations  # noqa: B018  (made before the first update)
        with name_scope(name or self._name) as scope:  # eagerly it names variables made inside
            self._prepare()
            for g, v in self._apply_now_in_place(pairs):
                self._apply_with_decay(g, v)
            self._finish([v for _, v in pairs], scope)  # what eager update ops return
        for c in (self._iterations, global_step):
            if c is not None and not _increment_now_in_place(c):
                c.assign_add(1)
        return None

    # The eager fast path. An eager update op costs a few microseconds of dispatch (mode and
    # input checks, conversions) on top of its arithmetic, more than the arithmetic itself for a
    # small layer. An optimizer whose update reads only the variable, its slots, scalar
    # hyperparameters and the gradient (in that order) names its fused op, those
    # hyperparameters and the slots here; eagerly the update then runs the op's in-place formula
    # on the arrays directly, under dispatch's own copy-on-write rule: once over flat buffers of
    # all the variables (train/eager_flat.py) when it can, else per variable; anything out of
    # the ordinary takes the op as usual.
    _eager_fused_update = None  # (fused op, hyperparameter names[, slot names])
    _eager_flat = None          # the EagerFlatUpdate of the last variable list, or None
    _slots_made_for = None      # (variables, slot count, slot dicts) of the last eager apply

    def _eager_fused_hypers(self, var, names):
        """The fused op's scalar inputs for `var`'s dtype, as arrays (once per dtype and apply)."""
        return [self._get_hyper(n, var)._value for n in names]

    def _apply_now_in_place(self, pairs):
        """Eager only: applies each (gradient, variable) pair in place, in one pass, as
        `_eager_fused_update` says. Returns the pairs left for the op (not eager Variables or
        gradients, not NumPy arrays, shapes or dtypes that differ, a variable whose array a live
        read shares), which also gives any error."""
        fused = self._eager_fused_update
        decay = self._hyper["weight_decay"]
        if fused is None or not (isinstance(decay, (int, float)) and decay == 0):
            return pairs
        opdef, names = fused[0], fused[1]
        slot_names = fused[2] if len(fused) > 2 else ()
        hypers_by_dtype = {}  # NumPy dtype -> the hyperparameters' arrays, or None if unusable
        flat = self._eager_flat_for(opdef, pairs, slot_names)
        if flat is not None:
            hypers = self._eager_hypers_for(flat.variables[0], flat.dtype, names, hypers_by_dtype)
            if hypers is not None and flat.run([g for g, _ in pairs], hypers):
                return []
        left = []
        for grad, var in pairs:
            if type(grad) is not EagerTensor or not isinstance(var, variables.EagerVariable):
                left.append((grad, var))
                continue
            holders = (var,) + tuple(self.get_slot(var, n) for n in slot_names)
            if any(h is None for h in holders) or not all(
                    isinstance(h, variables.EagerVariable) for h in holders[1:]):
                left.append((grad, var))
                continue
            currents = [h.read_array() for h in holders]
            current, delta = currents[0], grad._value
            # NumPy arrays only (a GPU's go through the op, which moves what needs moving); a
            # gradient of another shape goes there too, for its error (a scalar would broadcast)
            if type(current) is not np.ndarray or type(delta) is not np.ndarray \
                    or delta.shape != current.shape:
                left.append((grad, var))
                continue
            hypers = self._eager_hypers_for(var, current.dtype, names, hypers_by_dtype)
            # the gradient's dtype, the slots' shapes and the copy on write: the rule every
            # update op follows
            if hypers is None or not may_update_in_place(opdef, holders, currents, (delta,)):
                left.append((grad, var))
                continue
            opdef.inplace(np, *currents, *hypers, delta)
        return left

    def _eager_hypers_for(self, var, dtype, names, by_dtype):
        """The fused op's scalar inputs for `dtype` (made once per dtype and apply, kept in
        `by_dtype`), or None when one is not a scalar of that dtype."""
        hypers = by_dtype.get(dtype, False)
        if hypers is False:
            hypers = self._eager_fused_hypers(var, names)
            # the in-place rule's check of other inputs, for these once per dtype
            for h in hypers:
                if not isinstance(h, (np.ndarray, np.generic)) or h.ndim or h.dtype != dtype:
                    hypers = None
                    break
            by_dtype[dtype] = hypers
        return hypers

    def _eager_flat_for(self, opdef, pairs, slot_names):
        """The flat update of these pairs' variables (made when the list changes), or None."""
        flat = self._eager_flat
        vars_ = [v for _, v in pairs]
        if flat is not None and flat.opdef is opdef and flat.slot_epoch == _slot_epoch[0] \
                and flat.slots_of is self._slots and _same_list(flat.variables, vars_):
            return flat.group
        group = None
        if all(isinstance(v, variables.EagerVariable) for v in vars_):
            states = [vars_] + [[self.get_slot(v, name) for v in vars_] for name in slot_names]
            if all(isinstance(s, variables.EagerVariable) for pos in states[1:] for s in pos) \
                    and eager_flat.EagerFlatUpdate.eligible(opdef, states):
                group = eager_flat.EagerFlatUpdate(opdef, states, _slot_epoch[0])
        self._eager_flat = _FlatCache(opdef, tuple(vars_), _slot_epoch[0], self._slots, group)
        return group

    def _apply_with_decay(self, grad, var):
        decay = self._hyper["weight_decay"]
        if isinstance(decay, (int, float)) and decay == 0:
            return self._apply_dense(grad, var)
        decayed = dispatch.apply(ApplyWeightDecay, [var, self._get_hyper("learning_rate", var),
                                                    self._get_hyper("weight_decay", var)])
        with control_dependencies([decayed] if isinstance(decayed, Tensor) else []):
            return self._apply_dense(grad, var)

    # -- hyperparameters -----------------------------------------------------------------------
    def _set_hyper(self, name, value):
        self._hyper[name] = value

    def _prepare(self):
        """Evaluates callables and schedules once per apply, as TF1's `_call_if_callable`."""
        self._hyper_now = {}
        for name, value in self._hyper.items():
            if isinstance(value, LearningRateSchedule):
                value = value(self.iterations)
            elif callable(value):
                value = value()
            self._hyper_now[name] = value
        self._hyper_tensors = {}

    def _get_hyper(self, name, var):
        """The hyperparameter `name` as a tensor of `var`'s dtype (one per dtype and apply)."""
        key = (name, var.dtype)
        t = self._hyper_tensors.get(key)
        if t is None:
            value = self._hyper_now[name]
            if type(value) in (int, float) and context.executing_eagerly():
                # A plain number is converted once per dtype and kept from one apply to the
                # next while it stays the same (TF2 caches its hyperparameters alike): the
                # conversion costs about as much as a small variable's update.
                hit = self._eager_numbers.get(key)
                if hit is None or hit[0] != value:
                    hit = self._eager_numbers[key] = (value, dispatch.convert_to_tensor(
                        value, var.dtype))
                t = hit[1]
            elif dispatch.dtype_of(value) is None:
                t = dispatch.convert_to_tensor(value, var.dtype, name=name)
            elif dispatch.dtype_of(value) != var.dtype:
                t = math_ops.cast(value, var.dtype)
            else:
                t = dispatch.convert_to_tensor(value)
            self._hyper_tensors[key] = t
        return t

    # -- slots ---------------------------------------------------------------------------------
    def get_slot(self, var, name):
        entry = self._slots.get(name, {}).get(id(var))
        return entry[1] if entry is not None and entry[0] is var else None

    def get_slot_names(self):
        return sorted(self._slots)

    def variables(self):
        """The optimizer's own variables (non-slot ones such as beta powers, and slots), sorted by
        name as TF1 does."""
        out = list(self._non_slots.values())
        if self._iterations is not None:
            out.append(self._iterations)
        for slots in self._slots.values():
            out.extend(slot for _, slot in slots.values())
        return sorted(out, key=lambda v: v.name)

    def _filled_slot(self, var, slot_name, fill, op_name=None):
        """A slot variable shaped like `var` and holding `fill`, made on first use."""
        slots = self._slots.setdefault(slot_name, {})
        entry = slots.get(id(var))
        if entry is None or entry[0] is not var:
            base = var.name.split(":")[0]
            if isinstance(var, variables.EagerVariable):
                # made where the variable lives (its array module), as a ready value
                from distflow import backend
                array = var.read_array()
                xp = backend.get_array_module(array)
                value = EagerTensor(xp.full(array.shape, fill, dtype=array.dtype))
            else:
                value = np.full(var.shape.as_list(), fill, dtype=var.dtype.as_numpy_dtype)
            name = "%s/%s" % (base, op_name or self._name)
            if isinstance(var, variables.EagerVariable):
                # eager names are not made unique by a graph: do as TF's eager slots do
                # (w/Adam, w/Adam_1, ...), counting this variable's slots already made
                taken = {s.name.split(":")[0] for d in self._slots.values()
                         for v, s in d.values() if v is var}
                unique, k = name, 0
                while unique in taken:
                    k += 1
                    unique = "%s_%d" % (name, k)
                name = unique
            slot = variables.Variable(value, trainable=False, name=name)
            entry = slots[id(var)] = (var, slot)
            _slot_epoch[0] += 1  # a flat eager update holding slots looks them up again
        return entry[1]

    def _zeros_slot(self, var, slot_name, op_name=None):
        return self._filled_slot(var, slot_name, 0, op_name)

    def _get_or_make_non_slot(self, name, initial_value, like, dtype=None):
        if name not in self._non_slots:
            self._non_slots[name] = variables.Variable(initial_value, trainable=False, name=name,
                                                       dtype=dtype or like.dtype)
        return self._non_slots[name]

    def _get_non_slot(self, name):
        return self._non_slots.get(name)

    # -- template methods -----------------------------------------------------------------------
    def _create_slots(self, var_list):
        pass

    def _apply_dense(self, grad, var):
        raise NotImplementedError

    def _finish(self, update_ops, scope):
        """Groups the updates into one op named after the optimizer's scope (graph mode)."""
        if context.executing_eagerly():
            return None
        return control_flow_ops.group(*update_ops, name=scope)


def _same_list(a, b):
    """Whether the sequences `a` and `b` hold the same objects, in the same order."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x is not y:
            return False
    return True


# How many slots were made by any optimizer: a flat eager update made before looks its slots up
# again after this moved (an optimizer whose slots were reset, a copy with slots of its own).
_slot_epoch = [0]


class _FlatCache:
    """An optimizer's flat eager update (or None: not eligible) for one list of variables."""

    __slots__ = ("opdef", "variables", "slot_epoch", "slots_of", "group")

    def __init__(self, opdef, variables_, slot_epoch, slots_of, group):
        self.opdef, self.variables, self.slot_epoch = opdef, variables_, slot_epoch
        self.slots_of, self.group = slots_of, group


def _increment_now_in_place(counter):
    """Eager only: adds 1 to an eager step counter's own array when no read of it is alive
    (dispatch's copy-on-write rule); False when AssignAdd must run instead."""
    if not isinstance(counter, variables.EagerVariable):
        return False
    current = counter.read_array()
    if type(current) is not np.ndarray or not may_update_in_place(AssignAdd, (counter,),
                                                                  (current,), ()):
        return False
    current += 1
    return True


def _resolve(value):
    """A hyperparameter's value now, for initial values (Adam's beta powers)."""
    return value() if callable(value) and not isinstance(value, LearningRateSchedule) else value


class _init_scope:
    """Where an optimizer makes its state: eagerly for eager variables; in a graph outside any
    control dependencies and name scope (so slots are named `Variable/Adam`, as in TF1)."""

    def __init__(self, eager):
        self._eager = eager
        self._cms = []

    def __enter__(self):
        if self._eager:
            self._cms = [] if context.executing_eagerly() else [context.eager_mode()]
        else:
            graph = get_default_graph()
            self._cms = [graph.control_dependencies(None), graph.name_scope(None)]
        for cm in self._cms:
            cm.__enter__()

    def __exit__(self, *exc):
        for cm in reversed(self._cms):
            cm.__exit__(*exc)
        return False


def get_global_step(graph=None):
    graph = graph or get_default_graph()
    steps = graph.get_collection(GraphKeys.GLOBAL_STEP)
    return steps[0] if steps else None


def get_or_create_global_step(graph=None):
    step = get_global_step(graph)
    if step is None:
        step = variables.Variable(np.int64(0), trainable=False, name="global_step",
                                  collections=[GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP])
        if not isinstance(step, variables.GraphVariable):
            (graph or get_default_graph()).add_to_collection(GraphKeys.GLOBAL_STEP, step)
    return step


def refuse_in_replica_context(what):
    """Raises inside tf.distribute's `strategy.run` (a replica context of a real strategy):
    the strategy's optimizer step sums the gradients across replicas itself, so `what` (a
    wrapper that reduces them too: Horovod's or distflow.distribute's) would reduce twice."""
    replicas = context.ctx.replica_contexts
    if not replicas or replicas[-1] is None:
        return
    strategy = getattr(replicas[-1], "strategy", None)
    if not getattr(strategy, "sums_across_ranks", False):  # the default or OneDeviceStrategy
        return
    raise ValueError(
        "%s all-reduces its gradients itself, and it was used inside strategy.run of %s, which "
        "sums the gradients across replicas in optimizer.apply_gradients too: that would "
        "reduce twice. "
        "Inside a strategy use the plain optimizer (and a plain tf.GradientTape), with the loss "
        "divided by the global batch (tf.nn.compute_average_loss); or leave the strategy out "
        "and keep the distributed wrapper (each rank its own data)."
        % (what, type(strategy).__name__))


def aggregate_across_replicas(grads_and_vars):
    """Inside tf.distribute's `strategy.run`, [(gradient, variable)] with the gradients summed
    across replicas (TF's optimizers aggregate in a replica context, so a custom loop that
    divides its loss by the global batch gets the one-process gradient); elsewhere unchanged."""
    replicas = context.ctx.replica_contexts
    if not replicas or replicas[-1] is None:
        return list(grads_and_vars)
    return replicas[-1].aggregate_gradients(list(grads_and_vars))


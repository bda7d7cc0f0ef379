"""The Optimizer template of TF1, working in graph mode (ops) and eager mode (immediate updates).

Subclasses give `_create_slots(var_list)`, `_prepare()`, `_apply_dense(grad, var)` and optionally
`_finish(update_ops, name)`; each update is one distflow op, so one definition serves both modes.
"""
from distflow.framework import context
from distflow.framework.graph import GraphKeys, get_default_graph, name_scope
from distflow.ops import control_flow_ops, dispatch, variables


class Optimizer:
    def __init__(self, use_locking=False, name="Optimizer"):
        self._name = name
        self._slots = {}        # slot name -> {id(var): slot variable}
        self._non_slots = {}    # name -> variable (e.g. Adam's beta1_power)

    def get_name(self):
        return self._name

    # -- public API ----------------------------------------------------------------------------
    def minimize(self, loss, global_step=None, var_list=None, name=None, grad_loss=None, tape=None):
        grads_and_vars = self.compute_gradients(loss, var_list=var_list, grad_loss=grad_loss, tape=tape)
        vars_with_grad = [v for g, v in grads_and_vars if g is not None]
        if not vars_with_grad:
            raise ValueError("No gradients provided for any variable, check your graph for ops that "
                             "do not support gradients, between variables %s and loss %s."
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
            graph = dispatch._graph_of([loss]) or get_default_graph()
            var_list = graph.get_collection(GraphKeys.TRAINABLE_VARIABLES)
        var_list = list(var_list)
        if not var_list:
            raise ValueError("No variables to optimize.")
        from distflow.autodiff.gradients import gradients
        grads = gradients(loss, var_list, grad_ys=None if grad_loss is None else [grad_loss])
        return list(zip(grads, var_list))

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """Applies the updates; in a graph, returns the Operation that does so."""
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable: %s."
                             % ([v.name for _, v in grads_and_vars],))
        var_list = [v for _, v in pairs]
        graph = dispatch._graph_of(var_list + [g for g, _ in pairs])
        if graph is None and not context.executing_eagerly():
            graph = get_default_graph()
        if graph is None:
            return self._apply(pairs, global_step, name, eager=True)
        with graph.as_default():
            return self._apply(pairs, global_step, name, eager=False)

    def _apply(self, pairs, global_step, name, eager):
        with _init_scope(eager):
            self._create_slots([v for _, v in pairs])
        with name_scope(name or self._name) as scope:
            self._prepare()
            updates = []
            for g, v in pairs:
                with name_scope("update_" + v.name.split(":")[0].replace("/", "_")):
                    updates.append(self._apply_dense(g, v))
            finish = self._finish(updates, scope)
            if eager:
                if global_step is not None:
                    global_step.assign_add(1)
                return None
            if global_step is None:
                return finish
        with get_default_graph().control_dependencies([finish]):
            return global_step.assign_add(1, name=name or self._name).op

    # -- slots ---------------------------------------------------------------------------------
    def get_slot(self, var, name):
        return self._slots.get(name, {}).get(id(var))

    def get_slot_names(self):
        return sorted(self._slots)

    def variables(self):
        out = list(self._non_slots.values())
        for name in sorted(self._slots):
            out.extend(self._slots[name].values())
        return out

    def _zeros_slot(self, var, slot_name, op_name=None):
        import numpy as np
        slots = self._slots.setdefault(slot_name, {})
        if id(var) not in slots:
            base = var.name.split(":")[0]
            value = np.zeros(var.shape.as_list(), dtype=var.dtype.as_numpy_dtype)
            slots[id(var)] = variables.Variable(value, trainable=False,
                                                name="%s/%s" % (base, op_name or self._name))
        return slots[id(var)]

    def _get_or_make_non_slot(self, name, initial_value, like):
        if name not in self._non_slots:
            self._non_slots[name] = variables.Variable(initial_value, trainable=False, name=name,
                                                       dtype=like.dtype)
        return self._non_slots[name]

    # -- template methods -----------------------------------------------------------------------
    def _create_slots(self, var_list):
        pass

    def _prepare(self):
        pass

    def _apply_dense(self, grad, var):
        raise NotImplementedError

    def _finish(self, update_ops, scope):
        """Groups the updates into one op named after the optimizer's scope (graph mode)."""
        if context.executing_eagerly():
            return None
        return control_flow_ops.group(*update_ops, name=scope)


class _init_scope:
    """Slot variables are created outside control dependencies, in the variables' own mode."""

    def __init__(self, eager):
        self._eager = eager
        self._cm = None

    def __enter__(self):
        if not self._eager:
            self._cm = get_default_graph().control_dependencies(None)
            self._cm.__enter__()

    def __exit__(self, *exc):
        if self._cm is not None:
            self._cm.__exit__(*exc)
        return False


def get_global_step(graph=None):
    graph = graph or get_default_graph()
    steps = graph.get_collection(GraphKeys.GLOBAL_STEP)
    return steps[0] if steps else None


def get_or_create_global_step(graph=None):
    import numpy as np
    step = get_global_step(graph)
    if step is None:
        step = variables.Variable(np.int64(0), trainable=False, name="global_step",
                                  collections=[GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP])
        if not isinstance(step, variables.GraphVariable):
            (graph or get_default_graph()).add_to_collection(GraphKeys.GLOBAL_STEP, step)
    return step

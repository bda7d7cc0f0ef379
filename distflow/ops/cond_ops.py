"""tf.cond: one of two functions, chosen by a boolean tensor.

Eagerly the predicate is read now and one function is called (a GradientTape records the ops it
runs). In a graph (TF1, or a df.function being traced) each function is traced into a sub-graph
of its own (ops/func_graph.py); the tensors they use from outside become inputs of one op, If
(StatelessIf when neither branch updates a variable, prints or draws random numbers), whose
kernel runs the taken branch's compiled plan and only that one: the other branch's updates,
errors and divisions by zero never happen. Its outputs pass through Identity ops named as TF
names them (`cond/Identity`, `cond/Identity_1`, ...).

The gradient of an If is an If over the branches' gradients: each branch's gradient is built
into its own sub-graph by the one walker (autodiff/gradients.py), with the If's output gradients
as new placeholders, and a new If with the same predicate picks the taken branch's. The taken
branch's forward values are recomputed inside its gradient plan. Being an If again, it can be
differentiated again (second derivatives).
"""
from distflow.framework import nest
from distflow.framework.graph import Operation
from distflow.ops import dispatch, func_graph
from distflow.ops.array_ops import Identity, zeros_like
from distflow.ops.constant_op import Placeholder
from distflow.ops.registry import op_def

__all__ = ["cond"]

_MISMATCH = ("true_fn and false_fn arguments to tf.cond must have the same number, type, and "
             "overall structure of return values.\n\ntrue_fn output: %s\nfalse_fn output: %s\n\n"
             "Error details:\n%s")


def _truth(pred):
    """TF's rule for the If kernel: a scalar is true when nonzero, any other tensor when it
    has elements."""
    return bool(pred) if pred.ndim == 0 else pred.size != 0


def _if_infer(pred, *inputs, then_branch, else_branch, out_specs):
    return out_specs


def _if_kernel(op, runtime):
    then_b, else_b = op.attrs["then_branch"], op.attrs["else_branch"]
    n = len(op.outputs)
    plans = {}  # (branch, array module) -> compiled plan, for this binding of the op

    def run(pred, *args):
        out = (then_b if _truth(pred) else else_b).run(runtime, args, plans)
        return None if n == 0 else out[0] if n == 1 else tuple(out)
    return run


def _branch_gradients(branch, dys):
    """Builds, inside the branch's graph, the gradients of its outputs (weighted by new
    placeholders for `dys`) with respect to its inputs: (the placeholders, [grad or None])."""
    from distflow.autodiff.gradients import gradients  # lazily: autodiff sits above ops
    g = branch.graph
    with g.as_default():
        dy_phs = [dispatch.build_op(g, Placeholder, [], {"dtype": d.dtype, "shape": d.shape},
                                        "dy") for d in dys]
        grads = gradients(branch.outputs, branch.inputs, grad_ys=dy_phs) if branch.outputs \
            else [None] * len(branch.inputs)
    return dy_phs, grads


def _zeros_where_none(branch, grads, wanted):
    with branch.graph.as_default():
        return [zeros_like(branch.inputs[i]) if grads[i] is None else grads[i] for i in wanted]


def _if_grad(op, *dys):
    then_b, else_b = op.attrs["then_branch"], op.attrs["else_branch"]
    ins = op.inputs[1:]
    t_dys, t_grads = _branch_gradients(then_b, dys)
    e_dys, e_grads = _branch_gradients(else_b, dys)
    wanted = [i for i, x in enumerate(ins) if x.dtype.is_floating
              and (t_grads[i] is not None or e_grads[i] is not None)]
    result = [None] * len(op.inputs)
    if not wanted:
        return result
    then_g = func_graph.Branch(then_b.graph, then_b.inputs + t_dys,
                               _zeros_where_none(then_b, t_grads, wanted), side_effects=False)
    else_g = func_graph.Branch(else_b.graph, else_b.inputs + e_dys,
                               _zeros_where_none(else_b, e_grads, wanted), side_effects=False)
    graph = op.graph
    scope = graph.get_name_scope()  # gradients/cond_grad: the If is named so, as in TF
    outs = build_if(graph, op.inputs[0], list(ins) + list(dys), then_g, else_g,
                    scope + "/" if scope else None)
    for k, i in enumerate(wanted):
        result[1 + i] = outs[k]
    return result


_IF_ATTRS = dict(infer=_if_infer, kernel=_if_kernel, grad=_if_grad, aliases=True)
If = op_def("If", effects="control", doc="a cond whose branches have side effects", **_IF_ATTRS)
StatelessIf = op_def("StatelessIf", doc="a cond without side effects", **_IF_ATTRS)


def build_if(graph, pred, inputs, then_b, else_b, scope):
    """The If (or StatelessIf) op running `then_b` or `else_b` on `inputs`; returns one
    Identity of each output, named in `scope` (a name ending in '/'; None: `If_grad/`)."""
    specs = [(func_graph.relaxed_shape(a.shape, b.shape), a.dtype)
             for a, b in zip(then_b.outputs, else_b.outputs)]
    stateful = func_graph.is_stateful(then_b.graph) or func_graph.is_stateful(else_b.graph)
    with graph.name_scope(scope or "If_grad") as scope:
        res = dispatch.build_op(graph, If if stateful else StatelessIf, [pred] + inputs, {
            "then_branch": then_b, "else_branch": else_b, "out_specs": specs}, scope)
        if isinstance(res, Operation):
            return [res]
        outs = res if isinstance(res, tuple) else (res,)
        return [dispatch.build_op(graph, Identity, [o], {}, "Identity") for o in outs]


def cond(pred, true_fn=None, false_fn=None, name=None, _outputs=None):
    """`true_fn()` if `pred` else `false_fn()`. In a graph only the taken function's ops run.

    `_outputs` (AutoGraph's): `(true graph, true result, false graph, false result) -> (true
    outputs, false outputs)`, called once both branches are traced, while ops may still be
    added to their graphs: an `if` statement's outputs depend on what both branches did."""
    for arg, fn in (("true_fn", true_fn), ("false_fn", false_fn)):
        if fn is None:
            raise TypeError("cond(): '%s' argument required" % arg)
        if not callable(fn):
            raise TypeError("'%s' must be callable." % arg)
    graph = dispatch.building_graph([pred])
    if graph is None:  # eagerly: decide now
        return true_fn() if _truth(dispatch.to_eager(pred)._value) else false_fn()
    with graph.as_default(), graph.name_scope(name or "cond") as scope:
        pred = dispatch.convert_to_tensor(pred)
        t_g, _, t_out = func_graph.trace(true_fn, graph, "cond_true")
        f_g, _, f_out = func_graph.trace(false_fn, graph, "cond_false")
        if _outputs is not None:
            t_out, f_out = _outputs(t_g, t_out, f_g, f_out)
        t_flat = func_graph.output_tensors(t_g, nest.flatten(t_out))
        f_flat = func_graph.output_tensors(f_g, nest.flatten(f_out))
        _check_same(t_out, f_out, t_flat, f_flat)
        keep = [i for i, t in enumerate(t_flat) if t is not None]
        outer, (t_in, f_in) = func_graph.branch_inputs([t_g, f_g], [[], []])
        then_b = func_graph.Branch(t_g, t_in, [t_flat[i] for i in keep])
        else_b = func_graph.Branch(f_g, f_in, [f_flat[i] for i in keep])
        outs = build_if(graph, pred, outer, then_b, else_b, scope)
    flat = [None] * len(t_flat)
    for k, i in enumerate(keep):
        flat[i] = outs[k]
    if not keep and outs and isinstance(outs[0], Operation):  # only ops returned: run the If
        flat = [outs[0] if isinstance(x, Operation) else None for x in nest.flatten(t_out)]
    return nest.pack_sequence_as(t_out, flat)


def _check_same(t_out, f_out, t_flat, f_flat):
    detail = func_graph.structure_difference(t_out, f_out, check_types=True)
    if detail is None:
        shown = zip(nest.flatten(t_out), nest.flatten(f_out))  # as the user returned them
        for a, b, (sa, sb) in zip(t_flat, f_flat, shown):
            if (a is None) != (b is None):
                detail = "%s and %s are not both tensors" % (sa, sb)
            elif a is not None and a.dtype != b.dtype:
                detail = "%s and %s have different types" % (sa, sb)
            if detail:
                break
    if detail is not None:
        raise TypeError(_MISMATCH % (t_out, f_out, detail))


def cond_v1(pred, true_fn=None, false_fn=None, strict=False, name=None, fn1=None, fn2=None):
    """TF1's tf.cond: a Python bool is refused. A one-element list comes back as a list, as
    TF 2's compat.v1 gives it (TF 1.x's cond unpacked it unless `strict`)."""
    true_fn = fn1 if true_fn is None else true_fn
    false_fn = fn2 if false_fn is None else false_fn
    if isinstance(pred, bool):
        raise TypeError("pred must not be a Python bool", pred)
    return cond(pred, true_fn, false_fn, name)

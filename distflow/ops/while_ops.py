"""tf.while_loop: repeat `body` while `cond` holds, on a structure of loop variables.

Eagerly the loop runs in Python (a GradientTape records every iteration's ops). In a graph
(TF1, or a df.function being traced) `cond` and `body` are traced into sub-graphs of their own
(ops/func_graph.py) on placeholders of the loop variables' shape invariants; one op, While
(StatelessWhile when the body has no side effects), runs them through compiled plans. As in
TF 2, its first two inputs are the iteration counter and `maximum_iterations` (-1: none), then
the loop variables, then the tensors the functions use from outside; each output passes
through an Identity (`while/Identity_2` is the first loop variable's).

Gradient. The gradient of a While is a WhileGrad op over the same inputs and the outputs'
gradients: its kernel runs the loop again, keeping every iteration's loop variables, then runs
the body's gradient graph (built once by the one walker inside the body's sub-graph) backwards
over them, summing the gradients of the captured tensors. Recomputing the forward loop keeps
the While kernel free of hidden state. WhileGrad itself says NO_GRADIENT: a second derivative
through a while_loop raises an error that names it.
"""
import numpy as np

from distflow import backend
from distflow.framework import dtypes, nest
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import dispatch, func_graph
from distflow.ops.array_ops import Identity
from distflow.ops.constant_op import Placeholder, const_in_graph
from distflow.ops.registry import NO_GRADIENT, op_def

__all__ = ["while_loop"]


def _while_infer(counter, maximum, *inputs, cond_branch, body_branch, out_specs):
    return [(TensorShape([]), dtypes.int32)] * 2 + out_specs


def _iterate(cond_b, body_b, runtime, plans, counter, maximum, loop_vars, captured, keep=None):
    """Runs the loop; with `keep` (a list), appends each iteration's loop variables to it."""
    i, m = int(counter), int(maximum)
    loop_vars = list(loop_vars)
    captured = list(captured)
    while (m < 0 or i < m) and \
            bool(cond_b.run(runtime, loop_vars + captured, plans)[0]):
        if keep is not None:
            keep.append(loop_vars)
        loop_vars = body_b.run(runtime, loop_vars + captured, plans)
        i += 1
    return i, loop_vars


def _while_kernel(op, runtime):
    cond_b, body_b = op.attrs["cond_branch"], op.attrs["body_branch"]
    n = len(op.outputs) - 2
    plans = {}

    def run(counter, maximum, *args):
        i, loop_vars = _iterate(cond_b, body_b, runtime, plans, counter, maximum, args[:n],
                                args[n:])
        return (np.asarray(i, np.int32), maximum) + tuple(loop_vars)
    return run


def _while_grad(op, *dys):
    """WhileGrad over the While's inputs and the loop variables' output gradients."""
    from distflow.autodiff.gradients import gradients  # lazily: autodiff sits above ops
    body_b = op.attrs["body_branch"]
    n = len(op.outputs) - 2
    g = body_b.graph
    with g.as_default():
        dy_phs = [dispatch.build_op(g, Placeholder, [], {"dtype": t.dtype, "shape": t.shape},
                                        "dy") for t in body_b.outputs]
        grads = gradients(body_b.outputs, body_b.inputs, grad_ys=dy_phs)
    grad_b = func_graph.Branch(g, body_b.inputs + dy_phs, grads, side_effects=False)
    # the loop again, without the updates and prints it ran the first time
    cond_b = op.attrs["cond_branch"]
    cond_b = func_graph.Branch(cond_b.graph, cond_b.inputs, cond_b.outputs, side_effects=False)
    pure_b = func_graph.Branch(g, body_b.inputs, body_b.outputs, side_effects=False)
    ins = op.inputs[2:]
    wanted = [i for i, x in enumerate(ins) if x.dtype.is_floating]
    result = [None] * len(op.inputs)
    if not wanted:
        return result
    specs = [(x.shape, x.dtype) for x in (ins[i] for i in wanted)]
    outs = dispatch.build_op(op.graph, WhileGrad, list(op.inputs) + list(dys[2:]), {
        "cond_branch": cond_b, "body_branch": pure_b, "grad_branch": grad_b,
        "n_vars": n, "wanted": wanted, "out_specs": specs}, "WhileGrad")
    outs = outs if isinstance(outs, tuple) else (outs,)
    for k, i in enumerate(wanted):
        result[2 + i] = outs[k]
    return result


def _while_grad_kernel(op, runtime):
    a = op.attrs
    cond_b, body_b, grad_b, n, wanted = (a["cond_branch"], a["body_branch"], a["grad_branch"],
                                         a["n_vars"], a["wanted"])
    plans = {}

    def run(counter, maximum, *args):
        n_caps = len(args) - 2 * n
        loop_vars, captured, dys = args[:n], list(args[n:n + n_caps]), args[n + n_caps:]
        history = []
        _iterate(cond_b, body_b, runtime, plans, counter, maximum, loop_vars, captured, history)
        xp = backend.get_array_module(*args)
        g_vars = list(dys)
        g_caps = [None] * n_caps
        for step in reversed(history):
            out = grad_b.run(runtime, list(step) + captured + g_vars, plans)
            g_vars = [xp.zeros_like(v) if gv is None else gv for gv, v in zip(out[:n], step)]
            for j, gc in enumerate(out[n:]):
                if gc is not None:
                    g_caps[j] = gc if g_caps[j] is None else g_caps[j] + gc
        g_caps = [xp.zeros_like(c) if gc is None else gc for gc, c in zip(g_caps, captured)]
        every = g_vars + g_caps
        result = tuple(every[i] for i in wanted)
        return result[0] if len(result) == 1 else result
    return run


_WHILE_ATTRS = dict(infer=_while_infer, kernel=_while_kernel, grad=_while_grad, aliases=True)
While = op_def("While", effects="control",
               doc="a while_loop whose body has side effects", **_WHILE_ATTRS)
StatelessWhile = op_def("StatelessWhile", doc="a while_loop without side effects", **_WHILE_ATTRS)
WhileGrad = op_def("WhileGrad", infer=lambda *inputs, out_specs, **attrs: out_specs,
                   kernel=_while_grad_kernel, grad=NO_GRADIENT,
                   doc="the gradient of a While: the body's gradient run backwards")


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10,
               back_prop=True, swap_memory=False, maximum_iterations=None, name=None):
    """Repeats `loop_vars = body(*loop_vars)` while `cond(*loop_vars)`, at most
    `maximum_iterations` times; returns the loop variables in their structure."""
    return _while_loop(cond, body, loop_vars, shape_invariants, maximum_iterations, name, True)


def while_loop_v1(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10,
                  back_prop=True, swap_memory=False, name=None, maximum_iterations=None,
                  return_same_structure=False):
    """TF1's tf.while_loop: one loop variable in a list comes back as itself, unless
    `return_same_structure`."""
    return _while_loop(cond, body, loop_vars, shape_invariants, maximum_iterations, name,
                       return_same_structure)


def _packed_args(args, structure):
    """The loop variables as the functions got them, packed as `structure` again."""
    return list(args) if isinstance(structure, (list, tuple)) else args[0]


def _as_args(loop_vars):
    return list(loop_vars) if isinstance(loop_vars, (list, tuple)) else [loop_vars]


def _packed(result, structure):
    """The body's result; a lone value for one loop variable counts as a one-element list."""
    if len(_as_args(structure)) == 1 and not isinstance(result, (list, tuple)) \
            and isinstance(structure, (list, tuple)):
        return type(structure)([result]) if type(structure) in (list, tuple) else [result]
    return result


def _check_structure(structure, result):
    detail = func_graph.structure_difference(_as_args(structure), _as_args(result))
    if detail is not None:
        raise ValueError("%s\n\nFirst structure: %s\n\nSecond structure: %s"
                         % (detail, structure, result))


def _while_loop(cond, body, loop_vars, shape_invariants, maximum_iterations, name,
                same_structure):
    if not callable(cond):
        raise TypeError("cond must be callable.")
    if not callable(body):
        raise TypeError("body must be callable.")
    from distflow.ops import tensor_array  # lazily: TensorArray is built on this module's users
    plain, invariants, rebuild = tensor_array.to_components(loop_vars)
    if invariants is not None:  # TensorArrays: the loop carries their tensors
        if shape_invariants is None:
            shape_invariants = nest.pack_sequence_as(plain, invariants(
                [None] * len(nest.flatten(plain))))
            shape_invariants = [s if s is not None else t.shape for s, t in
                                zip(nest.flatten(shape_invariants), nest.flatten(plain))]
        result = _while_loop(lambda *a: cond(*_as_args(rebuild(_packed_args(a, plain)))),
                             lambda *a: tensor_array.strip(body(*_as_args(
                                 rebuild(_packed_args(a, plain))))),
                             plain, shape_invariants, maximum_iterations, name, True)
        result = rebuild(result)
        if not same_structure and isinstance(result, (list, tuple)) and len(result) == 1:
            return result[0]
        return result
    flat = nest.flatten(loop_vars)
    graph = dispatch.building_graph(flat + ([maximum_iterations]
                                            if maximum_iterations is not None else []))
    if graph is None:
        result = _eager_loop(cond, body, loop_vars, maximum_iterations)
    else:
        with graph.as_default(), graph.name_scope(name or "while") as scope:
            result = _graph_loop(graph, scope, cond, body, loop_vars, flat, shape_invariants,
                                 maximum_iterations)
    if not same_structure and isinstance(result, (list, tuple)) and len(result) == 1:
        return result[0]
    return result


def _eager_loop(cond, body, loop_vars, maximum_iterations):
    loop_vars = nest.map_structure(dispatch.convert_to_tensor, loop_vars)
    limit = None if maximum_iterations is None else int(dispatch.to_eager(maximum_iterations))
    i = 0
    while (limit is None or i < limit) and bool(cond(*_as_args(loop_vars))):
        result = _packed(body(*_as_args(loop_vars)), loop_vars)
        _check_structure(loop_vars, result)
        loop_vars = nest.pack_sequence_as(loop_vars, [
            dispatch.convert_to_tensor(x) for x in nest.flatten(result)])
        i += 1
    return loop_vars


def _graph_loop(graph, scope, cond, body, loop_vars, flat, shape_invariants, maximum):
    flat = [dispatch.convert_to_tensor(x) for x in flat]
    invariants = [x.shape for x in flat] if shape_invariants is None else \
        [TensorShape(s) for s in _flat_shapes(shape_invariants)]
    for x, s in zip(flat, invariants):
        if not s.is_compatible_with(x.shape):
            raise ValueError("The shape invariant specified for %s is not compatible with the "
                             "initial shape of the loop variable. It enters the loop with shape "
                             "%s, but the specified shape invariant is %s." % (x.name, x.shape, s))
    specs = list(zip(invariants, [x.dtype for x in flat]))
    structure = nest.pack_sequence_as(loop_vars, flat)
    c_g, c_args, c_out = func_graph.trace(cond, graph, "while_cond", specs, _as_args(structure))
    b_g, b_args, b_out = func_graph.trace(body, graph, "while_body", specs, _as_args(structure))
    c_out = func_graph.output_tensors(c_g, [c_out])[0]
    if c_out is None or c_out.dtype != dtypes.bool_ or not c_out.shape.is_compatible_with([]):
        raise TypeError("cond must return a scalar boolean tensor, got %s" % (c_out,))
    b_out = _packed(b_out, structure)
    _check_structure(structure, b_out)
    b_flat = func_graph.output_tensors(b_g, nest.flatten(b_out))
    for x, y, s in zip(flat, b_flat, invariants):
        if y is None:
            raise TypeError("body returned None for loop variable %s" % x.name)
        if y.dtype != x.dtype:
            raise TypeError("Loop var %s enters the loop with type <dtype: '%s'> but has type "
                            "<dtype: '%s'> after 1 iteration. %s type should remain constant."
                            % (x.name, x.dtype.name, y.dtype.name, x.name))
        if not s.is_compatible_with(y.shape):
            raise ValueError(
                "Input tensor `%s` enters the loop with shape %s, but has shape %s after one "
                "iteration. To allow the shape to vary across iterations, use the "
                "`shape_invariants` argument of tf.while_loop to specify a less-specific shape."
                % (x.name, s, y.shape))
    func_graph.read_updated_variables_live([c_g, b_g], b_g)
    outer, (c_in, b_in) = func_graph.branch_inputs([c_g, b_g], [c_args, b_args])
    cond_b = func_graph.Branch(c_g, c_in, [c_out])
    body_b = func_graph.Branch(b_g, b_in, b_flat)
    limit = -1 if maximum is None else maximum
    with graph.name_scope(scope):
        counter = const_in_graph(graph, np.asarray(0, np.int32), "loop_counter")
        limit = dispatch.convert_to_tensor(limit, dtypes.int32, name="maximum_iterations")
    stateful = func_graph.is_stateful(c_g) or func_graph.is_stateful(b_g)
    outs = dispatch.build_op(graph, While if stateful else StatelessWhile,
                                 [counter, limit] + flat + outer, {
                                     "cond_branch": cond_b, "body_branch": body_b,
                                     "out_specs": specs}, scope)
    with graph.name_scope(scope):
        ids = [dispatch.build_op(graph, Identity, [o], {}, "Identity") for o in outs]
    return nest.pack_sequence_as(structure, ids[2:])


def _flat_shapes(shape_invariants):
    """The shape invariants' leaves: TensorShapes, or lists / None for one loop variable's."""
    if isinstance(shape_invariants, TensorShape) or shape_invariants is None:
        return [shape_invariants]
    if isinstance(shape_invariants, (list, tuple)) and all(
            d is None or isinstance(d, int) for d in shape_invariants) and not any(
            isinstance(d, (list, tuple, TensorShape)) for d in shape_invariants):
        return [shape_invariants]  # one shape given as a list of sizes
    out = []
    for s in ([shape_invariants[k] for k in nest._sorted_keys(shape_invariants)]
              if isinstance(shape_invariants, dict) else shape_invariants):
        out.extend(_flat_shapes(s))
    return out

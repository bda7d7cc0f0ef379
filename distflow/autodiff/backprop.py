"""The one reverse-mode walker, shared by graph `gradients()` and the eager GradientTape.

It sees only tensors and op records with `.inputs`, `.outputs`, `.opdef` and `.attrs`; `producer`
says which record made a tensor (a graph Tensor's `.op`, or the tape's record). Each op's gradient
function builds its result from distflow ops, so in graph mode the walker adds nodes (under a
`gradients/` name scope), and in eager mode it computes values that an outer tape can record,
which is how second derivatives work.
"""
from distflow.ops.registry import NO_GRADIENT, NOT_DIFFERENTIABLE
from distflow.ops.state_ops import VariableStorage


def _differentiable(t):
    value = getattr(t, "_value", None)  # an EagerTensor's array
    if value is None and isinstance(t, VariableStorage):  # an eager Variable's
        value = t.read_array()
    if value is not None:  # eager: the array's dtype says it, without building a DType
        return value.dtype.kind == "f"
    return t.dtype.is_floating


def backprop(targets, target_grads, sources, producer, stop=(), scope=None, math=None,
             ops=None, mark_skipped=False):
    """Gradients of sum(targets) with respect to each source: a list, None where unconnected.

    `math` supplies add_n and zeros_like (distflow ops); `scope(op)` returns a context manager
    used around each gradient function (the name scope in graph mode). `ops`, when the caller
    knows them in the order they ran (the eager tape's records), spares the walker its search.
    With `mark_skipped` (eager records only: graph ops are shared and must not keep a mark),
    each op gets `skip_input_indices`, the inputs whose gradient nobody needs (TF's name), so
    that an expensive gradient function can leave them out.
    """
    ids = {id(s): s for s in sources}
    stop_ids = {id(s) for s in stop}
    order = _topological_ops(targets, producer, stop_ids) if ops is None else ops

    # Forward pass over the reachable ops: which tensors depend on a source? `live` keeps the
    # ops with such an input, in order: only they can pass a gradient back. `wants` holds the
    # tensors a gradient is collected for: those that reach, are not stopped, and are floats.
    reaches = set(ids)
    wants = {i for i, s in ids.items() if i not in stop_ids and _differentiable(s)}
    live = []
    for op in order:
        for x in op.inputs:
            if id(x) in reaches and id(x) not in stop_ids:
                live.append(op)
                for o in op.outputs:
                    reaches.add(id(o))
                    if id(o) not in stop_ids and _differentiable(o):
                        wants.add(id(o))
                break

    grads = {}  # id(tensor) -> list of gradient contributions
    for t, g in zip(targets, target_grads):
        if id(t) in reaches and _differentiable(t):
            grads.setdefault(id(t), []).append(g)

    for op in reversed(live):
        fn = op.opdef.grad
        if fn is NOT_DIFFERENTIABLE:
            continue
        # A source's own gradient stays in `grads` for the result (it may also lie upstream
        # of another source); any other tensor's is dropped once it has been passed back.
        received = [grads.get(id(o)) if id(o) in ids else grads.pop(id(o), None)
                    for o in op.outputs]
        if received.count(None) == len(received):
            continue
        if fn is NO_GRADIENT:
            raise LookupError("No gradient defined for operation '%s' (op type: %s), which lies "
                              "between the target and a source." % (op.name, op.type))
        wanted = [id(x) in wants for x in op.inputs]
        if mark_skipped:
            op.skip_input_indices = () if all(wanted) else \
                tuple(i for i, w in enumerate(wanted) if not w)
        if scope is None:
            in_grads = _call_grad(fn, op, received, math)
        else:
            with scope(op):
                in_grads = _call_grad(fn, op, received, math)
        for x, g, w in zip(op.inputs, in_grads, wanted):
            if w and g is not None:
                grads.setdefault(id(x), []).append(g)

    result = []
    for s in sources:
        contributions = grads.get(id(s))
        result.append(None if not contributions else _sum(contributions, math))
    return result


def _call_grad(fn, op, received, math):
    """The op's gradient function called with one summed gradient per output (zeros for an
    output that got none while another did); one gradient (or None) per input comes back."""
    out_grads = [_sum(c, math) for c in received]
    if len(out_grads) > 1 and any(g is None for g in out_grads):
        out_grads = [math.zeros_like(o) if g is None else g for g, o in zip(out_grads, op.outputs)]
    in_grads = fn(op, *out_grads)
    if not isinstance(in_grads, (tuple, list)):
        in_grads = (in_grads,)
    if len(in_grads) != len(op.inputs):
        raise ValueError("The gradient of %s returned %d values for %d inputs"
                         % (op.type, len(in_grads), len(op.inputs)))
    return in_grads


def _sum(contributions, math):
    if contributions is None:
        return None
    if len(contributions) == 1:
        return contributions[0]
    return math.add_n(contributions)


def _topological_ops(targets, producer, stop_ids):
    """Ops that produce the targets, producers first (iterative DFS, deterministic order)."""
    order, state = [], {}
    for t in targets:
        op = producer(t) if id(t) not in stop_ids else None
        if op is None or id(op) in state:
            continue
        stack = [(op, iter(op.inputs))]
        state[id(op)] = 1
        while stack:
            node, it = stack[-1]
            for x in it:
                if id(x) in stop_ids:
                    continue
                p = producer(x)
                if p is not None and id(p) not in state:
                    state[id(p)] = 1
                    stack.append((p, iter(p.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order

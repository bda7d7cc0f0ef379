"""The one reverse-mode walker, shared by graph `gradients()` and the eager GradientTape.

It sees only tensors and op records with `.inputs`, `.outputs`, `.opdef` and `.attrs`; `producer`
says which record made a tensor (a graph Tensor's `.op`, or the tape's record). Each op's gradient
function builds its result from distflow ops, so in graph mode the walker adds nodes (under a
`gradients/` name scope), and in eager mode it computes values that an outer tape can record,
which is how second derivatives work.
"""
from distflow.ops.registry import NO_GRADIENT, NOT_DIFFERENTIABLE


def _differentiable(t):
    d = t.dtype
    return d.is_floating


def backprop(targets, target_grads, sources, producer, stop=(), scope=None, math=None):
    """Gradients of sum(targets) with respect to each source: a list, None where unconnected.

    `math` supplies add_n and zeros_like (distflow ops); `scope(op)` returns a context manager
    used around each gradient function (the name scope in graph mode).
    """
    ids = {id(s): s for s in sources}
    stop_ids = {id(s) for s in stop}
    order = _topological_ops(targets, producer, stop_ids)

    # Forward pass over the reachable ops: which tensors depend on a source? `live` keeps the
    # ops with such an input, in order: only they can pass a gradient back.
    reaches = set(ids)
    live = []
    for op in order:
        for x in op.inputs:
            if id(x) in reaches and id(x) not in stop_ids:
                live.append(op)
                reaches.update([id(o) for o in op.outputs])
                break

    grads = {}  # id(tensor) -> list of gradient contributions
    for t, g in zip(targets, target_grads):
        if id(t) in reaches and _differentiable(t):
            grads.setdefault(id(t), []).append(g)

    for op in reversed(live):
        if not any(id(o) in grads for o in op.outputs):
            continue
        fn = op.opdef.grad
        if fn is NOT_DIFFERENTIABLE:
            continue
        if fn is NO_GRADIENT:
            raise LookupError("No gradient defined for operation '%s' (op type: %s), which lies "
                              "between the target and a source." % (op.name, op.type))
        with scope(op) if scope else _nullctx:
            out_grads = [_sum(grads.pop(id(o), None), o, math) for o in op.outputs]
            if len(out_grads) > 1 and any(g is None for g in out_grads):
                out_grads = [math.zeros_like(o) if g is None else g
                             for g, o in zip(out_grads, op.outputs)]
            in_grads = fn(op, *out_grads)
            if not isinstance(in_grads, (tuple, list)):
                in_grads = (in_grads,)
            if len(in_grads) != len(op.inputs):
                raise ValueError("The gradient of %s returned %d values for %d inputs"
                                 % (op.type, len(in_grads), len(op.inputs)))
            for x, g in zip(op.inputs, in_grads):
                if g is None or id(x) not in reaches or id(x) in stop_ids or not _differentiable(x):
                    continue
                grads.setdefault(id(x), []).append(g)

    result = []
    for s in sources:
        contributions = grads.get(id(s))
        result.append(None if not contributions else _sum(contributions, s, math))
    return result


def _sum(contributions, like, math):
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


class _Null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


_nullctx = _Null()

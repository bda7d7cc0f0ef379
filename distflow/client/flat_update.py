"""One vectorized optimizer update for a whole model: variables and slots in flat buffers.

An optimizer adds one fused update op per variable (ApplyAdam for w0, for b0, ...), each a
dozen small NumPy calls on a small array; on a small model the calls, not the arithmetic, are the
step's cost. Those ops are elementwise and share their hyperparameter inputs, so a CPU plan runs
them as ONE update over the concatenation of the variables: the variables of the group (and each
slot: m, v, ...) become views of one contiguous buffer per state position, the gradients are
written (by their producers, `out=`) into views of one flat gradient buffer, and the op's own
in-place formula (`opdef.inplace`) runs once on the flat buffers. Same formula, same elementwise
arithmetic: the values are bit for bit those of the per-variable updates.

The buffers and the moving of the variables' storage into them are ops/flat_state.py's (shared
with the eager step's flat update); a run whose state is not ready (a value that cannot be
homed, an eager variable whose array a live tensor still shares) goes down the per-variable
kernels, which keep their own checks and messages.
"""
import numpy as np

from distflow.ops.flat_state import FLAT_LIMIT, FlatState


def find_groups(ops, skipped, readers):
    """Lists of update ops (two or more each, in plan order) that may run as one flat update:
    same op type, attrs, dtype and hyperparameter input tensors, distinct variables (and slots)
    of static shapes, outputs read by nothing, and no op between the group's first and last member that
    depends on an earlier member (the group runs where its last member stood)."""
    by_key, position = {}, {}
    for i, op in enumerate(ops):
        position[id(op)] = i
        d = op.opdef
        grad_at = getattr(d, "flat_grad", None)
        if grad_at is None or id(op) in skipped or not op.outputs:
            continue
        if any(readers.get(id(t)) for t in op.outputs):
            continue
        grad_at %= len(op.inputs)
        if not all(op.inputs[j].shape.is_fully_defined() for j in d.ref_inputs):
            continue
        hyper = tuple(id(x) for j, x in enumerate(op.inputs)
                      if j not in d.ref_inputs and j != grad_at)
        key = (op.type, op.inputs[0].dtype, hyper, repr(sorted(op.attrs.items())))
        by_key.setdefault(key, []).append(op)
    groups = []
    for members in by_key.values():
        size = sum(op.inputs[0].shape.num_elements() for op in members)
        if len(members) > 1 and size <= FLAT_LIMIT and _independent(ops, members, position):
            groups.append(members)
    return groups


def _independent(ops, members, position):
    refs = [x.op for op in members for x in (op.inputs[j] for j in op.opdef.ref_inputs)]
    if len({id(r) for r in refs}) != len(refs):  # one variable updated twice: keep the order
        return False
    first, last = position[id(members[0])], position[id(members[-1])]
    member_ids = {id(op) for op in members}
    after_member = set()  # ops that must follow a member: none may run before the group does
    for op in ops[first:last + 1]:
        depends = any(id(x.op) in after_member for x in op.inputs) or \
            any(id(c) in after_member for c in op.control_inputs)
        if depends:
            return False
        if id(op) in member_ids:
            after_member.add(id(op))
    return True


class FlatUpdate:
    """The kernel of one group: called with the gradients (in member order), then the
    hyperparameters as one member takes them. `kernels`: the members' own bound kernels."""

    def __init__(self, ops, runtime, kernels):
        d = ops[0].opdef
        self.name = "%s x %d (flat)" % (d.name, len(ops))
        self.inplace, self.attrs, self.kernels = d.inplace, ops[0].attrs, kernels
        self.n = len(ops)
        grad_at = d.flat_grad % len(ops[0].inputs)
        # the gradient's place among the non-state inputs, where the kernels take it
        self.grad_pos = grad_at - len(d.ref_inputs)
        self.state = FlatState(
            [[runtime.variable_cell(op.inputs[j].op) for op in ops] for j in d.ref_inputs],
            [tuple(op.inputs[0].shape.as_list()) for op in ops],
            ops[0].inputs[0].dtype.as_numpy_dtype)
        self.grad = np.empty(self.state.size, self.state.dtype)
        self.grad_views = self.state.views_of(self.grad)
        self._last = None  # (gradients, the flat array they are views of) from the last run

    def __call__(self, *args):
        n = self.n
        grads, hyper = args[:n], args[n:]
        if not self.state.ready():
            return self._per_variable(grads, hyper)
        flat_grad = self.grad
        if grads[0] is not self.grad_views[0]:
            flat_grad = self._gradients_elsewhere(grads)
            if flat_grad is None:
                return self._per_variable(grads, hyper)
        k = self.grad_pos
        self.inplace(np, *self.state.flats, *hyper[:k], flat_grad, *hyper[k:], **self.attrs)

    def _gradients_elsewhere(self, grads):
        """The flat gradient when its producers did not all write into the buffer: the buffer
        they already lie in, in this order (read in place), else this group's buffer with the
        others copied in; None for a gradient of another shape (the per-variable kernels then
        give their own broadcasting and messages)."""
        last = self._last
        if last is not None and len(last[0]) == len(grads) and all(
                a is b for a, b in zip(last[0], grads)):
            return last[1]
        state = self.state
        src = _consecutive(grads, state.offsets, state.shapes, state.dtype)
        if src is not None:
            self._last = (tuple(grads), src)
            return src
        for g, v in zip(grads, self.grad_views):
            if g is not v:  # a gradient its producer did not write into the buffer
                if type(g) is not np.ndarray or g.shape != v.shape:
                    return None
                v[...] = g
        return self.grad

    def _per_variable(self, grads, hyper):
        k = self.grad_pos
        for kernel, g in zip(self.kernels, grads):
            kernel(*hyper[:k], g, *hyper[k:])

    def input_buffers(self, dims, dtypes, xp, writers):
        """The flat gradient buffer's views, for the producers that write into them."""
        return self.grad_views


def _consecutive(grads, offsets, shapes, dtype):
    """The 1-D array of which `grads` are consecutive C-contiguous views in this order (the
    layout of the group's own buffer), or None."""
    g0 = grads[0]
    base = getattr(g0, "base", None)
    if type(base) is not np.ndarray or base.ndim != 1 or base.dtype != dtype \
            or not base.flags.c_contiguous:
        return None
    size = dtype.itemsize
    start = g0.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    if start % size:
        return None
    start //= size
    for g, off, shape in zip(grads, offsets, shapes):
        if type(g) is not np.ndarray or g.base is not base or g.shape != shape \
                or not g.flags.c_contiguous \
                or g.__array_interface__["data"][0] != base.__array_interface__["data"][0] + \
                (start + off) * size:
            return None
    if start + offsets[-1] > base.size:
        return None
    return base[start:start + offsets[-1]]

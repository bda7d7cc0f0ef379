"""Compiling one (fetches, feeds) pair of a graph into a flat, reusable plan.

The plan is straight-line Python generated once: each op's kernel is bound (its attrs and array
module fixed, stateful kernels given their variable storage or RNG), each tensor is a local
variable, and the run does no graph walk, dict building or shape inference. Printing
`plan.source` shows exactly what a Session.run executes.

Zero copy into the fused all-reduce: a gradient read by nothing but a FusedAllReduce is computed
straight into that op's flat buffer. Its producing op (MatMul, SumTo, ...) is bound with its
`forward_out` kernel and `out=` the gradient's view of the buffer, which the all-reduce's kernel
allocated while the plan compiled; the source marks such lines `# into the buffer of ...`.
"""
import functools

import numpy as np

from distflow.backend import gpu
from distflow.client import flat_update, specialize
from distflow.framework import errors
from distflow.framework.graph import Operation, Tensor
from distflow.ops.constant_op import Placeholder
from distflow.ops.control_flow_ops import NoOp
from distflow.ops.registry import REGISTRY, may_update_in_place
from distflow.ops.state_ops import VariableStorage


def prune(fetch_elements, feed_tensors):
    """The ops needed for the fetches, in an order where every op follows its inputs."""
    fed = {id(t) for t in feed_tensors}
    # ops whose outputs are all fed: nothing of theirs runs, even as a control input
    fed_ops = {id(t.op) for t in feed_tensors if all(id(o) in fed for o in t.op.outputs)}
    targets = []
    for el in fetch_elements:
        if isinstance(el, Tensor):
            if id(el) not in fed:
                targets.append(el.op)
        else:
            targets.append(el)
    order, seen = [], set()
    for root in targets:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(_deps(root, fed, fed_ops)))]
        while stack:
            op, it = stack[-1]
            for dep in it:
                if id(dep) not in seen:
                    seen.add(id(dep))
                    stack.append((dep, iter(_deps(dep, fed, fed_ops))))
                    break
            else:
                stack.pop()
                order.append(op)
    return order


def _deps(op, fed, fed_ops):
    refs = op.opdef.ref_inputs
    deps = [x.op for i, x in enumerate(op.inputs) if id(x) not in fed and i not in refs]
    # a control input whose outputs are all fed has nothing left to run (as in TF: a gradient
    # fed to a df.function is a placeholder the optimizer's update waits for); an optimizer's
    # updates each wait for every gradient, so the common case is tested in C
    controls = op.control_inputs
    if controls and fed_ops and not fed_ops.isdisjoint(map(id, controls)):
        controls = [c for c in controls if id(c) not in fed_ops]
    deps.extend(controls)
    return deps


def bind_kernel(op, runtime, xp):
    opdef = op.opdef
    if opdef.kernel is not None:
        return opdef.kernel(op, runtime)
    if len(opdef.ref_inputs) > 1:
        update = _multi_ref_kernel(op, runtime, xp)
        return update if xp is np else gpu.with_device_args(update, xp)
    if opdef.ref_input is not None:
        update = _ref_kernel(op, runtime, xp)
        return update if xp is np else gpu.with_device_args(update, xp)
    if xp is not np:  # a GPU plan: host and device inputs meet by backend/gpu.py's rule
        return gpu.device_kernel(opdef.forward, xp, op.attrs, opdef.host_inputs)
    if opdef.bind is not None:
        return opdef.bind(xp, **op.attrs)
    if op.attrs:
        return functools.partial(opdef.forward, xp, **op.attrs)
    return functools.partial(opdef.forward, xp)


def bind_out_kernel(op, xp, out):
    """The kernel of a pure op writing its output into the preallocated array `out`."""
    if op.opdef.bind is not None:
        return op.opdef.bind(xp, out=out, **op.attrs)
    return functools.partial(op.opdef.forward_out, xp, out=out, **op.attrs)


def _ref_kernel(op, runtime, xp):
    """A variable update: in place when the op has a fast path and the variable holds a value."""
    from distflow.ops.state_ops import uninitialized
    opdef, attrs = op.opdef, op.attrs
    cell = runtime.variable_cell(op.inputs[opdef.ref_input].op)
    forward, inplace = opdef.forward, opdef.inplace
    may_initialize = opdef.initializes
    cells = (cell,)
    read_array, assign_array = cell.read_array, cell.assign_array

    def update(*args):
        current = read_array()
        if current is None:
            if not may_initialize:
                raise uninitialized(cell.name, op)
        elif may_update_in_place(opdef, cells, (current,)):
            inplace(xp, current, *args, **attrs)
            return current
        assign_array(forward(xp, current, *args, **attrs))
        return read_array()
    return update


def _multi_ref_kernel(op, runtime, xp):
    """A fused update of several variables (an optimizer step and its slots), all initialized."""
    from distflow.ops.state_ops import uninitialized
    opdef, attrs = op.opdef, op.attrs
    cells = [runtime.variable_cell(op.inputs[i].op) for i in opdef.ref_inputs]
    forward, inplace = opdef.forward, opdef.inplace
    read_arrays = VariableStorage.read_arrays

    def update(*args):
        currents = read_arrays(cells)
        for c, v in zip(cells, currents):
            if v is None:
                raise uninitialized(c.name, op)
        if may_update_in_place(opdef, cells, currents):
            inplace(xp, *currents, *args, **attrs)
        else:
            for c, v in zip(cells, forward(xp, *currents, *args, **attrs)):
                c.assign_array(v)
        return cells[0].read_array()
    return update


class Plan:
    def __init__(self, runtime, fetch_elements, feed_tensors, xp):
        self.fetch_elements = fetch_elements
        self.feed_tensors = feed_tensors
        self.ops = prune(fetch_elements, feed_tensors)
        for op in self.ops:
            if op.opdef is Placeholder:
                bind_kernel(op, runtime, xp)()  # raises: a placeholder must be fed
        self.run, self.source, self.op_index = self.compile_function(runtime, xp)
        if specialize.worth_specializing(self.ops):
            # the fast path: per fed shapes, shape computations folded (client/specialize.py)
            self.run = specialize.SpecializingRunner(self, runtime, xp)

    def compile_function(self, runtime, xp, constants=None, renames=None, dead=(), shapes=None):
        """(run, its source, its op list). `constants` (id(op) -> output values), `renames`
        (id(op) -> the input tensor its output equals), `dead` (ids of ops to leave out) and
        `shapes` (id(tensor) -> its concrete TensorShape) come from shape specialization."""
        constants, renames = constants or {}, renames or {}
        skipped = {id(op) for op in self.ops if op.opdef is REGISTRY["Const"] or op.opdef is NoOp
                   or id(op) in constants or id(op) in dead or id(op) in renames}
        readers = self._readers(skipped, renames)
        # a variable read whose value nobody takes: an update's state input (the update finds the
        # variable itself, and checks it) or an ordering edge of df.function's automatic control
        # dependencies; its run would only look at the variable
        unread = {id(op) for op in self.ops if op.opdef.variable is not None and op.outputs
                  and not any(readers.get(id(t)) for t in op.outputs)}
        skipped |= unread
        # fused optimizer updates run as one update over flat buffers (CPU plans)
        groups = flat_update.find_groups(self.ops, skipped, readers) if xp is np else []
        flat = {}  # id(last member) -> (its group's kernel, the members)
        grouped = set()  # the other members: their update runs in the last one's
        for group in groups:
            kernels = [bind_kernel(op, runtime, xp) for op in group]
            flat[id(group[-1])] = (flat_update.FlatUpdate(group, runtime, kernels), group)
            grouped.update(id(op) for op in group[:-1])
        skipped = skipped | grouped
        prebound, in_place = self._inputs_in_place(runtime, xp, skipped, renames, shapes or {},
                                                   readers, flat)
        names, env, lines = {}, {}, []
        for i, t in enumerate(self.feed_tensors):
            names[id(t)] = "f%d" % i
        op_index = []
        owners = []  # per line of `lines`: the index in op_index of the op it runs
        for op in self.ops:
            if op.opdef is REGISTRY["Const"] or id(op) in constants:
                values = constants.get(id(op)) or (op.attrs["value"],)
                for t, value in zip(op.outputs, values):
                    name = "c%d" % len(env)
                    env[name] = _plan_constant(xp, value)
                    names[id(t)] = name
                continue
            if op.opdef is NoOp or id(op) in dead or id(op) in grouped or id(op) in unread:
                continue
            if id(op) in flat:  # the group's one update, where its last member stood
                kernel, group = flat[id(op)]
                k = "k%d" % len(op_index)
                env[k] = kernel
                d = op.opdef
                grad_at = d.flat_grad % len(op.inputs)
                grads = [names[id(m.inputs[grad_at])] for m in group]
                hyper = [names[id(x)] for i, x in enumerate(op.inputs)
                         if i not in d.ref_inputs and i != grad_at]
                lines.append("        %s(%s)  # %s" % (k, ", ".join(grads + hyper), kernel.name))
                op_index.append(op)
                owners.extend([len(op_index) - 1] * (len(lines) - len(owners)))
                continue
            if id(op) in renames:
                source = names.get(id(renames[id(op)]))
                if source is not None:  # else a name of an unread variable read: unused too
                    names[id(op.outputs[0])] = source
                continue
            k = "k%d" % len(op_index)
            if id(op) in in_place:  # the fast path: written into a consumer's buffer
                env[k] = bind_out_kernel(op, xp, in_place[id(op)][0])
            elif id(op) in prebound:
                env[k] = prebound[id(op)]
            else:
                env[k] = bind_kernel(op, runtime, xp)
            refs = op.opdef.ref_inputs
            args = ", ".join(names[id(x)] for i, x in enumerate(op.inputs) if i not in refs)
            outs = []
            for t in op.outputs:
                if id(t) not in names:
                    names[id(t)] = "v%d" % len(names)
                outs.append(names[id(t)])
            call = "%s(%s)" % (k, args)
            cell = getattr(env[k], "cell", None)
            if cell is not None and len(outs) == 1:  # a variable read: no call unless unset
                env[k + "c"] = cell.read_array  # bound once: the storage protocol's read
                lines.append("        %s = %sc()" % (outs[0], k))
                lines.append("        if %s is None: %s" % (outs[0], call))
                op_index.append(op)
                owners.extend([len(op_index) - 1] * (len(lines) - len(owners)))
                continue
            if not outs:
                lines.append("        " + call)
            elif len(outs) == 1:
                lines.append("        %s = %s" % (outs[0], call))
            else:
                lines.append("        %s, = %s" % (", ".join(outs), call))
            if id(op) in in_place:
                lines[-1] += "  # into the buffer of %s" % in_place[id(op)][1]
            op_index.append(op)
            owners.extend([len(op_index) - 1] * (len(lines) - len(owners)))
        results = []
        for el in self.fetch_elements:
            if isinstance(el, Operation):
                results.append("None")
            elif (el.op.opdef.aliases or id(el.op) in constants or id(el.op) in renames) \
                    and id(el) not in {id(t) for t in self.feed_tensors}:
                results.append("_copy(%s)" % names[id(el)])  # never hand out live storage
            else:
                results.append(names[id(el)])
        feeds = "".join(names[id(t)] + ", " for t in self.feed_tensors)
        src = ["def run(feeds):"]
        if self.feed_tensors:
            src.append("    %s= feeds" % feeds)
        src.append("    try:")
        first_line = len(src) + 1  # source lines count from 1
        src.extend(lines or ["        pass"])
        src.append("    except _OpError:")
        src.append("        raise")
        src.append("    except Exception as e:")
        src.append("        _fail(e)")
        src.append("    return (%s)" % "".join(r + ", " for r in results))
        source = "\n".join(src)
        env.update(_copy=_copy, _OpError=errors.OpError,
                   _fail=functools.partial(self._fail, op_index, owners, first_line))
        exec(compile(source, "<distflow plan>", "exec"), env)
        return env["run"], source, op_index

    def _readers(self, skipped, renames):
        """How many readers each tensor has at run time (id -> count): the ops that run (an
        update's state inputs are not read), the renamed ones whose output is read (it IS
        their input under another name), and the caller."""
        readers = {}
        for el in self.fetch_elements:
            readers[id(el)] = readers.get(id(el), 0) + 1
        for op in reversed(self.ops):  # every reader of a renamed output is counted before it
            if id(op) in renames:
                if not readers.get(id(op.outputs[0])):
                    continue  # a name nobody uses (an ordering edge through an Identity)
            elif id(op) in skipped:
                continue
            refs = op.opdef.ref_inputs  # the variable updated, not a value read
            for i, x in enumerate(op.inputs):
                if i not in refs:
                    readers[id(x)] = readers.get(id(x), 0) + 1
        return readers

    def _inputs_in_place(self, runtime, xp, skipped, renames, shapes, readers, flat):
        """The zero-copy pass: ({id(op): bound kernel} for the stateful ops, bound here so that a
        kernel offering buffers for its inputs (`input_buffers`, the fused all-reduce) can
        allocate them before its producers are bound, and {id(producer): (out array, consumer
        name)} for the producers that will write into those buffers).

        A producer qualifies when it runs as an op of its own (not folded, renamed or left out),
        has a `forward_out` kernel and one output, and its output is read by the consumer alone:
        not fed, not fetched, read by no other op (the buffer changes when the consumer runs).
        The buffers are allocated now, so every input's shape must be known while compiling.
        CPU plans only: a GPU plan's kernels go through backend/gpu.py's placement wrapper."""
        prebound, in_place = {}, {}
        if xp is not np:
            return prebound, in_place
        fed = {id(t) for t in self.feed_tensors}

        def may_write(x):
            return (readers.get(id(x)) == 1 and id(x) not in fed
                    and id(x.op) not in skipped and len(x.op.outputs) == 1
                    and x.op.opdef.forward_out is not None and x.op.opdef.kernel is None
                    and not x.op.opdef.ref_inputs)

        for op in self.ops:
            if id(op) in skipped or op.opdef.kernel is None:
                continue
            kernel = prebound[id(op)] = bind_kernel(op, runtime, xp)
            offer = getattr(kernel, "input_buffers", None)
            if offer is None:
                continue
            dims = [_static_dims(x, shapes) for x in op.inputs]
            writers = [i for i, x in enumerate(op.inputs) if may_write(x)]
            if not writers or any(d is None for d in dims):
                continue
            views = offer(dims, [x.dtype.as_numpy_dtype for x in op.inputs], xp, writers)
            for i in writers:
                in_place[id(op.inputs[i].op)] = (views[i], op.name)
        # a flat update's gradients, each written into its view of the group's buffer
        for kernel, group in flat.values():
            grad_at = group[0].opdef.flat_grad % len(group[0].inputs)
            for view, op in zip(kernel.grad_views, group):
                x = op.inputs[grad_at]
                if may_write(x) and _static_dims(x, shapes) == view.shape:
                    in_place[id(x.op)] = (view, kernel.name)
        return prebound, in_place

    def _fail(self, op_index, owners, first_line, exc):
        # the failing op is the one of the line the run stopped at (no per-op bookkeeping in
        # the straight-line code: the traceback knows the line)
        line = exc.__traceback__.tb_lineno - first_line if exc.__traceback__ else -1
        op = op_index[owners[line]] if 0 <= line < len(owners) else None
        where = " [[node %s (op %s)]]" % (op.name, op.type) if op is not None else ""
        raise errors.InvalidArgumentError(None, op, "%s: %s%s" % (type(exc).__name__, exc, where)) \
            from exc


def _plan_constant(xp, value):
    """A constant as the plan holds it: on a GPU moved there once; on the CPU a 0-d number as a
    NumPy scalar, whose arithmetic with other scalars (an optimizer's step count and betas)
    costs a tenth of a ufunc call on 0-d arrays."""
    if xp is not np:
        return gpu.place_constant(xp, value)
    if type(value) is np.ndarray and not value.ndim and value.dtype.kind in "biufc":
        return value[()]
    return value


def _copy(v):
    return v.copy()


def _static_dims(t, shapes):
    """The tensor's concrete shape as a tuple (specialization's, else the graph's), or None."""
    shape = shapes.get(id(t), t.shape)
    return tuple(shape.as_list()) if shape.is_fully_defined() else None

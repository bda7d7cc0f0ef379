"""The op registry: every op is one OpDef, defined once and used by every execution mode.

An OpDef holds
  name     TF's type name (`Mul`), also the op's default node name;
  infer    (*inputs, **attrs) -> [(shape, dtype), ...]: the static shape rule used when building
           graphs; inputs carry `.shape` and `.dtype`, and `constant_value(t)` gives known values;
  forward  (xp, *arrays, **attrs) -> array or tuple: the kernel, written against NumPy or CuPy;
  grad     (op, *output_grads) -> one gradient (or None) per input, written with distflow ops so
           it builds graph nodes, runs eagerly under a tape, and can be differentiated again;
           NOT_DIFFERENTIABLE says the outputs do not change smoothly with the inputs (shapes,
           comparisons, integer results), so no gradient flows, silently; NO_GRADIENT says a
           gradient exists mathematically but is not defined here, and differentiating through
           the op raises an error that names it.
Stateful ops (variables, random numbers) add `kernel(op, runtime) -> callable`, which binds per-run
state such as a variable's storage. Ops that update a variable name the input that holds it
(`ref_input`) and may give an in-place fast path `inplace(xp, storage, *arrays)` beside `forward`.
A fused optimizer update changes several variables at once (ApplyAdam: var, m, v): its
`ref_input` is then a tuple of leading input indices, `forward` returns one new value per ref
input, and `inplace` updates all of them.
An op may also give `forward_out(xp, *arrays, out, **attrs)`: the same kernel writing its single
output into a preallocated array `out` (of the output's shape and dtype) and returning it. A plan
uses it to compute a gradient straight into the fused all-reduce buffer (client/plan.py).
And `bind(xp, out=None, **attrs) -> kernel(*arrays)`: `forward` (or, given `out`, `forward_out`)
with its attrs fixed, for a CPU plan, which calls one kernel per op and step: it may return the
NumPy function itself or the one code path the attrs choose (MatMul: `np.dot` for no transposes),
instead of passing the attrs as keywords on every call. Same values as `forward`, bit for bit
(tests/ops/test_bind.py).

Every per-op fact an executor needs is a declared field here, never a table of op names in the
executor (tests/op_check.py checks the fields of every registered op):
  host_inputs    input indices (-1: the last) read on the host as Python ints (TF's HostMemory:
                 shapes, axes, paddings): on a GPU they stay NumPy arrays (backend/gpu.py);
  effects        what the op does besides computing its outputs (EFFECTS): such an op is never
                 folded, pruned as dead, or made stateless; those in RUNS_UNREAD run even when
                 nothing reads their outputs (a cond branch, a df.function). An op with ref
                 inputs has the "state" effect without saying so;
  shape_only     the outputs depend only on the input shapes (Shape, ZerosLike): once the shapes
                 are known a plan computes them once (client/specialize.py);
  pass_through   ALWAYS: the single output is input 0 (Identity); SAME_SHAPE: it is input 0 when
                 that already has the output's shape (Reshape, SumTo);
  capturable     whether a CUDA graph may capture the op (client/cuda_graph.py): by default an op
                 with host code (`kernel`) is not, a plain `forward` is;
  variable       "session" or "eager": the output is a variable's storage (a TF1 graph Variable
                 or an eager Variable captured by a df.function);
  initializes    the update may give an uninitialized variable its first value (Assign).
"""

# the effects an op may declare
EFFECTS = frozenset(("state", "random", "print", "host", "control", "collective"))
# effects that happen only if the op runs, so it runs even when nobody reads its outputs: a
# print, Python code, a cond or loop whose branches have effects, a variable update
RUNS_UNREAD = frozenset(("print", "host", "control"))
ALWAYS, SAME_SHAPE = "always", "same_shape"


class _NotDifferentiable:
    def __repr__(self):
        return "NOT_DIFFERENTIABLE"


NOT_DIFFERENTIABLE = _NotDifferentiable()


class _NoGradient:
    def __repr__(self):
        return "NO_GRADIENT"


NO_GRADIENT = _NoGradient()


def skips_input(op, i):
    """True when the eager tape's walker said that nobody needs the gradient of input `i` of
    `op` (TF's `skip_input_indices`: the input leads to no source, or is an integer), so the
    gradient function may return None for it instead of computing it. Graph ops carry no such
    mark: their unused gradient nodes are pruned when a Session runs the graph."""
    return i in getattr(op, "skip_input_indices", ())


class OpDef:
    __slots__ = ("name", "infer", "forward", "grad", "kernel", "ref_input", "ref_inputs",
                 "inplace", "aliases", "forward_out", "flat_grad", "doc", "host_inputs",
                 "effects", "shape_only", "pass_through", "capturable", "variable",
                 "initializes", "bind")

    def __init__(self, name, infer, forward=None, grad=None, kernel=None, ref_input=None,
                 inplace=None, aliases=False, forward_out=None, flat_grad=None, doc="",
                 host_inputs=(), effects=(), shape_only=False, pass_through=None,
                 capturable=None, variable=None, initializes=False, bind=None):
        self.name = name
        self.bind = bind
        self.infer = infer
        self.forward = forward
        self.grad = grad
        self.kernel = kernel
        # ref_inputs: every input that names a variable's storage; ref_input: the first of them
        if ref_input is None:
            self.ref_inputs = ()
        elif isinstance(ref_input, int):
            self.ref_inputs = (ref_input,)
        else:
            self.ref_inputs = tuple(ref_input)
        self.ref_input = self.ref_inputs[0] if self.ref_inputs else None
        self.inplace = inplace
        self.aliases = aliases  # output may be a view of an input or of persistent state
        self.forward_out = forward_out  # optional: the kernel writing into a given `out` array
        # an elementwise variable update (`inplace` applies element by element): the index of its
        # gradient input; a plan may then run several of them as one update over flat buffers
        # (client/flat_update.py)
        self.flat_grad = flat_grad
        self.doc = doc
        self.host_inputs = tuple(host_inputs)
        effects = frozenset((effects,) if isinstance(effects, str) else effects)
        if effects - EFFECTS:
            raise ValueError("Op %r declares unknown effects %s; expected some of %s"
                             % (name, sorted(effects - EFFECTS), sorted(EFFECTS)))
        self.effects = effects | {"state"} if self.ref_inputs else effects
        self.shape_only = shape_only
        if pass_through not in (None, ALWAYS, SAME_SHAPE):
            raise ValueError("Op %r: pass_through must be None, %r or %r, got %r"
                             % (name, ALWAYS, SAME_SHAPE, pass_through))
        self.pass_through = pass_through
        self.capturable = kernel is None if capturable is None else capturable
        if variable not in (None, "session", "eager"):
            raise ValueError("Op %r: variable must be None, 'session' or 'eager', got %r"
                             % (name, variable))
        self.variable = variable
        self.initializes = initializes

    @property
    def runs_unread(self):
        """True when the op must run even if nothing reads its outputs."""
        return bool(self.ref_inputs) or not self.effects.isdisjoint(RUNS_UNREAD)

    def __repr__(self):
        return "<OpDef %s>" % self.name


# -- the in-place (copy-on-write) rule of every update op -----------------------------------------
# A variable's array may be shared: an eager Variable's read hands out its array without a copy,
# so an update may overwrite the array only while no tensor read from it is alive. The
# dispatcher (ops/dispatch.py), the plan compiler (client/plan.py, client/flat_update.py) and the
# optimizer's eager fast path (train/optimizer.py) all ask these two functions.
def private_check(holder):
    """For the storage `holder` of a variable (a state_ops.VariableStorage: an EagerVariable, a
    Session's Cell): a function telling whether its array is private now, or None when nothing
    outside ever shares it."""
    return holder.array_is_private if holder.shares_reads else None


def may_update_in_place(opdef, holders, currents, others=None):
    """True when update op `opdef` may run its `inplace` form on `currents`, the arrays of the
    variables `holders` (one per ref input): it has one, every variable holds an array whose
    storage is private, and, where no shape rule checked the call (`others`: the other inputs'
    arrays in an eager call), every other input is a scalar or has the variable's shape, all in
    its dtype (what the functional form checks). Otherwise the functional form makes new arrays
    (or gives the error)."""
    if opdef.inplace is None:
        return False
    first = currents[0]
    if first is None:
        return False
    if others is not None:  # (an optimizer's step runs this per variable: kept lean)
        shape, dtype = first.shape, first.dtype
        if len(currents) > 1:
            for a in currents:
                if a is None or a.shape != shape or a.dtype != dtype:
                    return False
        for a in others:
            if a.dtype != dtype or (a.ndim and a.shape != shape):
                return False
    for holder in holders:
        if holder.shares_reads and not holder.array_is_private():
            return False
    return True


REGISTRY = {}


def op_def(name, infer, forward=None, grad=None, **kw):
    """Defines and registers one op. `grad` is required: a function, NOT_DIFFERENTIABLE or
    NO_GRADIENT."""
    if name in REGISTRY:
        raise ValueError("Op %r is already registered" % name)
    if grad is None:
        raise ValueError("Op %r must give a gradient or say NOT_DIFFERENTIABLE or NO_GRADIENT" % name)
    if forward is None and kw.get("kernel") is None:
        raise ValueError("Op %r needs a forward kernel" % name)
    opdef = OpDef(name, infer, forward, grad, **kw)
    REGISTRY[name] = opdef
    return opdef


def get_op(name):
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError("No op named %r is registered" % name) from None

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
"""


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
                 "inplace", "aliases", "forward_out", "flat_grad", "doc")

    def __init__(self, name, infer, forward=None, grad=None, kernel=None, ref_input=None,
                 inplace=None, aliases=False, forward_out=None, flat_grad=None, doc=""):
        self.name = name
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

    def __repr__(self):
        return "<OpDef %s>" % self.name


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

"""The op-table checker: one case per op use, checked in graph and eager mode.

For each `Case` it checks
  * forward: graph mode (Session) and eager mode both match the NumPy reference;
  * shapes: the static shape and dtype inferred while building (with known input shapes, and
    again with unknown ones) are compatible with what the kernel actually returns;
  * gradient: graph `gradients()` and the eager tape both match central finite differences in
    float64, for the gradient of sum(w * output) with random weights w; the tape's compiled
    backward pass (asked the second time) equals its walker's (the first time) bit for bit;
  * second derivative (smooth ops): the gradient of the gradient matches finite differences of
    the first gradient.
It also records which registered op types each case built, so a test can demand that every
registered op is covered.
"""
import dataclasses

import numpy as np

import distflow as df
import distflow.compat.v1 as tf1
from distflow.autodiff import compiled_backward


@dataclasses.dataclass
class Case:
    name: str
    fn: object                 # distflow function of tensors -> tensor or tuple of tensors
    ref: object                # NumPy reference of arrays -> array or tuple of arrays
    inputs: list               # NumPy arrays (use float64 where gradients are checked)
    grad: bool = True          # check first derivatives w.r.t. the float inputs
    second: bool = False       # also check second derivatives
    wrt: tuple = None          # indices of inputs to differentiate (default: every float input)
    rtol: float = 1e-6
    atol: float = 1e-6
    grad_tol: float = 1e-5     # tolerance of the finite-difference comparison
    eps: float = 1e-6
    compiled: bool = True      # the tape's backward pass compiles (False: an op with a kernel,
                               # such as a collective, which compiled_backward leaves to the walker)
    unknown_shape: bool = False  # the op's outputs have no static shape (tf.py_function's)

    def __repr__(self):
        return self.name


def as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def float_inputs(case):
    if case.wrt is not None:
        return list(case.wrt)
    return [i for i, a in enumerate(case.inputs) if np.asarray(a).dtype.kind == "f"]


def run_graph(case, known_shapes=True):
    """Builds the case in a fresh graph; returns (outputs, static specs, op types built)."""
    g = tf1.Graph()
    with g.as_default():
        phs = [tf1.placeholder(df.as_dtype(np.asarray(a).dtype),
                               shape=np.shape(a) if known_shapes else None)
               for a in case.inputs]
        outs = as_tuple(case.fn(*phs))
        specs = [(o.shape, o.dtype) for o in outs]
        with tf1.Session(graph=g) as s:
            values = s.run(list(outs), dict(zip(phs, case.inputs)))
    return values, specs, {op.type for op in g.get_operations()}


def run_eager(case):
    outs = as_tuple(case.fn(*[df.constant(a) for a in case.inputs]))
    return [o.numpy() for o in outs]


def check_forward(case):
    expected = [np.asarray(e) for e in as_tuple(case.ref(*case.inputs))]
    for known in (True, False):
        values, specs, _ = run_graph(case, known)
        assert len(values) == len(expected)
        for v, e, (shape, dtype) in zip(values, expected, specs):
            v = np.asarray(v)
            assert v.shape == e.shape, "%s: graph shape %s, expected %s" % (case.name, v.shape, e.shape)
            np.testing.assert_allclose(v, e, rtol=case.rtol, atol=case.atol, err_msg=case.name)
            assert shape.is_compatible_with(v.shape), \
                "%s: inferred %s but got %s (known input shapes: %s)" % (case.name, shape, v.shape, known)
            if known:
                assert shape.is_fully_defined() or _data_dependent(shape, v.shape) or \
                    case.unknown_shape, \
                    "%s: inferred %s from fully known inputs" % (case.name, shape)
            assert dtype == df.as_dtype(v.dtype), \
                "%s: inferred dtype %s, kernel gave %s" % (case.name, dtype.name, v.dtype)
    eager = run_eager(case)
    for v, e in zip(eager, expected):
        assert np.asarray(v).shape == e.shape, case.name
        np.testing.assert_allclose(v, e, rtol=case.rtol, atol=case.atol, err_msg=case.name + " (eager)")


def _data_dependent(shape, actual):
    # Ops like setdiff1d may leave a size unknown even when the inputs are known.
    return shape.rank == len(actual)


def _weights(case):
    rng = np.random.RandomState(0)
    return [rng.uniform(0.5, 1.5, np.shape(e)).astype(np.float64)
            for e in as_tuple(case.ref(*case.inputs))]


def _objective_np(case, inputs, weights):
    outs = as_tuple(case.ref(*inputs))
    return sum(float(np.sum(w * np.asarray(o, np.float64))) for w, o in zip(weights, outs)
               if np.asarray(o).dtype.kind == "f")


def numeric_grad(case, weights, index):
    x = np.array(case.inputs[index], dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        for sign in (1, -1):
            xs = list(case.inputs)
            xp = x.copy()
            xp[i] += sign * case.eps
            xs[index] = xp
            grad[i] += sign * _objective_np(case, xs, weights)
        grad[i] /= 2 * case.eps
    return grad


def _objective(case, tensors, weights):
    outs = as_tuple(case.fn(*tensors))
    terms = [df.reduce_sum(o * w) for o, w in zip(outs, weights) if o.dtype.is_floating]
    return df.add_n(terms) if len(terms) > 1 else terms[0]


def graph_grads(case, weights):
    g = tf1.Graph()
    with g.as_default():
        xs = [tf1.placeholder(df.as_dtype(np.asarray(a).dtype), shape=np.shape(a)) for a in case.inputs]
        grads = tf1.gradients(_objective(case, xs, weights), [xs[i] for i in float_inputs(case)])
        with tf1.Session(graph=g) as s:
            feed = dict(zip(xs, case.inputs))
            return [None if gr is None else s.run(gr, feed) for gr in grads]


def _tape_grads(case, weights):
    xs = [df.constant(a) for a in case.inputs]
    sources = [xs[i] for i in float_inputs(case)]
    with df.GradientTape() as tape:
        tape.watch(sources)
        y = _objective(case, xs, weights)
    return [None if g is None else g.numpy() for g in tape.gradient(y, sources)]


def eager_grads(case, weights):
    """The tape's gradients through the walker (the first time a backward pass of this form is
    asked for), then through its compiled plan (the second time: autodiff/compiled_backward.py),
    which must agree with the walker to the last bit."""
    compiled_backward._cache.clear()  # room for this case's form (the cache has a bound)
    compiled_backward._seen.clear()
    first = _tape_grads(case, weights)
    before = compiled_backward.served["compiled"]
    second = _tape_grads(case, weights)
    if case.compiled and any(g is not None for g in first):  # else nothing to compile
        assert compiled_backward.served["compiled"] == before + 1, \
            "%s: the second tape.gradient did not run compiled" % case.name
    for i, (a, b) in enumerate(zip(first, second)):
        assert (a is None) == (b is None), "%s: input %d connected in one path only" % (case.name, i)
        if a is not None:
            np.testing.assert_array_equal(b, a, err_msg="%s: compiled backward, input %d"
                                          % (case.name, i))
    return first


def check_gradient(case):
    weights = _weights(case)
    for mode, grads in (("graph", graph_grads(case, weights)), ("eager", eager_grads(case, weights))):
        for index, got in zip(float_inputs(case), grads):
            want = numeric_grad(case, weights, index)
            got = np.zeros_like(want) if got is None else np.asarray(got)
            assert got.shape == want.shape, "%s (%s): gradient shape %s, expected %s" % (
                case.name, mode, got.shape, want.shape)
            np.testing.assert_allclose(got, want, rtol=case.grad_tol, atol=case.grad_tol,
                                       err_msg="%s: %s gradient of input %d" % (case.name, mode, index))


def check_second_derivative(case):
    """d/dx_j of sum(v * d(objective)/dx_i), against finite differences of the first gradient."""
    weights = _weights(case)
    idx = float_inputs(case)
    rng = np.random.RandomState(1)
    vs = [rng.uniform(0.5, 1.5, np.shape(case.inputs[i])) for i in idx]

    def first_grad_dot(inputs):
        xs = [df.constant(a) for a in inputs]
        srcs = [xs[i] for i in idx]
        with df.GradientTape() as tape:
            tape.watch(srcs)
            y = _objective(case, xs, weights)
        gs = tape.gradient(y, srcs)
        return sum(float(np.sum(v * (0 if g is None else g.numpy()))) for v, g in zip(vs, gs))

    # eager: nested tapes
    xs = [df.constant(a) for a in case.inputs]
    srcs = [xs[i] for i in idx]
    with df.GradientTape() as outer:
        outer.watch(srcs)
        with df.GradientTape() as inner:
            inner.watch(srcs)
            y = _objective(case, xs, weights)
        gs = inner.gradient(y, srcs)
        dot = df.add_n([df.reduce_sum(g * v) for g, v in zip(gs, vs) if g is not None])
    second = outer.gradient(dot, srcs)
    # graph: gradients of gradients
    g = tf1.Graph()
    with g.as_default():
        phs = [tf1.placeholder(df.float64, shape=np.shape(a)) if np.asarray(a).dtype == np.float64
               else tf1.placeholder(df.as_dtype(np.asarray(a).dtype), shape=np.shape(a))
               for a in case.inputs]
        psrc = [phs[i] for i in idx]
        g1 = tf1.gradients(_objective(case, phs, weights), psrc)
        d = tf1.add_n([tf1.reduce_sum(a * v) for a, v in zip(g1, vs) if a is not None])
        g2 = tf1.gradients(d, psrc)
        with tf1.Session(graph=g) as s:
            graph_second = [None if t is None else s.run(t, dict(zip(phs, case.inputs))) for t in g2]
    for k, i in enumerate(idx):
        x = np.array(case.inputs[i], dtype=np.float64)
        want = np.zeros_like(x)
        for j in np.ndindex(x.shape):
            plus, minus = list(case.inputs), list(case.inputs)
            xp, xm = x.copy(), x.copy()
            xp[j] += 1e-5
            xm[j] -= 1e-5
            plus[i], minus[i] = xp, xm
            want[j] = (first_grad_dot(plus) - first_grad_dot(minus)) / 2e-5
        for mode, got in (("eager", second[k]), ("graph", graph_second[k])):
            got = np.zeros_like(want) if got is None else np.asarray(got)
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4,
                                       err_msg="%s: %s second derivative, input %d" % (case.name, mode, i))


def ops_built(case):
    return run_graph(case)[2]


def check_graph_gradient_with_unknown_dims(case):
    """Graph gradients when placeholders know only their ranks: the gradient functions must build
    their shapes at run time (shape ops) instead of from static shapes."""
    weights = _weights(case)
    g = tf1.Graph()
    with g.as_default():
        xs = [tf1.placeholder(df.as_dtype(np.asarray(a).dtype), shape=[None] * np.ndim(a))
              for a in case.inputs]
        grads = tf1.gradients(_objective(case, xs, weights), [xs[i] for i in float_inputs(case)])
        with tf1.Session(graph=g) as s:
            values = [None if gr is None else s.run(gr, dict(zip(xs, case.inputs)))
                      for gr in grads]
    for index, got in zip(float_inputs(case), values):
        want = numeric_grad(case, weights, index)
        got = np.zeros_like(want) if got is None else got  # no gradient: zero, as check_gradient
        np.testing.assert_allclose(got, want, rtol=case.grad_tol, atol=case.grad_tol,
                                   err_msg="%s: input %d" % (case.name, index))


def op_types_built(case):
    """The op types a case builds: its forward graph, and its first (and second) derivatives."""
    types = set(ops_built(case))
    if not case.grad:
        return types
    g = tf1.Graph()
    with g.as_default():
        xs = [tf1.placeholder(df.as_dtype(np.asarray(a).dtype), shape=np.shape(a))
              for a in case.inputs]
        sources = [xs[i] for i in float_inputs(case)]
        grads = tf1.gradients(_objective(case, xs, _weights(case)), sources)
        if case.second:
            tf1.gradients([df.reduce_sum(gr) for gr in grads if gr is not None], sources)
    return types | {op.type for op in g.get_operations()}


def table_tests(cases):
    """The op-table tests of one table module, parametrized over its cases:

        (test_forward_and_shapes, test_gradient, test_graph_gradient_with_unknown_dims,
         test_second_derivative) = table_tests(CASES)
    """
    import pytest

    @pytest.mark.parametrize("case", cases, ids=repr)
    def test_forward_and_shapes(case):
        check_forward(case)

    @pytest.mark.parametrize("case", [c for c in cases if c.grad], ids=repr)
    def test_gradient(case):
        check_gradient(case)

    @pytest.mark.parametrize("case", [c for c in cases if c.grad], ids=repr)
    def test_graph_gradient_with_unknown_dims(case):
        check_graph_gradient_with_unknown_dims(case)

    @pytest.mark.parametrize("case", [c for c in cases if c.second], ids=repr)
    def test_second_derivative(case):
        check_second_derivative(case)

    return (test_forward_and_shapes, test_gradient, test_graph_gradient_with_unknown_dims,
            test_second_derivative)


# -- the declared fields of every op -------------------------------------------------------------
def contract_problems(opdef):
    """The inconsistencies among one OpDef's declared fields (an empty list when none): what
    every executor relies on when it reads them instead of the op's name."""
    import inspect

    from distflow.ops import registry
    bad = []
    name = opdef.name
    if not opdef.effects <= registry.EFFECTS:
        bad.append("%s: unknown effects %s" % (name, sorted(opdef.effects - registry.EFFECTS)))
    if opdef.ref_inputs and "state" not in opdef.effects:
        bad.append("%s updates a variable but has no 'state' effect" % name)
    if opdef.variable and ("state" not in opdef.effects or opdef.ref_inputs):
        bad.append("%s holds a variable's storage: it must read state and update none" % name)
    if opdef.initializes and not (opdef.ref_inputs and opdef.inplace):
        bad.append("%s initializes a variable but updates none in place" % name)
    if opdef.inplace is not None and not opdef.ref_inputs:
        bad.append("%s has an in-place form but no ref input" % name)
    if opdef.flat_grad is not None and opdef.inplace is None:
        bad.append("%s joins a flat update without an in-place form" % name)
    pure = opdef.kernel is None and opdef.forward is not None and not opdef.effects
    if (opdef.shape_only or opdef.pass_through) and not pure:
        bad.append("%s is folded or renamed by a plan, so it must be pure" % name)
    if opdef.kernel is not None and opdef.capturable and not (opdef.variable or
                                                              opdef.kernel.__name__ ==
                                                              "_placeholder_kernel"):
        bad.append("%s runs host code but says a CUDA graph may capture it" % name)
    if opdef.host_inputs:
        params = inspect.signature(opdef.infer).parameters.values()
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        varargs = any(p.kind is p.VAR_POSITIONAL for p in params)
        for i in opdef.host_inputs:
            if not (varargs or -len(positional) <= i < len(positional)):
                bad.append("%s: host input %d is not one of its %d inputs"
                           % (name, i, len(positional)))
    return bad

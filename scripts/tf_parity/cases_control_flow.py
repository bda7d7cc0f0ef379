"""tf.cond and tf.while_loop: eager, inside tf.function (with tape gradients), and TF1 graphs
(values, gradients, names, op types, side effects of the taken branch only, errors)."""
import numpy as np

from harness import both, check, same

R = np.random.RandomState(3)
X = R.uniform(0.5, 1.5, (3,)).astype(np.float32)
NEG = -X


def _message(e):
    return str(e).splitlines()[0] if str(e) else ""


def norm(x):
    if isinstance(x, BaseException):
        return ("raises", type(x).__name__, _message(x))
    if isinstance(x, (list, tuple)):
        return [norm(v) for v in x]
    if isinstance(x, dict):
        return {k: norm(v) for k, v in x.items()}
    if isinstance(x, (np.ndarray, np.generic)):
        return np.round(np.asarray(x, np.float64), 5).tolist()
    return x


def g(case, fn, what="result"):
    a, b = both(fn)
    same(case, what, norm(a), norm(b))


def _fn(m, f):
    return m.function(f, autograph=False)  # the same Python runs on both sides


# -- eager ---------------------------------------------------------------------------------------
def _pick(m, x):
    return m.cond(m.reduce_sum(x) > 0, lambda: x * x + 1.0, lambda: m.sin(x) * x)


def _power(m, x):
    return m.while_loop(lambda i, p: i < 3, lambda i, p: (i + 1, p * x), [0, m.ones_like(x)])[1]


def _capped(m, x):
    return m.while_loop(lambda i, s: i < 100, lambda i, s: (i + 1, s + x),
                        (m.constant(0), m.zeros_like(x)), maximum_iterations=4)


def _nested(m, x):
    s = m.reduce_sum(x)
    return m.cond(s > 0, lambda: m.cond(s > 2.5, lambda: x * 3.0, lambda: x * x),
                  lambda: m.exp(x))


for sign, data in (("then", X), ("else", NEG)):
    check("cond/eager %s" % sign, _pick, [data], grad=True)
    check("cond/tf.function %s" % sign, lambda m, x: _fn(m, lambda x: _pick(m, x))(x),
          [data], grad=True)
    check("cond/nested in tf.function %s" % sign,
          lambda m, x: _fn(m, lambda x: _nested(m, x))(x), [data], grad=True)
check("cond/nested in tf.function inner else",
      lambda m, x: _fn(m, lambda x: _nested(m, x))(x), [X * 0.5], grad=True)
check("cond/eager python pred", lambda m, x: m.cond(False, lambda: x, lambda: x * 2.0), [X])
check("cond/eager structure", lambda m, x: m.cond(x[0] > 0, lambda: (x, [x * 2.0]),
                                                  lambda: (x, [x])), [X], grad=True)
check("while/eager power", _power, [X], grad=True)
check("while/tf.function power", lambda m, x: _fn(m, lambda x: _power(m, x))(x), [X],
      grad=True)
check("while/eager maximum_iterations", _capped, [X], grad=True, wrt=[0])
check("while/tf.function maximum_iterations",
      lambda m, x: _fn(m, lambda x: _capped(m, x))(x), [X], grad=True, wrt=[0])
check("while/tf.function int loop", lambda m, n: _fn(m, lambda n: m.while_loop(
    lambda i, a: i < n, lambda i, a: (i + 1, a * 2), [0, 1]))(n), [np.int32(5)])


# -- TF1 graphs ----------------------------------------------------------------------------------
def _cond_graph(m):
    x = m.placeholder(m.float32, [3])
    p = m.placeholder(m.bool, [])
    y = m.cond(p, lambda: x * x, lambda: m.sin(x))
    dx, = m.gradients(m.reduce_sum(y * y), x)
    with m.Session() as s:
        return [s.run([y, dx], {x: X, p: True}), s.run([y, dx], {x: X, p: False}),
                y.name, dx.name, y.shape.as_list(), y.op.inputs[0].op.type]


g("cond/graph values, gradients, names", _cond_graph)


def _assign_in_branch(m):
    v = m.Variable(1.0)
    p = m.placeholder(m.bool, [])
    out = m.cond(p, lambda: m.assign_add(v, 5.0), lambda: m.identity(v * 10.0))
    with m.Session() as s:
        s.run(m.global_variables_initializer())
        r = [s.run(out, {p: False}), s.run(v)]
        r += [s.run(out, {p: True}), s.run(v), s.run(out, {p: False}), s.run(v)]
    return r + [out.op.inputs[0].op.type]


g("cond/graph assign only in the taken branch", _assign_in_branch)


def _failing_branch(m):
    x = m.placeholder(m.float32, [3])
    i = m.placeholder(m.int32, [])
    y = m.cond(i < 3, lambda: m.gather(x, i), lambda: m.constant(-1.0))
    z = m.cond(i < 3, lambda: m.constant(0.0), lambda: m.gather(x, i))
    with m.Session() as s:
        out = [s.run(y, {x: X, i: 1}), s.run(y, {x: X, i: 7}), s.run(z, {x: X, i: 1})]
        try:
            s.run(z, {x: X, i: 7})
        except Exception as e:  # noqa: BLE001
            out.append(type(e).__name__)
    return out


g("cond/graph error only when taken", _failing_branch)


def _nested_graph(m):
    x = m.placeholder(m.float32, [3])
    s_ = m.reduce_sum(x)
    y = m.cond(s_ > 0, lambda: m.cond(s_ > 2.5, lambda: x * 3.0, lambda: x * x),
               lambda: m.exp(x))
    dx, = m.gradients(y, x)
    with m.Session() as s:
        return [s.run([y, dx], {x: v}) for v in (X, X * 0.5, NEG)] + [y.name]


g("cond/graph nested", _nested_graph)


def _shapes(m):
    p = m.placeholder(m.bool, [])
    a = m.placeholder(m.float32, [3])
    b = m.placeholder(m.float32, [None])
    return [m.cond(p, lambda: a, lambda: b).shape.as_list(),
            m.cond(p, lambda: a, lambda: a * 2.0).shape.as_list(),
            m.cond(p, lambda: [a], lambda: [a]).name,
            [t.name for t in m.cond(p, lambda: (a, a), lambda: (a, a), name="pair")]]


g("cond/graph shapes and singletons", _shapes)


def _cond_error(fn):
    def build(m):
        p = m.placeholder(m.bool, [])
        x = m.placeholder(m.float32, [3])
        return fn(m, p, x)
    return build


g("cond/error dtypes differ", _cond_error(
    lambda m, p, x: m.cond(p, lambda: x, lambda: m.cast(x, m.float64))))
g("cond/error dict keys differ", _cond_error(
    lambda m, p, x: m.cond(p, lambda: {"a": x}, lambda: {"b": x})))
g("cond/error list and tuple", _cond_error(
    lambda m, p, x: m.cond(p, lambda: [x, x], lambda: (x, x))))
g("cond/error python bool", _cond_error(lambda m, p, x: m.cond(True, lambda: x, lambda: x)))
g("cond/error false_fn missing", _cond_error(lambda m, p, x: m.cond(p, lambda: x)))
g("cond/error number of outputs", _cond_error(
    lambda m, p, x: m.cond(p, lambda: (x, x), lambda: (x, x, x))))


def _while_graph(m):
    x = m.placeholder(m.float32, [3])
    i, p = m.while_loop(lambda i, p: i < 4, lambda i, p: (i + 1, p * x), [m.constant(0), x])
    one = m.while_loop(lambda v: v < 10.0, lambda v: v * 2.0, [m.constant(1.0)])
    capped = m.while_loop(lambda k: k < 100, lambda k: k + 3, [m.constant(0)],
                          maximum_iterations=5)
    dx, = m.gradients(m.reduce_sum(p), x)
    with m.Session() as s:
        return [s.run([i, p, dx, one, capped], {x: X}), p.name, one.name, capped.name,
                p.op.inputs[0].op.type]


g("while/graph values, gradient, names", _while_graph)


def _invariants(m):
    x = m.placeholder(m.float32, [3])
    _, y = m.while_loop(lambda i, y: i < 2, lambda i, y: (i + 1, m.concat([y, y], 0)),
                        (m.constant(0), x),
                        shape_invariants=(m.TensorShape([]), m.TensorShape([None])))
    dx, = m.gradients(y, x)
    with m.Session() as s:
        return [y.shape.as_list(), s.run([y, dx], {x: X})]


g("while/graph shape_invariants", _invariants)


def _assign_in_body(m):
    v = m.Variable(0.0)

    def body(i):
        with m.control_dependencies([m.assign_add(v, 2.0)]):
            return i + 1
    n = m.while_loop(lambda i: i < 4, body, [m.constant(0)])
    with m.Session() as s:
        s.run(m.global_variables_initializer())
        return [s.run(n), s.run(v)]


g("while/graph assign in the body", _assign_in_body)
g("while/error shape changes", lambda m: m.while_loop(
    lambda i, y: i < 2, lambda i, y: (i + 1, m.concat([y, y], 0)),
    (m.constant(0), m.placeholder(m.float32, [3]))))
g("while/error dtype changes", lambda m: m.while_loop(
    lambda a: a < 5, lambda a: m.cast(a, m.float32), [m.constant(0)]))

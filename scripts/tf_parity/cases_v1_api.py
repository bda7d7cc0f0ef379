"""TF1 names added for course programs: get_variable / variable_scope, the initializer objects,
tf.assign*, placeholder_with_default, the to_* casts, the initializer aliases, tf.Print and
tf.print. Graph cases run with TF's resource variables disabled (TF1's reference variables),
see cases_graph.py; printed text is captured at the file descriptor, where TF's C++ writes it.
"""
import os
import sys
import tempfile

import numpy as np
import tensorflow as tf

import distflow as df
from harness import both, same

tv1 = tf.compat.v1
_PREAMBLE = ("Graph execution error", "Detected at node", "Node:", "Original stack trace")


def _message(e):
    for line in str(e).splitlines():
        if line.strip() and not line.startswith((" ", "\t")) and not line.startswith(_PREAMBLE):
            return line.split(" for '{{node ")[0]  # TF's shape errors end naming the NodeDef
    return ""


def norm(x):
    if isinstance(x, BaseException):
        return ("raises", type(x).__name__, _message(x))
    if isinstance(x, (np.ndarray, np.generic)):
        a = np.asarray(x)
        return (a.dtype.name, np.round(a, 5).tolist() if a.dtype.kind == "f" else a.tolist())
    if isinstance(x, (list, tuple)):
        return type(x)(norm(v) for v in x)
    return x


def g(case, fn, what="result"):
    """A TF1 graph case with reference variables on the TF side."""
    tv1.disable_resource_variables()
    try:
        a, b = both(fn)
    finally:
        tv1.enable_resource_variables()
    same(case, what, norm(a), norm(b))


def captured(fd, fn):
    """(fn(), what was written to file descriptor `fd` meanwhile), from Python or C++."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as f:
        os.dup2(f.fileno(), fd)
        try:
            result = fn()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
        f.seek(0)
        return result, f.read().decode()


def init_run(m, fetches, feed=None):
    with m.Session() as s:
        s.run(m.global_variables_initializer())
        return s.run(fetches, feed)


def op_names(m, prefix):
    return sorted(o.name for o in m.get_default_graph().get_operations()
                  if o.name.startswith(prefix))


# -- get_variable and variable_scope ---------------------------------------------------------
def _scoped_names(m):
    out = []
    with m.variable_scope("foo") as s:
        v = m.get_variable("v", [2, 3])
        out += [s.name, s.original_name_scope, v.name, str(v.shape), repr(v), (v + 1.0).name]
        with m.variable_scope("bar"):
            out += [m.get_variable("w", [1], dtype=m.int32).name, m.constant(1).name]
    with m.variable_scope("foo", reuse=True) as s:
        out += [m.get_variable("v") is v, m.multiply(v, 2.0).name, s.original_name_scope,
                m.get_variable_scope().reuse]
    with m.variable_scope(s):
        out.append(m.constant(0).name)
    for _ in range(2):
        with m.variable_scope(None, default_name="dense") as d:
            out += [d.name, m.get_variable("k", [1]).name, m.constant(0).name]
    out.append(op_names(m, "foo/v"))
    out.append(op_names(m, "foo/bar/w"))
    return out


g("variable_scope/names", _scoped_names)


def _reuse_modes(m):
    out = []

    def layer():
        with m.variable_scope("layer", reuse=m.AUTO_REUSE):
            return m.get_variable("w", [3], initializer=m.ones_initializer())
    out.append(layer() is layer())
    with m.variable_scope("net") as scope:
        a = m.get_variable("a", [1])
        scope.reuse_variables()
        out += [m.get_variable("a") is a, m.get_variable_scope().reuse]
        with m.variable_scope("inner"):
            out.append(m.get_variable_scope().reuse)
    out += [m.get_variable_scope().name, m.get_variable_scope().reuse]
    out.append(len(m.global_variables()))
    return out


g("variable_scope/reuse modes", _reuse_modes)


def _error(fn):
    def case(m):
        try:
            fn(m)
        except Exception as e:  # noqa: BLE001
            return type(e).__name__, _message(e)
        return "no error"
    return case


def _twice(m):
    for _ in range(2):
        with m.variable_scope("foo"):
            m.get_variable("v", [1])


def _missing(m):
    with m.variable_scope("foo", reuse=True):
        m.get_variable("v", [1])


def _wrong_shape(m):
    with m.variable_scope("foo"):
        m.get_variable("v", [1])
    with m.variable_scope("foo", reuse=True):
        m.get_variable("v", [2])


def _wrong_dtype(m):
    with m.variable_scope("foo"):
        m.get_variable("v", [1])
    with m.variable_scope("foo", reuse=True):
        m.get_variable("v", [1], dtype=m.float64)


g("errors/already exists", _error(_twice))
g("errors/does not exist", _error(_missing))
g("errors/shape on reuse", _error(_wrong_shape))
g("errors/dtype on reuse", _error(_wrong_dtype))
g("errors/no shape", _error(lambda m: m.get_variable("q")))
g("errors/constant and shape", _error(lambda m: m.get_variable("q", [2], initializer=m.constant(
    [1.0, 2.0]))))
g("errors/bad reuse", _error(lambda m: m.variable_scope("x", reuse="yes")))
g("errors/reuse with default name", _error(lambda m: m.variable_scope(
    None, default_name="d", reuse=True).__enter__()))
g("errors/initializer dtype", _error(lambda m: m.get_variable("q", initializer=[1, 2],
                                                              dtype=m.float32)))


# -- initializer objects ----------------------------------------------------------------------
def _initializers(m):
    inits = [m.zeros_initializer(), m.ones_initializer(), m.constant_initializer(3),
             m.random_normal_initializer(), m.truncated_normal_initializer(),
             m.random_uniform_initializer(), m.glorot_uniform_initializer(),
             m.glorot_normal_initializer(), m.initializers.zeros(), m.initializers.ones()]
    return [(t.name, str(t.shape), t.dtype.name) for t in (i([2, 3]) for i in inits)]


g("initializers/names shapes dtypes", _initializers)


def _initializer_values(m):
    vs = [m.get_variable("z", [2], initializer=m.zeros_initializer()),
          m.get_variable("o", [2], dtype=m.float64, initializer=m.ones_initializer()),
          m.get_variable("c", [2, 2], initializer=m.constant_initializer([1, 2, 3, 4])),
          m.get_variable("i", [3], dtype=m.int32),
          m.get_variable("t", initializer=m.constant([1, 2])),
          m.get_variable("l", initializer=[1.5, 2.5])]
    return [v.dtype.base_dtype.name for v in vs] + list(init_run(m, vs))  # TF1: float32_ref


g("initializers/deterministic values", _initializer_values)


def _initializer_statistics(m):
    m.set_random_seed(1)
    g_ = m.get_variable("g", [100, 200])                        # glorot_uniform by default
    gn = m.get_variable("gn", [200, 100], initializer=m.glorot_normal_initializer())
    u = m.get_variable("u", [5000], initializer=m.random_uniform_initializer(-1.0, 3.0))
    n = m.get_variable("n", [5000], initializer=m.random_normal_initializer(1.0, 2.0))
    tn = m.get_variable("tn", [5000], initializer=m.truncated_normal_initializer(0.0, 0.5))
    gv, gnv, uv, nv, tv = init_run(m, [g_, gn, u, n, tn])
    return [round(float(np.abs(gv).max()), 2), round(float(gnv.std()), 2),
            round(float(uv.min()), 1), round(float(uv.max()), 1), round(float(nv.mean()), 0),
            round(float(nv.std()), 1), bool(np.abs(tv).max() < 1.0), round(float(tv.std()), 2)]


g("initializers/distributions", _initializer_statistics)


# -- assign, placeholder_with_default, casts, initializer aliases -----------------------------
def _assigns(m):
    v = m.Variable([1.0, 2.0])
    a, add, sub = (m.assign(v, [5.0, 6.0]), m.assign_add(v, [1.0, 1.0]),
                   m.assign_sub(v, [0.5, 0.5], name="down"))
    names = [(t.name, t.op.type, str(t.shape)) for t in (a, add, sub)]
    with m.Session() as s:
        s.run(v.initializer)
        return names + [s.run(a), s.run(add), s.run(sub), s.run(v)]


g("assign/names and values", _assigns)
g("assign/shape error", _error(lambda m: m.assign(m.Variable([1.0, 2.0]), [1.0, 2.0, 3.0])))


def _placeholder_with_default(m):
    p = m.placeholder_with_default([1.0, 2.0], shape=[None])
    y = p * 2.0
    # TF 2.21 prints shapes as (None,) and its feed error without quotes; TF1 (and distflow)
    # say (?,) and quote: compared as lists, and the error by class
    out = [p.name, p.op.type, p.shape.as_list(), p.op.inputs[0].name]
    with m.Session() as s:
        out += [s.run(y), s.run(y, {p: [1.0, 2.0, 3.0]})]
        try:
            s.run(y, {p: [[1.0]]})
        except ValueError as e:
            out.append(str(e).startswith("Cannot feed value of shape (1, 1) for Tensor"))
    return out


g("placeholder_with_default/values", _placeholder_with_default)
g("placeholder_with_default/shape error", _error(
    lambda m: m.placeholder_with_default([1.0, 2.0], shape=[3])))
g("placeholder_with_default/gradient", lambda m: init_run(m, m.gradients(
    m.reduce_sum(m.placeholder_with_default(m.constant([1.0, 2.0]), [2]) ** 2),
    [m.get_default_graph().get_operations()[0].outputs[0]])))
g("casts/names dtypes values", lambda m: [
    (t.name, t.dtype.name) for t in (m.to_float(m.constant([1, 2])), m.to_int32(m.constant(1.7)),
                                     m.to_int64(m.constant(1.7)), m.to_double(m.constant(1)))]
    + [init_run(m, m.to_int32(m.constant([1.7, -2.2])))])


def _init_aliases(m):
    v = m.Variable(1.0)
    ops = [m.global_variables_initializer(), m.local_variables_initializer(),
           m.initialize_all_variables(), m.initializers.local_variables()]
    ready = m.is_variable_initialized(v)
    out = [o.name for o in ops] + [ops[1].type, ready.name, ready.dtype.name, str(ready.shape)]
    with m.Session() as s:
        out.append(bool(s.run(ready)))
        s.run(ops[2])
        out.append(bool(s.run(ready)))
    return out


g("initializer aliases and is_variable_initialized", _init_aliases)


# -- tf.Print and tf.print --------------------------------------------------------------------
def _tf1_print(m):
    x = m.constant([[1.5, 2.0], [0.1, 4.0]])
    y = m.Print(x, [x, m.constant(7), m.constant(True), m.constant(3.1415927)], message="x: ",
                first_n=2)
    z = m.Print(m.constant(1.0), [m.range(10)], summarize=4)
    grad = m.gradients(m.reduce_sum(y * y), [x])[0]

    def go():
        with m.Session() as s:
            return [s.run(y) for _ in range(3)][-1], s.run(z), s.run(grad)
    values, text = captured(2, go)
    return [y.name, y.op.type, str(y.shape), values, text]


g("Print/output and text", _tf1_print)


def _graph_print(m):
    v = m.Variable([1, 2])
    op = m.print("v:", v, {"b": 2, "a": m.constant([0.5])}, [3, "s"], m.range(10),
                 m.zeros([2, 2]), output_stream=sys.stdout)

    def go():
        with m.Session() as s:
            s.run(v.initializer)
            return s.run(op)
    result, text = captured(1, go)
    return [op.type, result, text]


g("print/graph op", _graph_print)


def _eager_prints(m):
    def go():
        m.print("eager", m.constant([[1, 2], [3, 4]]), 0.5, m.constant(0.1), m.constant(True),
                output_stream=sys.stdout)
        m.print(m.constant(1e-8), m.constant(123456789.0), m.constant([1e10, -0.0]), sep="|",
                end="!\n", output_stream=sys.stdout)
        m.print(m.zeros([2, 3, 2]), m.constant([[1., 2., 3., 4., 5., 6., 7.]]), summarize=2,
                output_stream=sys.stdout)

        @m.function
        def f(x):
            m.print("in f", x, output_stream=sys.stdout)
            return x * 2
        return [int(f(m.constant(3))), int(f(m.constant(4)))]
    return captured(1, go)


a, b = _eager_prints(df), _eager_prints(tf)
same("print/eager and tf.function", "result", a, b)


# -- a course program: shared layer through reuse, tf.assign, training -------------------------
def _course_program(m):
    x = m.placeholder(m.float32, [None, 1])
    y = m.placeholder(m.float32, [None, 1])

    def linear(inputs):
        with m.variable_scope("linear", reuse=m.AUTO_REUSE):
            w = m.get_variable("w", [1, 1], initializer=m.zeros_initializer())
            b = m.get_variable("b", [1], initializer=m.zeros_initializer())
            return m.matmul(inputs, w) + b

    loss = m.reduce_mean(m.square(linear(x) - y))
    pred = linear(x)
    train = m.train.GradientDescentOptimizer(0.1).minimize(loss)
    with m.variable_scope("linear", reuse=True):
        set_b = m.assign(m.get_variable("b"), [1.0])
    xs = np.arange(8, dtype=np.float32).reshape(-1, 1) / 8
    ys = 3 * xs + 1
    with m.Session() as s:
        s.run(m.global_variables_initializer())
        out = [s.run(set_b)]
        for _ in range(200):
            s.run(train, {x: xs, y: ys})
        out += s.run(["linear/w:0", "linear/b:0", loss], {x: xs, y: ys})
        out.append(s.run(pred, {x: [[1.0]]}))
    return [v.name for v in m.trainable_variables()] + [pred.name, loss.name] + out


g("course program", _course_program)

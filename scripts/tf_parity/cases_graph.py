"""TF1 graph mode and TF2 user-visible behaviour: names, printing, Session, variables, tapes.

Graph cases run the same text with `distflow.compat.v1` and `tensorflow.compat.v1` (each in a
fresh default Graph, see harness.both) and compare what a user sees: names, printed strings,
fetched values, and error classes with the first line of their messages.

TF 2.21 builds resource variables by default, even in compat.v1 graphs; TF 1.x programs got
reference variables (`float32_ref`, `Variable/read`). `both_ref` runs the TF side with
resource variables disabled, which is what a TF1 course program saw.
"""
import collections

import numpy as np
import tensorflow as tf

import distflow as df
from harness import both, same

tv1 = tf.compat.v1


# -- helpers -----------------------------------------------------------------------------------
_PREAMBLE = ("Graph execution error", "Detected at node", "Node:", "Original stack trace")


def _message(e):
    """The first line a user reads; TF 2.21's OpErrors prepend 'Graph execution error' and a
    node/stack preamble, which are dropped so the TF1 message underneath is compared."""
    for line in str(e).splitlines():
        if line.strip() and not line.startswith((" ", "\t")) and not line.startswith(_PREAMBLE):
            return line
    return ""


def norm(x):
    """A comparable picture of a result: values with their Python/NumPy type, errors as
    (class, first message line)."""
    if isinstance(x, BaseException):
        return ("raises", type(x).__name__, _message(x))
    # A 0-d array and a NumPy scalar read the same here; the "type" cases check which one
    # Session.run and .numpy() give, so that difference is reported once, not in every case.
    if isinstance(x, np.ndarray) and x.ndim == 0 or isinstance(x, np.generic):
        return (np.asarray(x).dtype.name, x.item())
    if isinstance(x, np.ndarray):
        return ("ndarray", x.dtype.name, x.tolist())
    if callable(getattr(x, "numpy", None)):  # an EagerTensor or an eager Variable
        kind = "Variable" if "Variable" in type(x).__name__ else "Tensor"
        return (kind, norm(x.numpy()))
    if isinstance(x, dict):
        return (type(x).__name__, [(k, norm(v)) for k, v in x.items()])
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__, [norm(v) for v in x])
    if isinstance(x, (list, tuple)):
        return type(x)([norm(v) for v in x])
    return x


def g(case, fn, what="result"):
    """A TF1 graph case: `fn(m)` under both modules, results compared."""
    a, b = both(fn)
    same(case, what, norm(a), norm(b))


def g_ref(case, fn, what="result"):
    """As g, with TF building TF1 reference variables (VariableV2, `float32_ref`)."""
    tv1.disable_resource_variables()
    try:
        a, b = both(fn)
    finally:
        tv1.enable_resource_variables()
    same(case, what, norm(a), norm(b))


def e(case, fn, what="result"):
    """A TF2 eager case: `fn(m)` with m = distflow and m = tensorflow."""
    out = []
    for m in (df, tf):
        try:
            out.append(fn(m))
        except Exception as exc:  # noqa: BLE001
            out.append(exc)
    same(case, what, norm(out[0]), norm(out[1]))


def names(ts):
    return [t.name for t in ts]


def run(m, fetches, feed=None):
    with m.Session() as s:
        return s.run(fetches, feed)


def init_run(m, fetches, feed=None):
    with m.Session() as s:
        s.run(m.global_variables_initializer())
        return s.run(fetches, feed)


# -- 1. node names ---------------------------------------------------------------------------
g("names/const default", lambda m: names([m.constant(1.0), m.constant(2.0), m.constant(3)]))
g("names/placeholder default", lambda m: names([m.placeholder(m.float32),
                                                m.placeholder(m.float32, name="x"),
                                                m.placeholder(m.float32, name="x")]))
g("names/named functions", lambda m: names([
    m.multiply(m.constant(1.0), 2.0), m.add(1.0, m.constant(2.0)), m.subtract(1.0, 2.0),
    m.matmul(m.ones([2, 2]), m.ones([2, 2])), m.negative(m.constant(1.0)),
    m.reduce_sum(m.ones([2])), m.square(m.constant(2.0)), m.identity(m.constant(1.0))]))
g("names/op types of functions", lambda m: [t.op.type for t in (
    m.multiply(m.constant(1.0), 2.0), m.add(1.0, m.constant(2.0)), m.subtract(1.0, 2.0),
    m.matmul(m.ones([2, 2]), m.ones([2, 2])), m.reduce_sum(m.ones([2])),
    m.divide(m.constant(1.0), 2.0), m.truediv(m.constant(1.0), 2.0))])


def _operators(m):
    a, b = m.constant(1.0), m.constant(2.0)
    return [(t.name, t.op.type) for t in (a * b, a + b, a - b, a / b, -a, a ** b, a * b, a + b)]


g("names/python operators", _operators)
g("names/implicit constants", lambda m: (m.constant(1.0) * 2.0, m.add(m.constant(1.0), 3.0),
                                         [o.name for o in m.get_default_graph().get_operations()])[2])
g("names/name= and uniquify", lambda m: names([m.constant(1, name="a"), m.constant(1, name="a"),
                                               m.constant(1, name="a_1"), m.constant(1, name="A"),
                                               m.add(1, 2, name="a")]))
g("names/invalid name", lambda m: m.constant(1, name="a b").name)


def _scopes(m):
    out = []
    with m.name_scope("outer") as s1:
        out.append(s1)
        out.append(m.constant(1).name)
        with m.name_scope("inner") as s2:
            out += [s2, m.constant(1).name, m.get_default_graph().get_name_scope()]
        out.append(m.multiply(m.constant(1), 2).name)
    with m.name_scope("outer") as s3:
        out += [s3, m.constant(1).name]
    with m.name_scope("outer/"):
        out.append(m.constant(1).name)
    with m.name_scope(s2):
        out.append(m.constant(1).name)
    return out


g("names/name_scope nesting, reuse, re-entry", _scopes)


def _tensor_meta(m):
    x = m.placeholder(m.float32, [None, 3], name="x")
    w = m.constant(np.ones((3, 2), np.float32), name="w")
    y = m.matmul(x, w)
    return [y.name, y.op.name, y.op.type, y.value_index, names(y.op.inputs),
            names(y.op.outputs), y.graph is m.get_default_graph(), x.op.type,
            m.get_default_graph().get_tensor_by_name("MatMul:0") is y,
            m.get_default_graph().get_operation_by_name("x") is x.op,
            [o.name for o in m.get_default_graph().get_operations()]]


g("names/tensor and op attributes", _tensor_meta)
g("names/get_tensor_by_name missing", lambda m: m.get_default_graph().get_tensor_by_name("nope:0"))
g("names/get_tensor_by_name without :0", lambda m: (m.constant(1, name="c"),
                                                    m.get_default_graph().get_tensor_by_name("c")))


def _variable_names(m):
    a = m.Variable(1.0)
    b = m.Variable(2.0)
    c = m.Variable(3.0, name="w")
    d = m.Variable(3.0, name="w")
    with m.name_scope("layer"):
        e_ = m.Variable(1.0)
        f = m.Variable(1.0, name="b")
    return names([a, b, c, d, e_, f]) + [a.op.name, a.dtype.name]


g("names/variables", _variable_names)
g_ref("names/variable ops (ref)", lambda m: (m.Variable([1.0, 2.0]), [
    (o.name, o.type) for o in m.get_default_graph().get_operations()])[1])
g_ref("names/variable sub-op names (ref)", lambda m: (lambda v: [
    v.op.name, v.op.type, v.initializer.name, v.initializer.type, v.initial_value.name,
    v.value().name, v.read_value().name])(m.Variable([1.0, 2.0])))
g("names/global_variables_initializer op", lambda m: (lambda i: (i.name, i.type))(
    (m.Variable(1.0), m.global_variables_initializer())[1]))
g("names/group and no_op", lambda m: (lambda a, b: (a.name, a.type, b.name))(
    m.group(m.constant(1), m.constant(2)), m.no_op()))
g("names/gradients scope", lambda m: (lambda x: names(m.gradients(x * x, [x])))(
    m.placeholder(m.float32)))
g("names/placeholder dtypes", lambda m: [m.placeholder(d).dtype.name for d in
                                         (m.float32, m.int32, m.float64, m.bool, m.int64)])

# -- 2. printing ---------------------------------------------------------------------------
g("print/str placeholder [None,3]", lambda m: str(m.placeholder(m.float32, [None, 3])))
g("print/repr placeholder [None,3]", lambda m: repr(m.placeholder(m.float32, [None, 3])))
g("print/str unknown rank", lambda m: str(m.placeholder(m.int32)))
g("print/repr unknown rank", lambda m: repr(m.placeholder(m.int32)))
g("print/str scalar mul", lambda m: str(m.constant(6) * m.constant(8)))
g("print/str vector const", lambda m: str(m.constant([1.0, 2.0, 3.0, 4.0])))
g("print/str float64 matmul", lambda m: str(m.matmul(m.placeholder(m.float64, [None, 4]),
                                                     m.constant(np.ones((4, 2))))))
g("print/repr operation", lambda m: repr((m.constant(1.0) * 2.0).op))
g("print/str of shape [None,3]", lambda m: str(m.placeholder(m.float32, [None, 3]).shape))
g("print/str of shape [None]", lambda m: str(m.placeholder(m.float32, [None]).get_shape()))
g("print/str of shape [4]", lambda m: str(m.placeholder(m.float32, [4]).get_shape()))
g("print/str of shape []", lambda m: str(m.placeholder(m.float32, []).get_shape()))
g("print/repr of shape [None,3]", lambda m: repr(m.placeholder(m.float32, [None, 3]).shape))
g("print/repr of shape unknown", lambda m: repr(m.placeholder(m.float32).shape))
g("print/dtype str and repr", lambda m: (str(m.float32), repr(m.float32), str(m.int32),
                                         m.float32.name, repr(m.constant(1).dtype)))
g_ref("print/repr variable (ref)", lambda m: repr(m.Variable([1.0, 2.0])))
g("print/repr variable (TF 2.21 resource)", lambda m: repr(m.Variable([1.0, 2.0])))
g("print/str variable int", lambda m: str(m.Variable(1)))

# -- 3. TensorShape ------------------------------------------------------------------------


def _shape_api(m):
    s = m.placeholder(m.float32, [None, 3]).shape
    u = m.placeholder(m.float32).shape
    return [s.as_list(), s.ndims, s.rank, len(s), s[0], s[1], s.is_fully_defined(),
            s.num_elements(), u.ndims, u.is_fully_defined(), u.num_elements(),
            s.is_compatible_with([2, 3]), s.is_compatible_with([2, 4]),
            u.is_compatible_with([1, 2, 3]), s.merge_with([5, None]).as_list(),
            m.TensorShape([None, 3]) == s, str(s[1:]), list(s)]


g("shape/api", _shape_api)
g("shape/as_list unknown", lambda m: m.placeholder(m.float32).shape.as_list())
g("shape/len unknown", lambda m: len(m.placeholder(m.float32).shape))
g("shape/merge incompatible", lambda m: m.TensorShape([2, 3]).merge_with([2, 4]))
g("shape/TensorShape str", lambda m: [str(m.TensorShape(x)) for x in
                                      ([None, 3], [4], [], None, [None, None, 2])])


def _inference(m):
    x = m.placeholder(m.float32, [None, 4])
    y = m.placeholder(m.float32, [None, 2])
    u = m.placeholder(m.float32)
    outs = [
        m.matmul(x, m.ones([4, 5])), m.reshape(x, [-1, 2]), m.reshape(m.ones([6]), [-1, 2]),
        m.concat([x, m.ones([2, 4])], 0), m.concat([x, y], 1), m.reduce_sum(x, 1),
        m.reduce_sum(x, 1, keepdims=True), m.reduce_mean(x), m.reduce_sum(u, 0), m.shape(x),
        m.transpose(x), m.expand_dims(x, 1), x[0], x[:, 1], x + m.ones([4]),
        m.stack([x, x]), m.argmax(x, 1), m.cast(x, m.int32), m.tile(x, [2, 1]),
        m.reshape(u, [-1]), m.squeeze(m.placeholder(m.float32, [None, 1])), m.square(u),
        m.gather(m.ones([5, 3]), m.placeholder(m.int32, [None])),
        m.one_hot(m.placeholder(m.int32, [None]), 10)]
    return [str(t.shape) for t in outs]


g("shape/inference", _inference)
g("shape/unstack unknown dim", lambda m: [str(t.shape) for t in m.unstack(
    m.placeholder(m.float32, [2, None]))])
g("shape/unstack of unknown num", lambda m: m.unstack(m.placeholder(m.float32, [None, 2])))
g("shape/matmul mismatch", lambda m: m.matmul(m.ones([2, 3]), m.ones([4, 5])))
g("shape/reshape impossible", lambda m: m.reshape(m.ones([6]), [4, -1]))


def _set_shape(m):
    x = m.placeholder(m.float32)
    x.set_shape([None, 3])
    a = str(x.shape)
    x.set_shape([2, None])
    return a, str(x.shape)


g("shape/set_shape", _set_shape)
g("shape/set_shape incompatible", lambda m: m.placeholder(m.float32, [None, 3]).set_shape([2, 4]))

# -- 4. Session.run: fetches -------------------------------------------------------------------
Pair = collections.namedtuple("Pair", "a b")


def _fetch(structure):
    def fn(m):
        a, b = m.constant(6), m.constant([1.0, 2.0])
        c = m.multiply(a, 8)
        return run(m, structure(a, b, c))
    return fn


g("run/single scalar", _fetch(lambda a, b, c: c))
g("run/single vector", _fetch(lambda a, b, c: b))
g("run/type of a fetched const scalar", lambda m: type(run(m, m.constant(6))).__name__)
g("run/type of a fetched variable scalar", lambda m: type(init_run(m, m.Variable(2.0))).__name__)
g("run/types of scalars in a list", lambda m: [type(v).__name__ for v in run(
    m, [m.constant(6), m.constant(6) * 2, m.reduce_sum(m.ones([2]))])])
g("session/type of eval() scalar", lambda m: (lambda c, s: (type(c.eval(session=s)).__name__,
                                                            s.close())[0])(m.constant(2.0), m.Session()))
g("run/list", _fetch(lambda a, b, c: [a, b, c]))
g("run/tuple", _fetch(lambda a, b, c: (a, c)))
g("run/dict", _fetch(lambda a, b, c: {"x": a, "y": [b, c]}))
g("run/nested", _fetch(lambda a, b, c: [a, (b, {"c": c}), [[c]]]))
g("run/namedtuple", _fetch(lambda a, b, c: Pair(a, c)))
g("run/OrderedDict", _fetch(lambda a, b, c: collections.OrderedDict([("z", a), ("a", c)])))
g("run/same tensor twice", _fetch(lambda a, b, c: [c, c]))
g("run/by name", _fetch(lambda a, b, c: ["Mul:0", "Const:0"]))
g("run/op by name", _fetch(lambda a, b, c: (a, c.op.name)))  # 'Mul', an op name: None


g("run/operation gives None", lambda m: run(m, [m.no_op(), m.group(m.constant(1))]))
g("run/empty list", lambda m: (m.constant(1), run(m, []))[1])
g("run/python int", lambda m: (m.constant(1), run(m, 3))[1])
g("run/None", lambda m: (m.constant(1), run(m, None))[1])
g("run/unknown name", lambda m: (m.constant(1), run(m, "nope:0"))[1])


def _other_graph(m):
    other = m.Graph()
    with other.as_default():
        t = m.constant(1)
    m.constant(2)
    return run(m, t)


g("run/tensor of another graph", _other_graph)
g("run/empty graph", lambda m: run(m, []))

# -- 5. Session.run: feeds ---------------------------------------------------------------------


def _feed(value, key=lambda x: x, shape=(4,), dtype="float32"):
    def fn(m):
        x = m.placeholder(getattr(m, dtype), shape)
        return run(m, x * 2, {key(x): value})
    return fn


g("feed/by tensor", _feed([1, 2, 3, 4]))
g("feed/by name", _feed([1, 2, 3, 4], key=lambda x: "Placeholder:0"))
g("feed/by op name", _feed([1, 2, 3, 4], key=lambda x: "Placeholder"))
g("feed/by unknown name", _feed([1, 2, 3, 4], key=lambda x: "nope:0"))
g("feed/wrong shape", _feed([1, 2, 3]))
g("feed/wrong rank", _feed([[1, 2, 3, 4]]))
g("feed/None dims", _feed(np.ones((2, 3)), shape=(None, 3)))
g("feed/None dims wrong", _feed(np.ones((2, 4)), shape=(None, 3)))
g("feed/unknown rank", _feed(np.ones((2, 2, 2)), shape=None))
g("feed/scalar to vector", _feed(1.0))
g("feed/float to int32", _feed([1.5, 2, 3, 4], dtype="int32"))
g("feed/int too large", _feed([2 ** 40, 1, 1, 1], dtype="int32"))
g("feed/python int too large", lambda m: (lambda x: run(m, x, {x: 2 ** 40}))(
    m.placeholder(m.int32)))
g("feed/float64 array to float32", _feed(np.arange(4.0)))
g("feed/a Tensor value", lambda m: (lambda x: run(m, x, {x: m.constant([1.0])}))(
    m.placeholder(m.float32)))


def _feed_intermediate(m):
    x = m.placeholder(m.float32)
    y = x * 2
    z = y + 1
    c = m.constant(3.0)
    return run(m, [z, c * 2], {y: 10.0, c: 4.0})


g("feed/non-placeholder tensors", _feed_intermediate)
g("feed/fetch the fed tensor", lambda m: (lambda x: run(m, x, {x: [1.0, 2.0]}))(
    m.placeholder(m.float32, [2])))
g_ref("feed/a variable as key (ref)", lambda m: (lambda v: run(m, v * 2, {v: 5.0}))(
    m.Variable(1.0)))
g("feed/an Operation as key", lambda m: (lambda x: run(m, x, {x.op: 1.0}))(
    m.placeholder(m.float32)))
g("feed/missing", lambda m: run(m, m.placeholder(m.float32, [4]) * 2))
g("feed/missing unknown shape", lambda m: run(m, m.placeholder(m.int32) * 2))
g("feed/missing named", lambda m: run(m, m.placeholder(m.float32, [None, 3], name="x") + 1))
g("feed/result dtype of scalar", lambda m: type(run(m, m.placeholder(m.float32) * 2,
                                                    {"Placeholder:0": 3})).__name__)

# -- 6. Session life cycle, default session, eval ------------------------------------------------


def _closed(m):
    c = m.constant(1)
    s = m.Session()
    s.close()
    return s.run(c)


def _with_closes(m):
    c = m.constant(1)
    with m.Session() as s:
        inside = m.get_default_session() is s
    return inside, m.get_default_session() is None, _try(lambda: s.run(c))


def _try(f):
    try:
        return f()
    except Exception as exc:  # noqa: BLE001
        return exc


def _as_default(m):
    c = m.constant(3) * 2
    s = m.Session()
    with s.as_default():
        v = c.eval()
        op_result = m.no_op().run()
    after = s.run(c)
    s.close()
    return v, op_result, after


def _interactive(m):
    c = m.constant([1.0, 2.0])
    v = m.Variable(5.0)
    s = m.InteractiveSession()
    try:
        m.global_variables_initializer().run()
        return [c.eval(), v.eval(), (c * 2).eval(), m.get_default_session() is s,
                v.assign(7.0).eval(), v.eval()]
    finally:
        s.close()


g("session/run after close", _closed)
g("session/context manager", _with_closes)
g("session/as_default eval and run", _as_default)
g("session/InteractiveSession", _interactive)
g("session/eval without default", lambda m: m.constant(1).eval())
g("session/run without default", lambda m: m.no_op().run())
g("session/eval session=", lambda m: (lambda c, s: (c.eval(session=s), s.close()))(
    m.constant(2) * 3, m.Session()))
g("session/eval feed_dict", lambda m: (lambda x, s: (x.eval({x: [1, 2]}, session=s), s.close()))(
    m.placeholder(m.int32), m.Session()))
g("session/reset_default_graph inside a graph", lambda m: m.reset_default_graph())
g("session/graph attribute", lambda m: (lambda s: (s.graph is m.get_default_graph(), s.close()))(
    (m.constant(1), m.Session())[1]))

# -- 7. variables ------------------------------------------------------------------------------


def _uninit(m):
    v = m.Variable(1.0)
    return run(m, v * 2)


def _uninit_direct(m):
    v = m.Variable(1.0)
    return run(m, v)


g("var/uninitialized", _uninit)
g_ref("var/uninitialized (ref)", _uninit)
g_ref("var/uninitialized fetch (ref)", _uninit_direct)
g("var/fetch variable", lambda m: init_run(m, m.Variable([1.0, 2.0])))


def _initializers(m):
    a = m.Variable(1.0)
    b = m.Variable(m.constant(2.0) * 3)
    with m.Session() as s:
        r0 = s.run(m.variables_initializer([a]))
        r1 = s.run(a)
        r2 = s.run(b.initializer)
        return [r0, r1, r2, s.run(b), s.run(b.initial_value), s.run(a.read_value()),
                s.run(a.value())]


g("var/initializers", _initializers)


def _assigns(m):
    v = m.Variable(1.0)
    with m.Session() as s:
        s.run(v.initializer)
        return [s.run(v.assign(5.0)), s.run(v), s.run(v.assign_add(2.0)), s.run(v.assign_sub(1.0)),
                s.run(v), s.run(v.assign(v * 2))]


g("var/assign methods", _assigns)
g_ref("var/assign methods (ref)", _assigns)
g("var/tf.assign", lambda m: (lambda v: init_run(m, [m.assign(v, 3.0), m.assign_add(v, 1.0),
                                                     m.assign_sub(v, 1.0)]))(m.Variable(0.0)))
g("var/assign op type", lambda m: (lambda v: (v.assign(2.0).op.type, v.assign_add(1.0).op.type))(
    m.Variable(0.0)))
g_ref("var/assign op type (ref)", lambda m: (lambda v: (
    v.assign(2.0).op.type, v.assign_add(1.0).op.type, v.assign(2.0).name))(m.Variable(0.0)))
g("var/assign wrong shape", lambda m: m.Variable([1.0, 2.0]).assign([1.0, 2.0, 3.0]))
g_ref("var/assign wrong shape (ref)", lambda m: m.Variable([1.0, 2.0]).assign([1.0, 2.0, 3.0]))
g("var/assign wrong dtype", lambda m: init_run(m, m.Variable(1).assign(2.5)))


def _sessions_independent(m):
    v = m.Variable(1.0)
    inc = v.assign_add(1.0)
    s1, s2 = m.Session(), m.Session()
    s1.run(v.initializer)
    s2.run(v.initializer)
    s1.run(inc)
    s1.run(inc)
    out = [s1.run(v), s2.run(v)]
    s1.close()
    s2.close()
    return out


g("var/one value per session", _sessions_independent)


def _collections(m):
    a = m.Variable(1.0, name="a")
    b = m.Variable(1.0, name="b", trainable=False)
    with m.name_scope("s"):
        c = m.Variable(1.0, name="c")
    gk = m.GraphKeys
    return [names(m.get_collection(gk.GLOBAL_VARIABLES)),
            names(m.get_collection(gk.TRAINABLE_VARIABLES)),
            names(m.global_variables()), names(m.trainable_variables()),
            names(m.get_collection(gk.GLOBAL_VARIABLES, scope="s")),
            names(m.trainable_variables("s/")), a.trainable, b.trainable, c.trainable,
            gk.GLOBAL_VARIABLES, gk.TRAINABLE_VARIABLES]


g("var/collections and trainable", _collections)
g("var/no initial value", lambda m: m.Variable())
g("var/dtype arg", lambda m: (lambda v: (v.dtype.name, init_run(m, v)))(
    m.Variable(1, dtype=m.float32)))
g("var/shape of variable", lambda m: (lambda v: (str(v.shape), str(v.get_shape())))(
    m.Variable(np.zeros((2, 3), np.float32))))
g("var/arithmetic on variable", lambda m: (lambda v: init_run(m, [v * 2, v + v, -v, v @ v]))(
    m.Variable([[1.0, 2.0], [3.0, 4.0]])))

# -- 8. gradients, control dependencies ----------------------------------------------------------


def _grads(m):
    x = m.placeholder(m.float32)
    y = m.placeholder(m.float32)
    z = x * x * y + 3 * x
    gs = m.gradients(z, [x, y])
    return run(m, gs, {x: 2.0, y: 5.0})


g("grad/values", _grads)
g("grad/unconnected is None", lambda m: (lambda x, y: m.gradients(x * 2, [x, y])[1])(
    m.placeholder(m.float32), m.placeholder(m.float32)))
g("grad/grad_ys", lambda m: (lambda x: run(m, m.gradients(x * x, x, grad_ys=[[1.0, 10.0]]),
                                           {x: [1.0, 2.0]}))(m.placeholder(m.float32, [2])))
g("grad/stop_gradient", lambda m: (lambda x: run(m, m.gradients(x * m.stop_gradient(x), x),
                                                 {x: 3.0}))(m.placeholder(m.float32)))
g("grad/list of ys sums", lambda m: (lambda x: run(m, m.gradients([x * 2, x * x], [x]),
                                                   {x: 3.0}))(m.placeholder(m.float32)))
g("grad/single x not list", lambda m: (lambda x: type(m.gradients(x * 2, x)).__name__)(
    m.placeholder(m.float32)))
g("grad/wrt variable", lambda m: (lambda v: init_run(m, m.gradients(m.reduce_sum(v * v), v)))(
    m.Variable([1.0, 2.0])))
g("grad/stop_gradients arg", lambda m: (lambda x: (lambda y: run(m, m.gradients(
    y * x, x, stop_gradients=[y]), {x: 3.0}))(x * x))(m.placeholder(m.float32)))
g("grad/int tensor", lambda m: (lambda x: m.gradients(x * 2, x))(m.placeholder(m.int32)))


def _control_deps(m):
    v = m.Variable(1.0)
    up = m.assign(v, 10.0) if hasattr(m, "assign") else v.assign(10.0)
    with m.control_dependencies([up]):
        out = m.identity(v)
    with m.Session() as s:
        s.run(v.initializer)
        return [s.run(out), names_ctrl(out)]


def names_ctrl(t):
    return [o.name for o in t.op.control_inputs]


g_ref("deps/control_dependencies orders (ref)", _control_deps)


def _group(m):
    a = m.Variable(1.0)
    b = m.Variable(2.0)
    grp = m.group(a.assign_add(1.0), b.assign_add(1.0))
    with m.Session() as s:
        s.run(m.global_variables_initializer())
        r = s.run(grp)
        return [r, s.run([a, b]), grp.type]


g("deps/group", _group)

# -- 9. TF1 API that courses use (present or missing) ---------------------------------------------
_TF1_NAMES = ["assign", "assign_add", "assign_sub", "get_variable", "variable_scope",
              "AUTO_REUSE", "placeholder_with_default", "Print", "print", "cond", "while_loop",
              "sigmoid", "tanh", "random_normal_initializer", "zeros_initializer",
              "truncated_normal_initializer", "glorot_uniform_initializer",
              "local_variables_initializer", "squared_difference", "reduce_any", "math",
              "set_random_seed", "get_default_session", "Variable", "trainable_variables",
              "is_variable_initialized", "report_uninitialized_variables", "get_variable_scope",
              "Session", "convert_to_tensor", "global_variables_initializer",
              "initialize_all_variables", "to_float", "summary", "train", "losses", "layers"]
g("api/TF1 names present", lambda m: [n for n in _TF1_NAMES if not hasattr(m, n)], "missing")
g("api/train names present", lambda m: [n for n in [
    "GradientDescentOptimizer", "AdamOptimizer", "MomentumOptimizer", "Saver",
    "get_or_create_global_step", "get_global_step", "exponential_decay"]
    if not hasattr(m.train, n)], "missing")


def _get_variable(m):
    with m.variable_scope("layer"):
        w = m.get_variable("w", [2, 3], initializer=m.zeros_initializer())
    with m.variable_scope("layer", reuse=True):
        w2 = m.get_variable("w")
    return [w.name, w2 is w, init_run(m, w).tolist()]


g("api/get_variable and variable_scope", _get_variable)
g("api/placeholder_with_default", lambda m: (lambda p: (str(p.shape), run(m, p * 2),
                                                        run(m, p * 2, {p: [5.0, 5.0]})))(
    m.placeholder_with_default([1.0, 2.0], [None])))

# -- 10. TF2 eager: printing and Python protocol ---------------------------------------------------
e("eager/str scalar float", lambda m: str(m.constant(2.0)))
e("eager/str scalar int", lambda m: str(m.constant(6) * m.constant(8)))
e("eager/repr scalar", lambda m: repr(m.constant(2.0)))
e("eager/str vector", lambda m: str(m.constant([1.0, 2.5, 3.0])))
e("eager/repr vector", lambda m: repr(m.constant([1, 2, 3])))
e("eager/str matrix", lambda m: str(m.constant([[1.0, 2.0], [3.0, 4.0]])))
e("eager/repr matrix", lambda m: repr(m.constant([[1.0, 2.0], [3.0, 4.0]])))
e("eager/str bool and float64", lambda m: [str(m.constant(True)),
                                           str(m.constant(np.array([1.5, 2.0])))])
e("eager/print format", lambda m: "{} {:.2f}".format(m.constant(1.5), m.constant(1.25)))
e("eager/shape str and repr", lambda m: (lambda t: (str(t.shape), repr(t.shape), t.shape.as_list(),
                                                    t.shape[0], t.ndim))(m.ones([2, 3])))
e("eager/dtype defaults", lambda m: [m.constant(x).dtype.name for x in
                                     (1, 1.0, [1, 2], np.float64(1), np.arange(3), True)])
e("eager/variable repr scalar", lambda m: repr(m.Variable(3.0)))
e("eager/variable repr vector", lambda m: repr(m.Variable([1.0, 2.0])))
e("eager/variable repr int", lambda m: repr(m.Variable(1)))
e("eager/variable str", lambda m: str(m.Variable([[1, 2], [3, 4]])))
e("eager/variable names", lambda m: [m.Variable(1.0).name, m.Variable(1.0).name,
                                     m.Variable(1.0, name="w").name])
e("eager/tensor .name", lambda m: m.constant(1.0).name)
e("eager/numpy scalar type", lambda m: m.constant(2.0).numpy())
e("eager/numpy vector", lambda m: m.constant([1, 2]).numpy())
e("eager/float int bool", lambda m: [float(m.constant(2.5)), int(m.constant(7)),
                                     bool(m.constant(0.0)), bool(m.constant(True)),
                                     int(m.constant(2.9))])
e("eager/bool of vector", lambda m: bool(m.constant([1.0, 2.0])))
e("eager/len", lambda m: len(m.constant([[1, 2], [3, 4], [5, 6]])))
e("eager/len scalar", lambda m: len(m.constant(1)))
e("eager/iterate", lambda m: [t.numpy() for t in m.constant([[1, 2], [3, 4]])][1])
e("eager/iterate scalar", lambda m: list(m.constant(1.0)))
e("eager/index list", lambda m: [10, 20, 30][m.constant(1)])
e("eager/np.asarray", lambda m: np.asarray(m.constant([1.0, 2.0])))
e("eager/np func", lambda m: np.square(m.constant([1.0, 2.0])))
e("eager/t + ndarray", lambda m: (lambda r: (type(r).__name__, r.numpy()))(
    m.constant([1.0, 2.0]) + np.array([1.0, 1.0], np.float32)))
e("eager/ndarray + t", lambda m: (lambda r: (type(r).__name__, np.asarray(r)))(
    np.array([1.0, 1.0], np.float32) + m.constant([1.0, 2.0])))
e("eager/float32 + float64 ndarray", lambda m: m.constant([1.0]) + np.array([1.0]))
e("eager/== elementwise", lambda m: (m.constant([1, 2]) == m.constant([1, 3])).numpy())
e("eager/== None", lambda m: m.constant(1) == None)  # noqa: E711
e("eager/hash", lambda m: {m.constant(1): 1})
e("eager/int + float tensor", lambda m: m.constant(1) + m.constant(1.0))
e("eager/executing_eagerly", lambda m: m.executing_eagerly())

# -- 11. TF2 variables ------------------------------------------------------------------------------


def _var_updates(m):
    v = m.Variable(1.0)
    a = v.assign(2.0)
    b = v.assign_add(3.0)
    c = v.assign_sub(1.0)
    return [float(a), float(b), float(c), v.numpy(), float(v), (v * 2).numpy(), v.trainable,
            m.Variable(1.0, trainable=False).trainable, v.dtype.name, str(v.shape)]


e("eager var/assign results", _var_updates)
e("eager var/type of numpy()", lambda m: [type(m.Variable(1.0).numpy()).__name__,
                                         type(m.constant(1.0).numpy()).__name__])
e("eager var/assign repr", lambda m: repr(m.Variable(1.0).assign(2.0)))
e("eager var/assign read_value=False", lambda m: m.Variable(1.0).assign(2.0, read_value=False))
e("eager var/assign wrong shape", lambda m: m.Variable([1.0, 2.0]).assign([1.0, 2.0, 3.0]))
e("eager var/v + 1 type", lambda m: type(m.Variable(1.0) + 1).__name__)
e("eager var/numpy of variable", lambda m: np.asarray(m.Variable([1, 2])))
e("eager var/int variable assign float", lambda m: m.Variable(1).assign(2.5))

# -- 12. TF2 GradientTape ---------------------------------------------------------------------------


def _tape_basic(m):
    x = m.constant(3.0)
    v = m.Variable(2.0)
    with m.GradientTape() as t:
        t.watch(x)
        y = x * x * v
    return t.gradient(y, [x, v])


def _tape_unwatched(m):
    x = m.constant(3.0)
    with m.GradientTape() as t:
        y = x * x
    return t.gradient(y, x)


def _tape_twice(m):
    x = m.constant(3.0)
    with m.GradientTape() as t:
        t.watch(x)
        y = x * x
    t.gradient(y, x)
    return t.gradient(y, x)


def _tape_persistent(m):
    x = m.constant(3.0)
    with m.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x * x
        z = y * x
    return [t.gradient(y, x), t.gradient(z, x)]


def _tape_no_auto_watch(m):
    v = m.Variable(2.0)
    w = m.Variable(3.0)
    with m.GradientTape(watch_accessed_variables=False) as t:
        t.watch(w)
        y = v * w
    return [t.gradient(y, [v, w]), [x.name for x in t.watched_variables()]]


def _tape_nested(m):
    x = m.Variable(3.0)
    with m.GradientTape() as outer:
        with m.GradientTape() as inner:
            y = x * x * x
        dy = inner.gradient(y, x)
    return [dy, outer.gradient(dy, x)]


def _tape_nonscalar(m):
    x = m.constant(2.0)
    with m.GradientTape() as t:
        t.watch(x)
        y = x * m.constant([3.0, 4.0])
    return t.gradient(y, x)


def _tape_structures(m):
    a, b = m.Variable(1.0), m.Variable(2.0)
    with m.GradientTape() as t:
        y1 = a * b
        y2 = a * 3.0
    g_ = t.gradient([y1, y2], {"a": a, "b": b})
    return {k: g_[k] for k in sorted(g_)}


def _tape_output_gradients(m):
    x = m.constant([1.0, 2.0])
    with m.GradientTape() as t:
        t.watch(x)
        y = x * x
    return t.gradient(y, x, output_gradients=m.constant([1.0, 10.0]))


def _tape_zero(m):
    x, y = m.constant(1.0), m.constant(2.0)
    with m.GradientTape() as t:
        t.watch([x, y])
        z = x * 2
    return t.gradient(z, [x, y], unconnected_gradients=m.UnconnectedGradients.ZERO)


def _tape_inside(m):
    x = m.constant(2.0)
    with m.GradientTape() as t:
        t.watch(x)
        y = x * x
        gr = t.gradient(y, x)
    return gr


def _tape_int(m):
    x = m.constant(2)
    with m.GradientTape() as t:
        t.watch(x)
        y = x * x
    return t.gradient(y, x)


def _tape_non_trainable(m):
    v = m.Variable(2.0, trainable=False)
    with m.GradientTape() as t:
        y = v * v
    return t.gradient(y, v)


e("tape/watch and variable", _tape_basic)
e("tape/unwatched constant None", _tape_unwatched)
e("tape/gradient twice", _tape_twice)
e("tape/persistent", _tape_persistent)
e("tape/watch_accessed_variables=False", _tape_no_auto_watch)
e("tape/nested second derivative", _tape_nested)
e("tape/non-scalar target sums", _tape_nonscalar)
e("tape/list targets dict sources", _tape_structures)
e("tape/output_gradients", _tape_output_gradients)
e("tape/unconnected ZERO", _tape_zero)
e("tape/gradient inside with (non-persistent)", _tape_inside)
e("tape/int source", _tape_int)
e("tape/non-trainable variable", _tape_non_trainable)


def _tape_grad_type(m):
    v = m.Variable(1.0)
    with m.GradientTape() as t:
        y = v * v
    return type(t.gradient(y, v)).__name__


e("tape/gradient type for a variable", _tape_grad_type)


# -- 13. TF2 function ------------------------------------------------------------------------------


def _retracing(m):
    traces = []

    @m.function
    def f(x, n=1):
        traces.append(1)
        return x * n

    out = [f(m.constant(1.0)), f(m.constant(2.0)), f(m.constant([1.0, 2.0])),
           f(m.constant(1)), f(m.constant(1.0), 2), f(m.constant(1.0), 2), f(m.constant(1.0), 3)]
    return [o.numpy().tolist() for o in out] + [len(traces)]


def _signature(m):
    traces = []

    @m.function(input_signature=[m.TensorSpec(shape=[None], dtype=m.float32)])
    def f(x):
        traces.append(str(x.shape))
        return m.reduce_sum(x)

    return [f(m.constant([1.0])).numpy(), f(m.constant([1.0, 2.0, 3.0])).numpy(), traces]


def _signature_bad(m):
    @m.function(input_signature=[m.TensorSpec(shape=[None], dtype=m.float32)])
    def f(x):
        return x

    return f(m.constant([1, 2]))


def _function_variable(m):
    v = m.Variable(1.0)

    @m.function
    def step():
        v.assign_add(1.0)
        return v.read_value() * 10

    return [step().numpy(), step().numpy(), v.numpy()]


def _function_python_side_effect(m):
    seen = []

    @m.function
    def f(x):
        seen.append(str(x))
        return x + 1

    f(m.constant(1))
    f(m.constant(2))
    return seen


def _function_tape(m):
    w = m.Variable(3.0)

    @m.function
    def loss(x):
        return w * x * x

    with m.GradientTape() as t:
        y = loss(m.constant(2.0))
    return t.gradient(y, w)


e("function/retracing rules", _retracing)
e("function/input_signature", _signature)
e("function/input_signature mismatch", _signature_bad)
e("function/variable updates", _function_variable)
e("function/traced tensor printing", _function_python_side_effect)
e("function/gradient through function", _function_tape)
e("function/returns python structure", lambda m: m.function(
    lambda x: {"a": x, "b": [x * 2, (x * 3,)]})(m.constant(1.0)))
e("api/TF2 names present", lambda m: [n for n in [
    "print", "function", "GradientTape", "Variable", "TensorSpec", "constant", "Module",
    "keras", "cond", "while_loop", "sigmoid", "tanh", "math", "nn", "linalg"]
    if not hasattr(m, n)], "missing")
e("api/TF2 math names present", lambda m: [n for n in [
    "sigmoid", "tanh", "exp", "log", "square", "sqrt", "abs", "add", "multiply", "maximum",
    "reduce_sum", "reduce_mean", "argmax", "equal", "pow", "softplus", "log_sigmoid"]
    if not hasattr(m.math, n)], "missing")

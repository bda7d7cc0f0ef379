"""What converted code calls (as `ag__.<name>`): each control-flow statement decides at run
time, as TF's AutoGraph operators do. A condition or iterable that is a graph tensor builds a
cond or a while_loop (ops/cond_ops.py, ops/while_ops.py); anything else runs as plain Python.

The names a statement assigns are its state: a tensor-dependent `if` returns from each branch
those that changed, a loop carries them as loop variables (Python numbers become tensors when
the loop starts). A name with no value before a loop gets one from a trial trace of the body
(zeros of the shape and dtype it gets there), as TF does for the names a loop defines.
"""
import builtins

import numpy as np

from distflow.framework import context, dtypes, nest
from distflow.framework.eager import EagerTensor
from distflow.framework.graph import Tensor, get_default_graph
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import (array_ops, comparison_ops, cond_ops, dispatch, func_graph,
                          slicing_ops, while_ops)
from distflow.ops.tensor_array import TensorArray

_PY_SCALARS = (bool, int, float, np.ndarray, np.generic)


class Undefined:
    """The value of a name that Python has not bound yet (it is assigned only inside a
    branch or loop): using it raises an error that names it."""

    __slots__ = ("symbol_name",)

    def __init__(self, symbol_name):
        self.symbol_name = symbol_name

    def __repr__(self):
        return "<undefined %s>" % self.symbol_name

    def _fail(self, *args, **kwargs):
        raise UnboundLocalError(
            "'%s' is used before it has a value: it is assigned only inside a branch or loop "
            "that depends on a tensor and not on every path (or the loop may run zero times). "
            "Give it a value before the if or loop." % self.symbol_name)

    def __getattr__(self, name):
        if name.startswith("__"):  # protocol probes (NumPy's __array__, copy's ...) say no
            raise AttributeError(name)
        self._fail()

    __call__ = __getitem__ = __bool__ = __iter__ = __len__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = _fail
    __rtruediv__ = __neg__ = __lt__ = __le__ = __gt__ = __ge__ = __float__ = __int__ = _fail
    __matmul__ = __rmatmul__ = __pow__ = __mod__ = __floordiv__ = _fail


class UndefinedReturnValue:
    """retval_ before any `return` ran."""


def retval(value):
    return None if isinstance(value, UndefinedReturnValue) else value


def ld(read, name):
    """The current value of a local name, or Undefined(name) when Python has none yet."""
    try:
        return read()
    except NameError:
        return Undefined(name)


def is_tensor(x):
    return isinstance(x, Tensor)


def _defined(x):
    return not isinstance(x, (Undefined, UndefinedReturnValue))


def _tensor_like(x, variables=False):
    leaves = nest.flatten(x)
    ok = (Tensor, EagerTensor) + _PY_SCALARS
    return bool(leaves) and all(isinstance(v, ok) or (variables and hasattr(v, "_graph_tensor"))
                                for v in leaves)


def _bool_tensor(x):
    if is_tensor(x):
        return x
    return dispatch.convert_to_tensor(bool(x))


# -- logical operators -----------------------------------------------------------------------
def not_(x):
    return comparison_ops.logical_not(x) if is_tensor(x) else not x


def and_(*fns):
    value = fns[0]()
    if len(fns) == 1:
        return value
    if is_tensor(value):
        return cond_ops.cond(value, lambda: _bool_tensor(and_(*fns[1:])),
                             lambda: _bool_tensor(False))
    return and_(*fns[1:]) if value else value


def or_(*fns):
    value = fns[0]()
    if len(fns) == 1:
        return value
    if is_tensor(value):
        return cond_ops.cond(value, lambda: _bool_tensor(True),
                             lambda: _bool_tensor(or_(*fns[1:])))
    return value if value else or_(*fns[1:])


def len_(x):
    """len() in converted code: a graph tensor's first dimension, as a tensor (TF's)."""
    if isinstance(x, TensorArray):
        return x.size()
    if is_tensor(x):
        if x.shape.rank == 0:
            raise ValueError("len requires a non-scalar tensor, got one of shape %s" % x.shape)
        n = x.shape.as_tuple()[0] if x.shape.rank is not None else None
        return dispatch.convert_to_tensor(n, dtypes.int32) if n is not None else \
            array_ops.shape(x)[0]
    return builtins.len(x)


def if_exp(cond, body, orelse):
    """`body() if cond else orelse()`: a cond when `cond` is a graph tensor."""
    if is_tensor(cond):
        return cond_ops.cond(cond, body, orelse)
    return body() if cond else orelse()


def range_(*args):
    """range() in a for statement: tf.range when a bound is a graph tensor."""
    if any(is_tensor(a) for a in args):
        from distflow.ops.slicing_ops import range as tf_range
        return tf_range(*args)
    return builtins.range(*args)


# -- if --------------------------------------------------------------------------------------
def if_stmt(cond, body, orelse, get_state, set_state, names):
    if not is_tensor(cond):
        if cond:
            body()
        else:
            orelse()
        return
    init = list(get_state())
    kept, dropped, arrays = [], [], {}

    def branch(fn):
        def run():
            set_state(init)
            fn()
            return list(get_state())
        return run

    def outputs(t_graph, t_vals, f_graph, f_vals):
        """What each branch returns: the names either branch changed."""
        t_out, f_out = [], []
        for i, name in enumerate(names):
            a, b = t_vals[i], f_vals[i]
            if a is init[i] and b is init[i]:
                continue
            if not _defined(a) or not _defined(b):
                if not _defined(a) and not _defined(b):
                    continue
                if name != "retval_":  # defined in one branch only: not defined after the if
                    dropped.append(i)
                    continue
                # a return in one branch only: the other's value is never used
                if _defined(a):
                    b = _zeros_in(f_graph, a)
                else:
                    a = _zeros_in(t_graph, b)
            elif not (is_tensor(a) or is_tensor(b)) and _same_python_value(a, b):
                continue
            if isinstance(a, TensorArray) and isinstance(b, TensorArray):
                arrays[i] = a
                a, b = a._components(), b._components()
            if not (_tensor_like(a, True) and _tensor_like(b, True)):
                raise TypeError(
                    "'%s' must be a tensor, or the same Python value, on both branches of an "
                    "if that depends on a tensor; it is %r in the main branch and %r in the "
                    "else branch" % (name, a, b))
            a, b = _match_dtype(t_graph, a, b), _match_dtype(f_graph, b, a)
            kept.append(i)
            t_out.append(a)
            f_out.append(b)
        return t_out, f_out

    results = cond_ops.cond(cond, branch(body), branch(orelse), _outputs=outputs)
    state = list(init)
    for i, value in zip(kept, results):
        state[i] = arrays[i]._from_components(value) if i in arrays else value
    for i in dropped:
        state[i] = Undefined(names[i])
    set_state(state)


def _same_python_value(a, b):
    try:
        return a is b or bool(a == b) and type(a) is type(b)
    except Exception:  # noqa: BLE001  (an object whose == is not a plain bool)
        return False


def _zeros_in(graph, like):
    """Zeros in `graph` with the dtype and (static) shape of `like`, a value of the other
    branch's graph, which this one cannot use."""
    def zeros(t):
        dtype = dispatch.dtype_of(t)
        if dtype is None:
            return dispatch.convert_to_tensor(np.zeros_like(np.asarray(t)))
        dims = t.shape.as_tuple()
        return array_ops.zeros([0 if d is None else d for d in dims] if dims is not None
                               else [], dtype)
    with graph.as_default():
        return nest.map_structure(zeros, like)


def _match_dtype(graph, value, other):
    """A Python number given the dtype of the tensor it is merged with (`x = 0` in one
    branch, a float32 tensor in the other)."""
    if isinstance(value, (bool, int, float)) and dispatch.dtype_of(other) is not None:
        with graph.as_default():
            return dispatch.convert_to_tensor(value, dispatch.dtype_of(other))
    return value


# -- loops -----------------------------------------------------------------------------------
def while_stmt(test, body, get_state, set_state, names, opts):
    while True:
        t = test()
        if is_tensor(t):
            _graph_loop(lambda h: test(), lambda h: _run(body), get_state, set_state, names,
                        opts)
            return
        if not t:
            return
        body()


def _run(body, *args):
    body(*args)
    return []


def for_stmt(iterable, extra_test, body, get_state, set_state, names, iterate_names, opts):
    if is_tensor(iterable):
        _tensor_for(iterable, None, extra_test, body, get_state, set_state, names,
                    iterate_names, opts)
        return
    from distflow.data.dataset import Dataset
    if isinstance(iterable, Dataset):
        _dataset_for(iterable, extra_test, body, get_state, set_state, names, iterate_names,
                     opts)
        return
    _python_for(iterable, extra_test, body)


def _python_for(iterable, extra_test, body):
    for item in iterable:
        if extra_test is not None:
            go = extra_test()
            if is_tensor(go):
                raise NotImplementedError(
                    "A break or return inside a Python for loop (over %s) depends on a tensor: "
                    "loop over tf.range(...) or a tensor instead, so that the loop is a "
                    "while_loop" % type(iterable).__name__)
            if not go:
                break
        body(item)


def _tensor_for(iterable, structure, extra_test, body, get_state, set_state, names,
                iterate_names, opts):
    """for over a tensor's first dimension (or over `structure`, stacked leaves): a
    while_loop over the index."""
    leaves = [iterable] if structure is None else nest.flatten(iterable)
    first = leaves[0]
    n = first.shape.as_tuple()[0] if first.shape.rank else None
    if first.shape.rank == 0:
        raise TypeError("Cannot iterate over a scalar tensor.")
    length = dispatch.convert_to_tensor(n, dtypes.int32) if n is not None else \
        array_ops.shape(first)[0]

    def test(h):
        more = comparison_ops.less(h[0], length)
        if extra_test is None:
            return more
        return comparison_ops.logical_and(more, _bool_tensor(extra_test()))

    def step(h):
        items = [slicing_ops.gather(t, h[0]) for t in leaves]
        body(items[0] if structure is None else nest.pack_sequence_as(structure, items))
        return [h[0] + 1]

    start = dispatch.convert_to_tensor(0, dtypes.int32)
    _graph_loop(test, step, get_state, set_state, names, opts, [start], iterate_names)


def _dataset_for(dataset, extra_test, body, get_state, set_state, names, iterate_names, opts):
    """A Dataset's elements, read now: stacked into tensors when they all have one shape (one
    while_loop), else the body traced once per element."""
    with context.eager_mode():
        elements = list(dataset)
    if not elements:
        return
    flat = [nest.flatten(e) for e in elements]
    same = all(len(f) == len(flat[0]) and all(
        a.shape == b.shape and a.dtype == b.dtype for a, b in zip(f, flat[0])) for f in flat)
    if not same:
        _python_for(elements, extra_test, body)
        return
    stacked = [dispatch.convert_to_tensor(np.stack([f[i].numpy() for f in flat]))
               for i in range(len(flat[0]))]
    structure = elements[0]
    _tensor_for(nest.pack_sequence_as(structure, stacked), structure, extra_test, body,
                get_state, set_state, names, iterate_names, opts)


def _graph_loop(test, step, get_state, set_state, names, opts, hidden=(), iterate_names=()):
    """A while_loop over `hidden` (an index, for a for statement) and the names the body
    changes; `test(hidden)` and `step(hidden) -> new hidden` run the converted code."""
    init = list(get_state())
    hidden = list(hidden)
    nh = len(hidden)
    loop, absent = [], []
    for i, name in enumerate(names):
        if name in iterate_names:
            continue
        v = init[i]
        if isinstance(v, TensorArray):  # carried as its tensor, once it has one
            (loop if v.flow is not None else absent).append(i)
        else:
            (loop if _tensor_like(v) else absent if not _defined(v) else []).append(i)
    trial_shapes = {}
    if absent:
        found = _trial_trace(step, hidden, init, get_state, set_state)
        for i in absent:
            if isinstance(init[i], TensorArray):
                init[i] = _array_with_rows(init[i], found[i], names[i])
                loop.append(i)
            elif _defined(found[i]) and _tensor_like(found[i]):
                init[i] = nest.map_structure(_placeholder_value, found[i])
                trial_shapes[i] = nest.map_structure(lambda t: TensorShape(t.shape), found[i])
                loop.append(i)
        loop.sort()
    loop_init = [init[i] if isinstance(init[i], TensorArray) else
                 nest.map_structure(dispatch.convert_to_tensor, init[i]) for i in loop]
    user_shapes = [s if s is not None else trial_shapes.get(i) for s, i in
                   zip(_user_invariants(opts, [init[i] for i in loop]), loop)]

    def state_with(values):
        state = list(init)
        for k, i in enumerate(loop):
            state[i] = values[k]
        for i in absent:
            if i not in loop:
                state[i] = Undefined(names[i])
        return state

    def cond_fn(*values):
        set_state(state_with(values[nh:]))
        return _bool_tensor(test(values[:nh]))

    def body_fn(*values):
        set_state(state_with(values[nh:]))
        new_hidden = step(values[:nh])
        after = get_state()
        for i, name in enumerate(names):
            if i in loop or name in iterate_names or i in absent:
                continue
            if after[i] is not init[i] and not _same_python_value(after[i], init[i]):
                raise TypeError("'%s' is %r before the loop and %r after one iteration: a loop "
                                "that depends on a tensor can only change tensors (and Python "
                                "numbers, which become tensors)" % (name, init[i], after[i]))
        out = []
        for k, i in enumerate(loop):
            out.append(_checked(names[i], loop_init[k], after[i], user_shapes[k]))
        return list(new_hidden) + out

    invariants = [h.shape for h in hidden] + [
        s if s is not None else v._invariant() if isinstance(v, TensorArray) else
        nest.map_structure(lambda t: t.shape, v) for s, v in zip(user_shapes, loop_init)]
    results = while_ops.while_loop(cond_fn, body_fn, hidden + loop_init,
                                   shape_invariants=invariants,
                                   maximum_iterations=opts.get("maximum_iterations"))
    results = results if isinstance(results, (list, tuple)) else [results]
    set_state(state_with(list(results)[nh:]))


def _checked(name, before, after, invariant):
    if isinstance(before, TensorArray):
        if not isinstance(after, TensorArray):
            raise TypeError("'%s' is a TensorArray before the loop but %r after one iteration"
                            % (name, after))
        return after  # while_loop checks its tensor against the invariant
    if not _defined(after):
        raise UnboundLocalError("'%s' has no value after one iteration of the loop" % name)
    if not _tensor_like(after, True):
        raise TypeError("'%s' is a tensor before the loop but %r after one iteration"
                        % (name, after))
    if nest.is_nested(before) != nest.is_nested(after) or \
            len(nest.flatten(before)) != len(nest.flatten(after)):
        raise ValueError("'%s' changes its structure in the loop: %r before, %r after one "
                         "iteration" % (name, before, after))
    shapes = nest.flatten(invariant) if invariant is not None else None
    out = []
    for j, (b, a) in enumerate(zip(nest.flatten(before), nest.flatten(after))):
        if dispatch.dtype_of(a) is None:
            a = dispatch.convert_to_tensor(a, b.dtype)
        else:
            a = dispatch.to_graph_tensor(a, get_default_graph()) if hasattr(a, "_graph_tensor") \
                else a
        if a.dtype != b.dtype:
            raise TypeError("'%s' has dtype %s before the loop, but dtype %s after one iteration"
                            % (name, b.dtype.name, a.dtype.name))
        shape = TensorShape(shapes[j]) if shapes is not None else b.shape
        if not shape.is_compatible_with(a.shape):
            raise ValueError("'%s' has shape %s before the loop, but shape %s after one "
                             "iteration. Use tf.autograph.experimental.set_loop_options to set "
                             "shape invariants." % (name, b.shape, a.shape))
        out.append(a)
    return nest.pack_sequence_as(after, out)


def _user_invariants(opts, values):
    """Each loop variable's shape from set_loop_options(shape_invariants=[(var, shape)]),
    matched by identity as TF matches them; None where none was given."""
    given = opts.get("shape_invariants") or ()
    out = []
    for v in values:
        found = [s for var, s in given if var is v]
        out.append(TensorShape(found[0]) if found and not nest.is_nested(v) else
                   found[0] if found else None)
    return out


def _trial_trace(step, hidden, init, get_state, set_state):
    """The state after one traced iteration, in a graph thrown away after (what a name that
    has no value before the loop becomes in the body)."""
    outer = get_default_graph()
    trial = func_graph.FuncGraph("autograph_trial", outer)
    with trial.as_default():
        set_state(init)
        step(hidden)
        found = list(get_state())
    set_state(init)
    return found


def _array_with_rows(array, found, name):
    """A TensorArray that gets its first element inside the loop, given the tensor it will
    carry: zeros of the element shape the trial trace wrote."""
    if not isinstance(found, TensorArray) or found.flow is None:
        raise ValueError("TensorArray '%s' is read in a loop before any element is written to "
                         "it, and its element_shape is unknown" % name)
    element = TensorShape(found.flow.shape.as_list()[1:]) if found.flow.shape.rank else None
    if element is None or not element.is_fully_defined():
        raise ValueError("TensorArray '%s' is first written inside a loop with elements of shape "
                         "%s: give it element_shape=... so the loop can carry it"
                         % (name, element))
    rows = array._size if not array.dynamic_size else 0
    return array._like(array._zeros(element.as_list(), rows), element)


def _placeholder_value(t):
    t = dispatch.convert_to_tensor(t) if not isinstance(t, Tensor) else t
    dims = t.shape.as_tuple()
    shape = [0 if d is None else d for d in dims] if dims is not None else []
    return array_ops.zeros(shape, t.dtype)


def iterator_next(iterator):
    """next(iterator) on a tf.data iterator inside a traced function: an op that takes the
    next element each time the function runs (TF's iterator is a resource the same way)."""
    from distflow.ops import script_ops
    spec = iterator.element_spec
    flat = nest.flatten(spec)

    def pull():
        return [np.asarray(t.numpy()) for t in nest.flatten(iterator.get_next())]
    out = script_ops._apply(script_ops.PyFunc, pull, [], [s.dtype for s in flat], None,
                            shapes=[s.shape for s in flat])
    return nest.pack_sequence_as(spec, out)

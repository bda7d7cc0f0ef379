"""tf.py_function and tf.numpy_function: Python code run as one op of a graph.

EagerPyFunc calls `func` on EagerTensors, eagerly, whenever the op runs (in a Session plan, a
df.function or eagerly), and is differentiable: its gradient is another EagerPyFunc that runs
`func` again under a GradientTape (so second derivatives work too). PyFunc
(numpy_function) calls `func` on NumPy arrays and has no gradient. Both are stateful, as in
TF: a df.function runs them on every call even when nothing reads their outputs. Their output
shapes are unknown while building, as TF's are.
"""
import contextlib

import numpy as np

from distflow import backend
from distflow.framework import context, dtypes
from distflow.framework.eager import EagerTensor
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import dispatch
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def

__all__ = ["py_function", "numpy_function"]  # py_func: compat.v1 only


@contextlib.contextmanager
def _on_its_own():
    """Eager, and outside any tape the caller has open: the op's gradient is its own."""
    ctx = context.ctx
    tapes, paused = ctx.tapes, ctx.recording_paused
    ctx.tapes, ctx.recording_paused = [], 0
    try:
        with context.eager_mode():
            yield
    finally:
        ctx.tapes, ctx.recording_paused = tapes, paused


def _outputs(result, tout, to_array):
    single = not isinstance(tout, (list, tuple))
    touts = [tout] if single else list(tout)
    results = [result] if single else list(result if isinstance(result, (list, tuple))
                                            else [result])
    if len(results) != len(touts):
        raise ValueError("The Python function returned %d values for %d Tout dtypes"
                         % (len(results), len(touts)))
    arrays = tuple(to_array(r, dtypes.as_dtype(t)) for r, t in zip(results, touts))
    return arrays[0] if len(arrays) == 1 else arrays  # one output: the array itself


def _infer(*inputs, func, Tout, shapes=None):
    touts = Tout if isinstance(Tout, (list, tuple)) else [Tout]
    shapes = shapes or [None] * len(touts)
    return [(TensorShape(s), dtypes.as_dtype(t)) for s, t in zip(shapes, touts)]


def _eager_py_forward(xp, *arrays, func, Tout, shapes=None):
    with _on_its_own():
        result = func(*[EagerTensor(a) for a in arrays])
        return _outputs(result, Tout, lambda r, d: dispatch.to_eager(r, d)._value)


def _eager_py_grad(op, *dys):
    func = op.attrs["func"]
    xs = list(op.inputs)
    n = len(xs)
    wanted = [i for i, x in enumerate(xs) if x.dtype.is_floating]
    if not wanted:
        return [None] * n

    def vjp(*args):
        from distflow.autodiff.tape import GradientTape  # lazily: autodiff sits above ops
        inputs, seeds = list(args[:n]), list(args[n:])
        with GradientTape() as tape:
            for i in wanted:
                tape.watch(inputs[i])
            ys = func(*inputs)
        flat_ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
        grads = tape.gradient(flat_ys, [inputs[i] for i in wanted],
                              output_gradients=seeds[:len(flat_ys)],
                              unconnected_gradients="zero")
        return grads
    outs = py_function(vjp, xs + list(dys), [xs[i].dtype for i in wanted])
    result = [None] * n
    for k, i in enumerate(wanted):
        result[i] = outs[k]
    return result


EagerPyFunc = op_def("EagerPyFunc", effects="host", infer=_infer, forward=_eager_py_forward,
                     grad=_eager_py_grad, doc="tf.py_function: Python on EagerTensors")


def _numpy_forward(xp, *arrays, func, Tout, shapes=None):
    host = [backend.to_numpy(a) for a in arrays]
    with _on_its_own():
        result = func(*host)
        return _outputs(result, Tout, lambda r, d: xp.asarray(np.asarray(r, d.as_numpy_dtype)))


PyFunc = op_def("PyFunc", effects="host",
                infer=_infer, forward=_numpy_forward, grad=NOT_DIFFERENTIABLE,
                doc="tf.numpy_function: Python on NumPy arrays")


def _decorator_or_call(opdef, func, inp, Tout, name):
    if func is None:  # @tf.py_function(Tout=...): a decorator
        def decorate(f):
            def wrapped(*args):
                return _apply(opdef, f, args, Tout, name)
            wrapped.__name__ = getattr(f, "__name__", "py_function")
            return wrapped
        return decorate
    if inp is None:  # tf.py_function(func, Tout=...) without inputs yet: a decorator of func
        return lambda *args: _apply(opdef, func, args, Tout, name)
    return _apply(opdef, func, inp, Tout, name)


def _apply(opdef, func, inp, Tout, name, shapes=None):
    if Tout is None:
        raise TypeError("%s needs Tout, the dtype (or list of dtypes) of what func returns"
                        % ("py_function" if opdef is EagerPyFunc else "numpy_function"))
    inputs = [x if dispatch.dtype_of(x) is not None else dispatch.convert_to_tensor(x)
              for x in inp]
    attrs = {"func": func, "Tout": Tout}
    if shapes is not None:  # known output shapes (a dataset iterator's element_spec)
        attrs["shapes"] = shapes
    out = dispatch.apply(opdef, inputs, attrs, name=name)
    if isinstance(Tout, (list, tuple)):  # a list of dtypes gives a list, even of one
        return list(out) if isinstance(out, tuple) else [] if out is None or \
            not hasattr(out, "dtype") else [out]
    return out


def py_function(func=None, inp=None, Tout=None, name=None):
    """`func(*inp)` run eagerly whenever the op runs; differentiable."""
    return _decorator_or_call(EagerPyFunc, func, inp, Tout, name)


def numpy_function(func=None, inp=None, Tout=None, stateful=True, name=None):
    """`func` on NumPy arrays whenever the op runs; not differentiable."""
    return _decorator_or_call(PyFunc, func, inp, Tout, name)


def py_func(func, inp, Tout, stateful=True, name=None):
    """TF1's tf.py_func: numpy_function under its old name."""
    return _decorator_or_call(PyFunc, func, inp, Tout, name)

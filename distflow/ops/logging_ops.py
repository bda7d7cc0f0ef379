"""Print (TF1) and PrintV2 (`tf.print`): ops whose effect is a line of text when they run.

Both print per process, as TF does: these are the user's own prints, so unlike the runtime's
progress lines they are not limited to rank 0. Numbers are written as TF's C++ writes them
(floats with the fewest of 6 or 9 significant digits that give the value back, `1e-08`, booleans
as 1 and 0), so a course's expected output matches character for character. The stream is looked
up when the op runs, so `sys.stderr` replaced later (pytest's capture, a notebook) still gets it.
"""
import sys

import numpy as np

from distflow import backend
from distflow.framework.eager import EagerTensor
from distflow.framework.graph import Tensor
from distflow.ops import dispatch
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def

__all__ = ["Print", "print_v2"]


# -- numbers as TF's C++ prints them ------------------------------------------------------------
def _element(v):
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (np.floating, float)):
        if isinstance(v, np.float64) or type(v) is float:
            short, long_ = "%.15g", "%.17g"
        else:  # float32 and float16, printed as a C++ float
            v, short, long_ = np.float32(v), "%.6g", "%.9g"
        s = short % v
        return s if np.isnan(v) or type(v)(s) == v else long_ % v
    return str(v)


def summarize_flat(array, summarize):
    """TF1 Print's form: the first `summarize` elements in row-major order, nested in brackets
    as far as they reach (`[1.5 2][0.1...]...` for a 2x2 tensor and 3 elements)."""
    array = np.asarray(array)
    flat = array.reshape(-1)
    limit = flat.size if summarize is None or summarize < 0 else min(summarize, flat.size)
    if array.ndim == 0:
        return _element(flat[0])
    out, index = [], [0]

    def dim(d):  # TF's PrintOneDim
        if index[0] >= limit:
            return
        if d == array.ndim - 1:
            for i in range(array.shape[d]):
                if index[0] >= limit:
                    if d != 0:
                        out.append("...")
                    return
                out.append((" " if i else "") + _element(flat[index[0]]))
                index[0] += 1
            return
        for _ in range(array.shape[d]):
            opened = index[0] < limit
            if opened:
                out.append("[")
            dim(d + 1)
            if opened:
                out.append("]")
    dim(0)
    return "".join(out) + ("..." if flat.size > limit else "")


def summarize_nested(array, summarize):
    """tf.print's form: NumPy-like nesting; an axis longer than 2 * summarize shows its first and
    last `summarize` entries around `...`."""
    array = np.asarray(array)
    if summarize is None or summarize < 0:
        summarize = max(array.shape, default=0)

    def fmt(a, depth):
        if a.ndim == 0:
            return _element(a[()])
        n = a.shape[0]
        if n > 2 * summarize:
            parts = [fmt(a[i], depth + 1) for i in range(summarize)] + ["..."] + \
                [fmt(a[i], depth + 1) for i in range(n - summarize, n)]
        else:
            parts = [fmt(a[i], depth + 1) for i in range(n)]
        sep = " " if a.ndim == 1 else "\n" * (a.ndim - 1) + " " * (depth + 1)
        return "[" + sep.join(parts) + "]"
    return fmt(array, 0)


def _stream(token):
    if token == "stdout":
        return sys.stdout
    if token == "stderr":
        return sys.stderr
    return token  # an object with write(), or a "file://path" string (opened when printing)


def _write(token, text):
    out = _stream(token)
    if isinstance(out, str):
        with open(out[len("file://"):], "a") as f:
            f.write(text)
        return
    out.write(text)
    if hasattr(out, "flush"):
        out.flush()


def _host(a):
    return backend.to_numpy(a)


# -- Print: an identity that logs --------------------------------------------------------------
def _print_kernel(op, runtime):
    attrs = op.attrs
    count = [0] if runtime is None else runtime.op_state(op, lambda: [0])  # first_n, per session

    def run(x, *data):
        if attrs["first_n"] < 0 or count[0] < attrs["first_n"]:
            count[0] += 1
            text = attrs["message"] + "".join(
                "[%s]" % summarize_flat(_host(d), attrs["summarize"]) for d in data)
            _write("stderr", text + "\n")
        return x
    return run


_Print = op_def("Print", effects="print", infer=lambda x, *data, **attrs: [(x.shape, x.dtype)],
                kernel=_print_kernel, aliases=True,
                # TF's _PrintGrad: the gradient passes to input_; the logged data get none
                grad=lambda op, dy: (dy,) + (None,) * (len(op.inputs) - 1))


def Print(input_, data, message=None, first_n=None, summarize=None, name=None):
    """TF1's tf.Print: `input_` unchanged; running it writes `message` and each of `data` (its
    first `summarize` values, 3 by default) to stderr, the first `first_n` times only."""
    data = [dispatch.convert_to_tensor(d) for d in data]
    attrs = {"message": "" if message is None else str(message),
             "first_n": -1 if first_n is None else int(first_n),
             "summarize": 3 if summarize is None else int(summarize)}
    return dispatch.apply(_Print, [input_] + data, attrs, name=name)


# -- PrintV2: tf.print -------------------------------------------------------------------------
class _Slot:
    """Where the i-th tensor goes in the printed structure."""
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


def _is_tensor(x):
    return isinstance(x, (Tensor, EagerTensor)) or hasattr(x, "_graph_tensor") \
        or hasattr(x, "_eager_read")


def _template(x, tensors):
    if _is_tensor(x):
        tensors.append(x)
        return _Slot(len(tensors) - 1)
    if isinstance(x, (list, tuple)):
        return type(x)(_template(v, tensors) for v in x) if not hasattr(x, "_fields") \
            else type(x)(*[_template(v, tensors) for v in x])
    if isinstance(x, dict):
        return {k: _template(v, tensors) for k, v in x.items()}
    return x


def _render(x, values, summarize, top):
    if isinstance(x, _Slot):
        return summarize_nested(_host(values[x.index]), summarize)
    if isinstance(x, list):
        return "[" + ", ".join(_render(v, values, summarize, False) for v in x) + "]"
    if isinstance(x, tuple):
        inner = ", ".join(_render(v, values, summarize, False) for v in x)
        return "(" + inner + ("," if len(x) == 1 else "") + ")"
    if isinstance(x, dict):  # TF sorts the keys, as nest does
        return "{" + ", ".join("%r: %s" % (k, _render(x[k], values, summarize, False))
                               for k in sorted(x)) + "}"
    return str(x) if top else repr(x)


def _print_v2_kernel(op, runtime):
    a = op.attrs

    def run(*values):
        text = a["sep"].join(_render(x, values, a["summarize"], True) for x in a["template"])
        _write(a["output_stream"], text + a["end"])
    return run


_PrintV2 = op_def("PrintV2", effects="print",
                  infer=lambda *tensors, **attrs: [], kernel=_print_v2_kernel,
                  grad=NOT_DIFFERENTIABLE)  # no outputs


# the default argument is the stream of import time: it, too, means "stderr when printing"
_STDOUT_AT_IMPORT, _STDERR_AT_IMPORT = sys.stdout, sys.stderr


def print_v2(*inputs, output_stream=sys.stderr, summarize=3, sep=" ", end="\n", name=None):
    """tf.print: eagerly, prints now and returns None; building a graph, returns the op that
    prints when it runs (TF1: run it, or make something depend on it; a df.function runs it in
    program order). Tensors anywhere in `inputs` (lists, tuples, dicts) print as their values."""
    tensors = []
    template = [_template(x, tensors) for x in inputs]
    token = output_stream
    if any(output_stream is s for s in (sys.stdout, sys.__stdout__, _STDOUT_AT_IMPORT)):
        token = "stdout"
    elif any(output_stream is s for s in (sys.stderr, sys.__stderr__, _STDERR_AT_IMPORT)):
        token = "stderr"
    elif isinstance(output_stream, str) and not output_stream.startswith("file://"):
        raise ValueError("Unsupported output stream %r: give sys.stdout, sys.stderr or a "
                         "'file://' path" % (output_stream,))
    attrs = {"template": template, "output_stream": token, "sep": sep, "end": end,
             "summarize": summarize}
    return dispatch.apply(_PrintV2, [dispatch.convert_to_tensor(t) for t in tensors], attrs,
                          name=name)

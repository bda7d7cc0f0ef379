"""Runs one program against distflow and against TensorFlow and says where they differ.

A case is a function of a module: `lambda m, x, y: m.math.add(x, y)` is called once with
`distflow` and once with `tensorflow` (TF1 cases get `distflow.compat.v1` and
`tensorflow.compat.v1`), so both sides run the same text, the way a course program does when
only its import line changes. The harness compares what a user would see: values, shapes,
dtypes, gradients, and whether (and with which error class) a call fails.

It needs TensorFlow, which distflow never does, so it lives outside the test suite:

    python -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu pyyaml tqdm
    /tmp/tfenv/bin/pip install --no-deps -e .
    /tmp/tfenv/bin/python scripts/tf_parity/run.py          # every case file, a report
"""
import os
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import distflow as df  # noqa: E402

MISMATCHES = []
CHECKED = [0]


def _report(case, what):
    MISMATCHES.append((case, "%s: %s" % (case, what)))


def to_numpy(x):
    """A result as NumPy (tensors, variables, nested lists and tuples)."""
    if isinstance(x, (list, tuple)):  # a namedtuple (unique's) comes back as a plain tuple
        return [to_numpy(v) for v in x] if isinstance(x, list) else tuple(to_numpy(v) for v in x)
    if hasattr(x, "numpy"):
        return np.asarray(x.numpy())
    return np.asarray(x)


def _flat(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _dtype_name(t):
    d = getattr(t, "dtype", None)
    return getattr(d, "name", str(d))


def _shape(t):
    s = getattr(t, "shape", None)
    return None if s is None else str(s)


def compare_arrays(case, what, a, b, rtol, atol):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        _report(case, "%s shape: distflow %s, TF %s" % (what, a.shape, b.shape))
        return False
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        ok = np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
    else:
        ok = np.array_equal(a, b)
    if not ok:
        _report(case, "%s values differ:\n    distflow %s\n    TF       %s"
                % (what, np.array2string(a, threshold=20), np.array2string(b, threshold=20)))
    return ok


def _call(fn, module, args):
    try:
        return fn(module, *args), None
    except Exception as e:  # noqa: BLE001 (the error itself is what is compared)
        return None, e


def _error_name(e):
    return type(e).__name__


def check(case, fn, inputs, grad=False, rtol=1e-5, atol=1e-6, dtypes=True, wrt=None):
    """Eager (TF2) parity: `fn(m, *tensors)` with inputs given as NumPy arrays (or Python
    values). With `grad`, also the gradient of sum(w * out) for random w with respect to the
    float inputs (or the indices in `wrt`)."""
    CHECKED[0] += 1
    args_df = [df.constant(a) if isinstance(a, np.ndarray) else a for a in inputs]
    args_tf = [tf.constant(a) if isinstance(a, np.ndarray) else a for a in inputs]
    out_df, err_df = _call(fn, df, args_df)
    out_tf, err_tf = _call(fn, tf, args_tf)
    if err_df is not None or err_tf is not None:
        if err_df is None:
            _report(case, "TF raises %s (%s), distflow returns %s"
                    % (_error_name(err_tf), str(err_tf).splitlines()[0][:200],
                       to_numpy(out_df)))
        elif err_tf is None:
            _report(case, "distflow raises %s: %s\n    TF returns %s" % (
                _error_name(err_df), "".join(traceback.format_exception_only(err_df)).strip()[:400],
                to_numpy(out_tf)))
        elif _error_name(err_df) != _error_name(err_tf):
            _report(case, "error class: distflow %s (%s), TF %s (%s)"
                    % (_error_name(err_df), str(err_df)[:160], _error_name(err_tf),
                       str(err_tf).splitlines()[0][:160]))
        return
    outs_df, outs_tf = _flat(out_df), _flat(out_tf)
    if len(outs_df) != len(outs_tf):
        _report(case, "distflow gives %d outputs, TF %d" % (len(outs_df), len(outs_tf)))
        return
    for i, (a, b) in enumerate(zip(outs_df, outs_tf)):
        if dtypes and _dtype_name(a) != _dtype_name(b):
            _report(case, "output %d dtype: distflow %s, TF %s" % (i, _dtype_name(a),
                                                                    _dtype_name(b)))
        compare_arrays(case, "output %d" % i, to_numpy(a), to_numpy(b), rtol, atol)
    if grad:
        _check_grad(case, fn, inputs, rtol, atol, wrt)


def _check_grad(case, fn, inputs, rtol, atol, wrt):
    idx = list(wrt) if wrt is not None else [
        i for i, a in enumerate(inputs) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    rng = np.random.default_rng(0)
    grads = {}
    for name, m in (("distflow", df), ("TF", tf)):
        args = [m.constant(a) if isinstance(a, np.ndarray) else a for a in inputs]
        try:
            with m.GradientTape() as tape:
                for i in idx:
                    tape.watch(args[i])
                outs = _flat(fn(m, *args))
                total = 0.0
                for o in outs:
                    if o.dtype.is_floating:
                        w = rng.standard_normal(tuple(o.shape)).astype(o.dtype.as_numpy_dtype)
                        total = total + m.reduce_sum(o * m.constant(w))
            g = tape.gradient(total, [args[i] for i in idx])
            grads[name] = [None if x is None else to_numpy(m.convert_to_tensor(x)) for x in g]
        except Exception as e:  # noqa: BLE001
            grads[name] = e
        rng = np.random.default_rng(0)  # the same w on both sides
    a, b = grads["distflow"], grads["TF"]
    if isinstance(a, Exception) or isinstance(b, Exception):
        if not (isinstance(a, Exception) and isinstance(b, Exception)):
            _report(case, "gradient: distflow %s, TF %s" % (
                _error_name(a) + ": " + str(a)[:300] if isinstance(a, Exception) else "works",
                _error_name(b) + ": " + str(b)[:300] if isinstance(b, Exception) else "works"))
        return
    for i, ga, gb in zip(idx, a, b):
        if (ga is None) != (gb is None):
            _report(case, "gradient of input %d: distflow %s, TF %s" % (
                i, "None" if ga is None else "a value", "None" if gb is None else "a value"))
        elif ga is not None:
            compare_arrays(case, "gradient of input %d" % i, ga, gb, rtol, atol)


def same(case, what, value_df, value_tf):
    """Any other observation (a name, a printed string, a shape): equal or reported."""
    CHECKED[0] += 1
    if value_df != value_tf:
        _report(case, "%s: distflow %r, TF %r" % (what, value_df, value_tf))


def both(fn):
    """(fn(distflow-side), fn(TF-side)) for TF1 code: each runs in a fresh default graph.
    Returns (result or exception) pairs."""
    import distflow.compat.v1 as dv1
    tv1 = tf.compat.v1
    results = []
    for m in (dv1, tv1):
        try:
            g = m.Graph()
            with g.as_default():
                results.append(fn(m))
        except Exception as e:  # noqa: BLE001
            results.append(e)
    return tuple(results)


def report():
    """Prints the mismatches, the known ones (known_differences.py) apart under their reasons;
    returns the exit status: 1 when a mismatch is not a known one."""
    from known_differences import reason
    known, news = {}, []
    for case, line in MISMATCHES:
        why = reason(case)
        if why is None:
            news.append(line)
        else:
            known.setdefault(why, []).append(case)
    for why, cases in known.items():
        print("KNOWN (%s): %s" % (why, "; ".join(cases)))
    for line in news:
        print("MISMATCH " + line)
    print("%d checks, %d mismatches: %d known (known_differences.py), %d not"
          % (CHECKED[0], len(MISMATCHES), len(MISMATCHES) - len(news), len(news)))
    return 1 if news else 0

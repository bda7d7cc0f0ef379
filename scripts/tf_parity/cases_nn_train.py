"""Parity of tf.nn ops, losses, metrics, optimizers, learning-rate decay and clipping.

Groups:
  A. tf.nn activations, softmax and cross-entropies (values, dtypes, gradients, errors), dropout
     (shape and scaling only), bias_add, l2_loss.
  B. TF1 tf.compat.v1.losses (weights, reductions) in a Session.
  C. TF2 losses (tf.losses = keras losses) and metrics.
  D. TF1 optimizers: a 13->4->1 ReLU net on fixed data, 20 steps, final variables compared.
  E. TF2 optimizers (tf.keras.optimizers vs df.optimizers) on the same net, eagerly.
  F. Learning-rate decay (TF1 functions, TF2 schedules), global_step.
  G. clip_by_global_norm / clip_by_norm / global_norm.
"""
import subprocess
import sys

import numpy as np

import harness
from harness import both, check, same

rng = np.random.default_rng(1234)


def f32(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def pair(case, a, b, rtol=1e-5, atol=1e-6):
    """Compares the (distflow, TF) results of `both`: lists of arrays, or exceptions."""
    harness.CHECKED[0] += 1
    ea, eb = isinstance(a, Exception), isinstance(b, Exception)
    if ea or eb:
        if ea and eb:
            if type(a).__name__ != type(b).__name__:
                harness._report(case, "error class: distflow %s (%s), TF %s (%s)" % (
                    type(a).__name__, str(a)[:150], type(b).__name__, str(b).splitlines()[0][:150]))
        elif ea:
            harness._report(case, "distflow raises %s: %s\n    TF returns %s" % (
                type(a).__name__, str(a).splitlines()[0][:300] if str(a) else "",
                np.array2string(np.asarray(b[0]) if isinstance(b, list) else np.asarray(b),
                                threshold=10)))
        else:
            harness._report(case, "TF raises %s (%s), distflow returns a value" % (
                type(b).__name__, str(b).splitlines()[0][:200]))
        return
    a, b = harness._flat(a), harness._flat(b)
    if len(a) != len(b):
        harness._report(case, "distflow gives %d outputs, TF %d" % (len(a), len(b)))
        return
    for i, (x, y) in enumerate(zip(a, b)):
        harness.compare_arrays(case, "output %d" % i, x, y, rtol, atol)


def run_v1(build):
    """A `both` body: builds fetches with `build(m)`, runs init, returns sess.run(fetches)."""
    def fn(m):
        fetches = build(m)
        with m.Session() as s:
            s.run(m.global_variables_initializer())
            return list(s.run(fetches))
    return fn


# ==================================================================================================
# A. tf.nn ops
# ==================================================================================================
x = f32(3, 5)
x[0, 0], x[0, 1], x[0, 2] = 0.0, 6.0, -0.0   # the kinks of relu / relu6
x64 = f32(3, 5).astype(np.float64)
x3 = f32(2, 3, 4)

for name, fn in [
        ("relu", lambda m, a: m.nn.relu(a)),
        ("relu6", lambda m, a: m.nn.relu6(a * 4.0)),
        ("leaky_relu", lambda m, a: m.nn.leaky_relu(a)),
        ("leaky_relu alpha", lambda m, a: m.nn.leaky_relu(a, alpha=0.3)),
        ("elu", lambda m, a: m.nn.elu(a)),
        ("selu", lambda m, a: m.nn.selu(a)),
        ("softplus", lambda m, a: m.nn.softplus(a * 10.0)),
        ("sigmoid", lambda m, a: m.nn.sigmoid(a * 10.0)),
        ("tanh", lambda m, a: m.nn.tanh(a)),
        ("softmax", lambda m, a: m.nn.softmax(a)),
        ("softmax axis0", lambda m, a: m.nn.softmax(a, axis=0)),
        ("log_softmax", lambda m, a: m.nn.log_softmax(a)),
        ("log_softmax axis0", lambda m, a: m.nn.log_softmax(a, axis=0)),
        ("l2_loss", lambda m, a: m.nn.l2_loss(a)),
        ("l2_normalize", lambda m, a: m.nn.l2_normalize(a, axis=-1)),
        ("moments", lambda m, a: m.nn.moments(a, axes=[0])),
        ("moments keepdims", lambda m, a: m.nn.moments(a, axes=[0, 1], keepdims=True)),
]:
    check("nn." + name, fn, [x], grad=True)
    check("nn." + name + " float64", fn, [x64], grad=True)

# relu-family gradients exactly at the kink (0 for relu at 0; TF's EluGrad gives dy at 0)
zeros = np.zeros((4,), np.float32)
for name in ["relu", "elu", "relu6", "leaky_relu", "selu", "softplus"]:
    check("nn.%s grad at 0" % name, lambda m, a, n=name: getattr(m.nn, n)(a), [zeros], grad=True)
check("nn.relu6 grad at 6", lambda m, a: m.nn.relu6(a + 6.0), [zeros], grad=True)

check("nn.softmax rank3 axis1", lambda m, a: m.nn.softmax(a, axis=1), [x3], grad=True)
check("nn.log_softmax rank3 axis1", lambda m, a: m.nn.log_softmax(a, axis=1), [x3], grad=True)
check("nn.softmax large logits", lambda m, a: m.nn.softmax(a * 1000.0), [x], grad=True)
check("nn.softmax int input", lambda m, a: m.nn.softmax(a), [np.arange(6, dtype=np.int32)])
check("nn.relu int input", lambda m, a: m.nn.relu(a), [np.arange(-3, 3, dtype=np.int32)])
check("nn.softmax axis out of range", lambda m, a: m.nn.softmax(a, axis=2), [x])

# cross-entropies
logits = f32(4, 5, scale=3.0)
probs = np.abs(f32(4, 5)) + 0.1
probs = (probs / probs.sum(-1, keepdims=True)).astype(np.float32)
onehot = np.eye(5, dtype=np.float32)[[1, 0, 4, 2]]
bin_labels = (rng.random((4, 5)) > 0.5).astype(np.float32)
ids32 = np.array([1, 0, 4, 2], np.int32)

check("nn.sigmoid_cross_entropy_with_logits",
      lambda m, z, l: m.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=l),
      [bin_labels, logits * 10], grad=True)
check("nn.sigmoid_cross_entropy_with_logits soft labels",
      lambda m, z, l: m.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=l),
      [probs, logits], grad=True)
check("nn.sigmoid_cross_entropy_with_logits shape mismatch",
      lambda m, z, l: m.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=l),
      [bin_labels[:, :4], logits])
check("nn.softmax_cross_entropy_with_logits (v2, labels grad)",
      lambda m, z, l: m.nn.softmax_cross_entropy_with_logits(labels=z, logits=l),
      [probs, logits], grad=True)
check("nn.softmax_cross_entropy_with_logits axis0",
      lambda m, z, l: m.nn.softmax_cross_entropy_with_logits(labels=z, logits=l, axis=0),
      [probs, logits], grad=True)
check("nn.softmax_cross_entropy_with_logits rank3",
      lambda m, z, l: m.nn.softmax_cross_entropy_with_logits(labels=m.nn.softmax(z), logits=l),
      [x3, x3 * 2], grad=True)
check("nn.softmax_cross_entropy_with_logits int labels",
      lambda m, z, l: m.nn.softmax_cross_entropy_with_logits(labels=z, logits=l),
      [onehot.astype(np.int32), logits])
check("nn.sparse_softmax_cross_entropy_with_logits int32",
      lambda m, z, l: m.nn.sparse_softmax_cross_entropy_with_logits(labels=z, logits=l),
      [ids32, logits], grad=True)
check("nn.sparse_softmax_cross_entropy_with_logits int64",
      lambda m, z, l: m.nn.sparse_softmax_cross_entropy_with_logits(labels=z, logits=l),
      [ids32.astype(np.int64), logits.astype(np.float64)], grad=True)
check("nn.sparse_softmax_cross_entropy_with_logits label out of range",
      lambda m, z, l: m.nn.sparse_softmax_cross_entropy_with_logits(labels=z, logits=l),
      [np.array([1, 0, 7, 2], np.int32), logits])
check("nn.sparse_softmax_cross_entropy_with_logits float labels",
      lambda m, z, l: m.nn.sparse_softmax_cross_entropy_with_logits(labels=z, logits=l),
      [ids32.astype(np.float32), logits])
check("nn.sparse_softmax_cross_entropy_with_logits rank mismatch",
      lambda m, z, l: m.nn.sparse_softmax_cross_entropy_with_logits(labels=z, logits=l),
      [ids32[:, None], logits])


# TF1 softmax_cross_entropy_with_logits (v1) stops the gradient into labels; _v2 does not.
def _xent_v1(fname):
    def build(m):
        z = m.constant(probs)
        lg = m.constant(logits)
        loss = m.reduce_sum(getattr(m.nn, fname)(labels=z, logits=lg) * m.constant([1., 2, 3, 4]))
        g = m.gradients(loss, [z, lg])
        return [loss, g[1], m.constant(np.float32(np.nan)) if g[0] is None else g[0]]
    return build


for fname in ["softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits_v2"]:
    pair("v1 nn.%s labels gradient (NaN = None)" % fname, *both(run_v1(_xent_v1(fname))))

# bias_add
check("nn.bias_add 2d", lambda m, a, b: m.nn.bias_add(a, b), [x, f32(5)], grad=True)
check("nn.bias_add 4d NHWC", lambda m, a, b: m.nn.bias_add(a, b),
      [f32(2, 3, 3, 4), f32(4)], grad=True)
check("nn.bias_add 4d NCHW", lambda m, a, b: m.nn.bias_add(a, b, data_format="NCHW"),
      [f32(2, 4, 3, 3), f32(4)], grad=True)
check("nn.bias_add wrong bias size", lambda m, a, b: m.nn.bias_add(a, b), [x, f32(4)])
check("nn.bias_add bias rank 2", lambda m, a, b: m.nn.bias_add(a, b), [x, f32(1, 5)])
check("nn.bias_add dtype mismatch", lambda m, a, b: m.nn.bias_add(a, b), [x, f32(5).astype(np.float64)])
check("nn.l2_loss int", lambda m, a: m.nn.l2_loss(a), [np.arange(4, dtype=np.int32)])


# dropout: not the random values, only what is deterministic about them
def _all(m, cond, axis=None):
    """reduce_all without reduce_all (distflow lacks it): an int32 0/1."""
    return m.reduce_min(m.cast(cond, m.int32), axis=axis)


def _dropout_facts(m, a, rate, **kw):
    out = m.nn.dropout(a, rate=rate, **kw)
    kept = m.cast(m.not_equal(out, 0.0), m.float32)
    scaled_ok = _all(m, m.logical_or(m.equal(out, 0.0),
                                     m.less(m.abs(out - a / (1.0 - rate)), 1e-5)))
    return [m.shape(out), scaled_ok, out.dtype == a.dtype and 1 or 0,
            m.cast(m.reduce_mean(kept) > (1 - rate) - 0.1, m.int32),
            m.cast(m.reduce_mean(kept) < (1 - rate) + 0.1, m.int32)]


big = np.abs(f32(200, 50)) + 1.0
check("nn.dropout rate 0.3 (shape, scaling, kept fraction)",
      lambda m, a: _dropout_facts(m, a, 0.3), [big], dtypes=False)
check("nn.dropout rate 0.0 is identity", lambda m, a: m.nn.dropout(a, rate=0.0), [x])
check("nn.dropout float64", lambda m, a: m.nn.dropout(a, rate=0.5).dtype.name, [x64], dtypes=False)
check("nn.dropout rate 1", lambda m, a: m.nn.dropout(a, rate=1.0), [x])
check("nn.dropout rate -0.1", lambda m, a: m.nn.dropout(a, rate=-0.1), [x])
check("nn.dropout keep_prob in TF2", lambda m, a: m.nn.dropout(a, keep_prob=0.5).shape, [x],
      dtypes=False)
check("nn.dropout int input", lambda m, a: m.nn.dropout(a, rate=0.5), [np.arange(4, dtype=np.int32)])


def _row_mask_ok(m, a):
    out = m.nn.dropout(a, rate=0.5, noise_shape=[200, 1])
    rows_zero = _all(m, m.equal(out, 0.0), axis=1)
    rows_kept = _all(m, m.not_equal(out, 0.0), axis=1)
    return m.reduce_min(m.maximum(rows_zero, rows_kept))


check("nn.dropout noise_shape [n,1] drops whole rows", _row_mask_ok, [big])


def _dropout_v1(m):
    a = m.constant(big)
    out = m.nn.dropout(a, keep_prob=0.75)
    ok = _all(m, m.logical_or(m.equal(out, 0.0), m.less(m.abs(out - a / 0.75), 1e-5)))
    frac = m.reduce_mean(m.cast(m.not_equal(out, 0.0), m.float32))
    return [ok, m.cast(m.abs(frac - 0.75) < 0.05, m.int32), m.shape(out)]


pair("v1 nn.dropout keep_prob", *both(run_v1(_dropout_v1)))

# ==================================================================================================
# B. TF1 losses: weights and reductions (default SUM_BY_NONZERO_WEIGHTS)
# ==================================================================================================
lab = f32(6, 3)
pred = lab + f32(6, 3, scale=1.5)
w_col = np.array([[1.], [0.], [2.], [0.5], [0.], [1.]], np.float32)
w_full = np.abs(f32(6, 3))
w_full[1] = 0.0

V1_LOSSES = [
    ("mean_squared_error", lambda m, l, p, **kw: m.losses.mean_squared_error(l, p, **kw)),
    ("absolute_difference", lambda m, l, p, **kw: m.losses.absolute_difference(l, p, **kw)),
    ("huber_loss", lambda m, l, p, **kw: m.losses.huber_loss(l, p, **kw)),
]
for lname, lfn in V1_LOSSES:
    for label, kw in [("default", {}),
                      ("weights scalar", {"weights": 2.0}),
                      ("weights column", {"weights": w_col}),
                      ("weights full", {"weights": w_full}),
                      ("SUM", {"reduction": "R.SUM"}),
                      ("MEAN", {"reduction": "R.MEAN", "weights": w_col}),
                      ("NONE", {"reduction": "R.NONE", "weights": w_col}),
                      ("SUM_OVER_BATCH_SIZE", {"reduction": "R.SUM_OVER_BATCH_SIZE",
                                               "weights": w_col}),
                      ("SUM_BY_NONZERO_WEIGHTS", {"reduction": "R.SUM_BY_NONZERO_WEIGHTS",
                                                  "weights": w_full})]:
        def build(m, lfn=lfn, kw=kw):
            kw = dict(kw)
            if "reduction" in kw:
                kw["reduction"] = getattr(m.losses.Reduction, kw["reduction"][2:])
            if "weights" in kw and isinstance(kw["weights"], np.ndarray):
                kw["weights"] = m.constant(kw["weights"])
            return [lfn(m, m.constant(lab), m.constant(pred), **kw)]
        pair("v1 losses.%s %s" % (lname, label), *both(run_v1(build)))

pair("v1 losses.huber_loss delta=0.5",
     *both(run_v1(lambda m: [m.losses.huber_loss(m.constant(lab), m.constant(pred), delta=0.5)])))
pair("v1 losses.huber_loss positional weights (3rd arg)",
     *both(run_v1(lambda m: [m.losses.huber_loss(m.constant(lab), m.constant(pred), 2.0)])))
pair("v1 losses.mean_squared_error positional weights (3rd arg)",
     *both(run_v1(lambda m: [m.losses.mean_squared_error(m.constant(lab), m.constant(pred),
                                                         m.constant(w_col))])))
pair("v1 losses.mean_squared_error (n,) vs (n,1)",
     *both(run_v1(lambda m: [m.losses.mean_squared_error(m.constant(lab[:, 0]),
                                                         m.constant(pred[:, :1]))])))
pair("v1 losses.sigmoid_cross_entropy",
     *both(run_v1(lambda m: [m.losses.sigmoid_cross_entropy(m.constant(bin_labels),
                                                            m.constant(logits))])))
pair("v1 losses.softmax_cross_entropy",
     *both(run_v1(lambda m: [m.losses.softmax_cross_entropy(m.constant(onehot),
                                                            m.constant(logits))])))
pair("v1 losses.sparse_softmax_cross_entropy",
     *both(run_v1(lambda m: [m.losses.sparse_softmax_cross_entropy(m.constant(ids32),
                                                                   m.constant(logits))])))
pair("v1 losses.softmax_cross_entropy label_smoothing",
     *both(run_v1(lambda m: [m.losses.softmax_cross_entropy(m.constant(onehot), m.constant(logits),
                                                            label_smoothing=0.1)])))


def _mse_grad_v1(m):
    p = m.Variable(pred)
    loss = m.losses.mean_squared_error(m.constant(lab), p, weights=m.constant(w_col))
    return [loss, m.gradients(loss, [p])[0]]


pair("v1 losses.mean_squared_error weighted gradient", *both(run_v1(_mse_grad_v1)))


def _loss_collection(m):
    m.losses.mean_squared_error(m.constant(lab), m.constant(pred))
    return [np.int32(len(m.losses.get_losses()))]


pair("v1 losses.get_losses after one loss", *both(lambda m: _loss_collection(m)))

# ==================================================================================================
# C. TF2 losses (tf.losses is keras.losses) and metrics
# ==================================================================================================
y1 = f32(6, 1)
p1 = y1 + f32(6, 1)
# (TF 2.21's tf.losses has no mean_squared_error / mean_absolute_error: Keras 3 dropped them)
for name in ["mse", "mae", "huber"]:
    check("losses.%s (TF2 function: per-sample)" % name,
          lambda m, a, b, n=name: getattr(m.losses, n)(a, b), [lab, pred], grad=True)
check("losses.mse (n,1)", lambda m, a, b: m.losses.mse(a, b),
      [y1, p1], grad=True)
check("losses.huber delta", lambda m, a, b: m.losses.huber(a, b, delta=0.5), [lab, pred])
for cname, args in [("MeanSquaredError", ()), ("MeanAbsoluteError", ()), ("Huber", (0.5,))]:
    check("losses.%s() class" % cname,
          lambda m, a, b, c=cname, args=args: getattr(m.losses, c)(*args)(a, b), [lab, pred])
check("losses.MeanSquaredError sum", lambda m, a, b: m.losses.MeanSquaredError(
    reduction="sum")(a, b), [lab, pred])
check("losses.get('mse')", lambda m, a, b: m.losses.get("mse")(a, b), [lab, pred])
import distflow as _df  # noqa: E402
import tensorflow as _tf  # noqa: E402

sw = np.array([1., 0., 2., 0.5, 0., 1.], np.float32)
for cname, kw in [("MeanSquaredError", {}), ("MeanAbsoluteError", {}), ("Huber", {"delta": 0.5}),
                  ("MeanSquaredError", {"reduction": "sum"}),
                  ("MeanSquaredError", {"reduction": "none"}),
                  ("MeanSquaredError", {"reduction": "mean_with_sample_weight"})]:
    check("losses.%s(%s) sample_weight" % (cname, kw),
          lambda m, a, b, w, c=cname, kw=kw: getattr(m.losses, c)(**kw)(a, b, sample_weight=w),
          [lab, pred, sw])
probs_bin = (1 / (1 + np.exp(-logits))).astype(np.float32)
for name, fn, args in [
        ("binary_crossentropy", lambda m, z, p: m.losses.binary_crossentropy(z, p),
         [bin_labels, probs_bin]),
        ("binary_crossentropy from_logits smoothing", lambda m, z, p: m.losses.binary_crossentropy(
            z, p, from_logits=True, label_smoothing=0.2), [bin_labels, logits]),
        ("categorical_crossentropy", lambda m, z, p: m.losses.categorical_crossentropy(z, p),
         [onehot, probs]),
        ("categorical_crossentropy from_logits", lambda m, z, p: m.losses.categorical_crossentropy(
            z, p, from_logits=True, label_smoothing=0.1), [onehot, logits]),
        ("sparse_categorical_crossentropy", lambda m, z, p: m.losses.sparse_categorical_crossentropy(
            z, p), [ids32, probs]),
        ("BinaryCrossentropy(from_logits)", lambda m, z, p: m.losses.BinaryCrossentropy(
            from_logits=True)(z, p), [bin_labels, logits]),
        ("CategoricalCrossentropy()", lambda m, z, p: m.losses.CategoricalCrossentropy()(z, p),
         [onehot, probs]),
        ("SparseCategoricalCrossentropy(from_logits)",
         lambda m, z, p: m.losses.SparseCategoricalCrossentropy(from_logits=True)(z, p),
         [ids32[:, None], logits])]:
    check("losses." + name, fn, args, grad=True, wrt=[1])
for r in ["NONE", "SUM", "SUM_OVER_BATCH_SIZE"]:
    same("losses.Reduction.%s" % r, "value", getattr(_df.losses.Reduction, r, None),
         getattr(_tf.losses.Reduction, r, None))
check("losses.compute_average_loss (tf.nn)",
      lambda m, a: (m.losses if m.__name__ == "distflow" else m.nn).compute_average_loss(
          a, global_batch_size=10), [f32(4)])


def _metric(cls_df, cls_tf):
    def fn(m, *unused):
        cls = cls_df if m.__name__ == "distflow" else cls_tf
        met = getattr(m.metrics, cls)()
        met.update_state(lab[:4], pred[:4])
        met.update_state(lab[4:], pred[4:])
        r1 = met.result()
        met.reset_state()
        met.update_state(y1, p1)
        return [np.float32(r1), np.float32(met.result())]
    return fn


for cls_df, cls_tf in [("MeanSquaredError", "MeanSquaredError"),
                       ("RootMeanSquaredError", "RootMeanSquaredError"),
                       ("MeanAbsoluteError", "MeanAbsoluteError"),
                       ("R2Score", "R2Score")]:  # distflow's old RSquared is gone (Keras 3 name)
    check("metrics.%s" % cls_df, _metric(cls_df, cls_tf), [], dtypes=False)

for cname in ["MeanSquaredError", "Accuracy"]:
    r_df = getattr(_df.metrics, cname)().update_state(y1, p1)
    r_df = r_df.result() if r_df is not None else None
    r_tf = getattr(_tf.metrics, cname)()
    r_tf.update_state(y1, p1)
    same("metrics.%s result()" % cname, "result type", type(r_df).__name__,
         "float" if not hasattr(r_tf.result(), "numpy") else "float")


def _accuracy(y, p):
    def fn(m, *unused):
        acc = m.metrics.Accuracy()
        acc.update_state(y, p)
        return np.float32(acc.result())
    return fn


check("metrics.Accuracy exact labels", _accuracy(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 4])),
      [], dtypes=False)
check("metrics.Accuracy class scores (keras: equality, not argmax)",
      _accuracy(np.array([1, 0]), np.array([[0.1, 0.9], [0.8, 0.2]], np.float32)), [],
      dtypes=False)


def _metric_on(cname, y, p, **kw):
    def fn(m, *unused):
        met = getattr(m.metrics, cname)(**kw)
        met.update_state(y, p)
        return np.float32(met.result())
    return fn


scores = np.array([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5], [0.3, 0.4, 0.3]], np.float32)
for cname, y, p, kw in [
        ("CategoricalAccuracy", np.eye(3)[[1, 0, 0, 1]], scores, {}),
        ("SparseCategoricalAccuracy", np.array([[1], [0], [0], [1]]), scores, {}),
        ("SparseCategoricalAccuracy", np.array([2, 2, 2, 1]), scores, {}),
        ("BinaryAccuracy", np.array([1, 0, 1, 0]), np.array([0.9, 0.4, 0.2, 0.6]), {}),
        ("BinaryAccuracy", np.array([[1], [0]]), np.array([[2.0], [-1.0]]), {"threshold": 0.0}),
        ("R2Score", lab, pred, {"class_aggregation": "variance_weighted_average"}),
        ("R2Score", lab, pred, {"num_regressors": 2})]:
    check("metrics.%s%s" % (cname, kw or ""), _metric_on(cname, y, p, **kw), [], dtypes=False)
check("metrics.Accuracy probabilities vs 0/1",
      _accuracy(np.array([1., 0., 1.]), np.array([0.7, 0.2, 1.0], np.float32)), [], dtypes=False)

# ==================================================================================================
# D. TF1 optimizers: 13 -> 4 (ReLU) -> 1, MSE, 20 steps, fixed data and initial values
# ==================================================================================================
X = f32(32, 13)
Y = (X @ f32(13, 1) + 0.3 * f32(32, 1)).astype(np.float32)
INIT = [f32(13, 4, scale=0.4), (0.1 + 0.05 * f32(4)).astype(np.float32),
        f32(4, 1, scale=0.4), np.zeros(1, np.float32)]


def model(m, vs):
    h = m.nn.relu(m.matmul(m.constant(X), vs[0]) + vs[1])
    return m.reduce_mean(m.square(m.matmul(h, vs[2]) + vs[3] - m.constant(Y)))


def train_v1(make_opt, steps=20, minimize=True):
    def fn(m):
        vs = [m.Variable(v, name="v%d" % i) for i, v in enumerate(INIT)]
        loss = model(m, vs)
        gs = m.train.get_or_create_global_step()
        opt = make_opt(m, gs)
        if minimize:
            train = opt.minimize(loss, global_step=gs)
        else:
            train = opt.apply_gradients(opt.compute_gradients(loss, var_list=vs), global_step=gs)
        with m.Session() as s:
            s.run(m.global_variables_initializer())
            for _ in range(steps):
                s.run(train)
            return list(s.run(vs + [loss, gs]))
    return fn


T = lambda m: m.train  # noqa: E731
V1_OPTIMIZERS = [
    ("GradientDescent", lambda m, gs: T(m).GradientDescentOptimizer(0.05)),
    ("Momentum", lambda m, gs: T(m).MomentumOptimizer(0.02, 0.9)),
    ("Momentum nesterov", lambda m, gs: T(m).MomentumOptimizer(0.02, 0.9, use_nesterov=True)),
    ("Adam defaults", lambda m, gs: T(m).AdamOptimizer()),
    ("Adam lr 0.05", lambda m, gs: T(m).AdamOptimizer(0.05)),
    ("Adam custom beta/eps", lambda m, gs: T(m).AdamOptimizer(0.03, beta1=0.8, beta2=0.95,
                                                            epsilon=0.1)),
    ("Adagrad", lambda m, gs: T(m).AdagradOptimizer(0.1)),
    ("Adagrad init accum 1.0", lambda m, gs: T(m).AdagradOptimizer(0.1,
                                                                   initial_accumulator_value=1.0)),
    ("RMSProp defaults", lambda m, gs: T(m).RMSPropOptimizer(0.01)),
    ("RMSProp decay .8 momentum .5", lambda m, gs: T(m).RMSPropOptimizer(0.01, decay=0.8,
                                                                        momentum=0.5)),
    ("RMSProp centered", lambda m, gs: T(m).RMSPropOptimizer(0.01, momentum=0.3, centered=True)),
    ("RMSProp eps 0.1", lambda m, gs: T(m).RMSPropOptimizer(0.01, epsilon=0.1)),
    ("GD + exponential_decay staircase", lambda m, gs: T(m).GradientDescentOptimizer(
        T(m).exponential_decay(0.1, gs, 5, 0.5, staircase=True))),
    ("Adam + piecewise_constant", lambda m, gs: T(m).AdamOptimizer(
        T(m).piecewise_constant(gs, [5, 12], [0.05, 0.01, 0.002]))),
    ("Momentum + cosine_decay", lambda m, gs: T(m).MomentumOptimizer(
        T(m).cosine_decay(0.05, gs, 15, alpha=0.1), 0.9)),
    ("Momentum lr tensor", lambda m, gs: T(m).MomentumOptimizer(m.constant(0.02), 0.9)),
    # TF has these too; distflow may not
    ("Adadelta", lambda m, gs: T(m).AdadeltaOptimizer(1.0)),
    ("Ftrl", lambda m, gs: T(m).FtrlOptimizer(0.1)),
    ("ProximalGradientDescent", lambda m, gs: T(m).ProximalGradientDescentOptimizer(0.05)),
]
for oname, make in V1_OPTIMIZERS:
    pair("v1 train.%s 20 steps [vars, loss, global_step]" % oname, *both(train_v1(make)))
pair("v1 train.Adam compute_gradients+apply_gradients",
     *both(train_v1(lambda m, gs: T(m).AdamOptimizer(0.05), minimize=False)))


def _slots_v1(make):
    def fn(m):
        vs = [m.Variable(v, name="v%d" % i) for i, v in enumerate(INIT)]
        opt = make(m)
        opt.minimize(model(m, vs))
        names = sorted(opt.get_slot_names())
        slot_vars = sorted(v.name for v in m.global_variables())
        return names, slot_vars
    return fn


for oname, make in [("Adam", lambda m: T(m).AdamOptimizer()),
                    ("Momentum", lambda m: T(m).MomentumOptimizer(0.1, 0.9)),
                    ("RMSProp centered", lambda m: T(m).RMSPropOptimizer(0.1, centered=True)),
                    ("Adagrad", lambda m: T(m).AdagradOptimizer(0.1))]:
    a, b = both(_slots_v1(make))
    if isinstance(a, Exception) or isinstance(b, Exception):
        same("v1 train.%s slots" % oname, "error", repr(a), repr(b))
    else:
        same("v1 train.%s slots" % oname, "get_slot_names", a[0], b[0])
        same("v1 train.%s slots" % oname, "global variable names", a[1], b[1])


def _opt_vars_f64(m):
    v = m.Variable(INIT[0].astype(np.float64), name="w")
    b = m.Variable(INIT[1].astype(np.float64), name="b")
    opt = m.train.AdamOptimizer(0.1)
    opt.minimize(m.reduce_sum(m.square(m.matmul(m.constant(X.astype(np.float64)), v) + b)))
    return sorted((x.name, x.dtype.base_dtype.name) for x in opt.variables())


a, b = both(_opt_vars_f64)
same("v1 AdamOptimizer float64 vars: optimizer variables", "[(name, dtype)]",
     a if isinstance(a, list) else repr(a), b if isinstance(b, list) else repr(b))

import distflow as _df  # noqa: E402
import tensorflow as _tf  # noqa: E402
_names = []
for _m, _opt in [(_df, _df.optimizers.Adam(0.1)), (_tf, _tf.compat.v1.train.AdamOptimizer(0.1))]:
    _v = _m.Variable(INIT[1], name="w")
    _opt.minimize(lambda: _m.reduce_sum(_m.square(_v)), var_list=[_v]) if _m is _tf else \
        _opt.apply_gradients([(_m.constant(INIT[1]), _v)])
    _names.append(sorted(x.name for x in _opt.variables() if "/" in x.name))
same("eager Adam slot variable names", "slots of w", _names[0], _names[1])


def _global_step_facts(m):
    gs = m.train.get_or_create_global_step()
    return [gs.name, gs.dtype.name, m.train.get_global_step() is gs,
            gs in m.global_variables(), gs in m.trainable_variables()]


a, b = both(_global_step_facts)
same("v1 train.get_or_create_global_step", "[name, dtype, get_global_step is it, global, trainable]",
     a if isinstance(a, list) else repr(a), b if isinstance(b, list) else repr(b))


def _init_before_minimize(m):
    v = m.Variable(INIT[0])
    init = m.global_variables_initializer()
    train = m.train.AdamOptimizer(0.1).minimize(m.reduce_sum(m.square(v)))
    with m.Session() as s:
        s.run(init)
        s.run(train)
    return [np.float32(0)]


pair("v1 Adam: init run before minimize (slots uninitialized)", *both(_init_before_minimize))


def _no_vars(m):
    x_ = m.constant(1.0)
    m.train.GradientDescentOptimizer(0.1).minimize(x_ * x_)


pair("v1 minimize with no variables", *both(_no_vars))


def _no_grads(m):
    v = m.Variable(1.0)
    m.train.GradientDescentOptimizer(0.1).minimize(m.stop_gradient(v) * 2.0)


pair("v1 minimize with no gradients", *both(_no_grads))

# ==================================================================================================
# E. TF2 optimizers, eagerly: df.optimizers vs tf.keras.optimizers
# ==================================================================================================


def train_v2(make_opt, steps=20):
    def fn(m):
        vs = [m.Variable(v) for v in INIT]
        opt = make_opt(m)
        for _ in range(steps):
            with m.GradientTape() as tape:
                loss = model(m, vs)
            opt.apply_gradients(zip(tape.gradient(loss, vs), vs))
        return [v.value() for v in vs] + [m.cast(opt.iterations, m.int64)]
    return fn


O = lambda m: m.optimizers  # noqa: E731
V2_OPTIMIZERS = [
    ("SGD defaults", lambda m: O(m).SGD()),
    ("SGD lr .05", lambda m: O(m).SGD(0.05)),
    ("SGD momentum", lambda m: O(m).SGD(0.02, momentum=0.9)),
    ("SGD nesterov", lambda m: O(m).SGD(0.02, momentum=0.9, nesterov=True)),
    ("SGD weight_decay", lambda m: O(m).SGD(0.05, weight_decay=0.1)),
    ("Adam defaults", lambda m: O(m).Adam()),
    ("Adam lr .05", lambda m: O(m).Adam(0.05)),
    ("Adam custom beta/eps", lambda m: O(m).Adam(0.03, beta_1=0.8, beta_2=0.95, epsilon=0.1)),
    ("AdamW", lambda m: O(m).AdamW(0.05, weight_decay=0.1)),
    ("Adagrad defaults", lambda m: O(m).Adagrad()),
    ("Adagrad lr .1", lambda m: O(m).Adagrad(0.1)),
    ("Adagrad eps .1", lambda m: O(m).Adagrad(0.1, epsilon=0.1)),
    ("RMSprop defaults", lambda m: O(m).RMSprop()),
    ("RMSprop momentum centered", lambda m: O(m).RMSprop(0.01, momentum=0.3, centered=True)),
    ("SGD + ExponentialDecay staircase", lambda m: O(m).SGD(
        O(m).schedules.ExponentialDecay(0.1, 5, 0.5, staircase=True))),
    ("SGD momentum + ExponentialDecay", lambda m: O(m).SGD(
        O(m).schedules.ExponentialDecay(0.05, 3, 0.5), momentum=0.9)),
    ("Adam + PiecewiseConstantDecay", lambda m: O(m).Adam(
        O(m).schedules.PiecewiseConstantDecay([5, 12], [0.05, 0.01, 0.002]))),
    ("SGD clipnorm", lambda m: O(m).SGD(0.05, clipnorm=0.5)),
    ("SGD global_clipnorm", lambda m: O(m).SGD(0.05, global_clipnorm=0.5)),
    ("Adadelta", lambda m: O(m).Adadelta(1.0)),
    ("Nadam", lambda m: O(m).Nadam(0.01)),
]
# df.optimizers follow Keras 3's update_step, including its float32 bias correction
# pow(float32(beta), t): Adam is held to the same tolerance as the others.
for oname, make in V2_OPTIMIZERS:
    check("optimizers.%s 20 steps [vars, iterations]" % oname, train_v2(make), [], dtypes=False,
          rtol=1e-5, atol=1e-6)
# (Keras 3 optimizers have no minimize(); distflow's TF1-style minimize is an extra, not compared.)


def _lr_assign(m):
    vs = [m.Variable(v) for v in INIT]
    opt = m.optimizers.SGD(0.05)
    for i in range(6):
        if i == 3:
            opt.learning_rate = 0.01
        with m.GradientTape() as tape:
            loss = model(m, vs)
        opt.apply_gradients(zip(tape.gradient(loss, vs), vs))
    return vs + [m.constant(float(opt.learning_rate if not hasattr(opt.learning_rate, "numpy")
                                  else opt.learning_rate.numpy()))]


check("optimizers.SGD learning_rate assignment", _lr_assign, [], dtypes=False)
check("optimizers.SGD momentum out of range", lambda m: O(m).SGD(0.1, momentum=1.5), [])
check("optimizers.Adam amsgrad", train_v2(lambda m: O(m).Adam(0.05, amsgrad=True)), [],
      dtypes=False)


# TF1 optimizers run eagerly (tf.compat.v1.train.* works eagerly in TF2)
def _v1_eager(make):
    def fn(m):
        import importlib
        v1 = importlib.import_module(m.__name__ + ".compat.v1")
        vs = [m.Variable(v) for v in INIT]
        opt = make(v1)
        for _ in range(20):
            opt.minimize(lambda: model(m, vs), var_list=vs)
        return vs
    return fn


for oname, make in [("Adam", lambda v1: v1.train.AdamOptimizer(0.05)),
                    ("RMSProp", lambda v1: v1.train.RMSPropOptimizer(0.01, momentum=0.5)),
                    ("Momentum", lambda v1: v1.train.MomentumOptimizer(0.02, 0.9))]:
    check("compat.v1.train.%sOptimizer eager minimize" % oname, _v1_eager(make), [], dtypes=False)

# ==================================================================================================
# F. Learning-rate decay: TF1 functions (in a graph) and TF2 schedules
# ==================================================================================================
STEPS = [0, 1, 2, 4, 5, 6, 9, 10, 11, 15, 20, 30]


def _decay_v1(make):
    def fn(m):
        step = m.placeholder(m.int64, [])
        lr = make(m, step)
        with m.Session() as s:
            return [np.array([s.run(lr, {step: k}) for k in STEPS])]
    return fn


V1_DECAY = [
    ("exponential_decay", lambda m, s: m.train.exponential_decay(0.1, s, 4, 0.5)),
    ("exponential_decay staircase", lambda m, s: m.train.exponential_decay(0.1, s, 4, 0.5,
                                                                           staircase=True)),
    ("piecewise_constant", lambda m, s: m.train.piecewise_constant(s, [5, 10], [1.0, 0.5, 0.1])),
    ("piecewise_constant int64 boundaries", lambda m, s: m.train.piecewise_constant(
        s, [np.int64(5), np.int64(10)], [1.0, 0.5, 0.1])),
    ("cosine_decay", lambda m, s: m.train.cosine_decay(0.1, s, 10, alpha=0.2)),
    ("polynomial_decay", lambda m, s: m.train.polynomial_decay(0.1, s, 10, 0.01, power=2.0)),
    ("polynomial_decay cycle", lambda m, s: m.train.polynomial_decay(0.1, s, 10, 0.01,
                                                                     cycle=True)),
    ("inverse_time_decay", lambda m, s: m.train.inverse_time_decay(0.1, s, 5, 0.5)),
    ("inverse_time_decay staircase", lambda m, s: m.train.inverse_time_decay(0.1, s, 5, 0.5,
                                                                             staircase=True)),
    ("natural_exp_decay", lambda m, s: m.train.natural_exp_decay(0.1, s, 5, 0.5)),
]
for dname, make in V1_DECAY:
    pair("v1 train.%s" % dname, *both(_decay_v1(make)))


def _decay_dtype(m):
    gs = m.train.get_or_create_global_step()
    return [m.train.exponential_decay(0.1, gs, 4, 0.5).dtype.name,
            m.train.piecewise_constant(gs, [5], [1.0, 0.5]).dtype.name]


a, b = both(_decay_dtype)
same("v1 decay dtypes", "[exponential, piecewise]", a if isinstance(a, list) else repr(a),
     b if isinstance(b, list) else repr(b))
pair("v1 piecewise_constant wrong lengths",
     *both(lambda m: m.train.piecewise_constant(m.constant(1), [5, 10], [1.0, 0.5])))
pair("v1 exponential_decay global_step None",
     *both(lambda m: m.train.exponential_decay(0.1, None, 4, 0.5)))

V2_SCHEDULES = [
    ("ExponentialDecay", lambda S: S.ExponentialDecay(0.1, 4, 0.5)),
    ("ExponentialDecay staircase", lambda S: S.ExponentialDecay(0.1, 4, 0.5, staircase=True)),
    ("PiecewiseConstantDecay", lambda S: S.PiecewiseConstantDecay([5, 10], [1.0, 0.5, 0.1])),
    ("CosineDecay", lambda S: S.CosineDecay(0.1, 10, alpha=0.2)),
    ("PolynomialDecay", lambda S: S.PolynomialDecay(0.1, 10, 0.01, power=2.0)),
    ("InverseTimeDecay", lambda S: S.InverseTimeDecay(0.1, 5, 0.5)),
]
for sname, make in V2_SCHEDULES:
    check("optimizers.schedules.%s" % sname,
          lambda m, make=make: [make(m.optimizers.schedules)(k) for k in STEPS], [])
    check("optimizers.schedules.%s tensor step" % sname,
          lambda m, make=make: make(m.optimizers.schedules)(m.constant(7, m.int64)), [])
    try:  # _df, _tf: distflow and tensorflow, imported in group D
        c_df = make(_df.optimizers.schedules).get_config()
    except AttributeError:
        continue  # missing schedule: reported above
    c_tf = make(_tf.optimizers.schedules).get_config()
    for key in sorted(c_tf):
        if key in ("decay_steps", "decay_rate", "staircase", "boundaries", "values", "alpha",
                   "initial_learning_rate"):
            same("optimizers.schedules.%s get_config" % sname, key, c_df.get(key), c_tf[key])

# ==================================================================================================
# G. Clipping
# ==================================================================================================
g1, g2 = f32(3, 4), f32(5)
check("clip_by_global_norm clips", lambda m, a, b: (lambda r: r[0] + [r[1]])(
    m.clip_by_global_norm([a, b], 1.5)), [g1, g2], grad=True)
check("clip_by_global_norm no-op", lambda m, a, b: (lambda r: r[0] + [r[1]])(
    m.clip_by_global_norm([a, b], 100.0)), [g1, g2], grad=True)
check("clip_by_global_norm with None", lambda m, a, b: (lambda r: [r[0][0], r[0][2], r[1]])(
    m.clip_by_global_norm([a, None, b], 1.0)), [g1, g2])
check("clip_by_global_norm use_norm", lambda m, a, b: m.clip_by_global_norm(
    [a, b], 1.0, use_norm=m.constant(4.0))[0], [g1, g2])
check("clip_by_global_norm inf", lambda m, a: m.clip_by_global_norm(
    [a * np.float32(np.inf)], 1.0)[0], [g1])
check("clip_by_global_norm tensor not list", lambda m, a: m.clip_by_global_norm(a, 1.0), [g1])
check("clip_by_global_norm float64", lambda m, a: m.clip_by_global_norm([a], 1.0)[0],
      [g1.astype(np.float64)])
check("global_norm", lambda m, a, b: m.linalg.global_norm([a, b])
      if m.__name__ != "distflow" else m.global_norm([a, b]), [g1, g2], grad=True)
check("clip_by_norm", lambda m, a: m.clip_by_norm(a, 1.0), [g1], grad=True)
check("clip_by_norm no-op", lambda m, a: m.clip_by_norm(a, 100.0), [g1], grad=True)
check("clip_by_norm axes=1", lambda m, a: m.clip_by_norm(a, 1.0, axes=[1]), [g1], grad=True)
check("clip_by_norm zeros", lambda m, a: m.clip_by_norm(a, 1.0), [np.zeros((2, 2), np.float32)],
      grad=True)
check("clip_by_norm int", lambda m, a: m.clip_by_norm(a, 1), [np.arange(4, dtype=np.int32)])
check("clip_by_value", lambda m, a: m.clip_by_value(a, -0.5, 0.5), [g1], grad=True)


def _clip_v1(m):
    v = m.Variable(INIT[0])
    loss = model(m, [v] + [m.constant(t) for t in INIT[1:]])
    g = m.gradients(loss, [v])
    clipped, norm = m.clip_by_global_norm(g, 0.1)
    train = m.train.GradientDescentOptimizer(0.5).apply_gradients(zip(clipped, [v]))
    with m.Session() as s:
        s.run(m.global_variables_initializer())
        for _ in range(5):
            s.run(train)
        return [s.run(v), s.run(norm)]


pair("v1 clip_by_global_norm + apply_gradients", *both(_clip_v1))

# ==================================================================================================
# misc: `import distflow as tf; tf.compat.v1` without importing the submodule
# ==================================================================================================
for mod in ["distflow", "tensorflow"]:
    r = subprocess.run([sys.executable, "-c", "import %s as t; t.compat.v1.train" % mod],
                       capture_output=True, text=True)
    if mod == "distflow":
        rc_df = r.returncode
    else:
        same("tf.compat.v1 reachable after a plain import", "exit status", rc_df, r.returncode)

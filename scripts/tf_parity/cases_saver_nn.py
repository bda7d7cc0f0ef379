"""Parity of tf.nn.relu6 / leaky_relu / selu / l2_normalize / moments, tf.math.log_sigmoid and
TF1's tf.train.Saver.

  A. The ops eagerly: values, dtypes, gradients (at the kinks too), integer inputs, errors.
  B. The ops in a TF1 graph: node names and static shapes.
  C. Saver: the prefixes save() returns, the `checkpoint` file's path lines, latest_checkpoint
     and get_checkpoint_state, which checkpoints max_to_keep leaves, restored values, and the
     errors of a bad restore. Each side saves in its own temporary directory; TF's data files
     differ from distflow's (not TF's format), so only the observable behaviour is compared.
"""
import os
import shutil
import tempfile

import numpy as np

import harness
from harness import both, check, same

rng = np.random.default_rng(99)


def f32(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# ==================================================================================================
# A. the ops, eagerly
# ==================================================================================================
x = f32(3, 5, scale=3.0)
x[0, :4] = [0.0, 6.0, -0.0, -6.0]  # the kinks
x64 = f32(4, 3).astype(np.float64)
x3 = f32(2, 3, 4)

OPS = [
    ("relu6", lambda m, a: m.nn.relu6(a)),
    ("relu6 x3", lambda m, a: m.nn.relu6(a * 3.0)),
    ("leaky_relu", lambda m, a: m.nn.leaky_relu(a)),
    ("leaky_relu alpha=0.01", lambda m, a: m.nn.leaky_relu(a, alpha=0.01)),
    ("leaky_relu alpha=2", lambda m, a: m.nn.leaky_relu(a, alpha=2.0)),
    ("selu", lambda m, a: m.nn.selu(a)),
    ("log_sigmoid", lambda m, a: m.math.log_sigmoid(a)),
    ("log_sigmoid x30", lambda m, a: m.math.log_sigmoid(a * 30.0)),
    ("l2_normalize", lambda m, a: m.nn.l2_normalize(a)),
    ("l2_normalize axis=1", lambda m, a: m.nn.l2_normalize(a, axis=1)),
    ("l2_normalize axis=0 eps=1", lambda m, a: m.nn.l2_normalize(a, axis=0, epsilon=1.0)),
    ("moments [0]", lambda m, a: m.nn.moments(a, axes=[0])),
    ("moments [0,1] keepdims", lambda m, a: m.nn.moments(a, axes=[0, 1], keepdims=True)),
    ("moments axes=1", lambda m, a: m.nn.moments(a, axes=1)),
]
for name, fn in OPS:
    check("nn." + name, fn, [x], grad=True)
    check("nn." + name + " float64", fn, [x64], grad=True)
check("nn.moments rank3 [0,2]", lambda m, a: m.nn.moments(a, axes=[0, 2]), [x3], grad=True)
check("nn.l2_normalize rank3 axis=[1,2]", lambda m, a: m.nn.l2_normalize(a, axis=[1, 2]), [x3],
      grad=True)
check("nn.l2_normalize zero row", lambda m, a: m.nn.l2_normalize(a, axis=1),
      [np.array([[0.0, 0.0], [3.0, 4.0]], np.float32)], grad=True)

# gradients exactly at the kinks (TF: Relu6Grad from the output, LeakyReluGrad x > 0, SeluGrad)
kinks = np.array([0.0, -0.0, 6.0, 1e-30, -1e-30], np.float32)
for name in ["relu6", "leaky_relu", "selu"]:
    check("nn.%s grad at kinks" % name, lambda m, a, n=name: getattr(m.nn, n)(a), [kinks],
          grad=True)
check("math.log_sigmoid extremes", lambda m, a: m.math.log_sigmoid(a),
      [np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], np.float32)], grad=True)
check("nn.selu extremes", lambda m, a: m.nn.selu(a),
      [np.array([-1000.0, -20.0, 20.0, 1000.0], np.float32)], grad=True)

# dtypes: relu6 keeps ints, leaky_relu casts them to float32, moments stays integer
ints = np.array([-7, -1, 0, 3, 9], np.int32)
for name, fn in [("relu6", lambda m, a: m.nn.relu6(a)),
                 ("leaky_relu", lambda m, a: m.nn.leaky_relu(a)),
                 ("moments", lambda m, a: m.nn.moments(a, axes=[0])),
                 ("l2_normalize", lambda m, a: m.nn.l2_normalize(a))]:  # both TypeError
    check("nn.%s int32" % name, fn, [ints])


# selu and log_sigmoid refuse ints: a TypeError when the op is built (distflow raises it eagerly
# too, where TF 2.21 eagerly says InvalidArgumentError: known_differences' _DTYPE_CLASS rule)
def _int_refused(fn):
    def build(m):
        try:
            fn(m, m.placeholder(m.int32, [3]))
            return "no error"
        except Exception as e:  # noqa: BLE001
            return type(e).__name__
    return build


for name, fn in [("selu", lambda m, a: m.nn.selu(a)),
                 ("log_sigmoid", lambda m, a: m.log_sigmoid(a)),
                 ("math.log_sigmoid", lambda m, a: m.math.log_sigmoid(a)),
                 ("l2_normalize", lambda m, a: m.nn.l2_normalize(a))]:
    a, b = both(_int_refused(fn))
    same("v1 nn.%s int32 refused" % name, "error class", a, b)
half = np.array([-3.0, -0.5, 0.0, 2.0, 7.0], np.float16)
for name, fn in OPS[:8] + OPS[11:12]:
    check("nn.%s float16" % name, fn, [half], rtol=2e-3, atol=2e-3)
check("nn.moments float16 large", lambda m, a: m.nn.moments(a, axes=[0]),
      [np.array([300.0, 310.0, 290.0], np.float16)], rtol=1e-3, atol=1e-2)

# ==================================================================================================
# B. TF1 graphs: names and shapes
# ==================================================================================================


def _names(m):
    xp = m.placeholder(m.float32, [None, 3])
    outs = [m.nn.relu6(xp), m.nn.leaky_relu(xp), m.nn.selu(xp), m.log_sigmoid(xp),
            m.nn.l2_normalize(xp, axis=1), m.nn.l2_normalize(xp, dim=0),
            m.nn.leaky_relu(m.placeholder(m.int32, [2]))]
    outs += list(m.nn.moments(xp, [0])) + list(m.nn.moments(xp, [0], keep_dims=True))
    outs += list(m.nn.moments(xp, [0, 1], name="stats"))
    return [(t.name, t.shape.as_list(), t.dtype.name) for t in outs]


a, b = both(_names)
same("v1 names and shapes", "names", a, b)

# ==================================================================================================
# C. Saver
# ==================================================================================================


def _in_dir(fn):
    """fn(m) run by both sides, each in a fresh temporary working directory."""
    def run(m):
        old, tmp = os.getcwd(), tempfile.mkdtemp(prefix="parity_saver_")
        os.chdir(tmp)
        try:
            return fn(m, tmp)
        finally:
            os.chdir(old)
            shutil.rmtree(tmp, ignore_errors=True)
    return run


def _state_paths(path):
    """The checkpoint file's path lines (its timestamps differ run to run)."""
    with open(path) as f:
        return [line for line in f.read().splitlines() if "path" in line]


def _prefixes(directory):
    return sorted(f[:-len(".index")] for f in os.listdir(directory) if f.endswith(".index"))


def _saver_story(m, tmp):
    w = m.Variable(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), name="w")
    b = m.Variable(0.5, name="b")
    step = m.train.get_or_create_global_step()
    bump = m.assign_add(step, 10)
    out = []
    with m.Session() as sess:
        sess.run(m.global_variables_initializer())
        saver = m.train.Saver(max_to_keep=3)
        out.append(saver.save(sess, "model/boston.ckpt"))
        out.append(_state_paths("model/checkpoint"))
        for i in (1, 2, np.int64(3)):
            sess.run(m.assign_add(b, 1.0))
            out.append(saver.save(sess, "model/boston.ckpt", global_step=i))
        sess.run(bump)
        out.append(saver.save(sess, "model/boston.ckpt", global_step=step))
        out.append(_state_paths("model/checkpoint"))
        out.append(_prefixes("model"))
        out.append(saver.last_checkpoints)
        out.append([m.train.latest_checkpoint("model/"), m.train.latest_checkpoint("model"),
                    m.train.latest_checkpoint("nothing")])
        state = m.train.get_checkpoint_state("model")
        out.append([state.model_checkpoint_path, list(state.all_model_checkpoint_paths)])
        # absolute paths stay absolute (shown relative to the temporary directory)
        absolute = os.path.join(tmp, "abs", "m.ckpt")
        os.makedirs(os.path.dirname(absolute))
        p = m.train.Saver([w]).save(sess, absolute, global_step=5)
        out.append(os.path.relpath(p, tmp))
        out.append([line.replace(tmp, "<tmp>") for line in _state_paths("abs/checkpoint")])
        # max_to_keep=0: nothing deleted, the state file names the latest only
        keep_all = m.train.Saver(max_to_keep=0)
        for i in range(3):
            keep_all.save(sess, "all/m", global_step=i)
        out.append([_prefixes("all"), _state_paths("all/checkpoint")])
        # a dict names the tensors in the checkpoint
        out.append(m.train.Saver({"renamed": w}).save(sess, "model/dict.ckpt"))
    return out


a, b = both(_in_dir(_saver_story))
same("saver story", "paths, state lines, latest", a, b)


def _restore_story(m, tmp):
    w = m.Variable(np.array([1.0, 2.0], np.float32), name="w")
    m.Variable(3.0, name="b")
    with m.Session() as sess:
        sess.run(m.global_variables_initializer())
        full = m.train.Saver().save(sess, "ck/full", global_step=1)
        only_w = m.train.Saver([w]).save(sess, "ck/only_w")
    g = m.Graph()
    out = []
    with g.as_default():
        w2 = m.Variable([0.0, 0.0], name="w")
        b2 = m.Variable(0.0, name="b")
        c = m.Variable(0.0, name="c")
        ints = m.Variable([0, 0], name="ints")
        with m.Session() as s:
            out.append(os.path.basename(m.train.latest_checkpoint("ck")))  # only_w: the last
            m.train.Saver([w2, b2]).restore(s, full)
            out.append(s.run([w2, b2]))
            m.train.Saver({"b": c}).restore(s, full)
            out.append(s.run(c))
            for name, fn in [
                    ("missing variable", lambda: m.train.Saver([w2, b2]).restore(s, only_w)),
                    ("missing file", lambda: m.train.Saver([w2]).restore(s, "ck/nothere")),
                    ("None path", lambda: m.train.Saver([w2]).restore(s, None)),
                    ("dtype", lambda: m.train.Saver({"w": ints}).restore(s, full)),
                    ("duplicate", lambda: m.train.Saver([w2, w2])),
                    ("dict of non-variables", lambda: m.train.Saver({"w": 3}))]:
                try:
                    fn()
                    out.append((name, "no error"))
                except Exception as e:  # noqa: BLE001 (the error is what is compared)
                    text = str(e)
                    # (TF names the converted constant; distflow the value it was given)
                    first = text.split("Original error:")[0].split(" Not a variable")[0].strip()
                    key = [ln for ln in text.splitlines() if "not found in checkpoint" in ln
                           or "expected dtype" in ln]
                    out.append((name, type(e).__name__, first[:200],
                                key[0].split("; expected")[0][-40:] if key else None))
    with m.Graph().as_default():
        try:
            m.train.Saver()
            out.append("empty graph: no error")
        except ValueError as e:
            out.append(str(e))
    return out


a, b = both(_in_dir(_restore_story))
if isinstance(a, list) and isinstance(b, list):
    for i, (x_df, x_tf) in enumerate(zip(a, b)):
        harness.CHECKED[0] += 1
        if i in (1, 2):  # restored values
            harness.compare_arrays("saver restore %d" % i, "values", np.concatenate(
                [np.ravel(v) for v in harness._flat(x_df)]), np.concatenate(
                [np.ravel(v) for v in harness._flat(x_tf)]), 0, 0)
        else:
            same("saver restore %d" % i, "result", x_df, x_tf)
else:
    same("saver restore", "result", repr(a)[:300], repr(b)[:300])


def _boston_resume(m, tmp):
    """A course program: train, save every 10 steps, rebuild the graph, restore, continue."""
    data = np.random.default_rng(0).standard_normal((64, 13)).astype(np.float32)
    target = (data @ np.linspace(-1, 1, 13) + 0.3).astype(np.float32)

    def build():
        xp = m.placeholder(m.float32, [None, 13])
        yp = m.placeholder(m.float32, [None])
        wv = m.Variable(m.zeros([13, 1]), name="weights")
        bv = m.Variable(0.0, name="bias")
        loss = m.reduce_mean(m.square(m.reshape(m.matmul(xp, wv) + bv, [-1]) - yp))
        step = m.train.get_or_create_global_step()
        train = m.train.GradientDescentOptimizer(0.05).minimize(loss, global_step=step)
        return loss, train, step, {xp: data, yp: target}

    loss, train, step, feed = build()
    saver = m.train.Saver(max_to_keep=2)
    out = []
    with m.Session() as sess:
        sess.run(m.global_variables_initializer())
        for i in range(30):
            sess.run(train, feed)
            if (i + 1) % 10 == 0:
                out.append(saver.save(sess, "model/boston.ckpt", global_step=step))
        out.append(float(sess.run(loss, feed)))
    out.append(_prefixes("model"))
    with m.Graph().as_default():
        loss, train, step, feed = build()
        with m.Session() as sess:
            m.train.Saver().restore(sess, m.train.latest_checkpoint("model/"))
            out.append([int(sess.run(step)), float(sess.run(loss, feed))])
            sess.run(train, feed)
            out.append(int(sess.run(step)))
    return out


a, b = both(_in_dir(_boston_resume))
harness.CHECKED[0] += 1
if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
    same("boston resume", "paths", [a[0], a[1], a[2], a[4], a[6]], [b[0], b[1], b[2], b[4], b[6]])
    harness.compare_arrays("boston resume", "losses", [a[3], a[5][1]], [b[3], b[5][1]], 1e-5, 1e-6)
    same("boston resume", "restored step", a[5][0], b[5][0])
else:
    same("boston resume", "result", repr(a)[:300], repr(b)[:300])

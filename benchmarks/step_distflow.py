"""W1 / W2 with distflow, in each way a user writes a training step:

  graph     TF1: Session.run([train_op, loss], feed_dict={x: ..., y: ...})
  callable  TF1: sess.make_callable([train_op, loss], [x, y]) called with the arrays
  function  TF2: a @df.function step (GradientTape inside, SGD.apply_gradients), input_signature
  eager     TF2: the same step without df.function: every op runs at once under the tape

    python benchmarks/step_distflow.py --workload W1 --variant graph callable function eager
    python benchmarks/step_distflow.py --workload W1 --optimizer adam   # Adam instead of SGD
"""

import numpy as np

import common

VARIANTS = ("graph", "callable", "function", "eager")


def graph_step(params, spec, use_callable, optimizer="sgd"):
    import distflow.compat.v1 as tf
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, spec["sizes"][0]], name="x")
        y = tf.placeholder(tf.float32, [None, 1], name="y")
        h = x
        for i, (w0, b0) in enumerate(params):
            w, b = tf.Variable(w0, name="w%d" % i), tf.Variable(b0, name="b%d" % i)
            h = tf.matmul(h, w) + b
            if i < len(params) - 1:
                h = tf.nn.relu(h)
        loss = tf.reduce_mean(tf.square(h - y))
        if optimizer == "adam":
            a = common.ADAM
            opt = tf.train.AdamOptimizer(a["lr"], a["beta1"], a["beta2"], a["epsilon"])
        else:
            opt = tf.train.GradientDescentOptimizer(spec["lr"])
        train = opt.minimize(loss)
        init = tf.global_variables_initializer()
    sess = tf.Session(graph=graph)
    sess.run(init)
    # the loss is fetched with the update, as a training loop does to report it (and as every
    # peer computes it: NumPy, JAX and PyTorch steps, and the TF2 step here, return it)
    if use_callable:
        return sess.make_callable([train, loss], [x, y]), sess, loss, (x, y)

    def step(xb, yb):
        return sess.run([train, loss], feed_dict={x: xb, y: yb})
    return step, sess, loss, (x, y)


def tf2_step(params, spec, compiled, optimizer="sgd"):
    import distflow as df
    variables = []
    for i, (w0, b0) in enumerate(params):
        variables += [df.Variable(w0, name="w%d" % i), df.Variable(b0, name="b%d" % i)]
    if optimizer == "adam":
        a = common.ADAM
        opt = df.optimizers.Adam(learning_rate=a["lr"], beta_1=a["beta1"], beta_2=a["beta2"],
                                 epsilon=a["epsilon"])
    else:
        opt = df.optimizers.SGD(learning_rate=spec["lr"])
    n_layers = len(params)

    def step(xb, yb):
        with df.GradientTape() as tape:
            h = xb
            for i in range(n_layers):
                h = df.matmul(h, variables[2 * i]) + variables[2 * i + 1]
                if i < n_layers - 1:
                    h = df.nn.relu(h)
            loss = df.reduce_mean(df.square(h - yb))
        grads = tape.gradient(loss, variables)
        opt.apply_gradients(zip(grads, variables))
        return loss

    if compiled:
        sig = [df.TensorSpec([None, spec["sizes"][0]], df.float32),
               df.TensorSpec([None, 1], df.float32)]
        step = df.function(step, input_signature=sig)
    return step, variables


def first_loss(params, xb, yb):
    """The loss of the initial weights on one batch, in NumPy: a check that every implementation
    trains the same model."""
    h = xb
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < len(params) - 1:
            h = np.maximum(h, 0)
    return float(np.mean((h - yb) ** 2))


def measure(workload, variant, quick, optimizer="sgd"):
    spec = getattr(common, workload)
    params = common.init_params(spec["sizes"])
    x, y = common.workload_data(workload)
    feeds = common.batches(x, y, spec["batch"])
    if variant in ("graph", "callable"):
        step, sess, loss, (xp, yp) = graph_step(params, spec, variant == "callable", optimizer)
        loss0 = float(sess.run(loss, {xp: feeds[0][0], yp: feeds[0][1]}))
    else:
        step, _ = tf2_step(params, spec, variant == "function", optimizer)
        loss0 = float(step(*feeds[0]))
    warmup, blocks, per_block = common.scale(workload, quick)
    stats = common.time_steps(step, feeds, warmup, blocks, per_block)
    return common.emit(common.workload_label(workload, optimizer), "distflow", variant, first_loss=loss0,
                       expected_first_loss=first_loss(params, *feeds[0]),
                       peak_rss_mib=common.peak_rss_mib(), **stats)


def main(argv=None):
    args = common.step_arguments(__doc__, argv, lambda p: p.add_argument(
        "--variant", nargs="+", choices=VARIANTS, default=list(VARIANTS)))
    common.pin_to_one_core()
    for v in args.variant:
        measure(args.workload, v, args.quick, args.optimizer)


if __name__ == "__main__":
    main()

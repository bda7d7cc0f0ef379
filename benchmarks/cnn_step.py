"""W6: one training step of the multi-worker tutorial's CNN (Conv2D 32 3x3 + ReLU, MaxPool 2x2,
Flatten, Dense 64 + ReLU, Dense 10; sparse softmax cross-entropy, SGD) on 28x28x1 images, batch
64, from the same initial weights in every implementation:

  distflow graph     TF1: Session.run(train_op, feed_dict) (and Session.run(loss) for forward)
  distflow function  TF2: a @df.function step (GradientTape, SGD.apply_gradients)
  torch eager        PyTorch (NCHW, its own conv kernels), torch.set_num_threads(1)

Each reports the full step (forward, backward, update) and the forward pass alone (the loss of a
batch, computed as a training step computes it); backward + update is their difference.

    python benchmarks/cnn_step.py --impl distflow torch
"""
import argparse
import sys

import numpy as np

import common

BATCH, CLASSES, LR = 64, 10, 0.01


def init_weights(seed=common.SEED):
    """NHWC / Keras layouts: conv (3, 3, 1, 32), dense (13*13*32, 64), dense (64, 10)."""
    rng = np.random.RandomState(seed)

    def glorot(shape, fan_in, fan_out):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape).astype(np.float32)
    return [glorot((3, 3, 1, 32), 9, 9 * 32), np.zeros(32, np.float32),
            glorot((5408, 64), 5408, 64), np.zeros(64, np.float32),
            glorot((64, 10), 64, 10), np.zeros(10, np.float32)]


def data(steps=8, seed=common.SEED + 1):
    rng = np.random.RandomState(seed)
    return [(rng.rand(BATCH, 28, 28, 1).astype(np.float32),
             rng.randint(0, CLASSES, BATCH).astype(np.int64)) for _ in range(steps)]


def first_loss(w, x, y):
    """The loss of the initial weights on one batch, in NumPy (a check that all agree)."""
    k, b, w1, b1, w2, b2 = w
    n = x.shape[0]
    cols = np.stack([x[:, i:i + 26, j:j + 26, 0] for i in range(3) for j in range(3)], -1)
    h = np.maximum(cols @ k.reshape(9, 32) + b, 0)
    h = h.reshape(n, 13, 2, 13, 2, 32).max(axis=(2, 4)).reshape(n, -1)
    h = np.maximum(h @ w1 + b1, 0) @ w2 + b2
    h = h - h.max(axis=1, keepdims=True)
    logp = h - np.log(np.exp(h).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(n), y].mean())


def distflow_model(df, variables):
    k, b, w1, b1, w2, b2 = variables

    def loss_of(x, y):
        h = df.nn.relu(df.nn.bias_add(df.nn.conv2d(x, k, 1, "VALID"), b))
        h = df.reshape(df.nn.max_pool2d(h, 2, 2, "VALID"), [-1, 5408])
        h = df.nn.relu(df.matmul(h, w1) + b1)
        logits = df.matmul(h, w2) + b2
        return df.reduce_mean(df.nn.sparse_softmax_cross_entropy_with_logits(
            labels=y, logits=logits))
    return loss_of


def distflow_graph(weights):
    import distflow.compat.v1 as tf
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 28, 28, 1])
        y = tf.placeholder(tf.int64, [None])
        variables = [tf.Variable(w) for w in weights]
        loss = distflow_model(tf, variables)(x, y)
        train = tf.train.GradientDescentOptimizer(LR).minimize(loss)
        init = tf.global_variables_initializer()
    sess = tf.Session(graph=graph)
    sess.run(init)
    return (lambda xb, yb: sess.run(train, {x: xb, y: yb}),
            lambda xb, yb: sess.run(loss, {x: xb, y: yb}))


def distflow_function(weights):
    import distflow as df
    variables = [df.Variable(w) for w in weights]
    loss_of = distflow_model(df, variables)
    opt = df.optimizers.SGD(learning_rate=LR)
    sig = [df.TensorSpec([None, 28, 28, 1], df.float32), df.TensorSpec([None], df.int64)]

    @df.function(input_signature=sig)
    def step(x, y):
        with df.GradientTape() as tape:
            loss = loss_of(x, y)
        grads = tape.gradient(loss, variables)
        opt.apply_gradients(zip(grads, variables))
        return loss

    forward = df.function(loss_of, input_signature=sig)
    return step, forward


def torch_eager(weights):
    import torch
    torch.set_num_threads(1)
    k, b, w1, b1, w2, b2 = weights
    conv = torch.nn.Conv2d(1, 32, 3)
    fc1, fc2 = torch.nn.Linear(5408, 64), torch.nn.Linear(64, 10)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(k.transpose(3, 2, 0, 1).copy()))
        conv.bias.copy_(torch.from_numpy(b))
        # Flatten is NHWC order in Keras; torch flattens NCHW: permute the rows once, up front
        fc1.weight.copy_(torch.from_numpy(
            w1.reshape(13, 13, 32, 64).transpose(2, 0, 1, 3).reshape(5408, 64).T.copy()))
        fc1.bias.copy_(torch.from_numpy(b1))
        fc2.weight.copy_(torch.from_numpy(w2.T.copy()))
        fc2.bias.copy_(torch.from_numpy(b2))
    model = torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                                fc1, torch.nn.ReLU(), fc2)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=LR)

    def step(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    def forward(xb, yb):
        return loss_fn(model(xb), yb)
    return step, forward, torch


def build(impl):
    """(variant, step, forward, feeds) for one implementation; None when it is not installed."""
    weights = init_weights()
    feeds = data()
    if impl == "torch":
        try:
            step, forward, torch = torch_eager(weights)
        except ImportError:
            return None
        feeds = [(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), torch.from_numpy(y))
                 for x, y in feeds]
        return [("eager", step, lambda x, y: forward(x, y).detach(), feeds)]
    return [(v, *(distflow_graph if v == "graph" else distflow_function)(weights), feeds)
            for v in ("graph", "function")]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--impl", nargs="+", choices=("distflow", "torch"),
                   default=["torch", "distflow"])
    p.add_argument("--quick", action="store_true", help="a few steps only (smoke test)")
    args = p.parse_args(argv)
    expected = first_loss(init_weights(), *data()[0])
    runs = []
    for impl in args.impl:
        built = build(impl)
        if built is None:
            common.emit("W6", impl, "eager", skipped="not installed")
            continue
        runs += [(impl,) + b for b in built]
    if not runs:
        return
    losses = [float(forward(*feeds[0])) for _, _, _, forward, feeds in runs]  # before training
    # every implementation timed in alternating blocks in this one process (load that comes and
    # goes hits all alike); paired_ratio is against the first one (PyTorch when installed)
    warmup, blocks, per_block = (2, 2, 2) if args.quick else (10, 15, 5)
    timings = {}
    for what in ("step", "forward"):
        fns = []
        for impl, variant, step, forward, feeds in runs:
            fn = step if what == "step" else forward
            counter = iter(range(10 ** 9))
            fns.append(lambda fn=fn, feeds=feeds, c=counter: fn(*feeds[next(c) % len(feeds)]))
        timings[what] = common.time_interleaved(fns, warmup, blocks, per_block)
    torch_version = None
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        pass
    for k, (impl, variant, step, forward, feeds) in enumerate(runs):
        full, fwd = timings["step"][k], timings["forward"][k]
        extra = {"version": torch_version} if impl == "torch" else {}
        if k:
            extra.update(step_ratio=full["paired_ratio"], forward_ratio=fwd["paired_ratio"],
                         ratio_to=runs[0][0] + " " + runs[0][1])
        full.pop("paired_ratio", None)
        common.emit("W6", impl, variant, first_loss=losses[k],
                    expected_first_loss=expected, forward_us=fwd["wall_us"],
                    backward_us=full["wall_us"] - fwd["wall_us"], **full, **extra)


if __name__ == "__main__":
    sys.exit(main())

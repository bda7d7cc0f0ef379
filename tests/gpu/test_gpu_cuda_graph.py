"""CUDA graphs: a training step replayed from a graph computes exactly what the plain step computes,
one graph per fed shape, and a step that cannot be captured runs as usual and says why."""
import numpy as np
import pytest

import distflow.compat.v1 as tf
from distflow import backend

pytestmark = pytest.mark.gpu

RNG = np.random.default_rng(0)
DATA = RNG.normal(size=(200, 13)).astype(np.float32)
TARGET = RNG.normal(size=(200, 1)).astype(np.float32)
# batches of 16 and a short one of 8, twice: two fed shapes
BATCHES = [(i, i + 16) for i in range(0, 96, 16)] + [(96, 104)] + \
          [(i, i + 16) for i in range(104, 168, 16)] + [(168, 176)]


def _model(device, cuda_graph, noise=False):
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(2)
        x = tf.placeholder(tf.float32, [None, 13])
        y = tf.placeholder(tf.float32, [None, 1])
        w1 = tf.Variable(tf.random_normal([13, 32], stddev=0.2))
        b1 = tf.Variable(tf.zeros([32]))
        w2 = tf.Variable(tf.random_normal([32, 1], stddev=0.2))
        h = tf.nn.relu(tf.matmul(x, w1) + b1)
        if noise:  # a random op in the step: drawn on the host, so it cannot be captured
            h = h * tf.random_uniform([32], 0.9, 1.1)
        loss = tf.reduce_mean(tf.square(tf.matmul(h, w2) - y))
        train = tf.train.AdamOptimizer(0.01).minimize(loss)
        s = tf.Session(graph=g, device=device)
        s.run(tf.global_variables_initializer())
        step = s.make_callable([train, loss], [x, y], cuda_graph=cuda_graph)
    return s, step, (w1, b1, w2)


def _train(device, cuda_graph, noise=False, hook=None):
    s, step, variables = _model(device, cuda_graph, noise)
    losses = []
    for i, (a, b) in enumerate(BATCHES):
        if hook is not None:
            hook(i, s, variables)
        losses.append(step(DATA[a:b], TARGET[a:b])[1])
    return losses, s.run(list(variables)), getattr(step, "cuda_graph", None), s


def test_replayed_steps_compute_what_plain_steps_compute():
    plain_losses, plain_vars, _, _ = _train("gpu", False)
    losses, values, runner, _ = _train("gpu", True)
    assert runner.reason is None
    assert runner.captures == 2                       # one graph per fed shape
    assert runner.plain_runs == 2                     # each shape's warm-up run
    assert runner.replays == len(BATCHES) - 2
    np.testing.assert_allclose(losses, plain_losses, rtol=1e-6)
    for v, p in zip(values, plain_vars):
        np.testing.assert_allclose(v, p, rtol=1e-6, atol=1e-7)
    assert all(isinstance(v, (np.ndarray, np.generic)) for v in losses)


def test_replaced_variable_arrays_are_noticed_and_captured_again():
    def reload(i, s, variables):
        if i == 5:  # after capture: replace w2's array by a new one
            variables[2].load(np.full((32, 1), 0.05, np.float32), s)

    plain_losses, _, _, _ = _train("gpu", False, hook=reload)
    losses, _, runner, _ = _train("gpu", True, hook=reload)
    np.testing.assert_allclose(losses, plain_losses, rtol=1e-6)
    assert runner.captures >= 3  # the first shape was captured again after the load


def test_a_step_with_a_random_op_runs_without_a_graph_and_says_why():
    plain_losses, _, _, _ = _train("gpu", False, noise=True)
    losses, _, runner, _ = _train("gpu", True, noise=True)
    assert "RandomUniform" in runner.reason and runner.captures == 0
    np.testing.assert_allclose(losses, plain_losses, rtol=1e-6)


def test_graphs_replay_faster_than_plain_steps_on_a_small_model():
    import time
    cp = backend.cupy()
    times = {}
    for mode in (False, True):
        s, step, _ = _model("gpu", mode)
        x, y = DATA[:16], TARGET[:16]
        for _ in range(5):
            step(x, y)
        cp.cuda.Device().synchronize()
        t0 = time.perf_counter()
        for _ in range(200):
            step(x, y)
        cp.cuda.Device().synchronize()
        times[mode] = (time.perf_counter() - t0) / 200
    print("Boston-size step: plain %.1f us, CUDA graph %.1f us (%.2fx)"
          % (times[False] * 1e6, times[True] * 1e6, times[False] / times[True]))
    assert times[True] < times[False]

"""Random ops: distributions, dtypes and shapes, and TF's seed rules in graphs, Sessions and eager
mode (reproducible programs, independent streams, new Session = fresh stream)."""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf1

N = 100_000


@pytest.fixture(autouse=True)
def _no_global_seed():
    df.random.set_seed(None)
    yield
    df.random.set_seed(None)


# -- distributions --------------------------------------------------------------------------
def test_normal_statistics():
    x = df.random.normal([N], mean=2.0, stddev=3.0, seed=1).numpy()
    assert x.dtype == np.float32 and x.shape == (N,)
    # Standard errors: 3 / sqrt(N) ~ 0.0095 for the mean, ~0.0067 for the std.
    assert abs(x.mean() - 2.0) < 0.05
    assert abs(x.std() - 3.0) < 0.04


def test_uniform_statistics_and_bounds():
    x = df.random.uniform([N], minval=-1.0, maxval=3.0, dtype=df.float64, seed=2).numpy()
    assert x.dtype == np.float64
    assert x.min() >= -1.0 and x.max() < 3.0
    assert abs(x.mean() - 1.0) < 0.02          # standard error 0.0037
    assert abs(x.std() - 4 / np.sqrt(12)) < 0.02
    counts, _ = np.histogram(x, bins=8, range=(-1, 3))
    assert counts.min() > 0.95 * N / 8           # flat, not bunched


def test_truncated_normal_stays_within_two_stddev():
    x = df.random.truncated_normal([N], mean=1.0, stddev=0.5, seed=3).numpy()
    assert np.all(np.abs(x - 1.0) < 2 * 0.5 + 1e-6)
    assert abs(x.mean() - 1.0) < 0.01
    # The standard normal cut at +-2 has standard deviation 0.8796.
    assert abs(x.std() - 0.8796 * 0.5) < 0.01


def test_uniform_integers():
    x = df.random.uniform([N], minval=-2, maxval=5, dtype=df.int32, seed=4).numpy()
    assert x.dtype == np.int32
    assert set(np.unique(x)) == set(range(-2, 5))
    with pytest.raises(ValueError, match="maxval"):
        df.random.uniform([3], dtype=df.int32)


def test_float16_and_float64_dtypes():
    assert df.random.normal([5], dtype=df.float16).dtype == df.float16
    u = df.random.uniform([N], dtype=df.float16, seed=5).numpy()
    assert u.dtype == np.float16 and u.max() < 1.0
    assert df.random.truncated_normal([5], dtype=df.float64).numpy().dtype == np.float64
    t = df.random.truncated_normal([N], dtype=df.float16, seed=6).numpy()
    assert t.dtype == np.float16 and np.abs(t).max() < 2.0


def test_static_shapes_and_tf1_names():
    g = tf1.Graph()
    with g.as_default():
        w = tf1.random_normal([2, 3], name="w")
        assert w.name == "w:0" and str(w.shape) == "(2, 3)"
        assert g.get_operation_by_name("w/RandomStandardNormal").type == "RandomStandardNormal"
        assert tf1.truncated_normal([4]).name == "truncated_normal:0"
        assert tf1.random_uniform([4]).name == "random_uniform:0"
        x = tf1.placeholder(tf1.float32, [None, 3])
        assert str(tf1.random.uniform(tf1.shape(x)).shape) == "(?, ?)"
        with tf1.Session() as s:
            assert s.run(tf1.random.normal(tf1.shape(x)), {x: np.zeros((7, 3))}).shape == (7, 3)


def test_gradients_flow_to_mean_and_stddev_not_through_the_draw():
    mean, std = df.constant(1.0), df.constant(2.0)
    with df.GradientTape() as tape:
        tape.watch([mean, std])
        y = df.random.normal([10], mean=mean, stddev=std, seed=6)
        loss = df.reduce_sum(y)
    d_mean, d_std = tape.gradient(loss, [mean, std])
    assert d_mean.numpy() == pytest.approx(10.0)
    assert d_std.numpy() == pytest.approx(np.sum((y.numpy() - 1.0) / 2.0), rel=1e-5)


# -- seeds in graphs and Sessions -----------------------------------------------------------
def _draw_in_fresh_graph(graph_seed=None, op_seed=None, runs=1, sessions=1, before=None):
    """Builds a fresh graph (optionally another random op first) and runs the op."""
    g = tf1.Graph()
    with g.as_default():
        if graph_seed is not None:
            tf1.set_random_seed(graph_seed)
        other = tf1.random_uniform([10], seed=before) if before is not None else None
        r = tf1.random_normal([6], seed=op_seed)
        out = []
        for _ in range(sessions):
            with tf1.Session() as s:
                if other is not None:
                    s.run(other)
                out.append([s.run(r) for _ in range(runs)])
    return out


def test_same_seeds_give_the_same_numbers_in_a_fresh_graph():
    for seeds in [(1, None), (1, 7), (None, 7)]:
        a = _draw_in_fresh_graph(*seeds)[0][0]
        b = _draw_in_fresh_graph(*seeds)[0][0]
        np.testing.assert_array_equal(a, b, err_msg="seeds %s" % (seeds,))


def test_no_seed_is_nondeterministic():
    assert not np.array_equal(_draw_in_fresh_graph()[0][0], _draw_in_fresh_graph()[0][0])


def test_op_seed_alone_uses_tf_default_graph_seed():
    np.testing.assert_array_equal(_draw_in_fresh_graph(None, 7)[0][0],
                                  _draw_in_fresh_graph(87654321, 7)[0][0])


def test_different_seeds_give_different_streams():
    base = _draw_in_fresh_graph(1, 7)[0][0]
    assert not np.array_equal(base, _draw_in_fresh_graph(1, 8)[0][0])
    assert not np.array_equal(base, _draw_in_fresh_graph(2, 7)[0][0])
    g = tf1.Graph()
    with g.as_default():
        tf1.set_random_seed(3)
        a, b = tf1.random_normal([6]), tf1.random_normal([6])  # op seeds derived from the graph
        with tf1.Session() as s:
            va, vb = s.run([a, b])
    assert not np.array_equal(va, vb)


def test_an_op_stream_ignores_other_random_ops():
    alone = _draw_in_fresh_graph(1, 7)[0][0]
    np.testing.assert_array_equal(alone, _draw_in_fresh_graph(1, 7, before=9)[0][0])


def test_runs_continue_the_stream_and_a_new_session_restarts_it():
    (first, second, third), (again, _, _) = _draw_in_fresh_graph(5, None, runs=3, sessions=2)
    assert not np.array_equal(first, second) and not np.array_equal(second, third)
    np.testing.assert_array_equal(first, again)


def test_fetching_twice_in_one_run_draws_once():
    g = tf1.Graph()
    with g.as_default():
        r = tf1.random_normal([4], seed=1)
        with tf1.Session() as s:
            a, b = s.run([r, r])
    np.testing.assert_array_equal(a, b)


# -- seeds in eager mode --------------------------------------------------------------------
def test_eager_set_seed_makes_sequences_reproducible():
    df.random.set_seed(11)
    a1, a2 = df.random.normal([5]).numpy(), df.random.normal([5]).numpy()
    s1, s2 = df.random.uniform([5], seed=3).numpy(), df.random.uniform([5], seed=3).numpy()
    assert not np.array_equal(a1, a2) and not np.array_equal(s1, s2)  # streams continue
    df.random.set_seed(11)
    np.testing.assert_array_equal(df.random.normal([5]).numpy(), a1)
    np.testing.assert_array_equal(df.random.normal([5]).numpy(), a2)
    np.testing.assert_array_equal(df.random.uniform([5], seed=3).numpy(), s1)
    np.testing.assert_array_equal(df.random.uniform([5], seed=3).numpy(), s2)


def test_eager_op_seed_without_global_seed_is_reproducible_after_set_seed_none():
    a = df.random.normal([5], seed=4).numpy()
    df.random.set_seed(None)
    np.testing.assert_array_equal(df.random.normal([5], seed=4).numpy(), a)
    assert not np.array_equal(df.random.normal([5]).numpy(), df.random.normal([5]).numpy())


def test_eager_and_graph_agree_for_the_same_seeds():
    df.random.set_seed(21)
    eager = df.random.normal([6], seed=7).numpy()
    np.testing.assert_array_equal(_draw_in_fresh_graph(21, 7)[0][0], eager)


def test_set_seed_also_seeds_the_default_graph():
    df.random.set_seed(13)
    assert df.get_default_graph().seed == 13
    tf1.set_random_seed(14)
    assert tf1.get_default_graph().seed == 14


def test_unseeded_eager_calls_keep_no_streams():
    # A training loop with dropout under set_seed must not accumulate one generator per step.
    from distflow.ops import random_ops
    df.random.set_seed(1)
    for _ in range(200):
        df.nn.dropout(np.ones(4, np.float32), rate=0.5)
    df.random.normal([2], seed=3)
    assert len(random_ops._eager.streams) == 1

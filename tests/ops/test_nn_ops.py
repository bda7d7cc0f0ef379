"""nn ops: the op table (forward, shapes, gradients, second derivatives), numerical stability at
extreme logits, label checks, and dropout's scaling, masks and seeds."""
import warnings

import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf1
from distflow.framework import errors
from distflow.ops import nn_ops
from distflow.ops.registry import OpDef
from op_check import Case, ops_built, table_tests

R = np.random.RandomState(3)


def f64(*shape, lo=-2.0, hi=2.0):
    return R.uniform(lo, hi, shape)


def away_from_zero(*shape):
    """Values with |x| >= 0.2, so finite differences never straddle a kink at 0."""
    x = R.uniform(0.2, 2.0, shape)
    return x * R.choice([-1.0, 1.0], shape)


def probabilities(*shape):
    p = R.uniform(0.1, 1.0, shape)
    return p / p.sum(axis=-1, keepdims=True)


# Independent NumPy references: the textbook formulas, fine for the moderate inputs used here.
def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_softmax(x, axis=-1):
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def np_sigmoid_xent(z, x):
    p = np_sigmoid(x)
    return -z * np.log(p) - (1 - z) * np.log(1 - p)


def np_softmax_xent(z, x, axis=-1):
    return -np.sum(z * np.log(np_softmax(x, axis)), axis=axis)


def np_sparse_xent(labels, x):
    p = np_softmax(x)
    return -np.log(np.take_along_axis(p, labels[..., None].astype(int), -1)[..., 0])


LABELS = np.array([2, 0, 3], np.int32)

CASES = [
    Case("relu", df.nn.relu, lambda x: np.maximum(x, 0), [away_from_zero(3, 4)], second=True),
    Case("relu_int", df.nn.relu, lambda x: np.maximum(x, 0), [np.array([-3, 0, 5], np.int32)],
         grad=False),
    Case("sigmoid", df.nn.sigmoid, np_sigmoid, [f64(3, 4, lo=-4, hi=4)], second=True),
    Case("tanh", df.nn.tanh, np.tanh, [f64(3, 4)], second=True),
    Case("softplus", df.nn.softplus, lambda x: np.log(1 + np.exp(x)), [f64(3, 4, lo=-4, hi=4)],
         second=True),
    Case("elu", df.nn.elu, lambda x: np.where(x > 0, x, np.exp(x) - 1), [away_from_zero(3, 4)],
         second=True),
    Case("softmax", df.nn.softmax, np_softmax, [f64(3, 4)], second=True),
    Case("softmax_axis0", lambda x: df.nn.softmax(x, axis=0), lambda x: np_softmax(x, 0),
         [f64(3, 4)], second=True),
    Case("log_softmax", df.nn.log_softmax, lambda x: np.log(np_softmax(x)), [f64(3, 4)],
         second=True),
    Case("log_softmax_axis1_of_3", lambda x: df.nn.log_softmax(x, axis=1),
         lambda x: np.log(np_softmax(x, 1)), [f64(2, 3, 2)], second=True),
    Case("sigmoid_xent",
         lambda z, x: df.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x),
         np_sigmoid_xent, [R.uniform(0, 1, (3, 4)), f64(3, 4, lo=-4, hi=4)], second=True),
    Case("softmax_xent",
         lambda z, x: df.nn.softmax_cross_entropy_with_logits(labels=z, logits=x),
         np_softmax_xent, [probabilities(3, 5), f64(3, 5)], second=True),
    # Labels that do not sum to 1: the gradient is sum(z) * softmax - z, not softmax - z.
    Case("softmax_xent_unnormalized",
         lambda z, x: df.nn.softmax_cross_entropy_with_logits_v2(labels=z, logits=x),
         np_softmax_xent, [R.uniform(0, 2, (2, 4)), f64(2, 4)], second=True),
    Case("softmax_xent_axis0",
         lambda z, x: df.nn.softmax_cross_entropy_with_logits_v2(labels=z, logits=x, axis=0),
         lambda z, x: np_softmax_xent(z, x, 0), [probabilities(3, 4).T.copy(), f64(4, 3)]),
    Case("sparse_softmax_xent",
         lambda z, x: df.nn.sparse_softmax_cross_entropy_with_logits(labels=z, logits=x),
         np_sparse_xent, [LABELS, f64(3, 4)], second=True),
    Case("sparse_softmax_xent_int64_rank3",
         lambda z, x: df.nn.sparse_softmax_cross_entropy_with_logits(labels=z, logits=x),
         np_sparse_xent, [np.array([[1, 0], [2, 2]], np.int64), f64(2, 2, 3)]),
    Case("l2_loss", df.nn.l2_loss, lambda x: np.sum(x ** 2) / 2, [f64(3, 4)], second=True),
    Case("bias_add", df.nn.bias_add, lambda x, b: x + b, [f64(3, 4), f64(4)], second=True),
    Case("bias_add_nchw", lambda x, b: df.nn.bias_add(x, b, data_format="NCHW"),
         lambda x, b: x + b.reshape(1, 3, 1, 1), [f64(2, 3, 2, 2), f64(3)], second=True),
]


(test_forward_and_shapes, test_gradient, test_graph_gradient_with_unknown_dims,
 test_second_derivative) = table_tests(CASES)


def test_every_forward_op_is_in_the_table():
    defined = {v.name for v in vars(nn_ops).values() if isinstance(v, OpDef)}
    # Gradient-only ops are covered by the gradient and second-derivative checks; the dropout
    # mask is random and has its own tests below.
    defined -= {"ReluGrad", "SparseSoftmaxCrossEntropyGrad", "BiasAddGrad", "DropoutMask"}
    built = set().union(*(ops_built(c) for c in CASES))
    assert defined <= built, "ops without a table case: %s" % sorted(defined - built)


# -- stability at extreme inputs ------------------------------------------------------------
def _no_warnings(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in exp would warn
        return fn()


def test_softmax_of_huge_logits_is_exact():
    out = _no_warnings(lambda: df.nn.softmax([[1000.0, 0.0], [-1000.0, 0.0]]).numpy())
    np.testing.assert_array_equal(out, [[1.0, 0.0], [0.0, 1.0]])
    log = _no_warnings(lambda: df.nn.log_softmax([1000.0, 0.0]).numpy())
    np.testing.assert_allclose(log, [0.0, -1000.0])


def test_activations_at_extremes():
    x = df.constant([-1000.0, 0.0, 1000.0])
    np.testing.assert_array_equal(_no_warnings(lambda: df.nn.sigmoid(x).numpy()), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(_no_warnings(lambda: df.nn.softplus(x).numpy()),
                                  [0.0, np.log(2.0).astype(np.float32), 1000.0])
    np.testing.assert_array_equal(_no_warnings(lambda: df.nn.elu(x).numpy()), [-1.0, 0.0, 1000.0])
    # Full relative precision far in the tail, where 1 - sigmoid(-x) would round to 0.
    np.testing.assert_allclose(df.nn.sigmoid(df.constant(-50.0, df.float64)).numpy(),
                               np.exp(-50.0) / (1 + np.exp(-50.0)), rtol=1e-12)


def test_elu_gradient_is_one_for_large_positive_inputs():
    x = df.constant([1e8, -1e8, -1.0])
    with df.GradientTape() as tape:
        tape.watch(x)
        y = df.nn.elu(x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [1.0, 0.0, np.exp(-1.0)], rtol=1e-6)


def test_sigmoid_cross_entropy_with_huge_logits():
    logits = df.constant([1000.0, 1000.0, -1000.0, -1000.0, 1000.0])
    labels = df.constant([1.0, 0.0, 1.0, 0.0, 0.5])
    with df.GradientTape() as tape:
        tape.watch([logits, labels])
        loss = _no_warnings(lambda: df.nn.sigmoid_cross_entropy_with_logits(labels=labels,
                                                                              logits=logits))
    np.testing.assert_allclose(loss.numpy(), [0.0, 1000.0, 1000.0, 0.0, 500.0])
    d_logits, d_labels = tape.gradient(loss, [logits, labels])
    np.testing.assert_allclose(d_logits.numpy(), [0.0, 1.0, -1.0, 0.0, 0.5])  # sigmoid(x) - z
    np.testing.assert_allclose(d_labels.numpy(), [-1000.0, -1000.0, 1000.0, 1000.0, -1000.0])


def test_softmax_cross_entropies_with_huge_logits():
    logits = df.constant([[1000.0, 0.0, -1000.0]])
    with df.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        dense = df.nn.softmax_cross_entropy_with_logits(labels=[[0.0, 1.0, 0.0]], logits=logits)
        sparse = df.nn.sparse_softmax_cross_entropy_with_logits(labels=[2], logits=logits)
    np.testing.assert_allclose(dense.numpy(), [1000.0])
    np.testing.assert_allclose(sparse.numpy(), [2000.0])
    np.testing.assert_allclose(tape.gradient(dense, logits).numpy(), [[1.0, -1.0, 0.0]], atol=1e-7)
    np.testing.assert_allclose(tape.gradient(sparse, logits).numpy(), [[1.0, 0.0, -1.0]], atol=1e-7)


# -- checks users hit -------------------------------------------------------------------------
def test_sparse_label_out_of_range_names_the_label():
    msg = r"label value of 3 which is outside the valid range of \[0, 3\)"
    with pytest.raises(errors.InvalidArgumentError, match=msg):
        df.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 3], logits=np.zeros((2, 3)))
    g = tf1.Graph()
    with g.as_default():
        labels = tf1.placeholder(tf1.int32, [None])
        loss = tf1.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                               logits=tf1.zeros([2, 3]))
        with tf1.Session() as s:
            with pytest.raises(errors.InvalidArgumentError, match=msg):
                s.run(loss, {labels: [3, 0]})


def test_shape_errors_while_building():
    g = tf1.Graph()
    with g.as_default():
        with pytest.raises(ValueError, match="Rank mismatch"):
            tf1.nn.sparse_softmax_cross_entropy_with_logits(labels=tf1.zeros([2, 3], tf1.int32),
                                                            logits=tf1.zeros([2, 3]))
        with pytest.raises(ValueError, match="same shape"):
            tf1.nn.softmax_cross_entropy_with_logits(labels=tf1.zeros([2, 4]),
                                                     logits=tf1.zeros([2, 3]))
        with pytest.raises(ValueError, match="Dimensions must be equal"):
            tf1.nn.bias_add(tf1.zeros([2, 3]), tf1.zeros([4]))
        with pytest.raises(ValueError, match="named arguments"):
            tf1.nn.sigmoid_cross_entropy_with_logits(logits=tf1.zeros([2]))
        with pytest.raises(TypeError, match="float"):
            tf1.nn.softmax(tf1.zeros([2], tf1.int32))


def test_tf1_names_and_static_shapes():
    g = tf1.Graph()
    with g.as_default():
        x = tf1.placeholder(tf1.float32, [None, 5])
        loss = tf1.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=x)
        xent = tf1.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf1.placeholder(tf1.int32, [None]), logits=x)
        assert loss.name == "logistic_loss:0"
        assert str(xent.shape) == "(?,)"
        assert tf1.nn.relu(x).name == "Relu:0" and str(tf1.nn.softmax(x).shape) == "(?, 5)"
        assert tf1.nn.l2_loss(x).shape.rank == 0


def test_bias_add_nchw_gradient_with_rank_known_only_at_run_time():
    g = tf1.Graph()
    with g.as_default():
        x = tf1.placeholder(tf1.float32)  # unknown rank
        b = tf1.placeholder(tf1.float32, [3])
        db, = tf1.gradients(tf1.nn.bias_add(x, b, data_format="NCHW") * 2.0, [b])
        with tf1.Session() as s:
            got = s.run(db, {x: np.ones((2, 3, 4, 5)), b: np.zeros(3)})
    np.testing.assert_allclose(got, [80.0, 80.0, 80.0])


# -- dropout ----------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _no_global_seed():
    yield
    df.random.set_seed(None)


def test_dropout_scales_kept_units_and_drops_the_rate():
    x = np.full((200, 500), 3.0, np.float32)
    y = df.nn.dropout(x, rate=0.25, seed=1).numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], 3.0 / 0.75, rtol=1e-6)
    assert abs(kept.mean() - 0.75) < 0.01  # 100k draws: the standard error is 0.0014
    np.testing.assert_allclose(y.mean(), 3.0, rtol=0.02)  # inverted dropout keeps the mean


def test_dropout_rate_zero_is_identity_and_bad_rates_raise():
    x = df.constant([1.0, 2.0])
    np.testing.assert_array_equal(df.nn.dropout(x, rate=0.0).numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(df.nn.dropout(x, keep_prob=1.0).numpy(), [1.0, 2.0])
    with pytest.raises(ValueError, match="range"):
        df.nn.dropout(x, rate=1.0)
    with pytest.raises(ValueError, match="both"):
        df.nn.dropout(x, rate=0.5, keep_prob=0.5)
    with pytest.raises(ValueError, match="floating point"):
        df.nn.dropout([1, 2], rate=0.5)


def test_dropout_gradient_is_the_scaled_mask():
    x = df.constant(R.uniform(1, 2, (50, 40)))
    with df.GradientTape() as tape:
        tape.watch(x)
        y = df.nn.dropout(x, rate=0.5)
    grad = tape.gradient(y, x).numpy()
    np.testing.assert_allclose(grad, np.where(y.numpy() != 0, 2.0, 0.0))


def test_dropout_keep_prob_placeholder_and_unknown_batch():
    g = tf1.Graph()
    with g.as_default():
        x = tf1.placeholder(tf1.float32, [None, 100])
        keep = tf1.placeholder(tf1.float32, [])
        y = tf1.nn.dropout(x, keep_prob=keep)
        assert str(y.shape) == "(?, 100)"
        data = np.ones((30, 100), np.float32)
        with tf1.Session() as s:
            np.testing.assert_array_equal(s.run(y, {x: data, keep: 1.0}), data)
            half = s.run(y, {x: data, keep: 0.5})
    assert set(np.unique(half)) == {0.0, 2.0}


def test_dropout_noise_shape_shares_the_mask():
    y = df.nn.dropout(np.ones((400, 6), np.float32), rate=0.5, noise_shape=[400, 1]).numpy()
    assert np.all((y == 0).all(axis=1) | (y == 2).all(axis=1))
    assert 0 < (y[:, 0] == 0).sum() < 400
    z = df.nn.dropout(np.ones((3, 400), np.float32), rate=0.5, noise_shape=[1, None]).numpy()
    assert np.all(z == z[0])


def _dropout_mask_in_fresh_graph(graph_seed, op_seed):
    g = tf1.Graph()
    with g.as_default():
        tf1.set_random_seed(graph_seed)
        y = tf1.nn.dropout(tf1.ones([1000]), rate=0.5, seed=op_seed)
        with tf1.Session() as s:
            return s.run(y), s.run(y)


def test_dropout_masks_follow_the_seeds():
    first, second = _dropout_mask_in_fresh_graph(4, None)
    again, _ = _dropout_mask_in_fresh_graph(4, None)
    np.testing.assert_array_equal(first, again)  # the same program gives the same masks
    assert not np.array_equal(first, second)      # each run draws a new mask
    assert not np.array_equal(_dropout_mask_in_fresh_graph(4, 1)[0],
                              _dropout_mask_in_fresh_graph(4, 2)[0])
    df.random.set_seed(9)
    a = df.nn.dropout(np.ones(1000, np.float32), rate=0.5).numpy()
    df.random.set_seed(9)
    b = df.nn.dropout(np.ones(1000, np.float32), rate=0.5).numpy()
    np.testing.assert_array_equal(a, b)


def test_float_only_nn_ops_refuse_integers_eagerly_as_in_graphs():
    x = df.constant([1, 2, 3])
    for fn in (df.nn.sigmoid, df.nn.tanh, df.nn.softplus, df.nn.elu, df.nn.softmax,
               df.nn.log_softmax, df.nn.l2_loss):
        with pytest.raises(TypeError, match="DataType int32 not in list of allowed values"):
            fn(x)  # NumPy would compute in float64 and hand back a float64 tensor


def test_sparse_labels_and_bias_shapes_are_checked_eagerly():
    logits = df.constant([[1.0, 2.0], [0.5, 0.1]])
    with pytest.raises(TypeError, match="labels must be integer class indices"):
        df.nn.sparse_softmax_cross_entropy_with_logits(labels=[0.0, 1.0], logits=logits)
    with pytest.raises(ValueError, match="Shape must be rank 1 but is rank 2 for 'BiasAdd'"):
        df.nn.bias_add(logits, df.constant([[1.0, 2.0]]))  # NumPy would broadcast it

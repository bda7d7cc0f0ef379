"""relu6, leaky_relu, selu, log_sigmoid, l2_normalize, moments: the op table (forward, shapes,
gradients, second derivatives), TF's gradients at the kinks, dtype rules, names and namespaces."""
import warnings

import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf1
from distflow.ops import activation_ops, normalization_ops
from distflow.ops.registry import OpDef
from op_check import Case, ops_built, table_tests

R = np.random.RandomState(7)
SCALE, ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717


def f64(*shape, lo=-2.0, hi=2.0):
    return R.uniform(lo, hi, shape)


def away_from(kinks, *shape, lo=-2.0, hi=8.0):
    """Values at least 0.2 from every kink, so finite differences never straddle one."""
    x = R.uniform(lo, hi, shape)
    for k in kinks:
        near = np.abs(x - k) < 0.2
        x[near] = k + np.where(x[near] >= k, 0.3, -0.3)
    return x


# Independent NumPy references: the textbook formulas.
def np_selu(x):
    return SCALE * np.where(x > 0, x, ALPHA * (np.exp(x) - 1))


def np_leaky(alpha):
    return lambda x: np.where(x > 0, x, alpha * x)


def np_l2_normalize(axis):
    return lambda x: x / np.sqrt(np.maximum(np.sum(x * x, axis=axis, keepdims=True), 1e-12))


def np_moments(axes, keepdims=False):
    return lambda x: (np.mean(x, axis=tuple(axes), keepdims=keepdims),
                      np.var(x, axis=tuple(axes), keepdims=keepdims))


CASES = [
    Case("relu6", df.nn.relu6, lambda x: np.clip(x, 0, 6), [away_from([0, 6], 4, 5)],
         second=True),
    Case("relu6_int", df.nn.relu6, lambda x: np.clip(x, 0, 6),
         [np.array([-3, 0, 2, 6, 9], np.int32)], grad=False),
    Case("leaky_relu", df.nn.leaky_relu, np_leaky(0.2), [away_from([0], 3, 4, lo=-2, hi=2)],
         second=True),
    Case("leaky_relu_alpha", lambda x: df.nn.leaky_relu(x, alpha=0.3), np_leaky(0.3),
         [away_from([0], 3, 4, lo=-2, hi=2)], second=True),
    Case("leaky_relu_int_to_float32", df.nn.leaky_relu,
         lambda x: np_leaky(0.2)(x.astype(np.float32)).astype(np.float32),
         [np.array([-5, 0, 3], np.int32)], grad=False),
    Case("selu", df.nn.selu, np_selu, [away_from([0], 3, 4, lo=-3, hi=3)], second=True),
    Case("log_sigmoid", df.math.log_sigmoid, lambda x: np.log(1 / (1 + np.exp(-x))),
         [f64(3, 4, lo=-5, hi=5)], second=True),
    Case("l2_normalize_all", df.nn.l2_normalize, np_l2_normalize(None), [f64(3, 4)],
         second=True),
    Case("l2_normalize_axis1", lambda x: df.nn.l2_normalize(x, axis=1), np_l2_normalize(1),
         [f64(3, 4)], second=True),
    Case("l2_normalize_axis0_of_3", lambda x: df.nn.l2_normalize(x, axis=0),
         np_l2_normalize(0), [f64(3, 2, 2)], second=True),
    # A zero row: its squared norm is below epsilon, so it is scaled by 1/sqrt(eps) and stays 0.
    Case("l2_normalize_zero_row", lambda x: df.nn.l2_normalize(x, axis=1), np_l2_normalize(1),
         [np.array([[0.0, 0.0], [3.0, 4.0]])], grad=False),
    Case("moments_axis0", lambda x: df.nn.moments(x, axes=[0]), np_moments([0]), [f64(4, 3)],
         second=True),
    Case("moments_all_keepdims", lambda x: df.nn.moments(x, axes=[0, 1], keepdims=True),
         np_moments([0, 1], True), [f64(3, 4)], second=True),
    Case("moments_axes_0_2_of_3", lambda x: df.nn.moments(x, axes=[0, 2]), np_moments([0, 2]),
         [f64(2, 3, 2)], second=True),
    Case("moments_int_axis", lambda x: df.nn.moments(x, axes=1), np_moments([1]), [f64(3, 4)]),
    Case("moments_float16", lambda x: df.nn.moments(x, axes=[0]),
         lambda x: tuple(r.astype(np.float16) for r in np_moments([0])(x.astype(np.float32))),
         [f64(6, 3).astype(np.float16)], grad=False, rtol=2e-3, atol=2e-3),
    Case("moments_int32", lambda x: df.nn.moments(x, axes=[0]),
         lambda x: (np.array([2, 5], np.int32), np.array([1, 9], np.int32)),
         [np.array([[1, 2], [3, 8]], np.int32)], grad=False),
    Case("batch_normalization", lambda x, m, v, o, s: df.nn.batch_normalization(
        x, m, v, o, s, 1e-3), lambda x, m, v, o, s: (x - m) / np.sqrt(v + 1e-3) * s + o,
        [f64(2, 3, 2), f64(2), f64(2, lo=0.5, hi=2.0), f64(2), f64(2)], second=True),
    Case("fused_batch_norm_training", lambda x, s, o: df.nn.fused_batch_norm(x, s, o),
         lambda x, s, o: ((x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + 1e-3) * s + o,
                          x.mean((0, 1, 2)), x.var((0, 1, 2), ddof=1)),
         [f64(2, 2, 3, 2), f64(2), f64(2)], second=True),
    Case("fused_batch_norm_inference", lambda x, s, o, m, v: df.nn.fused_batch_norm(
        x, s, o, m, v, epsilon=0.01, is_training=False)[0],
        lambda x, s, o, m, v: (x - m) / np.sqrt(v + 0.01) * s + o,
        [f64(2, 2, 2, 3), f64(3), f64(3), f64(3), f64(3, lo=0.5, hi=2.0)]),
]


(test_forward_and_shapes, test_gradient, test_graph_gradient_with_unknown_dims,
 test_second_derivative) = table_tests(CASES)


def test_every_op_in_these_modules_is_built_by_some_case():
    defined = {v.name for v in vars(activation_ops).values() if isinstance(v, OpDef)}
    gradient_ops = {"Relu6Grad", "LeakyReluGrad", "SeluGrad"}  # built by the gradient checks
    built = set().union(*(ops_built(c) for c in CASES))
    assert defined - gradient_ops <= built, "ops without a case: %s" % sorted(defined - built)
    assert gradient_ops <= defined
    # the composites define no op: each public function needs a case of its own
    names = activation_ops.__all__ + activation_ops.MATH_NAMES + normalization_ops.__all__
    missing = [n for n in names if not any(c.name.startswith(n) for c in CASES)]
    assert not missing, "functions without a case: %s" % missing


# -- TF's gradients at the kinks (nn_grad.py: Relu6Grad from the output, LeakyReluGrad, SeluGrad)
def _grad(fn, values):
    x = df.constant(np.array(values, np.float32))
    with df.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x).numpy()


def test_gradients_exactly_at_the_kinks_are_tfs():
    np.testing.assert_array_equal(_grad(df.nn.relu6, [0.0, 6.0, 3.0, 7.0, -1.0]),
                                  [0.0, 0.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(_grad(df.nn.leaky_relu, [0.0, 1.0, -1.0]),
                                  np.array([0.2, 1.0, 0.2], np.float32))
    np.testing.assert_array_equal(_grad(lambda x: df.nn.leaky_relu(x, alpha=0.5), [0.0]), [0.5])
    np.testing.assert_allclose(_grad(df.nn.selu, [0.0, 1.0, -1.0]),
                               [SCALE, SCALE, SCALE * ALPHA * np.exp(-1.0)], rtol=1e-6)


def test_gradients_in_a_graph_session():
    g = tf1.Graph()
    with g.as_default():
        x = tf1.placeholder(tf1.float32, [4])
        grads = tf1.gradients([tf1.nn.relu6(x), tf1.nn.leaky_relu(x, 0.1), tf1.nn.selu(x)], [x])
        with tf1.Session() as s:
            got = s.run(grads[0], {x: [-1.0, 0.0, 3.0, 6.0]})
    np.testing.assert_allclose(got, [0.1 + SCALE * ALPHA * np.exp(-1.0), 0.1 + SCALE,
                                     2.0 + SCALE, 1.0 + SCALE], rtol=1e-6)


# -- dtypes, names, namespaces ----------------------------------------------------------------
def test_dtype_rules():
    assert df.nn.relu6(df.constant([-1, 9])).dtype == df.int32
    assert df.nn.leaky_relu(df.constant([-1, 9])).dtype == df.float32
    assert df.nn.selu(df.constant([1.0], df.float64)).dtype == df.float64
    for fn in (df.nn.selu, df.math.log_sigmoid):
        with pytest.raises(TypeError, match="float"):
            fn(df.constant([1, 2]))
    with pytest.raises(TypeError):
        df.nn.l2_normalize(df.constant([1, 2]))  # TF: epsilon cannot become an int32


def test_tf1_names_and_shapes():
    g = tf1.Graph()
    with g.as_default():
        x = tf1.placeholder(tf1.float32, [None, 3])
        assert [t.name for t in (tf1.nn.relu6(x), tf1.nn.leaky_relu(x), tf1.nn.selu(x),
                                 tf1.log_sigmoid(x), tf1.nn.l2_normalize(x, axis=1))] == \
            ["Relu6:0", "LeakyRelu:0", "Selu:0", "LogSigmoid:0", "l2_normalize:0"]
        mean, var = tf1.nn.moments(x, [0])
        assert (mean.name, var.name, str(mean.shape)) == ("moments/Squeeze:0",
                                                          "moments/Squeeze_1:0", "(3,)")
        mean, var = tf1.nn.moments(x, [0], keep_dims=True)
        assert (mean.name, var.name, str(var.shape)) == ("moments_1/mean:0",
                                                         "moments_1/variance:0", "(1, 3)")
        assert str(tf1.nn.l2_normalize(x, dim=0).shape) == "(?, 3)"


def test_namespaces_follow_tf():
    for name in ("relu6", "leaky_relu", "selu", "l2_normalize", "moments"):
        assert callable(getattr(df.nn, name)) and callable(getattr(tf1.nn, name))
    assert callable(df.math.log_sigmoid) and "log_sigmoid" in df.math.__all__
    assert not hasattr(df.nn, "log_sigmoid")  # tf.nn has none either


def test_extreme_inputs_stay_finite_without_warnings():
    x = df.constant([-1000.0, 0.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(df.nn.selu(x).numpy(), [-SCALE * ALPHA, 0.0, SCALE * 1000],
                                   rtol=1e-6)
        np.testing.assert_allclose(df.math.log_sigmoid(x).numpy(), [-1000.0, -np.log(2), 0.0],
                                   rtol=1e-6)
    # log_sigmoid keeps full precision far in the tail, where log(sigmoid(x)) rounds to 0
    np.testing.assert_allclose(df.math.log_sigmoid(df.constant(40.0, df.float64)).numpy(),
                               -np.log1p(np.exp(-40.0)), rtol=1e-12)


def test_moments_variance_has_the_full_second_derivative():
    # d2 var / dx_i dx_j = 2 (delta_ij - 1/n) / n: the mean's path is kept (TF stops it)
    x = df.constant([1.0, 2.0, 4.0], df.float64)
    with df.GradientTape() as outer:
        outer.watch(x)
        with df.GradientTape() as inner:
            inner.watch(x)
            _, var = df.nn.moments(x, axes=[0])
        g = inner.gradient(var, x)
        first = df.reduce_sum(g * df.constant([1.0, 0.0, 0.0], df.float64))
    np.testing.assert_allclose(g.numpy(), 2 * (x.numpy() - x.numpy().mean()) / 3)
    np.testing.assert_allclose(outer.gradient(first, x).numpy(),
                               [2 * (1 - 1 / 3) / 3, -2 / 9, -2 / 9])

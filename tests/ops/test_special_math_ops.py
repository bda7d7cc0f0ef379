"""The op table for trigonometric, hyperbolic and special functions (special_math_ops), and the
TF rules they follow: float inputs only, TF's node names, TF2's top-level names, and erf/erfc
as accurate as the C library's."""
import math

import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf1
from op_check import Case, ops_built, table_tests

R = np.random.RandomState(11)


def f64(*shape, lo=-2.0, hi=2.0):
    return R.uniform(lo, hi, shape)


np_erf = np.vectorize(math.erf, otypes=[np.float64])
np_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def np_xlogy(x, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x * np.log(np.where(x == 0, 1.0, y)))


def np_xdivy(x, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x / np.where(x == 0, 1.0, y))


# erf's pieces meet at |x| = 0.84375, 1.25 and 1/0.35; erfc(x) underflows from about 27
ERF_POINTS = np.array([0.0, -0.0, 1e-300, 1e-20, -1e-9, 0.2, 0.25, 0.5, 0.84375, -0.84375, 1.0,
                       1.25, -1.25, 2.0, 1 / 0.35, -1 / 0.35, 4.0, 5.9, 6.0, -6.0, 10.0, 26.0,
                       27.5, 28.0, -28.0, 40.0, np.inf, -np.inf, np.nan])
ZERO_X = np.array([0.0, 0.0, 0.0, 1.5, -2.0, 0.5])
Y_FOR_ZERO_X = np.array([0.0, np.inf, 2.0, 0.5, 3.0, 4.0])

CASES = [
    Case("tan", df.tan, np.tan, [f64(3, 4, lo=-1.2, hi=1.2)], second=True),
    Case("asin", df.asin, np.arcsin, [f64(3, 4, lo=-0.8, hi=0.8)], second=True),
    Case("acos", df.acos, np.arccos, [f64(3, 4, lo=-0.8, hi=0.8)], second=True),
    Case("atan", df.atan, np.arctan, [f64(3, 4, lo=-3, hi=3)], second=True),
    Case("atan2", df.atan2, np.arctan2, [f64(3, 4), f64(3, 4)], second=True),
    Case("atan2_broadcast", df.math.atan2, np.arctan2, [f64(3, 1), f64(4, lo=0.3, hi=2)],
         second=True),
    Case("sinh", df.sinh, np.sinh, [f64(2, 3)], second=True),
    Case("cosh", df.cosh, np.cosh, [f64(2, 3)], second=True),
    Case("asinh", df.asinh, np.arcsinh, [f64(2, 3, lo=-3, hi=3)], second=True),
    Case("acosh", df.acosh, np.arccosh, [f64(2, 3, lo=1.3, hi=4)], second=True),
    Case("atanh", df.atanh, np.arctanh, [f64(2, 3, lo=-0.8, hi=0.8)], second=True),
    Case("expm1", df.math.expm1, np.expm1, [f64(3, 4)], second=True),
    Case("expm1_tiny", df.math.expm1, np.expm1, [np.array([1e-10, -3e-12, 1e-300])],
         rtol=1e-15, atol=0, grad=False),
    Case("erf", df.math.erf, np_erf, [f64(3, 4, lo=-3, hi=3)], second=True),
    Case("erfc", df.math.erfc, np_erfc, [f64(3, 4, lo=-3, hi=3)], second=True),
    Case("erf_every_piece", df.math.erf, np_erf, [ERF_POINTS], rtol=1e-15, atol=0, grad=False),
    Case("erfc_every_piece", df.math.erfc, np_erfc, [ERF_POINTS], rtol=1e-15, atol=0,
         grad=False),
    Case("erf_float32", df.math.erf, lambda x: np_erf(x).astype(np.float32),
         [f64(7, lo=-4, hi=4).astype(np.float32)], rtol=1e-7, atol=0, grad=False),
    Case("xlogy", df.math.xlogy, np_xlogy, [f64(3, 4), f64(3, 4, lo=0.3, hi=3)], second=True),
    Case("xlogy_broadcast", df.math.xlogy, np_xlogy, [f64(3, 1), f64(4, lo=0.3, hi=3)],
         second=True),
    Case("xlogy_zero_x", df.math.xlogy, np_xlogy, [ZERO_X, Y_FOR_ZERO_X], grad=False),
    Case("xdivy", df.math.xdivy, np_xdivy, [f64(3, 4), f64(4, lo=0.5, hi=2)], second=True),
    Case("xdivy_zero_x", df.math.xdivy, np_xdivy, [ZERO_X, Y_FOR_ZERO_X], grad=False),
    Case("scalar_mul", lambda x: df.scalar_mul(2.5, x), lambda x: 2.5 * x, [f64(3, 2)],
         second=True),
    Case("scalar_mul_int", lambda x: df.math.scalar_mul(3, x), lambda x: 3 * x,
         [np.array([1, -2, 4], np.int32)], grad=False),
    Case("polyval", lambda a, b, c, x: df.math.polyval([a, b, c], x),
         lambda a, b, c, x: np.polyval([a, b, c], x),
         [np.array(1.5), np.array(-2.0), np.array(0.5), f64(3, 2)], second=True),
    Case("polyval_empty", lambda x: df.math.polyval([], x), np.zeros_like, [f64(3)],
         grad=False),
]

(test_forward_and_shapes, test_gradient, test_graph_gradient_with_unknown_dims,
 test_second_derivative) = table_tests(CASES)


def test_every_special_math_op_is_built_by_some_case():
    from distflow.ops import special_math_ops
    from distflow.ops.registry import OpDef
    defined = {v.name for v in vars(special_math_ops).values() if isinstance(v, OpDef)}
    assert defined - set().union(*(ops_built(c) for c in CASES)) == set()


def test_erf_and_erfc_match_the_c_library_to_float64_rounding():
    x = np.concatenate([np.linspace(-30, 30, 60001), np.logspace(-310, 1.5, 3000),
                        -np.logspace(-310, 1.5, 3000)])
    for fn, ref in ((df.math.erf, math.erf), (df.math.erfc, math.erfc)):
        got = fn(df.constant(x)).numpy()
        want = np.array([ref(v) for v in x])
        normal = np.abs(want) >= np.finfo(np.float64).tiny  # subnormals carry fewer bits
        np.testing.assert_allclose(got[normal], want[normal], rtol=1e-15, atol=0)
        np.testing.assert_allclose(got[~normal], want[~normal], rtol=0, atol=1e-323)


@pytest.mark.parametrize("fn", [df.tan, df.atan, df.asin, df.acos, df.sinh, df.cosh, df.asinh,
                                df.acosh, df.atanh, df.math.expm1, df.math.erf, df.math.erfc])
def test_integers_are_refused_as_tf_refuses_them(fn):
    with pytest.raises(TypeError, match="DataType int32 not in list of allowed values"):
        fn(df.constant([1, 2]))
    with tf1.Graph().as_default():
        with pytest.raises(TypeError, match="DataType int64 not in list of allowed values"):
            fn(tf1.placeholder(tf1.int64, [2]))


@pytest.mark.parametrize("fn", [df.atan2, df.math.xlogy, df.math.xdivy])
def test_float_only_binary_ops_refuse_integers_and_python_ints(fn):
    with pytest.raises(TypeError, match="DataType int32 not in list of allowed values"):
        fn(df.constant([1, 2]), df.constant([3, 4]))
    with pytest.raises(TypeError, match="DataType int32 not in list of allowed values"):
        fn(1, 2)
    np.testing.assert_allclose(fn(1.0, df.constant([2.0])).numpy(),
                               fn(df.constant([1.0]), df.constant([2.0])).numpy())


def test_node_names_follow_tf():
    with tf1.Graph().as_default() as g:
        x = tf1.placeholder(tf1.float32, [3], name="x")
        names = [df.tan(x).name, df.math.erf(x).name, df.math.expm1(x).name,
                 df.atan2(x, 2.0).name, df.math.xlogy(x, x).name, df.math.xdivy(x, x).name,
                 df.scalar_mul(2.0, x).name, df.scalar_mul(2.0, x, name="twice").name,
                 df.math.polyval([1.0, 2.0], x).name]
        assert names == ["Tan:0", "Erf:0", "Expm1:0", "Atan2:0", "Xlogy:0", "xdivy/Xdivy:0",
                         "scalar_mul:0", "twice:0", "polyval/add:0"]
        ops = {op.name: op.type for op in g.get_operations()}
        assert ops["Atan2/x"] == "Const" and ops["scalar_mul/scalar"] == "Const"
        assert ops["polyval/coeff_1"] == "Const"


def test_tf2_top_level_names_only():
    for name in ("tan", "atan", "atan2", "asin", "acos", "sinh", "cosh", "asinh", "acosh",
                 "atanh", "scalar_mul"):
        assert getattr(df, name) is getattr(df.math, name)
    for name in ("expm1", "erf", "erfc", "xlogy", "xdivy", "polyval", "cumprod",
                 "reduce_euclidean_norm"):
        assert hasattr(df.math, name) and not hasattr(df, name)  # tf.math only in TF2
        assert callable(getattr(tf1.math, name))


def test_xlogy_and_xdivy_are_zero_where_x_is_zero_and_so_are_their_gradients():
    x = df.constant([0.0, 0.0, 2.0])
    y = df.constant([0.0, 3.0, 4.0])
    for fn, gy_at_2 in ((df.math.xlogy, 2.0 / 4.0), (df.math.xdivy, -2.0 / 16.0)):
        with df.GradientTape(persistent=True) as tape:
            tape.watch([x, y])
            out = fn(x, y)
        assert out.numpy()[0] == 0.0 and out.numpy()[1] == 0.0
        gx, gy = tape.gradient(out, [x, y])
        # TF's rule: d/dx is xlogy(x != 0, y) (xdivy), 0 where x is 0, not log(y) (1/y)
        np.testing.assert_allclose(gx.numpy()[:2], [0.0, 0.0])
        np.testing.assert_allclose(gy.numpy(), [0.0, 0.0, gy_at_2])


def test_scalar_mul_takes_a_0d_scalar_only():
    with pytest.raises(ValueError, match="The input scalar must be a 0-D value. "
                                         r"Received shape \(1,\)."):
        df.scalar_mul(df.constant([2.0]), df.constant([1.0, 2.0]))
    with pytest.raises(TypeError):  # 2.5 cannot become int32, as in TF
        df.scalar_mul(2.5, df.constant([1, 2]))


def test_polyval_wants_a_list_and_follows_numpy_order():
    with pytest.raises(ValueError, match="Argument coeffs must be list type"):
        df.math.polyval(df.constant([1.0, 2.0]), 3.0)
    assert df.math.polyval([2, 1, 0], 3).numpy() == 21  # 2 * 3**2 + 1 * 3 + 0, int32 as in TF

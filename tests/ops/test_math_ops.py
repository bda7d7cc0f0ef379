"""The op table for math ops: forward, shapes, gradients and second derivatives, both modes."""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf1
from distflow.ops.comparison_ops import where_v1
from op_check import Case, table_tests

R = np.random.RandomState(42)


def f64(*shape, lo=-2.0, hi=2.0):
    return R.uniform(lo, hi, shape)


def away_from_zero(*shape, lo=0.3, hi=2.0):
    """Values in [-hi, -lo] or [lo, hi]: clear of the kink of abs and the pole of 1/x."""
    return R.choice([-1.0, 1.0], shape) * R.uniform(lo, hi, shape)


def bools(*shape):
    return R.uniform(size=shape) < 0.5


def ints(*values):
    return np.array(values, np.int32)


def np_logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


CASES = [
    Case("add", df.add, np.add, [f64(3, 4), f64(3, 4)], second=True),
    Case("add_broadcast", df.add, np.add, [f64(3, 1), f64(4)], second=True),
    Case("add_int", df.add, np.add, [np.array([1, 2], np.int32), np.array([3, 4], np.int32)], grad=False),
    Case("subtract", df.subtract, np.subtract, [f64(2, 3), f64(3)], second=True),
    Case("multiply", df.multiply, np.multiply, [f64(2, 3), f64(2, 3)], second=True),
    Case("multiply_broadcast", df.multiply, np.multiply, [f64(2, 1, 3), f64(4, 1)], second=True),
    Case("divide", df.divide, np.divide, [f64(3, 2), f64(3, 2, lo=0.5, hi=2.0)], second=True),
    Case("negative", df.negative, np.negative, [f64(5)], second=True),
    Case("square", df.square, np.square, [f64(2, 3)], second=True),
    Case("add_n", lambda a, b, c: df.add_n([a, b, c]), lambda a, b, c: a + b + c,
         [f64(2, 2), f64(2, 2), f64(2, 2)], second=True),
    Case("reduce_sum_all", df.reduce_sum, np.sum, [f64(3, 4)], second=True),
    Case("reduce_sum_axis", lambda x: df.reduce_sum(x, axis=1), lambda x: np.sum(x, 1), [f64(3, 4)]),
    Case("reduce_sum_keepdims", lambda x: df.reduce_sum(x, axis=[0, 2], keepdims=True),
         lambda x: np.sum(x, (0, 2), keepdims=True), [f64(2, 3, 4)]),
    Case("reduce_mean", df.reduce_mean, np.mean, [f64(3, 4)], second=True),
    Case("reduce_mean_axis", lambda x: df.reduce_mean(x, axis=-1), lambda x: np.mean(x, -1), [f64(3, 4)]),
    Case("cast", lambda x: df.cast(x, df.float32), lambda x: x.astype(np.float32), [f64(3)],
         grad=False, rtol=1e-6),
    Case("sum_to", lambda x: df.sum_to(x, [3, 1]), lambda x: x.sum(axis=(0, 2), keepdims=False)
         .reshape(3, 1), [f64(2, 3, 4)]),
    Case("broadcast_to", lambda x: df.broadcast_to(x, [2, 3, 4]),
         lambda x: np.broadcast_to(x, (2, 3, 4)), [f64(3, 1)], second=True),
    # -- floor division and modulo: piecewise, so first derivatives only, away from the jumps
    Case("floordiv", df.floordiv, np.floor_divide,
         [f64(3, 4, lo=-5, hi=5), f64(4, lo=0.7, hi=1.9)]),
    Case("floordiv_int", df.floordiv, np.floor_divide,
         [ints(-7, -3, 0, 5, 7, -8), ints(2, 2, 3, -2, 3, -3)], grad=False),
    Case("mod", df.mod, np.mod, [f64(3, 4, lo=-5, hi=5), f64(4, lo=0.7, hi=1.9)]),
    Case("floormod_broadcast_y", df.floormod, np.mod,
         [f64(4, lo=0.1, hi=5), f64(3, 1, lo=-3, hi=-1)]),
    Case("mod_int", df.mod, np.mod, [ints(-7, 7, -7, 7, 0), ints(3, 3, -3, -3, 5)], grad=False),
    # -- unary
    Case("abs", df.abs, np.abs, [away_from_zero(3, 4)], second=True),
    Case("abs_int", df.abs, np.abs, [ints(-3, 0, 4)], grad=False),
    Case("sign", df.sign, np.sign, [away_from_zero(2, 3)]),
    Case("sqrt", df.sqrt, np.sqrt, [f64(3, 4, lo=0.3, hi=3.0)], second=True),
    Case("rsqrt", df.math.rsqrt, lambda x: 1 / np.sqrt(x), [f64(3, 4, lo=0.3, hi=3.0)],
         second=True),
    Case("exp", df.exp, np.exp, [f64(3, 4)], second=True),
    Case("log", df.math.log, np.log, [f64(3, 4, lo=0.3, hi=3.0)], second=True),
    Case("log1p", df.math.log1p, np.log1p, [f64(3, 4, lo=-0.6, hi=3.0)], second=True),
    Case("sin", df.sin, np.sin, [f64(2, 3, lo=-3, hi=3)], second=True),
    Case("cos", df.cos, np.cos, [f64(2, 3, lo=-3, hi=3)], second=True),
    Case("reciprocal", df.math.reciprocal, np.reciprocal, [away_from_zero(3, 4, lo=0.5)],
         second=True),
    # -- pow: both gradients for a positive base; only the base's for a negative one
    Case("pow", df.pow, np.power, [f64(3, 4, lo=0.3, hi=2.0), f64(3, 4, lo=-1.5, hi=1.5)],
         second=True),
    Case("pow_broadcast", df.pow, np.power, [f64(3, 1, lo=0.3, hi=2.0), f64(4, lo=-1.5, hi=1.5)],
         second=True),
    Case("pow_negative_base", lambda x, y: df.pow(x, y), np.power,
         [away_from_zero(3, 4), np.array([2.0, 3.0, -1.0, 2.0])], wrt=(0,), second=True),
    Case("pow_int", df.pow, np.power, [ints(2, 3, -2, 5), ints(3, 2, 3, 0)], grad=False),
    # -- maximum, minimum, clip_by_value (random floats: no ties)
    Case("maximum", df.maximum, np.maximum, [f64(3, 4), f64(3, 4)], second=True),
    Case("maximum_broadcast", df.maximum, np.maximum, [f64(3, 1), f64(4)], second=True),
    Case("minimum_broadcast", df.minimum, np.minimum, [f64(2, 1, 3), f64(4, 1)], second=True),
    Case("maximum_int", df.maximum, np.maximum, [ints(1, 5, -2), ints(3, 2, -2)], grad=False),
    Case("clip_by_value", lambda x: df.clip_by_value(x, -1.0, 1.0), lambda x: np.clip(x, -1, 1),
         [f64(3, 4)], second=True),
    Case("clip_by_value_tensor_bounds", df.clip_by_value, np.clip,
         [f64(3, 4), f64(4, lo=-1.5, hi=-0.3), f64(3, 1, lo=0.3, hi=1.5)], second=True),
    # -- matmul: MatMul for matrices, BatchMatMulV2 for batches (and for unknown ranks)
    Case("matmul", df.matmul, np.matmul, [f64(3, 4), f64(4, 5)], second=True),
    Case("matmul_transpose_a", lambda a, b: df.matmul(a, b, transpose_a=True),
         lambda a, b: a.T @ b, [f64(4, 3), f64(4, 5)], second=True),
    Case("matmul_transpose_b", lambda a, b: df.matmul(a, b, transpose_b=True),
         lambda a, b: a @ b.T, [f64(3, 4), f64(5, 4)]),
    Case("matmul_transpose_both", lambda a, b: df.matmul(a, b, transpose_a=True, transpose_b=True),
         lambda a, b: a.T @ b.T, [f64(4, 3), f64(5, 4)]),
    Case("matmul_adjoint", lambda a, b: df.matmul(a, b, adjoint_a=True, adjoint_b=True),
         lambda a, b: a.T @ b.T, [f64(4, 3), f64(5, 4)]),
    Case("matmul_batch", df.matmul, np.matmul, [f64(2, 3, 4), f64(2, 4, 5)], second=True),
    Case("matmul_batch_broadcast", df.matmul, np.matmul, [f64(2, 1, 3, 4), f64(3, 4, 2)],
         second=True),
    Case("matmul_batch_matrix", lambda a, b: df.matmul(a, b, transpose_a=True),
         lambda a, b: np.swapaxes(a, -1, -2) @ b, [f64(2, 4, 3), f64(4, 5)]),
    Case("matmul_batch_adjoint_b", lambda a, b: df.matmul(a, b, adjoint_b=True),
         lambda a, b: a @ np.swapaxes(b, -1, -2), [f64(3, 4), f64(2, 5, 4)]),
    Case("matmul_int", df.matmul, np.matmul,
         [np.arange(6, dtype=np.int32).reshape(2, 3), np.arange(6, dtype=np.int32).reshape(3, 2)],
         grad=False),
    # -- reductions (random floats: no ties, no zeros)
    Case("reduce_max", df.reduce_max, np.max, [f64(3, 4)], second=True),
    Case("reduce_max_axis", lambda x: df.reduce_max(x, axis=1), lambda x: np.max(x, 1),
         [f64(3, 4)]),
    Case("reduce_max_keepdims", lambda x: df.reduce_max(x, axis=[0, 2], keepdims=True),
         lambda x: np.max(x, (0, 2), keepdims=True), [f64(2, 3, 4)]),
    Case("reduce_min", lambda x: df.reduce_min(x, axis=-1), lambda x: np.min(x, -1), [f64(3, 4)],
         second=True),
    Case("reduce_min_int", df.reduce_min, np.min, [ints(4, -2, 7)], grad=False),
    Case("reduce_prod", df.reduce_prod, np.prod, [f64(2, 3, lo=0.5, hi=1.5)], second=True),
    Case("reduce_prod_axis", lambda x: df.reduce_prod(x, axis=0), lambda x: np.prod(x, 0),
         [away_from_zero(3, 4)], second=True),
    Case("reduce_prod_keepdims", lambda x: df.reduce_prod(x, axis=[1], keepdims=True),
         lambda x: np.prod(x, 1, keepdims=True), [away_from_zero(2, 3, 2)]),
    Case("reduce_prod_int", lambda x: df.reduce_prod(x, 0), lambda x: np.prod(x, 0, dtype=np.int32),
         [np.array([[2, 3], [-4, 5]], np.int32)], grad=False),
    Case("reduce_euclidean_norm", df.math.reduce_euclidean_norm,
         lambda x: np.sqrt(np.sum(x * x)), [f64(3, 4)], second=True),
    Case("reduce_euclidean_norm_axis", lambda x: df.math.reduce_euclidean_norm(x, axis=-1),
         lambda x: np.linalg.norm(x, axis=-1), [f64(3, 4)], second=True),
    Case("reduce_euclidean_norm_keepdims",
         lambda x: df.math.reduce_euclidean_norm(x, axis=[0, 2], keepdims=True),
         lambda x: np.sqrt(np.sum(x * x, (0, 2), keepdims=True)), [f64(2, 3, 4)]),
    Case("reduce_euclidean_norm_int", lambda x: df.math.reduce_euclidean_norm(x, axis=1),
         lambda x: np.sqrt(np.sum(x * x, 1)).astype(np.int32),  # rounded toward zero, as TF
         [np.array([[3, 4], [1, 1], [2, -2]], np.int32)], grad=False),
    Case("reduce_logsumexp", df.reduce_logsumexp, np_logsumexp, [f64(3, 4)], second=True),
    Case("reduce_logsumexp_axis", lambda x: df.reduce_logsumexp(x, axis=1),
         lambda x: np_logsumexp(x, 1), [f64(3, 4, lo=-5, hi=5)], second=True),
    Case("reduce_logsumexp_keepdims", lambda x: df.reduce_logsumexp(x, axis=[0, 2], keepdims=True),
         lambda x: np_logsumexp(x, (0, 2), keepdims=True), [f64(2, 3, 4)]),
    Case("argmax", lambda x: df.argmax(x, axis=1), lambda x: np.argmax(x, 1), [f64(3, 4)],
         grad=False),
    Case("argmax_default_axis", df.argmax, lambda x: np.argmax(x, 0), [f64(3, 4)], grad=False),
    Case("argmin_int32", lambda x: df.argmin(x, axis=-1, output_type=df.int32),
         lambda x: np.argmin(x, -1).astype(np.int32), [f64(2, 3, 4)], grad=False),
    # -- comparisons and logical ops (bool results)
    Case("equal", df.equal, np.equal, [ints(1, 2, 3, 4), ints(1, 0, 3, 5)], grad=False),
    Case("not_equal", df.not_equal, np.not_equal, [f64(3, 1).round(), f64(4).round()], grad=False),
    Case("less", df.less, np.less, [f64(3, 1), f64(4)], grad=False),
    Case("less_equal", df.less_equal, np.less_equal, [ints(1, 2, 3), ints(2)], grad=False),
    Case("greater", df.greater, np.greater, [f64(2, 3), f64(3)], grad=False),
    Case("greater_equal", df.greater_equal, np.greater_equal, [ints(1, 2, 3), ints(2, 2, 2)],
         grad=False),
    Case("logical_and", df.logical_and, np.logical_and, [bools(3, 1), bools(4)], grad=False),
    Case("logical_or", df.logical_or, np.logical_or, [bools(2, 3), bools(2, 3)], grad=False),
    Case("logical_not", df.logical_not, np.logical_not, [bools(5)], grad=False),
    # -- where: SelectV2 broadcasts; TF1's Select lets a vector pick rows; one argument: indices
    Case("where", df.where, np.where, [bools(3, 4), f64(3, 4), f64(3, 4)], second=True),
    Case("where_broadcast", df.where, np.where, [bools(3, 1), f64(4), f64(2, 1, 1)], second=True),
    Case("where_v1_rows", where_v1, lambda c, x, y: np.where(c[:, None], x, y),
         [bools(3), f64(3, 4), f64(3, 4)], second=True),
    Case("where_v1_same_shape", where_v1, np.where, [bools(2, 3), f64(2, 3), f64(2, 3)]),
    Case("where_indices", df.where, lambda c: np.argwhere(c).astype(np.int64), [bools(3, 4)],
         grad=False),
    Case("logical_xor", df.math.logical_xor, np.logical_xor, [bools(3, 1), bools(4)], grad=False),
    Case("is_nan", df.math.is_nan, np.isnan, [np.array([1.0, np.nan, np.inf, -np.inf])],
         grad=False),
    Case("is_inf", df.math.is_inf, np.isinf, [np.array([1.0, np.nan, np.inf, -np.inf])],
         grad=False),
    Case("is_finite", df.math.is_finite, np.isfinite, [np.array([1.0, np.nan, np.inf, -np.inf])],
         grad=False),
    # -- TF's composite and convenience math
    Case("squared_difference", df.math.squared_difference, lambda x, y: (x - y) ** 2,
         [f64(3, 1), f64(4)], second=True),
    Case("squared_difference_int", df.math.squared_difference, lambda x, y: (x - y) ** 2,
         [ints(1, 5), ints(3, 2)], grad=False),
    Case("divide_no_nan", df.math.divide_no_nan, lambda x, y: np.where(y == 0, 0.0, x / np.where(
        y == 0, 1.0, y)), [f64(2, 3), np.array([0.5, 0.0, -1.5])], wrt=(0,), second=True),
    Case("divide_no_nan_y", df.math.divide_no_nan, np.divide,
         [f64(2, 3), f64(3, lo=0.5, hi=2.0)], second=True),
    Case("reduce_any", lambda x: df.reduce_any(x, axis=1), lambda x: np.any(x, 1), [bools(3, 4)],
         grad=False),
    Case("reduce_all", lambda x: df.reduce_all(x, keepdims=True),
         lambda x: np.all(x, keepdims=True), [bools(3, 4)], grad=False),
    Case("reduce_variance", lambda x: df.math.reduce_variance(x, axis=0), lambda x: np.var(x, 0),
         [f64(4, 3)], second=True),
    Case("reduce_std", df.math.reduce_std, np.std, [f64(4, 3)], second=True),
    Case("count_nonzero", lambda x: df.math.count_nonzero(x, axis=1),
         lambda x: np.count_nonzero(x, 1).astype(np.int64),
         [np.array([[0.0, 1.5, 0.0], [2.0, -1.0, 3.0]])], grad=False),
]


(test_forward_and_shapes, test_gradient, test_graph_gradient_with_unknown_dims,
 test_second_derivative) = table_tests(CASES)


# -- coverage -------------------------------------------------------------------------------
def test_every_math_op_is_built_by_some_case():
    from distflow.ops import comparison_ops, math_ops, reduction_ops
    from distflow.ops.registry import OpDef
    from op_check import ops_built
    defined = {v.name for m in (math_ops, reduction_ops, comparison_ops)
               for v in vars(m).values() if isinstance(v, OpDef)}
    built = set().union(*(ops_built(c) for c in CASES))
    assert defined - built == set()


# -- dtypes and names -----------------------------------------------------------------------
def test_int_float_mismatch_raises_tf_type_error_in_both_modes():
    msg = "Input 'y' of 'Mul' Op has type float32 that does not match type int32 of argument 'x'."
    with tf1.Graph().as_default():
        x, y = tf1.placeholder(tf1.int32), tf1.placeholder(tf1.float32)
        with pytest.raises(TypeError) as err:
            x * y
        assert str(err.value) == msg
    with pytest.raises(TypeError) as err:  # eagerly too, instead of NumPy promoting silently
        df.multiply(df.constant(1), df.constant(2.0))
    assert str(err.value) == msg
    with pytest.raises(TypeError, match="of 'Maximum' Op has type float32"):
        df.maximum(df.constant([1, 2]), df.constant([1.0, 2.0]))


def test_python_scalars_take_the_tensor_dtype():
    x = df.constant([1, 2, 3])
    assert (x ** 2).dtype == df.int32 and (x // 2).dtype == df.int32
    np.testing.assert_array_equal((7 % x).numpy(), [0, 1, 1])
    with pytest.raises(TypeError, match="Expected int32, got 2.5"):
        x * 2.5


def test_float_only_ops_refuse_integers():
    with pytest.raises(TypeError, match="DataType int32 not in list of allowed values"):
        df.sqrt(4)
    with pytest.raises(TypeError, match="DataType int32 not in list of allowed values"):
        df.exp(df.constant([1, 2]))
    with pytest.raises(TypeError, match="Input 'x' of 'LogicalAnd' Op has type float32"):
        df.logical_and(df.constant([1.0]), df.constant([True]))


def test_python_operator_names_in_graph_mode():
    with tf1.Graph().as_default():
        x, y = tf1.placeholder(tf1.float32, [2, 2]), tf1.placeholder(tf1.float32, [2, 2])
        b = tf1.placeholder(tf1.bool, [2])
        named = {"mul:0": x * y, "add:0": x + y, "sub:0": x - y, "truediv:0": x / y,
                 "floordiv:0": x // y, "mod:0": x % y, "pow:0": x ** y, "matmul:0": x @ y,
                 "Less:0": x < y, "LessEqual:0": x <= y, "Greater:0": x > y,
                 "GreaterEqual:0": x >= y, "and:0": b & b, "or:0": b | b,
                 "LogicalNot:0": ~b, "Abs:0": abs(x), "Neg:0": -x, "add_1:0": 1.0 + x}
        for name, t in named.items():
            assert t.name == name
        assert [t.op.type for t in (x // y, x % y, x ** y, x @ y, abs(x))] == \
            ["FloorDiv", "FloorMod", "Pow", "MatMul", "Abs"]


def test_python_operators_compute_eagerly():
    a, b = np.array([[1.5, -2.0], [3.0, 0.5]]), np.array([[0.5, 4.0], [-2.0, 1.5]])
    x, y = df.constant(a), df.constant(b)
    for got, want in ((x // y, a // b), (x % y, a % b), (x ** 2, a ** 2), (2.0 ** x, 2.0 ** a),
                      (x @ y, a @ b), (abs(x), np.abs(a)), (x < y, a < b), (x >= y, a >= b),
                      (~(x < y), ~(a < b)), ((x < y) & (x > 0), (a < b) & (a > 0)),
                      ((x < y) | (x > 0), (a < b) | (a > 0)), (x == y, a == b), (x != x, a != a)):
        np.testing.assert_allclose(got.numpy(), want)
    assert (x == None) is False and (x != None) is True  # noqa: E711 (TF2's behaviour)


# -- gradients at ties, zeros and kinks: TF's conventions -----------------------------------
def tape_grads(fn, *values):
    xs = [df.constant(np.asarray(v, np.float64)) for v in values]
    with df.GradientTape() as tape:
        tape.watch(xs)
        y = fn(*xs)
    return [None if g is None else g.numpy() for g in tape.gradient(y, xs)]


def test_maximum_minimum_ties_give_the_gradient_to_x():
    x, y = [1.0, 2.0, 3.0], [1.0, 5.0, 3.0]
    gx, gy = tape_grads(df.maximum, x, y)
    np.testing.assert_array_equal(gx, [1, 0, 1])
    np.testing.assert_array_equal(gy, [0, 1, 0])
    gx, gy = tape_grads(df.minimum, x, y)
    np.testing.assert_array_equal(gx, [1, 1, 1])
    np.testing.assert_array_equal(gy, [0, 0, 0])


def test_reduce_max_and_min_split_the_gradient_among_ties():
    x = [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]
    g, = tape_grads(lambda t: df.reduce_max(t, axis=1), x)
    np.testing.assert_allclose(g, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    g, = tape_grads(df.reduce_min, x)
    np.testing.assert_allclose(g, [[1, 0, 0], [0, 0, 0]])


def test_reduce_prod_gradient_with_zeros_is_the_product_of_the_others():
    x = np.array([[2.0, 0.0, 3.0, -1.5], [0.0, 4.0, 0.0, 2.0], [1.5, 2.0, -3.0, 0.5]])
    want = np.array([[np.prod(np.delete(row, i)) for i in range(4)] for row in x])
    g, = tape_grads(lambda t: df.reduce_prod(t, axis=1), x)
    np.testing.assert_allclose(g, want)
    with tf1.Graph().as_default():
        p = tf1.placeholder(tf1.float64, [3, 4])
        grad, = tf1.gradients(tf1.reduce_prod(p, axis=1), [p])
        with tf1.Session() as s:
            np.testing.assert_allclose(s.run(grad, {p: x}), want)


def test_pow_exponent_gradient_is_zero_for_non_positive_bases():
    gx, gy = tape_grads(df.pow, [-2.0, 0.0, 3.0], [2.0, 2.0, 2.0])
    np.testing.assert_allclose(gx, [-4.0, 0.0, 6.0])
    np.testing.assert_allclose(gy, [0.0, 0.0, 9.0 * np.log(3.0)])


def test_sign_gradient_is_zeros_not_none():
    g, = tape_grads(df.sign, [-1.0, 2.0])
    np.testing.assert_array_equal(g, [0.0, 0.0])


def test_clip_by_value_gradient_passes_inside_the_range_only():
    g, = tape_grads(lambda t: df.clip_by_value(t, -1.0, 1.0), [-3.0, -0.5, 0.0, 0.9, 2.0])
    np.testing.assert_array_equal(g, [0, 1, 1, 1, 0])


# -- numerics and edge cases ----------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:divide by zero encountered in log")  # the all -inf row
def test_reduce_logsumexp_is_stable():
    x = np.array([[1000.0, 1000.0], [-1000.0, -1001.0], [-np.inf, -np.inf]])
    got = df.reduce_logsumexp(df.constant(x), axis=1).numpy()
    want = [1000.0 + np.log(2.0), -1000.0 + np.log1p(np.exp(-1.0)), -np.inf]
    np.testing.assert_allclose(got, want)
    g, = tape_grads(lambda t: df.reduce_logsumexp(t, axis=1), x[:2])
    np.testing.assert_allclose(g, [[0.5, 0.5], [1 / (1 + np.exp(-1)), 1 / (1 + np.exp(1))]])


def test_reductions_of_empty_tensors_give_the_identity():
    empty = df.constant(np.zeros((0, 3), np.float32))
    np.testing.assert_array_equal(df.reduce_max(empty, axis=0).numpy(), [-np.inf] * 3)
    np.testing.assert_array_equal(df.reduce_min(empty, axis=0).numpy(), [np.inf] * 3)
    np.testing.assert_array_equal(df.reduce_prod(empty, axis=0).numpy(), [1.0] * 3)
    assert df.reduce_max(empty, axis=1).shape == (0,)
    assert df.reduce_logsumexp(empty).numpy() == -np.inf


def test_argmax_defaults_and_static_shape():
    with tf1.Graph().as_default():
        x = tf1.placeholder(tf1.float32, [None, 5])
        assert tf1.argmax(x, axis=1).dtype == tf1.int64
        assert str(tf1.argmax(x, 1).shape) == "(?,)"
        assert str(tf1.argmin(x, dimension=0).shape) == "(5,)"
        with pytest.raises(ValueError, match=r"Expected dimension in the range \[-2, 2\)"):
            tf1.argmax(x, axis=2)


def test_where_forms():
    c = np.array([True, False, True])
    x, y = np.arange(6.0).reshape(3, 2), -np.arange(6.0).reshape(3, 2)
    with tf1.Graph().as_default():
        pc = tf1.placeholder(tf1.bool, [None])
        v1 = tf1.where(pc, x, y)  # TF1: the vector condition picks rows
        assert v1.op.type == "Select" and str(v1.shape) == "(3, 2)"
        idx = tf1.where(pc)
        assert idx.op.type == "Where" and idx.dtype == tf1.int64 and str(idx.shape) == "(?, 1)"
        with tf1.Session() as s:
            rows, where_true = s.run([v1, idx], {pc: c})
    np.testing.assert_array_equal(rows, np.where(c[:, None], x, y))
    np.testing.assert_array_equal(where_true, [[0], [2]])
    assert df.where(df.constant([[True], [False]]), 1.0, 0.0).shape == (2, 1)
    with pytest.raises(ValueError, match="x and y must both be non-None or both be None."):
        df.where(df.constant(c), x)


def test_clip_by_value_bounds_may_not_enlarge_t():
    with tf1.Graph().as_default():
        with pytest.raises(ValueError, match="incompatible"):
            tf1.clip_by_value(tf1.placeholder(tf1.float32, [3]), np.zeros((2, 3), np.float32), 1.0)
    with pytest.raises(df.errors.InvalidArgumentError):
        df.clip_by_value(df.constant([1.0, 2.0]), df.constant([[0.0], [1.0]]), 1.5)


# -- matmul shapes, op choice and lean gradients ---------------------------------------------
def test_matmul_static_shapes_and_errors():
    with tf1.Graph().as_default():
        a = tf1.placeholder(tf1.float32, [None, 3])
        assert str(tf1.matmul(a, tf1.zeros([3, 4])).shape) == "(?, 4)"
        assert str(tf1.matmul(a, a, transpose_b=True).shape) == "(?, ?)"
        batch_of_unknown_size = tf1.placeholder(tf1.float32, [None, 2, 3])
        assert str(tf1.matmul(batch_of_unknown_size, tf1.zeros([3, 5])).shape) == "(?, 2, 5)"
        batched = tf1.matmul(tf1.zeros([4, 1, 2, 3]), tf1.zeros([5, 3, 6]))
        assert batched.op.type == "BatchMatMulV2" and batched.op.name.startswith("MatMul")
        assert str(batched.shape) == "(4, 5, 2, 6)"
        unknown = tf1.matmul(tf1.placeholder(tf1.float32), a)
        assert unknown.op.type == "BatchMatMulV2" and str(unknown.shape) == "<unknown>"
        with pytest.raises(ValueError, match="Dimensions must be equal, but are 3 and 4 for "
                                             "'MatMul'"):
            tf1.matmul(a, tf1.zeros([4, 2]))
        with pytest.raises(ValueError, match="at least rank 2 but is rank 1"):
            tf1.matmul(tf1.zeros([3]), tf1.zeros([3, 2]))
        with pytest.raises(ValueError, match="Only one of transpose_a and adjoint_a"):
            tf1.matmul(a, a, transpose_a=True, adjoint_a=True)
        with tf1.Session() as s, pytest.raises(df.errors.InvalidArgumentError,
                                               match="In\\[0\\] ndims must be >= 2: 1"):
            s.run(unknown, {unknown.op.inputs[0]: np.ones(3, np.float32),
                            a: np.ones((3, 3), np.float32)})
    with pytest.raises(ValueError, match="at least rank 2"):
        df.matmul(df.constant([1.0, 2.0]), df.constant([[1.0], [2.0]]))


def test_gradients_add_no_broadcast_ops_when_static_shapes_match():
    with tf1.Graph().as_default() as g:
        a, b = tf1.placeholder(tf1.float32, [3, 4]), tf1.placeholder(tf1.float32, [4, 5])
        c = tf1.placeholder(tf1.float32, [3, 5])
        before = len(g.get_operations())
        tf1.gradients(tf1.reduce_sum(tf1.exp(tf1.maximum(tf1.matmul(a, b), c))), [a, b, c])
        types = {op.type for op in g.get_operations()[before:]}
    assert not types & {"SumTo", "Shape"}, types


# -- what TensorFlow refuses, refused here too (found by scripts/tf_parity against TF 2.21) ------
def test_a_python_float_never_becomes_an_integer_but_a_numpy_value_is_cast():
    x = df.constant([1, 2])
    with pytest.raises(TypeError, match="Expected int32, got 2.0"):
        x * 2.0  # even a whole float: TF's "Cannot convert 2.0 to EagerTensor of dtype int32"
    with pytest.raises(TypeError):
        df.constant([1.0, 2.0], df.int32)
    np.testing.assert_array_equal(df.constant(np.array([1.5, 2.0]), df.int32).numpy(), [1, 2])
    np.testing.assert_array_equal((x * np.float64(2.0)).numpy(), [2, 4])
    assert df.constant([], df.int32).shape == (0,)


def test_bools_take_no_arithmetic_and_no_sums():
    b = df.constant([True, False])
    for fn in (df.add, df.multiply, df.maximum):
        with pytest.raises(TypeError, match="of bool is not in the list of allowed values"):
            fn(b, b)
    for fn in (df.reduce_sum, df.reduce_mean, df.reduce_max, df.argmax):
        with pytest.raises(TypeError, match="bool"):
            fn(b)  # NumPy's sum of bools is one bool: True, not a count
    np.testing.assert_array_equal(df.equal(b, b).numpy(), [True, True])
    assert int(df.reduce_sum(df.cast(b, df.int32))) == 1


def test_integer_division_by_zero_is_an_error_in_both_modes():
    with pytest.raises(df.errors.InvalidArgumentError, match="Integer division by zero"):
        df.constant([5, 6]) // df.constant([1, 0])
    with pytest.raises(df.errors.InvalidArgumentError, match="Integer division by zero"):
        df.math.floormod(df.constant([5]), 0)
    with tf1.Graph().as_default():
        y = tf1.placeholder(tf1.int32, [1])
        q = tf1.constant([5]) // y
        with tf1.Session() as sess:
            assert sess.run(q, {y: [2]}).tolist() == [2]
            with pytest.raises(tf1.errors.InvalidArgumentError, match="Integer division by zero"):
                sess.run(q, {y: [0]})
    with np.errstate(divide="ignore"):  # floats divide by zero as IEEE says: inf
        np.testing.assert_allclose((df.constant([1.0]) // 0.0).numpy(), [np.inf])


def test_add_n_checks_shapes_and_dtypes_eagerly_too():
    with pytest.raises(df.errors.InvalidArgumentError, match="AddN"):
        df.add_n([df.constant([1.0, 2.0]), df.constant([[1.0, 2.0]])])  # would broadcast
    with pytest.raises(df.errors.InvalidArgumentError, match="AddN"):
        df.add_n([df.constant([1]), df.constant([1.0])])


def test_eager_kernel_errors_are_invalid_argument_errors_naming_the_op():
    with pytest.raises(df.errors.InvalidArgumentError, match=r"\[Op:Add\]"):
        df.constant([[1.0, 2.0, 3.0]] * 2) + df.constant([[1.0, 2.0]] * 3)
    with pytest.raises(df.errors.InvalidArgumentError, match=r"\[Op:Sum\]"):
        df.reduce_sum(df.constant([[1.0]]), axis=2)


def test_reduce_logsumexp_gradient_keeps_float32_precision_at_large_values():
    x = df.constant([1000.0, 1000.0, 999.0])
    with df.GradientTape() as tape:
        tape.watch(x)
        y = df.reduce_logsumexp(x)
    e = np.exp(np.array([1.0, 1.0, 0.0]))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), e / e.sum(), rtol=1e-6)


def test_xor_operator_on_bools_is_logical_xor_as_in_tf():
    a, b = df.constant([True, True, False]), df.constant([True, False, False])
    np.testing.assert_array_equal((a ^ b).numpy(), [False, True, False])
    with tf1.Graph().as_default():
        assert (tf1.constant([True]) ^ tf1.constant([False])).name == "xor:0"


@pytest.mark.parametrize("name", ["Add", "Sub", "Mul", "RealDiv", "DivNoNan", "Pow",
                                  "SquaredDifference", "FloorMod", "Maximum", "Minimum"])
def test_binary_gradients_leave_out_the_input_nobody_needs(name):
    """shapes.binary_grad: an input marked skipped gets None, the other its full gradient."""
    from types import SimpleNamespace
    from distflow.ops.registry import REGISTRY
    opdef = REGISTRY[name]
    x = df.constant(np.array([[1.5, 2.0, 3.0]]))
    y = df.constant(np.array([[0.5], [1.25]]))  # broadcasts: the gradients are summed back
    out = df.constant(opdef.forward(np, x.numpy(), y.numpy()))
    dy = df.constant(np.ones((2, 3)))

    def grads(skip):
        op = SimpleNamespace(inputs=[x, y], outputs=[out], attrs={}, skip_input_indices=skip)
        return [None if g is None else g.numpy() for g in opdef.grad(op, dy)]

    full = grads(())
    assert full[0].shape == (1, 3) and full[1].shape == (2, 1)
    only_x, only_y = grads((1,)), grads((0,))
    assert only_x[1] is None and only_y[0] is None
    np.testing.assert_array_equal(only_x[0], full[0])
    np.testing.assert_array_equal(only_y[1], full[1])

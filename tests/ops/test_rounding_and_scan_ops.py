"""The op table for rounding (floor, ceil, round) and scans (cumsum, cumprod), and their TF
rules."""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf1
from op_check import Case, ops_built, table_tests

R = np.random.RandomState(7)
HALVES = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.2, -0.7])


def np_cumsum(x, axis=0, exclusive=False, reverse=False):
    if reverse:
        x = np.flip(x, axis)
    out = np.cumsum(x, axis)
    if exclusive:
        out = out - x
    return np.flip(out, axis) if reverse else out


def np_cumprod(x, axis=0, exclusive=False, reverse=False):
    if reverse:
        x = np.flip(x, axis)
    out = np.cumprod(x, axis)
    if exclusive:
        out = out / x
    return np.flip(out, axis) if reverse else out


def away_from_zero(*shape):
    return R.choice([-1.0, 1.0], shape) * R.uniform(0.5, 1.5, shape)


CASES = [
    Case("floor", df.math.floor, np.floor, [HALVES], grad=False),
    Case("ceil", df.math.ceil, np.ceil, [HALVES], grad=False),
    Case("round_half_to_even", df.math.round, np.round, [HALVES], grad=False),
    Case("cumsum", df.math.cumsum, np.cumsum, [R.uniform(-2, 2, 5)], second=True),
    Case("cumsum_axis", lambda x: df.math.cumsum(x, axis=1), lambda x: np.cumsum(x, 1),
         [R.uniform(-2, 2, (3, 4))], second=True),
    Case("cumsum_exclusive_reverse", lambda x: df.math.cumsum(x, axis=-1, exclusive=True,
                                                             reverse=True),
         lambda x: np_cumsum(x, -1, True, True), [R.uniform(-2, 2, (2, 4))], second=True),
    Case("cumsum_exclusive", lambda x: df.math.cumsum(x, exclusive=True),
         lambda x: np_cumsum(x, 0, True), [R.uniform(-2, 2, (3, 2))]),
    Case("cumsum_int", df.math.cumsum, lambda x: np.cumsum(x).astype(np.int32),
         [np.array([3, -1, 4], np.int32)], grad=False),
    # cumprod's gradient (TF's) divides by x: exact away from zeros only
    Case("cumprod", df.math.cumprod, np.cumprod, [away_from_zero(5)], second=True),
    Case("cumprod_axis", lambda x: df.math.cumprod(x, axis=1), lambda x: np.cumprod(x, 1),
         [away_from_zero(3, 4)], second=True),
    Case("cumprod_exclusive_reverse", lambda x: df.math.cumprod(x, axis=-1, exclusive=True,
                                                               reverse=True),
         lambda x: np_cumprod(x, -1, True, True), [away_from_zero(2, 4)], second=True),
    Case("cumprod_exclusive", lambda x: df.math.cumprod(x, exclusive=True),
         lambda x: np_cumprod(x, 0, True), [away_from_zero(3, 2)]),
    Case("cumprod_int", df.math.cumprod, lambda x: np.cumprod(x).astype(np.int32),
         [np.array([3, -1, 4, 0, 2], np.int32)], grad=False),
]

(test_forward_and_shapes, test_gradient, test_graph_gradient_with_unknown_dims,
 test_second_derivative) = table_tests(CASES)


def test_every_rounding_and_scan_op_is_built_by_some_case():
    from distflow.ops import rounding_ops, scan_ops
    from distflow.ops.registry import OpDef
    defined = {v.name for m in (rounding_ops, scan_ops) for v in vars(m).values()
               if isinstance(v, OpDef)}
    assert defined - set().union(*(ops_built(c) for c in CASES)) == set()


@pytest.mark.parametrize("fn", [df.math.floor, df.math.ceil, df.math.round])
def test_rounding_has_no_gradient_in_either_mode(fn):
    x = df.Variable([0.4, 1.6])
    with df.GradientTape() as tape:
        y = df.reduce_sum(fn(x))
    assert tape.gradient(y, x) is None
    with tf1.Graph().as_default():
        p = tf1.placeholder(tf1.float32, [2])
        assert tf1.gradients(tf1.reduce_sum(fn(p)), p) == [None]


def test_round_passes_integers_through_and_floor_refuses_them_like_tf():
    np.testing.assert_array_equal(df.math.round(df.constant([1, 2])).numpy(), [1, 2])
    with pytest.raises(TypeError, match="DataType int32 not in list of allowed values"):
        df.math.floor(df.constant([1, 2]))


def test_cumsum_names_and_refusals_follow_tf():
    with tf1.Graph().as_default():
        assert tf1.cumsum(tf1.constant([1.0, 2.0])).name == "Cumsum:0"
        assert tf1.round(tf1.constant([1.0])).name == "Round:0"
        with pytest.raises(ValueError, match="axis 2 is out of range"):
            tf1.cumsum(tf1.constant([[1.0]]), axis=2)
    with pytest.raises(TypeError, match="bool"):
        df.math.cumsum(df.constant([True, False]))


def test_cumprod_names_refusals_and_tf_gradient_at_zeros():
    with tf1.Graph().as_default():
        assert tf1.math.cumprod(tf1.constant([1.0, 2.0])).name == "Cumprod:0"
        with pytest.raises(ValueError, match="axis 1 is out of range"):
            df.math.cumprod(tf1.constant([1.0]), axis=1)
    with pytest.raises(TypeError, match="bool"):
        df.math.cumprod(df.constant([True, False]))
    np.testing.assert_array_equal(
        df.math.cumprod(df.constant([2.0, 3.0, 4.0]), exclusive=True).numpy(), [1.0, 2.0, 6.0])
    # TF's _CumprodGrad divides by x with div_no_nan: at a zero it gives 0, where the true
    # derivative of sum(cumprod(x)) for x = [2, 0, 3, 4] is 2 + 2*3 + 2*3*4 = 32. Kept, for parity.
    x = df.constant([2.0, 0.0, 3.0, 4.0])
    with df.GradientTape() as tape:
        tape.watch(x)
        y = df.reduce_sum(df.math.cumprod(x))
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1.0, 0.0, 0.0, 0.0])

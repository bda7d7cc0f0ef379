"""Data-dependent ops: setdiff1d, unique, boolean_mask, dynamic_partition, dynamic_stitch."""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf1
from distflow.framework.errors import InvalidArgumentError
from op_check import Case, op_types_built, table_tests

R = np.random.RandomState(11)


def f64(*shape):
    return R.uniform(-2.0, 2.0, shape)


def ints(*values):
    return np.array(values, np.int32)


def np_setdiff1d(x, y):
    idx = [i for i, v in enumerate(x) if v not in set(y.tolist())]
    return x[idx], np.array(idx, np.int32)


def np_unique_first_occurrence(x):
    order = []
    for v in x.tolist():
        if v not in order:
            order.append(v)
    return np.array(order, x.dtype), np.array([order.index(v) for v in x.tolist()], np.int32)


def np_dynamic_stitch(indices, data):
    rest = data[0].shape[indices[0].ndim:]
    out = np.zeros((1 + max(int(i.max()) for i in indices),) + rest)
    for idx, d in zip(indices, data):
        for pos in np.ndindex(idx.shape):
            out[idx[pos]] = d[pos]
    return out


MASK_2D = np.array([[True, False, True, False],
                    [False, False, True, True],
                    [True, True, False, False]])
MASK_1D = np.array([True, False, True, True])

CASES = [
    Case("setdiff1d", df.setdiff1d, np_setdiff1d, [ints(0, 1, 1, 3, 5, 1), ints(1, 5)], grad=False),
    Case("setdiff1d_nothing_removed", df.setdiff1d, np_setdiff1d, [ints(4, 2), ints(7)],
         grad=False),
    Case("setdiff1d_floats", df.setdiff1d, np_setdiff1d, [np.array([0.5, 1.5, 2.5]),
                                                          np.array([1.5])], grad=False),
    Case("unique", df.unique, np_unique_first_occurrence, [ints(3, 1, 3, 2, 1, 7)], grad=False),
    Case("unique_floats", df.unique, np_unique_first_occurrence,
         [np.array([2.5, -1.0, 2.5, 0.0])], grad=False),
    Case("boolean_mask", lambda t: df.boolean_mask(t, MASK_2D), lambda t: t[MASK_2D],
         [f64(3, 4, 2)], second=True),
    Case("boolean_mask_axis1", lambda t: df.boolean_mask(t, MASK_1D, axis=1),
         lambda t: t[:, MASK_1D], [f64(2, 4, 3)]),
    Case("dynamic_partition", lambda d, p: df.dynamic_partition(d, p, 4),
         lambda d, p: tuple(d[p == i] for i in range(4)), [f64(5, 2), ints(2, 0, 2, 3, 0)],
         second=True),
    Case("dynamic_partition_2d_partitions", lambda d, p: df.dynamic_partition(d, p, 2),
         lambda d, p: tuple(d[p == i] for i in range(2)),
         [f64(2, 3), np.array([[1, 0, 1], [1, 1, 0]], np.int32)]),
    # Index 2 appears in both index tensors: the later value wins, and only it gets a gradient.
    Case("dynamic_stitch", lambda a, b, i, j: df.dynamic_stitch([i, j], [a, b]),
         lambda a, b, i, j: np_dynamic_stitch([i, j], [a, b]),
         [f64(3, 2), f64(1, 2, 2), ints(0, 2, 4), np.array([[1, 2]], np.int32)]),
]


(test_forward_and_shapes, test_gradient, test_graph_gradient_with_unknown_dims,
 test_second_derivative) = table_tests(CASES)


def test_every_set_op_is_built_by_some_case():
    from distflow.ops import set_ops
    from distflow.ops.registry import OpDef
    defined = {v.name for v in vars(set_ops).values() if isinstance(v, OpDef)}
    built = set().union(*(op_types_built(c) for c in CASES))
    assert defined - built == set()


# -- the course's program -------------------------------------------------------------------
COURSE_PROGRAM = """
import distflow.compat.v1 as tf
x1 = tf.placeholder(tf.int32, shape=[4])
y, _ = tf.setdiff1d(x1, [1]); print(y.get_shape())                # (?,)
sess = tf.Session(); print(sess.run(y, feed_dict={x1: [0, 1, 1, 3]}).shape)   # (2,)
"""


def test_course_program_prints_unknown_static_size_then_the_run_size(capsys):
    exec(compile(COURSE_PROGRAM, "<course>", "exec"), {})
    assert capsys.readouterr().out == "(?,)\n(2,)\n"


# -- behaviour users see --------------------------------------------------------------------
def test_setdiff1d_keeps_order_and_duplicates_and_returns_int32_positions():
    out, idx = df.setdiff1d([5, 1, 7, 5, 2], [1, 2])
    np.testing.assert_array_equal(out.numpy(), [5, 7, 5])
    np.testing.assert_array_equal(idx.numpy(), [0, 2, 3])
    assert idx.dtype == df.int32
    assert df.setdiff1d([1, 2], [2], index_dtype=df.int64).idx.dtype == df.int64


def test_static_shapes_of_data_dependent_ops_have_an_unknown_dimension():
    x = tf1.placeholder(tf1.float32, shape=[5])
    out, idx = tf1.setdiff1d(x, [1.0])
    assert (str(out.shape), str(idx.shape)) == ("(?,)", "(?,)")
    y, idx = tf1.unique(x)
    assert (str(y.shape), str(idx.shape)) == ("(?,)", "(5,)")
    t = tf1.placeholder(tf1.float32, shape=[None, 4, 3])
    assert str(tf1.boolean_mask(t, tf1.placeholder(tf1.bool, [None, 4])).shape) == "(?, 3)"
    assert str(tf1.boolean_mask(t, MASK_1D, axis=1).shape) == "(?, ?, 3)"
    parts = tf1.dynamic_partition(t, tf1.placeholder(tf1.int32, [None]), 3)
    assert len(parts) == 3 and all(str(p.shape) == "(?, 4, 3)" for p in parts)


def test_boolean_mask_with_a_fed_mask_of_unknown_length():
    t = tf1.placeholder(tf1.float32, shape=[None, 2])
    m = tf1.placeholder(tf1.bool, shape=[None])
    out = tf1.boolean_mask(t, m)
    with tf1.Session() as s:
        value = s.run(out, {t: [[1, 2], [3, 4], [5, 6]], m: [True, False, True]})
    np.testing.assert_array_equal(value, [[1, 2], [5, 6]])


def test_setdiff1d_and_unique_have_no_gradient():
    message = "No gradient defined for operation '(ListDiff|Unique)'"
    for fn in (lambda x: tf1.setdiff1d(x, [1.0])[0], lambda x: tf1.unique(x)[0]):
        x = tf1.placeholder(tf1.float32, shape=[3])
        with pytest.raises(LookupError, match=message):
            tf1.gradients(tf1.reduce_sum(fn(x)), x)


def test_rank_and_range_errors():
    with pytest.raises(ValueError, match="Shape must be rank 1 but is rank 2 for 'ListDiff'"):
        tf1.setdiff1d(tf1.placeholder(tf1.int32, [2, 2]), [1])
    with pytest.raises(ValueError, match="mask cannot be scalar"):
        df.boolean_mask([1, 2], True)
    with pytest.raises(ValueError, match="incompatible"):
        df.boolean_mask(df.constant([1, 2, 3]), [True, False])
    with pytest.raises(InvalidArgumentError, match=r"partitions\[1\] = 2 is not in \[0, 2\)"):
        df.dynamic_partition(df.constant([1.0, 2.0]), [0, 2], 2)

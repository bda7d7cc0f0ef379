"""The op table for the sort ops (sort_ops.py), the n-d indexing ops (indexing_ops.py) and the
ops along one axis (sequence_ops.py), and their names, ties and errors."""
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


def np_top_k(x, k):
    order = np.argsort(-x, axis=-1, kind="stable")[..., :k]  # ties: the lower index first
    return np.take_along_axis(x, order, -1), order.astype(np.int32)


def np_in_top_k(targets, predictions, k):
    out = []
    for t, row in zip(targets, predictions):
        ok = 0 <= t < len(row) and np.isfinite(row).all()
        out.append(bool(ok and (row > row[t]).sum() < k))
    return np.array(out)


def np_scatter_nd(indices, updates, shape):
    out = np.zeros(shape, updates.dtype)
    m = indices.shape[-1]
    for i in np.ndindex(indices.shape[:-1]):
        out[tuple(indices[i])] += updates[i]
    return out if m else out + updates.sum(0)


def np_linspace(a, b, n, axis=0):
    return np.linspace(a, b, n, axis=axis)


TIES = np.array([[1.0, 3.0, 1.0, 3.0, 2.0], [0.5, 0.5, 0.5, -1.0, 0.5]])
P = np.array([[1.2, -0.3, 2.8, 5.2], [0.1, 0.0, 0.0, 0.0], [0.0, 0.5, 0.3, 0.3]], np.float32)

CASES = [
    # top_k, sort, argsort
    Case("top_k", lambda x: tuple(df.math.top_k(x, 2)), lambda x: np_top_k(x, 2), [f64(3, 5)],
         second=True),
    Case("top_k_3d_k_all", lambda x: tuple(df.math.top_k(x, 4)), lambda x: np_top_k(x, 4),
         [f64(2, 3, 4)]),
    Case("top_k_ties", lambda x: tuple(df.math.top_k(x, 3)), lambda x: np_top_k(x, 3), [TIES],
         grad=False),
    Case("top_k_tensor_k", lambda x, k: tuple(df.nn.top_k(x, k)), lambda x, k: np_top_k(x, k),
         [f64(2, 4), np.int32(3)]),
    Case("sort", df.sort, lambda x: np.sort(x, -1), [f64(3, 4)], second=True),
    Case("sort_axis0_descending", lambda x: df.sort(x, axis=0, direction="DESCENDING"),
         lambda x: -np.sort(-x, 0), [f64(4, 3)]),
    Case("sort_middle_axis", lambda x: df.sort(x, axis=1), lambda x: np.sort(x, 1), [f64(2, 4, 3)]),
    Case("sort_int_min", df.sort, np.sort, [ints(3, -2**31, 7, 2**31 - 1)], grad=False),
    Case("argsort", df.argsort, lambda x: np.argsort(x, -1, kind="stable").astype(np.int32),
         [TIES], grad=False),
    Case("argsort_descending_axis0", lambda x: df.argsort(x, axis=0, direction="DESCENDING"),
         lambda x: np.argsort(-x, 0, kind="stable").astype(np.int32), [TIES.T], grad=False),
    Case("in_top_k", lambda t, p: df.math.in_top_k(t, p, 2), lambda t, p: np_in_top_k(t, p, 2),
         [ints(0, 5, 2), P], grad=False),
    # gather_nd, scatter_nd, tensor_scatter_nd_*
    Case("gather_nd_elements", lambda p: df.gather_nd(p, [[0, 1], [2, 3], [0, 1]]),
         lambda p: p[[0, 2, 0], [1, 3, 1]], [f64(3, 4)], second=True),
    Case("gather_nd_slices_2d_indices", df.gather_nd, lambda p, i: p[i[..., 0]],
         [f64(3, 2, 2), np.array([[[2], [0]], [[1], [2]]], np.int32)]),
    Case("gather_nd_batch_dims", lambda p, i: df.gather_nd(p, i, batch_dims=1),
         lambda p, i: np.stack([p[b][tuple(i[b].T)] for b in range(2)]),
         [f64(2, 3, 4), np.array([[[1, 3], [0, 0]], [[2, 2], [1, 0]]], np.int32)]),
    Case("scatter_nd", lambda i, u: df.scatter_nd(i, u, [5, 2]),
         lambda i, u: np_scatter_nd(i, u, (5, 2)),
         [np.array([[4], [1], [4]], np.int32), f64(3, 2)], second=True),
    Case("scatter_nd_elements", lambda u: df.scatter_nd([[0, 1], [2, 0]], u, [3, 2]),
         lambda u: np_scatter_nd(ints(0, 1, 2, 0).reshape(2, 2), u, (3, 2)), [f64(2)]),
    Case("tensor_scatter_nd_update", lambda t, u: df.tensor_scatter_nd_update(t, [[2], [0]], u),
         lambda t, u: np.concatenate([u[1:], t[1:2], u[:1], t[3:]]), [f64(4, 2), f64(2, 2)],
         second=True),
    Case("tensor_scatter_nd_add", lambda t, u: df.tensor_scatter_nd_add(t, [[1, 1], [1, 1]], u),
         lambda t, u: t + np_scatter_nd(ints(1, 1, 1, 1).reshape(2, 2), u, t.shape),
         [f64(2, 3), f64(2)], second=True),
    # reverse, roll
    Case("reverse", lambda x: df.reverse(x, [0, -1]), lambda x: x[::-1, :, ::-1], [f64(2, 3, 4)],
         second=True),
    Case("reverse_axis_tensor", df.reverse, lambda x, a: np.flip(x, tuple(a)),
         [f64(3, 2), ints(1)]),
    Case("roll", lambda x: df.roll(x, [1, -2], [0, 2]), lambda x: np.roll(x, (1, -2), (0, 2)),
         [f64(3, 2, 4)], second=True),
    Case("roll_tensor_shift", lambda x, s: df.roll(x, s, 0), lambda x, s: np.roll(x, s, 0),
         [f64(5), np.int32(7)]),
    # repeat, linspace, sequence_mask
    Case("repeat_counts", lambda x: df.repeat(x, [2, 0, 3], axis=0),
         lambda x: np.repeat(x, [2, 0, 3], 0), [f64(3, 2)], second=True),
    Case("repeat_flattened", lambda x: df.repeat(x, 2), lambda x: np.repeat(x, 2), [f64(2, 2)]),
    Case("repeat_counts_tensor", lambda x, r: df.repeat(x, r, axis=-1),
         lambda x, r: np.repeat(x, r, -1), [f64(2, 3), ints(1, 3, 2)]),
    Case("linspace", lambda a, b: df.linspace(a, b, 5), lambda a, b: np_linspace(a, b, 5),
         [np.float64(-1.0), np.float64(3.0)], second=True),
    Case("linspace_broadcast_axis", lambda a, b: df.linspace(a, b, 4, axis=-1),
         lambda a, b: np_linspace(*np.broadcast_arrays(a, b), 4, axis=-1), [f64(2, 1), f64(3)]),
    Case("linspace_num_tensor", lambda a, n: df.linspace(a, 2.0, n),
         lambda a, n: np_linspace(a, 2.0, n), [np.float64(0.5), np.int32(3)]),
    Case("sequence_mask", lambda n: df.sequence_mask(n, 4),
         lambda n: np.arange(4) < n[..., None], [ints(0, 4, 2)], grad=False),
    Case("sequence_mask_default_maxlen_float", lambda n: df.sequence_mask(n, dtype=df.float64),
         lambda n: (np.arange(3) < n[..., None]).astype(np.float64),
         [np.array([[1, 3], [2, 0]], np.int32)], grad=False),
]


(test_forward_and_shapes, test_gradient, test_graph_gradient_with_unknown_dims,
 test_second_derivative) = table_tests(CASES)


def test_every_sort_and_indexing_op_is_built_by_some_case():
    from distflow.ops import indexing_ops, sequence_ops, sort_ops
    from distflow.ops.registry import OpDef
    defined = {v.name for m in (indexing_ops, sequence_ops, sort_ops) for v in vars(m).values()
               if isinstance(v, OpDef)}
    built = set().union(*(op_types_built(c) for c in CASES))
    assert defined - built == set()


# -- names and namespaces -------------------------------------------------------------------
def test_namespaces_follow_tf():
    for name in ("sort", "argsort", "gather_nd", "scatter_nd", "tensor_scatter_nd_update",
                 "tensor_scatter_nd_add", "reverse", "roll", "repeat", "linspace",
                 "sequence_mask"):
        assert callable(getattr(df, name)) and callable(getattr(tf1, name)), name
    assert df.newaxis is None
    assert df.math.top_k is df.nn.top_k and df.math.in_top_k is df.nn.in_top_k
    assert not hasattr(df, "top_k")  # TF has it under tf.math and tf.nn only


def test_top_k_returns_named_values_and_indices_and_graph_names():
    result = df.math.top_k([1.0, 3.0, 2.0], k=2)
    np.testing.assert_array_equal(result.values.numpy(), [3.0, 2.0])
    assert result.indices.dtype == df.int32
    assert df.math.top_k([1.0, 3.0], index_type=df.int64).indices.dtype == df.int64
    g = tf1.Graph()
    with g.as_default():
        x = tf1.placeholder(tf1.float32, [None, 4])
        values, indices = df.math.top_k(x, 2)
        assert values.name == "TopKV2:0" and indices.name == "TopKV2:1"
        assert values.shape.as_list() == [None, 2]
        assert df.sort(x).name.startswith("sort/") and df.gather_nd(x, [[0, 1]]).name == \
            "GatherNd:0"


def test_ties_pick_the_lower_index_first_like_tf():
    x = df.constant([1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(df.math.top_k(x, 3).indices.numpy(), [0, 1, 3])
    np.testing.assert_array_equal(df.argsort([1, 3, 1, 3, 2], direction="DESCENDING").numpy(),
                                  [1, 3, 4, 0, 2])
    np.testing.assert_array_equal(df.argsort([1, 3, 1, 3, 2]).numpy(), [0, 2, 4, 1, 3])


def test_sort_of_unsigned_and_int_extremes():
    u = df.sort(df.constant([3, 0, 255, 7], df.uint8))
    assert u.dtype == df.uint8
    np.testing.assert_array_equal(u.numpy(), [0, 3, 7, 255])


def test_linspace_dtypes_follow_tf():
    assert df.linspace(0.0, 1.0, 3).dtype == df.float32
    assert df.linspace(0, 10, 5).dtype == df.float64
    np.testing.assert_allclose(df.linspace(0, 10, 5).numpy(), [0, 2.5, 5, 7.5, 10])
    assert df.linspace(2.0, 5.0, 0).shape == (0,)
    np.testing.assert_array_equal(df.linspace(2.0, 5.0, 1).numpy(), [2.0])
    with pytest.raises(TypeError, match="must be of type integer"):
        df.linspace(2.0, 5.0, 3.0)
    with pytest.raises(InvalidArgumentError, match="Requires start <= limit"):
        df.linspace(2.0, 5.0, -1)


# -- errors ---------------------------------------------------------------------------------
def test_out_of_range_positions_raise_invalid_argument_like_tf_cpu():
    m = df.constant(np.arange(12.0).reshape(3, 4))
    with pytest.raises(InvalidArgumentError, match=r"indices\[1\] = \[3, 0\] does not index into "
                                                   r"param shape \[3,4\]"):
        df.gather_nd(m, [[0, 1], [3, 0]])
    with pytest.raises(InvalidArgumentError, match=r"indices\[1,0\] = \[-1, 0\]"):
        df.gather_nd(m, [[[0, 1]], [[-1, 0]]])
    with pytest.raises(InvalidArgumentError, match=r"indices\[0\] = \[5\] does not index into "
                                                   r"shape \[4\]"):
        df.scatter_nd([[5]], [1.0], [4])
    with pytest.raises(InvalidArgumentError, match="does not index into shape"):
        df.tensor_scatter_nd_add(df.zeros([4]), [[4]], [1.0])
    x = tf1.placeholder(tf1.float32, [3, 4])
    with tf1.Session() as s, pytest.raises(InvalidArgumentError, match="does not index"):
        s.run(tf1.gather_nd(x, [[3, 0]]), {x: np.zeros((3, 4))})


def test_k_larger_than_the_last_dimension_is_an_error_like_tf():
    with pytest.raises(InvalidArgumentError, match="input must have at least k columns. Had 4, "
                                                   "needed 5"):
        df.math.top_k(df.zeros([3, 4]), 5)
    with pytest.raises(ValueError, match="input must have last dimension >= k = 5 but is 4"):
        df.math.top_k(tf1.placeholder(tf1.float32, [3, 4]), 5)
    with pytest.raises(InvalidArgumentError, match="Need k >= 0, got -1"):
        df.math.top_k(df.zeros([3, 4]), -1)


def test_shape_errors_at_build_and_run_time():
    with pytest.raises(ValueError, match="indices.shape\\[-1\\] must be <= params.rank"):
        tf1.gather_nd(tf1.placeholder(tf1.float32, [3, 4]), [[0, 1, 2]])
    with pytest.raises(InvalidArgumentError, match="Dimensions \\[0,1\\) of indices"):
        df.scatter_nd([[1], [2]], [1.0, 2.0, 3.0], [4])
    with pytest.raises(InvalidArgumentError, match="Outer dimensions of indices and update"):
        df.tensor_scatter_nd_update(df.zeros([4]), [[1], [2]], [1.0])
    with pytest.raises(InvalidArgumentError, match="axis 0 specified more than once"):
        df.reverse(df.zeros([2, 2]), [0, -2])
    with pytest.raises(ValueError, match="out of valid range"):
        tf1.reverse(tf1.placeholder(tf1.float32, [3, 4]), [2])
    with pytest.raises(InvalidArgumentError, match="shift and axis must have the same size"):
        df.roll(df.zeros([2, 2]), [1, 2], [0])
    with pytest.raises(ValueError, match="Argument `direction` should be one of"):
        df.sort([1.0], direction="UP")
    with pytest.raises(ValueError, match="Dimensions 3 and 2 are not compatible"):
        df.repeat(df.zeros([3, 2]), [1, 2], axis=0)
    with pytest.raises(ValueError, match="`maxlen` must be scalar"):
        df.sequence_mask([1, 2], [3])


def test_top_k_gradient_of_empty_rows_is_empty():
    v = df.Variable(np.zeros((3, 0), np.float32))
    with df.GradientTape() as tape:
        y = df.reduce_sum(df.math.top_k(v, 0).values)
    assert tape.gradient(y, v).shape == (3, 0)

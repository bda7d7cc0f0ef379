"""The op table for array and slicing ops, and the behaviour of `t[...]`, names and dtypes."""
import numpy as np
import pytest

import distflow as df
from distflow.ops import array_ops
import distflow.compat.v1 as tf1
from distflow.framework.errors import InvalidArgumentError
from op_check import Case, op_types_built, table_tests

R = np.random.RandomState(7)


def f64(*shape):
    return R.uniform(-2.0, 2.0, shape)


def ints(*values):
    return np.array(values, np.int32)


def np_one_hot(indices, depth, on=1.0, off=0.0, axis=-1, dtype=np.float32):
    hot = np.asarray(indices)[..., None] == np.arange(depth)
    return np.moveaxis(np.where(hot, on, off).astype(dtype), -1, axis)


def np_segment_sum(data, ids, n):
    out = np.zeros((n,) + data.shape[ids.ndim:])
    for i in np.ndindex(ids.shape):
        out[ids[i]] += data[i]
    return out


CASES = [
    Case("identity", df.identity, lambda x: x, [f64(2, 3)], second=True),
    Case("snapshot", array_ops.snapshot, lambda x: x.copy(), [f64(2, 3)], second=True),
    Case("stop_gradient", lambda x: df.stop_gradient(x) * x, lambda x: x * x, [f64(3)], grad=False),
    Case("reshape", lambda x: df.reshape(x, [3, -1]), lambda x: x.reshape(3, -1), [f64(2, 3, 2)],
         second=True),
    Case("expand_dims", lambda x: df.expand_dims(x, 1), lambda x: np.expand_dims(x, 1), [f64(2, 3)]),
    Case("shape", df.shape, lambda x: np.array(x.shape, np.int32), [f64(2, 3)], grad=False),
    Case("size", df.size, lambda x: np.array(x.size, np.int32), [f64(2, 3)], grad=False),
    Case("zeros_like", df.zeros_like, np.zeros_like, [f64(2, 3)], grad=False),
    Case("ones_like", df.ones_like, np.ones_like, [f64(2, 3)], grad=False),
    Case("fill", lambda v: df.fill([2, 3], v), lambda v: np.full((2, 3), v), [np.float64(1.5)]),
    Case("rank", df.rank, lambda x: np.array(x.ndim, np.int32), [f64(2, 3, 1)], grad=False),
    # transpose
    Case("transpose_default", df.transpose, lambda x: x.T, [f64(2, 3, 4)], second=True),
    Case("transpose_perm", lambda x: df.transpose(x, [1, 0, 2]),
         lambda x: x.transpose(1, 0, 2), [f64(2, 3, 4)]),
    Case("transpose_perm_tensor", df.transpose, lambda x, p: x.transpose(p),
         [f64(2, 3, 4), ints(2, 0, 1)]),
    Case("invert_permutation", df.invert_permutation, lambda p: np.argsort(p).astype(np.int32),
         [ints(2, 0, 3, 1)], grad=False),
    # squeeze
    Case("squeeze_all", df.squeeze, np.squeeze, [f64(1, 3, 1)], second=True),
    Case("squeeze_axis", lambda x: df.squeeze(x, [-1]), lambda x: x[..., 0], [f64(1, 3, 1)]),
    # concat, stack, unstack, split
    Case("concat", lambda a, b: df.concat([a, b], 1), lambda a, b: np.concatenate([a, b], 1),
         [f64(2, 3), f64(2, 2)], second=True),
    Case("concat_negative_axis", lambda a, b, c: df.concat([a, b, c], -2),
         lambda a, b, c: np.concatenate([a, b, c], -2), [f64(2, 1, 3), f64(2, 2, 3), f64(2, 1, 3)]),
    Case("stack", lambda a, b: df.stack([a, b], axis=1), lambda a, b: np.stack([a, b], 1),
         [f64(2, 3), f64(2, 3)], second=True),
    Case("stack_last_axis", lambda a, b, c: df.stack([a, b, c], axis=-1),
         lambda a, b, c: np.stack([a, b, c], -1), [f64(2), f64(2), f64(2)]),
    Case("unstack", lambda x: df.unstack(x, num=3, axis=1), lambda x: tuple(np.moveaxis(x, 1, 0)),
         [f64(2, 3, 4)], second=True),
    Case("split_even", lambda x: df.split(x, 2, axis=1), lambda x: np.split(x, 2, 1), [f64(3, 4)],
         second=True),
    Case("split_sizes", lambda x: df.split(x, [1, -1, 2], axis=-1),
         lambda x: np.split(x, [1, 4], -1), [f64(2, 6)]),
    Case("split_size_tensor", lambda x, s: df.split(x, s, num=2),
         lambda x, s: np.split(x, [s[0]], 0), [f64(5, 2), ints(2, 3)]),
    # tile
    Case("tile", lambda x: df.tile(x, [2, 1, 3]), lambda x: np.tile(x, (2, 1, 3)), [f64(2, 3, 1)],
         second=True),
    Case("tile_multiples_tensor", df.tile, lambda x, m: np.tile(x, m), [f64(2, 3), ints(2, 2)]),
    # one_hot, range
    Case("one_hot", lambda i: df.one_hot(i, 4), lambda i: np_one_hot(i, 4), [ints(0, 3, -1, 2)],
         grad=False),
    Case("one_hot_axis0_on_off", lambda i, on, off: df.one_hot(i, 3, on, off, axis=0),
         lambda i, on, off: np_one_hot(i, 3, on, off, 0, np.float64),
         [np.array([[0, 2], [1, 5]], np.int32), np.float64(0.7), np.float64(-0.2)]),
    Case("range_int", lambda: df.range(5), lambda: np.arange(5, dtype=np.int32), [], grad=False),
    Case("range_float", lambda: df.range(1.0, 2.0, 0.25),
         lambda: np.arange(1.0, 2.0, 0.25, dtype=np.float32), [], grad=False),
    Case("range_negative_delta", lambda: df.range(5, 0, -2), lambda: ints(5, 3, 1), [], grad=False),
    Case("range_tensor_limit", df.range, lambda n: np.arange(n, dtype=np.int32), [np.int32(4)],
         grad=False),
    # slice and strided_slice
    Case("slice", lambda x: df.slice(x, [1, 0, 2], [2, -1, 1]), lambda x: x[1:3, :, 2:3],
         [f64(3, 2, 4)], second=True),
    Case("slice_tensor_begin", lambda x, b: df.slice(x, b, [2, 2]),
         lambda x, b: x[b[0]:b[0] + 2, b[1]:b[1] + 2], [f64(3, 4), ints(1, 1)]),
    Case("strided_slice_masks", lambda x: df.strided_slice(x, [0, 3], [0, 0], [1, -1],
                                                           begin_mask=1, end_mask=3),
         lambda x: x[:, 3::-1], [f64(2, 5)]),
    Case("strided_slice_new_and_shrink",
         lambda x: df.strided_slice(x, [0, 1], [0, 2], [1, 1], new_axis_mask=1, shrink_axis_mask=2),
         lambda x: x[None, 1], [f64(3, 4)]),
    # t[...]: each indexing feature
    Case("getitem_int", lambda x: x[1], lambda x: x[1], [f64(3, 4)], second=True),
    Case("getitem_int_of_vector", lambda x: x[2], lambda x: x[2], [f64(4)]),
    Case("getitem_negative_ints", lambda x: x[-1, -2], lambda x: x[-1, -2], [f64(3, 4)]),
    Case("getitem_slice_steps", lambda x: x[::2, 1:3], lambda x: x[::2, 1:3], [f64(5, 4)]),
    Case("getitem_negative_step", lambda x: x[1:, ::-1], lambda x: x[1:, ::-1], [f64(3, 4)],
         second=True),
    Case("getitem_negative_step_bounds", lambda x: x[3:0:-2], lambda x: x[3:0:-2], [f64(6)]),
    Case("getitem_negative_bounds", lambda x: x[-2:, :-1], lambda x: x[-2:, :-1], [f64(3, 4)]),
    Case("getitem_out_of_range_bounds_clamp", lambda x: x[1:10], lambda x: x[1:10], [f64(4)]),
    Case("getitem_empty", lambda x: x[3:1], lambda x: x[3:1], [f64(4, 2)]),
    Case("getitem_newaxis", lambda x: x[:, None, 1], lambda x: x[:, None, 1], [f64(2, 3)]),
    Case("getitem_ellipsis", lambda x: x[..., 0], lambda x: x[..., 0], [f64(2, 3, 4)]),
    Case("getitem_ellipsis_middle", lambda x: x[1, ..., 1:], lambda x: x[1, ..., 1:],
         [f64(2, 3, 4)]),
    Case("getitem_newaxis_around_ellipsis", lambda x: x[None, ..., None],
         lambda x: x[None, ..., None], [f64(2, 3)]),
    Case("getitem_tensor_index", lambda x, i: x[i, 1:], lambda x, i: x[i, 1:],
         [f64(3, 4), np.int32(2)]),
    Case("getitem_tensor_bound", lambda x, n: x[:n], lambda x, n: x[:n], [f64(5, 2), np.int32(3)]),
    # pad
    Case("pad", lambda x: df.pad(x, [[1, 0], [2, 1]]), lambda x: np.pad(x, [[1, 0], [2, 1]]),
         [f64(2, 3)], second=True),
    Case("pad_constant_value", lambda x, c: df.pad(x, [[0, 1], [1, 1]], constant_values=c),
         lambda x, c: np.pad(x, [[0, 1], [1, 1]], constant_values=c), [f64(2, 2), np.float64(0.7)]),
    Case("pad_paddings_tensor", df.pad, lambda x, p: np.pad(x, p),
         [f64(2, 3), np.array([[1, 2], [0, 1]], np.int32)]),
    Case("pad_reflect", lambda x: df.pad(x, [[1, 2], [2, 1]], "REFLECT"),
         lambda x: np.pad(x, [[1, 2], [2, 1]], "reflect"), [f64(3, 4)], second=True),
    Case("pad_symmetric", lambda x: df.pad(x, [[2, 1], [0, 3]], "SYMMETRIC"),
         lambda x: np.pad(x, [[2, 1], [0, 3]], "symmetric"), [f64(3, 3)]),
    # gather and its scatter-add
    Case("gather", df.gather, lambda p, i: p[i], [f64(4, 3), np.array([[0, 3], [3, 1]], np.int32)],
         second=True),
    Case("gather_axis", lambda p, i: df.gather(p, i, axis=1), lambda p, i: p[:, i],
         [f64(2, 4, 3), ints(2, 0, 2)]),
    Case("gather_negative_axis", lambda p, i: df.gather(p, i, axis=-1), lambda p, i: p[..., i],
         [f64(2, 3), np.array([[1], [0]], np.int32)]),
    Case("unsorted_segment_sum", lambda d, s: df.unsorted_segment_sum(d, s, 4),
         lambda d, s: np_segment_sum(d, s, 4), [f64(5, 2), ints(0, 3, 0, 1, 3)], second=True),
]


(test_forward_and_shapes, test_gradient, test_graph_gradient_with_unknown_dims,
 test_second_derivative) = table_tests(CASES)


def test_every_array_and_slicing_op_is_built_by_some_case():
    from distflow.ops import array_ops, slicing_ops
    from distflow.ops.registry import OpDef
    defined = {v.name for m in (array_ops, slicing_ops) for v in vars(m).values()
               if isinstance(v, OpDef)}
    built = set().union(*(op_types_built(c) for c in CASES))
    assert defined - built == set()


# -- t[...] ---------------------------------------------------------------------------------
def test_eager_getitem_reverses_and_skips_rows():
    t = df.constant([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    out = t[1:, ::-1]
    assert out.dtype == df.int32
    np.testing.assert_array_equal(out.numpy(), [[6, 5, 4], [9, 8, 7]])


def test_graph_getitem_is_named_strided_slice_like_tf():
    x = tf1.placeholder(tf1.float32, shape=[None, 4])
    a, b = x[1:], x[:, 0]
    assert a.name == "strided_slice:0" and b.name == "strided_slice_1:0"
    assert a.op.type == "StridedSlice"
    consts = [op.name for op in tf1.get_default_graph().get_operations() if op.type == "Const"]
    assert consts[:3] == ["strided_slice/stack", "strided_slice/stack_1", "strided_slice/stack_2"]
    assert str(a.shape) == "(?, 4)" and str(b.shape) == "(?,)"
    assert str(x[:, 1:3].shape) == "(?, 2)" and str(x[0].shape) == "(4,)"
    assert str(x[..., None].shape) == "(?, 4, 1)"


def test_getitem_with_a_fed_index_in_a_session():
    x = tf1.placeholder(tf1.int32, shape=[3, 2])
    i = tf1.placeholder(tf1.int32, shape=[])
    row = x[i]
    assert str(row.shape) == "(2,)"
    with tf1.Session() as s:
        np.testing.assert_array_equal(s.run(row, {x: [[1, 2], [3, 4], [5, 6]], i: 2}), [5, 6])


def test_invalid_indices_raise_type_error():
    t = df.constant([1.0, 2.0, 3.0])
    for key in (1.5, [0, 1], "a", df.constant(1.0), True):
        with pytest.raises(TypeError, match="Only integers, slices"):
            t[key]


def test_out_of_range_index_is_an_error_in_both_modes():
    with pytest.raises(InvalidArgumentError, match="slice index 3 of dimension 0 out of bounds"):
        df.constant([1, 2, 3])[3]
    with pytest.raises(ValueError, match="slice index 3 of dimension 0 out of bounds"):
        tf1.placeholder(tf1.int32, shape=[3])[3]
    with pytest.raises(ValueError, match="Index out of range using input dim 1"):
        tf1.placeholder(tf1.int32, shape=[3])[0, 0]
    with pytest.raises(ValueError, match="Multiple ellipses"):
        tf1.placeholder(tf1.int32, shape=[3])[..., ...]


def test_slicing_a_variable_gives_gradients_to_the_sliced_elements():
    v = df.Variable([1.0, 2.0, 3.0, 4.0])
    with df.GradientTape() as tape:
        y = df.reduce_sum(v[1::2] * 3.0)
    np.testing.assert_allclose(tape.gradient(y, v).numpy(), [0.0, 3.0, 0.0, 3.0])


# -- names, dtypes and errors ---------------------------------------------------------------
def test_range_dtypes_and_name_follow_tf():
    assert df.range(5).dtype == df.int32
    assert df.range(5.0).dtype == df.float32
    assert df.range(1, 3, 0.5).dtype == df.float32
    assert df.range(df.constant(3, df.int64)).dtype == df.int64
    assert df.range(3, dtype=df.float64).dtype == df.float64
    np.testing.assert_allclose(df.range(1, 3, 0.5).numpy(), [1.0, 1.5, 2.0, 2.5])
    r = tf1.range(4)
    assert r.name == "range:0" and str(r.shape) == "(4,)"
    with pytest.raises(ValueError, match="Requires start <= limit when delta > 0"):
        tf1.range(3, 1)
    with pytest.raises(InvalidArgumentError, match="Requires delta != 0"):
        df.range(0, 3, 0)


def test_transpose_name_and_default_perm_with_unknown_rank():
    x = tf1.placeholder(tf1.float32)
    t = tf1.transpose(x)
    assert t.name == "transpose:0"
    with tf1.Session() as s:
        value = np.arange(24.0).reshape(2, 3, 4)
        np.testing.assert_array_equal(s.run(t, {x: value}), value.T)


def test_split_returns_a_list_even_for_one_piece_and_checks_evenness():
    parts = df.split(df.constant([1, 2, 3, 4]), 1)
    assert isinstance(parts, list) and len(parts) == 1
    with pytest.raises(ValueError, match="evenly divide"):
        tf1.split(tf1.placeholder(tf1.float32, [5, 2]), 2)
    with pytest.raises(InvalidArgumentError, match="evenly divide"):
        df.split(df.constant([1, 2, 3]), 2)


def test_static_shape_errors():
    with pytest.raises(ValueError, match="Can not squeeze dim\\[1\\], expected a dimension of 1"):
        tf1.squeeze(tf1.placeholder(tf1.float32, [1, 3]), [1])
    with pytest.raises(ValueError, match="Dimensions of inputs should match"):
        tf1.concat([tf1.placeholder(tf1.float32, [2, 3]), tf1.placeholder(tf1.float32, [3, 3])], 1)
    with pytest.raises(ValueError, match="not compatible"):
        tf1.stack([tf1.placeholder(tf1.float32, [2]), tf1.placeholder(tf1.float32, [3])])
    with pytest.raises(ValueError, match="Expected size\\[0\\] in \\[0, 2\\], but got 3"):
        tf1.slice(tf1.placeholder(tf1.float32, [3]), [1], [3])
    with pytest.raises(ValueError, match="Paddings must be non-negative"):
        tf1.pad(tf1.placeholder(tf1.float32, [3]), [[-1, 0]])
    with pytest.raises(ValueError, match="paddings must be no greater than the dimension size"):
        tf1.pad(tf1.placeholder(tf1.float32, [3]), [[3, 0]], "REFLECT")


def test_gather_rejects_out_of_range_indices_like_tf_cpu():
    with pytest.raises(InvalidArgumentError, match=r"indices\[1\] = 3 is not in \[0, 3\)"):
        df.gather(df.constant([1.0, 2.0, 3.0]), [0, 3])


def test_one_hot_dtype_follows_on_value_and_defaults_to_float32():
    assert df.one_hot([0, 1], 2).dtype == df.float32
    assert df.one_hot([0, 1], 2, on_value=5, off_value=-1).dtype == df.int32
    np.testing.assert_array_equal(df.one_hot([1], 3, 5, -1).numpy(), [[-1, 5, -1]])


def test_concat_and_stack_refuse_mixed_dtypes_eagerly_as_in_graphs():
    for fn in (lambda v: df.concat(v, 0), df.stack):
        with pytest.raises(TypeError, match="one dtype"):
            fn([df.constant([1.0]), df.constant([1])])  # NumPy would promote to float64


def test_tile_refuses_too_few_multiples_eagerly():
    with pytest.raises(df.errors.InvalidArgumentError, match="length 2 but got length 1"):
        df.tile(df.constant([[1, 2], [3, 4]]), [2])


def test_shapes_may_be_int64_tensors():
    shape = df.constant([2, 3], df.int64)
    assert df.reshape(df.range(6), shape).shape == (2, 3)
    assert df.fill(shape, 1.5).shape == (2, 3)
    assert df.zeros(shape).shape == (2, 3)
    assert df.broadcast_to(df.constant([1.0, 2.0, 3.0]), shape).shape == (2, 3)

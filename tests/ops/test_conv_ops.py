"""Conv and pooling ops: the op table (forward against loop-by-loop NumPy references, shapes with
unknown dims, finite-difference gradients and second derivatives, eager and in a Session), TF's
geometry, pinned values, and the messages of bad arguments."""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf1
from distflow.ops import pooling_ops
from op_check import Case, op_types_built, table_tests

R = np.random.RandomState(7)


def f64(*shape):
    return R.uniform(-1.0, 1.0, shape)


# -- independent references: TF's padding rule and plain loops over every output ---------------
def tf_pads(size, k, s, d, padding):
    eff = (k - 1) * d + 1
    if padding == "VALID":
        return 0, 0
    if padding == "SAME":
        out = (size + s - 1) // s
        total = max(0, (out - 1) * s + eff - size)
        return total // 2, total - total // 2
    return padding


def ref_conv(x, f, s=(1, 1), padding="VALID", d=(1, 1), depthwise=False):
    pads = [padding, padding] if isinstance(padding, str) else list(padding)
    (pt, pb), (pl, pr) = [tf_pads(x.shape[1 + a], f.shape[a], s[a], d[a], pads[a])
                          for a in range(2)]
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    kh, kw = f.shape[:2]
    oh = (xp.shape[1] - (kh - 1) * d[0] - 1) // s[0] + 1
    ow = (xp.shape[2] - (kw - 1) * d[1] - 1) // s[1] + 1
    co = f.shape[2] * f.shape[3] if depthwise else f.shape[3]
    out = np.zeros((x.shape[0], oh, ow, co))
    for n in range(x.shape[0]):
        for i in range(oh):
            for j in range(ow):
                win = xp[n, i * s[0]:i * s[0] + (kh - 1) * d[0] + 1:d[0],
                         j * s[1]:j * s[1] + (kw - 1) * d[1] + 1:d[1], :]
                if depthwise:
                    out[n, i, j] = np.einsum("ijc,ijcm->cm", win, f).reshape(-1)
                else:
                    out[n, i, j] = np.tensordot(win, f, 3)
    return out


def ref_pool(x, k, s, padding, kind):
    (pt, pb), (pl, pr) = [tf_pads(x.shape[1 + a], k[a], s[a], 1, padding) for a in range(2)]
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=np.nan)
    oh = (xp.shape[1] - k[0]) // s[0] + 1
    ow = (xp.shape[2] - k[1]) // s[1] + 1
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1], :]
            out[:, i, j] = (np.nanmax if kind == "max" else np.nanmean)(win, axis=(1, 2))
    return out


def ref_transpose(x, f, out_shape, s, padding):
    """conv2d_transpose as the adjoint of conv: <conv(e_i, f), x> for every input pixel i."""
    out = np.zeros(out_shape)
    for idx in np.ndindex(*out_shape):
        e = np.zeros(out_shape)
        e[idx] = 1.0
        out[idx] = np.sum(ref_conv(e, f, s, padding) * x)
    return out


def distinct(*shape):
    """Values whose windows never tie, so max pooling's gradient is smooth near them."""
    return R.permutation(np.prod(shape)).reshape(shape) * 0.1 + R.uniform(0, 0.01, shape)


X = f64(2, 5, 4, 2)
F = f64(3, 2, 2, 3)
CASES = [
    Case("conv2d_valid", lambda x, f: df.nn.conv2d(x, f, 1, "VALID"),
         lambda x, f: ref_conv(x, f), [X, F], second=True),
    Case("conv2d_same_strided", lambda x, f: df.nn.conv2d(x, f, [1, 2, 2, 1], "SAME"),
         lambda x, f: ref_conv(x, f, (2, 2), "SAME"), [X, F], second=True),
    Case("conv2d_same_uneven_stride", lambda x, f: df.nn.conv2d(x, f, [2, 3], "SAME"),
         lambda x, f: ref_conv(x, f, (2, 3), "SAME"), [f64(1, 6, 7, 2), F]),
    Case("conv2d_dilated_same", lambda x, f: df.nn.conv2d(x, f, 1, "SAME", dilations=[2, 1]),
         lambda x, f: ref_conv(x, f, (1, 1), "SAME", (2, 1)), [X, F]),
    Case("conv2d_explicit", lambda x, f: df.nn.conv2d(x, f, 1, [[0, 0], [1, 2], [0, 1], [0, 0]]),
         lambda x, f: ref_conv(x, f, (1, 1), [(1, 2), (0, 1)]), [X, F]),
    Case("conv1d_same", lambda x, f: df.nn.conv1d(x, f, 2, "SAME"),
         lambda x, f: ref_conv(x[:, None], f[None], (1, 2), "SAME")[:, 0],
         [f64(2, 7, 2), f64(3, 2, 3)], second=True),
    Case("depthwise_same", lambda x, f: df.nn.depthwise_conv2d(x, f, [1, 1, 1, 1], "SAME"),
         lambda x, f: ref_conv(x, f, padding="SAME", depthwise=True),
         [X, f64(2, 2, 2, 2)], second=True),
    Case("depthwise_strided_valid",
         lambda x, f: df.nn.depthwise_conv2d(x, f, [1, 2, 2, 1], "VALID"),
         lambda x, f: ref_conv(x, f, (2, 2), "VALID", depthwise=True), [X, f64(2, 2, 2, 3)]),
    Case("conv2d_transpose_same",
         lambda x, f: df.nn.conv2d_transpose(x, f, [2, 5, 4, 2], 2, "SAME"),
         lambda x, f: ref_transpose(x, f, (2, 5, 4, 2), (2, 2), "SAME"),
         [f64(2, 3, 2, 3), F], second=True),
    Case("conv2d_transpose_valid",
         lambda x, f: df.nn.conv2d_transpose(x, f, [1, 6, 5, 2], [2, 1], "VALID"),
         lambda x, f: ref_transpose(x, f, (1, 6, 5, 2), (2, 1), "VALID"), [f64(1, 2, 4, 3), F]),
    Case("max_pool2d_same", lambda x: df.nn.max_pool2d(x, 2, 2, "SAME"),
         lambda x: ref_pool(x, (2, 2), (2, 2), "SAME", "max"), [distinct(2, 5, 3, 2)],
         second=True),
    Case("max_pool2d_overlapping", lambda x: df.nn.max_pool2d(x, 3, [1, 2], "VALID"),
         lambda x: ref_pool(x, (3, 3), (1, 2), "VALID", "max"), [distinct(1, 5, 6, 2)]),
    Case("avg_pool2d_same", lambda x: df.nn.avg_pool2d(x, 3, 2, "SAME"),
         lambda x: ref_pool(x, (3, 3), (2, 2), "SAME", "avg"), [f64(2, 5, 4, 2)], second=True),
    Case("avg_pool2d_valid", lambda x: df.nn.avg_pool2d(x, [2, 3], 1, "VALID"),
         lambda x: ref_pool(x, (2, 3), (1, 1), "VALID", "avg"), [f64(1, 4, 5, 2)]),
    Case("max_pool1d", lambda x: df.nn.max_pool1d(x, 2, 2, "SAME"),
         lambda x: ref_pool(x[:, None], (1, 2), (1, 2), "SAME", "max")[:, 0],
         [distinct(2, 5, 3)]),
    Case("avg_pool1d", lambda x: df.nn.avg_pool1d(x, 3, 2, "SAME"),
         lambda x: ref_pool(x[:, None], (1, 3), (1, 2), "SAME", "avg")[:, 0], [f64(2, 6, 2)]),
    Case("max_pool_v1", lambda x: pooling_ops.max_pool_v1(x, [1, 2, 2, 1], [1, 2, 2, 1], "VALID"),
         lambda x: ref_pool(x, (2, 2), (2, 2), "VALID", "max"), [distinct(1, 4, 4, 1)]),
    Case("avg_pool_v1", lambda x: pooling_ops.avg_pool_v1(x, [1, 2, 2, 1], [1, 1, 1, 1], "SAME"),
         lambda x: ref_pool(x, (2, 2), (1, 1), "SAME", "avg"), [f64(1, 3, 3, 2)]),
]

(test_forward_and_shapes, test_gradient, test_graph_gradient_with_unknown_dims,
 test_second_derivative) = table_tests(CASES)


def test_every_conv_and_pool_op_is_covered():
    built = set().union(*(op_types_built(c) for c in CASES))
    for name in ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "DepthwiseConv2dNative",
                 "DepthwiseConv2dNativeBackpropInput", "DepthwiseConv2dNativeBackpropFilter",
                 "MaxPool", "MaxPoolGrad", "MaxPoolGradGrad", "AvgPool", "AvgPoolGrad"):
        assert name in built, name


def test_same_padding_puts_the_odd_pixel_after():
    # TF: in 4, k 2, stride 1 pads (0, 1); a ones filter sums x[i] and x[i+1], the last alone.
    x = np.arange(4.0).reshape(1, 1, 4, 1)
    y = df.nn.conv2d(x, np.ones((1, 2, 1, 1)), 1, "SAME").numpy()
    np.testing.assert_array_equal(y.ravel(), [1.0, 3.0, 5.0, 3.0])


def test_pinned_values():
    # computed once with PyTorch 2.13 (scripts/conv_vs_torch.py's setup), kept here since CI
    # has no torch: a 3x3 SAME conv, stride 2, of a ramp
    x = np.arange(1 * 5 * 5 * 1, dtype=np.float32).reshape(1, 5, 5, 1)
    f = np.arange(9, dtype=np.float32).reshape(3, 3, 1, 1) - 4
    y = df.nn.conv2d(x, f, 2, "SAME").numpy()[0, :, :, 0]
    np.testing.assert_array_equal(y, [[40.0, 67.0, 40.0], [93.0, 96.0, 21.0],
                                      [-56.0, -149.0, -152.0]])


def test_output_shapes_with_unknown_batch():
    with tf1.Graph().as_default():
        x = tf1.placeholder(tf1.float32, [None, 28, 28, 1])
        y = df.nn.conv2d(x, np.zeros((3, 3, 1, 32), np.float32), 1, "VALID")
        assert y.shape.as_list() == [None, 26, 26, 32]
        p = df.nn.max_pool2d(y, 2, 2, "VALID")
        assert p.shape.as_list() == [None, 13, 13, 32]
        q = df.nn.conv2d(x, np.zeros((5, 5, 1, 8), np.float32), 3, "SAME")
        assert q.shape.as_list() == [None, 10, 10, 8]


def test_bad_arguments_name_the_value():
    x = np.zeros((1, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match="padding must be 'SAME', 'VALID'"):
        df.nn.conv2d(x, np.zeros((2, 2, 2, 1), np.float32), 1, "FULL")
    with pytest.raises(ValueError, match="Dimensions must be equal, but are 2 and 3"):
        df.nn.conv2d(x, np.zeros((2, 2, 3, 1), np.float32), 1, "SAME")
    with pytest.raises(ValueError, match="NHWC"):
        df.nn.conv2d(x, np.zeros((2, 2, 2, 1), np.float32), 1, "SAME", data_format="NCHW")
    with pytest.raises(ValueError, match="strides in the batch and depth"):
        df.nn.max_pool2d(x, 2, [2, 2, 2, 2], "SAME")
    with pytest.raises((ValueError, df.errors.InvalidArgumentError),
                       match="Size of out_backprop"):
        df.nn.conv2d_transpose(np.zeros((1, 3, 3, 1), np.float32),
                               np.zeros((3, 3, 2, 1), np.float32), [1, 9, 9, 2], 1, "SAME")
    with pytest.raises(ValueError, match="no explicit padding"):
        df.nn.avg_pool2d(x, 2, 2, [[0, 0], [1, 1], [1, 1], [0, 0]])
    with pytest.raises(ValueError, match="negative"):
        df.nn.conv2d(x, np.zeros((5, 5, 2, 1), np.float32), 1, "VALID")


@pytest.mark.parametrize("shape", [(2, 4, 6, 3), (1, 5, 5, 2)])
def test_max_pool_gradient_goes_to_the_first_of_tied_maxima(shape):
    # after a ReLU whole windows are 0: TF's CPU kernel sends dy to the first maximum of the
    # window in row-major order, the other tied positions get nothing (5x5: the last row and
    # column are outside every window)
    x = np.maximum(np.random.RandomState(3).randn(*shape), 0.0).round(1)
    x[0, :2, :2, 0] = 0.0
    x[0, 2:4, :2, 0] = [[0.5, 0.7], [0.7, 0.2]]
    dy = np.random.RandomState(4).uniform(1, 2, (shape[0], shape[1] // 2, shape[2] // 2, shape[3]))
    want = np.zeros(shape)
    for n, i, j, c in np.ndindex(*dy.shape):
        win = x[n, 2 * i:2 * i + 2, 2 * j:2 * j + 2, c]
        r, s = np.unravel_index(np.argmax(win), (2, 2))  # argmax: the first maximum
        want[n, 2 * i + r, 2 * j + s, c] = dy[n, i, j, c]
    xt = df.constant(x)
    with df.GradientTape() as tape:
        tape.watch(xt)
        y = df.nn.max_pool2d(xt, 2, 2, "VALID")
    got = tape.gradient(y, xt, output_gradients=df.constant(dy)).numpy()
    np.testing.assert_array_equal(got, want)
    assert got[0, 0, 0, 0] == dy[0, 0, 0, 0] and got[0, 2, 1, 0] == dy[0, 1, 0, 0]


@pytest.mark.parametrize("which", ["conv2d", "depthwise_conv2d", "conv2d_transpose"])
def test_a_batch_without_rows_gives_empty_outputs_and_zero_filter_gradients(which):
    # under a strategy, a rank's part of a short last global batch may have no rows
    x = df.Variable(np.zeros((0, 8, 8, 3), np.float32))
    if which == "conv2d":
        f = df.Variable(np.ones((3, 3, 3, 4), np.float32))
        run, out_shape = (lambda: df.nn.conv2d(x, f, 1, "VALID")), (0, 6, 6, 4)
    elif which == "depthwise_conv2d":
        f = df.Variable(np.ones((3, 3, 3, 2), np.float32))
        run, out_shape = (lambda: df.nn.depthwise_conv2d(x, f, [1, 1, 1, 1], "SAME")), (0, 8, 8, 6)
    else:
        f = df.Variable(np.ones((3, 3, 2, 3), np.float32))
        run, out_shape = (lambda: df.nn.conv2d_transpose(x, f, [0, 16, 16, 2], 2, "SAME")), \
            (0, 16, 16, 2)
    with df.GradientTape() as tape:
        y = run()
        loss = df.reduce_sum(y)
    dx, df_ = tape.gradient(loss, [x, f])
    assert tuple(y.shape) == out_shape
    assert tuple(dx.shape) == (0, 8, 8, 3)
    np.testing.assert_array_equal(df_.numpy(), np.zeros(f.shape, np.float32))

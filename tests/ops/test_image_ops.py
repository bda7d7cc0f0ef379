"""tf.image.resize and per_image_standardization: the op table against loop-by-loop references
of TF2's half-pixel sampling (values, gradients, second derivatives), dtypes and messages."""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf1
from op_check import Case, table_tests

R = np.random.RandomState(5)


def ref_bilinear(x, size):
    n, h, w, c = x.shape
    out = np.zeros((n,) + tuple(size) + (c,))
    for i in range(size[0]):
        for j in range(size[1]):
            sy, sx = (i + 0.5) * h / size[0] - 0.5, (j + 0.5) * w / size[1] - 0.5
            y0, x0 = int(np.floor(sy)), int(np.floor(sx))
            fy, fx = sy - y0, sx - x0
            at = lambda r, s: x[:, min(max(r, 0), h - 1), min(max(s, 0), w - 1)]  # noqa: E731
            top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx
            bottom = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx
            out[:, i, j] = top * (1 - fy) + bottom * fy
    return out


def ref_nearest(x, size):
    h, w = x.shape[1:3]
    rows = [min(int(np.floor((i + 0.5) * h / size[0])), h - 1) for i in range(size[0])]
    cols = [min(int(np.floor((j + 0.5) * w / size[1])), w - 1) for j in range(size[1])]
    return x[:, rows][:, :, cols]


def ref_standardize(x):
    mean = x.mean(axis=(-1, -2, -3), keepdims=True)
    std = x.std(axis=(-1, -2, -3), keepdims=True)
    return (x - mean) / np.maximum(std, 1 / np.sqrt(np.prod(x.shape[-3:])))


X = R.uniform(-1, 1, (2, 3, 4, 2))
CASES = [
    Case("resize_bilinear_up", lambda x: df.image.resize(x, [5, 7]),
         lambda x: ref_bilinear(x, (5, 7)), [X], second=True),
    Case("resize_bilinear_down", lambda x: df.image.resize(x, (2, 3)),
         lambda x: ref_bilinear(x, (2, 3)), [X]),
    Case("resize_nearest", lambda x: df.image.resize(x, [4, 6], method="nearest"),
         lambda x: ref_nearest(x, (4, 6)), [X]),
    Case("resize_3d_image", lambda x: df.image.resize(x, [6, 2]),
         lambda x: ref_bilinear(x[None], (6, 2))[0], [X[0]]),
    Case("per_image_standardization", df.image.per_image_standardization, ref_standardize,
         [R.uniform(-1, 1, (2, 2, 3, 2))], second=True),
]

# TF's resize needs the images' rank ("'images' contains no shape."), so the table's forward
# check with rank-less placeholders does not apply; every size may still be unknown.
(_, test_gradient, test_graph_gradient_with_unknown_dims,
 test_second_derivative) = table_tests(CASES)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_forward_with_known_and_unknown_sizes(case):
    want = case.ref(*case.inputs)
    for known in (True, False):
        with tf1.Graph().as_default() as g:
            phs = [tf1.placeholder(df.as_dtype(a.dtype), a.shape if known else [None] * a.ndim)
                   for a in case.inputs]
            y = case.fn(*phs)
            assert y.shape.is_compatible_with(want.shape)
            if known:
                assert y.shape.as_tuple() == want.shape
            with tf1.Session(graph=g) as s:
                np.testing.assert_allclose(s.run(y, dict(zip(phs, case.inputs))), want,
                                           rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(case.fn(*[df.constant(a) for a in case.inputs]).numpy(), want,
                               rtol=1e-6, atol=1e-6)


def test_dtypes_and_messages():
    img = np.arange(2 * 4 * 4 * 1, dtype=np.uint8).reshape(2, 4, 4, 1)
    assert df.image.resize(img, [8, 8]).dtype == df.float32
    assert df.image.resize(img, [2, 2], method="nearest").dtype == df.uint8
    assert df.image.per_image_standardization(img).dtype == df.float32
    with pytest.raises(ValueError, match="'size' must be"):
        df.image.resize(img, [8])
    with pytest.raises(ValueError, match="3 or 4 dimensions"):
        df.image.resize(img[0, 0], [2, 2])
    with pytest.raises(ValueError, match="Resize method"):
        df.image.resize(img, [2, 2], method="bicubic")

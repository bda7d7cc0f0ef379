"""Conv and pooling values and gradients against PyTorch's (CPU), eagerly and in a Session.

    python scripts/conv_vs_torch.py        # needs `pip install torch`; prints the worst error

Outside the test suite (CI has no torch). PyTorch computes NCHW; arrays are transposed to NHWC.
TF's 'SAME' padding can be uneven (more after than before); PyTorch's is given the same explicit
pads with F.pad first. Every case checks the forward value, the gradient of sum(w * y) with random
w for the input and the filter, in float64, to 1e-4 (relative to the values' scale).
"""
import itertools
import sys

import numpy as np
import torch
import torch.nn.functional as F

import distflow as df
import distflow.compat.v1 as tf1
from distflow.ops.conv_ops import geometry

torch.set_num_threads(1)
TOL = 1e-4
worst = [0.0]
count = [0]


def close(a, b, what):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, "%s: shape %s vs %s" % (what, a.shape, b.shape)
    err = float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b))))) if a.size else 0.0
    worst[0] = max(worst[0], err)
    count[0] += 1
    if err > TOL:
        sys.exit("MISMATCH %s: relative error %.3g" % (what, err))


def to_t(a):  # NHWC -> NCHW tensor
    return torch.tensor(np.ascontiguousarray(a.transpose(0, 3, 1, 2)), requires_grad=True)


def from_t(t):
    return t.detach().numpy().transpose(0, 2, 3, 1)


def pads_of(shape, k, strides, dil, padding):
    (_, pt, pb), (_, pl, pr) = geometry(shape[1:3], k, strides, dil, padding)
    return pt, pb, pl, pr


def torch_pair(fn_t, x, params, w):
    """forward and gradients with respect to x and params (NHWC numpy)."""
    xt = to_t(x)
    ps = [torch.tensor(p, requires_grad=True) for p in params]
    y = fn_t(xt, *ps)
    (y * to_t(w).detach()).sum().backward()
    return from_t(y), [from_t(xt.grad)] + [p.grad.numpy() for p in ps]


def ours(fn, x, params, w):
    # eager, under a tape
    xs = [df.constant(x)] + [df.constant(p) for p in params]
    with df.GradientTape() as tape:
        tape.watch(xs)
        y = fn(*xs)
        obj = df.reduce_sum(y * w)
    eager = (y.numpy(), [g.numpy() for g in tape.gradient(obj, xs)])
    # a Session, with the batch and spatial sizes unknown while building
    g = tf1.Graph()
    with g.as_default():
        phs = [tf1.placeholder(tf1.float64, [None] * x.ndim)] + \
              [tf1.placeholder(tf1.float64, p.shape) for p in params]
        yg = fn(*phs)
        grads = tf1.gradients(tf1.reduce_sum(yg * w), phs)
        with tf1.Session(graph=g) as s:
            out = s.run([yg] + grads, dict(zip(phs, [x] + list(params))))
    return eager, (out[0], out[1:])


def check(name, fn, fn_t, x, params):
    rng = np.random.RandomState(1)
    y0 = fn(df.constant(x), *[df.constant(p) for p in params]).numpy()
    w = rng.uniform(0.5, 1.5, y0.shape)
    yt, gt = torch_pair(fn_t, x, params, w)
    for mode, (y, gs) in zip(("eager", "session"), ours(fn, x, params, w)):
        close(y, yt, "%s %s value" % (name, mode))
        for i, (a, b) in enumerate(zip(gs, gt)):
            close(a, b, "%s %s grad %d" % (name, mode, i))


def conv_cases(rng):
    for (stride, dil, padding, k) in itertools.product(
            [(1, 1), (2, 2), (2, 3)], [(1, 1), (2, 1)], ["SAME", "VALID", ((1, 2), (0, 1))],
            [(3, 3), (2, 3), (1, 1)]):
        if max(stride) > 1 and max(dil) > 1:
            continue  # TF refuses strides > 1 with dilations > 1
        x = rng.randn(2, 9, 8, 3)
        f = rng.randn(k[0], k[1], 3, 4)
        pt, pb, pl, pr = pads_of(x.shape, k, stride, dil, padding)

        def fn(x, f):
            return df.nn.conv2d(x, f, stride, padding, dilations=dil)

        def fn_t(xt, ft):
            return F.conv2d(F.pad(xt, (pl, pr, pt, pb)), ft.permute(3, 2, 0, 1), stride=stride,
                            dilation=dil)
        check("conv2d s=%s d=%s p=%s k=%s" % (stride, dil, padding, k), fn, fn_t, x, [f])

        # depthwise with multiplier 2
        fd = rng.randn(k[0], k[1], 3, 2)

        def fnd(x, f):
            return df.nn.depthwise_conv2d(x, f, [1, stride[0], stride[1], 1], padding,
                                          dilations=dil)

        def fnd_t(xt, ft):  # torch groups: weight (C*M, 1, kh, kw), output channel c*M + m
            wt = ft.permute(2, 3, 0, 1).reshape(6, 1, k[0], k[1])
            return F.conv2d(F.pad(xt, (pl, pr, pt, pb)), wt, stride=stride, dilation=dil,
                            groups=3)
        check("depthwise s=%s d=%s p=%s k=%s" % (stride, dil, padding, k), fnd, fnd_t, x, [fd])


def transpose_cases(rng):
    for stride, padding, k in itertools.product([(1, 1), (2, 2), (3, 2)], ["SAME", "VALID"],
                                                [(3, 3), (2, 2)]):
        out_hw = (7, 8)
        (ih, pt, pb), (iw, pl, pr) = geometry(out_hw, k, stride, (1, 1), padding)
        x = rng.randn(2, ih, iw, 4)
        f = rng.randn(k[0], k[1], 3, 4)  # [h, w, out_channels, in_channels]

        def fn(x, f):
            return df.nn.conv2d_transpose(x, f, [2, out_hw[0], out_hw[1], 3], stride, padding)

        def fn_t(xt, ft):
            full = F.conv_transpose2d(xt, ft.permute(3, 2, 0, 1), stride=stride)
            y = full[:, :, pt:, pl:]
            return F.pad(y, (0, max(0, out_hw[1] - y.shape[3]),
                             0, max(0, out_hw[0] - y.shape[2])))[:, :, :out_hw[0], :out_hw[1]]
        check("conv2d_transpose s=%s p=%s k=%s" % (stride, padding, k), fn, fn_t, x, [f])


def conv1d_cases(rng):
    for stride, dil, padding, k in itertools.product([1, 2, 3], [1, 2], ["SAME", "VALID"],
                                                     [3, 4]):
        if stride > 1 and dil > 1:
            continue
        x = rng.randn(3, 11, 2)
        f = rng.randn(k, 2, 5)
        (_, _, _), (_, pl, pr) = geometry((1, 11), (1, k), (1, stride), (1, dil), padding)

        def fn(x, f):
            return df.nn.conv1d(x, f, stride, padding, dilations=dil)

        def fn_t(xt, ft):  # NWC seen as NHWC of height 1: xt is (N, C, 1, W)
            return F.conv2d(F.pad(xt, (pl, pr)), ft.permute(2, 1, 0)[:, :, None, :],
                            stride=(1, stride), dilation=(1, dil))
        # treat NWC as NHWC with H = 1
        check("conv1d s=%d d=%d p=%s k=%d" % (stride, dil, padding, k),
              lambda x, f: df.expand_dims(fn(df.squeeze(x, [1]), f), 1), fn_t,
              x[:, None], [f])


def pool_cases(rng):
    for stride, padding, k in itertools.product([(1, 1), (2, 2), (2, 3)], ["SAME", "VALID"],
                                                [(2, 2), (3, 3), (3, 2)]):
        x = rng.randn(2, 7, 8, 3)
        pt, pb, pl, pr = pads_of(x.shape, k, stride, (1, 1), padding)

        def fmax(x):
            return df.nn.max_pool2d(x, k, stride, padding)

        def fmax_t(xt):
            return F.max_pool2d(F.pad(xt, (pl, pr, pt, pb), value=-np.inf), k, stride)
        check("max_pool2d s=%s p=%s k=%s" % (stride, padding, k), fmax, fmax_t, x, [])
        # tied maxima, as after a ReLU: both send the gradient to the window's first maximum
        check("max_pool2d ties s=%s p=%s k=%s" % (stride, padding, k), fmax, fmax_t,
              np.maximum(x, 0.0).round(1), [])

        def favg(x):
            return df.nn.avg_pool2d(x, k, stride, padding)

        def favg_t(xt):  # TF's SAME average divides by the real elements only
            s = F.avg_pool2d(F.pad(xt, (pl, pr, pt, pb)), k, stride, divisor_override=1)
            ones = F.pad(torch.ones_like(xt[:1, :1]), (pl, pr, pt, pb))
            return s / F.avg_pool2d(ones, k, stride, divisor_override=1)
        check("avg_pool2d s=%s p=%s k=%s" % (stride, padding, k), favg, favg_t, x, [])


def resize_cases(rng):
    # TF2's half-pixel sampling is PyTorch's align_corners=False ('nearest-exact' for nearest)
    for size, method in itertools.product([(10, 3), (3, 14), (5, 7), (8, 8)],
                                          ["bilinear", "nearest"]):
        x = rng.randn(2, 5, 7, 3)

        def fn(x):
            return df.image.resize(x, size, method=method)

        def fn_t(xt):
            return F.interpolate(xt, size=size, mode="bilinear" if method == "bilinear"
                                 else "nearest-exact", **({"align_corners": False}
                                                          if method == "bilinear" else {}))
        check("resize %s %s" % (method, size), fn, fn_t, x, [])


def main():
    rng = np.random.RandomState(0)
    conv_cases(rng)
    transpose_cases(rng)
    conv1d_cases(rng)
    pool_cases(rng)
    resize_cases(rng)
    print("%d comparisons against torch %s, worst relative error %.2e (tolerance %.0e)"
          % (count[0], torch.__version__, worst[0], TOL))


if __name__ == "__main__":
    main()

"""The hand-written NumPy baseline: an MLP step with every buffer preallocated.

This is what a careful engineer writes without a framework: forward, MSE loss, backward and the SGD
update with `out=` everywhere, so a step allocates nothing but NumPy's small temporaries (the ReLU
masks). Gradients are written into views of ONE flat buffer, so the data-parallel version (W4)
sums them across ranks with a single in-place Allreduce and no packing copy.

`scale` multiplies dLoss/dprediction: 2/B for a mean over the batch B, 2/global_B for the global
batch semantics of a data-parallel step (each rank's part divided by the global batch size).
"""
import numpy as np


class NumpyMLP:
    def __init__(self, params, batch, lr, adam=None):
        n = sum(w.size + b.size for w, b in params)
        # the parameters too are views of one flat buffer, so that Adam updates them all at once
        self.flat_param = np.empty(n, np.float32)
        self.ws, self.bs, offset = [], [], 0
        for w, b in params:
            for src, dst in ((w, self.ws), (b, self.bs)):
                view = self.flat_param[offset:offset + src.size].reshape(src.shape)
                view[...] = src
                dst.append(view)
                offset += src.size
        self.lr = np.float32(lr)
        self.adam = adam
        if adam is not None:  # Adam's slots and a temporary, flat; t counts the steps
            self.m, self.v = np.zeros(n, np.float32), np.zeros(n, np.float32)
            self.tmp, self.t = np.empty(n, np.float32), 0
        sizes = [self.ws[0].shape[0]] + [w.shape[1] for w in self.ws]
        self.flat_grad = np.empty(n, np.float32)
        self.gws, self.gbs, offset = [], [], 0
        for w, b in zip(self.ws, self.bs):
            self.gws.append(self.flat_grad[offset:offset + w.size].reshape(w.shape))
            offset += w.size
            self.gbs.append(self.flat_grad[offset:offset + b.size])
            offset += b.size
        # z[i]: pre-activations, h[i]: activations (h[-1] is the prediction), d[i]: dLoss/dz[i]
        self.z = [np.empty((batch, s), np.float32) for s in sizes[1:]]
        self.h = [np.empty((batch, s), np.float32) for s in sizes[1:-1]]
        self.d = [np.empty((batch, s), np.float32) for s in sizes[1:]]
        self.mask = [np.empty((batch, s), np.bool_) for s in sizes[1:-1]]
        tmp = np.empty(n, np.float32)  # lr * grad, before it is subtracted
        self.updates = [(p, g, tmp[:g.size].reshape(g.shape))
                        for pair in zip(self.ws, self.gws, self.bs, self.gbs)
                        for p, g in (pair[:2], pair[2:])]

    def forward_backward(self, x, y, scale):
        """Fills flat_grad with the gradient of the loss; returns the loss (sum of squares * scale/2)."""
        ws, bs, z, h, d = self.ws, self.bs, self.z, self.h, self.d
        last = len(ws) - 1
        inp = x
        for i in range(last + 1):
            np.matmul(inp, ws[i], out=z[i])
            np.add(z[i], bs[i], out=z[i])
            if i < last:
                np.maximum(z[i], 0, out=h[i])
                inp = h[i]
        err = d[last]
        np.subtract(z[last], y, out=err)
        loss = float(np.vdot(err, err)) * scale / 2
        np.multiply(err, np.float32(scale), out=err)
        for i in range(last, -1, -1):
            np.matmul((h[i - 1] if i else x).T, d[i], out=self.gws[i])
            np.sum(d[i], axis=0, out=self.gbs[i])
            if i:
                np.matmul(d[i], ws[i].T, out=d[i - 1])
                np.greater(z[i - 1], 0, out=self.mask[i - 1])
                np.multiply(d[i - 1], self.mask[i - 1], out=d[i - 1])
        return loss

    def apply(self):
        """SGD, one parameter at a time: p -= lr * grad, through a preallocated temporary."""
        lr = self.lr
        for p, g, t in self.updates:
            np.multiply(g, lr, out=t)
            np.subtract(p, t, out=p)

    def apply_adam(self):
        """Adam in TF1's form over the flat buffers: a dozen vectorized calls for the model."""
        a, g, m, v, tmp = self.adam, self.flat_grad, self.m, self.v, self.tmp
        self.t += 1
        lr_t = np.float32(a["lr"] * np.sqrt(1 - a["beta2"] ** self.t) / (1 - a["beta1"] ** self.t))
        np.subtract(g, m, out=tmp)
        tmp *= np.float32(1 - a["beta1"])
        m += tmp
        np.multiply(g, g, out=tmp)
        tmp -= v
        tmp *= np.float32(1 - a["beta2"])
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += np.float32(a["epsilon"])
        np.divide(m, tmp, out=tmp)
        tmp *= lr_t
        self.flat_param -= tmp

    def step(self, x, y):
        loss = self.forward_backward(x, y, 2.0 / len(x))
        if self.adam is None:
            self.apply()
        else:
            self.apply_adam()
        return loss

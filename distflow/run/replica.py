"""One rank's replica of the model: a TF1 graph, its Session, and the tensors a run uses.

The training graph, per step:

    features, target (this rank's part of the global batch), global_batch_size (fed)
      -> predictions -> loss_part = sum of squared errors over the part / global_batch_size
      -> local gradients of loss_part
      -> ONE fused all-reduce of [gradients..., loss_part]   (sum over ranks)
      -> optional clipping by global norm -> the optimizer's update

Dividing by the GLOBAL batch size makes the all-reduced sum exactly the one-process gradient (and
loss) of the mean over the whole global batch, for any number of ranks, uneven parts and a short
last batch. The loss travels in the same collective as the gradients, so every rank sees the
same global loss at the same step (and so every rank stops together when it is NaN) at no extra
collective. Sums of squared and absolute errors of the part are fetched too; the trainer adds
them up over the epoch and reduces them across ranks once, as sums and counts.

Dropout takes its masks from a placeholder fed by the trainer, drawn from (seed, epoch, step)
over the GLOBAL batch and then cut like the data: the same masks on any number of ranks and after
a resume, so dropout keeps both promises (N ranks = 1 process; resume = uninterrupted run).
"""
import numpy as np

from distflow import backend
from distflow.client.session import Session
from distflow.distribute.optimizer import DistributedOptimizer
from distflow.framework import context, dtypes
from distflow.framework.graph import Graph, GraphKeys
from distflow.nn import losses
from distflow.nn.layers import Dense, Layer, derive_seed
from distflow.nn.sequential import Sequential
from distflow.ops import array_ops, comparison_ops, math_ops, nn_ops, reduction_ops, variables
from distflow.ops.constant_op import placeholder
from distflow.train import clip_ops, learning_rate_schedule as schedules
from distflow.train.adagrad import AdagradOptimizer
from distflow.train.adam import AdamOptimizer
from distflow.train.gradient_descent import GradientDescentOptimizer
from distflow.train.momentum import MomentumOptimizer
from distflow.train.optimizer import get_or_create_global_step
from distflow.train.rmsprop import RMSPropOptimizer


class FedDropout(Layer):
    """Dropout whose scaled keep-mask (0 or 1 / (1 - rate) per value) is fed at each step."""

    def __init__(self, rate, name=None):
        super().__init__(name)
        self.rate = rate
        self.masks = []  # one placeholder per training-mode call

    def call(self, inputs, training=False):
        if not training:
            return inputs
        mask = placeholder(dtypes.float32, (None, inputs.shape.as_list()[-1]), name="keep_mask")
        self.masks.append(mask)
        return math_ops.multiply(inputs, mask)


def build_model(model_config, seed, outputs=1):
    """The config's network: the MLP of model.hidden, or the blocks of model.layers, then the
    output layer (`outputs` linear units: 1 for regression, one logit per class). Layers get fixed
    names (dense, dense_1, conv2d, ...), so variable names do not depend on what else the process
    built."""
    if model_config.get("layers"):
        return _build_blocks(model_config["layers"], seed, outputs)
    layers, dense_count = [], 0
    for i, units in enumerate(model_config["hidden"]):
        layers.append(Dense(units, model_config["activation"], name=_dense_name(dense_count)))
        dense_count += 1
        if model_config["dropout"] > 0:
            layers.append(FedDropout(model_config["dropout"],
                                     name="dropout" if i == 0 else "dropout_%d" % i))
    layers.append(Dense(outputs, name=_dense_name(dense_count)))
    return Sequential(layers, name="mlp", seed=seed)


def _build_blocks(blocks, seed, outputs):
    from distflow.keras import conv_layers, core_layers
    from distflow.run.config import check_layers
    counts = {}

    def name(base):
        n = counts.get(base, 0)
        counts[base] = n + 1
        return base if n == 0 else "%s_%d" % (base, n)

    layers = []
    for kind, a in check_layers(blocks, image=True):
        if kind == "conv2d":
            layers.append(conv_layers.Conv2D(a["filters"], a["kernel_size"], a["strides"],
                                             a["padding"], activation=a["activation"],
                                             # as Sequential derives it, whatever Keras's
                                             # global seed is in this process
                                             seed=derive_seed(seed, len(layers)),
                                             name=name("conv2d")))
        elif kind in ("max_pool2d", "avg_pool2d"):
            cls = conv_layers.MaxPooling2D if kind == "max_pool2d" else \
                conv_layers.AveragePooling2D
            layers.append(cls(a["pool_size"], a["strides"], a["padding"],
                              name=name("max_pooling2d" if kind == "max_pool2d"
                                        else "average_pooling2d")))
        elif kind == "flatten":
            layers.append(core_layers.Flatten(name=name("flatten")))
        elif kind == "dense":
            layers.append(Dense(a["units"], a["activation"], name=name("dense")))
        else:
            layers.append(FedDropout(a["rate"], name=name("dropout")))
    layers.append(Dense(outputs, name=name("dense")))
    return Sequential(layers, name="cnn", seed=seed)


def _dense_name(i):
    return "dense" if i == 0 else "dense_%d" % i


def build_optimizer(opt):
    """The TF1 optimizer the config names, its learning rate a schedule when one is asked for."""
    lr = opt["learning_rate"]
    if opt["schedule"] == "exponential":
        lr = schedules.ExponentialDecay(lr, opt["decay_steps"], opt["decay_rate"])
    elif opt["schedule"] == "cosine":
        lr = schedules.CosineDecay(lr, opt["decay_steps"])
    elif opt["schedule"] == "piecewise":
        lr = schedules.PiecewiseConstantDecay(opt["boundaries"], opt["values"])
    wd = opt["weight_decay"]
    name = opt["name"]
    if name == "sgd":
        return GradientDescentOptimizer(lr, weight_decay=wd)
    if name == "momentum":
        return MomentumOptimizer(lr, opt["momentum"], use_nesterov=opt["nesterov"],
                                 weight_decay=wd)
    if name == "adam":
        return AdamOptimizer(lr, weight_decay=wd)
    if name == "rmsprop":
        return RMSPropOptimizer(lr, momentum=opt["momentum"], weight_decay=wd)
    return AdagradOptimizer(lr, weight_decay=wd)


class Replica:
    """The graph and Session of one rank. With `communicator`, the training step too."""

    def __init__(self, config, n_features, seed, communicator=None, device="cpu", classes=None):
        """`n_features`: the width of a table row, or the (height, width, channels) of an image;
        `classes`: the number of classes of a classifier (None: one regression output)."""
        self.graph = Graph()
        self.dropout_layers = []
        self.classes = classes
        shape = tuple(n_features) if isinstance(n_features, (tuple, list)) else (n_features,)
        with self.graph.as_default(), context.graph_mode():
            self.features = placeholder(dtypes.float32, (None,) + shape, name="features")
            self.target = placeholder(dtypes.int32 if classes else dtypes.float32, (None,),
                                      name="target")
            self.model = build_model(config["model"], seed, classes or 1)
            out = self.model(self.features, training=False)
            # a classifier predicts its logits (probabilities and log-loss follow in float64)
            self.predictions = array_ops.identity(out, name="logits") if classes else \
                array_ops.reshape(out, [-1], name="predictions")
            self.train_op = None
            if communicator is not None:
                self._build_training(config, communicator)
            self.variables = self.graph.get_collection(GraphKeys.GLOBAL_VARIABLES)
            init = variables.variables_initializer(self.variables)
        self.model_variables = self.model.variables
        self.session = Session(graph=self.graph, device=device)
        self.session.run(init)
        self._xp = backend.xp_for_device(device)
        self._predict = self.session.make_callable(self.predictions, [self.features])
        self._step = None
        if self.train_op is not None:
            fetches = [self.train_op, self.loss, self.sum_squared_error, self.sum_absolute_error]
            # on a GPU, each step is replayed from a CUDA graph unless the config turns it off
            graphs = self._xp is not np and config.get("cuda_graphs", True)
            self._step = self.session.make_callable(
                fetches, [self.features, self.target, self.global_batch] + self.masks,
                cuda_graph=graphs)

    def _build_training(self, config, communicator):
        self.global_batch = placeholder(dtypes.float32, (), name="global_batch_size")
        with self.graph.name_scope("train"):  # the variables exist already: only ops go here
            outputs = self.model(self.features, training=True)
        self.masks = [m for layer in self.model.layers if isinstance(layer, FedDropout)
                      for m in layer.masks]
        self.mask_units = [int(m.shape.as_list()[-1]) for m in self.masks]
        self.mask_rates = [layer.rate for layer in self.model.layers
                           if isinstance(layer, FedDropout) for _ in layer.masks]
        if self.classes:
            # the two sums a classifier's metrics need: cross-entropy and correct predictions
            per_sample = nn_ops.sparse_softmax_cross_entropy_with_logits(labels=self.target,
                                                                         logits=outputs)
            self.sum_squared_error = math_ops.reduce_sum(per_sample, name="sum_cross_entropy")
            hits = comparison_ops.equal(reduction_ops.argmax(outputs, 1, dtypes.int32),
                                        self.target)
            self.sum_absolute_error = math_ops.reduce_sum(math_ops.cast(hits, dtypes.float32),
                                                          name="correct")
        else:
            squared = losses.mean_squared_error(self.target, outputs)  # per sample, as Keras's
            self.sum_squared_error = math_ops.reduce_sum(squared, name="sum_squared_error")
            self.sum_absolute_error = math_ops.reduce_sum(
                losses.mean_absolute_error(self.target, outputs), name="sum_absolute_error")
        loss_part = math_ops.divide(self.sum_squared_error, self.global_batch, name="loss_part")

        dist = config["distributed"]
        bucket = None if dist["bucket_mb"] == 0 else int(dist["bucket_mb"] * 2**20)
        self.optimizer = DistributedOptimizer(build_optimizer(config["optimizer"]),
                                              communicator=communicator, bucket_bytes=bucket)
        var_list = self.model.trainable_variables
        # the loss travels in the gradients' fused all-reduce
        pairs, extra = self.optimizer.compute_gradients(loss_part, var_list=var_list,
                                                        extra={"loss": loss_part})
        grads, self.loss = [g for g, _ in pairs], array_ops.identity(extra["loss"], name="loss")
        clip = config["optimizer"]["clip_norm"]
        if clip is not None:
            grads, _ = clip_ops.clip_by_global_norm(grads, clip)
        self.global_step = get_or_create_global_step()
        # reduced above: the optimizer applies them (clipped or not) without reducing again
        self.train_op = self.optimizer.apply_gradients(list(zip(grads, var_list)),
                                                       global_step=self.global_step)

    # -- running ---------------------------------------------------------------------------------
    def train_step(self, x, y, global_size, masks=()):
        """One step on this rank's part; returns (global loss, local sum of squared errors,
        local sum of absolute errors) as Python floats; for a classifier the two sums are of the
        cross-entropy and of the correct predictions."""
        _, loss, sse, sae = self._step(x, y, np.float32(global_size), *masks)
        return float(loss), float(sse), float(sae)

    def predict(self, x):
        return np.asarray(backend.to_numpy(self._predict(x)), dtype=np.float64)

    # -- state -----------------------------------------------------------------------------------
    def get_arrays(self, var_list=None):
        """{name: NumPy array} of every variable (or of `var_list`), names without ':0'."""
        var_list = self.variables if var_list is None else var_list
        values = variables.read_values(var_list, self.session)  # one run, host copies
        return {var_name(v): a for v, a in zip(var_list, values)}

    def set_arrays(self, arrays, var_list=None, strict=True):
        """Loads arrays by variable name; with `strict`, every variable must be given."""
        var_list = self.variables if var_list is None else var_list
        missing = [var_name(v) for v in var_list if var_name(v) not in arrays]
        if strict and missing:
            raise ValueError("the checkpoint has no value for %s (it was written by a different "
                             "model or optimizer)" % ", ".join(missing[:5]))
        given = [(v, arrays[var_name(v)]) for v in var_list if arrays.get(var_name(v)) is not None]
        for v, value in given:  # every shape checked before any variable changes
            want = tuple(v.shape.as_list())
            if tuple(value.shape) != want:
                raise ValueError("the checkpoint's %s has shape %s, the model's has shape %s"
                                 % (var_name(v), tuple(value.shape), want))
        variables.write_values([v for v, _ in given], [a for _, a in given], self.session)

    def close(self):
        self.session.close()


def var_name(v):
    return v.name[:-2] if v.name.endswith(":0") else v.name


def dropout_masks(seed, epoch, step, global_size, start, stop, rate, units_list):
    """This rank's rows [start, stop) of the scaled keep-masks of one global step, one array per
    dropout placeholder; the global masks depend only on (seed, epoch, step). `rate`: one rate
    for all, or one per placeholder (the dropout blocks of model.layers)."""
    masks = []
    rates = rate if isinstance(rate, (list, tuple)) else [rate] * len(units_list)
    for i, (units, rate) in enumerate(zip(units_list, rates)):
        rng = np.random.default_rng([derive_seed(seed, 7919), epoch, step, i])
        keep = rng.random((global_size, units))[start:stop] >= rate
        masks.append((keep / (1.0 - rate)).astype(np.float32))
    return masks

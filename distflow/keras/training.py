"""compile / fit / evaluate / predict for Keras models, as Keras 3 does them
(keras/src/trainers/trainer.py and keras/src/backend/tensorflow/trainer.py).

Each step is one compiled graph: a df.function with an input_signature of unknown batch size,
traced once per (model, step kind, input dtypes and feature shapes) and run as a Session plan,
specialized per fed batch shape (the full batches and the short last one). A train step runs the
model with training=True under a GradientTape, applies the optimizer, and returns the batch's loss
and predictions; nothing else crosses to Python until the epoch ends.

The numbers are Keras's:
  * "loss" of an epoch is the mean of the batch losses weighted by batch size (Keras's loss
    tracker is a Mean updated with sample_weight = batch size), and a metric is its value over
    all the epoch's samples, from the predictions made during the steps (before each update);
  * validation_split keeps the LAST fraction of the rows (floor(n * (1 - split)) rows train),
    taken before any shuffling; validation runs after every epoch with the same batch size and
    logs "val_" + name;
  * shuffle=True draws a new order of the training rows every epoch (from the global seed when
    one is set: tf.keras.utils.set_random_seed); the last, short batch is kept;
  * evaluate returns the loss alone, or [loss, *metrics] when metrics were compiled
    (return_dict=True: a dict); predict returns a NumPy array;
  * x may be a tf.data.Dataset of (x, y) batches (fit, evaluate, validation_data) or of x
    batches (predict): its batches are the steps (batch_size and shuffle are then ignored);
    with steps_per_epoch, every epoch takes the next steps of one iterator over it.

A model made or compiled in a tf.distribute strategy's scope runs its epochs and predict through
keras/distributed.py (each rank its part of every global batch, the logs summed over ranks).
"""
import inspect
import time

import numpy as np

from distflow.autodiff.tape import GradientTape
from distflow.data.dataset import Dataset
from distflow.function import TensorSpec, function
from distflow.framework import context, dtypes
from distflow.framework.tensor_shape import TensorShape
from distflow.keras import callbacks as callbacks_module
from distflow.keras import distributed as distributed_module
from distflow.keras import metrics as metrics_module
from distflow.keras import optimizers as optimizers_module
from distflow.nn import losses as losses_module
from distflow.ops import random_ops
from distflow.ops.dispatch import convert_to_tensor

_NOT_COMPILED = "You must call `compile()` before using the model."


def _eager_only(method):
    """fit / evaluate / predict run eagerly (each step a df.function). TF's Keras falls back to
    TF1 graphs and Sessions after disable_eager_execution(); distflow's does not: one message
    instead of a TypeError from deep inside the epoch."""
    if not context.executing_eagerly():
        raise RuntimeError(
            "Model.%s runs eagerly in distflow, but this code builds a graph (after "
            "tf.compat.v1.disable_eager_execution() or disable_v2_behavior(), or inside "
            "`with graph.as_default()`): remove that call to train with Keras, or build the "
            "training op yourself and run it in a tf.compat.v1.Session" % method)


class Trainer:
    """A mixin for a model with `__call__(x, training)`, `trainable_variables`, `get_weights`
    and `set_weights`: Keras's training methods."""

    compiled = False
    optimizer = None
    loss = None
    stop_training = False
    history = None

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True, experimental_run_tf_function=True):
        """optimizer: a name ('adam', 'sgd', ...) or an optimizer; loss: a name ('mse'), a Loss
        or a function of (y_true, y_pred); metrics: a list of names, metrics or functions.
        run_eagerly=True runs every step op by op (for debugging) instead of as a graph.
        experimental_run_tf_function: Keras 2's, accepted and without effect (Horovod's Keras
        examples pass False; each step here is one df.function either way)."""
        if loss_weights is not None or weighted_metrics is not None:
            raise NotImplementedError("loss_weights and weighted_metrics (models with several "
                                      "outputs or sample weights) are not supported")
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            raise TypeError("Type of `metrics` argument not understood. Expected a list or "
                            "dictionary, found: %r" % (metrics,))
        self.optimizer = optimizers_module.get(optimizer)
        # a strategy that sums the gradients takes no wrapper that reduces them too
        distributed_module.refuse_distributed_optimizer(distributed_module.current_strategy(),
                                                        self.optimizer)
        # A distributed optimizer whose reduction does not fit fit's per-rank mean loss refuses
        # here (distflow.distribute's DistributedOptimizer(op='sum')); the others reduce in
        # their apply_gradients, which the train step calls.
        # Under a strategy, fit refuses any distributed optimizer with the strategy's message.
        check = getattr(self.optimizer, "_check_keras_fit", None)
        if check is not None and distributed_module.current_strategy() is None and \
                getattr(self, "_distribute_strategy", None) is None:
            check()
        self.loss = loss
        self._loss_fn = None if loss is None else losses_module.get(loss)
        self._compiled_metrics = list(metrics or [])
        self._run_eagerly = bool(run_eagerly)
        self._steps = {}
        self._metric_objects = None
        # tf.distribute: a model made or compiled in strategy.scope() trains under that strategy
        self._distribute_strategy = distributed_module.current_strategy() \
            or getattr(self, "_distribute_strategy", None)
        self.compiled = True

    # -- the steps -------------------------------------------------------------------------------
    def compute_loss(self, y, y_pred):
        """The batch loss, as Keras's compile() wraps it: a Loss object reduces itself; a
        function's per-sample values are reduced with 'sum_over_batch_size'."""
        if self._loss_fn is None:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        # Keras's LossFunctionWrapper lines the ranks up first: targets (n,) against outputs
        # (n, 1) become (n, 1), for every loss (binary_crossentropy insists on equal shapes)
        y, y_pred = losses_module._squeeze_or_expand(convert_to_tensor(y), y_pred)
        if isinstance(self._loss_fn, losses_module.Loss):
            loss = self._loss_fn(y, y_pred)
        else:
            loss = losses_module.reduce_weighted_values(self._loss_fn(y, y_pred))
        for penalty in getattr(self, "losses", None) or []:  # kernel_regularizer=... (Keras)
            loss = loss + penalty
        return loss

    def _train_step(self, x, y):
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y, y_pred)
        variables = self.trainable_variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        return loss, y_pred

    def _test_step(self, x, y):
        y_pred = self(x, training=False)
        return self.compute_loss(y, y_pred), y_pred

    def _predict_step(self, x):
        return self(x, training=False)

    def _step(self, kind, *arrays):
        """The compiled step of `kind` for arrays like these (made once, then reused). A model
        of several inputs gets them as one MultiInput (keras/functional.py): the step takes
        its arrays one by one and hands the model the list."""
        flat = [a for arr in arrays for a in getattr(arr, "arrays", [arr])]
        key = (kind,) + tuple((a.dtype.str, a.shape[1:]) for a in flat) \
            + tuple(len(getattr(arr, "arrays", ())) for arr in arrays)
        steps = self.__dict__.setdefault("_steps", {})  # predict needs no compile()
        step = steps.get(key)
        if step is None:
            fn = _regrouped(getattr(self, "_%s_step" % kind), arrays)
            if getattr(self, "_run_eagerly", False):
                step = fn
            else:
                step = function(fn, input_signature=[
                    TensorSpec([None] + list(a.shape[1:]), dtypes.as_dtype(a.dtype))
                    for a in flat])
            if any(hasattr(arr, "arrays") for arr in arrays):
                step = _flattened(step)
            steps[key] = step
        return step

    # -- fit -------------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        _eager_only("fit")
        if not self.compiled:
            raise ValueError(_NOT_COMPILED)
        _unsupported(class_weight=class_weight, sample_weight=sample_weight,
                     steps_per_epoch=None if _is_dataset(x) else steps_per_epoch,
                     validation_steps=validation_steps)
        batch_size = _batch_size(batch_size)
        verbose = _verbose(verbose)
        x, y = self._arrays(x, y)
        if _is_dataset(x) and validation_split:
            raise ValueError("Argument `validation_split` is only supported for tensors or NumPy "
                             "arrays.Found incompatible type in the input: %r" % (type(x),))
        if not isinstance(validation_split, (int, float, np.floating)) \
                or not 0 <= validation_split < 1:
            raise ValueError("`validation_split` must be a float in [0, 1), got %r"
                             % (validation_split,))
        if validation_data is None and validation_split:
            split_at = int(np.floor(len(x) * (1.0 - validation_split)))
            if split_at in (0, len(x)):
                raise ValueError("Training data contains %d samples, which is not sufficient to "
                                 "split it into a validation and training set as specified by "
                                 "`validation_split=%s`. Either provide more data, or a different "
                                 "value for the `validation_split` argument."
                                 % (len(x), validation_split))
            validation_data = (x[split_at:], y[split_at:])
            x, y = x[:split_at], y[:split_at]
        if validation_data is not None:
            val_x, val_y = self._arrays(*_unpack(validation_data))
        # steps_per_epoch (datasets): each epoch takes the next steps from one iterator
        per_epoch = _StepsPerEpoch(x, steps_per_epoch) if steps_per_epoch is not None else None
        steps = per_epoch.steps if per_epoch is not None else _num_steps(x, batch_size)
        x_like, y_like = self._shaped_like(x, y)
        self._build_for(x_like)
        metric_objects = self._metrics_for(y_like)
        cbs = callbacks_module.CallbackList(callbacks, self, {
            "epochs": epochs, "steps": steps, "verbose": verbose}, verbose)
        rng = _shuffle_rng(distributed_module.strategy_for(self)) \
            if shuffle and not _is_dataset(x) else None  # a dataset: its order
        self.stop_training = False
        cbs.call("on_train_begin", None)
        logs = None
        for epoch in range(initial_epoch, epochs):
            cbs.call("on_epoch_begin", epoch, None)
            order = rng.permutation(len(x)) if rng is not None else None
            epoch_x = per_epoch.next_epoch() if per_epoch is not None else x
            logs = self._run_epoch("train", epoch_x, y, batch_size, metric_objects, order, cbs)
            if per_epoch is not None and per_epoch.ran_out:
                self.stop_training = True  # Keras: "Your input ran out of data"
            logs = _sorted(logs)
            if validation_data is not None and (epoch + 1) % validation_freq == 0:
                val = self._run_epoch("test", val_x, val_y, validation_batch_size or batch_size,
                                      metric_objects)
                logs.update(("val_" + k, v) for k, v in _sorted(val).items())
            cbs.call("on_epoch_end", epoch, logs)
            if self.stop_training:
                break
        cbs.call("on_train_end", logs)
        return cbs.history

    def _run_epoch(self, kind, x, y, batch_size, metric_objects, order=None, cbs=None):
        """Runs every batch, then turns the batch results into Keras's logs (Python floats)."""
        strategy = distributed_module.strategy_for(self)
        if strategy is not None:  # tf.distribute: each rank its part, logs over all ranks
            return distributed_module.run_epoch(self, strategy, kind, x, y, batch_size,
                                                metric_objects, order, cbs)
        step = None if _is_dataset(x) else self._step(kind, x, y)
        hooks = cbs.batch_hooks if cbs is not None else []
        results = []
        for b, (xb, yb) in enumerate(self._batches(x, y, batch_size, order)):
            for cb in hooks:
                cb.on_train_batch_begin(b, None)
            loss, y_pred = (step or self._step(kind, xb, yb))(xb, yb)
            results.append((len(xb), yb, loss, y_pred))
            for cb in hooks:
                cb.on_train_batch_end(b, {"loss": float(_host(loss))})
            if self.stop_training and hooks:  # a batch hook may stop training mid-epoch
                break
        for m in metric_objects:
            m.reset_state()
        total = count = 0.0
        for n, yb, loss, y_pred in results:
            total += float(_host(loss)) * n
            count += n
            pred = _host(y_pred)
            for m in metric_objects:
                m.update_state(yb, pred)
        logs = {"loss": total / count if count else 0.0}
        logs.update((m.name, float(m.result())) for m in metric_objects)
        return logs

    # -- evaluate and predict --------------------------------------------------------------------
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        _eager_only("evaluate")
        if not self.compiled:
            raise ValueError(_NOT_COMPILED)
        _unsupported(sample_weight=sample_weight, steps=steps)
        batch_size, verbose = _batch_size(batch_size), _verbose(verbose)
        x, y = self._arrays(x, y)
        x_like, y_like = self._shaped_like(x, y)
        self._build_for(x_like)
        start = time.perf_counter()
        logs = self._run_epoch("test", x, y, batch_size, self._metrics_for(y_like))
        if verbose:
            callbacks_module.print_progress(_num_steps(x, batch_size) or 0,
                                            time.perf_counter() - start, _sorted(logs), verbose)
        if return_dict:
            return _sorted(logs)
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        _eager_only("predict")
        _unsupported(steps=steps)
        batch_size, verbose = _batch_size(batch_size), _verbose(verbose)
        if _is_dataset(x):
            x, batches = self._shaped_like(x, None)[0], \
                (self._inputs(_unpack_element(e)[0]) for e in x)
        else:
            x = self._inputs(x)
            batches = (x[i:i + batch_size] for i in range(0, len(x), batch_size))
        self._build_for(x)
        start = time.perf_counter()
        strategy = distributed_module.strategy_for(self)
        if strategy is not None:  # tf.distribute: each rank its part, every rank all rows
            outs = distributed_module.predict(self, strategy, batches)
        else:
            outs = [self._step("predict", xb)(xb) for xb in batches]
        if verbose:
            callbacks_module.print_progress(len(outs), time.perf_counter() - start, {}, verbose)
        if not outs:
            return np.zeros((0,) + tuple(self.compute_output_shape(
                (0,) + x.shape[1:]).as_list()[1:]), np.float32)
        return np.concatenate([_host(o) for o in outs])

    # -- helpers ---------------------------------------------------------------------------------
    def _metrics_for(self, y):
        """compile()'s metrics as objects, made once (names resolved with the data's shapes)."""
        if self._metric_objects is None:
            out_shape = None
            if getattr(self, "input_shape", None) is not None:
                out_shape = self.compute_output_shape(self.input_shape).as_list()
            made = [metrics_module.get(m, getattr(y, "shape", None), out_shape)
                    for m in self._compiled_metrics]
            self._metric_objects = made
        return self._metric_objects

    def _inputs(self, x):
        if x is None:
            raise ValueError("Unrecognized data type: x=None")
        x = _numpy(x)
        if x.ndim == 1 and _one_feature_column(self):
            x = x.reshape(-1, 1)
        dtype = getattr(self, "dtype", None)
        return np.ascontiguousarray(x, dtype.as_numpy_dtype if dtype is not None
                                    else np.float32)

    def _arrays(self, x, y):
        if _is_dataset(x):
            if y is not None:
                raise ValueError("When providing `x` as a tf.data.Dataset, `y` should not be "
                                 "passed. Instead, the targets should be included as part of "
                                 "the tf.data.Dataset.")
            return x, None
        x = self._inputs(x)
        if y is None:
            raise ValueError("fit / evaluate need targets: y=None (a model trained from x alone "
                             "is not supported)")
        y = _numpy(y)
        if y.dtype.kind == "f" or y.dtype.kind == "b":
            y = y.astype(np.float32)
        y = np.ascontiguousarray(y)
        if len(x) != len(y):
            raise ValueError("Data cardinality is ambiguous. Make sure all arrays contain the "
                             "same number of samples.'x' sizes: %d\n'y' sizes: %d\n"
                             % (len(x), len(y)))
        return x, y

    def _batches(self, x, y, batch_size, order=None):
        """(x, y) NumPy batches: a dataset's own, or slices of the arrays (in `order`)."""
        if _is_dataset(x):
            for element in x:
                xb, yb = _unpack_element(element)
                yield self._arrays(xb, yb)
            return
        for start in range(0, len(x), batch_size):
            rows = slice(start, start + batch_size) if order is None \
                else order[start:start + batch_size]
            yield x[rows], y[rows]

    def _shaped_like(self, x, y):
        """Arrays with no rows shaped like a dataset's batches (from its element_spec), to
        build the model and pick the metrics; arrays are their own."""
        if not _is_dataset(x):
            return x, y
        specs = [np.zeros([0] + [d or 0 for d in s.shape.as_list()[1:]], s.dtype.as_numpy_dtype)
                 for s in _unpack_element(x.element_spec) if s is not None]
        return self._inputs(specs[0]), specs[1] if len(specs) > 1 else None

    def _build_for(self, x):
        if not getattr(self, "built", True) and hasattr(self, "build"):
            self.build((None,) + tuple(x.shape[1:]))


def _one_feature_column(model):
    """Whether a 1-D x goes in as (N, 1). Keras 3 adjusts the rank to a model built for rank 2
    (a DataFrame column into a model of one feature), and hands an unbuilt model the data as it
    is: a first Lambda sees (batch,) (TF's guide/basics stacks [x, x**2] on axis 1). A first
    layer that needs features (Dense) would refuse (batch,), so for it x is one feature."""
    shape = getattr(model, "input_shape", None)
    if shape is not None:
        return TensorShape(shape).rank != 1
    layers = getattr(model, "_layers", None)
    return not (layers and getattr(layers[0], "takes_any_rank", False))


def _regrouped(fn, arrays):
    """fn(x, y) as a function of the flat arrays (a MultiInput's arrays become one list)."""
    sizes = [len(getattr(arr, "arrays", ())) for arr in arrays]
    if not any(sizes):
        return fn

    def regrouped(*flat):
        args, i = [], 0
        for n in sizes:
            args.append(list(flat[i:i + n]) if n else flat[i])
            i += n or 1
        return fn(*args)
    # df.function reads the parameters to match its input_signature: one per array
    regrouped.__signature__ = inspect.Signature([
        inspect.Parameter("x%d" % i, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        for i in range(sum(n or 1 for n in sizes))])
    return regrouped


def _flattened(step):
    def call(*arrays):
        return step(*[a for arr in arrays for a in getattr(arr, "arrays", [arr])])
    return call


def _sorted(logs):
    """Keras 3's logs come out of its step functions with their keys sorted (fit's history:
    'accuracy', 'loss', 'mae', then the same for 'val_'); evaluate's list keeps 'loss' first and
    the metrics in compile() order."""
    return dict(sorted(logs.items()))


def _numpy(a):
    return np.asarray(a.numpy() if hasattr(a, "numpy") else a)


def _host(t):
    """A step's output as NumPy: the batch's values cross to the host here, after the epoch."""
    return t.numpy() if hasattr(t, "numpy") else np.asarray(t)


def _is_dataset(x):
    return isinstance(x, Dataset)


def _unpack_element(element):
    """A dataset element as Keras reads it: (x, y), (x, y, sample_weight) or x alone."""
    if isinstance(element, tuple) and 1 <= len(element) <= 3:
        if len(element) == 3 and element[2] is not None:
            raise NotImplementedError("distflow.keras does not support sample weights")
        return element[0], element[1] if len(element) > 1 else None
    return element, None


def _num_steps(x, batch_size):
    """Batches per epoch: a dataset's cardinality (None when unknown)."""
    if not _is_dataset(x):
        return -(-len(x) // batch_size)
    n = int(x.cardinality())
    if n == -1:
        raise ValueError("When providing an infinite dataset, you must specify the number of "
                         "steps to run (`steps_per_epoch`)")
    return n if n >= 0 else None


class _StepsPerEpoch:
    """fit(dataset, steps_per_epoch=n): every epoch is the next n batches of ONE iterator over
    the dataset (a repeated dataset goes on where the last epoch stopped, as in Keras); a finite
    dataset that runs out ends training after that epoch."""

    def __init__(self, dataset, steps):
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError("`steps_per_epoch` must be a positive integer, got %r" % (steps,))
        self.steps = int(steps)
        self.ran_out = False
        self._dataset = dataset
        self._iterator = iter(dataset)

    def next_epoch(self):
        import itertools

        def make():
            count = 0
            for element in itertools.islice(self._iterator, self.steps):
                count += 1
                yield element
            if count < self.steps:
                import warnings
                warnings.warn("Your input ran out of data; interrupting training. Make sure that "
                              "your dataset or generator can generate at least `steps_per_epoch "
                              "* epochs` batches. You may need to use the `.repeat()` function "
                              "when building your dataset.", stacklevel=2)
                self.ran_out = True
        return Dataset(make, lambda: self._dataset.element_spec, self.steps, "_TakeDataset")


def _unpack(data):
    if _is_dataset(data):
        return data, None
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise ValueError("When passing a `validation_data` argument, it must contain either 2 "
                         "items (x_val, y_val), or 3 items (x_val, y_val, val_sample_weights). "
                         "However, we received `validation_data=%r`" % (data,))
    if len(data) == 3 and data[2] is not None:
        raise NotImplementedError("validation sample weights are not supported")
    return data[0], data[1]


def _batch_size(batch_size):
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError("`batch_size` must be a positive integer, got %r" % (batch_size,))
    return int(batch_size)


def _verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError("`verbose` must be 'auto', 0, 1 or 2, got %r" % (verbose,))
    return int(verbose)


def _unsupported(**arguments):
    given = [name for name, value in arguments.items() if value is not None]
    if given:
        raise NotImplementedError("distflow.keras does not support %s" % ", ".join(given))


def _shuffle_rng(strategy=None):
    """fit's shuffling generator: from the global seed when set (tf.random.set_seed or
    keras.utils.set_random_seed), else from NumPy's global state (np.random.seed); under a
    tf.distribute strategy, rank 0's draw, so every rank makes the same batches."""
    def draw():
        global_seed, op_seed = random_ops.get_seed(None)
        if global_seed is None:
            return np.random.randint(0, 2 ** 31 - 1)
        return [global_seed, op_seed]
    seed = draw() if strategy is None else distributed_module.shuffle_seed(strategy, draw)
    return np.random.default_rng(seed)

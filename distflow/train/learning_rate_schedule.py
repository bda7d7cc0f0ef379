"""Learning-rate schedules, TF2 style: objects called with the step (`schedule(step)`).

Each call builds its formula from distflow ops, so the same object gives a graph tensor of a
graph step (a global_step Variable) and an eager value of an eager step or a Python int. An
optimizer given a schedule as its learning rate calls it with `optimizer.iterations` each apply.
The TF1 functions (`tf.train.exponential_decay`, ...) in learning_rate_decay.py wrap these.

Formulas as tensorflow/python/keras/optimizer_v2/learning_rate_schedule.py documents them.
"""
import math

from distflow.framework.graph import name_scope
from distflow.ops import comparison_ops, dispatch, math_ops


class LearningRateSchedule:
    """Base class: `__call__(step)` gives the learning rate at `step`."""

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self):
        return dict(self._config)


def _as_float(value):
    """A float tensor (float32 for Python numbers, TF's default) of a hyperparameter."""
    t = dispatch.convert_to_tensor(value)
    return t if t.dtype.is_floating else math_ops.cast(t, "float32")


def _as(value, dtype):
    """`value` (a number, tensor or Variable) as a tensor of `dtype`."""
    if dispatch.dtype_of(value) is None:
        return dispatch.convert_to_tensor(value, dtype)
    return math_ops.cast(value, dtype)


class _StepDecay(LearningRateSchedule):
    """What exponential and inverse-time decay share: the rate decays with step / decay_steps,
    floored with `staircase=True`, so the rate changes every `decay_steps` steps."""

    _default_name = None

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        if decay_steps <= 0:
            raise ValueError("Argument `decay_steps` must be > 0. Received: decay_steps=%s"
                             % (decay_steps,))
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name
        self._config = dict(initial_learning_rate=initial_learning_rate, decay_steps=decay_steps,
                            decay_rate=decay_rate, staircase=staircase, name=name)

    def __call__(self, step):
        with name_scope(self.name or self._default_name):
            lr = _as_float(self.initial_learning_rate)
            dtype = lr.dtype
            p = math_ops.divide(_as(step, dtype), _as(self.decay_steps, dtype))
            if self.staircase:
                p = math_ops.floordiv(p, 1)
            return self._decayed(lr, _as(self.decay_rate, dtype), p)


class ExponentialDecay(_StepDecay):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)`."""

    _default_name = "ExponentialDecay"

    def _decayed(self, lr, rate, p):
        return math_ops.multiply(lr, math_ops.pow(rate, p))


class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[0]` while step <= boundaries[0], `values[1]` while step <= boundaries[1], ...,
    and `values[-1]` once step > boundaries[-1]."""

    def __init__(self, boundaries, values, name=None):
        if len(boundaries) != len(values) - 1:
            raise ValueError("The length of boundaries should be 1 less than the length of values")
        self.boundaries = list(boundaries)
        self.values = list(values)
        self.name = name
        self._config = dict(boundaries=self.boundaries, values=self.values, name=name)

    def __call__(self, step):
        with name_scope(self.name or "PiecewiseConstant"):
            step = dispatch.convert_to_tensor(step)
            values = [dispatch.convert_to_tensor(v) for v in self.values]
            # Later intervals overwrite earlier ones; each value is selected exactly, never summed.
            out = values[0]
            for boundary, value in zip(self.boundaries, values[1:]):
                past = comparison_ops.greater(step, _as(boundary, step.dtype))
                out = comparison_ops.where(past, value, out)
            return out


class CosineDecay(LearningRateSchedule):
    """Cosine decay (Loshchilov & Hutter, SGDR) from `initial_learning_rate` to
    `alpha * initial_learning_rate` over `decay_steps`, then constant:
    lr * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps)) + alpha)."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name=None):
        if decay_steps <= 0:
            raise ValueError("decay_steps must be positive, got %s" % (decay_steps,))
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self._config = dict(initial_learning_rate=initial_learning_rate, decay_steps=decay_steps,
                            alpha=alpha, name=name)

    def __call__(self, step):
        with name_scope(self.name or "CosineDecay"):
            lr = _as_float(self.initial_learning_rate)
            dtype = lr.dtype
            decay_steps = _as(self.decay_steps, dtype)
            step = comparison_ops.minimum(_as(step, dtype), decay_steps)
            fraction = math_ops.divide(step, decay_steps)
            cosine = 0.5 * (1.0 + math_ops.cos(math.pi * fraction))
            alpha = _as(self.alpha, dtype)
            return math_ops.multiply(lr, (1.0 - alpha) * cosine + alpha)


class PolynomialDecay(LearningRateSchedule):
    """From `initial_learning_rate` to `end_learning_rate` over `decay_steps`:
    (initial - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end. With
    `cycle=True` the decay restarts: decay_steps grows to the first multiple of itself at or past
    step (once at step 0)."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        if decay_steps <= 0:
            raise ValueError("Argument `decay_steps` must be > 0. Received: decay_steps=%s"
                             % (decay_steps,))
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name
        self._config = dict(initial_learning_rate=initial_learning_rate, decay_steps=decay_steps,
                            end_learning_rate=end_learning_rate, power=power, cycle=cycle,
                            name=name)

    def __call__(self, step):
        with name_scope(self.name or "PolynomialDecay"):
            lr = _as_float(self.initial_learning_rate)
            dtype = lr.dtype
            end = _as(self.end_learning_rate, dtype)
            step = _as(step, dtype)
            decay_steps = _as(self.decay_steps, dtype)
            if self.cycle:
                # ceil(x) as -floor(-x): the first multiple of decay_steps at or past step
                ceil = math_ops.negative(math_ops.floordiv(
                    math_ops.negative(math_ops.divide(step, _as(self.decay_steps, dtype))), 1))
                at_zero = comparison_ops.equal(step, _as(0, dtype))
                decay_steps = math_ops.multiply(
                    decay_steps, comparison_ops.where(at_zero, _as(1.0, dtype), ceil))
            else:
                step = comparison_ops.minimum(step, decay_steps)
            p = math_ops.divide(step, decay_steps)
            return math_ops.add(math_ops.multiply(math_ops.subtract(lr, end),
                                                  math_ops.pow(1 - p, _as(self.power, dtype))),
                                end)


class InverseTimeDecay(_StepDecay):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)`."""

    _default_name = "InverseTimeDecay"

    def _decayed(self, lr, rate, p):
        return math_ops.divide(lr, math_ops.add(_as(1, lr.dtype), math_ops.multiply(rate, p)))

"""TF1's learning-rate decay functions (`tf.train.exponential_decay`, ...).

Building a graph they return a tensor of `global_step`, recomputed at every Session.run. While
executing eagerly they return a function of no arguments, as TF1 does, which the optimizers call
once per apply, so the rate follows the step as it grows.
"""
import functools

from distflow.framework import context
from distflow.ops import dispatch, math_ops
from distflow.train import learning_rate_schedule as schedules


def _at(schedule, global_step):
    if global_step is None:
        raise ValueError("global_step is required for %s." % type(schedule).__name__)
    if context.executing_eagerly() and dispatch.graph_of([global_step]) is None:
        return functools.partial(schedule, global_step)
    return schedule(global_step)


def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False,
                      name=None):
    """learning_rate * decay_rate ** (global_step / decay_steps), the exponent floored when
    `staircase`."""
    return _at(schedules.ExponentialDecay(learning_rate, decay_steps, decay_rate, staircase, name),
               global_step)


def piecewise_constant(x, boundaries, values, name=None):
    """values[0] while x <= boundaries[0], values[i] while boundaries[i-1] < x <= boundaries[i],
    values[-1] once x > boundaries[-1]."""
    return _at(schedules.PiecewiseConstantDecay(boundaries, values, name), x)


def cosine_decay(learning_rate, global_step, decay_steps, alpha=0.0, name=None):
    """learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps))
    + alpha)."""
    return _at(schedules.CosineDecay(learning_rate, decay_steps, alpha, name), global_step)


def polynomial_decay(learning_rate, global_step, decay_steps, end_learning_rate=0.0001, power=1.0,
                     cycle=False, name=None):
    """(learning_rate - end_learning_rate) * (1 - min(step, decay_steps) / decay_steps) ** power
    + end_learning_rate; with `cycle`, decay_steps grows to the first multiple at or past step."""
    return _at(schedules.PolynomialDecay(learning_rate, decay_steps, end_learning_rate, power,
                                         cycle, name), global_step)


def inverse_time_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False,
                       name=None):
    """learning_rate / (1 + decay_rate * global_step / decay_steps), the quotient floored when
    `staircase`."""
    return _at(schedules.InverseTimeDecay(learning_rate, decay_steps, decay_rate, staircase,
                                          name), global_step)


def natural_exp_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False,
                      name=None):
    """learning_rate * exp(-decay_rate * global_step / decay_steps): TF1 builds it as
    exponential_decay with the rate exp(-decay_rate) (a float32 tensor for a Python number)."""
    rate = math_ops.exp(math_ops.negative(dispatch.convert_to_tensor(decay_rate)))
    return _at(schedules.ExponentialDecay(learning_rate, decay_steps, rate, staircase, name),
               global_step)

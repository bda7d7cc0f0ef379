"""Variable updates inside compiled plans: in place, except when a value read before would see it.

A df.function step updates the eager Variables it captures. Their arrays are shared with the
tensors read from them (reads do not copy), so an update may overwrite the array only while no
such tensor is alive (copy on write); otherwise the variable gets a new array.
"""
import numpy as np
import pytest

import distflow as df


def sgd_step_function():
    v = df.Variable(np.array([1.0, 2.0], np.float32))
    opt = df.optimizers.SGD(learning_rate=0.5)

    @df.function
    def step():
        with df.GradientTape() as tape:
            loss = df.reduce_sum(v * v)
        opt.apply_gradients([(tape.gradient(loss, v), v)])
        return loss
    return v, step


def test_a_value_read_before_the_step_keeps_its_value():
    v, step = sgd_step_function()
    before = v.read_value()  # shares v's array
    step()
    np.testing.assert_allclose(before.numpy(), [1.0, 2.0])   # unchanged
    np.testing.assert_allclose(v.numpy(), [0.0, 0.0])        # v -= 0.5 * 2v
    step()
    np.testing.assert_allclose(before.numpy(), [1.0, 2.0])


def test_without_live_reads_the_update_is_in_place():
    v, step = sgd_step_function()
    step()  # the first call traces and runs
    array = v.read_array()
    step()
    assert v.read_array() is array  # no copy of the variable per step
    held = v.read_value()
    step()
    assert v.read_array() is not array and held._value is array  # the held read forced a copy
    np.testing.assert_allclose(held.numpy(), [0.0, 0.0])


def test_eager_updates_copy_only_while_a_read_is_alive():
    v = df.Variable(np.array([1.0, 2.0], np.float32))
    opt = df.optimizers.SGD(learning_rate=0.5)
    held = v.read_value()
    opt.apply_gradients([(df.constant([2.0, 2.0]), v)])
    np.testing.assert_allclose(held.numpy(), [1.0, 2.0])  # the read kept its value
    np.testing.assert_allclose(v.numpy(), [0.0, 1.0])
    del held
    array = v.read_array()
    v.assign_add([1.0, 1.0])
    opt.apply_gradients([(df.constant([2.0, 2.0]), v)])
    assert v.read_array() is array  # nothing alive shares the array: updated in place
    np.testing.assert_allclose(v.numpy(), [0.0, 1.0])


def test_eager_update_with_a_wrong_gradient_shape_still_fails():
    v = df.Variable(np.ones((2, 3), np.float32))
    opt = df.optimizers.SGD(learning_rate=0.1)
    with pytest.raises(ValueError, match="shape"):
        opt.apply_gradients([(df.constant(np.ones(3, np.float32)), v)])  # would broadcast
    np.testing.assert_allclose(v.numpy(), np.ones((2, 3)))

"""The eager optimizer step over flat buffers (train/eager_flat.py): the same values, bit for bit,
as the per-variable updates, with copy on write and re-homing after assignments."""
import copy

import numpy as np
import pytest

import distflow as df
from distflow.train import eager_flat


def _model(seed=0):
    rng = np.random.default_rng(seed)
    sizes = [5, 8, 8, 1]
    vs = []
    for a, b in zip(sizes, sizes[1:]):
        vs += [df.Variable(rng.standard_normal((a, b)).astype(np.float32)),
               df.Variable(rng.standard_normal(b).astype(np.float32))]
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = rng.standard_normal((16, 1)).astype(np.float32)
    return vs, x, y


def _step(vs, x, y, opt):
    with df.GradientTape() as tape:
        h = x
        for k in range(0, len(vs), 2):
            h = df.matmul(h, vs[k]) + vs[k + 1]
            if k + 2 < len(vs):
                h = df.nn.relu(h)
        loss = df.reduce_mean(df.square(h - y))
    opt.apply_gradients(zip(tape.gradient(loss, vs), vs))


OPTIMIZERS = {
    "sgd": lambda: df.optimizers.SGD(0.05),
    "adam": lambda: df.optimizers.Adam(0.01),
    "amsgrad": lambda: df.optimizers.Adam(0.01, amsgrad=True),
    "tf1_sgd": lambda: df.compat.v1.train.GradientDescentOptimizer(0.05),
}


def _train(name, flat, monkeypatch):
    monkeypatch.setattr(eager_flat, "enabled", flat)
    vs, x, y = _model()
    opt = OPTIMIZERS[name]()
    held = []
    for i in range(12):
        if i == 4:
            held.append((vs[0].read_value(), vs[0].numpy()))  # alive across updates
        if i == 7:
            vs[1].assign(vs[1].numpy() * 0.5)  # a new array: homed again
        _step(vs, x, y, opt)
    for t, value in held:  # copy on write: the read kept the value it had
        np.testing.assert_array_equal(t.numpy(), value)
    slots = [s.numpy() for s in opt.variables()] if hasattr(opt, "variables") else []
    return [v.numpy() for v in vs], slots, vs


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_flat_step_matches_per_variable_updates_bit_for_bit(name, monkeypatch):
    flat_vars, flat_slots, vs = _train(name, True, monkeypatch)
    ref_vars, ref_slots, _ = _train(name, False, monkeypatch)
    for a, b in zip(flat_vars + flat_slots, ref_vars + ref_slots):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    # the flat path served: every variable's array is a view of one buffer
    bases = {id(v.read_array().base) for v in vs}
    assert len(bases) == 1 and vs[0].read_array().base is not None


def test_adam_eager_alpha_is_the_ops_value(monkeypatch):
    for dtype in (np.float32, np.float64, np.float16):
        var = df.Variable(np.zeros(3, dtype))
        opt = df.optimizers.Adam(learning_rate=3e-3, beta_1=0.85, beta_2=0.995)
        for t in (0, 1, 2, 7, 99, 1000):
            opt.iterations.assign(t)
            opt._prepare()
            fast = opt._eager_alpha(var)
            ops = opt._alpha(var)._value
            assert fast.dtype == ops.dtype == dtype
            assert fast.tobytes() == np.asarray(ops).tobytes(), (dtype, t)


def test_a_copy_with_slots_of_its_own_does_not_update_the_originals_slots():
    # Horovod's Keras wrapper is such a copy: a shallow copy whose slot dictionary is new
    vs, x, y = _model()
    opt = df.optimizers.Adam(0.01)
    _step(vs, x, y, opt)
    before = [s.numpy() for s in opt.variables()]
    other = copy.copy(opt)
    other._slots, other._non_slots, other._eager_numbers = {}, {}, {}
    other._iterations = None
    _step(vs, x, y, other)
    for s, b in zip(opt.variables(), before):
        np.testing.assert_array_equal(s.numpy(), b)
    assert all(np.any(s.numpy() != 0) for s in other.variables() if s.name.endswith("m:0"))


def _odd_gradient_step(flat, monkeypatch):
    monkeypatch.setattr(eager_flat, "enabled", flat)
    vs, x, y = _model()
    opt = df.optimizers.SGD(0.1)
    _step(vs, x, y, opt)  # homed, when flat
    grads = [df.constant(np.full(v.shape.as_list(), 0.5, np.float32)) for v in vs]
    grads[2] = df.constant(np.full(vs[2].shape.as_list(), 0.25, np.float64))
    opt.apply_gradients(zip(grads, vs))
    return [v.numpy() for v in vs]


def test_a_gradient_of_another_dtype_takes_the_per_variable_path(monkeypatch):
    for a, b in zip(_odd_gradient_step(True, monkeypatch), _odd_gradient_step(False, monkeypatch)):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_array_equal(a, b)


def test_a_new_variable_list_gets_its_slots_and_its_own_flat_group():
    vs, x, y = _model()
    opt = df.optimizers.Adam(0.01)
    grads = [df.constant(np.full(v.shape.as_list(), 0.5, np.float32)) for v in vs]
    opt.apply_gradients(zip(grads[:2], vs[:2]))  # the first layer only
    assert opt.get_slot(vs[2], "m") is None
    opt.apply_gradients(zip(grads, vs))          # the whole model: slots made for the rest
    assert all(opt.get_slot(v, "m") is not None for v in vs)
    # later steps update every variable, now all in one flat group
    first = vs[2].numpy()
    opt.apply_gradients(zip(grads, vs))
    assert np.all(np.abs(vs[2].numpy() - first) > 0)
    assert {id(v.read_array().base) for v in vs} == {id(vs[0].read_array().base)}

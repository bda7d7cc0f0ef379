"""df.Module finds its variables and sub-modules as tf.Module does (order and names checked
against TF 2.21 by scripts/tf_parity/cases_module.py), and eager name scopes name variables."""
import numpy as np
import pytest

import distflow as df


class Dense(df.Module):
    def __init__(self, n_in, n_out, name=None):
        super().__init__(name=name)
        self.w = df.Variable(np.ones((n_in, n_out), np.float32), name="w")
        self.b = df.Variable(np.zeros(n_out, np.float32), name="b")

    def __call__(self, x):
        return df.matmul(x, self.w) + self.b


class MLP(df.Module):
    def __init__(self):
        super().__init__()
        self.layers = [Dense(3, 4, name="first"), Dense(4, 1)]
        self.step = df.Variable(0, trainable=False)

    @df.Module.with_name_scope
    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def test_variables_come_in_tfs_order_own_leaves_first_then_sub_modules():
    m = MLP()
    assert (m.name, m.name_scope.name) == ("mlp", "mlp/")
    assert [s.name for s in m.submodules] == ["first", "dense"]
    assert [v.name for v in m.variables] == ["Variable:0", "b:0", "w:0", "b:0", "w:0"]
    assert [v.name for v in m.trainable_variables] == ["b:0", "w:0", "b:0", "w:0"]
    assert m.non_trainable_variables == (m.step,)


def test_a_module_trains_with_a_tape_and_an_optimizer():
    m = MLP()
    x = np.ones((2, 3), np.float32)
    opt = df.optimizers.SGD(0.01)
    with df.GradientTape() as tape:
        loss = df.reduce_mean(df.square(m(x) - 1.0))
    grads = tape.gradient(loss, m.trainable_variables)
    assert all(g is not None for g in grads)
    opt.apply_gradients(zip(grads, m.trainable_variables))
    with df.GradientTape() as tape:
        assert float(df.reduce_mean(df.square(m(x) - 1.0))) < float(loss)


def test_name_scopes_name_eager_variables_as_in_tf2():
    with df.name_scope("outer"):
        inner = Dense(1, 1)
        with df.name_scope("deeper"):
            v = df.Variable(1.0)
    assert inner.w.name == "outer/w:0" and inner.name_scope.name == "outer/dense/"
    assert v.name == "outer/deeper/Variable:0" and df.Variable(1.0).name == "Variable:0"


def test_module_names_must_be_identifiers():
    with pytest.raises(ValueError, match="not a valid module name"):
        Dense(1, 1, name="not valid")


def test_a_method_that_reenters_its_modules_scope_keeps_it():
    class Recursive(df.Module):
        @df.Module.with_name_scope
        def build(self, n):
            if n:
                self.build(n - 1)
            setattr(self, "v%d" % n, df.Variable(1.0, name="v%d" % n))

    m = Recursive(name="m")
    m.build(1)
    assert (m.v0.name, m.v1.name) == ("m/v0:0", "m/v1:0")  # TF 2.21's names


def test_an_error_inside_an_eager_name_scope_leaves_no_scope_behind():
    with pytest.raises(RuntimeError):
        with df.name_scope("broken"):
            raise RuntimeError("inside")
    assert df.Variable(1.0).name == "Variable:0"

"""tf.saved_model.save / load of a df.Module with df.function signatures, in distflow's own
directory format: the loaded functions compute what the saved ones did, without the class."""
import os

import numpy as np
import pytest

import distflow as tf


class Affine(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2) / 6, name="w")
        self.b = tf.Variable(np.array([0.5, -4.0], np.float32), name="b")

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def __call__(self, x):
        return tf.nn.relu(tf.matmul(x, self.w) + self.b)

    @tf.function(input_signature=[tf.TensorSpec([], tf.float32)])
    def scale_bias(self, s):
        self.b.assign(self.b * s)
        return {"bias": self.b.read_value(), "norm": tf.reduce_sum(tf.abs(self.b))}


def test_round_trip_without_the_class(tmp_path):
    module = Affine()
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    export = str(tmp_path / "affine")
    tf.saved_model.save(module, export)
    assert sorted(os.listdir(export)) == ["saved_model.json", "variables.npz"]
    loaded = tf.saved_model.load(export)
    np.testing.assert_array_equal(loaded(x).numpy(), module(x).numpy())
    out = loaded.signatures["serving_default"](x=x)
    np.testing.assert_array_equal(out["output_0"].numpy(), module(x).numpy())
    assert [v.name for v in loaded.variables] == ["w:0", "b:0"]
    # the loaded functions share the loaded variables: an update in one shows in the other
    res = loaded.scale_bias(2.0)
    np.testing.assert_array_equal(res["bias"].numpy(), [1.0, -8.0])
    assert float(res["norm"].numpy()) == 9.0
    want = np.maximum(x @ module.w.numpy() + np.array([1.0, -8.0]), 0)
    np.testing.assert_allclose(loaded(x).numpy(), want, rtol=1e-6)
    np.testing.assert_array_equal(module.b.numpy(), [0.5, -4.0])  # the original is untouched
    loaded.variables[0].assign(np.zeros((3, 2), np.float32))
    np.testing.assert_array_equal(loaded(x).numpy(), np.maximum(np.array([[1.0, -8.0]]), 0)
                                  .repeat(5, 0))


def test_refusals(tmp_path):
    class NoSignature(tf.Module):
        @tf.function
        def f(self, x):
            return x

    with pytest.raises(ValueError, match="no df.function with an input_signature"):
        tf.saved_model.save(NoSignature(), str(tmp_path / "none"))

    class WithCond(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.float32)])
        def f(self, x):
            return tf.cond(x > 0, lambda: x * 2, lambda: x)

    with pytest.raises(NotImplementedError, match="cond / while_loop"):
        tf.saved_model.save(WithCond(), str(tmp_path / "cond"))
    assert not os.path.exists(str(tmp_path / "cond"))
    with pytest.raises(OSError, match="SavedModel file does not exist"):
        tf.saved_model.load(str(tmp_path / "missing"))


def test_the_export_directory_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        export = str(tmp_path / "affine")
        tf.saved_model.save(Affine(), export)
    finally:
        os.umask(old)
    assert os.stat(export).st_mode & 0o777 == 0o755   # not mkdtemp's 0700
    assert os.stat(os.path.join(export, "variables.npz")).st_mode & 0o777 == 0o644


class MyModule(tf.Module):
    def __init__(self, value):
        self.weight = tf.Variable(value)

    @tf.function
    def multiply(self, x):
        return x * self.weight


def test_traced_functions_without_a_signature_are_saved(tmp_path):
    """guide/basics: a df.function without input_signature, called once, saves its trace; the
    loaded one runs the trace the call's tensors fit and refuses others with the options."""
    mod = MyModule(3)
    mod.multiply(tf.constant([1, 2, 3]))
    mod.multiply(tf.constant([[1, 2], [3, 4]]))    # a second trace: another shape
    save_path = str(tmp_path / "saved")
    tf.saved_model.save(mod, save_path)
    reloaded = tf.saved_model.load(save_path)
    out = reloaded.multiply(tf.constant([1, 2, 3]))
    assert out.dtype == tf.int32
    np.testing.assert_array_equal(out.numpy(), [3, 6, 9])
    np.testing.assert_array_equal(reloaded.multiply(tf.constant([4, 5, 6])).numpy(), [12, 15, 18])
    np.testing.assert_array_equal(reloaded.multiply(tf.constant([[1, 0], [0, 1]])).numpy(),
                                  [[3, 0], [0, 3]])
    reloaded.variables[0].assign(2)   # the loaded trace reads the loaded variable
    np.testing.assert_array_equal(reloaded.multiply(x=tf.constant([1, 2, 3])).numpy(), [2, 4, 6])
    with pytest.raises(ValueError, match=r"(?s)Could not find matching concrete function.*2 option"):
        reloaded.multiply(tf.constant([1.0, 2.0]))     # float32 of shape (2,): traced for neither
    with pytest.raises(ValueError, match="no df.function with an input_signature or a trace"):
        tf.saved_model.save(MyModule(1), str(tmp_path / "never_called"))

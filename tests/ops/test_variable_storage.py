"""The variable-storage protocol (ops/state_ops.VariableStorage): a Session's Cell and an eager
Variable are the only holders of a variable's array, and every other module reaches the array
through read_array / assign_array / array_is_private (or variables.read_values / write_values)."""
import ast
import pathlib

import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf
from distflow.ops import variables
from distflow.ops.state_ops import Cell, VariableStorage

ROOT = pathlib.Path(df.__file__).parent
# The storage attribute's only owners: state_ops.py (VariableStorage, Cell) and variables.py
# (EagerVariable). Every other module goes through the protocol's methods.
STORAGE_MODULES = {"ops/state_ops.py", "ops/variables.py"}


def _storage_touches(path):
    """(line, text) of each use of the storage attribute `_array` in one module: `x._array` or
    getattr/setattr/hasattr(x, "_array")."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr == "_array":
            found.append(node.lineno)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in (
                "getattr", "setattr", "hasattr") and len(node.args) > 1 \
                and isinstance(node.args[1], ast.Constant) and node.args[1].value == "_array":
            found.append(node.lineno)
    return found


def test_only_the_storage_classes_touch_a_variables_array():
    outside = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        lines = _storage_touches(path)
        if lines and rel not in STORAGE_MODULES:
            outside[rel] = lines
    assert outside == {}, "use read_array / assign_array (VariableStorage) instead: %s" % outside
    # the check sees what it looks for
    assert _storage_touches(ROOT / "ops/state_ops.py")


def test_the_checker_finds_a_direct_touch(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f(cell, v):\n    cell._array = 1\n    return getattr(v, '_array')\n")
    assert _storage_touches(bad) == [2, 3]


def test_cell_and_eager_variable_implement_the_protocol():
    cell = Cell("v")
    assert isinstance(cell, VariableStorage) and cell.read_array() is None
    a = np.ones(3, np.float32)
    cell.assign_array(a)
    assert cell.read_array() is a and cell.array_is_private() and not cell.shares_reads

    v = df.Variable([1.0, 2.0])
    assert isinstance(v, VariableStorage) and v.shares_reads
    held = v.read_value()
    assert not v.array_is_private()  # a live read shares the array: no in-place update
    del held
    assert v.array_is_private()
    v.assign_array(np.array([3.0, 4.0]))  # cast to the variable's dtype
    assert v.read_array().dtype == np.float32
    np.testing.assert_array_equal(v.numpy(), [3.0, 4.0])
    with pytest.raises(ValueError, match="shape"):
        v.assign_array(np.zeros(3, np.float32))


def test_a_storage_class_must_define_all_three_calls():
    with pytest.raises(TypeError, match="array_is_private"):
        class Half(VariableStorage):  # noqa: F841
            def read_array(self):
                return None

            def assign_array(self, value):
                pass


def test_no_variable_grows_a_value_attribute_through_training_and_saving(tmp_path):
    """An eager Variable has a __dict__: a module still writing `var._value` would add a stale
    second copy silently. Eager steps, a df.function step, a Saver restore and write_values all
    leave only the storage attribute."""
    w, b = df.Variable(np.ones((3, 1), np.float32)), df.Variable(np.zeros(1, np.float32))
    opt = df.keras.optimizers.Adam(0.1)
    x, y = df.constant(np.ones((4, 3), np.float32)), df.constant(np.zeros((4, 1), np.float32))

    def step():
        with df.GradientTape() as tape:
            loss = df.reduce_mean(df.square(df.matmul(x, w) + b - y))
        opt.apply_gradients(zip(tape.gradient(loss, [w, b]), [w, b]))
        return loss

    step()
    df.function(step)()
    variables.write_values([w, b], [np.full((3, 1), 2.0, np.float32), np.ones(1, np.float32)])
    np.testing.assert_array_equal(variables.read_values([w, b])[1], [1.0])
    everything = [w, b] + list(opt.variables())
    for v in everything:
        assert "_value" not in vars(v), v.name

    g = tf.Graph()
    with g.as_default():
        gv = tf.Variable(np.arange(3, dtype=np.float32))
        saver = tf.train.Saver([gv])
        with tf.Session(graph=g) as sess:
            sess.run(gv.initializer)
            path = saver.save(sess, str(tmp_path / "ckpt"))
            variables.write_values([gv], [np.zeros(3, np.float32)], sess)
            np.testing.assert_array_equal(sess.run(gv), [0.0, 0.0, 0.0])
            saver.restore(sess, path)
            np.testing.assert_array_equal(variables.read_values([gv], sess)[0], [0.0, 1.0, 2.0])
            assert not hasattr(sess.variable_cell(gv.op), "_value")

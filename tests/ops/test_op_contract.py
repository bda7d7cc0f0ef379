"""Every registered op's declared fields are consistent, and the executors act on them: an op
with effects is never pruned, folded or reordered away, and a host input never moves to a GPU."""
import types

import numpy as np
import pytest

import distflow as df
import distflow.horovod  # noqa: F401  (registers its ops)
import distflow.summary  # noqa: F401
from distflow.backend import gpu
from distflow.client import specialize
from distflow.ops import func_graph
from distflow.function import side_effect_ops
from distflow.ops.registry import REGISTRY
from tests.op_check import contract_problems

ALL = sorted(REGISTRY.values(), key=lambda d: d.name)


@pytest.mark.parametrize("opdef", ALL, ids=lambda d: d.name)
def test_declared_fields_agree(opdef):
    assert contract_problems(opdef) == []


def test_the_fields_of_known_ops():
    assert {"print"} <= REGISTRY["PrintV2"].effects and {"host"} <= REGISTRY["PyFunc"].effects
    assert REGISTRY["Assign"].initializes and "state" in REGISTRY["AssignAdd"].effects
    assert REGISTRY["Reshape"].host_inputs == (1,) and not REGISTRY["MatMul"].host_inputs
    assert "collective" in REGISTRY["HorovodAllreduce"].effects
    assert "Assert" not in REGISTRY  # the side-effect table once named it


def _fake_graph():
    """A graph holding one stand-in op per registered op: what the pruning rules read."""
    g = types.SimpleNamespace(_ops=[types.SimpleNamespace(opdef=d, type=d.name, attrs={},
                                                          inputs=(), outputs=(),
                                                          control_inputs=[]) for d in ALL])
    return g


def test_ops_with_effects_are_kept_by_function_and_branch_pruning():
    g = _fake_graph()
    kept = {op.type for op in side_effect_ops(g)}
    branch = func_graph.Branch(g, [], [])
    kept_in_branch = {op.type for op in branch.fetches}
    for d in ALL:
        if d.runs_unread:
            assert d.name in kept_in_branch, d.name
            assert d.ref_inputs or d.name in kept, d.name  # updates are ordered separately
        else:
            assert d.name not in kept and d.name not in kept_in_branch, d.name
        # an op with any effect makes a cond or loop over it stateful (If, While)
        assert func_graph.is_stateful(types.SimpleNamespace(_ops=[g._ops[ALL.index(d)]])) \
            == bool(d.effects), d.name
        # a plan never folds or drops it as dead
        if d.effects:
            assert not specialize._is_pure(d), d.name


def test_an_unread_py_function_and_print_run_in_a_function_but_an_unread_random_op_does_not():
    calls = []

    def record(x):
        calls.append(float(x))
        return x

    @df.function
    def f(x):
        df.numpy_function(record, [x], df.float32)
        df.random.uniform([2])
        return x * 2.0

    assert float(f(df.constant(3.0))) == 6.0
    assert calls == [3.0]
    graph = f.get_concrete_function(df.constant(3.0)).graph
    assert not any("random" in op.opdef.effects for op in side_effect_ops(graph))


class _FakeXP:
    def __init__(self):
        self.moved = []

    def asarray(self, a):
        self.moved.append(a)
        return ("device", a)


@pytest.mark.parametrize("opdef", [d for d in ALL if d.host_inputs], ids=lambda d: d.name)
def test_a_host_input_stays_on_the_host_in_a_gpu_op(opdef):
    n = max(max(i + 1 for i in opdef.host_inputs if i >= 0), 2) if any(
        i >= 0 for i in opdef.host_inputs) else 3
    arrays = [np.array([2, 3], np.int32) for _ in range(n)]
    out = gpu.device_args(_FakeXP(), arrays, opdef.host_inputs)
    host = {i % n for i in opdef.host_inputs}
    for i, (a, b) in enumerate(zip(arrays, out)):
        assert (b is a) == (i in host), (opdef.name, i)


def test_a_gpu_plan_and_eager_dispatch_read_host_inputs_from_the_op(monkeypatch):
    """Both executors pass the OpDef's field to the placement rule (no table of names)."""
    seen = []
    real = gpu.device_args

    def spy(xp, arrays, host_inputs=()):
        seen.append(host_inputs)
        return [np.asarray(a) for a in arrays]

    monkeypatch.setattr(gpu, "device_args", spy)
    run = gpu.device_kernel(REGISTRY["Reshape"].forward, np, {}, REGISTRY["Reshape"].host_inputs)
    monkeypatch.setattr(gpu, "on_device", lambda arrays: True)
    assert run(np.ones(6, np.float32), np.array([2, 3], np.int32)).shape == (2, 3)
    assert seen == [(1,)]
    monkeypatch.setattr(gpu, "device_args", real)


# -- the one in-place (copy-on-write) rule -------------------------------------------------------
def test_the_in_place_rule():
    from distflow.ops.registry import may_update_in_place
    add = REGISTRY["AssignAdd"]
    a = np.zeros(3, np.float32)
    from distflow.ops.state_ops import Cell
    shared = types.SimpleNamespace(shares_reads=True, array_is_private=lambda: False)
    private = types.SimpleNamespace(shares_reads=True, array_is_private=lambda: True)
    cell = Cell("v")  # a Session's storage: never shared
    assert may_update_in_place(add, [cell], [a]) and may_update_in_place(add, [private], [a])
    assert not may_update_in_place(add, [shared], [a])
    assert not may_update_in_place(add, [cell], [None])  # uninitialized: the functional form
    assert not may_update_in_place(REGISTRY["MatMul"], [cell], [a])  # no in-place form
    assert may_update_in_place(add, [cell], [a], [np.float32(1)])  # a scalar broadcasts
    assert not may_update_in_place(add, [cell], [a], [np.ones(2, np.float32)])  # another shape
    assert not may_update_in_place(add, [cell], [a], [np.ones(3, np.float64)])  # another dtype


@pytest.mark.parametrize("path", ["dispatch", "optimizer", "function"])
def test_a_live_read_keeps_its_value_whichever_executor_updates(path):
    v = df.Variable([1.0, 2.0])
    before = v.read_value()
    if path == "dispatch":
        v.assign_add([1.0, 1.0])
    elif path == "optimizer":
        df.keras.optimizers.SGD(1.0).apply_gradients([(df.constant([1.0, 1.0]), v)])
    else:
        df.function(lambda: v.assign_add([1.0, 1.0]))()
    np.testing.assert_array_equal(before.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(v.numpy(), [2.0, 3.0] if path != "optimizer" else [0.0, 1.0])
    after = v.numpy().copy()
    del before
    v.assign_add([1.0, 1.0])  # no read alive: may update in place
    np.testing.assert_array_equal(v.numpy(), after + 1.0)

"""df.function: tracing and retracing, input signatures, variables, outputs, and equal results with
and without it (the whole op table run both ways)."""
import glob
import importlib
import inspect
import os
import sys

import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf1


def counting(fn, **kwargs):
    """df.function(fn) and the list of its traces: a Python side effect runs while tracing only."""
    traces = []

    def body(*args, **kw):
        traces.append(1)
        return fn(*args, **kw)
    body.__signature__ = inspect.signature(fn)   # df.function binds arguments by fn's names
    return df.function(body, **kwargs), traces


# -- tracing and retracing ------------------------------------------------------------------
def test_traces_once_per_input_dtype_shape_and_python_value():
    f, traces = counting(lambda x, scale=2: x * scale + 1)
    np.testing.assert_allclose(f(df.constant([1.0, 2.0])).numpy(), [3.0, 5.0])
    f(df.constant([5.0, 6.0]))                  # same dtype and shape: the same graph
    f(np.array([7.0, 8.0], np.float32))         # a NumPy array is a tensor input too
    assert len(traces) == 1
    f(df.constant([1.0, 2.0, 3.0]))             # new shape
    assert len(traces) == 2
    r = f(df.constant([1.0, 2.0], dtype=df.float64))   # new dtype
    assert len(traces) == 3 and r.dtype == df.float64
    np.testing.assert_allclose(f(df.constant([1.0, 2.0]), 3).numpy(), [4.0, 7.0])  # Python value
    assert len(traces) == 4
    f(df.constant([9.0, 9.0]), 3)
    f(df.constant([9.0, 9.0]), scale=3)         # the same call, spelled differently
    assert len(traces) == 4
    assert f.experimental_get_tracing_count() == 4


def test_python_side_effects_happen_only_while_tracing():
    printed = []

    @df.function
    def f(x):
        printed.append("tracing")
        return x + 1
    for i in range(5):
        assert float(f(df.constant(float(i)))) == i + 1
    assert printed == ["tracing"]


def test_python_structures_are_part_of_the_key():
    f, traces = counting(lambda xs, opts: xs[0] * opts["k"] + xs[1])
    out = f([df.constant(1.0), df.constant(2.0)], {"k": 10.0})
    assert float(out) == 12.0
    f([df.constant(3.0), df.constant(4.0)], {"k": 10.0})
    assert len(traces) == 1
    assert float(f([df.constant(3.0), df.constant(4.0)], {"k": 1.0})) == 7.0
    assert len(traces) == 2


def test_reduce_retracing_relaxes_shapes_after_the_second_shape():
    f, traces = counting(lambda x: df.reduce_sum(x), reduce_retracing=True)
    for n in range(2, 8):
        assert float(f(df.ones([n]))) == n
    assert len(traces) == 2
    general = f.get_concrete_function(df.ones([20]))
    assert general.inputs[0].shape.as_list() == [None]
    f(df.ones([2, 2]))                          # a new rank: traced again
    assert len(traces) == 3


def test_a_general_concrete_function_serves_later_calls():
    f, traces = counting(lambda x: x * 2.0)
    concrete = f.get_concrete_function(df.TensorSpec([None], df.float32))
    assert concrete.inputs[0].shape.as_list() == [None]
    np.testing.assert_allclose(f(df.constant([1.0, 2.0, 3.0])).numpy(), [2.0, 4.0, 6.0])
    f(df.constant([1.0]))
    assert len(traces) == 1


# -- input signatures -----------------------------------------------------------------------
def test_input_signature_fixes_one_trace():
    f, traces = counting(lambda x: df.reduce_sum(x, axis=1),
                         input_signature=[df.TensorSpec([None, 13], df.float32)])
    for n in (1, 5, 64):
        np.testing.assert_allclose(f(np.ones((n, 13))).numpy(), np.full(n, 13.0))
    assert len(traces) == 1
    out = f(np.ones((2, 13)))                   # float64 NumPy converted to the spec's float32
    assert out.dtype == df.float32
    assert f.get_concrete_function().inputs[0].shape.as_list() == [None, 13]


@pytest.mark.parametrize("bad, what", [
    (np.ones((4, 12), np.float32), "shape \\(4, 12\\)"),
    (np.ones(13, np.float32), "shape \\(13,\\)"),
    (df.ones([2, 13], dtype=df.int32), "int32"),
    ([[1.5, "a"]], "cannot be converted"),
])
def test_input_signature_rejects_incompatible_inputs(bad, what):
    @df.function(input_signature=[df.TensorSpec([None, 13], df.float32)])
    def f(features):
        return features
    with pytest.raises(ValueError, match="Python inputs incompatible with input_signature") as e:
        f(bad)
    assert "Argument 'features'" in str(e.value)
    assert e.match(what)
    assert "TensorSpec(shape=(None, 13), dtype=tf.float32, name=None)" in str(e.value)


def test_input_signature_with_nested_specs():
    @df.function(input_signature=[(df.TensorSpec([2]), df.TensorSpec([], df.int32))])
    def f(pair):
        x, n = pair
        return x * df.cast(n, df.float32)
    np.testing.assert_allclose(f(([1.0, 2.0], 3)).numpy(), [3.0, 6.0])


def test_tensor_spec():
    s = df.TensorSpec([None, 13], df.float32)
    assert repr(s) == "TensorSpec(shape=(None, 13), dtype=tf.float32, name=None)"
    assert s.is_compatible_with(df.ones([5, 13]))
    assert not s.is_compatible_with(df.ones([5, 12]))
    assert not s.is_compatible_with(df.ones([5, 13], dtype=df.float64))
    assert s == df.TensorSpec([None, 13]) and hash(s) == hash(df.TensorSpec([None, 13]))
    assert df.TensorSpec.from_tensor(df.ones([2])) == df.TensorSpec([2])


# -- variables ------------------------------------------------------------------------------
def test_updates_inside_change_the_eager_variable_in_program_order():
    v = df.Variable(1.0)

    @df.function
    def f(x):
        before = v * 1.0
        v.assign(x)
        middle = v * 1.0
        v.assign_add(10.0)
        v.assign_sub(1.0)                       # run although nothing returned depends on it
        return before, middle

    before, middle = f(df.constant(5.0))
    assert (float(before), float(middle), float(v.numpy())) == (1.0, 5.0, 14.0)
    before, middle = f(df.constant(2.0))
    assert (float(before), float(middle), float(v.numpy())) == (14.0, 2.0, 11.0)


def test_returning_a_variable_gives_its_final_value_and_snapshots_stay():
    v = df.Variable([1.0, 2.0])

    @df.function
    def f():
        v.assign_add([1.0, 1.0])
        return v
    snapshot = v.read_value()
    out = f()
    np.testing.assert_array_equal(out.numpy(), [2.0, 3.0])
    np.testing.assert_array_equal(snapshot.numpy(), [1.0, 2.0])   # read before: unchanged
    f()
    np.testing.assert_array_equal(out.numpy(), [2.0, 3.0])        # outputs are values, not views
    np.testing.assert_array_equal(v.numpy(), [3.0, 4.0])


def test_variables_created_on_the_first_trace_persist():
    class Counter:
        def __init__(self):
            self.count = None

        @df.function
        def __call__(self, x):
            if self.count is None:
                self.count = df.Variable(df.zeros([]))   # created while tracing, once
            self.count.assign_add(1.0)
            return x + self.count

    c = Counter()
    assert float(c(df.constant(0.0))) == 1.0
    assert float(c(df.constant(0.0))) == 2.0
    assert float(c(df.constant([0.0, 0.0]))[1]) == 3.0   # retraced: no new variable, fine
    assert isinstance(c.count, df.Variable) and float(c.count.numpy()) == 3.0
    other = Counter()                                    # each instance has its own traces
    assert float(other(df.constant(0.0))) == 1.0


def test_creating_variables_on_every_call_raises_at_the_first_call():
    # TF traces a function that created variables a second time, and refuses a second creation
    @df.function
    def f(x):
        return x + df.Variable(1.0)
    with pytest.raises(ValueError, match="only supports singleton tf.Variables created on the "
                                         "first call"):
        f(df.constant(1.0))


def test_creating_variables_once_then_reusing_them_is_allowed():
    class Count(df.Module):
        def __init__(self):
            self.count = None

        @df.function
        def __call__(self):
            if self.count is None:
                self.count = df.Variable(0)
            return self.count.assign_add(1)

    c = Count()
    assert int(c()) == 1 and int(c()) == 2


def test_a_tape_training_step_updates_the_model_and_runs_the_plan():
    w = df.Variable([[0.0], [0.0]])
    opt = df.train.GradientDescentOptimizer(0.5)
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32)
    y = np.array([[1.0], [2.0], [3.0]], np.float32)

    def step(x, y):
        with df.GradientTape() as tape:
            loss = df.reduce_mean(df.square(df.matmul(x, w) - y))
        grads = tape.gradient(loss, [w])
        opt.apply_gradients(zip(grads, [w]))
        return loss

    fast, traces = counting(step)
    w_np = np.zeros((2, 1), np.float32)
    for _ in range(3):
        loss = fast(x, y)
        r = x @ w_np - y
        assert float(loss) == pytest.approx(float(np.mean(r ** 2)), rel=1e-6)
        w_np = w_np - 0.5 * (2 * x.T @ r / len(x))
        np.testing.assert_allclose(w.numpy(), w_np, rtol=1e-6)
    assert len(traces) == 1
    ops = {op.type for op in fast.get_concrete_function(x, y).graph.get_operations()}
    assert {"CapturedVariable", "ApplyGradientDescent", "MatMul"} <= ops


# -- outputs --------------------------------------------------------------------------------
def test_outputs_keep_their_nesting_as_eager_tensors():
    @df.function
    def f(x):
        return {"sum": df.reduce_sum(x), "pair": (x * 2.0, [None, 7])}
    out = f(df.constant([1.0, 2.0]))
    assert set(out) == {"sum", "pair"} and isinstance(out["pair"], tuple)
    assert isinstance(out["sum"], df.EagerTensor) and float(out["sum"]) == 3.0
    np.testing.assert_array_equal(out["pair"][0].numpy(), [2.0, 4.0])
    assert out["pair"][1][0] is None
    assert isinstance(out["pair"][1][1], df.EagerTensor) and int(out["pair"][1][1]) == 7


def test_returning_an_input_gives_its_value():
    @df.function
    def f(x, y):
        return y, x
    a, b = f(df.constant(1.0), df.constant([2, 3]))
    assert float(b) == 1.0 and b.dtype == df.float32
    np.testing.assert_array_equal(a.numpy(), [2, 3])


def test_a_function_called_inside_another_is_part_of_its_graph():
    inner, inner_traces = counting(lambda x: x * x)
    outer, outer_traces = counting(lambda x: inner(x) + inner(x + 1.0))
    assert float(outer(df.constant(2.0))) == 4.0 + 9.0
    outer(df.constant(3.0))
    assert len(outer_traces) == 1 and len(inner_traces) == 2   # inlined, twice, once


def test_a_function_called_while_building_a_tf1_graph_adds_to_it():
    @df.function
    def f(x):
        return x * 3.0
    g = tf1.Graph()
    with g.as_default():
        p = tf1.placeholder(tf1.float32, [2])
        y = f(p)
        assert isinstance(y, tf1.Tensor) and y.graph is g
        with tf1.Session(graph=g) as sess:
            np.testing.assert_allclose(sess.run(y, {p: [1.0, 2.0]}), [3.0, 6.0])


def test_concrete_function_call_checks_its_inputs():
    f = df.function(lambda x: x + 1.0)
    concrete = f.get_concrete_function(df.TensorSpec([None, 2]))
    np.testing.assert_allclose(concrete(np.ones((3, 2), np.float32)).numpy(), np.full((3, 2), 2.0))
    with pytest.raises(ValueError, match="shape"):
        concrete(df.ones([3, 3]))
    with pytest.raises(TypeError, match="takes 1 tensor"):
        concrete(df.ones([3, 2]), df.ones([3, 2]))


def test_errors_at_run_time_name_the_node():
    @df.function
    def f(x, shape):
        return df.reshape(x, shape)
    with pytest.raises(df.errors.InvalidArgumentError, match="Reshape"):
        f(df.ones([6]), df.constant([4, 2]))


# -- equal results with and without df.function: the whole op table ----------------------------
def _op_table_cases():
    """The CASES of every op-table module in tests/ops (imported by name, as pytest does)."""
    ops_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ops")
    if ops_dir not in sys.path:
        sys.path.insert(0, ops_dir)
    cases = []
    for path in sorted(glob.glob(os.path.join(ops_dir, "test_*.py"))):
        module = importlib.import_module(os.path.basename(path)[:-3])
        cases.extend(getattr(module, "CASES", []))
    return cases


CASES = _op_table_cases()


def _stateful(case):
    from op_check import ops_built
    from distflow.ops.registry import REGISTRY
    return any(REGISTRY[t].kernel is not None and t != "Placeholder" for t in ops_built(case)
               if t in REGISTRY)


def test_the_op_table_is_found():
    assert len(CASES) > 50


@pytest.mark.parametrize("case", [c for c in CASES if not _stateful(c)], ids=repr)
def test_op_table_case_gives_the_same_values_and_gradients_under_df_function(case):
    from op_check import as_tuple, float_inputs

    def values_and_grads(*xs):
        srcs = [xs[i] for i in float_inputs(case)] if case.grad else []
        with df.GradientTape() as tape:
            tape.watch(srcs)
            outs = as_tuple(case.fn(*xs))
            floats = [df.reduce_sum(o) for o in outs if o.dtype.is_floating]
        grads = tape.gradient(floats, srcs) if srcs and floats else []
        return list(outs), grads

    eager_out, eager_grads = values_and_grads(*[df.constant(a) for a in case.inputs])
    graph_out, graph_grads = df.function(values_and_grads)(*case.inputs)
    for e, g in zip(eager_out, graph_out):
        assert e.dtype == g.dtype and e.shape.as_list() == g.shape.as_list(), case.name
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-6, atol=1e-7, err_msg=case.name)
    for e, g in zip(eager_grads, graph_grads):
        assert (e is None) == (g is None), case.name
        if e is not None:
            np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-6, atol=1e-7,
                                       err_msg=case.name + " gradient")


def test_a_variable_initial_value_may_not_depend_on_the_arguments():
    @df.function
    def f(x):
        return df.Variable(x * 2.0) * 1.0
    with pytest.raises(ValueError, match="cannot depend on the function's arguments"):
        f(df.constant(1.0))


def test_python_control_flow_on_a_tensor_value_is_converted_unless_autograph_is_off():
    def f(x):
        if x > 0:
            return x
        return -x
    assert float(df.function(f)(df.constant(-3.0))) == 3.0   # AutoGraph: a cond
    with pytest.raises(TypeError, match="as a Python `bool` is not allowed"):
        df.function(f, autograph=False)(df.constant(1.0))


# -- a read that an in-place update follows keeps the value it read (TF2's semantics) ------------
def test_prints_in_a_function_run_in_program_order_around_updates(capsys):
    import sys
    v = df.Variable(1.0)

    @df.function
    def step():
        df.print("before", v, output_stream=sys.stdout)
        v.assign_add(1.0)
        df.print("after", v, output_stream=sys.stdout)
        return v.read_value()

    step()
    step()
    assert capsys.readouterr().out.split("\n")[:4] == ["before 1", "after 2", "before 2",
                                                       "after 3"]


def test_a_value_read_before_an_update_is_returned_and_used_unchanged():
    w = df.Variable([1.0, 2.0])

    @df.function
    def step():
        r = w.read_value()
        w.assign_add([1.0, 1.0])
        return r, r * 1.0, w.read_value()

    old, used_after, new = step()
    assert old.numpy().tolist() == [1.0, 2.0] and used_after.numpy().tolist() == [1.0, 2.0]
    assert new.numpy().tolist() == [2.0, 3.0]


def test_a_training_step_orders_its_updates_without_copying_the_weights():
    w1, w2 = df.Variable(np.ones((3, 4), np.float32)), df.Variable(np.ones((4, 1), np.float32))
    opt = df.optimizers.SGD(0.1)

    @df.function
    def step(x):
        with df.GradientTape() as tape:
            loss = df.reduce_sum(df.matmul(df.matmul(x, w1), w2))
        opt.apply_gradients(zip(tape.gradient(loss, [w1, w2]), [w1, w2]))
        return loss

    step(np.ones((2, 3), np.float32))
    graph = next(iter(step._by_kind.values()))[0].graph
    assert "Snapshot" not in [op.type for op in graph.get_operations()]
    # w1's gradient reads w2: computed before w2's update, it is 2 * sum of w2's rows = 2 * 1
    np.testing.assert_allclose(w1.numpy(), np.full((3, 4), 1 - 0.1 * 2), rtol=1e-6)


def test_gradients_passed_in_as_arguments_are_applied():
    v = df.Variable([1.0, 2.0])
    opt = df.optimizers.SGD(0.1)

    @df.function
    def apply(grad):  # the update waits for the fed gradient: nothing to run, nothing missing
        opt.apply_gradients([(grad, v)])

    apply(df.constant([1.0, 1.0]))
    np.testing.assert_allclose(v.numpy(), [0.9, 1.9], rtol=1e-6)


def test_concrete_function_prints_types_and_checks_its_inputs_as_tf():
    """guide/function's cells on a concrete function (there on tf.string; here on float32):
    print, function_type, a call by keyword, a call of another dtype (InvalidArgumentError),
    its graph's nodes, and inference_fn."""
    tf = df
    @tf.function
    def double(a):
        return a + a

    d = double.get_concrete_function(tf.constant(1.5))
    spec = "TensorSpec(shape=(), dtype=tf.float32, name=None)"
    assert str(d) == ("ConcreteFunction Input Parameters:\n  a (POSITIONAL_OR_KEYWORD): %s\n"
                      "Output Type:\n  %s\nCaptures:\n  None" % (spec, spec))
    assert str(d.function_type) == "(a: %s) -> %s" % (spec, spec)
    assert repr(d).startswith("<ConcreteFunction (a: %s) -> %s at 0x" % (spec, spec))
    assert d(a=tf.constant(2.5)).numpy() == 5.0
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"input #0\(zero-based\) was expected to be a float32 tensor but "
                             r"is a int32 tensor"):
        d(tf.constant(1))
    nodes = [(list(n.input), n.name) for n in d.graph.as_graph_def().node]
    assert nodes[:2] == [([], "a"), (["a", "a"], "add")]
    atomic = d.inference_fn
    assert atomic(tf.constant(4.0)).numpy() == 8.0
    assert repr(atomic).startswith("<AtomicFunction> __inference_double(a: ")

    @tf.function
    def pow(a, b):
        return a ** b

    square = pow.get_concrete_function(a=tf.TensorSpec(None, tf.float32), b=2)
    assert "  b (POSITIONAL_OR_KEYWORD): Literal[2]" in str(square)
    assert square(tf.constant(10.0)).numpy() == 100.0
    with pytest.raises(TypeError, match="unexpected keyword arguments: b"):
        square(tf.constant(10.0), b=3)

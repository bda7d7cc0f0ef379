"""AutoGraph in df.function: Python if / while / for on tensors become cond and while_loop, with
break, continue and return; Python conditions stay Python; the patterns of TF's guide/function."""
import sys
import traceback

import numpy as np
import pytest

import distflow as tf
import distflow.compat.v1 as tf1


def op_types(f, *args):
    return {op.type for op in f.get_concrete_function(*args).graph._ops}


def test_if_on_a_tensor_is_a_cond_and_a_python_if_stays_python():
    @tf.function
    def f(x, flag):
        if flag:                    # a Python bool: plain Python, no cond
            x = x + 1.0
        if tf.reduce_sum(x) > 0:    # a tensor: a cond
            y = x * 2.0
        elif tf.reduce_sum(x) > -5:
            y = -x
        else:
            y = x * 0.0
        return y

    assert float(f(tf.constant(1.0), False)) == 2.0
    assert float(f(tf.constant(-3.0), False)) == 3.0
    assert float(f(tf.constant(-9.0), True)) == 0.0
    assert "StatelessIf" in op_types(f, tf.constant(1.0), False)
    traced = f.get_concrete_function(tf.constant(1.0), True).graph
    assert sum(op.type == "StatelessIf" for op in traced._ops) == 1  # the elif is nested in it


def test_a_python_number_merged_with_a_tensor_takes_its_dtype():
    @tf.function
    def f(x):
        y = 0
        if x > 0:
            y = x * 3.0
        return y
    assert f(tf.constant(2.0)).dtype == tf.float32 and float(f(tf.constant(2.0))) == 6.0
    assert float(f(tf.constant(-2.0))) == 0.0


def test_a_name_set_in_one_branch_only_is_undefined_after_it():
    @tf.function
    def f(x):
        if x > 0:
            y = x
        return y + 1.0
    with pytest.raises(UnboundLocalError, match="'y' is used before it has a value"):
        f(tf.constant(1.0))


def test_while_on_a_tensor_makes_python_numbers_loop_variables():
    @tf.function
    def f(n):
        s = 0
        i = 0
        while i < n:
            s += i
            i += 1
        return s, i
    s, i = f(tf.constant(5))
    assert int(s) == 10 and int(i) == 5
    assert "While" in op_types(f, tf.constant(5)) or "StatelessWhile" in op_types(
        f, tf.constant(5))


def test_the_guides_while_loop_with_tf_print(capsys):
    @tf.function
    def f(x):
        while tf.reduce_sum(x) > 1:
            tf.print(x, output_stream=sys.stdout)
            x = tf.tanh(x)
        return x
    out = f(tf.constant([1.0, 1.0]))
    assert float(tf.reduce_sum(out)) <= 1.0
    printed = capsys.readouterr().out.strip().split("\n")
    assert printed[0] == "[1 1]" and len(printed) >= 2


def test_the_guides_fizzbuzz_traces_each_branch_once(capsys):
    @tf.function
    def fizzbuzz(n):
        for i in tf.range(1, n + 1):
            print("Tracing for loop")
            if i % 15 == 0:
                tf.print("fizzbuzz", output_stream=sys.stdout)
            elif i % 3 == 0:
                tf.print("fizz", output_stream=sys.stdout)
            elif i % 5 == 0:
                tf.print("buzz", output_stream=sys.stdout)
            else:
                tf.print(i, output_stream=sys.stdout)

    fizzbuzz(tf.constant(5))
    fizzbuzz(tf.constant(15))
    lines = capsys.readouterr().out.strip().split("\n")
    assert lines[0] == "Tracing for loop" and lines.count("Tracing for loop") == 1
    assert lines[1:6] == ["1", "2", "fizz", "4", "buzz"]
    assert lines[6:] == ["1", "2", "fizz", "4", "buzz", "fizz", "7", "8", "fizz", "buzz", "11",
                         "fizz", "13", "14", "fizzbuzz"]


def test_break_continue_and_return_in_loops_over_tensors():
    @tf.function
    def positive_sum_until_big(x):
        total = tf.constant(0.0)
        for v in x:
            if v < 0:
                continue
            if v > 10:
                break
            total += v
        return total

    @tf.function
    def first_square_above(limit):
        for i in tf.range(100):
            if i * i > limit:
                return i
        return -1

    @tf.function
    def count_down(n):
        steps = 0
        while n > 0:
            n -= 1
            if n == 3:
                break
            steps += 1
        return steps

    assert float(positive_sum_until_big(tf.constant([1.0, -2.0, 3.0, 20.0, 5.0]))) == 4.0
    assert int(first_square_above(tf.constant(20))) == 5
    assert int(first_square_above(tf.constant(100000))) == -1
    assert int(count_down(tf.constant(6))) == 2


def test_for_over_a_dataset_and_over_python_values():
    ds = tf.data.Dataset.from_tensor_slices(([1.0, 2.0, 3.0], [1.0, 1.0, 5.0]))

    @tf.function
    def total_error(dataset):
        loss = tf.constant(0.0)
        for x, y in dataset:
            loss += tf.abs(y - x)
        return loss
    assert float(total_error(ds)) == 3.0
    uneven = tf.data.Dataset.from_tensor_slices(np.arange(5.0)).batch(2)  # 2, 2, 1 rows

    @tf.function
    def batch_sums(dataset):
        s = tf.constant(0.0, tf.float64)
        for b in dataset:
            s += tf.reduce_sum(b)
        return s
    assert float(batch_sums(uneven)) == 10.0

    @tf.function
    def unrolled(x):
        for k in [1.0, 2.0, 3.0]:   # a Python list: unrolled while tracing
            x = x * k
        return x
    assert float(unrolled(tf.constant(1.0))) == 6.0


def test_shape_invariants_through_set_loop_options():
    @tf.function
    def grows(n):
        x = tf.constant([0])
        for i in tf.range(n):
            x = tf.concat([x, [i]], 0)
        return x

    with pytest.raises(ValueError, match="'x' has shape \\(1,\\) before the loop, but shape "
                                         "\\(2,\\) after one iteration"):
        grows(tf.constant(3))

    @tf.function
    def grows_declared(n):
        x = tf.constant([0])
        for i in tf.range(n):
            tf.autograph.experimental.set_loop_options(shape_invariants=[(x, tf.TensorShape([None]))])
            x = tf.concat([x, [i]], 0)
        return x
    np.testing.assert_array_equal(grows_declared(tf.constant(3)), [0, 0, 1, 2])


def test_a_dtype_change_names_the_variable_and_points_at_the_users_line():
    @tf.function
    def f(n):
        s = 0
        for i in tf.range(n):
            s = tf.cast(i, tf.float32)   # int32 before the loop, float32 after one iteration
        return s
    with pytest.raises(TypeError, match="'s' has dtype int32 before the loop, but dtype "
                                        "float32 after one iteration") as info:
        f(tf.constant(2))
    frames = traceback.extract_tb(info.tb)
    ours = [fr for fr in frames if fr.filename == __file__]
    assert any(fr.line.strip().startswith("for i in tf.range(n)") for fr in ours)


def test_autograph_false_keeps_python_semantics():
    def f(x):
        if x > 0:
            return x
        return -x
    with pytest.raises(TypeError, match="as a Python `bool` is not allowed"):
        tf.function(f, autograph=False)(tf.constant(1.0))
    assert float(tf.function(f)(tf.constant(-2.0))) == 2.0


def test_logical_operators_on_tensors_are_lazy():
    @tf.function
    def safe_index(x, i):
        if i < tf.shape(x)[0] and x[tf.minimum(i, 2)] > 0 or not i >= 0:
            return 1
        return 0
    assert int(safe_index(tf.constant([1.0, -1.0, 2.0]), tf.constant(0))) == 1
    assert int(safe_index(tf.constant([1.0, -1.0, 2.0]), tf.constant(1))) == 0
    assert int(safe_index(tf.constant([1.0, -1.0, 2.0]), tf.constant(7))) == 0


def test_graph_walks_inside_a_df_function_compare_tensors_by_identity():
    # Tensor.consumers() used `self in op.inputs`, which is elementwise `==` in a df.function
    @tf.function(autograph=False)
    def f(x):
        a, b = x * 2.0, x + 1.0
        c = a * b
        assert {id(op) for op in x.consumers()} == {id(a.op), id(b.op)}
        assert [op is c.op for op in b.consumers()] == [True]
        return c
    assert float(f(tf.constant(1.0))) == 4.0


def test_equality_on_traced_tensors_is_elementwise_and_they_are_unhashable():
    @tf.function
    def pick(i):
        seen = {}
        with pytest.raises(TypeError, match="Tensor is unhashable"):
            seen[i] = 1
        seen[i.ref()] = 1
        assert i.ref() in seen
        return tf.cond(i % 2 == 0, lambda: tf.constant("even" == "even"),
                       lambda: tf.constant(False)), i != 3
    even, not_three = pick(tf.constant(4))
    assert bool(even) and bool(not_three)
    odd, three = pick(tf.constant(3))
    assert not bool(odd) and not bool(three)
    # TF1 graphs keep identity semantics: tensors are feed_dict keys
    p = tf1.placeholder(tf1.float32)
    assert {p: 1.0}[p] == 1.0 and (p == p) is True


def test_conversion_is_cached_per_function_and_shown_by_to_code():
    @tf.function
    def f(x):
        while x > 1:
            x = x / 2
        return x
    f(tf.constant(8.0))
    f(tf.constant([8.0, 2.0])[0] * 1.0)
    code = tf.autograph.to_code(f.python_function)
    assert "ag__.while_stmt" in code and "def loop_body_" in code
    assert f._converted is f._traced_function()


def test_recursion_and_gradients_through_converted_loops():
    @tf.function
    def recursive_fn(n):
        if n > 0:
            return recursive_fn(n - 1)
        else:
            return 1
    assert int(recursive_fn(3)) == 1

    w = tf.Variable(2.0)

    @tf.function
    def power(x, n):
        with tf.GradientTape() as tape:
            y = x
            for _ in tf.range(n):
                y = y * w
        return tape.gradient(y, w)
    assert float(power(tf.constant(1.0), tf.constant(3))) == pytest.approx(12.0)  # 3 w^2


def test_init_scope_and_concrete_signatures():
    class Model(tf.Module):
        def __init__(self):
            self.v = tf.Variable(0)
            self.counter = 0

        @tf.function
        def __call__(self):
            if self.counter == 0:
                with tf.init_scope():   # runs once, eagerly, while tracing
                    self.counter += 1
                    self.v.assign_add(1)
            return self.v
    m = Model()
    assert [int(m()) for _ in range(3)] == [1, 1, 1]

    @tf.function
    def double(a):
        return a + a
    double(tf.constant(1))
    double(3)
    text = double.pretty_printed_concrete_signatures()
    assert text.split("\n\n")[0] == (
        "Input Parameters:\n  a (POSITIONAL_OR_KEYWORD): TensorSpec(shape=(), dtype=tf.int32, "
        "name=None)\nOutput Type:\n  TensorSpec(shape=(), dtype=tf.int32, name=None)\n"
        "Captures:\n  None")
    assert "Literal[3]" in text
    concrete = double.get_concrete_function(tf.TensorSpec([2], tf.float32))
    np.testing.assert_array_equal(concrete(tf.constant([1.0, 2.0])), [2.0, 4.0])


def test_config_devices_and_running_functions_eagerly():
    assert tf.config.list_physical_devices("CPU")[0].name == "/physical_device:CPU:0"
    with pytest.raises(ValueError, match="non-GPU"):   # as TF: memory growth is a GPU setting
        tf.config.experimental.set_memory_growth(tf.config.list_physical_devices()[0], True)

    @tf.function
    def f(x):
        return x.numpy() * 2   # only possible when run eagerly
    tf.config.run_functions_eagerly(True)
    try:
        assert f(tf.constant(3)) == 6 and tf.config.functions_run_eagerly()
    finally:
        tf.config.run_functions_eagerly(False)


def helper_with_tensor_if(x):
    if x > 0:
        return x * 10.0
    return -x


def test_functions_the_function_calls_are_converted_too():
    class Scale(tf.Module):
        def __init__(self):
            self.w = tf.Variable(2.0)

        def __call__(self, x):
            for _ in tf.range(3):
                x = x * self.w
            return x

    class Shifted(Scale):
        def __call__(self, x):
            return super().__call__(x) + 1.0   # zero-argument super() in converted code

    m = Shifted()

    @tf.function
    def f(x):
        return helper_with_tensor_if(x) + m(x)
    assert float(f(tf.constant(2.0))) == 20.0 + 17.0
    assert float(f(tf.constant(-1.0))) == 1.0 - 7.0

    @tf.autograph.experimental.do_not_convert
    def untouched(x):
        if x > 0:
            return x
        return -x

    @tf.function
    def g(x):
        return untouched(x)
    with pytest.raises(TypeError, match="as a Python `bool` is not allowed"):
        g(tf.constant(1.0))


def test_next_on_a_dataset_iterator_advances_on_every_call():
    ds = tf.data.Dataset.from_tensor_slices(([1.0, 2.0], [[1, 2], [3, 4]]))
    iterator = iter(ds)

    @tf.function
    def take(it):
        x, y = next(it)
        assert x.shape == () and y.shape == (2,)   # from the element_spec, while tracing
        return x * 2.0, y
    first, second = take(iterator), take(iterator)
    assert float(first[0]) == 2.0 and float(second[0]) == 4.0
    np.testing.assert_array_equal(second[1], [3, 4])
    assert take.experimental_get_tracing_count() == 1
    with pytest.raises(tf.errors.OutOfRangeError, match="End of sequence"):
        take(iterator)


def test_the_tracing_protocol_lets_alike_objects_share_a_trace():
    class KindType(tf.types.experimental.TraceType):
        def __init__(self, obj):
            self.kind = type(obj)

        def __eq__(self, other):
            return type(other) is KindType and self.kind is other.kind

        def __hash__(self):
            return hash(self.kind)

    class Fruit:
        def __tf_tracing_type__(self, context):
            return KindType(self)

    class Apple(Fruit):
        flavor = tf.constant([1, 2])

    @tf.function
    def flavor(fruit):
        return fruit.flavor * 1

    flavor(Apple())
    flavor(Apple())       # a new object of the same kind: the same trace
    assert flavor.experimental_get_tracing_count() == 1


def test_conditional_expressions_and_loop_else_clauses():
    @tf.function
    def f(x):
        y = x * 2.0 if x > 0 else -x        # a tensor condition: a cond
        for i in tf.range(3):
            if i > 5:
                break
        else:                               # no break happened
            y += 100.0
        n = 0
        while n < 2:
            n += 1
        else:
            y += 1000.0
        return y
    assert float(f(tf.constant(3.0))) == 1106.0
    assert float(f(tf.constant(-3.0))) == 1103.0

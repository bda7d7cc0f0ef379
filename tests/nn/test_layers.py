"""Dense, Dropout and Sequential: shapes, parameter counts, the summary table, variables, and the
same outputs in graph and eager mode for the same seed."""
import subprocess
import sys

import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf
from distflow.nn import Dense, Dropout, Sequential, initializers
from distflow.ops.variables import EagerVariable

X = np.random.RandomState(0).randn(5, 13)


def mlp(seed=0, **first):
    return Sequential([Dense(64, "relu", **first), Dense(64, "relu"), Dense(1)], seed=seed)


def numpy_forward(weights, x):
    """The MLP written out in NumPy: relu(x W0 + b0) -> relu(. W1 + b1) -> . W2 + b2."""
    h = x
    for i in range(0, len(weights), 2):
        h = h @ weights[i].astype(np.float64) + weights[i + 1]
        if i < len(weights) - 2:
            h = np.maximum(h, 0)
    return h


def test_eager_dense_computes_x_kernel_plus_bias():
    layer = Dense(3, bias_initializer=initializers.Constant(0.5), seed=4)
    y = layer(X)
    assert isinstance(y, df.EagerTensor) and y.shape.as_list() == [5, 3]
    kernel = initializers.GlorotUniform(seed=4)((13, 3))
    np.testing.assert_array_equal(layer.kernel.numpy(), kernel)
    np.testing.assert_allclose(y.numpy(), X.astype(np.float32) @ kernel + 0.5, rtol=1e-5)
    assert [v.name for v in layer.trainable_variables] == [layer.name + "/kernel:0",
                                                           layer.name + "/bias:0"]
    assert layer.count_params() == 13 * 3 + 3


def test_mlp_eager_matches_numpy_and_has_stable_variable_order():
    model = mlp(seed=1)
    y = model(X).numpy()
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(13, 64), (64,), (64, 64), (64,), (64, 1), (1,)]
    np.testing.assert_allclose(y, numpy_forward(weights, X), rtol=1e-4, atol=1e-5)
    names = [v.name for v in model.trainable_variables]
    assert names == [v.name for v in model.variables] and len(names) == 6
    assert names[0].endswith("/kernel:0") and names[1].endswith("/bias:0")
    assert model.trainable_variables[0] is model.layers[0].kernel


def test_graph_and_eager_give_the_same_outputs_for_the_same_seed():
    eager = mlp(seed=7)
    expected = eager(X).numpy()
    g = tf.Graph()
    with g.as_default():
        model = mlp(seed=7)
        x = tf.placeholder(tf.float32, [None, 13])
        y = model(x)
        assert y.shape.as_list() == [None, 1]
        # graph variables: in the collections, initialized by global_variables_initializer
        assert tf.trainable_variables() == model.trainable_variables
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got = sess.run(y, {x: X})
            graph_weights = model.get_weights(sess)
    np.testing.assert_array_equal(got, expected)
    for a, b in zip(graph_weights, eager.get_weights()):
        np.testing.assert_array_equal(a, b)
    # a different seed gives a different model
    assert not np.allclose(mlp(seed=8)(X).numpy(), expected)


def test_graph_op_and_variable_names_follow_tf1():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 13])
        layer = Dense(4, activation="relu", name="hidden")
        y = layer(x)
        assert layer.kernel.name == "hidden/kernel:0" and layer.bias.name == "hidden/bias:0"
        assert y.name == "hidden/Relu:0"
        assert {"hidden/MatMul", "hidden/BiasAdd"} <= {op.name for op in g.get_operations()}
        y2 = tf.layers.dense(x, 2, activation=tf.nn.sigmoid, name="out")  # TF1's functional form
        assert y2.name == "out/Sigmoid:0" and y2.shape.as_list() == [None, 2]
        assert [v.name for v in tf.trainable_variables()][-2:] == ["out/kernel:0", "out/bias:0"]


def test_summary_table():
    model = Sequential([Dense(64, "relu", input_shape=(13,), name="d1"),
                        Dropout(0.2, name="drop"), Dense(64, "relu", name="d2"),
                        Dense(1, name="d3")], name="boston_mlp")
    text = model.summary(print_fn=None)
    assert not model.built and model.variables == []  # summary needs shapes, not variables
    lines = text.splitlines()
    assert lines[0] == 'Model: "boston_mlp"'
    rows = {line.split()[0]: line.split() for line in lines if line[:2] in ("d1", "dr", "d2", "d3")}
    assert rows["d1"][1:] == ["(Dense)", "(None,", "64)", "896"]
    assert rows["drop"][1:] == ["(Dropout)", "(None,", "64)", "0"]
    assert rows["d2"][1:] == ["(Dense)", "(None,", "64)", "4,160"]
    assert rows["d3"][1:] == ["(Dense)", "(None,", "1)", "65"]
    assert "Total params: 5,121" in lines and "Trainable params: 5,121" in lines
    assert "Non-trainable params: 0" in lines
    model(X)
    assert model.count_params() == 5121 == sum(w.size for w in model.get_weights())
    with pytest.raises(ValueError, match="not yet been built"):
        mlp().summary()


def test_build_without_data_and_input_checks():
    model = mlp(seed=2)
    model.build((None, 13))
    assert model.built and len(model.variables) == 6
    assert model.compute_output_shape((None, 13)).as_list() == [None, 1]
    with pytest.raises(ValueError, match="should be defined"):
        Dense(2)(tf.placeholder(tf.float32, [None, None]))
    with pytest.raises(ValueError, match="rank 2"):
        Dense(2)(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="positive integer"):
        Dense(0)
    with pytest.raises(ValueError, match="Unknown activation"):
        Dense(2, activation="swishy")


def test_float64_layers_and_input_casting():
    layer = Dense(2, dtype="float64", seed=0)
    assert layer(X).dtype == df.float64 and layer.kernel.dtype == df.float64
    layer32 = Dense(2, seed=0)
    assert layer32(df.constant(X)).dtype == df.float32  # float64 tensors are cast, as in Keras


def test_dropout_only_in_training():
    layer = Dropout(0.5, seed=3)
    ones = np.ones((200, 50), np.float32)
    np.testing.assert_array_equal(layer(ones).numpy(), ones)
    out = layer(ones, training=True).numpy()
    kept = out != 0
    np.testing.assert_allclose(out[kept], 2.0)  # survivors scaled by 1 / (1 - rate)
    assert 0.45 < kept.mean() < 0.55
    with pytest.raises(ValueError, match="rate"):
        Dropout(1.0)
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 50])
        assert Dropout(0.5)(x) is not None
        train_out = Dropout(0.5, seed=1)(x, training=True)
        with tf.Session() as sess:
            a = sess.run(train_out, {x: ones})
        assert set(np.unique(a)) <= {0.0, 2.0} and 0.4 < (a != 0).mean() < 0.6


def test_trains_eagerly_with_a_tape():
    rng = np.random.RandomState(0)
    x = rng.randn(64, 3)
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3
    layer = Dense(1, seed=0, dtype="float64")
    opt = df.train.GradientDescentOptimizer(0.1)
    for _ in range(300):
        with df.GradientTape() as tape:
            loss = df.reduce_mean(df.losses.mean_squared_error(y, layer(x)))
        grads = tape.gradient(loss, layer.trainable_variables)
        opt.apply_gradients(zip(grads, layer.trainable_variables))
    np.testing.assert_allclose(layer.kernel.numpy()[:, 0], [1.0, -2.0, 0.5], atol=1e-4)
    np.testing.assert_allclose(layer.bias.numpy(), [0.3], atol=1e-4)


def test_set_weights_round_trip_in_both_modes():
    src = mlp(seed=5)
    src(X)
    dst = mlp(seed=6)
    dst(X)
    dst.set_weights(src.get_weights())
    np.testing.assert_array_equal(dst(X).numpy(), src(X).numpy())
    with pytest.raises(ValueError, match="Expected 6 weight arrays"):
        dst.set_weights(src.get_weights()[:2])
    expected = src(X).numpy()
    g = tf.Graph()
    with g.as_default():
        model = mlp(seed=9)
        x = tf.placeholder(tf.float32, [None, 13])
        y = model(x)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            model.set_weights(src.get_weights(), sess)
            np.testing.assert_array_equal(sess.run(y, {x: X}), expected)


def test_model_first_called_inside_df_function_lifts_its_variables():
    model = mlp(seed=3)
    expected = mlp(seed=3)(X).numpy()

    @df.function
    def forward(x):
        return model(x)

    np.testing.assert_allclose(forward(X.astype(np.float32)).numpy(), expected, rtol=1e-6)
    # created while tracing, yet eager variables that outlive the trace, named as in eager mode
    assert all(isinstance(v, EagerVariable) for v in model.variables)
    assert [v.name.split("/")[1] for v in model.variables] == ["kernel:0", "bias:0"] * 3
    np.testing.assert_allclose(model(X).numpy(), expected, rtol=1e-6)


def test_a_seeded_model_has_the_same_weights_in_another_process():
    # the distributed runtime relies on it: every rank can build identical replicas from a seed
    code = ("import numpy as np; from distflow.nn import Dense, Sequential; "
            "m = Sequential([Dense(4, 'relu'), Dense(1)], seed=11); m.build((None, 3)); "
            "print(repr([w.tolist() for w in m.get_weights()]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    here = Sequential([Dense(4, "relu"), Dense(1)], seed=11)
    here.build((None, 3))
    assert eval(out.stdout) == [w.tolist() for w in here.get_weights()]

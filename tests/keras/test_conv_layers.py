"""Keras's conv, pooling, shape layers and BatchNormalization: real programs' model definitions
train, weights and summary() are Keras's, batch norm's moving statistics move in fit, and TF1's
tf.layers build graphs with the UPDATE_OPS collection."""
import numpy as np
import pytest

import distflow as tf
import distflow.compat.v1 as tf1


def _data(n=64, shape=(28, 28), classes=10, seed=0):
    rng = np.random.RandomState(seed)
    return rng.rand(n, *shape).astype(np.float32), rng.randint(0, classes, n)


def test_quickstart_for_beginners_trains():
    # TF's "quickstart for beginners" model and compile, on small random data
    tf.keras.utils.set_random_seed(1)
    x, y = _data()
    model = tf.keras.models.Sequential([
        tf.keras.layers.Flatten(input_shape=(28, 28)),
        tf.keras.layers.Dense(128, activation='relu'),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(10)
    ])
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer='adam', loss=loss_fn, metrics=['accuracy'])
    history = model.fit(x, y, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    probability_model = tf.keras.Sequential([model, tf.keras.layers.Softmax()])
    p = probability_model(x[:5]).numpy()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def tutorial_cnn():
    # the multi-worker tutorial's build_and_compile_cnn_model
    model = tf.keras.Sequential([
        tf.keras.layers.InputLayer(input_shape=(28, 28)),
        tf.keras.layers.Reshape(target_shape=(28, 28, 1)),
        tf.keras.layers.Conv2D(32, 3, activation='relu'),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(128, activation='relu'),
        tf.keras.layers.Dense(10)
    ])
    model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=tf.keras.optimizers.SGD(learning_rate=0.001), metrics=['accuracy'])
    return model


def test_multi_worker_tutorial_cnn_trains_and_prints_keras_summary():
    tf.keras.utils.set_random_seed(2)
    model = tutorial_cnn()
    lines = []
    model.summary(print_fn=lines.append)
    text = lines[0]
    assert "conv2d (Conv2D)" in text and "(None, 26, 26, 32)" in text and "320" in text
    assert "(None, 21632)" in text and "2,769,024" in text
    assert "Total params: 2,770,634" in text
    x, y = _data(32)
    first = model.evaluate(x, y, verbose=0)[0]
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0)[0] < first


def test_horovod_keras_mnist_model_trains():
    # examples/tensorflow2/tensorflow2_keras_mnist.py's model and compile (one process)
    tf.keras.utils.set_random_seed(3)
    mnist_model = tf.keras.Sequential([
        tf.keras.layers.Conv2D(32, [3, 3], activation='relu'),
        tf.keras.layers.Conv2D(64, [3, 3], activation='relu'),
        tf.keras.layers.MaxPooling2D(pool_size=(2, 2)),
        tf.keras.layers.Dropout(0.25),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(128, activation='relu'),
        tf.keras.layers.Dropout(0.5),
        tf.keras.layers.Dense(10, activation='softmax')
    ])
    mnist_model.compile(loss=tf.losses.SparseCategoricalCrossentropy(),
                        optimizer=tf.optimizers.Adam(0.001), metrics=['accuracy'])
    x, y = _data(32, (12, 12, 1))
    dataset = tf.data.Dataset.from_tensor_slices((x, y.astype(np.int64))).batch(16)
    history = mnist_model.fit(dataset, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    shapes = [w.shape for w in mnist_model.get_weights()]
    assert shapes == [(3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1024, 128), (128,),
                      (128, 10), (10,)]


def test_weight_names_shapes_and_glorot_limits():
    tf.keras.utils.set_random_seed(4)
    layers = [tf.keras.layers.Conv2D(8, (3, 2)), tf.keras.layers.Conv1D(5, 4),
              tf.keras.layers.DepthwiseConv2D(3, depth_multiplier=2),
              tf.keras.layers.Conv2DTranspose(6, 3, strides=2)]
    inputs = [np.zeros((1, 9, 9, 4), np.float32), np.zeros((1, 9, 4), np.float32),
              np.zeros((1, 9, 9, 4), np.float32), np.zeros((1, 5, 5, 4), np.float32)]
    want = [(3, 2, 4, 8), (4, 4, 5), (3, 3, 4, 2), (3, 3, 6, 4)]
    out_shapes = [(1, 7, 8, 8), (1, 6, 5), (1, 7, 7, 8), (1, 11, 11, 6)]
    for layer, x, shape, out in zip(layers, inputs, want, out_shapes):
        y = layer(x)
        assert tuple(y.shape) == out, layer.name
        assert tuple(layer.compute_output_shape(x.shape).as_list()) == out
        kernel, bias = layer.weights
        assert kernel.name.startswith(layer.name + "/kernel") and tuple(kernel.shape) == shape
        receptive = int(np.prod(shape[:-2]))
        limit = np.sqrt(6.0 / (receptive * (shape[-2] + shape[-1])))
        k = kernel.numpy()
        assert np.abs(k).max() <= limit and np.abs(k).max() > 0.5 * limit
        assert not bias.numpy().any()


def test_pooling_reshape_padding_and_rescaling_layers():
    x = np.arange(2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3)
    L = tf.keras.layers
    np.testing.assert_array_equal(L.MaxPooling2D()(x).numpy(), x[:, 1::2, 1::2])
    np.testing.assert_allclose(L.AveragePooling2D(pool_size=4)(x).numpy()[:, 0, 0],
                               x.mean(axis=(1, 2)))
    np.testing.assert_allclose(L.GlobalAveragePooling2D()(x).numpy(), x.mean(axis=(1, 2)))
    np.testing.assert_array_equal(L.GlobalMaxPooling2D()(x).numpy(), x.max(axis=(1, 2)))
    assert L.GlobalAveragePooling2D(keepdims=True)(x).shape == (2, 1, 1, 3)
    s = x[:, 0]
    assert L.MaxPooling1D(pool_size=2, strides=1, padding="same")(s).shape == (2, 4, 3)
    np.testing.assert_allclose(L.GlobalAveragePooling1D()(s).numpy(), s.mean(axis=1))
    assert L.Reshape((-1, 6))(x).shape == (2, 8, 6)
    assert L.ZeroPadding2D(((1, 0), (2, 3)))(x).shape == (2, 5, 9, 3)
    np.testing.assert_allclose(L.Rescaling(1 / 255.0, offset=-1)(x).numpy(), x / 255.0 - 1,
                               rtol=1e-6)
    np.testing.assert_allclose(L.Activation("relu")(x - 10).numpy(), np.maximum(x - 10, 0))
    with pytest.raises(ValueError, match="padding"):
        L.Conv2D(4, 3, padding="full")
    with pytest.raises(ValueError, match="channels_last"):
        L.MaxPooling2D(data_format="channels_first")


def test_causal_conv1d_sees_only_the_past():
    layer = tf.keras.layers.Conv1D(1, 3, padding="causal", kernel_initializer="ones",
                                   use_bias=False)
    x = np.zeros((1, 6, 1), np.float32)
    x[0, 3, 0] = 1.0
    np.testing.assert_array_equal(layer(x).numpy()[0, :, 0], [0, 0, 0, 1, 1, 1])


def test_batch_normalization_moves_statistics_in_fit():
    tf.keras.utils.set_random_seed(5)
    model = tf.keras.Sequential([tf.keras.layers.Conv2D(4, 3, input_shape=(8, 8, 1)),
                                 tf.keras.layers.BatchNormalization(momentum=0.5),
                                 tf.keras.layers.Flatten(), tf.keras.layers.Dense(3)])
    bn = model.layers[1]
    assert len(model.weights) == 8  # built at once: the input shape is known
    assert [v.name.split(":")[0] for v in bn.weights] == [
        "%s/%s" % (bn.name, n) for n in ("gamma", "beta", "moving_mean", "moving_variance")]
    assert len(model.trainable_variables) == 6 and len(model.non_trainable_variables) == 2
    lines = []
    model.summary(print_fn=lines.append)
    assert "Non-trainable params: 8" in lines[0]
    x, y = _data(16, (8, 8, 1), 3)
    x = x * 3 + 2
    model.compile(optimizer="sgd", loss=tf.keras.losses.SparseCategoricalCrossentropy(True))
    model.fit(x, y, epochs=4, batch_size=16, shuffle=False, verbose=0)
    mean = bn.moving_mean.numpy()
    assert np.all(mean != 0) and np.all(bn.moving_variance.numpy() != 1)
    # inference normalizes with the moving statistics: recompute by hand
    h = model.layers[0](x).numpy()
    g, b, m, v = bn.get_weights()
    np.testing.assert_allclose(bn(h, training=False).numpy(), (h - m) / np.sqrt(v + 1e-3) * g + b,
                               rtol=1e-4, atol=1e-5)
    t = bn(h, training=True).numpy()  # the batch's own statistics
    np.testing.assert_allclose(t.mean(axis=(0, 1, 2)), b, atol=1e-4)


def test_tf1_layers_cnn_with_update_ops():
    with tf1.Graph().as_default():
        x = tf1.placeholder(tf1.float32, [None, 10, 10, 1])
        labels = tf1.placeholder(tf1.int64, [None])
        is_training = tf1.placeholder(tf1.bool, [])
        h = tf1.layers.conv2d(x, 4, 3, padding="same", activation=tf1.nn.relu)
        h = tf1.layers.batch_normalization(h, training=is_training)
        h = tf1.layers.max_pooling2d(h, 2, 2)
        h = tf1.layers.average_pooling2d(h, 1, 1)
        h = tf1.layers.flatten(h)
        assert h.shape.as_list() == [None, 100]
        h = tf1.layers.dropout(h, 0.1, training=False)
        logits = tf1.layers.dense(h, 3)
        loss = tf1.reduce_mean(tf1.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=logits))
        update_ops = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)
        assert len(update_ops) == 2
        with tf1.control_dependencies(update_ops):
            train_op = tf1.train.GradientDescentOptimizer(0.1).minimize(loss)
        names = sorted(v.name for v in tf1.global_variables())
        assert any(n.startswith("batch_normalization") and n.endswith("/moving_mean:0")
                   for n in names)
        assert any(n.startswith("conv2d") and n.endswith("/kernel:0") for n in names)
        xv, yv = _data(8, (10, 10, 1), 3)
        with tf1.Session() as s:
            s.run(tf1.global_variables_initializer())
            mm = [v for v in tf1.global_variables() if "moving_mean" in v.name][0]
            before = s.run(loss, {x: xv, labels: yv, is_training: False})
            for _ in range(5):
                s.run(train_op, {x: xv, labels: yv, is_training: True})
            assert s.run(mm).any()
            assert s.run(loss, {x: xv, labels: yv, is_training: False}) < before


def test_cnn_tutorial_builds_with_add_and_summary():
    # TF's "Convolutional Neural Network (CNN)" tutorial (CIFAR-10), on random 32x32x3 images
    from distflow.keras import layers, models
    tf.keras.utils.set_random_seed(7)
    model = models.Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(32, 32, 3)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    lines = []
    model.summary(print_fn=lines.append)
    assert "(None, 4, 4, 64)" in lines[0] and "Total params: 56,320" in lines[0]
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation='relu'))
    model.add(layers.Dense(10))
    model.compile(optimizer='adam',
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=['accuracy'])
    x, y = _data(24, (32, 32, 3))
    history = model.fit(x[:16], y[:16], epochs=2, batch_size=8,
                        validation_data=(x[16:], y[16:]), verbose=0)
    assert set(history.history) == {"accuracy", "loss", "val_accuracy", "val_loss"}
    assert model.count_params() == 122570

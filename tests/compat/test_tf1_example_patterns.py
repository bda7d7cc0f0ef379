"""The patterns of the most-copied TF1 example programs (aymericdamien's linear regression and
multilayer perceptrons), written afresh on small local data: scalar feeds of
`tf.placeholder("float")`, Variables from NumPy scalars, weight dicts of `tf.random_normal`,
softmax cross-entropy with Adam, and an accuracy read with `Tensor.eval(feed_dict)`."""
import numpy as np

import distflow.compat.v1 as tf


def test_linear_regression_fed_one_sample_at_a_time():
    rng = np.random.RandomState(1)
    xs = rng.uniform(2.0, 11.0, 17)
    ys = 0.25 * xs + 0.8 + rng.normal(0.0, 0.1, 17)
    X = tf.placeholder("float")
    Y = tf.placeholder("float")
    W = tf.Variable(rng.randn(), name="weight")
    b = tf.Variable(rng.randn(), name="bias")
    assert X.dtype == tf.float32 and W.dtype == tf.float32   # rng.randn() is a Python float
    pred = tf.add(tf.multiply(X, W), b)
    cost = tf.reduce_sum(tf.pow(pred - Y, 2)) / (2 * len(xs))
    train = tf.train.GradientDescentOptimizer(0.01).minimize(cost)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        start = sess.run(cost, feed_dict={X: xs, Y: ys})
        for _ in range(150):
            for x, y in zip(xs, ys):
                sess.run(train, feed_dict={X: x, Y: y})
        final = sess.run(cost, feed_dict={X: xs, Y: ys})
        w_fit, b_fit = sess.run(W), sess.run(b)
    # the same per-sample gradient descent in NumPy: d/dW of (W x + b - y)^2 / (2 n)
    rng = np.random.RandomState(1)
    rng.uniform(2.0, 11.0, 17), rng.normal(0.0, 0.1, 17)
    w, c = rng.randn(), rng.randn()
    for _ in range(150):
        for x, y in zip(xs.astype(np.float32), ys.astype(np.float32)):
            err = w * x + c - y
            w, c = w - 0.01 * err * x / len(xs), c - 0.01 * err / len(xs)
    assert final < start / 10
    np.testing.assert_allclose([w_fit, b_fit], [w, c], rtol=1e-3, atol=1e-4)


def test_multilayer_perceptron_with_weight_dicts_adam_and_eval():
    rng = np.random.RandomState(0)
    n_input, n_hidden, n_classes = 20, 16, 3
    centers = rng.uniform(0.0, 1.0, (n_classes, n_input)).astype(np.float32)
    labels = rng.randint(0, n_classes, 300)
    images = (centers[labels] + rng.normal(0.0, 0.2, (300, n_input))).astype(np.float32)
    onehot = np.eye(n_classes, dtype=np.float32)[labels]

    X = tf.placeholder("float", [None, n_input])
    Y = tf.placeholder("float", [None, n_classes])
    weights = {"h1": tf.Variable(tf.random_normal([n_input, n_hidden])),
               "out": tf.Variable(tf.random_normal([n_hidden, n_classes]))}
    biases = {"b1": tf.Variable(tf.random_normal([n_hidden])),
              "out": tf.Variable(tf.random_normal([n_classes]))}

    def perceptron(x):
        layer_1 = tf.add(tf.matmul(x, weights["h1"]), biases["b1"])
        return tf.matmul(layer_1, weights["out"]) + biases["out"]

    logits = perceptron(X)
    loss_op = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=Y))
    train_op = tf.train.AdamOptimizer(learning_rate=0.01).minimize(loss_op)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss_op, feed_dict={X: images, Y: onehot})
        for epoch in range(30):
            avg = 0.0
            for i in range(6):
                batch = slice(50 * i, 50 * i + 50)
                _, c = sess.run([train_op, loss_op], feed_dict={X: images[batch],
                                                                Y: onehot[batch]})
                avg += c / 6
        pred = tf.nn.softmax(logits)
        correct = tf.equal(tf.argmax(pred, 1), tf.argmax(Y, 1))
        accuracy = tf.reduce_mean(tf.cast(correct, "float"))
        acc = accuracy.eval({X: images, Y: onehot})
    assert avg < first and acc > 0.9


def test_nearest_neighbor_with_tf1s_arg_min():
    train = np.array([[0.0, 0.0], [5.0, 5.0], [9.0, 0.0]], np.float32)
    xtr = tf.placeholder("float", [None, 2])
    xte = tf.placeholder("float", [2])
    distance = tf.reduce_sum(tf.abs(tf.add(xtr, tf.negative(xte))), reduction_indices=1)
    pred = tf.arg_min(distance, 0)
    assert pred.dtype == tf.int64 and tf.arg_max(distance, 0).dtype == tf.int64
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert [sess.run(pred, {xtr: train, xte: q}) for q in ([4.0, 6.0], [8.0, 1.0])] == [1, 2]


def test_dataset_iterators_feed_a_graph_run_by_run():
    images = np.arange(10.0, dtype=np.float32).reshape(5, 2)
    labels = np.arange(5)
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(2)
    iterator = ds.make_initializable_iterator()
    X, Y = iterator.get_next()
    assert X.shape.as_list() == [None, 2] and Y.dtype == tf.int64
    total = tf.reduce_sum(X)
    sess = tf.Session()
    with np.testing.assert_raises(tf.errors.FailedPreconditionError):
        sess.run(total)                               # not initialized yet
    for _ in range(2):                                # each initializer run starts over
        sess.run(iterator.initializer)
        seen = []
        while True:
            try:
                seen.append(sess.run([total, Y])[1].tolist())
            except tf.errors.OutOfRangeError:
                break
        assert seen == [[0, 1], [2, 3], [4]]
    one = tf.data.make_one_shot_iterator(tf.data.Dataset.range(3))
    n = one.get_next()
    assert [int(sess.run(n)) for _ in range(3)] == [0, 1, 2]

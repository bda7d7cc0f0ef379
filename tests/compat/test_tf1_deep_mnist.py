"""TF1's "Deep MNIST for experts" network (conv2d / max_pool with 4-element strides, 'SAME'
padding, truncated-normal weights, dropout through a keep_prob placeholder, AdamOptimizer) with
only the import line changed, on small random 28x28 data: it builds with TF1's static shapes
and its loss goes down."""
import numpy as np

import distflow.compat.v1 as tf


def weight_variable(shape):
    initial = tf.truncated_normal(shape, stddev=0.1, seed=1)
    return tf.Variable(initial)


def bias_variable(shape):
    initial = tf.constant(0.1, shape=shape)
    return tf.Variable(initial)


def conv2d(x, W):
    return tf.nn.conv2d(x, W, strides=[1, 1, 1, 1], padding='SAME')


def max_pool_2x2(x):
    return tf.nn.max_pool(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding='SAME')


def test_deep_mnist_for_experts_trains():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[None, 784])
        y_ = tf.placeholder(tf.float32, shape=[None, 10])
        x_image = tf.reshape(x, [-1, 28, 28, 1])
        W_conv1 = weight_variable([5, 5, 1, 8])
        b_conv1 = bias_variable([8])
        h_conv1 = tf.nn.relu(conv2d(x_image, W_conv1) + b_conv1)
        h_pool1 = max_pool_2x2(h_conv1)
        W_conv2 = weight_variable([5, 5, 8, 16])
        b_conv2 = bias_variable([16])
        h_conv2 = tf.nn.relu(conv2d(h_pool1, W_conv2) + b_conv2)
        h_pool2 = max_pool_2x2(h_conv2)
        assert h_pool2.shape.as_list() == [None, 7, 7, 16]
        W_fc1 = weight_variable([7 * 7 * 16, 32])
        b_fc1 = bias_variable([32])
        h_pool2_flat = tf.reshape(h_pool2, [-1, 7 * 7 * 16])
        h_fc1 = tf.nn.relu(tf.matmul(h_pool2_flat, W_fc1) + b_fc1)
        keep_prob = tf.placeholder(tf.float32)
        h_fc1_drop = tf.nn.dropout(h_fc1, keep_prob)
        W_fc2 = weight_variable([32, 10])
        b_fc2 = bias_variable([10])
        y_conv = tf.matmul(h_fc1_drop, W_fc2) + b_fc2
        cross_entropy = tf.reduce_mean(
            tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=y_conv))
        train_step = tf.train.AdamOptimizer(1e-3).minimize(cross_entropy)
        correct_prediction = tf.equal(tf.argmax(y_conv, 1), tf.argmax(y_, 1))
        accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
        rng = np.random.RandomState(0)
        images = rng.rand(32, 784).astype(np.float32)
        labels = np.eye(10, dtype=np.float32)[rng.randint(0, 10, 32)]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            feed = {x: images, y_: labels, keep_prob: 1.0}
            before = sess.run(cross_entropy, feed)
            for _ in range(15):
                train_step.run(feed_dict={x: images, y_: labels, keep_prob: 0.5})
            after, acc = sess.run([cross_entropy, accuracy], feed)
    assert after < before
    assert 0.0 <= acc <= 1.0

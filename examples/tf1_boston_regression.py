"""The course's TF1 Boston program: a linear model by the normal equation and by gradient descent,
with variable scopes, tf.losses, tf.assign and a Saver. Only the import line differs from the
TensorFlow 1.x version (scripts/tf_parity/run_examples.py runs both and compares the output)."""
import os
import tempfile

import numpy as np

import distflow.compat.v1 as tf

HERE = os.path.dirname(os.path.abspath(__file__))
data = np.loadtxt(os.path.join(HERE, "..", "distflow", "data", "boston.csv"), delimiter=",",
                  skiprows=1, dtype=np.float32)
order = np.arange(len(data))
np.random.RandomState(113).shuffle(order)                  # Keras's boston_housing split
train, test = data[order[:404]], data[order[404:]]
mean, std = train[:, :13].mean(axis=0), train[:, :13].std(axis=0)
x_train, y_train = (train[:, :13] - mean) / std, train[:, 13:]
x_test, y_test = (test[:, :13] - mean) / std, test[:, 13:]

# -- the normal equation: theta = (X^T X)^-1 X^T y --------------------------------------------
X = tf.constant(np.c_[np.ones((404, 1), np.float32), x_train], name="X")
y = tf.constant(y_train, name="y")
XT = tf.transpose(X)
theta = tf.matmul(tf.matmul(tf.matrix_inverse(tf.matmul(XT, X)), XT), y)
with tf.Session() as sess:
    theta_value = sess.run(theta)
rmse = np.sqrt(np.mean((np.c_[np.ones((102, 1)), x_test] @ theta_value - y_test) ** 2))
print("normal equation: test RMSE %.2f" % rmse)

# -- the same model by gradient descent ---------------------------------------------------------
tf.reset_default_graph()
x_ph = tf.placeholder(tf.float32, [None, 13], name="x")
y_ph = tf.placeholder(tf.float32, [None, 1], name="y")
with tf.variable_scope("linear"):
    w = tf.get_variable("w", [13, 1], initializer=tf.zeros_initializer())
    b = tf.get_variable("b", [1], initializer=tf.zeros_initializer())
prediction = tf.matmul(x_ph, w) + b
loss = tf.losses.mean_squared_error(y_ph, prediction)
global_step = tf.Variable(0, trainable=False, name="global_step")
train_op = tf.train.GradientDescentOptimizer(0.05).minimize(loss, global_step=global_step)
print(w.name, b.name, prediction.shape, loss.name)

saver = tf.train.Saver(max_to_keep=2)
directory = tempfile.mkdtemp()
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    for epoch in range(1, 201):
        for start in range(0, 404, 32):
            sess.run(train_op, {x_ph: x_train[start:start + 32], y_ph: y_train[start:start + 32]})
        if epoch % 50 == 0:
            path = saver.save(sess, os.path.join(directory, "boston.ckpt"), global_step=epoch)
            print("epoch %d: train MSE %.3f" % (epoch, sess.run(loss, {x_ph: x_train,
                                                                        y_ph: y_train})))
    print(os.path.basename(path), os.path.basename(tf.train.latest_checkpoint(directory)))
    sess.run(tf.assign(w, tf.zeros([13, 1])))                    # spoil the weights ...

with tf.Session() as sess:                                         # ... and restore them
    saver.restore(sess, tf.train.latest_checkpoint(directory))
    test_mse = sess.run(loss, {x_ph: x_test, y_ph: y_test})
    print("gradient descent: test RMSE %.2f after %d steps" % (np.sqrt(test_mse),
                                                                sess.run(global_step)))

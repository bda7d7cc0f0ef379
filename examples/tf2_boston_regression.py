"""The course's TF2 Boston program: a linear model trained eagerly with GradientTape, the same step
as a tf.function, and the Keras way with compile and fit. Only the import line differs from the
TensorFlow 2 version (scripts/tf_parity/run_examples.py runs both and compares the output)."""
import os

import numpy as np

import distflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
data = np.loadtxt(os.path.join(HERE, "..", "distflow", "data", "boston.csv"), delimiter=",",
                  skiprows=1, dtype=np.float32)
order = np.arange(len(data))
np.random.RandomState(113).shuffle(order)                  # Keras's boston_housing split
train, test = data[order[:404]], data[order[404:]]
mean, std = train[:, :13].mean(axis=0), train[:, :13].std(axis=0)
x_train, y_train = (train[:, :13] - mean) / std, train[:, 13:]
x_test, y_test = (test[:, :13] - mean) / std, test[:, 13:]

# -- eagerly: a GradientTape per step ------------------------------------------------------------
w = tf.Variable(tf.zeros([13, 1]), name="w")
b = tf.Variable(0.0, name="b")
optimizer = tf.keras.optimizers.SGD(learning_rate=0.05, momentum=0.5)


def loss_fn(x, y):
    return tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))


for epoch in range(1, 31):
    with tf.GradientTape() as tape:
        loss = loss_fn(x_train, y_train)
    grads = tape.gradient(loss, [w, b])
    optimizer.apply_gradients(zip(grads, [w, b]))
    if epoch % 10 == 0:
        print("epoch %d: loss %.4f" % (epoch, loss))
print(w.shape, b.numpy().dtype, len(optimizer.variables) > 0)


# -- the same step compiled -----------------------------------------------------------------------
@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        loss = loss_fn(x, y)
    optimizer.apply_gradients(zip(tape.gradient(loss, [w, b]), [w, b]))
    return loss


for epoch in range(30):
    loss = train_step(tf.constant(x_train), tf.constant(y_train))
print("after 60 steps: loss %.4f, test RMSE %.3f"
      % (loss, tf.sqrt(loss_fn(x_test, y_test))))

# -- Keras: compile and fit -------------------------------------------------------------------------
model = tf.keras.Sequential([tf.keras.layers.Dense(1, kernel_initializer="zeros",
                                                   input_shape=(13,))])
model.compile(optimizer=tf.keras.optimizers.SGD(0.01), loss="mse", metrics=["mae"])
history = model.fit(x_train, y_train, epochs=20, batch_size=32, shuffle=False,
                    validation_split=0.2, verbose=0)
print(sorted(history.history), len(history.history["loss"]))
print("keras: val_mae %.3f" % history.history["val_mae"][-1])
test_loss, test_mae = model.evaluate(x_test, y_test, verbose=0)
print("keras: test RMSE %.3f, MAE %.3f" % (np.sqrt(test_loss), test_mae))
print(["%.2f" % v for v in model.predict(x_test[:3], verbose=0).ravel()])

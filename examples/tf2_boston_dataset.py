"""The course's TF2 Boston program with a tf.data input pipeline: the linear model trained on
mini-batches from `tf.data.Dataset.from_tensor_slices(...).batch(32)` in a GradientTape loop (and
the same step as a tf.function), then with Keras's fit, evaluate and predict on datasets. Only
the import line differs from the TensorFlow 2 version (scripts/tf_parity/run_examples.py runs
both and compares the output); no shuffle, so the batches, and the numbers, are TF's."""
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

# -- the input pipeline ---------------------------------------------------------------------------
train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(32)
test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(64).prefetch(tf.data.AUTOTUNE)
print(train_ds.element_spec)
print(len(train_ds), int(train_ds.cardinality()), [int(len(x)) for x, _ in test_ds])
print(list(tf.data.Dataset.range(6).map(lambda i: i * i).filter(lambda i: i % 2 == 0)
           .as_numpy_iterator()))

# -- eagerly: a GradientTape per batch ------------------------------------------------------------
w = tf.Variable(tf.zeros([13, 1]), name="w")
b = tf.Variable(0.0, name="b")
optimizer = tf.keras.optimizers.SGD(learning_rate=0.01, momentum=0.5)


def loss_fn(x, y):
    return tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))


for epoch in range(1, 16):
    total, count = 0.0, 0
    for x, y in train_ds:
        with tf.GradientTape() as tape:
            loss = loss_fn(x, y)
        grads = tape.gradient(loss, [w, b])
        optimizer.apply_gradients(zip(grads, [w, b]))
        total += float(loss) * len(x)
        count += len(x)
    if epoch % 5 == 0:
        print("epoch %d: loss %.4f" % (epoch, total / count))


# -- the same step compiled -----------------------------------------------------------------------
@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        loss = loss_fn(x, y)
    optimizer.apply_gradients(zip(tape.gradient(loss, [w, b]), [w, b]))
    return loss


for epoch in range(5):
    losses = [float(train_step(x, y)) for x, y in train_ds]
test_mse = test_ds.reduce(0.0, lambda s, batch: s + tf.reduce_sum(
    tf.square(tf.matmul(batch[0], w) + b - batch[1]))) / len(x_test)
print("after 20 epochs: last batch loss %.4f, test RMSE %.3f" % (losses[-1], tf.sqrt(test_mse)))

# -- Keras: fit, evaluate and predict on datasets -------------------------------------------------
model = tf.keras.Sequential([tf.keras.layers.Dense(1, kernel_initializer="zeros",
                                                   input_shape=(13,))])
model.compile(optimizer=tf.keras.optimizers.SGD(0.01), loss="mse", metrics=["mae"])
history = model.fit(train_ds, epochs=10, validation_data=test_ds, verbose=0)
print(sorted(history.history), len(history.history["loss"]))
print("keras: loss %.4f, val_mae %.4f" % (history.history["loss"][-1],
                                          history.history["val_mae"][-1]))
test_loss, test_mae = model.evaluate(test_ds, verbose=0)
print("keras: test RMSE %.3f, MAE %.3f" % (np.sqrt(test_loss), test_mae))
print(model.predict(test_ds.map(lambda x, y: x), verbose=0).shape,
      ["%.2f" % v for v in model.predict(test_ds.take(1), verbose=0)[:3].ravel()])

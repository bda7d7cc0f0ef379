"""The course's TF2 Keras program on the Boston data runs with `import distflow as tf` and lands
where TensorFlow lands.

Reference (TF 2.21.0, Keras 3.15.1, CPU): the program below, with TF's model given distflow's
initial weights for tf.keras.utils.set_random_seed(0) (set_weights) and shuffle=False, reaches a
test RMSE of 5.452182 and a final training loss of 7.430973 after 100 epochs. distflow agrees to
float32 summation order (it gave 5.452183 and 7.430972). With shuffle=True (the course's default)
TF's test RMSE over seeds 0-4 was 4.82 to 5.25.
"""
import numpy as np
import pytest

import distflow as tf

TF_TEST_RMSE = 5.452182        # TF 2.21.0 / Keras 3.15.1, same initial weights, shuffle=False
TF_FINAL_TRAIN_LOSS = 7.430973
TF_SHUFFLED_RMSE_RANGE = (4.82, 5.25)  # TF 2.21.0, seeds 0-4, shuffle=True


def course_program(shuffle, seed=0, epochs=100):
    """The program as the course writes it (only the import line differs)."""
    tf.keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.boston_housing.load_data()
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    x_train = (x_train - mean) / std
    x_test = (x_test - mean) / std

    model = tf.keras.Sequential([
        tf.keras.layers.Dense(64, activation='relu', input_shape=(13,)),
        tf.keras.layers.Dense(64, activation='relu'),
        tf.keras.layers.Dense(1),
    ])
    model.compile(optimizer='adam', loss='mse', metrics=['mae'])
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.2,
                        verbose=0, shuffle=shuffle)
    test_loss, test_mae = model.evaluate(x_test, y_test, verbose=0)
    predictions = model.predict(x_test, verbose=0)
    rmse = float(np.sqrt(np.mean((predictions.flatten() - y_test) ** 2)))
    return history, test_loss, test_mae, rmse


def test_the_program_reaches_tensorflows_test_rmse():
    history, test_loss, test_mae, rmse = course_program(shuffle=False)
    # 100 epochs of Adam in float32: TF and distflow sum in different orders; 1e-4 leaves room
    assert rmse == pytest.approx(TF_TEST_RMSE, rel=1e-4)
    assert history.history["loss"][-1] == pytest.approx(TF_FINAL_TRAIN_LOSS, rel=1e-4)
    assert test_loss == pytest.approx(rmse ** 2, rel=1e-5)  # evaluate's loss is the test MSE
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    assert all(len(v) == 100 for v in history.history.values())
    assert history.history["loss"][-1] < history.history["loss"][0] / 10


def test_the_shuffled_program_lands_where_tensorflow_lands():
    lo, hi = TF_SHUFFLED_RMSE_RANGE
    rmse = course_program(shuffle=True, seed=1)[3]
    assert lo - 0.6 < rmse < hi + 0.6

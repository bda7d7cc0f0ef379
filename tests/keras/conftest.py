import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _no_global_seed_left_behind():
    """Tests here seed with tf.keras.utils.set_random_seed; later tests must not inherit it."""
    yield
    import distflow as df
    df.random.set_seed(None)


@pytest.fixture(scope="session")
def boston():
    """The course's data: Keras's split of the bundled Boston data, standardized with the
    training rows' mean and std (float64, as keras.datasets gives it)."""
    import distflow as tf
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.boston_housing.load_data()
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    return (x_train - mean) / std, y_train, (x_test - mean) / std, y_test


@pytest.fixture
def small():
    """101 rows of a linear problem: small enough for many short fits."""
    rng = np.random.RandomState(3)
    x = rng.randn(101, 4).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.7).astype(np.float32)
    return x, y

"""The course's TF2 program: linear regression trained with GradientTape and
GradientDescentOptimizer.apply_gradients, with and without df.function, on synthetic data
y = X w + b + noise. Both must reach the least-squares solution that NumPy computes directly."""
import numpy as np
import pytest

import distflow as df

N, D = 256, 5
STEPS = 300
LEARNING_RATE = 0.2


def synthetic_data():
    rng = np.random.RandomState(7)
    x = rng.normal(size=(N, D)).astype(np.float32)
    w = rng.uniform(-3, 3, size=(D, 1))
    y = (x @ w + 1.5 + 0.1 * rng.normal(size=(N, 1))).astype(np.float32)
    return x, y


def least_squares(x, y):
    """The exact minimiser of the mean squared error, with a column of ones for the bias."""
    a = np.hstack([x.astype(np.float64), np.ones((len(x), 1))])
    solution = np.linalg.lstsq(a, y.astype(np.float64), rcond=None)[0]
    return solution[:-1], float(solution[-1, 0])


class Linear:
    def __init__(self, d):
        self.w = df.Variable(df.zeros([d, 1]))
        self.b = df.Variable(0.0)

    def __call__(self, x):
        return df.matmul(x, self.w) + self.b

    @property
    def trainable_variables(self):
        return [self.w, self.b]


def train(use_function):
    x, y = synthetic_data()
    model = Linear(D)
    opt = df.train.GradientDescentOptimizer(LEARNING_RATE)

    def step(x, y):
        with df.GradientTape() as tape:
            loss = df.reduce_mean(df.square(model(x) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    if use_function:
        step = df.function(step)
    losses = [float(step(x, y)) for _ in range(STEPS)]
    return model, losses, step


@pytest.mark.parametrize("use_function", [False, True], ids=["eager", "df.function"])
def test_regression_converges_to_the_least_squares_solution(use_function):
    x, y = synthetic_data()
    w_star, b_star = least_squares(x, y)
    model, losses, step = train(use_function)
    np.testing.assert_allclose(model.w.numpy(), w_star, atol=2e-6)
    assert float(model.b.numpy()) == pytest.approx(b_star, abs=2e-6)
    # the loss falls to the noise level the least-squares fit leaves
    residual = x.astype(np.float64) @ w_star + b_star - y
    assert losses[-1] == pytest.approx(float(np.mean(residual ** 2)), rel=1e-4)
    assert losses[0] > 10 * losses[-1]
    if use_function:
        assert step.experimental_get_tracing_count() == 1


def test_eager_and_df_function_training_follow_the_same_path():
    eager_model, eager_losses, _ = train(False)
    graph_model, graph_losses, _ = train(True)
    np.testing.assert_allclose(graph_losses, eager_losses, rtol=1e-5)
    np.testing.assert_allclose(graph_model.w.numpy(), eager_model.w.numpy(), atol=1e-6)

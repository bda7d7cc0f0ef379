"""Initializers: their statistics match the formulas, and a seed fixes the values everywhere."""
import subprocess
import sys

import numpy as np
import pytest

from distflow.nn import initializers as init


def test_glorot_uniform_range_and_variance():
    w = init.GlorotUniform(seed=1)((400, 300), np.float64)
    limit = np.sqrt(6.0 / 700)
    assert w.shape == (400, 300) and w.dtype == np.float64
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert abs(w.mean()) < 0.01 * limit
    np.testing.assert_allclose(w.var(), limit ** 2 / 3, rtol=0.02)


@pytest.mark.parametrize("cls, variance", [
    (init.GlorotNormal, lambda i, o: 2.0 / (i + o)),
    (init.HeNormal, lambda i, o: 2.0 / i),
])
def test_truncated_normals_keep_their_variance_within_two_sigma(cls, variance):
    fan_in, fan_out = 500, 200
    w = cls(seed=3)((fan_in, fan_out), np.float64)
    target = variance(fan_in, fan_out)
    np.testing.assert_allclose(w.var(), target, rtol=0.03)
    # truncation at two standard deviations of the underlying (wider) normal
    assert np.abs(w).max() <= 2.0 * np.sqrt(target) / 0.87962566103423978 + 1e-12
    assert abs(w.mean()) < 0.02 * np.sqrt(target)


def test_he_uniform_and_random_families():
    w = init.HeUniform(seed=0)((1000, 50), np.float64)
    np.testing.assert_allclose(w.var(), 2.0 / 1000, rtol=0.03)
    n = init.RandomNormal(1.0, 0.5, seed=0)((20000,), np.float64)
    np.testing.assert_allclose([n.mean(), n.std()], [1.0, 0.5], rtol=0.02)


def test_constants():
    assert np.all(init.Zeros()((3, 2)) == 0) and init.Zeros()((3, 2)).dtype == np.float32
    assert np.all(init.Ones()((4,)) == 1)
    np.testing.assert_array_equal(init.Constant(2.5)((2, 2)), np.full((2, 2), 2.5, np.float32))
    np.testing.assert_array_equal(init.get(0.5)((1,)), [0.5])


def test_seed_gives_the_same_values_and_different_seeds_differ():
    a = init.GlorotUniform(seed=42)((13, 64))
    np.testing.assert_array_equal(a, init.GlorotUniform(seed=42)((13, 64)))
    np.testing.assert_array_equal(a, init.get("glorot_uniform", seed=42)((13, 64)))
    assert not np.array_equal(a, init.GlorotUniform(seed=43)((13, 64)))
    # float32 values are the float64 draws rounded: dtype does not change the stream
    np.testing.assert_array_equal(a, init.GlorotUniform(seed=42)((13, 64), np.float64)
                                  .astype(np.float32))
    # unseeded initializers draw fresh values
    assert not np.array_equal(init.GlorotUniform()((13, 64)), init.GlorotUniform()((13, 64)))


def test_seeded_values_are_the_same_in_another_process():
    code = ("import numpy as np; from distflow.nn import initializers as i; "
            "print(repr(i.HeNormal(seed=7)((3, 2), np.float64).tolist()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert eval(out.stdout) == init.HeNormal(seed=7)((3, 2), np.float64).tolist()


def test_fans_and_lookup():
    assert init.compute_fans((13, 64)) == (13, 64)
    assert init.compute_fans((5,)) == (5, 5)
    assert init.compute_fans((3, 3, 8, 16)) == (72, 144)
    assert isinstance(init.get("GlorotNormal"), init.GlorotNormal)
    assert isinstance(init.get("he_normal", seed=1), init.HeNormal)
    with pytest.raises(ValueError, match="Unknown initializer"):
        init.get("orthogonal_but_misspelt")
    with pytest.raises(ValueError, match="seed"):
        init.GlorotUniform(seed=-1)

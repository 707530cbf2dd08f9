"""sk1dcnn.nn.initializers: the uniform limits of Glorot and He, dtype and reproducibility."""

import numpy as np
import pytest

from sk1dcnn.nn.initializers import INITIALIZERS


@pytest.mark.parametrize("name, limit", [
    ("glorot_uniform", lambda fi, fo: np.sqrt(6.0 / (fi + fo))),
    ("he_uniform", lambda fi, fo: np.sqrt(6.0 / fi)),
])
def test_uniform_initializers_fill_their_interval(name, limit):
    fan_in, fan_out = 5 * 16, 5 * 32
    W = INITIALIZERS[name]((5, 16, 32), fan_in, fan_out, np.random.RandomState(0), np.float64)
    a = limit(fan_in, fan_out)
    assert W.shape == (5, 16, 32)
    assert np.abs(W).max() <= a and np.abs(W).max() > 0.95 * a
    # U(-a, a) has variance a^2 / 3
    np.testing.assert_allclose(W.var(), a * a / 3, rtol=0.1)
    assert abs(W.mean()) < 0.05 * a


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_initializers_are_reproducible_and_keep_the_dtype(name, dtype):
    draw = [INITIALIZERS[name]((3, 4), 3, 4, np.random.RandomState(7), dtype) for _ in range(2)]
    assert draw[0].dtype == dtype
    np.testing.assert_array_equal(draw[0], draw[1])


def test_zeros_is_zeros():
    np.testing.assert_array_equal(
        INITIALIZERS["zeros"]((2, 3), 2, 3, np.random.RandomState(0), np.float32), np.zeros((2, 3)))

"""Weight initializers ``f(shape, fan_in, fan_out, rng, dtype) -> ndarray``."""

import numpy as np

__all__ = ["INITIALIZERS"]


def glorot_uniform(shape, fan_in, fan_out, rng, dtype):
    """Glorot & Bengio (2010): U(-a, a), a = sqrt(6 / (fan_in + fan_out))."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def he_uniform(shape, fan_in, fan_out, rng, dtype):
    """He et al. (2015): U(-a, a), a = sqrt(6 / fan_in), for ReLU-like units."""
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def zeros(shape, fan_in, fan_out, rng, dtype):
    return np.zeros(shape, dtype=dtype)


INITIALIZERS = {"glorot_uniform": glorot_uniform, "he_uniform": he_uniform, "zeros": zeros}

"""Activation functions and their derivatives, as module-level dicts.

``ACTIVATIONS[name](Z) -> A`` and ``DERIVATIVES[name](Z, A, dA) -> dZ``.
Derivatives receive both the input and the output so each one uses whichever
is cheaper (ReLU and sigmoid work from the output, as in scikit-learn's MLP).
The parametric ones (``prelu``'s learned slope, ``rrelu``'s random slope) live
in :class:`sk1dcnn.nn.layers.Activation`, which owns their state.
"""

import numpy as np
from scipy.special import expit

__all__ = ["ACTIVATIONS", "DERIVATIVES", "PARAMETRIC", "ALL_ACTIVATIONS",
           "LEAKY_SLOPE", "RRELU_LOWER", "RRELU_UPPER", "ELU_ALPHA"]

LEAKY_SLOPE = 0.01  # PyTorch's default negative slope
ELU_ALPHA = 1.0
RRELU_LOWER, RRELU_UPPER = 1.0 / 8.0, 1.0 / 3.0  # Xu et al. 2015, PyTorch defaults


def identity(Z):
    return Z


def relu(Z):
    # against a zeros array, not the scalar 0: NumPy's maximum with a scalar
    # operand skips SIMD and ran 2.7x slower on (N, L, C) activations
    return np.maximum(Z, np.zeros(Z.shape[1:], Z.dtype), out=np.empty_like(Z))


def relu6(Z):
    return np.clip(Z, 0, 6)


def softplus(Z):
    # log(1 + e^z) without overflow: max(z, 0) + log1p(e^-|z|)
    return np.maximum(Z, 0) + np.log1p(np.exp(-np.abs(Z)))


def leaky_relu(Z):
    return np.where(Z > 0, Z, Z * Z.dtype.type(LEAKY_SLOPE))


def elu(Z):
    return np.where(Z > 0, Z, ELU_ALPHA * np.expm1(np.minimum(Z, 0)))


def sigmoid(Z):
    return expit(Z)


def tanh(Z):
    return np.tanh(Z)


def swish(Z):
    return Z * expit(Z)


def d_identity(Z, A, dA):
    return dA


def d_relu(Z, A, dA):
    # a multiply by the mask is several times faster than boolean-index assignment
    return dA * (A > 0)


def d_relu6(Z, A, dA):
    return dA * ((Z > 0) & (Z < 6))


def d_softplus(Z, A, dA):
    return dA * expit(Z)


def d_leaky_relu(Z, A, dA):
    return np.where(Z > 0, dA, dA * dA.dtype.type(LEAKY_SLOPE))


def d_elu(Z, A, dA):
    # for z <= 0, d/dz alpha*(e^z - 1) = A + alpha
    return np.where(Z > 0, dA, dA * (A + ELU_ALPHA))


def d_sigmoid(Z, A, dA):
    return dA * A * (1 - A)


def d_tanh(Z, A, dA):
    return dA * (1 - A * A)


def d_swish(Z, A, dA):
    s = expit(Z)
    return dA * (s + A * (1 - s))


ACTIVATIONS = {
    "identity": identity,
    "relu": relu,
    "relu6": relu6,
    "softplus": softplus,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "swish": swish,
    "sigmoid": sigmoid,
    "tanh": tanh,
}

DERIVATIVES = {
    "identity": d_identity,
    "relu": d_relu,
    "relu6": d_relu6,
    "softplus": d_softplus,
    "leaky_relu": d_leaky_relu,
    "elu": d_elu,
    "swish": d_swish,
    "sigmoid": d_sigmoid,
    "tanh": d_tanh,
}

#: Activations with state, implemented by the Activation layer itself.
PARAMETRIC = ("prelu", "rrelu")

ALL_ACTIVATIONS = tuple(ACTIVATIONS) + PARAMETRIC

#: Non-decreasing activations: max-pooling commutes with them, which lets a
#: conv block pool the raw matmul output before bias and activation.
MONOTONE = {"identity", "relu", "relu6", "softplus", "leaky_relu", "elu", "sigmoid", "tanh"}

"""sk1dcnn.nn.activations: each function against its textbook formula, each derivative
against central differences, and the MONOTONE set that the pooling fusion relies on."""

import numpy as np
import pytest
from scipy.special import expit

from sk1dcnn.nn.activations import (
    ACTIVATIONS, ALL_ACTIVATIONS, DERIVATIVES, ELU_ALPHA, LEAKY_SLOPE, MONOTONE, PARAMETRIC)

#: plain scalar formulas, evaluated one number at a time
REFERENCE = {
    "identity": lambda z: z,
    "relu": lambda z: max(z, 0.0),
    "relu6": lambda z: min(max(z, 0.0), 6.0),
    "softplus": lambda z: float(np.log1p(np.exp(z))),
    "leaky_relu": lambda z: z if z > 0 else LEAKY_SLOPE * z,
    "elu": lambda z: z if z > 0 else ELU_ALPHA * (np.exp(z) - 1.0),
    "swish": lambda z: z / (1.0 + np.exp(-z)),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": lambda z: float(np.tanh(z)),
}

# values away from the kinks at 0 and 6, in a (N, L, C) batch
Z = np.concatenate([np.linspace(-8, -0.05, 40), np.linspace(0.05, 5.9, 40),
                    np.linspace(6.1, 9, 10)]).reshape(3, 10, 3)


def test_every_activation_has_a_derivative_and_a_reference():
    assert set(ACTIVATIONS) == set(DERIVATIVES) == set(REFERENCE)
    assert set(ALL_ACTIVATIONS) == set(ACTIVATIONS) | set(PARAMETRIC)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_matches_its_formula(name):
    expected = np.vectorize(REFERENCE[name])(Z)
    np.testing.assert_allclose(ACTIVATIONS[name](Z), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_derivative_matches_central_differences(name):
    f, eps = ACTIVATIONS[name], 1e-6
    dA = np.random.default_rng(0).standard_normal(Z.shape)
    numeric = dA * (f(Z + eps) - f(Z - eps)) / (2 * eps)
    np.testing.assert_allclose(DERIVATIVES[name](Z, f(Z), dA), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_monotone_set_is_exactly_the_non_decreasing_activations(name):
    grid = np.linspace(-10, 10, 2001)
    non_decreasing = bool(np.all(np.diff(ACTIVATIONS[name](grid)) >= 0))
    assert (name in MONOTONE) == non_decreasing  # swish dips below zero: not monotone


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_keep_float32(name):
    Z32 = Z.astype(np.float32)
    A = ACTIVATIONS[name](Z32)
    assert A.dtype == np.float32
    assert DERIVATIVES[name](Z32, A, np.ones_like(Z32)).dtype == np.float32


def test_sigmoid_and_softplus_do_not_overflow():
    big = np.array([[-1000.0, 1000.0]])
    np.testing.assert_array_equal(ACTIVATIONS["sigmoid"](big), expit(big))
    np.testing.assert_allclose(ACTIVATIONS["softplus"](big), [[0.0, 1000.0]])

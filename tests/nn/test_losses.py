"""Losses of sk1dcnn.nn.losses: values against scipy references, gradients against
central finite differences, finite output for huge logits."""

import numpy as np
import pytest
from scipy.special import log_softmax, softmax

from sk1dcnn.nn.losses import LOSS_FUNCTIONS, OUT_ACTIVATIONS, TARGET_ENCODING

from _gradcheck import ATOL, RTOL, numerical_grad


# --------------------------------------------------------------------------- #
# Losses
# --------------------------------------------------------------------------- #
def loss_inputs(name, seed=0, N=5, K=3):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((N, K)) * 2
    if name in ("categorical_crossentropy", "softmax_squared_error"):
        Y = np.eye(K)[rng.integers(0, K, N)]
    elif name == "squared_error":
        Y = rng.standard_normal((N, K))
    elif TARGET_ENCODING[name] == "indicator":
        Y = rng.integers(0, 2, (N, K)).astype(float)
    else:
        Y = rng.choice([-1.0, 1.0], (N, K))
    if name == "hinge":  # margins 1 - y z at least 0.1 away from the kink
        yz = 1.0 + rng.choice([-1.0, 1.0], (N, K)) * rng.uniform(0.1, 1.5, (N, K))
        Z = Y * yz
    w = rng.uniform(0.2, 2.0, N)
    return Z, Y, w / w.sum()


def reference_loss(name, Z, Y, w):
    """Losses written out from their textbook definitions (probabilities, not logits)."""
    if name == "categorical_crossentropy":
        per = -(Y * np.log(softmax(Z, axis=1))).sum(axis=1)
    elif name == "binary_crossentropy":
        p = 1 / (1 + np.exp(-Z))
        per = -(Y * np.log(p) + (1 - Y) * np.log(1 - p)).sum(axis=1)
    elif name == "squared_error":
        per = 0.5 * ((Z - Y) ** 2).mean(axis=1)
    elif name == "exponential":
        per = np.exp(-Y * Z).mean(axis=1)
    elif name == "hinge":
        per = np.maximum(0, 1 - Y * Z).mean(axis=1)
    elif name == "softmax_squared_error":  # half the Brier score, over K
        per = 0.5 * ((np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True) - Y) ** 2).mean(axis=1)
    elif name == "sigmoid_squared_error":
        per = 0.5 * ((1 / (1 + np.exp(-Z)) - Y) ** 2).mean(axis=1)
    else:  # pragma: no cover - a new loss needs a reference here
        raise AssertionError(f"no reference for loss {name!r}")
    return float(per @ w)


@pytest.mark.parametrize("name", list(LOSS_FUNCTIONS))
def test_loss_gradient_and_value(name):
    Z, Y, w = loss_inputs(name, seed=len(name))
    loss, dZ = LOSS_FUNCTIONS[name](Z.copy(), Y, w)
    assert np.isscalar(loss) or np.ndim(loss) == 0
    np.testing.assert_allclose(loss, reference_loss(name, Z, Y, w), rtol=1e-12)
    num = numerical_grad(lambda: LOSS_FUNCTIONS[name](Z, Y, w)[0], Z)
    np.testing.assert_allclose(dZ, num, rtol=RTOL, atol=ATOL)
    if name == "hinge":
        assert (dZ == 0).any() and (dZ != 0).any()  # both sides of the kink covered


@pytest.mark.parametrize("name", ["categorical_crossentropy", "binary_crossentropy",
                                  "squared_error"])
def test_canonical_link_gradient(name):
    Z, Y, w = loss_inputs(name, seed=3)
    _, dZ = LOSS_FUNCTIONS[name](Z, Y, w)
    K = Z.shape[1] if name == "squared_error" else 1
    np.testing.assert_allclose(dZ, w[:, None] * (OUT_ACTIVATIONS[name](Z) - Y) / K, rtol=1e-12)


def test_softmax_cross_entropy_huge_logits():
    Z = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4], [-1e4, -1e4, 1e4]])
    Y = np.eye(3)[[1, 2, 2]]
    w = np.array([0.5, 0.3, 0.2])
    loss, dZ = LOSS_FUNCTIONS["categorical_crossentropy"](Z, Y, w)
    assert np.isfinite(loss) and np.all(np.isfinite(dZ))
    # sample 0 pays 1e4, sample 1 log 2, sample 2 nothing
    np.testing.assert_allclose(loss, 0.5 * 1e4 + 0.3 * np.log(2), rtol=1e-12)
    np.testing.assert_allclose(dZ[0], 0.5 * np.array([1.0, -1.0, 0.0]), atol=1e-12)
    np.testing.assert_allclose(dZ[1], 0.3 * np.array([0.0, 0.5, -0.5]), atol=1e-12)


@pytest.mark.parametrize("name", list(LOSS_FUNCTIONS))
def test_losses_finite_for_huge_logits(name):
    Z = np.array([[1e4, -1e4], [-1e4, 1e4], [300.0, -800.0]])
    Y = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    if TARGET_ENCODING[name] == "sign":
        Y = 2 * Y - 1
    loss, dZ = LOSS_FUNCTIONS[name](Z, Y, np.full(3, 1 / 3))
    assert np.isfinite(loss) and np.all(np.isfinite(dZ))
    assert np.all(np.isfinite(OUT_ACTIVATIONS[name](Z)))


def test_out_activation_probabilities():
    Z = np.array([[1e4, -1e4, 0.0], [0.1, 0.2, 0.3], [-5.0, 700.0, 3.0], [-800.0, -800.0, -800.0]])
    P = OUT_ACTIVATIONS["categorical_crossentropy"](Z)
    assert np.all(P >= 0) and np.all(np.isfinite(P))
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(P[1], np.exp(log_softmax(Z[1])), rtol=1e-12)
    np.testing.assert_allclose(P[3], 1 / 3, rtol=1e-12)
    for name in ("binary_crossentropy", "exponential"):
        p = OUT_ACTIVATIONS[name](Z)
        assert np.all((p >= 0) & (p <= 1))
        two = np.stack([1 - p, p], axis=-1)  # what predict_proba does for one column
        np.testing.assert_allclose(two.sum(axis=-1), 1.0)
    z = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(OUT_ACTIVATIONS["binary_crossentropy"](z), 1 / (1 + np.exp(-z)))
    np.testing.assert_array_equal(OUT_ACTIVATIONS["squared_error"](Z), Z)


def test_exponential_out_activation_inverts_the_population_minimizer():
    # E[exp(-y f)] with P(y = 1) = p is minimised at f* = log(p / (1 - p)) / 2
    p = np.array([0.05, 0.3, 0.5, 0.8, 0.99])
    f_star = 0.5 * np.log(p / (1 - p))
    np.testing.assert_allclose(OUT_ACTIVATIONS["exponential"](f_star), p, rtol=1e-12)




@pytest.mark.parametrize("beta", [0.25, 1.0, 3.0])
def test_exponential_beta_gradient_and_value(beta):
    """exp(-beta y z) per output, mean over outputs; beta=1 is bit for bit the default."""
    from functools import partial

    Z, Y, w = loss_inputs("exponential", seed=7)
    fn = partial(LOSS_FUNCTIONS["exponential"], beta=beta)
    loss, dZ = fn(Z.copy(), Y, w)
    np.testing.assert_allclose(loss, float(np.exp(-beta * Y * Z).mean(axis=1) @ w), rtol=1e-12)
    np.testing.assert_allclose(dZ, numerical_grad(lambda: fn(Z, Y, w)[0], Z), rtol=RTOL, atol=ATOL)
    if beta == 1.0:
        default = LOSS_FUNCTIONS["exponential"](Z, Y, w)
        assert loss == default[0] and np.array_equal(dZ, default[1])
    # the population minimiser is log(p / (1 - p)) / (2 beta): sigmoid(2 beta z) inverts it
    p = np.array([0.1, 0.5, 0.9])
    z = np.log(p / (1 - p)) / (2 * beta)
    grid = np.linspace(-5, 5, 20001)
    risk = p[:, None] * np.exp(-beta * grid) + (1 - p[:, None]) * np.exp(beta * grid)
    np.testing.assert_allclose(grid[risk.argmin(axis=1)], z, atol=1e-3)
    np.testing.assert_allclose(OUT_ACTIVATIONS["exponential"](beta * z), p, rtol=1e-12)


def test_squared_error_on_probabilities_outputs_and_bounds():
    Z, Y, w = loss_inputs("softmax_squared_error", seed=2)
    np.testing.assert_allclose(OUT_ACTIVATIONS["softmax_squared_error"](Z), softmax(Z, axis=1))
    # bounded: a confidently wrong sample costs at most 1 / K (half of |p - y|^2 <= 2, over K)
    Zbad = np.array([[1e4, -1e4, 0.0]])
    loss, dZ = LOSS_FUNCTIONS["softmax_squared_error"](Zbad, np.array([[0.0, 1.0, 0.0]]),
                                                       np.ones(1))
    np.testing.assert_allclose(loss, 1 / 3, rtol=1e-12)
    assert np.all(np.abs(dZ) < 1e-12)  # saturated softmax: no gradient left (why log loss learns faster)

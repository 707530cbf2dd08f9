"""Optimizers against hand-computed updates and scikit-learn's."""

import numpy as np
import pytest
from sklearn.neural_network import _stochastic_optimizers as sk_opt

from sk1dcnn.nn.optim import AdamOptimizer, SGDOptimizer


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(3), rng.standard_normal((2, 2))]


def make_grads(n_steps, seed=1):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(3), rng.standard_normal((2, 2))] for _ in range(n_steps)]


# --------------------------------------------------------------------------- #
# SGD
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("nesterov, expected", [
    # p0 = 1, g = 1 every step, lr = 0.1, momentum = 0.9, worked by hand:
    # heavy ball: v = -0.1, -0.19, -0.271;  p = 0.9, 0.71, 0.439
    (False, [0.9, 0.71, 0.439]),
    # Nesterov: p += 0.9 v - 0.1 g -> 1 - 0.09 - 0.1, then - 0.171 - 0.1, then - 0.2439 - 0.1
    (True, [0.81, 0.539, 0.1951]),
])
def test_sgd_scalar_worked_example(nesterov, expected):
    p = np.array([1.0])
    opt = SGDOptimizer([p], learning_rate_init=0.1, momentum=0.9, nesterov=nesterov)
    for want in expected:
        opt.update_params([p], [np.array([1.0])])
        np.testing.assert_allclose(p, [want], rtol=1e-12)
    assert opt.t == 3


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_sgd_matches_hand_computation(nesterov, momentum):
    params = make_params()
    ids = [id(p) for p in params]
    expected = [p.copy() for p in params]
    vel = [np.zeros_like(p) for p in params]
    opt = SGDOptimizer(params, learning_rate_init=0.05, momentum=momentum, nesterov=nesterov)
    for step, grads in enumerate(make_grads(3)):
        lr = 0.05 if step < 2 else 0.02  # the training loop may change the rate
        opt.learning_rate = lr
        opt.update_params(params, grads)
        for i, g in enumerate(grads):
            vel[i] = momentum * vel[i] - lr * g
            expected[i] = expected[i] + (momentum * vel[i] - lr * g if nesterov else vel[i])
            np.testing.assert_allclose(params[i], expected[i], rtol=1e-12, atol=1e-15)
    assert [id(p) for p in params] == ids  # updated in place


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_matches_sklearn(nesterov):
    ours, theirs = make_params(), make_params()
    a = SGDOptimizer(ours, learning_rate_init=0.03, momentum=0.8, nesterov=nesterov)
    b = sk_opt.SGDOptimizer(theirs, learning_rate_init=0.03, momentum=0.8, nesterov=nesterov)
    for grads in make_grads(3, seed=4):
        a.update_params(ours, grads)
        b.update_params(theirs, grads)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p, q, rtol=1e-12)


def test_sgd_without_momentum_is_plain_gradient_descent():
    p = np.array([1.0, -2.0])
    opt = SGDOptimizer([p], learning_rate_init=0.5, momentum=0.0, nesterov=True)
    opt.update_params([p], [np.array([0.2, -0.4])])
    np.testing.assert_allclose(p, [0.9, -1.8])


# --------------------------------------------------------------------------- #
# Adam
# --------------------------------------------------------------------------- #
def test_adam_constant_gradient_moves_lr_per_step():
    # with a constant gradient the bias-corrected m_hat / sqrt(v_hat) is sign(g),
    # so every step moves the parameter by lr (up to epsilon)
    p = np.array([0.0, 1.0, 2.0])
    g = np.array([3.0, -0.02, 50.0])
    opt = AdamOptimizer([p], learning_rate_init=0.01)
    for t in range(1, 4):
        opt.update_params([p], [g])
        np.testing.assert_allclose(p, np.array([0.0, 1.0, 2.0]) - t * 0.01 * np.sign(g),
                                   rtol=1e-6)


@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.9)])
def test_adam_matches_hand_computation(betas):
    b1, b2 = betas
    eps = 1e-8
    params = make_params(2)
    expected = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    opt = AdamOptimizer(params, learning_rate_init=0.01, beta_1=b1, beta_2=b2, epsilon=eps)
    for t, grads in enumerate(make_grads(3, seed=3), start=1):
        opt.update_params(params, grads)
        for i, g in enumerate(grads):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g**2
            m_hat = m[i] / (1 - b1**t)
            v_hat = v[i] / (1 - b2**t)
            # bias correction folded into the rate == epsilon scaled by sqrt(1 - b2^t)
            expected[i] = expected[i] - 0.01 * m_hat / (np.sqrt(v_hat) + eps / np.sqrt(1 - b2**t))
            np.testing.assert_allclose(params[i], expected[i], rtol=1e-12, atol=1e-15)
    assert opt.t == 3


def test_adam_matches_sklearn():
    ours, theirs = make_params(5), make_params(5)
    a = AdamOptimizer(ours, learning_rate_init=0.002, beta_1=0.8, beta_2=0.99, epsilon=1e-7)
    b = sk_opt.AdamOptimizer(theirs, learning_rate_init=0.002, beta_1=0.8, beta_2=0.99,
                             epsilon=1e-7)
    for grads in make_grads(3, seed=6):
        a.update_params(ours, grads)
        b.update_params(theirs, grads)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p, q, rtol=1e-12)


def test_adam_respects_changed_learning_rate():
    p = np.array([1.0])
    opt = AdamOptimizer([p], learning_rate_init=0.1)
    opt.update_params([p], [np.array([2.0])])
    opt.learning_rate = 0.01
    opt.update_params([p], [np.array([2.0])])
    np.testing.assert_allclose(p, [1.0 - 0.1 - 0.01], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place_adam_is_bitwise_the_plain_update(dtype):
    from sk1dcnn.nn.optim import AdamOptimizer

    rng = np.random.default_rng(0)
    P = [rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal(7).astype(dtype)]
    Q = [p.copy() for p in P]
    opt = AdamOptimizer(P, 0.01)
    ms, vs = [np.zeros_like(p) for p in Q], [np.zeros_like(p) for p in Q]
    for t in range(1, 30):
        G = [rng.standard_normal(p.shape).astype(dtype) for p in P]
        if t == 10:
            opt.learning_rate = 0.003
        opt.update_params(P, G)
        lr = 0.01 if t < 10 else 0.003
        step = float(lr * np.sqrt(1 - 0.999**t) / (1 - 0.9**t))
        for p, g, m, v in zip(Q, G, ms, vs):
            m *= 0.9
            m += (1 - 0.9) * g
            v *= 0.999
            v += (1 - 0.999) * (g * g)
            p -= (step * m) / (np.sqrt(v) + 1e-8)
        for a, b in zip(P, Q):
            np.testing.assert_array_equal(a, b)


def test_adam_pickled_with_moment_lists_resumes():
    """An optimizer pickled before the moments became flat vectors (``ms``/``vs``
    lists in its state) loads and continues exactly as the current one does."""
    from sk1dcnn.nn.optim import AdamOptimizer

    rng = np.random.default_rng(0)
    P = [rng.standard_normal((4, 3)), rng.standard_normal(5)]
    opt = AdamOptimizer(P, 0.01)
    opt.update_params(P, [rng.standard_normal(p.shape) for p in P])
    old_state = {k: v for k, v in opt.__getstate__().items() if k not in ("_m", "_v", "_shapes")}
    old_state.update(ms=[m.copy() for m in opt.ms], vs=[v.copy() for v in opt.vs])
    old = AdamOptimizer.__new__(AdamOptimizer)
    old.__setstate__(old_state)
    Q = [p.copy() for p in P]
    G = [rng.standard_normal(p.shape) for p in P]
    opt.update_params(P, G)
    old.update_params(Q, G)
    for a, b in zip(P, Q):
        np.testing.assert_array_equal(a, b)

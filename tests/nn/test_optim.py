"""Optimizers against hand-computed updates, schedules against their formulas,
and the augmentation functions' contracts."""

import math

import numpy as np
import pytest
from sklearn.neural_network import _stochastic_optimizers as sk_opt

from sk1dcnn.nn.augment import (
    AUGMENTATIONS,
    DEFAULT_AUGMENT,
    amplitude_scale,
    apply_augment,
    gaussian_noise,
    resolve_augment,
    time_shift,
)
from sk1dcnn.nn.optim import AdamOptimizer, SGDOptimizer
from sk1dcnn.nn.schedules import SCHEDULES, scheduled_rate


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


# --------------------------------------------------------------------------- #
# Schedules
# --------------------------------------------------------------------------- #
FORMULAS = {
    "constant": lambda e, lr0: lr0,
    "adaptive": lambda e, lr0: lr0,  # the training loop divides it; per epoch it is constant
    "invscaling": lambda e, lr0: lr0 / math.sqrt(e + 1),
    "step": lambda e, lr0: lr0 * 0.5 ** (e // 10),
    "exponential": lambda e, lr0: lr0 * math.exp(math.log(0.5) * e / 10),
    "cosine": lambda e, lr0: lr0 * (1 + math.cos(math.pi * min(e, 200) / 200)) / 2,
}


def test_every_schedule_has_a_formula():
    assert set(SCHEDULES) == set(FORMULAS)


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_schedule_default_formula(name):
    for epoch in [0, 1, 2, 5, 9, 10, 11, 19, 20, 37, 100, 199, 200, 250]:
        got = SCHEDULES[name](epoch, 0.3)
        assert got == pytest.approx(FORMULAS[name](epoch, 0.3), rel=1e-12, abs=1e-15), epoch
        assert scheduled_rate(name, epoch, 0.3) == got


def test_step_schedule_with_arguments():
    kw = dict(lr_decay_rate=0.1, lr_decay_steps=3)
    got = [SCHEDULES["step"](e, 1.0, **kw) for e in range(8)]
    np.testing.assert_allclose(got, [1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01], rtol=1e-12)


def test_exponential_schedule_with_arguments():
    kw = dict(lr_decay_rate=0.1, lr_decay_steps=4)
    assert SCHEDULES["exponential"](0, 2.0, **kw) == pytest.approx(2.0)
    assert SCHEDULES["exponential"](4, 2.0, **kw) == pytest.approx(0.2)
    assert SCHEDULES["exponential"](8, 2.0, **kw) == pytest.approx(0.02)
    assert SCHEDULES["exponential"](2, 2.0, **kw) == pytest.approx(2.0 * 0.1**0.5)


def test_cosine_schedule_with_arguments():
    f = SCHEDULES["cosine"]
    assert f(0, 0.4, max_iter=20) == pytest.approx(0.4)
    assert f(10, 0.4, max_iter=20) == pytest.approx(0.2)
    assert f(5, 0.4, max_iter=20) == pytest.approx(0.2 * (1 + math.sqrt(0.5)))
    assert f(20, 0.4, max_iter=20) == pytest.approx(0.0, abs=1e-15)
    assert f(30, 0.4, max_iter=20) == pytest.approx(0.0, abs=1e-15)
    rates = [f(e, 0.4, max_iter=20) for e in range(21)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))


def test_invscaling_schedule_with_power():
    f = SCHEDULES["invscaling"]
    assert f(0, 0.5, power_t=0.25) == pytest.approx(0.5)
    assert f(15, 0.5, power_t=0.25) == pytest.approx(0.25)  # 16 ** 0.25 == 2
    assert f(3, 0.5, power_t=1.0) == pytest.approx(0.125)


def test_schedules_ignore_unrelated_keywords():
    kw = dict(power_t=0.5, lr_decay_rate=0.5, lr_decay_steps=10, max_iter=200)
    for name, f in SCHEDULES.items():
        assert f(7, 0.1, **kw) == pytest.approx(FORMULAS[name](7, 0.1))


# --------------------------------------------------------------------------- #
# Augmentation
# --------------------------------------------------------------------------- #
@pytest.fixture
def X():
    return np.random.default_rng(0).uniform(0.5, 2.0, (6, 40, 2))


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_augment_keeps_shape_dtype_and_is_reproducible(X, name, dtype):
    X = X.astype(dtype)
    X0 = X.copy()
    f = AUGMENTATIONS[name]
    a = f(X, np.random.default_rng(42), 0.2)
    b = f(X, np.random.default_rng(42), 0.2)
    c = f(X, np.random.default_rng(43), 0.2)
    assert a.shape == X.shape and a.dtype == dtype
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, X)
    np.testing.assert_array_equal(X, X0)  # input left untouched


def test_apply_augment_reproducible_and_empty_is_identity(X):
    a = apply_augment(X, np.random.default_rng(1), DEFAULT_AUGMENT)
    b = apply_augment(X, np.random.default_rng(1), dict(DEFAULT_AUGMENT))
    assert a.shape == X.shape
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(apply_augment(X, np.random.default_rng(1), {}), X)


def infer_shift(src, out, max_shift):
    """Every shift in [-m, m] for which out is src shifted and zero-filled."""
    L = src.shape[0]
    found = []
    for s in range(-max_shift, max_shift + 1):
        ref = np.zeros_like(src)
        if s >= 0:
            ref[s:] = src[: L - s]
        else:
            ref[:s] = src[-s:]
        if np.array_equal(out, ref):
            found.append(s)
    return found


@pytest.mark.parametrize("max_shift, m", [(0.1, 4), (0.25, 10), (3, 3)])
def test_time_shift_zero_fills_and_shifts_by_drawn_amount(max_shift, m):
    N, L = 40, 40
    X = np.arange(1.0, N * L * 2 + 1).reshape(N, L, 2)  # all distinct and non-zero
    out = time_shift(X, np.random.default_rng(7), max_shift)
    shifts = []
    for n in range(N):
        found = infer_shift(X[n], out[n], m)
        assert len(found) == 1, f"sample {n} is not a zero-filled shift within +-{m}"
        shifts.append(found[0])
    # the amount is the integer drawn uniformly in [-m, m] from the given rng
    drawn = np.random.default_rng(7).integers(-m, m + 1, size=N)
    np.testing.assert_array_equal(shifts, drawn)
    assert min(shifts) < 0 < max(shifts)
    for n, s in enumerate(shifts):
        n_zero = abs(s) * 2
        assert (out[n] == 0).sum() == n_zero


def test_time_shift_zero_amount_is_identity():
    X = np.ones((2, 10, 1))
    np.testing.assert_array_equal(time_shift(X, np.random.default_rng(0), 0.01), X)


def test_amplitude_scale_multiplies_whole_signals(X):
    out = amplitude_scale(X, np.random.default_rng(3), 0.2)
    ratio = out / X
    per_sample = ratio[:, :1, :1]
    np.testing.assert_allclose(ratio, np.broadcast_to(per_sample, ratio.shape), rtol=1e-12)
    assert np.unique(per_sample.round(12)).size == X.shape[0]
    big = amplitude_scale(np.ones((4000, 1, 1)), np.random.default_rng(0), 0.2).ravel()
    assert abs(big.mean() - 1) < 0.02 and abs(big.std() - 0.2) < 0.02


def test_gaussian_noise_scales_with_each_signal_std():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 3000, 2)) * np.array([0.5, 2.0, 10.0])[:, None, None]
    noise = gaussian_noise(X, np.random.default_rng(1), 0.1) - X
    np.testing.assert_allclose(noise.std(axis=(1, 2)), 0.1 * X.std(axis=(1, 2)), rtol=0.05)
    assert np.abs(noise.mean(axis=(1, 2))).max() < 0.05 * X.std(axis=(1, 2)).max()


def test_resolve_augment():
    assert resolve_augment(None) == {}
    assert resolve_augment(False) == {}
    default = resolve_augment(True)
    assert default == DEFAULT_AUGMENT
    default["noise"] = 123.0
    assert DEFAULT_AUGMENT["noise"] != 123.0  # a copy
    assert resolve_augment({"time_shift": 2, "noise": 0}) == {"time_shift": 2.0}


def test_resolve_augment_rejects_unknown_keys_by_name():
    with pytest.raises(ValueError, match=r"unknown key.*'bogus'.*'jitter'"):
        resolve_augment({"noise": 0.1, "jitter": 0.2, "bogus": 1})
    with pytest.raises(ValueError, match="time_shift"):  # and names the allowed ones
        resolve_augment({"shift": 0.1})


@pytest.mark.parametrize("bad", [{"noise": -0.1}, {"noise": float("nan")}, {"noise": "0.1"},
                                 {"noise": True}, "yes", 0.1])
def test_resolve_augment_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="augment"):
        resolve_augment(bad)

"""The augmentation functions' contracts: shapes, reproducibility, drawn amounts."""

import numpy as np
import pytest

from sk1dcnn.nn.augment import (
    AUGMENTATIONS,
    DEFAULT_AUGMENT,
    amplitude_scale,
    apply_augment,
    gaussian_noise,
    resolve_augment,
    time_shift,
)


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

"""Input scaling inside the estimators, the NaN refusal, and the length-bounded 'auto' head."""

import re

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from sk1dcnn import CNN1DClassifier, CNN1DRegressor
from sk1dcnn.datasets import load_ucr
from sk1dcnn.preprocessing import SeriesStandardScaler

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def ecg200():
    return load_ucr("ECG200")


def _fit_score(X, y, Xt, yt, **params):
    est = CNN1DClassifier(random_state=0, max_iter=8, filters=(8, 16), hidden_layer_sizes=(16,),
                          **params)
    return est.fit(X, y).score(Xt, yt)


def test_scale_robustness_on_ecg200(ecg200):
    """The same beats x100 + 50 (values in the hundreds) score as the originals."""
    X, y, Xt, yt = ecg200
    base = _fit_score(X, y, Xt, yt)
    moved = _fit_score(X * 100 + 50, y, Xt * 100 + 50, yt)
    assert base > 0.75  # it learnt something in 8 epochs
    assert abs(moved - base) <= 0.03  # same accuracy within noise (3 of 100 test beats)


@pytest.mark.parametrize("scaling, oracle", [
    ("per_series", lambda X, Xfit: SeriesStandardScaler().fit_transform(X)),
    ("global", lambda X, Xfit: (X - Xfit.mean()) / Xfit.std()),
])
def test_input_scaling_matches_its_oracle(ecg200, scaling, oracle):
    """input_scaling=... fits and predicts as input_scaling=None on hand-scaled data."""
    X, y, Xt, _ = ecg200
    X, y, Xt = X[:40] * 30 - 7, y[:40], Xt[:20] * 30 - 7
    params = dict(random_state=0, max_iter=2, filters=(4,), hidden_layer_sizes=(8,),
                  dtype="float64")
    inside = CNN1DClassifier(input_scaling=scaling, **params).fit(X, y)
    outside = CNN1DClassifier(input_scaling=None, **params).fit(oracle(X, X), y)
    np.testing.assert_allclose(inside.predict_proba(Xt), outside.predict_proba(oracle(Xt, X)),
                               rtol=1e-9, atol=1e-12)


def test_global_scaling_uses_training_statistics_per_channel():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 2, 30)) * np.array([1.0, 50.0])[None, :, None] + 5.0
    y = np.arange(10) % 2
    est = CNN1DRegressor(input_scaling="global", max_iter=1, filters=(3,), random_state=0)
    est.fit(X, y.astype(float))
    X3 = est._scale_input(X, est._input_stats_)
    np.testing.assert_allclose(X3.mean(axis=(0, 2)), 0.0, atol=1e-12)
    np.testing.assert_allclose(X3.std(axis=(0, 2)), 1.0, rtol=1e-12)


def test_global_scaling_fits_values_beyond_float32():
    """1e39-scale X is standardised in float64 before the float32 network sees it."""
    X = np.random.default_rng(7).normal(size=(10, 12))
    y = np.arange(10) % 2
    params = dict(filters=(2,), hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    huge = CNN1DClassifier(**params).fit(X * 1e39, y)
    plain = CNN1DClassifier(**params).fit(X, y)
    np.testing.assert_allclose(huge.predict_proba(X * 1e39), plain.predict_proba(X),
                               rtol=1e-4, atol=1e-6)


def test_constant_series_do_not_become_nan():
    X = np.vstack([np.full((3, 16), 4.0), np.random.default_rng(0).normal(size=(3, 16))])
    est = CNN1DClassifier(max_iter=1, filters=(2,), random_state=0).fit(X, [0, 1, 0, 1, 0, 1])
    assert np.isfinite(est.predict_proba(X)).all()


def test_defaults():
    assert CNN1DClassifier().input_scaling == "global"
    assert CNN1DClassifier().global_pool == "auto"
    assert CNN1DRegressor().input_scaling is None  # targets are not rescaled either
    with pytest.raises(InvalidParameterError, match="input_scaling"):
        CNN1DClassifier(input_scaling="minmax").fit(np.zeros((4, 16)), [0, 1, 0, 1])


@pytest.mark.parametrize("n_timepoints, positions", [(24, 3), (96, 12), (255, 31), (256, 16),
                                                      (1800, 16)])
def test_auto_head_is_bounded_on_long_series(n_timepoints, positions):
    """global_pool='auto' flattens at most 31 positions, however long the series."""
    est = CNN1DClassifier(global_pool="auto")
    table = est.summary(input_shape=(1, n_timepoints), n_outputs=3)
    flat = next(line for line in table.splitlines() if "Flatten()" in line)
    assert f"(None, {positions * 64})" in flat
    n_params = int(re.search(r"Total params: ([\d,]+)", table).group(1).replace(",", ""))
    head = positions * 64 * 64 + 64 + 64 * 3 + 3
    conv = (5 * 1 * 16 + 16) + (5 * 16 * 32 + 32) + (5 * 32 * 64 + 64)
    assert n_params == conv + head

"""sk1dcnn.preprocessing: the generic transformers on (n_samples, n_channels, n_timepoints)."""

import re

import numpy as np
import pytest
from scipy import signal
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.utils import get_tags
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sk1dcnn.preprocessing import (
    BandpassFilter, CropOrPad, FillMissing, Resampler, SeriesStandardScaler)
from sk1dcnn.signal import crop_or_pad, resample_signal

ALL = [BandpassFilter(), Resampler(), SeriesStandardScaler(), CropOrPad(length=50), FillMissing()]


@pytest.fixture
def X3():
    return np.random.default_rng(0).normal(size=(5, 2, 400))


# --------------------------------------------------------------------------- #
# BandpassFilter
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "low, high, btype, wn",
    [(0.5, 40.0, "bandpass", [0.5, 40.0]), (None, 40.0, "lowpass", 40.0), (0.5, None, "highpass", 0.5)],
)
def test_bandpass_matches_scipy(X3, low, high, btype, wn):
    sos = signal.butter(4, wn, btype=btype, fs=360.0, output="sos")
    expected = signal.sosfiltfilt(sos, X3, axis=-1)
    f = BandpassFilter(low=low, high=high, fs=360.0, order=4)
    np.testing.assert_allclose(f.fit_transform(X3), expected, rtol=1e-12, atol=1e-12)
    # 2-D input gives 2-D output with the same rows.
    out2 = f.fit_transform(X3[:, 0])
    assert out2.shape == X3[:, 0].shape
    np.testing.assert_allclose(out2, expected[:, 0], rtol=1e-12, atol=1e-12)


def test_bandpass_removes_out_of_band_tone():
    fs = 360.0
    t = np.arange(3600) / fs
    slow, fast = np.sin(2 * np.pi * 10 * t), np.sin(2 * np.pi * 100 * t)
    out = BandpassFilter(low=5, high=20, fs=fs).transform((slow + fast)[None])
    inner = slice(360, -360)  # away from the edges
    np.testing.assert_allclose(out[0, inner], slow[inner], atol=0.05)


def test_bandpass_errors():
    X = np.zeros((2, 1000))
    with pytest.raises(ValueError, match=r"Nyquist frequency fs/2 = 180.0 Hz"):
        BandpassFilter(high=200.0, fs=360.0).fit(X)
    with pytest.raises(ValueError, match="both be None"):
        BandpassFilter(low=None, high=None).fit(X)
    with pytest.raises(ValueError, match="smaller than high"):
        BandpassFilter(low=30, high=20).fit(X)
    sos = signal.butter(4, [0.5, 40], btype="bandpass", fs=360.0, output="sos")
    padlen = 3 * (2 * len(sos) + 1)
    with pytest.raises(ValueError, match=rf"too short.*at least {padlen + 1} timepoints"):
        BandpassFilter().fit(np.zeros((2, padlen)))
    BandpassFilter().fit(np.zeros((2, padlen + 1)))  # just long enough
    with pytest.raises(InvalidParameterError, match="order"):
        BandpassFilter(order=0).fit(X)


# --------------------------------------------------------------------------- #
# Resampler
# --------------------------------------------------------------------------- #
def test_resampler_matches_resample_poly(X3):
    out = Resampler(orig_fs=360.0, target_fs=250.0).fit_transform(X3)
    expected = signal.resample_poly(X3, 25, 36, axis=-1)  # 250/360 reduced by gcd 10
    assert out.shape == (5, 2, 278)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    out2 = Resampler(orig_fs=2, target_fs=1).fit_transform(X3[:, 1])
    np.testing.assert_allclose(out2, signal.resample_poly(X3[:, 1], 1, 2, axis=-1))
    # Same rate: unchanged copy.
    np.testing.assert_array_equal(resample_signal(X3, 360, 360.0), X3)


# --------------------------------------------------------------------------- #
# SeriesStandardScaler
# --------------------------------------------------------------------------- #
def test_series_standard_scaler(X3):
    X = X3 * np.array([1.0, 5.0])[None, :, None] + 3.0
    out = SeriesStandardScaler().fit_transform(X)
    np.testing.assert_allclose(out.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=-1), 1, atol=1e-12)
    expected = (X - X.mean(-1, keepdims=True)) / X.std(-1, keepdims=True)
    np.testing.assert_allclose(out, expected)
    # 2-D, constant rows -> zeros (no NaN); float32 stays float32.
    const = np.full((2, 10), 7.0, dtype=np.float32)
    out = SeriesStandardScaler().fit_transform(const)
    assert out.dtype == np.float32 and np.all(out == 0)
    np.testing.assert_allclose(SeriesStandardScaler(with_std=False).transform(X), X - X.mean(-1, keepdims=True))
    np.testing.assert_allclose(
        SeriesStandardScaler(with_mean=False).transform(X), X / X.std(-1, keepdims=True)
    )


# --------------------------------------------------------------------------- #
# CropOrPad
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "mode, length, expected",
    [
        ("left", 3, [0, 1, 2]),
        ("right", 3, [3, 4, 5]),
        ("center", 3, [1, 2, 3]),
        ("left", 8, [0, 1, 2, 3, 4, 5, -1, -1]),
        ("right", 8, [-1, -1, 0, 1, 2, 3, 4, 5]),
        ("center", 9, [-1, 0, 1, 2, 3, 4, 5, -1, -1]),
        ("center", 6, [0, 1, 2, 3, 4, 5]),
    ],
)
def test_crop_or_pad(mode, length, expected):
    X = np.arange(6.0)[None, None, :].repeat(2, axis=0)
    out = CropOrPad(length=length, mode=mode, pad_value=-1).fit_transform(X)
    assert out.shape == (2, 1, length)
    np.testing.assert_array_equal(out[1, 0], expected)
    np.testing.assert_array_equal(CropOrPad(length, mode=mode, pad_value=-1).transform(X[:, 0]), out[:, 0])
    # the transformer applies sk1dcnn.signal.crop_or_pad along the last axis
    np.testing.assert_array_equal(out, crop_or_pad(X, length, mode=mode, pad_value=-1))


# --------------------------------------------------------------------------- #
# FillMissing
# --------------------------------------------------------------------------- #
NAN = np.nan
#: a series of length 4 padded to 6, with a gap; a complete one; an empty one
X_MISSING = np.array([[1.0, NAN, 5.0, 7.0, NAN, NAN],
                      [0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
                      [NAN] * 6])


@pytest.mark.parametrize("padding, gaps, expected_first", [
    ("edge", "linear", [1.0, 3.0, 5.0, 7.0, 7.0, 7.0]),
    ("constant", "linear", [1.0, 3.0, 5.0, 7.0, -1.0, -1.0]),
    ("constant", "constant", [1.0, -1.0, 5.0, 7.0, -1.0, -1.0]),
    # the length-4 series [1, 3, 5, 7] stretched over 6 points: np.interp oracle
    ("resample", "linear", np.interp(np.linspace(0, 3, 6), [0, 1, 2, 3], [1.0, 3.0, 5.0, 7.0])),
])
def test_fill_missing(padding, gaps, expected_first):
    out = FillMissing(padding=padding, gaps=gaps, fill_value=-1.0).fit_transform(X_MISSING)
    np.testing.assert_allclose(out[0], expected_first, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(out[1], X_MISSING[1])  # complete series untouched
    np.testing.assert_array_equal(out[2], np.full(6, -1.0))  # nothing observed
    assert not np.isnan(out).any()


def test_fill_missing_leading_gap_and_channels():
    X = np.array([[[NAN, NAN, 2.0, 4.0]], [[1.0, 2.0, 3.0, 4.0]]])
    X = np.concatenate([X, X[:, :, ::-1]], axis=1)  # channel 1: NaN at the end
    out = FillMissing(padding="edge").fit_transform(X)
    assert out.shape == X.shape
    np.testing.assert_array_equal(out[0, 0], [2.0, 2.0, 2.0, 4.0])  # leading NaN: first value
    np.testing.assert_array_equal(out[0, 1], [4.0, 2.0, 2.0, 2.0])  # trailing NaN: last value
    np.testing.assert_array_equal(out[1], X[1])


def test_fill_missing_feeds_the_estimator_that_refuses_nan():
    from sk1dcnn import CNN1DClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 20))
    X[::3, 15:] = NAN  # unequal lengths
    X[1, 4] = NAN  # a gap
    y = np.arange(12) % 2
    msg = ("Input X contains NaN: 21 values in 5 of 12 signals. CNN1DClassifier does not "
           "accept missing values.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        CNN1DClassifier(max_iter=1).fit(X, y)
    pipe = make_pipeline(FillMissing(), CNN1DClassifier(max_iter=1, random_state=0)).fit(X, y)
    assert pipe.predict(X).shape == (12,)
    fitted = CNN1DClassifier(max_iter=1).fit(np.nan_to_num(X), y)
    with pytest.raises(ValueError, match=re.escape("Input X contains NaN: 21 values")):
        fitted.predict(X)


# --------------------------------------------------------------------------- #
# sklearn API
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("est", ALL, ids=lambda e: type(e).__name__)
def test_clone_params_tags(est):
    c = clone(est)
    assert c.get_params() == est.get_params()
    assert c is not est
    tags = get_tags(est)
    assert tags.input_tags.three_d_array and not tags.requires_fit


@pytest.mark.parametrize("est", ALL, ids=lambda e: type(e).__name__)
def test_transform_without_fit_and_ndim(est, X3):
    out3 = clone(est).transform(X3)
    out2 = clone(est).transform(X3[:, 0])
    assert out3.ndim == 3 and out2.ndim == 2
    np.testing.assert_allclose(out3[:, 0], out2, rtol=1e-12, atol=1e-12)
    fitted = clone(est).fit(X3)
    assert fitted.n_features_in_ == 2
    with pytest.raises(ValueError, match="4-D"):
        clone(est).fit_transform(X3[..., None])


# BandpassFilter is left out on purpose: the common checks fit 2-5 timepoint
# signals, which sosfiltfilt cannot filter (it raises the named "too short" error).
@parametrize_with_checks([Resampler(), SeriesStandardScaler(), CropOrPad(length=3), FillMissing()])
def test_sklearn_common_checks(estimator, check):
    check(estimator)


def test_pipeline_and_set_params(X3):
    pipe = make_pipeline(
        BandpassFilter(low=0.5, high=40.0, fs=360.0),
        Resampler(orig_fs=360.0, target_fs=180.0),
        SeriesStandardScaler(),
        CropOrPad(length=150),
    )
    out = pipe.fit_transform(X3)
    assert out.shape == (5, 2, 150)
    # Same as applying the SciPy steps by hand.
    sos = signal.butter(4, [0.5, 40.0], btype="bandpass", fs=360.0, output="sos")
    manual = signal.resample_poly(signal.sosfiltfilt(sos, X3, axis=-1), 1, 2, axis=-1)
    manual = (manual - manual.mean(-1, keepdims=True)) / manual.std(-1, keepdims=True)
    np.testing.assert_allclose(out, manual[..., 25:175], rtol=1e-10, atol=1e-10)
    pipe.set_params(croporpad__length=100)
    assert pipe.fit_transform(X3).shape == (5, 2, 100)
    c = clone(pipe)
    assert c.get_params()["bandpassfilter__high"] == 40.0


def test_invalid_params_raise_at_fit():
    with pytest.raises(InvalidParameterError, match="mode"):
        CropOrPad(length=10, mode="middle").fit(np.zeros((2, 20)))
    with pytest.raises(InvalidParameterError, match="target_fs"):
        Resampler(target_fs=0).fit(np.zeros((2, 20)))

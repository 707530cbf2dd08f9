"""sk1dcnn.audio.features: mel scale and filterbank, LogMelSpectrogram, ClipStandardScaler,
AmplitudeNormalizer."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sk1dcnn import CNN1DClassifier, persistence
from sk1dcnn.audio.features import (
    AmplitudeNormalizer,
    ClipStandardScaler,
    LogMelSpectrogram,
    hz_to_mel,
    mel_filterbank,
    mel_to_hz,
)
from sk1dcnn.audio.fsdd import load_fsdd
from sk1dcnn.preprocessing import SeriesStandardScaler


@parametrize_with_checks([AmplitudeNormalizer(), ClipStandardScaler(), LogMelSpectrogram(n_fft=4, hop_length=2, n_mels=2,
                                                                   fmin=0.0)])
def test_sklearn_compatible_transformer(estimator, check):
    check(estimator)


def test_amplitude_normalizer():
    X = np.random.default_rng(0).standard_normal((3, 2, 100)) * [[[2.0], [0.1]]]
    P = AmplitudeNormalizer("peak").fit_transform(X)
    np.testing.assert_allclose(np.abs(P).max(axis=-1), 1.0)
    R = AmplitudeNormalizer("rms").fit_transform(X)
    np.testing.assert_allclose(np.sqrt((R ** 2).mean(axis=-1)), 1.0)
    Z = AmplitudeNormalizer("rms").fit_transform(np.zeros((2, 10)))
    assert np.all(Z == 0)


def test_mel_scale_roundtrip_and_filterbank_peaks():
    f = np.array([0.0, 700.0, 1000.0, 4000.0])
    np.testing.assert_allclose(hz_to_mel(700.0), 2595 * np.log10(2))
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f)), f, atol=1e-9)
    fs, n_fft, n_mels = 8000, 2048, 20
    W = mel_filterbank(fs, n_fft, n_mels, fmin=50.0, fmax=3900.0)
    assert W.shape == (n_mels, n_fft // 2 + 1)
    centres = mel_to_hz(np.linspace(hz_to_mel(50.0), hz_to_mel(3900.0), n_mels + 2))[1:-1]
    bin_hz = fs / n_fft
    peaks = W.argmax(axis=1) * bin_hz
    assert np.all(np.abs(peaks - centres) < bin_hz)   # peak at the bin next to the centre
    assert np.all(W.max(axis=1) > 1 - bin_hz / np.diff(centres).min())
    assert W.max() <= 1.0 and W.min() >= 0.0
    # centres are equally spaced in mel, not in Hz
    np.testing.assert_allclose(np.diff(hz_to_mel(centres)), np.diff(hz_to_mel(centres))[0])
    # neighbouring triangles cross at 0.5 when sampled at their crossing; together they cover the band
    freqs = np.arange(n_fft // 2 + 1) * bin_hz
    inside = (freqs > centres[0]) & (freqs < centres[-1])
    np.testing.assert_allclose(W[:, inside].sum(axis=0), 1.0, atol=1e-9)
    S = mel_filterbank(fs, n_fft, n_mels, fmin=50.0, fmax=3900.0, norm="slaney")
    np.testing.assert_allclose((S * bin_hz).sum(axis=1), 1.0, rtol=0.02)  # unit area
    with pytest.raises(ValueError, match="fmax"):
        mel_filterbank(fs, n_fft, fmax=5000.0)


@pytest.mark.parametrize("center", [True, False])
def test_log_mel_matches_direct_computation(center):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 1000))
    tr = LogMelSpectrogram(fs=8000, n_fft=200, hop_length=80, n_mels=24, fmin=20.0, center=center)
    out = tr.fit_transform(x)
    # direct: frame by frame, periodic Hann window, |rfft|**2, filterbank, log
    xp = np.pad(x, [(0, 0), (100, 100)]) if center else x
    n_frames = 1 + (xp.shape[1] - 200) // 80
    assert out.shape == (2, 24, n_frames)
    assert n_frames == (1 + 1000 // 80 if center else 1 + (1000 - 200) // 80)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(200) / 200)
    W = mel_filterbank(8000, 200, 24, fmin=20.0)
    direct = np.empty_like(out)
    for i in range(2):
        for t in range(n_frames):
            frame = xp[i, t * 80: t * 80 + 200]
            power = np.abs(np.fft.rfft(w * frame)) ** 2
            direct[i, :, t] = np.log(W @ power + 1e-6)
    np.testing.assert_allclose(out, direct, rtol=1e-9, atol=1e-9)


def test_log_mel_shapes_and_pure_tone():
    fs = 8000
    t = np.arange(4000) / fs
    X = np.stack([np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 300 * t)])[:, None, :]
    tr = LogMelSpectrogram(fs=fs, n_mels=32)
    out = tr.fit_transform(X.astype(np.float32))
    assert out.shape == (2, 32, 1 + 4000 // 80) and out.dtype == np.float32
    centres = mel_to_hz(np.linspace(hz_to_mel(20.0), hz_to_mel(4000.0), 34))[1:-1]
    for i, f0 in enumerate((1000, 300)):
        band = out[i, :, 10:-10].mean(axis=1).argmax()
        assert abs(centres[band] - f0) < 100
    two = LogMelSpectrogram(fs=fs, n_mels=8).fit_transform(np.concatenate([X, X], axis=1))
    assert two.shape == (2, 16, 51)
    np.testing.assert_allclose(two[:, :8], two[:, 8:])
    with pytest.raises(ValueError, match="too short"):
        LogMelSpectrogram(n_fft=256, center=False).fit(np.zeros((2, 100)))


def test_waveform_and_spectrogram_front_ends_feed_the_same_cnn():
    d = load_fsdd("shipped", length=6561, digits=[0, 1])
    mel = LogMelSpectrogram(fs=8000, n_mels=20).fit_transform(d.X_train)
    assert mel.shape == (36, 20, 83)
    clf = CNN1DClassifier(filters=(8,), kernel_size=3, hidden_layer_sizes=(8,), max_iter=2,
                          random_state=0).fit(mel, d.y_train)
    assert clf.n_channels_in_ == 20 and clf.n_timepoints_in_ == 83


def test_the_transformers_are_trusted_by_persistence_under_both_paths():
    trusted = persistence.get_trusted_types()
    for name in ("AmplitudeNormalizer", "LogMelSpectrogram"):
        assert f"sk1dcnn.audio.features.{name}" in trusted
        assert f"sk1dcnn.preprocessing.{name}" in trusted  # files saved with sk1dcnn 0.1
    assert f"{LogMelSpectrogram.__module__}.LogMelSpectrogram" == "sk1dcnn.audio.features.LogMelSpectrogram"
    assert "sk1dcnn.audio.features.ClipStandardScaler" in trusted  # new in 0.2: one path


def test_clip_standard_scaler_one_mean_and_scale_per_sample():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 5, 30)) * 3 + np.arange(5)[None, :, None] * 10  # bands at different levels
    Z = ClipStandardScaler().fit_transform(X)
    for x, z in zip(X, Z):  # oracle: the sample's own mean and population std over all its values
        np.testing.assert_allclose(z, (x - x.mean()) / x.std())
    # the bands' levels relative to each other survive (per-band scaling would make them all 0)
    band_means = Z.mean(axis=2)
    assert np.all(np.diff(band_means, axis=1) > 0)
    # 2-D input: the same as SeriesStandardScaler
    X2 = rng.normal(size=(3, 40)) * 2 + 1
    np.testing.assert_allclose(ClipStandardScaler().fit_transform(X2),
                               SeriesStandardScaler().fit_transform(X2))
    # a constant sample maps to zeros, never NaN; the dtype is kept
    C = np.full((2, 3, 8), 7.0, dtype=np.float32)
    out = ClipStandardScaler().fit_transform(C)
    assert out.dtype == np.float32 and np.array_equal(out, np.zeros_like(C))

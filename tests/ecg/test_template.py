"""sk1dcnn.ecg.template: template features by hand, the stream as oracle, causality, real V beats."""

import importlib.util
import re

import numpy as np
import pytest

from sk1dcnn.datasets import shipped_data_dir
from sk1dcnn.ecg.beats import load_mitdb_beats
from sk1dcnn.ecg.template import TEMPLATE_FEATURE_NAMES, TemplateFeatureStream, template_features

needs_wfdb = pytest.mark.skipif(
    importlib.util.find_spec("wfdb") is None, reason="wfdb not installed (pip install sk1dcnn[ecg])"
)


def _base(n=51):
    b = np.sin(np.linspace(0, 2 * np.pi, n)) + 0.3 * np.sin(np.linspace(0, 6 * np.pi, n))
    return b - np.median(b)  # baseline-free, so that c * base keeps its median at 0


def test_names():
    assert TEMPLATE_FEATURE_NAMES == ("template_distance", "qrs_distance", "template_correlation")


def test_scaled_beats_by_hand():
    # beats c_j * base: the sample-wise median of c_j * base is median(c) * base, so every
    # distance is |c_i - m| / |m| with m the median of the template's c, and correlation sign(c_i m)
    rng = np.random.default_rng(0)
    c = rng.uniform(0.5, 2.0, size=57)
    c[40] = -1.0  # an inverted beat
    base = _base()
    F = template_features(c[:, None] * base, fs=100.0, r_index=25, n_template=20, update_every=10)
    for i in range(len(c)):
        start = (i // 10) * 10
        m = np.median(c[:i + 1]) if i < 10 else np.median(c[max(0, start - 20):start])
        d = abs(c[i] - m) / abs(m)
        np.testing.assert_allclose(F[i, :2], [d, d], rtol=1e-9, atol=1e-12)
        assert F[i, 2] == pytest.approx(np.sign(c[i] * m), abs=1e-9)
    assert F[0].tolist() == [0.0, 0.0, pytest.approx(1.0)]
    assert F[40, 2] == pytest.approx(-1.0)


def test_qrs_distance_reads_the_qrs_window_only():
    fs, r = 100.0, 25                       # QRS window: samples 20 .. 35
    base = _base()
    beats = np.vstack([base] * 15)
    beats[-1, 0] += 5.0                     # a change far before the R peak
    beats[-2, 30] += 5.0                    # a change inside the QRS window
    F = template_features(beats, fs, r)
    assert F[-1, 1] == pytest.approx(0.0, abs=1e-12) and F[-1, 0] > 0.5
    assert F[-2, 1] > 0.5


def test_baseline_offset_is_ignored():
    base = _base()
    beats = np.vstack([base] * 12 + [base + 3.0])
    assert template_features(beats, 100.0, 25)[-1].tolist() == pytest.approx([0.0, 0.0, 1.0])


def test_stream_equals_vectorised_and_is_causal():
    rng = np.random.default_rng(1)
    beats = _base()[None] * rng.uniform(0.5, 1.5, size=(137, 1)) + 0.05 * rng.normal(size=(137, 51))
    F = template_features(beats, 100.0, 25, n_template=30, update_every=7)
    s = TemplateFeatureStream(100.0, 25, n_template=30, update_every=7)
    np.testing.assert_array_equal(np.array([s.update(b) for b in beats]), F)
    # beat i's features do not change when the beats after it do
    later = beats.copy()
    later[80:] = rng.normal(size=later[80:].shape)
    np.testing.assert_array_equal(template_features(later, 100.0, 25, n_template=30, update_every=7)[:80],
                                  F[:80])


@needs_wfdb
def test_ventricular_beats_are_far_from_the_template_on_record_233():
    X, y, _, _ = load_mitdb_beats(["233"])      # the shipped 5-minute excerpt: N and V beats
    F = template_features(X[:, 0], 360.0, 90)
    n, v = y == "N", y == "V"
    assert n.sum() > 200 and v.sum() > 50
    assert np.median(F[v, 1]) > 3 * np.median(F[n, 1])
    assert np.median(F[v, 2]) < np.median(F[n, 2])
    # the features separate V from N on this record alone (AUC of the QRS distance)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(v[n | v], F[n | v, 1]) > 0.95
    s = TemplateFeatureStream(360.0, 90)
    np.testing.assert_array_equal(np.array([s.update(b) for b in X[:300, 0]]), F[:300])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(beats=np.zeros(5)), "beats must be 2-D (n_beats, n_timepoints), got shape (5,)"),
        (dict(beats=np.full((3, 5), np.nan)), "beats contain NaN or infinity"),
        (dict(fs=0.0), "fs must be a positive sampling rate in Hz, got 0.0"),
        (dict(r_index=9), "r_index 9 is outside the beat window of 5 samples"),
        (dict(n_template=0), "n_template and update_every must be >= 1, got 0 and 10"),
        (dict(n_template=5), "n_template (5) must be >= update_every (10)"),
        (dict(r_index=2.5), "r_index must be an integer, got 2.5"),
    ],
)
def test_errors(kwargs, message):
    args = dict(beats=np.ones((3, 5)), fs=100.0, r_index=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        template_features(args.pop("beats"), args.pop("fs"), args.pop("r_index"), **args)


def test_distances_are_clipped_at_max_distance():
    from sk1dcnn.ecg.template import MAX_DISTANCE

    base = _base()
    beats = np.vstack([1e-6 * base] * 12 + [base])  # a near-flat template, then a real beat
    F = template_features(beats, 100.0, 25)
    assert F[-1, :2].tolist() == [MAX_DISTANCE, MAX_DISTANCE] and F[-1, 2] == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("n_template, update_every", [(10, 10), (12, 5), (1, 1)])
def test_stream_equals_vectorised_at_the_smallest_windows(n_template, update_every):
    rng = np.random.default_rng(2)
    beats = rng.normal(size=(40, 9))
    s = TemplateFeatureStream(10.0, 4, n_template=n_template, update_every=update_every)
    np.testing.assert_array_equal(np.array([s.update(b) for b in beats]),
                                  template_features(beats, 10.0, 4, n_template=n_template,
                                                    update_every=update_every))


def test_stream_errors():
    with pytest.raises(ValueError, match=re.escape("n_template (3) must be >= update_every (10)")):
        TemplateFeatureStream(100.0, 2, n_template=3)
    s = TemplateFeatureStream(100.0, 2)
    with pytest.raises(ValueError, match=re.escape("beat must be 1-D (n_timepoints,), got shape (2, 5)")):
        s.update(np.ones((2, 5)))
    with pytest.raises(ValueError, match="beat contains NaN or infinity"):
        s.update(np.array([1.0, np.nan, 0.0]))
    with pytest.raises(ValueError, match=re.escape("r_index 2 is outside the beat window of 2 samples")):
        s.update(np.ones(2))
    s.update(np.ones(5))
    with pytest.raises(ValueError, match=re.escape("beat has 6 samples, the stream's earlier beats 5")):
        s.update(np.ones(6))

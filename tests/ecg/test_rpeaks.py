"""sk1dcnn.ecg.rpeaks: R-peak detection and its scoring against annotations."""

import importlib.util

import numpy as np
import pytest

from sk1dcnn.datasets import shipped_data_dir
from sk1dcnn.ecg.records import load_wfdb_record
from sk1dcnn.ecg.rpeaks import detect_r_peaks, evaluate_r_peaks


@pytest.mark.skipif(importlib.util.find_spec("wfdb") is None, reason="wfdb not installed")
def test_detect_r_peaks_mitdb_100_excerpt():
    rec = load_wfdb_record(shipped_data_dir("mitdb", "100"))
    peaks = detect_r_peaks(rec.signal[0], rec.fs)
    scores = evaluate_r_peaks(peaks, rec.ann_samples, rec.fs, reference_symbols=rec.ann_symbols)
    assert scores["sensitivity"] >= 0.99
    assert scores["positive_predictivity"] >= 0.99
    assert scores["tp"] >= 0.99 * np.isin(rec.ann_symbols, ["N", "A", "V"]).sum()


def test_detect_r_peaks_synthetic_spikes():
    fs = 250.0
    rng = np.random.default_rng(1)
    n = int(20 * fs)
    x = 0.02 * rng.normal(size=n)
    true = np.arange(100, n - 100, 200)  # 75 bpm
    k = np.arange(-5, 6)
    x[true[:, None] + k] += np.exp(-(k**2) / 4.0)  # narrow QRS-like bumps
    peaks = detect_r_peaks(x, fs)
    np.testing.assert_allclose(peaks, true, atol=2)
    with pytest.raises(ValueError, match="one ECG lead"):
        detect_r_peaks(np.zeros((2, n)), fs)


def test_evaluate_r_peaks_hand_example():
    fs = 100.0  # tolerance 0.15 s = 15 samples
    reference = [100, 200, 300, 400]
    detected = [105, 198, 199, 330, 500]
    # 105->100, 198/199->200 (only one counts), 330 is 30 samples from 300: a miss.
    s = evaluate_r_peaks(detected, reference, fs)
    assert (s["tp"], s["fp"], s["fn"]) == (2, 3, 2)
    assert s["sensitivity"] == pytest.approx(2 / 4)
    assert s["positive_predictivity"] == pytest.approx(2 / 5)
    # One-to-one: a detection between two close references matches only one.
    s = evaluate_r_peaks([110], [100, 120], fs)
    assert (s["tp"], s["fp"], s["fn"]) == (1, 0, 1)
    # A second round lets a reference take its second-nearest free detection.
    s = evaluate_r_peaks([104, 118], [100, 110], fs)
    assert (s["tp"], s["fp"], s["fn"]) == (2, 0, 0)
    # Non-beat annotations are not counted when symbols are given.
    s = evaluate_r_peaks([100, 200], [100, 150, 200], fs, reference_symbols=["N", "+", "V"])
    assert (s["tp"], s["fp"], s["fn"]) == (2, 0, 0)
    s = evaluate_r_peaks([], [], fs)
    assert np.isnan(s["sensitivity"]) and s["tp"] == 0

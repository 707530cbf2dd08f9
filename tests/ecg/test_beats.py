"""sk1dcnn.ecg.beats: beat windows around annotations."""

import importlib.util
import re

import numpy as np
import pytest

from sk1dcnn.datasets import find_shared_data, shipped_data_dir
from sk1dcnn.ecg.beats import extract_beats, load_mitdb_beats
from sk1dcnn.ecg.labels import AAMI_CLASSES
from sk1dcnn.ecg.records import load_wfdb_record

needs_wfdb = pytest.mark.skipif(
    importlib.util.find_spec("wfdb") is None, reason="wfdb not installed (pip install sk1dcnn[ecg])"
)


def test_extract_beats_shapes_labels_and_edges():
    fs = 100.0
    signal = np.vstack([np.arange(1000.0), -np.arange(1000.0)])
    samples = np.array([10, 300, 310, 500, 700, 990])
    symbols = np.array(["N", "+", "V", "A", "F", "N"])
    X, y, pos = extract_beats(signal, fs, samples, symbols, before=0.25, after=0.45)
    # 10 and 990 run off the edges; "+" is not a beat.
    np.testing.assert_array_equal(pos, [310, 500, 700])
    np.testing.assert_array_equal(y, ["V", "S", "F"])
    assert X.shape == (3, 1, 70)
    np.testing.assert_array_equal(X[1, 0], np.arange(475.0, 545.0))
    X2, _, _ = extract_beats(signal, fs, samples, symbols, channel=None)
    assert X2.shape == (3, 2, 70)
    np.testing.assert_array_equal(X2[:, 1], -X2[:, 0])
    X3, _, _ = extract_beats(signal, fs, samples, symbols, channel=1)
    np.testing.assert_array_equal(X3[:, 0], X2[:, 1])
    # A 1-D signal is one channel.
    X4, _, _ = extract_beats(signal[0], fs, samples, symbols)
    np.testing.assert_array_equal(X4, X)
    with pytest.raises(ValueError, match="channel"):
        extract_beats(signal, fs, samples, symbols, channel=2)


def test_extract_beats_target_fs():
    fs = 360.0
    t = np.arange(3600) / fs
    signal = np.sin(2 * np.pi * 1.0 * t)
    X, y, pos = extract_beats(signal, fs, [1800], ["N"], before=0.25, after=0.45, target_fs=180.0)
    assert X.shape == (1, 1, round(0.25 * 180) + round(0.45 * 180))
    assert pos[0] == 1800  # positions stay at the original rate
    # The resampled window is the sine at half the rate.
    expected = np.sin(2 * np.pi * (np.arange(-45, 81) / 180.0 + 5.0))
    np.testing.assert_allclose(X[0, 0], expected, atol=1e-3)


@needs_wfdb
def test_load_mitdb_beats_shipped():
    X, y, ids, pos = load_mitdb_beats(("100", "233"))
    assert X.ndim == 3 and X.shape[1] == 1 and X.shape[2] == 90 + 162
    assert len(y) == len(ids) == len(pos) == len(X)
    assert set(np.unique(ids)) == {"100", "233"}
    assert set(np.unique(y)) <= set(AAMI_CLASSES)
    rec = load_wfdb_record(shipped_data_dir("mitdb", "100"))
    first = np.flatnonzero(ids == "100")[0]
    p = pos[first]
    np.testing.assert_array_equal(X[first, 0], rec.signal[0, p - 90 : p + 162])
    with pytest.raises(FileNotFoundError, match="Shipped excerpts"):
        load_mitdb_beats(["999"])


@needs_wfdb
def test_load_mitdb_beats_picks_the_lead_by_name():
    rec = load_wfdb_record(shipped_data_dir("mitdb", "100"))
    assert rec.channel_names == ("MLII", "V5")
    X, _, _, pos = load_mitdb_beats(["100"])
    X5, _, _, _ = load_mitdb_beats(["100"], lead="V5")
    Xall, _, _, _ = load_mitdb_beats(["100"], lead="all")
    Xc, _, _, _ = load_mitdb_beats(["100"], channel=1)
    p = pos[3]
    np.testing.assert_array_equal(X[3, 0], rec.signal[0, p - 90 : p + 162])
    np.testing.assert_array_equal(X5[3, 0], rec.signal[1, p - 90 : p + 162])
    np.testing.assert_array_equal(Xall, np.concatenate([X, X5], axis=1))
    np.testing.assert_array_equal(Xc, X5)
    with pytest.raises(ValueError, match=re.escape("lead 'V1' not in record '100', whose leads are ('MLII', 'V5')")):
        load_mitdb_beats(["100"], lead="V1")


@needs_wfdb
def test_load_mitdb_beats_reads_every_record_present_by_default():
    X, y, ids, pos = load_mitdb_beats()
    assert list(dict.fromkeys(ids)) == [
        "100", "101", "106", "118", "119", "200", "208", "209", "232", "233"
    ]


@needs_wfdb
@pytest.mark.skipif(find_shared_data("mitdb") is None, reason="full MIT-BIH records not present")
def test_record_114_gives_mlii_although_its_leads_are_swapped():
    folder = find_shared_data("mitdb")
    rec = load_wfdb_record(folder / "114", sampto=20 * 360)
    assert rec.channel_names == ("V5", "MLII")
    X, y, ids, pos = load_mitdb_beats(["114"], data_dir=folder)
    p = pos[0]
    assert p + 162 <= 20 * 360
    np.testing.assert_array_equal(X[0, 0], rec.signal[1, p - 90 : p + 162])

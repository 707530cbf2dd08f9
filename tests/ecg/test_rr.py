"""sk1dcnn.ecg.rr: RR-interval features, by hand on a shipped record, and causality."""

import importlib.util
import re

import numpy as np
import pytest

from sk1dcnn.datasets import shipped_data_dir
from sk1dcnn.ecg.beats import load_mitdb_beats
from sk1dcnn.ecg.labels import to_aami
from sk1dcnn.ecg.records import load_wfdb_record
from sk1dcnn.ecg.rr import RR_FEATURE_NAMES, RRFeatureStream, rr_features

needs_wfdb = pytest.mark.skipif(
    importlib.util.find_spec("wfdb") is None, reason="wfdb not installed (pip install sk1dcnn[ecg])"
)
FS = 360.0
# The first 15 beat annotations of record 100 (sample, symbol), read from 100.atr with
# `rdann 100 atr`; the "+" rhythm mark at sample 18 is not a beat. Beat 7 is the A beat.
R100 = [77, 370, 662, 946, 1231, 1515, 1809, 2044, 2402, 2706, 2998, 3282, 3560, 3862, 4170]


def _stream(peaks, fs=FS):
    s = RRFeatureStream(fs)
    rows = [s.update(p) for p in peaks]
    assert rows[0] is None
    return np.array(rows[1:] + [s.finish()])


@needs_wfdb
def test_features_by_hand_on_record_100():
    rec = load_wfdb_record(shipped_data_dir("mitdb", "100"))
    beats = rec.ann_samples[to_aami(rec.ann_symbols) != ""]
    np.testing.assert_array_equal(beats[:15], R100)
    assert rec.ann_symbols[to_aami(rec.ann_symbols) != ""][7] == "A"
    f = rr_features(beats, FS)
    assert f.shape == (len(beats), 7)

    # Beat 0: no earlier beat, pre-RR = post-RR = 370-77; the averages fall back to it.
    assert f[0].tolist() == pytest.approx([293 / FS, 293 / FS, 293 / FS, 293 / FS, 1, 1, 1])
    # Beat 7 (the A beat at 2044): pre 2044-1809 = 235, post 2402-2044 = 358 samples; the
    # previous intervals end at beats 1..6 and sum to 1809-77 = 1732 samples, 6 of them.
    avg7 = 1732 / 6
    assert f[7].tolist() == pytest.approx(
        [235 / FS, 358 / FS, avg7 / FS, avg7 / FS, 235 / avg7, 358 / avg7, 1.0]
    )
    # Beat 13 (3862): pre 302, post 308; average of intervals ending at beats 1..12,
    # (3560-77)/12; local: the 10 previous beats 3..12, (3560-662)/10.
    avg13, loc13 = (3560 - 77) / 12, (3560 - 662) / 10
    assert f[13].tolist() == pytest.approx(
        [302 / FS, 308 / FS, loc13 / FS, avg13 / FS, 302 / avg13, 308 / avg13, loc13 / avg13]
    )
    # The last beat: post-RR = pre-RR.
    assert f[-1, 1] == f[-1, 0] == pytest.approx((beats[-1] - beats[-2]) / FS)

    # load_mitdb_beats returns the same rows, aligned with its beats (edge beats dropped).
    X, y, ids, pos, rr = load_mitdb_beats(["100"], rr_features=True)
    assert rr.shape == (len(X), 7)
    np.testing.assert_array_equal(rr, f[np.searchsorted(beats, pos)])
    assert pos[0] == 370  # beat 0 (77) has no full window before it, yet beat 1 keeps its pre-RR
    assert rr[0, 0] == pytest.approx(293 / FS)
    np.testing.assert_array_equal(rr[pos == 2044][0], f[7])


def test_stream_equals_batch_and_reads_at_most_the_next_peak():
    rng = np.random.default_rng(0)
    peaks = np.cumsum(rng.integers(100, 500, size=40))
    f = rr_features(peaks, FS)
    np.testing.assert_allclose(_stream(peaks), f, rtol=1e-12)
    for i in range(len(peaks) - 1):
        later = peaks.copy()
        later[i + 2 :] += rng.integers(1, 300)  # move every peak after i+1
        later[i + 2 :] += np.cumsum(rng.integers(0, 50, size=len(peaks) - i - 2))
        g = rr_features(later, FS)
        np.testing.assert_array_equal(g[: i + 1], f[: i + 1])
        # ...and the stream emitted row i before it saw peak i+2.
        s = RRFeatureStream(FS)
        rows = [s.update(p) for p in peaks[: i + 2]]
        np.testing.assert_allclose(rows[-1], f[i], rtol=1e-12)
    # Moving peak i+1 does change row i (post-RR), so the test above can fail.
    moved = peaks.copy()
    moved[5:] += 50
    assert rr_features(moved, FS)[4, 1] != f[4, 1]


def test_edges_and_errors():
    assert rr_features([], FS).shape == (0, 7)
    assert np.isnan(rr_features([5], FS)).all()
    s = RRFeatureStream(FS)
    assert s.finish() is None
    s.update(5)
    assert np.isnan(s.finish()).all()
    np.testing.assert_allclose(rr_features([0, 360], FS), [[1, 1, 1, 1, 1, 1, 1]] * 2)
    assert len(RR_FEATURE_NAMES) == 7
    with pytest.raises(ValueError, match=re.escape("r_peaks[2] = 300 follows r_peaks[1] = 400")):
        rr_features([0, 400, 300], FS)
    with pytest.raises(ValueError, match="fs must be a positive sampling rate"):
        rr_features([0, 1], 0)
    with pytest.raises(ValueError, match=re.escape("R peaks must be strictly increasing; 3 follows 5")):
        s.update(3)
    with pytest.raises(ValueError, match="n_local must be >= 1"):
        RRFeatureStream(FS, n_local=0)

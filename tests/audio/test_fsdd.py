"""sk1dcnn.audio.fsdd: the Free Spoken Digit Dataset loader (and the deprecated fit_length)."""

import numpy as np
import pytest

from sk1dcnn.audio import fit_length
from sk1dcnn.audio.fsdd import FSDD_FS, load_fsdd
from sk1dcnn.signal import crop_or_pad


def test_load_fsdd_fixture_official_split():
    d = load_fsdd("shipped", length=4000)
    assert d.fs == FSDD_FS == 8000
    assert d.X_train.shape == (180, 4000) and d.X_test.shape == (90, 4000)
    assert d.X_train.dtype == np.float32 and np.abs(d.X_train).max() <= 1.0
    assert set(d.take_test) == {0, 1, 2} and set(d.take_train) == set(range(5, 11))  # takes 0-4 are test
    assert np.bincount(d.y_test).tolist() == [9] * 10
    assert sorted(set(d.speaker_train)) == ["jackson", "nicolas", "theo"]
    # variable-length clips when no length is given, matching the fixed ones
    raw = load_fsdd("shipped", speakers=["theo"], digits=[7])
    assert raw.X_train.dtype == object and len(raw.X_train) == 6 and len(raw.X_test) == 3
    clip = raw.X_test[0]
    assert raw.file_test[0] == "7_theo_0.wav"
    i = list(d.file_test).index("7_theo_0.wav")
    np.testing.assert_array_equal(d.X_test[i], crop_or_pad(clip, 4000))


def test_load_fsdd_leave_one_speaker_out():
    d = load_fsdd("shipped", split="speaker", test_speaker="nicolas", length=2000)
    assert set(d.speaker_test) == {"nicolas"} and "nicolas" not in set(d.speaker_train)
    assert len(d.y_test) == 90 and len(d.y_train) == 180
    with pytest.raises(ValueError, match="test_speaker"):
        load_fsdd("shipped", split="speaker")
    with pytest.raises(FileNotFoundError):
        load_fsdd("/nonexistent/fsdd")


def test_fit_length_is_deprecated_and_still_fits():
    x = np.arange(10.0)
    deprecated = r"fit_length is deprecated .* use sk1dcnn\.signal\.crop_or_pad"
    with pytest.warns(DeprecationWarning, match=deprecated):
        np.testing.assert_array_equal(fit_length(x, 4), [3, 4, 5, 6])
    with pytest.warns(DeprecationWarning):
        np.testing.assert_array_equal(fit_length(x, 4, "left"), [0, 1, 2, 3])
        np.testing.assert_array_equal(fit_length(x[:2], 5), [0, 0, 1, 0, 0])
        w = fit_length(x, 4, "random", rng=np.random.default_rng(0))
        assert np.array_equal(w, np.arange(w[0], w[0] + 4))
        # as in 0.1: 'random' pads a shorter signal in the centre, without drawing
        rng = np.random.default_rng(0)
        np.testing.assert_array_equal(fit_length(x[:2], 5, "random", rng=rng), [0, 0, 1, 0, 0])
        assert rng.integers(1000) == np.random.default_rng(0).integers(1000)

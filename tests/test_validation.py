"""sk1dcnn._validation: per-block parameters, signal dimensions, the engine's layout."""

import re

import numpy as np
import pytest
import scipy.sparse as sp

from sk1dcnn import CNN1DClassifier
from sk1dcnn._validation import check_same_length, check_signal_ndim, per_block, to_channels_last


def test_per_block_broadcasts_an_int_and_keeps_a_sequence():
    assert per_block(5, 3, "kernel_size") == (5, 5, 5)
    assert per_block(np.int64(2), 2, "strides") == (2, 2)
    assert per_block([3, 5], 2, "kernel_size") == (3, 5)
    assert per_block(np.array([1, 2, 4]), 3, "dilation_rate") == (1, 2, 4)


@pytest.mark.parametrize("value, message", [
    ((3, 5), "kernel_size=(3, 5) has 2 entries but filters defines 3 conv block(s); "
             "give one int or 3 ints."),
    ("abc", "kernel_size entries must be positive integers, got 'abc'."),
    (2.5, "kernel_size must be an int or a sequence with one int per conv block, got 2.5."),
    ((3, 0, 5), "kernel_size entries must be positive integers, got (3, 0, 5)."),
    (True, "kernel_size must be an int or a sequence"),
])
def test_per_block_names_the_parameter_and_the_fix(value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        per_block(value, 3, "kernel_size")


def test_check_signal_ndim_refuses_4d_and_passes_the_rest_through():
    with pytest.raises(ValueError, match=re.escape(
            "X must be 2D (n_samples, n_timepoints) or 3D (n_samples, n_channels, "
            "n_timepoints); got a 4D array of shape (2, 1, 3, 4).")):
        check_signal_ndim(np.zeros((2, 1, 3, 4)))
    X = np.zeros((2, 5))
    assert check_signal_ndim(X) is X
    S = sp.csr_matrix(X)
    assert check_signal_ndim(S) is S  # scikit-learn's check names sparse input later
    same = [[1.0, 2.0], [3.0, 4.0]]
    assert check_signal_ndim(same) is same


AGAIN = " Crop or pad them to one length first (sk1dcnn.signal.crop_or_pad)."


@pytest.mark.parametrize("X, message", [
    ([[1.0, 2.0, 3.0], [1.0, 2.0]],
     "All signals must have the same length; got lengths 2 (1 signal) and 3 (1 signal)." + AGAIN),
    ([np.zeros(5), np.zeros(7), np.zeros(5)],
     "All signals must have the same length; got lengths 5 (2 signals) and 7 (1 signal)." + AGAIN),
    ([np.zeros(n) for n in range(1, 8)],
     "All signals must have the same length; got lengths from 1 to 7 timepoints (7 different "
     "ones)." + AGAIN),
    ([np.zeros((2, 4)), np.zeros((2, 6))],
     "All signals must have the same length; got lengths 4 (1 signal) and 6 (1 signal)." + AGAIN),
    ([np.zeros((1, 4)), np.zeros((2, 4))],
     "All signals must have the same number of channels; got channel counts 1 (1 signal) and "
     "2 (1 signal)."),
    ([[[1.0, 2.0], [3.0]]],
     "All channels of a signal must have the same length; signal 0 has channels of lengths "
     "[2, 1]." + AGAIN),
])
def test_ragged_signals_name_the_lengths_seen(X, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        check_same_length(X)
    if all(isinstance(x, np.ndarray) for x in X):
        obj = np.empty(len(X), dtype=object)  # as load_fsdd(length=None) returns clips
        obj[:] = X
        with pytest.raises(ValueError, match=re.escape(message)):
            check_same_length(obj)


def test_an_object_array_of_equal_length_signals_is_stacked():
    obj = np.empty(3, dtype=object)
    obj[:] = [np.arange(4.0) + i for i in range(3)]
    np.testing.assert_array_equal(check_same_length(obj), np.arange(4.0) + np.arange(3)[:, None])


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 16))
    y = np.arange(12) % 2
    kw = dict(filters=(2,), hidden_layer_sizes=(4,), max_iter=1, random_state=0)
    return (CNN1DClassifier(**kw).fit(X, y), CNN1DClassifier(**kw).fit(np.stack([X, X], axis=1), y))


def test_predict_on_the_wrong_length_names_timepoints_and_the_expected_shape(fitted):
    clf, clf3 = fitted
    with pytest.raises(ValueError, match=re.escape(
            "X has 12 timepoints, but CNN1DClassifier is expecting 16 timepoints: X of shape "
            "(n_samples, 16) as in fit; crop or pad the signals. (X has 12 features, but "
            "CNN1DClassifier is expecting 16 features as input.)")):
        clf.predict(np.zeros((3, 12)))
    with pytest.raises(ValueError, match=re.escape(  # single-channel 3D X for a 2D fit: the same
            "X has 20 timepoints, but CNN1DClassifier is expecting 16 timepoints")):
        clf.predict_proba(np.zeros((3, 1, 20)))
    with pytest.raises(ValueError, match=re.escape(
            "X has 12 timepoints, but CNN1DClassifier is expecting 16 timepoints (fitted on shape "
            "(n_samples, 2, 16)); crop or pad the signals.")):
        clf3.predict(np.zeros((3, 2, 12)))


def test_fit_and_predict_on_ragged_signals_say_so(fitted):
    ragged = [np.zeros(16), np.zeros(16), np.zeros(15)]
    message = "All signals must have the same length; got lengths 15 (1 signal) and 16 (2 signals)."
    with pytest.raises(ValueError, match=re.escape(message)):
        fitted[0].predict(ragged)
    with pytest.raises(ValueError, match=re.escape(message)):
        CNN1DClassifier().fit(ragged, [0, 1, 0])


def test_to_channels_last_transposes_into_a_contiguous_array():
    X = np.arange(24, dtype=np.float64).reshape(2, 3, 4)  # (N, C, T)
    out = to_channels_last(X, np.float32)
    assert out.shape == (2, 4, 3) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, X.transpose(0, 2, 1))
    out2 = to_channels_last(X[:, 0], np.float64)  # 2-D: one channel
    assert out2.shape == (2, 4, 1)
    np.testing.assert_array_equal(out2[..., 0], X[:, 0])


def test_to_channels_last_refuses_values_beyond_float32():
    X = np.array([[1.0, 1e39]])
    with pytest.raises(ValueError, match=r"beyond the range of float32 \(largest magnitude 1e\+39\)"):
        to_channels_last(X, np.float32)
    assert to_channels_last(X, np.float64)[0, 1, 0] == 1e39

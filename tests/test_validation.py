"""sk1dcnn._validation: per-block parameters, signal dimensions, the engine's layout."""

import re

import numpy as np
import pytest
import scipy.sparse as sp

from sk1dcnn._validation import check_signal_ndim, per_block, to_channels_last


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
    ragged = [[1.0, 2.0], [3.0]]
    assert check_signal_ndim(ragged) is ragged


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

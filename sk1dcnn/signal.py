"""Generic signal helpers (resampling, windows, zero-phase Butterworth filtering, crop or pad).

A leaf module: it imports only NumPy and SciPy, so the transformers of
:mod:`sk1dcnn.preprocessing` and the domain packages :mod:`sk1dcnn.ecg` and
:mod:`sk1dcnn.audio` can all build on it without importing each other.
"""

from fractions import Fraction

import numpy as np
from scipy import signal

__all__ = [
    "CROP_OR_PAD_MODES",
    "butter_sos",
    "check_filtfilt_length",
    "crop_or_pad",
    "filtfilt",
    "resample_signal",
    "sliding_windows",
    "sosfiltfilt_padlen",
]

#: the ``mode`` values of :func:`crop_or_pad`
CROP_OR_PAD_MODES = ("center", "left", "right", "random")


# --------------------------------------------------------------------------- #
# Zero-phase Butterworth filtering
# --------------------------------------------------------------------------- #
def butter_sos(low, high, fs, order):
    """Butterworth band-, low- or high-pass filter as second-order sections.

    Parameters
    ----------
    low : float or None
        Lower cut-off in Hz; None gives a low-pass filter at ``high``.
    high : float or None
        Upper cut-off in Hz; None gives a high-pass filter at ``low``.
    fs : float
        Sampling rate in Hz.
    order : int
        Butterworth order.

    Returns
    -------
    sos : ndarray of shape (n_sections, 6)
        From ``scipy.signal.butter(..., output="sos")``.

    Raises
    ------
    ValueError
        If both cut-offs are None, a cut-off is not below the Nyquist
        frequency ``fs / 2``, or ``low >= high``; the message names the fix.
    """
    nyquist = fs / 2.0
    if low is None and high is None:
        raise ValueError("low and high cannot both be None: give a cut-off for a low-, high- or band-pass")
    if high is not None and high >= nyquist:
        raise ValueError(
            f"high={high} Hz must be below the Nyquist frequency fs/2 = {nyquist} Hz "
            f"(fs={fs}); lower high or pass high=None for a high-pass filter"
        )
    if low is not None and low >= nyquist:
        raise ValueError(f"low={low} Hz must be below the Nyquist frequency fs/2 = {nyquist} Hz (fs={fs})")
    if low is not None and high is not None and low >= high:
        raise ValueError(f"low={low} must be smaller than high={high}")
    if low is None:
        return signal.butter(order, high, btype="lowpass", fs=fs, output="sos")
    if high is None:
        return signal.butter(order, low, btype="highpass", fs=fs, output="sos")
    return signal.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")


def sosfiltfilt_padlen(sos):
    """The default ``padlen`` of ``scipy.signal.sosfiltfilt`` for these sections.

    Parameters
    ----------
    sos : ndarray of shape (n_sections, 6)

    Returns
    -------
    padlen : int
        A signal must be longer than this to be filtered.
    """
    n_zeros = min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum())
    return 3 * (2 * len(sos) + 1 - n_zeros)


def check_filtfilt_length(n_timepoints, sos, what):
    """Raise a named error if ``n_timepoints`` is too short for :func:`filtfilt`.

    Parameters
    ----------
    n_timepoints : int
        Length of the signals along the time axis.
    sos : ndarray of shape (n_sections, 6)
        The filter.
    what : str
        Who filters, for the message (e.g. ``"BandpassFilter(order=4)"``).

    Raises
    ------
    ValueError
        If ``n_timepoints <= padlen`` (see :func:`sosfiltfilt_padlen`).
    """
    padlen = sosfiltfilt_padlen(sos)
    if n_timepoints <= padlen:
        raise ValueError(
            f"n_timepoints={n_timepoints} is too short for {what}: sosfiltfilt needs at least "
            f"{padlen + 1} timepoints (padlen={padlen}); use longer signals or a lower order"
        )


def filtfilt(x, sos, what):
    """Zero-phase filtering along the last axis (``scipy.signal.sosfiltfilt``).

    Parameters
    ----------
    x : ndarray
        Signals, time on the last axis.
    sos : ndarray of shape (n_sections, 6)
        The filter, e.g. from :func:`butter_sos`.
    what : str
        Who filters, named in the too-short error (:func:`check_filtfilt_length`).

    Returns
    -------
    y : ndarray, same shape as x
    """
    check_filtfilt_length(x.shape[-1], sos, what)
    return signal.sosfiltfilt(sos, x, axis=-1)


# --------------------------------------------------------------------------- #
# Resampling and windows
# --------------------------------------------------------------------------- #
def _rate_ratio(orig_fs, target_fs):
    """(up, down) with up/down = target_fs/orig_fs, reduced by their gcd."""
    # Fraction reduces by the gcd; limit_denominator absorbs float noise (e.g. 360.0000001).
    ratio = (Fraction(target_fs).limit_denominator(10**6) / Fraction(orig_fs).limit_denominator(10**6))
    ratio = ratio.limit_denominator(10**4)
    return ratio.numerator, ratio.denominator


def resample_signal(x, orig_fs, target_fs, axis=-1):
    """Resample along an axis with a polyphase filter.

    Parameters
    ----------
    x : ndarray
        Signal(s).
    orig_fs, target_fs : float
        Sampling rates in Hz. The ratio ``target_fs / orig_fs`` is reduced to
        ``up / down`` (gcd) and passed to ``scipy.signal.resample_poly``.
    axis : int, default=-1
        Time axis.

    Returns
    -------
    y : ndarray
        Resampled signal, length ``ceil(n * up / down)`` along ``axis``.
    """
    up, down = _rate_ratio(orig_fs, target_fs)
    if up == down:
        return np.asarray(x, dtype=np.float64).copy()
    return signal.resample_poly(x, up, down, axis=axis)


def sliding_windows(x, width, step=None):
    """Cut a long recording into fixed-width windows (a strided view).

    Parameters
    ----------
    x : ndarray of shape (n_samples,) or (n_channels, n_samples)
        The recording.
    width : int
        Window length in samples.
    step : int or None, default=None
        Hop between window starts; None means ``width`` (no overlap).

    Returns
    -------
    windows : ndarray of shape (n_windows, n_channels, width)
        A read-only view into ``x`` (no copy); ``n_windows =
        1 + (n_samples - width) // step``. Samples after the last full window
        are not used. Call ``.copy()`` before writing to it.
    """
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[np.newaxis]
    if x.ndim != 2:
        raise ValueError(f"x must be (n_samples,) or (n_channels, n_samples), got shape {x.shape}")
    width = int(width)
    step = width if step is None else int(step)
    if width < 1 or step < 1:
        raise ValueError(f"width and step must be >= 1, got width={width}, step={step}")
    if x.shape[1] < width:
        raise ValueError(f"recording of {x.shape[1]} samples is shorter than width={width}")
    view = np.lib.stride_tricks.sliding_window_view(x, width, axis=-1)[:, ::step]
    return view.transpose(1, 0, 2)


# --------------------------------------------------------------------------- #
# Fixed length
# --------------------------------------------------------------------------- #
def crop_or_pad(x, length, mode="center", rng=None, pad_value=0.0):
    """Crop or pad signals to ``length`` samples along the last axis.

    Parameters
    ----------
    x : ndarray of shape (..., n_timepoints)
        Signal(s).
    length : int
        Output number of timepoints.
    mode : {"center", "left", "right", "random"}, default="center"
        Which part is kept. "left" keeps the start (crops or pads at the
        end), "right" keeps the end (crops or pads at the start), "center"
        crops or pads both ends equally (the odd sample at the end), "random"
        crops a window at a random offset, or places a shorter signal at a
        random offset, drawn by ``rng``.
    rng : numpy.random.Generator or None, default=None
        Required with ``mode="random"``: one ``rng.integers(|n_timepoints -
        length| + 1)`` draw per call, also when no sample is cropped or padded.
    pad_value : float, default=0.0
        Value used for padding.

    Returns
    -------
    y : ndarray of shape (..., length)
        A new array (never a view of ``x``), with the dtype of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> crop_or_pad(np.arange(6), 4)
    array([1, 2, 3, 4])
    >>> crop_or_pad(np.arange(3), 5, mode="left", pad_value=-1)
    array([ 0,  1,  2, -1, -1])
    """
    x = np.asarray(x)
    n = x.shape[-1]
    extra = abs(n - length)
    # Samples removed (crop) or added (pad) at the start; the rest goes at the end.
    if mode == "random":
        if rng is None:
            raise ValueError(
                "mode='random' needs rng, a numpy.random.Generator (np.random.default_rng(seed))")
        start = int(rng.integers(extra + 1))
    elif mode in CROP_OR_PAD_MODES:
        start = {"left": 0, "right": extra, "center": extra // 2}[mode]
    else:
        raise ValueError(f"mode must be one of {CROP_OR_PAD_MODES}, got {mode!r}")
    if n >= length:
        return x[..., start : start + length].copy()
    pad = [(0, 0)] * (x.ndim - 1) + [(start, extra - start)]
    return np.pad(x, pad, mode="constant", constant_values=pad_value)

"""Signal preprocessing: scikit-learn transformers and ECG helpers.

Transformers accept 2-D ``(n_samples, n_timepoints)`` or 3-D
``(n_samples, n_channels, n_timepoints)`` input, work along the last axis
(vectorised over samples and channels) and return the same number of
dimensions. None of them learns anything from the data, so all can be used
without ``fit`` (``requires_fit=False``); ``fit`` validates the parameters and
records ``n_features_in_`` as scikit-learn expects.

Functions for long recordings: :func:`sliding_windows`, :func:`resample_signal`,
:func:`detect_r_peaks` (Pan-Tompkins style) and :func:`evaluate_r_peaks`.

Audio: :class:`AmplitudeNormalizer` (peak or RMS) and :class:`LogMelSpectrogram`
(SciPy STFT, HTK mel filterbank from :func:`mel_filterbank`), whose output
``(n_samples, n_mels, n_frames)`` feeds the same CNN as raw waveforms.
"""

from fractions import Fraction
from numbers import Integral, Real

import numpy as np
from scipy import ndimage, signal
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

__all__ = [
    "AmplitudeNormalizer",
    "BandpassFilter",
    "CropOrPad",
    "LogMelSpectrogram",
    "Resampler",
    "SeriesStandardScaler",
    "detect_r_peaks",
    "evaluate_r_peaks",
    "hz_to_mel",
    "mel_filterbank",
    "mel_to_hz",
    "resample_signal",
    "sliding_windows",
]


# --------------------------------------------------------------------------- #
# Functional helpers
# --------------------------------------------------------------------------- #
def _butter_sos(low, high, fs, order):
    """Butterworth SOS for a band/low/high-pass, with named errors."""
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


def _sosfiltfilt_padlen(sos):
    # Same default padlen as scipy.signal.sosfiltfilt.
    n_zeros = min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum())
    return 3 * (2 * len(sos) + 1 - n_zeros)


def _filtfilt(x, sos, what):
    padlen = _sosfiltfilt_padlen(sos)
    n = x.shape[-1]
    if n <= padlen:
        raise ValueError(
            f"n_timepoints={n} is too short for {what}: sosfiltfilt needs at least "
            f"{padlen + 1} timepoints (padlen={padlen}); use longer signals or a lower order"
        )
    return signal.sosfiltfilt(sos, x, axis=-1)


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
# Transformers
# --------------------------------------------------------------------------- #
class _SeriesTransformer(TransformerMixin, BaseEstimator):
    """Shared fit/validation for stateless transformers along the last axis."""

    def _validate_X(self, X, reset):
        X = validate_data(self, X, allow_nd=True, dtype=(np.float64, np.float32), reset=reset)
        if X.ndim not in (2, 3):
            raise ValueError(
                "X must be 2-D (n_samples, n_timepoints) or 3-D "
                f"(n_samples, n_channels, n_timepoints), got {X.ndim}-D with shape {X.shape}"
            )
        return X

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Validate the parameters and X; nothing is learnt.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timepoints) or (n_samples, n_channels, n_timepoints)
            Signals.
        y : None
            Ignored.

        Returns
        -------
        self : object
            This transformer.
        """
        X = self._validate_X(X, reset=True)
        self._check_input(X)
        return self

    def transform(self, X):
        """Apply the transformation along the last axis.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timepoints) or (n_samples, n_channels, n_timepoints)
            Signals.

        Returns
        -------
        X_new : ndarray with the same number of dimensions as X
            Transformed signals.
        """
        # Stateless, so usable without fit: then nothing has validated the params yet.
        self._validate_params()
        X = self._validate_X(X, reset=False)
        self._check_input(X)
        return self._transform(X)

    def _check_input(self, X):
        """Hook for parameter/shape checks that raise named errors."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.requires_fit = False
        return tags


class BandpassFilter(_SeriesTransformer):
    """Zero-phase Butterworth band-pass (or low-/high-pass) filter.

    Designed with ``scipy.signal.butter(..., output="sos")`` and applied
    forward and backward with ``scipy.signal.sosfiltfilt`` along the last
    axis, so there is no phase shift (R peaks stay in place).

    Parameters
    ----------
    low : float or None, default=0.5
        Lower cut-off in Hz; None gives a low-pass filter at ``high``.
    high : float or None, default=40.0
        Upper cut-off in Hz, below the Nyquist frequency ``fs / 2``; None
        gives a high-pass filter at ``low``.
    fs : float, default=360.0
        Sampling rate in Hz (360 for MIT-BIH).
    order : int, default=4
        Butterworth order (the effective order doubles with filtfilt).

    Attributes
    ----------
    n_features_in_ : int
        Set by ``fit``: n_timepoints for 2-D X, n_channels for 3-D X.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(4, 1, 1000))
    >>> BandpassFilter(low=0.5, high=40.0, fs=360.0).fit_transform(X).shape
    (4, 1, 1000)
    """

    _parameter_constraints: dict = {
        "low": [Interval(Real, 0, None, closed="neither"), None],
        "high": [Interval(Real, 0, None, closed="neither"), None],
        "fs": [Interval(Real, 0, None, closed="neither")],
        "order": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, low=0.5, high=40.0, fs=360.0, order=4):
        self.low = low
        self.high = high
        self.fs = fs
        self.order = order

    def _sos(self):
        return _butter_sos(self.low, self.high, self.fs, self.order)

    def _check_input(self, X):
        sos = self._sos()
        padlen = _sosfiltfilt_padlen(sos)
        if X.shape[-1] <= padlen:
            raise ValueError(
                f"n_timepoints={X.shape[-1]} is too short for BandpassFilter(order={self.order}): "
                f"sosfiltfilt needs at least {padlen + 1} timepoints (padlen={padlen}); "
                "use longer signals or a lower order"
            )

    def _transform(self, X):
        return _filtfilt(X, self._sos(), "BandpassFilter").astype(X.dtype, copy=False)


class Resampler(_SeriesTransformer):
    """Change the sampling rate with a polyphase filter.

    Uses ``scipy.signal.resample_poly(X, up, down, axis=-1)`` where
    ``up / down = target_fs / orig_fs`` reduced by their gcd. For an integer
    ratio pass e.g. ``orig_fs=2, target_fs=1`` (halve) or ``orig_fs=1,
    target_fs=3`` (triple).

    Parameters
    ----------
    orig_fs : float, default=360.0
        Sampling rate of the input in Hz.
    target_fs : float, default=250.0
        Sampling rate of the output in Hz.

    Attributes
    ----------
    n_features_in_ : int
        Set by ``fit``: n_timepoints for 2-D X, n_channels for 3-D X.

    Notes
    -----
    The output has ``ceil(n_timepoints * up / down)`` timepoints, so a 2-D
    output has a different number of columns than the input.
    """

    _parameter_constraints: dict = {
        "orig_fs": [Interval(Real, 0, None, closed="neither")],
        "target_fs": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, orig_fs=360.0, target_fs=250.0):
        self.orig_fs = orig_fs
        self.target_fs = target_fs

    def _transform(self, X):
        return resample_signal(X, self.orig_fs, self.target_fs, axis=-1).astype(X.dtype, copy=False)


class SeriesStandardScaler(_SeriesTransformer):
    """Z-normalise each signal and channel on its own.

    Each series ``x`` (one sample, one channel) becomes
    ``(x - mean(x)) / std(x)``, the usual normalisation for time series
    classification (the UCR archive's). Unlike ``StandardScaler`` nothing is
    learnt across samples.

    Parameters
    ----------
    with_mean : bool, default=True
        Subtract each series' mean.
    with_std : bool, default=True
        Divide by each series' standard deviation.
    eps : float, default=1e-8
        A standard deviation at or below ``eps`` is treated as 1, so a
        constant series maps to zeros (with ``with_mean``), never NaN.

    Attributes
    ----------
    n_features_in_ : int
        Set by ``fit``: n_timepoints for 2-D X, n_channels for 3-D X.
    """

    _parameter_constraints: dict = {
        "with_mean": ["boolean"],
        "with_std": ["boolean"],
        "eps": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, with_mean=True, with_std=True, eps=1e-8):
        self.with_mean = with_mean
        self.with_std = with_std
        self.eps = eps

    def _transform(self, X):
        X = np.array(X, copy=True)
        if self.with_mean:
            X -= X.mean(axis=-1, keepdims=True)
        if self.with_std:
            std = X.std(axis=-1, keepdims=True)
            X /= np.where(std > self.eps, std, 1.0)
        return X


class CropOrPad(_SeriesTransformer):
    """Crop or pad every series to a fixed length.

    Parameters
    ----------
    length : int
        Output number of timepoints.
    mode : {"center", "left", "right"}, default="center"
        Which part is kept. "left" keeps the start (crops or pads at the
        end), "right" keeps the end (crops or pads at the start), "center"
        crops or pads both ends equally (the odd sample at the end).
    pad_value : float, default=0.0
        Value used for padding.

    Attributes
    ----------
    n_features_in_ : int
        Set by ``fit``: n_timepoints for 2-D X, n_channels for 3-D X.
    """

    _parameter_constraints: dict = {
        "length": [Interval(Integral, 1, None, closed="left")],
        "mode": [StrOptions({"center", "left", "right"})],
        "pad_value": [Real],
    }

    def __init__(self, length, mode="center", pad_value=0.0):
        self.length = length
        self.mode = mode
        self.pad_value = pad_value

    def _transform(self, X):
        n = X.shape[-1]
        diff = n - self.length
        if diff == 0:
            return X.copy()
        # Amount removed/added at the start; the rest goes at the end.
        start = {"left": 0, "right": abs(diff), "center": abs(diff) // 2}[self.mode]
        if diff > 0:
            return X[..., start : start + self.length].copy()
        pad = [(0, 0)] * (X.ndim - 1) + [(start, -diff - start)]
        return np.pad(X, pad, mode="constant", constant_values=self.pad_value)


# --------------------------------------------------------------------------- #
# R-peak detection
# --------------------------------------------------------------------------- #
def detect_r_peaks(
    x,
    fs,
    *,
    band=(5.0, 15.0),
    integration_window=0.150,
    refractory=0.200,
    threshold=0.15,
    search_window=0.050,
):
    """Detect R peaks in a single-lead ECG, Pan-Tompkins style.

    Steps: zero-phase band-pass (``band``, 5-15 Hz), derivative, squaring,
    moving-window integration (150 ms), then ``scipy.signal.find_peaks`` on the
    integrated signal with a refractory distance (200 ms) and an adaptive
    height threshold; each peak is finally moved to the largest
    ``|band-passed signal|`` within ``search_window`` (±50 ms).

    The threshold adapts to amplitude changes and resists artefacts: the
    integrated signal's maximum is taken in 2 s blocks, a running median over
    7 blocks (14 s) of those maxima gives the local QRS level, and peaks must
    exceed ``threshold`` times that level (linearly interpolated in time).

    Parameters
    ----------
    x : ndarray of shape (n_samples,)
        ECG lead (e.g. MIT-BIH MLII in mV). A (1, n_samples) array is accepted.
    fs : float
        Sampling rate in Hz.
    band : (float, float), default=(5.0, 15.0)
        Band-pass cut-offs in Hz.
    integration_window : float, default=0.150
        Moving-window integration length in seconds.
    refractory : float, default=0.200
        Minimum distance between detections in seconds.
    threshold : float, default=0.15
        Fraction of the local QRS level a peak must exceed.
    search_window : float, default=0.050
        Half-width in seconds of the refinement window.

    Returns
    -------
    peaks : ndarray of int64
        Sorted sample indices of the detected R peaks.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 1:
        raise ValueError(f"x must be one ECG lead of shape (n_samples,), got shape {x.shape}")
    sos = _butter_sos(band[0], band[1], fs, 2)
    filtered = _filtfilt(x, sos, "detect_r_peaks")
    energy = (np.gradient(filtered) * fs) ** 2
    width = max(1, int(round(integration_window * fs)))
    # Centred window, so the integrated peak is not delayed w.r.t. the QRS.
    mwi = ndimage.uniform_filter1d(energy, size=width, mode="nearest")

    n = mwi.size
    block = max(1, int(round(2.0 * fs)))
    n_blocks = -(-n // block)
    padded = np.pad(mwi, (0, n_blocks * block - n), mode="edge")
    block_max = padded.reshape(n_blocks, block).max(axis=1)
    level = ndimage.median_filter(block_max, size=min(7, n_blocks), mode="nearest")
    centres = (np.arange(n_blocks) + 0.5) * block
    height = threshold * np.interp(np.arange(n), centres, level)

    distance = max(1, int(round(refractory * fs)))
    peaks, _ = signal.find_peaks(mwi, height=height, distance=distance)
    if peaks.size == 0:
        return peaks.astype(np.int64)

    half = int(round(search_window * fs))
    offsets = np.arange(-half, half + 1)
    idx = np.clip(peaks[:, None] + offsets[None, :], 0, n - 1)
    refined = idx[np.arange(peaks.size), np.argmax(np.abs(filtered[idx]), axis=1)]
    return np.unique(refined).astype(np.int64)


def _match_once(det, ref, tol):
    """Nearest-neighbour matches ref -> det within tol, one-to-one by distance."""
    if det.size == 0 or ref.size == 0:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    pos = np.searchsorted(det, ref)
    left = np.clip(pos - 1, 0, det.size - 1)
    right = np.clip(pos, 0, det.size - 1)
    use_right = np.abs(det[right] - ref) < np.abs(det[left] - ref)
    nearest = np.where(use_right, right, left)
    dist = np.abs(det[nearest] - ref)
    ok = np.flatnonzero(dist <= tol)
    # Closest pairs first; a detection claimed by several references goes to the closest.
    ok = ok[np.argsort(dist[ok], kind="stable")]
    _, first = np.unique(nearest[ok], return_index=True)
    ri = ok[first]
    return ri, nearest[ri]


def evaluate_r_peaks(detected, reference, fs, tolerance=0.150, reference_symbols=None):
    """Score R-peak detections against reference beat annotations.

    Each reference beat is matched to at most one detection, and each
    detection to at most one beat, if they are within ``tolerance`` seconds
    (closest pairs first; unmatched leftovers get further rounds).

    Parameters
    ----------
    detected : array-like of int
        Detected sample indices.
    reference : array-like of int
        Reference annotation sample indices.
    fs : float
        Sampling rate in Hz.
    tolerance : float, default=0.150
        Matching window in seconds (150 ms, as in ANSI/AAMI EC57).
    reference_symbols : array-like of str or None, default=None
        Annotation symbols of ``reference``. When given, only beats (symbols
        with an AAMI class, see ``sk1dcnn.datasets.to_aami``) are counted;
        rhythm and noise annotations are ignored.

    Returns
    -------
    scores : dict
        ``sensitivity`` = tp / (tp + fn), ``positive_predictivity`` =
        tp / (tp + fp) (NaN when the denominator is 0), and the counts
        ``tp``, ``fp``, ``fn``.
    """
    det = np.unique(np.asarray(detected, dtype=np.int64))
    ref = np.asarray(reference, dtype=np.int64)
    if reference_symbols is not None:
        from .datasets import to_aami

        symbols = np.asarray(reference_symbols, dtype=str)
        if symbols.shape != ref.shape:
            raise ValueError(
                f"reference and reference_symbols differ in length: {ref.shape} vs {symbols.shape}"
            )
        ref = ref[to_aami(symbols) != ""]
    ref = np.sort(ref)
    tol = tolerance * fs

    free_ref = np.ones(ref.size, bool)
    free_det = np.ones(det.size, bool)
    tp = 0
    while True:
        r_idx, d_idx = np.flatnonzero(free_ref), np.flatnonzero(free_det)
        ri, di = _match_once(det[d_idx], ref[r_idx], tol)
        if ri.size == 0:
            break
        free_ref[r_idx[ri]] = False
        free_det[d_idx[di]] = False
        tp += ri.size
    fn = int(ref.size - tp)
    fp = int(det.size - tp)
    se = tp / (tp + fn) if tp + fn else float("nan")
    ppv = tp / (tp + fp) if tp + fp else float("nan")
    return {"sensitivity": se, "positive_predictivity": ppv, "tp": int(tp), "fp": fp, "fn": fn}


# --------------------------------------------------------------------------- #
# Audio: amplitude normalisation and log-mel spectrograms
# --------------------------------------------------------------------------- #
class AmplitudeNormalizer(_SeriesTransformer):
    """Scale each series to unit peak or unit RMS amplitude.

    Each series ``x`` (one sample, one channel) becomes ``x / max|x|``
    (``method="peak"``) or ``x / sqrt(mean(x ** 2))`` (``method="rms"``).
    Recording levels differ between speakers and microphones; this removes
    the level without shifting the signal (no mean is subtracted).

    Parameters
    ----------
    method : {"peak", "rms"}, default="peak"
    eps : float, default=1e-8
        A peak or RMS at or below ``eps`` (silence, zero padding) is treated
        as 1, so the series is left unchanged rather than blown up.

    Attributes
    ----------
    n_features_in_ : int
        Set by ``fit``: n_timepoints for 2-D X, n_channels for 3-D X.
    """

    _parameter_constraints: dict = {
        "method": [StrOptions({"peak", "rms"})],
        "eps": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, method="peak", eps=1e-8):
        self.method = method
        self.eps = eps

    def _transform(self, X):
        if self.method == "peak":
            level = np.abs(X).max(axis=-1, keepdims=True)
        else:
            level = np.sqrt(np.mean(np.square(X, dtype=np.float64), axis=-1, keepdims=True))
        level = np.where(level > self.eps, level, 1.0)
        return (X / level).astype(X.dtype, copy=False)


def hz_to_mel(f):
    """HTK mel scale: ``2595 * log10(1 + f / 700)`` (O'Shaughnessy 1987)."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(fs, n_fft, n_mels=40, fmin=0.0, fmax=None, norm=None):
    """Triangular mel filterbank, shape ``(n_mels, n_fft // 2 + 1)``.

    ``n_mels + 2`` points equally spaced on the HTK mel scale
    (:func:`hz_to_mel`) between ``fmin`` and ``fmax`` give the edges: filter
    ``m`` rises linearly from point ``m`` to 1 at its centre, point ``m + 1``,
    and falls to 0 at point ``m + 2``, evaluated at the FFT bin frequencies
    ``k * fs / n_fft``.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    n_fft : int
    n_mels : int, default=40
    fmin : float, default=0.0
    fmax : float or None, default=None
        None is the Nyquist frequency ``fs / 2``.
    norm : {None, "slaney"}, default=None
        None: every triangle peaks at 1 (HTK). "slaney": each triangle is
        scaled by ``2 / (f_right - f_left)`` so that it has unit area (the
        Auditory Toolbox's normalisation, librosa's default).

    Returns
    -------
    weights : ndarray of shape (n_mels, n_fft // 2 + 1)
    """
    fmax = fs / 2.0 if fmax is None else float(fmax)
    if not 0.0 <= fmin < fmax <= fs / 2.0:
        raise ValueError(
            f"need 0 <= fmin < fmax <= fs / 2 = {fs / 2.0:g} Hz, got fmin={fmin!r}, fmax={fmax!r}"
        )
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    freqs = np.arange(n_fft // 2 + 1) * (fs / n_fft)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - left) / (centre - left)
    falling = (right - freqs) / (right - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    if norm == "slaney":
        weights *= 2.0 / (right - left)
    elif norm is not None:
        raise ValueError(f"norm must be None or 'slaney', got {norm!r}")
    return weights


class LogMelSpectrogram(_SeriesTransformer):
    """Log mel-spectrogram of each series, as channels x frames for the CNN.

    For every series: frames of ``n_fft`` samples every ``hop_length``
    samples, a periodic Hann window, the power spectrum ``|rfft(w * frame)|**2``
    (``scipy.signal.stft`` with its ``1 / sum(w)`` scaling undone), a
    triangular HTK mel filterbank (:func:`mel_filterbank`), then
    ``log(mel + eps)``. The output puts the ``n_mels`` bands on the channel
    axis and the frames on the time axis, so the same ``CNN1DClassifier``
    reads waveforms (1 channel) or spectrograms (``n_mels`` channels).

    Parameters
    ----------
    fs : float, default=8000.0
        Sampling rate in Hz.
    n_fft : int, default=256
        Frame length (32 ms at 8 kHz).
    hop_length : int, default=80
        Step between frames (10 ms at 8 kHz).
    n_mels : int, default=40
    fmin : float, default=20.0
    fmax : float or None, default=None
        None is ``fs / 2``.
    center : bool, default=True
        Pad ``n_fft // 2`` zeros at both ends so frame ``t`` is centred on
        sample ``t * hop_length``: ``1 + n_timepoints // hop_length`` frames.
        False: frames start at sample 0, ``1 + (n_timepoints - n_fft) // hop_length``.
    eps : float, default=1e-6
        Added before the logarithm.
    norm : {None, "slaney"}, default=None
        Filterbank normalisation, see :func:`mel_filterbank`.

    Attributes
    ----------
    n_features_in_ : int
        Set by ``fit``: n_timepoints for 2-D X, n_channels for 3-D X.

    Notes
    -----
    2-D input ``(n_samples, n_timepoints)`` gives ``(n_samples, n_mels,
    n_frames)``; 3-D input ``(n_samples, n_channels, n_timepoints)`` gives
    ``(n_samples, n_channels * n_mels, n_frames)`` (bands of channel 0 first).
    Standardise the output (e.g. ``SeriesStandardScaler``) before the CNN.
    """

    _parameter_constraints: dict = {
        "fs": [Interval(Real, 0, None, closed="neither")],
        "n_fft": [Interval(Integral, 2, None, closed="left")],
        "hop_length": [Interval(Integral, 1, None, closed="left")],
        "n_mels": [Interval(Integral, 1, None, closed="left")],
        "fmin": [Interval(Real, 0, None, closed="left")],
        "fmax": [Interval(Real, 0, None, closed="neither"), None],
        "center": ["boolean"],
        "eps": [Interval(Real, 0, None, closed="neither")],
        "norm": [StrOptions({"slaney"}), None],
    }

    def __init__(self, fs=8000.0, n_fft=256, hop_length=80, n_mels=40, fmin=20.0, fmax=None,
                 center=True, eps=1e-6, norm=None):
        self.fs = fs
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.fmin = fmin
        self.fmax = fmax
        self.center = center
        self.eps = eps
        self.norm = norm

    def _check_input(self, X):
        if self.hop_length > self.n_fft:
            raise ValueError(
                f"hop_length={self.hop_length} > n_fft={self.n_fft} would skip samples; "
                "use hop_length <= n_fft"
            )
        n = X.shape[-1] + (2 * (self.n_fft // 2) if self.center else 0)
        if n < self.n_fft:
            raise ValueError(
                f"n_timepoints={X.shape[-1]} is too short for LogMelSpectrogram(n_fft={self.n_fft}"
                f", center={self.center}): it needs at least {self.n_fft} samples per frame; "
                "use a smaller n_fft or center=True"
            )
        mel_filterbank(self.fs, self.n_fft, self.n_mels, self.fmin, self.fmax, self.norm)

    def filterbank(self):
        """The ``(n_mels, n_fft // 2 + 1)`` mel weights used by :meth:`transform`."""
        return mel_filterbank(self.fs, self.n_fft, self.n_mels, self.fmin, self.fmax, self.norm)

    def _transform(self, X):
        dtype = X.dtype
        X3 = X[:, None, :] if X.ndim == 2 else X
        if self.center:
            half = self.n_fft // 2
            X3 = np.pad(X3, [(0, 0), (0, 0), (half, half)])
        window = signal.get_window("hann", self.n_fft)  # periodic ("fftbins") Hann
        _, _, Z = signal.stft(X3, fs=self.fs, window=window, nperseg=self.n_fft,
                              noverlap=self.n_fft - self.hop_length, boundary=None,
                              padded=False, detrend=False, return_onesided=True, axis=-1)
        power = np.square(np.abs(Z) * window.sum())  # (n, C, n_fft // 2 + 1, n_frames)
        mel = np.einsum("mf,ncft->ncmt", self.filterbank(), power)
        out = np.log(mel + self.eps)
        n, C, M, T = out.shape
        return out.reshape(n, C * M, T).astype(dtype, copy=False)

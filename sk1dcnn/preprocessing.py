"""Generic scikit-learn transformers for signals of shape (n_samples, n_channels, n_timepoints).

Transformers accept 2-D ``(n_samples, n_timepoints)`` or 3-D
``(n_samples, n_channels, n_timepoints)`` input, work along the last axis
(vectorised over samples and channels) and return the same number of
dimensions. None of them learns anything from the data, so all can be used
without ``fit`` (``requires_fit=False``); ``fit`` validates the parameters and
records ``n_features_in_`` as scikit-learn expects.

The functions they apply live in :mod:`sk1dcnn.signal`; ECG helpers (R-peak
detection) are in :mod:`sk1dcnn.ecg`, the audio transformers
(``LogMelSpectrogram``, ``AmplitudeNormalizer``) in :mod:`sk1dcnn.audio`.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from .signal import butter_sos, check_filtfilt_length, crop_or_pad, filtfilt
# A private name: sk1dcnn.preprocessing.resample_signal is the 0.1 path, which warns (see __getattr__).
from .signal import resample_signal as _resample_signal

__all__ = [
    "BandpassFilter",
    "CropOrPad",
    "FillMissing",
    "Resampler",
    "SeriesStandardScaler",
]


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
        return butter_sos(self.low, self.high, self.fs, self.order)

    def _check_input(self, X):
        check_filtfilt_length(X.shape[-1], self._sos(), f"BandpassFilter(order={self.order})")

    def _transform(self, X):
        return filtfilt(X, self._sos(), "BandpassFilter").astype(X.dtype, copy=False)


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
        return _resample_signal(X, self.orig_fs, self.target_fs, axis=-1).astype(X.dtype, copy=False)


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
    """Crop or pad every series to a fixed length (:func:`sk1dcnn.signal.crop_or_pad`).

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
        return crop_or_pad(X, self.length, mode=self.mode, pad_value=self.pad_value)


class FillMissing(_SeriesTransformer):
    """Fill missing values (NaN): NaN-padded unequal lengths and gaps inside a series.

    The estimators refuse NaN; put this transformer in front of them, e.g.
    ``make_pipeline(FillMissing(), CNN1DClassifier())``. Each series (one
    sample, one channel) is handled on its own:

    * its **length** is the position of its last observed value: the NaN after
      it are padding (the UCR archive writes unequal lengths this way);
    * **gaps** (NaN before that position) are filled by linear interpolation
      between the nearest observed values (``gaps="linear"``, leading NaN take
      the first observed value) or with ``fill_value`` (``gaps="constant"``);
    * the **padding** becomes, by ``padding``: the observed part stretched to
      the full length by linear interpolation ("resample"), its last value
      repeated ("edge"), or ``fill_value`` ("constant").

    A series with no observed value becomes ``fill_value`` everywhere.

    Parameters
    ----------
    padding : {"resample", "edge", "constant"}, default="resample"
        What replaces the trailing NaN of shorter series.
    gaps : {"linear", "constant"}, default="linear"
        What replaces NaN inside a series.
    fill_value : float, default=0.0
        The value of "constant" and of all-NaN series.

    Attributes
    ----------
    n_features_in_ : int
        Set by ``fit``: n_timepoints for 2-D X, n_channels for 3-D X.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, np.nan, 3.0, np.nan], [0.0, 2.0, 4.0, 6.0]])
    >>> FillMissing(padding="edge").fit_transform(X)
    array([[1., 2., 3., 3.],
           [0., 2., 4., 6.]])
    >>> FillMissing().fit_transform(X)  # the observed 1, 2, 3 stretched over 4 points
    array([[1.        , 1.66666667, 2.33333333, 3.        ],
           [0.        , 2.        , 4.        , 6.        ]])
    """

    _parameter_constraints: dict = {
        "padding": [StrOptions({"resample", "edge", "constant"})],
        "gaps": [StrOptions({"linear", "constant"})],
        "fill_value": [Real],
    }

    def __init__(self, padding="resample", gaps="linear", fill_value=0.0):
        self.padding = padding
        self.gaps = gaps
        self.fill_value = fill_value

    def _validate_X(self, X, reset):
        X = validate_data(self, X, allow_nd=True, dtype=(np.float64, np.float32), reset=reset,
                          ensure_all_finite="allow-nan")
        if X.ndim not in (2, 3):
            raise ValueError(
                "X must be 2-D (n_samples, n_timepoints) or 3-D "
                f"(n_samples, n_channels, n_timepoints), got {X.ndim}-D with shape {X.shape}"
            )
        return X

    def _transform(self, X):
        rows = X.reshape(-1, X.shape[-1])
        out = np.array(rows, dtype=X.dtype, copy=True)
        missing = np.isnan(rows)
        T = rows.shape[1]
        t = np.arange(T, dtype=np.float64)
        for i in np.flatnonzero(missing.any(axis=1)):  # complete series stay as they are
            seen = np.flatnonzero(~missing[i])
            if seen.size == 0:
                out[i] = self.fill_value
                continue
            n = seen[-1] + 1  # the series' own length
            if self.gaps == "linear":
                core = np.interp(t[:n], seen, rows[i, seen])
            else:
                core = np.where(missing[i, :n], self.fill_value, rows[i, :n])
            if self.padding == "resample" and n < T:
                out[i] = np.interp(np.linspace(0.0, n - 1, T), t[:n], core)
            else:
                out[i, :n] = core
                out[i, n:] = core[-1] if self.padding == "edge" else self.fill_value
        return out.reshape(X.shape)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def __getattr__(name):
    # Names that moved to sk1dcnn.signal, sk1dcnn.ecg and sk1dcnn.audio in 0.2 (sk1dcnn._compat).
    from ._compat import resolve_moved

    return resolve_moved(__name__, name)

"""RR-interval features of each heartbeat, causal: one definition for training, testing and monitoring.

Supraventricular premature beats (S) look like normal beats (N) and differ from
them mainly in timing: they come early. Seven features describe the timing of
beat ``i`` from the R-peak times ``r[0], r[1], ...`` (seconds):

========  ==============================================================
pre_rr    ``r[i] - r[i-1]``, the interval before the beat
post_rr   ``r[i+1] - r[i]``, the interval after it (needs the next R peak:
          one beat of delay)
local_rr  mean RR interval of the 10 previous beats ``i-10 .. i-1`` (each
          beat's own pre-RR; fewer at the start of a record)
avg_rr    mean RR interval of all previous beats ``1 .. i-1`` of the record
pre_ratio, post_ratio, local_ratio
          ``pre_rr / avg_rr``, ``post_rr / avg_rr``, ``local_rr / avg_rr``
========  ==============================================================

The averages read past beats only: the current beat's own pre-RR is not in
them, so a premature beat shows as ``pre_ratio`` < 1 against the rhythm
before it. Beat ``i``'s features read R peaks ``0 .. i+1`` and nothing later,
so a monitor emits them one beat late (:class:`RRFeatureStream`).

Edges, where an interval does not exist:

* the first beat has no pre-RR: it takes its post-RR;
* the last beat has no post-RR (a stream that ends): it takes its pre-RR;
* beats 0 and 1 have no previous RR interval to average: ``local_rr`` and
  ``avg_rr`` take the beat's own pre-RR (so the ratios are 1 there);
* a single R peak has no interval at all: its features are NaN.

:func:`rr_features` (vectorised, for whole records) and
:class:`RRFeatureStream` (one peak at a time, for monitors) give the same
values; the stream is the plain version and the test oracle of the other.
"""

from collections import deque

import numpy as np

__all__ = ["RR_FEATURE_NAMES", "RR_LOCAL_BEATS", "RRFeatureStream", "rr_features"]

#: Column order of the features.
RR_FEATURE_NAMES = ("pre_rr", "post_rr", "local_rr", "avg_rr", "pre_ratio", "post_ratio", "local_ratio")

#: Number of previous beats in the local average.
RR_LOCAL_BEATS = 10


def _check_fs(fs):
    fs = float(fs)
    if not np.isfinite(fs) or fs <= 0:
        raise ValueError(f"fs must be a positive sampling rate in Hz, got {fs}")
    return fs


def _check_peaks(r_peaks):
    r = np.asarray(r_peaks)
    if r.ndim != 1:
        raise ValueError(f"r_peaks must be 1-D, got shape {r.shape}")
    r = r.astype(np.float64)
    if not np.all(np.isfinite(r)):
        raise ValueError("r_peaks must be finite")
    if r.size > 1:
        d = np.diff(r)
        if np.any(d <= 0):
            j = int(np.flatnonzero(d <= 0)[0])
            raise ValueError(
                f"r_peaks must be strictly increasing; r_peaks[{j + 1}] = {r[j + 1]:g} "
                f"follows r_peaks[{j}] = {r[j]:g}"
            )
    return r


def _ratios(pre, post, local, avg):
    return np.stack([pre, post, local, avg, pre / avg, post / avg, local / avg], axis=-1)


def rr_features(r_peaks, fs, *, n_local=RR_LOCAL_BEATS):
    """RR-interval features of every beat of a record (causal definition, see the module docstring).

    Parameters
    ----------
    r_peaks : array-like of shape (n_beats,)
        R-peak sample indices of consecutive beats, strictly increasing: every
        beat of the record (reference beat annotations or detected peaks),
        including those you will not classify, so that the intervals are
        true RR intervals.
    fs : float
        Sampling rate of ``r_peaks`` in Hz.
    n_local : int, default=10
        Number of previous beats in the local average.

    Returns
    -------
    features : ndarray of shape (n_beats, 7)
        Columns :data:`RR_FEATURE_NAMES`: pre_rr, post_rr, local_rr, avg_rr in
        seconds and pre_ratio, post_ratio, local_ratio. Row ``i`` depends on
        ``r_peaks[: i + 2]`` only.

    Examples
    --------
    >>> import numpy as np
    >>> f = rr_features([0, 360, 720, 900, 1260], fs=360.0)
    >>> f[3].round(3).tolist()   # the early beat: pre 0.5 s against an average of 1 s
    [0.5, 1.0, 1.0, 1.0, 0.5, 1.0, 1.0]
    """
    fs = _check_fs(fs)
    n_local = int(n_local)
    if n_local < 1:
        raise ValueError(f"n_local must be >= 1, got {n_local}")
    r = _check_peaks(r_peaks)
    n = r.size
    if n < 2:
        return np.full((n, len(RR_FEATURE_NAMES)), np.nan)
    d = np.diff(r) / fs  # d[j - 1] is the interval ending at beat j
    pre = np.concatenate([d[:1], d])
    post = np.concatenate([d, d[-1:]])
    # csum[k] = sum of the intervals ending at beats 1 .. k (csum[0] = 0).
    csum = np.concatenate([[0.0], np.cumsum(d)])
    i = np.arange(n)
    last = i - 1  # the previous beats' intervals end at beats 1 .. i-1
    count_avg = np.maximum(last, 0)
    first_local = np.maximum(i - n_local, 1)
    count_local = np.maximum(last - first_local + 1, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = (csum[np.maximum(last, 0)]) / count_avg
        local = (csum[np.maximum(last, 0)] - csum[np.minimum(first_local - 1, np.maximum(last, 0))]) / count_local
    avg = np.where(count_avg > 0, avg, pre)
    local = np.where(count_local > 0, local, pre)
    return _ratios(pre, post, local, avg)


class RRFeatureStream:
    """RR-interval features computed online, one R peak at a time, one beat late.

    Feed the R peaks of a record in order with :meth:`update`; the features of
    beat ``i`` come out when peak ``i + 1`` goes in (post-RR needs it), and
    those of the last beat from :meth:`finish`. The values equal
    :func:`rr_features` on the same peaks.

    Parameters
    ----------
    fs : float
        Sampling rate of the peaks in Hz.
    n_local : int, default=10
        Number of previous beats in the local average.

    Examples
    --------
    >>> s = RRFeatureStream(fs=360.0)
    >>> [s.update(p) is None for p in (0, 360)]   # beat 0's features arrive with peak 1
    [True, False]
    """

    def __init__(self, fs, n_local=RR_LOCAL_BEATS):
        self.fs = _check_fs(fs)
        self.n_local = int(n_local)
        if self.n_local < 1:
            raise ValueError(f"n_local must be >= 1, got {n_local}")
        self._peaks = deque(maxlen=3)  # peaks i-1, i, i+1 at most
        self._n = 0  # peaks seen
        self._past = deque(maxlen=self.n_local)  # intervals ending at beats i-n_local .. i-1
        self._past_sum = 0.0  # sum of intervals ending at beats 1 .. i-1
        self._past_count = 0

    @property
    def n_peaks(self):
        """Number of R peaks fed so far."""
        return self._n

    def _emit(self, pre, post):
        if self._past_count:
            avg = self._past_sum / self._past_count
            local = sum(self._past) / len(self._past)
        else:
            avg = local = pre
        return _ratios(np.float64(pre), np.float64(post), np.float64(local), np.float64(avg))

    def update(self, r_peak):
        """Add the next R peak; return the features of the beat before it.

        Parameters
        ----------
        r_peak : int or float
            Sample index of the next R peak (after the previous one).

        Returns
        -------
        features : ndarray of shape (7,) or None
            Features of beat ``n_peaks - 2`` (the one whose post-RR just
            became known); None for the first peak.
        """
        r_peak = float(r_peak)
        if not np.isfinite(r_peak):
            raise ValueError(f"r_peak must be finite, got {r_peak}")
        if self._peaks and r_peak <= self._peaks[-1]:
            raise ValueError(
                f"R peaks must be strictly increasing; {r_peak:g} follows {self._peaks[-1]:g}"
            )
        self._peaks.append(r_peak)
        self._n += 1
        if self._n < 2:
            return None
        post = (self._peaks[-1] - self._peaks[-2]) / self.fs
        # Beat i = n-2; its pre-RR is the interval ending at it (or its post-RR for beat 0).
        pre = (self._peaks[-2] - self._peaks[-3]) / self.fs if self._n >= 3 else post
        out = self._emit(pre, post)
        if self._n >= 3:
            # Beat i's pre-RR becomes a "previous" interval for beat i+1.
            self._past.append(pre)
            self._past_sum += pre
            self._past_count += 1
        return out

    def finish(self):
        """Features of the last beat (post-RR taken as its pre-RR), or None if no peak was fed.

        The stream can go on after this: :meth:`update` with the next peak
        gives the last beat's features again, now with its true post-RR.
        """
        if self._n == 0:
            return None
        if self._n == 1:
            return np.full(len(RR_FEATURE_NAMES), np.nan)
        pre = (self._peaks[-1] - self._peaks[-2]) / self.fs
        # The beat before the last one has been emitted, so its pre-RR is in the
        # past intervals already; the last beat's own pre-RR is not (causal).
        return self._emit(pre, pre)

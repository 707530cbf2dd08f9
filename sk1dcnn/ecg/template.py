"""Template features: how far each heartbeat is from the same person's recent beats, causal.

Across patients, normal beats (N) differ in shape more than a ventricular beat
(V) differs from the normal beats of its own patient, so a network that sees
one beat at a time must learn every person's normal shape. Three features
measure the beat against the person's own *template*, the sample-wise median
of the beats before it (most of them normal in almost every record), which
makes the comparison patient-normalised:

=====================  ============================================================
template_distance      ``||b - t|| / ||t||`` over the whole window
qrs_distance           the same over the QRS window, 50 ms before to 100 ms after
                       the R peak
template_correlation   Pearson correlation of ``b`` and ``t``
=====================  ============================================================

``b`` is the beat window and ``t`` its template, both less their median
sample (the baseline). The two distances are clipped at :data:`MAX_DISTANCE`
(10; on the 44 non-paced MIT-BIH records they reach 8.9 at most), so that a
near-flat template (a lead coming loose) cannot give one huge value to a
network whose static features are not scaled. The template of beat ``i`` is the median of the
``n_template`` beats before the block of ``update_every`` beats that holds
``i`` (the template is recomputed once per block, which makes it 10 times
cheaper and changes it little). In the first block, where no earlier block
exists, it is the median of beats ``0 .. i``, the beat itself included (so
beat 0 has distance 0 and correlation 1).

Beat ``i``'s features read beats ``0 .. i`` and nothing later: a monitor has
them as soon as the beat's window is complete (:class:`TemplateFeatureStream`).
The median is taken over every beat, whatever its class: no label is read.

:func:`template_features` (vectorised, for whole records) and
:class:`TemplateFeatureStream` (one beat at a time) give the same values; the
stream is the plain version and the test oracle of the other.
"""

from collections import deque

import numpy as np

__all__ = ["TEMPLATE_FEATURE_NAMES", "TemplateFeatureStream", "template_features"]

#: Column order of the features.
TEMPLATE_FEATURE_NAMES = ("template_distance", "qrs_distance", "template_correlation")

#: The QRS window, seconds before and after the R peak.
QRS_WINDOW = (0.05, 0.10)

#: Upper bound of the two distances.
MAX_DISTANCE = 10.0

_EPS = 1e-9


def _check_params(fs, r_index, n_template, update_every):
    fs = float(fs)
    if not np.isfinite(fs) or fs <= 0:
        raise ValueError(f"fs must be a positive sampling rate in Hz, got {fs}")
    for name, v in (("r_index", r_index), ("n_template", n_template), ("update_every", update_every)):
        if isinstance(v, bool) or not float(v).is_integer():
            raise ValueError(f"{name} must be an integer, got {v!r}")
    if int(n_template) < 1 or int(update_every) < 1:
        raise ValueError(f"n_template and update_every must be >= 1, got {n_template} and {update_every}")
    if int(n_template) < int(update_every):
        # the first block's template is the median of up to update_every beats
        raise ValueError(f"n_template ({n_template}) must be >= update_every ({update_every})")


def _check(fs, r_index, n_timepoints, n_template, update_every):
    _check_params(fs, r_index, n_template, update_every)
    r = int(r_index)
    if not 0 <= r < n_timepoints:
        raise ValueError(f"r_index {r_index} is outside the beat window of {n_timepoints} samples")
    lo = max(0, r - int(round(QRS_WINDOW[0] * fs)))
    hi = min(n_timepoints, r + int(round(QRS_WINDOW[1] * fs)) + 1)
    return slice(lo, hi)


def _features(B, T, qrs):
    """The three features of beats ``B`` against templates ``T`` (rows matched), both baseline-free."""
    D = B - T
    n_t = np.linalg.norm(T, axis=1)
    out = np.empty((len(B), 3))
    out[:, 0] = np.minimum(np.linalg.norm(D, axis=1) / (n_t + _EPS), MAX_DISTANCE)
    out[:, 1] = np.minimum(np.linalg.norm(D[:, qrs], axis=1) / (np.linalg.norm(T[:, qrs], axis=1) + _EPS),
                           MAX_DISTANCE)
    Bc = B - B.mean(axis=1, keepdims=True)
    Tc = T - T.mean(axis=1, keepdims=True)
    out[:, 2] = np.sum(Bc * Tc, axis=1) / (np.linalg.norm(Bc, axis=1) * np.linalg.norm(Tc, axis=1) + _EPS)
    return out


def template_features(beats, fs, r_index, *, n_template=100, update_every=10):
    """Template features of a record's beats, in time order.

    Parameters
    ----------
    beats : array-like of shape (n_beats, n_timepoints)
        One lead's beat windows of one record, in time order (e.g. from
        :func:`sk1dcnn.ecg.extract_beats`), every beat whatever its class.
    fs : float
        Sampling rate of the windows in Hz.
    r_index : int
        Index of the R peak in each window (``round(before * fs)``).
    n_template : int, default=100
        Number of earlier beats whose median is the template (at least
        ``update_every``).
    update_every : int, default=10
        The template is recomputed once per block of this many beats.

    Returns
    -------
    features : ndarray of shape (n_beats, 3)
        Columns :data:`TEMPLATE_FEATURE_NAMES`.

    Examples
    --------
    >>> import numpy as np
    >>> beat = np.sin(np.linspace(0, np.pi, 50))
    >>> beats = np.vstack([beat] * 20 + [2 * beat])
    >>> F = template_features(beats, fs=100.0, r_index=25)
    >>> F[-1].round(3).tolist()    # the last beat is twice the template
    [1.0, 1.0, 1.0]
    """
    B = np.asarray(beats, dtype=np.float64)
    if B.ndim != 2:
        raise ValueError(f"beats must be 2-D (n_beats, n_timepoints), got shape {B.shape}")
    if not np.all(np.isfinite(B)):
        raise ValueError("beats contain NaN or infinity")
    qrs = _check(fs, r_index, B.shape[1], n_template, update_every)
    n_template, block = int(n_template), int(update_every)
    B = B - np.median(B, axis=1, keepdims=True)
    T = np.empty_like(B)
    first = min(block, len(B))
    for i in range(first):  # the first block: the beats so far, the beat included
        T[i] = np.median(B[:i + 1], axis=0)
    for start in range(block, len(B), block):
        T[start:start + block] = np.median(B[max(0, start - n_template):start], axis=0)
    return _features(B, T, qrs)


class TemplateFeatureStream:
    """Template features one beat at a time, for monitors; equal to :func:`template_features`.

    Parameters
    ----------
    fs, r_index, n_template, update_every
        As in :func:`template_features`.

    Examples
    --------
    >>> import numpy as np
    >>> stream = TemplateFeatureStream(fs=100.0, r_index=25)
    >>> beat = np.sin(np.linspace(0, np.pi, 50))
    >>> stream.update(beat).round(3).tolist()
    [0.0, 0.0, 1.0]
    """

    def __init__(self, fs, r_index, *, n_template=100, update_every=10):
        _check_params(fs, r_index, n_template, update_every)
        self.fs = fs
        self.r_index = r_index
        self.n_template = n_template
        self.update_every = update_every
        self._past = deque(maxlen=int(n_template))  # the beats the next template is taken from
        self._template = None
        self._n = 0
        self._qrs = None

    def update(self, beat):
        """Features of the next beat, from it and the beats before it.

        Parameters
        ----------
        beat : array-like of shape (n_timepoints,)
            The next beat window, as long as the first one.

        Returns
        -------
        features : ndarray of shape (3,)
            Columns :data:`TEMPLATE_FEATURE_NAMES`.
        """
        b = np.asarray(beat, dtype=np.float64)
        if b.ndim != 1:
            raise ValueError(f"beat must be 1-D (n_timepoints,), got shape {b.shape}")
        if not np.all(np.isfinite(b)):
            raise ValueError("beat contains NaN or infinity")
        if self._qrs is None:
            self._qrs = _check(self.fs, self.r_index, b.size, self.n_template, self.update_every)
        elif self._past and b.size != self._past[0].size:
            raise ValueError(f"beat has {b.size} samples, the stream's earlier beats {self._past[0].size}")
        b = b - np.median(b)
        block = int(self.update_every)
        if self._n < block:
            template = np.median(np.vstack([*self._past, b]), axis=0)
        else:
            if self._n % block == 0:
                self._template = np.median(np.vstack(self._past), axis=0)
            template = self._template
        self._past.append(b)
        self._n += 1
        return _features(b[None], template[None], self._qrs)[0]

"""Abnormal beat synthesis: degradation models that turn a person's normal beat into S and V beats.

After Kiranyaz, Ince & Gabbouj, "Personalized Monitoring and Advance Warning
System for Cardiac Arrhythmias", Sci Rep 7:9270 (2017): the common causes of
arrhythmia are modelled in the signal domain as a degrading system, a filter
that takes a person's normal beat to an abnormal one. A bank of such filters,
learned by regularized least squares on *other* people's records, is applied to
a new person's average normal beat to synthesize the abnormal beats that person
might have, so that a personal classifier can be trained before any of their
real abnormal beats has been seen.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from .rr import RR_FEATURE_NAMES

__all__ = ["DegradationBank", "conv_matrix", "fit_degradation_filter"]

_N_RR = len(RR_FEATURE_NAMES)
# columns of rr_features: pre, post, local, avg (seconds), then pre/avg, post/avg, local/avg
_AVG, _RATIOS = 3, slice(4, 7)


def conv_matrix(x, filter_length):
    """The matrix ``M`` with ``M @ h == np.convolve(x, h, mode="same")`` for ``len(h) == filter_length``.

    Parameters
    ----------
    x : array-like of shape (n_timepoints,)
    filter_length : int
        Odd, so that the filter is centred (tap ``filter_length // 2`` is lag 0).

    Returns
    -------
    M : ndarray of shape (n_timepoints, filter_length)
    """
    x = np.asarray(x, dtype=float)
    T, L = len(x), int(filter_length)
    c = (L - 1) // 2
    idx = np.arange(T)[:, None] + c - np.arange(L)[None, :]
    ok = (idx >= 0) & (idx < T)
    return np.where(ok, x[np.clip(idx, 0, T - 1)], 0.0)


def fit_degradation_filter(x, y, filter_length, alpha=1e-3):
    """Regularized least-squares FIR filter ``h`` with ``np.convolve(x, h, "same") ~= y``.

    Minimizes ``||M h - y||^2 + lam ||h - d||^2`` where ``M = conv_matrix(x, L)``,
    ``d`` is the identity filter (a unit tap at lag 0: "no degradation") and
    ``lam = alpha * ||x||^2`` (so ``alpha`` does not depend on the beat's scale).

    Parameters
    ----------
    x : array-like of shape (n_timepoints,)
        Input beat (e.g. the average normal beat).
    y : array-like of shape (n_timepoints,)
        Output beat (e.g. an abnormal beat of the same record).
    filter_length : int
        Odd number of taps.
    alpha : float, default=1e-3
        Relative ridge strength towards the identity filter.

    Returns
    -------
    h : ndarray of shape (filter_length,)
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    M = conv_matrix(x, filter_length)
    d = np.zeros(filter_length)
    d[(filter_length - 1) // 2] = 1.0
    lam = alpha * float(x @ x)
    A = M.T @ M + lam * np.eye(filter_length)
    return np.linalg.solve(A, M.T @ y + lam * d)


class DegradationBank(TransformerMixin, BaseEstimator):
    """A bank of degradation filters (normal beat -> S or V beat) learned from other people's records.

    **Model.** For every source record and abnormal class ``c`` (S, V), the
    degradation is a linear, time-invariant FIR filter ``h`` (``filter_length``
    taps, centred) that takes the record's average normal (N) beat ``x`` to an
    abnormal beat ``y`` of that record: ``y ~= x * h``. It is fitted by
    regularized least squares, shrunk towards the identity filter
    (:func:`fit_degradation_filter`), as Kiranyaz, Ince & Gabbouj (2017) built
    their abnormal-beat-synthesis filter library. Per (record, class) the bank
    keeps the filter to the class's *average* beat and, for variety, filters
    to up to ``n_beat_filters`` individual beats of that class drawn at random.
    With ``rr_features=True`` each filter also keeps the RR timing of its
    beat(s) as ratios to the record's average RR (pre/avg, post/avg,
    local/avg), so that a synthetic beat gets the timing pattern of its class
    (a premature S beat, a V beat followed by a compensatory pause).

    **Synthesis.** :meth:`transform` filters a new person's average normal beat
    with every filter of the bank; :meth:`synthesize` filters individual normal
    beats (so the person's beat-to-beat variability and noise carry over) and
    returns labels. The RR features of a synthetic beat are the filter's ratios
    times the person's average RR.

    **Limits.** A linear filter of a few hundred milliseconds maps one
    waveform to another only as far as the two are aligned on the annotated R
    peak: a beat with a different rhythm origin (retrograde P waves, a P wave
    hidden in the T of the previous beat) is reproduced as a *shape*, not as a
    physiological model. The bank can only synthesize the kinds of S and V
    beats its source records contain (MIT-BIH: 48 ambulatory records of 47
    people); fusion (F) and unclassifiable (Q) beats are not modelled. The
    synthetic beats are made from the person's own morphology, but nothing
    guarantees that the person's future abnormal beats look like any of them.

    Parameters
    ----------
    filter_length : int, default=63
        Odd number of taps of each filter (63 taps = 0.35 s at 180 Hz).
    alpha : float, default=1e-3
        Ridge strength towards the identity filter, relative to the energy of
        the average normal beat.
    n_beat_filters : int, default=8
        Individual abnormal beats per (record, class) that get a filter of
        their own, besides the class average (0: the averages only).
    classes : tuple of str, default=("S", "V")
        Abnormal classes modelled.
    normal_class : str, default="N"
    min_normal_beats : int, default=5
        A source record needs at least this many N beats (for its average) to
        enter the bank.
    rr_features : bool, default=False
        ``X`` carries the 7 RR features of :func:`sk1dcnn.ecg.rr_features` as
        its last columns (:func:`sk1dcnn.join_static`); synthetic beats get
        RR features too.
    random_state : int, RandomState or None, default=None
        Draws the individual beats that get a filter.

    Attributes
    ----------
    filters_ : ndarray of shape (n_filters, filter_length)
    filter_classes_ : ndarray of shape (n_filters,)
        The abnormal class each filter synthesizes.
    filter_records_ : ndarray of shape (n_filters,)
        The source record of each filter.
    rr_ratios_ : ndarray of shape (n_filters, 3)
        Pre/avg, post/avg and local/avg RR of the filter's beat(s) (median over
        the class for the average filter); only with ``rr_features=True``.
    records_ : ndarray of str
        The source records in the bank.
    n_timepoints_ : int
        Length of the beats (without the RR columns).

    Examples
    --------
    >>> import numpy as np
    >>> from sk1dcnn.ecg.synthesis import DegradationBank
    >>> t = np.linspace(-1, 1, 64)
    >>> n = np.exp(-(t / 0.05) ** 2)
    >>> v = np.exp(-(t / 0.2) ** 2)
    >>> X = np.vstack([n, n, v]); y = np.array(["N", "N", "V"]); g = np.array(["a", "a", "a"])
    >>> bank = DegradationBank(filter_length=31, n_beat_filters=0).fit(X, y, groups=g)
    >>> bank.transform(X[:2]).shape, bank.filter_classes_.tolist()
    ((1, 64), ['V'])
    """

    _parameter_constraints = {
        "filter_length": [Interval(numbers.Integral, 1, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "n_beat_filters": [Interval(numbers.Integral, 0, None, closed="left")],
        "classes": [tuple, list],
        "normal_class": [str],
        "min_normal_beats": [Interval(numbers.Integral, 1, None, closed="left")],
        "rr_features": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, filter_length=63, alpha=1e-3, n_beat_filters=8, classes=("S", "V"),
                 normal_class="N", min_normal_beats=5, rr_features=False, random_state=None):
        self.filter_length = filter_length
        self.alpha = alpha
        self.n_beat_filters = n_beat_filters
        self.classes = classes
        self.normal_class = normal_class
        self.min_normal_beats = min_normal_beats
        self.rr_features = rr_features
        self.random_state = random_state

    def _split(self, X):
        if self.rr_features:
            return X[:, :-_N_RR], X[:, -_N_RR:]
        return X, None

    def _check_X(self, X, what):
        X = np.asarray(X, dtype=float)
        if X.ndim != 2:
            raise ValueError(f"{what} must be 2-D (n_beats, n_timepoints"
                             f"{' + 7 RR features' if self.rr_features else ''}), got shape {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError(f"{what} contains NaN or infinite values")
        return X

    def fit(self, X, y, groups):
        """Fit one filter per source record (``groups``) and class, plus per-beat filters.

        Parameters
        ----------
        X : array-like of shape (n_beats, n_timepoints) or (n_beats, n_timepoints + 7)
            Beats of the source records, aligned on the R peak (with the RR
            features as last columns when ``rr_features=True``).
        y : array-like of shape (n_beats,)
            AAMI class of each beat.
        groups : array-like of shape (n_beats,)
            Source record of each beat.

        Returns
        -------
        self
        """
        self._validate_params()
        if self.filter_length % 2 == 0:
            raise ValueError(f"filter_length must be odd (a centred filter), got {self.filter_length}")
        X = self._check_X(X, "X")
        y = np.asarray(y).astype(str)
        groups = np.asarray(groups).astype(str)
        if not len(X) == len(y) == len(groups):
            raise ValueError(f"X, y and groups have different lengths: {len(X)}, {len(y)}, {len(groups)}")
        sig, rr = self._split(X)
        if sig.shape[1] < self.filter_length:
            raise ValueError(f"beats of {sig.shape[1]} timepoints are shorter than filter_length="
                             f"{self.filter_length}")
        rng = np.random.default_rng(
            self.random_state if not isinstance(self.random_state, np.random.RandomState)
            else self.random_state.randint(2**31))
        filters, classes, records, ratios = [], [], [], []
        for rec in np.unique(groups):
            in_rec = groups == rec
            normal = in_rec & (y == self.normal_class)
            if normal.sum() < self.min_normal_beats:
                continue
            template = sig[normal].mean(axis=0)
            for c in self.classes:
                idx = np.flatnonzero(in_rec & (y == c))
                if len(idx) == 0:
                    continue
                picks = [idx]  # the class average first
                if self.n_beat_filters:
                    chosen = rng.choice(idx, size=min(self.n_beat_filters, len(idx)), replace=False)
                    picks += [np.array([i]) for i in np.sort(chosen)]
                for pick in picks:
                    filters.append(fit_degradation_filter(template, sig[pick].mean(axis=0),
                                                          self.filter_length, self.alpha))
                    classes.append(c)
                    records.append(rec)
                    if rr is not None:
                        ratios.append(np.median(rr[pick][:, _RATIOS], axis=0))
        if not filters:
            raise ValueError(f"no source record has both {self.min_normal_beats} {self.normal_class} beats "
                             f"and a beat of class {' or '.join(self.classes)}: the bank is empty")
        self.filters_ = np.asarray(filters)
        self.filter_classes_ = np.asarray(classes)
        self.filter_records_ = np.asarray(records)
        self.records_ = np.unique(self.filter_records_)
        if rr is not None:
            self.rr_ratios_ = np.asarray(ratios)
        self.n_timepoints_ = sig.shape[1]
        return self

    def _apply(self, beats, filter_index):
        L = self.filter_length
        c = (L - 1) // 2
        out = np.empty((len(filter_index), beats.shape[1]))
        for k, (b, f) in enumerate(zip(beats, filter_index)):
            out[k] = np.convolve(b, self.filters_[f])[c:c + beats.shape[1]]
        return out

    def _synthetic_rr(self, rr_normal, filter_index):
        avg = float(np.median(rr_normal[:, _AVG]))
        ratios = self.rr_ratios_[filter_index]
        out = np.empty((len(filter_index), _N_RR))
        out[:, 0:3] = ratios * avg
        out[:, 3] = avg
        out[:, 4:7] = ratios
        return out

    def _check_normal(self, X):
        check_is_fitted(self)
        X = self._check_X(X, "normal_beats")
        sig, rr = self._split(X)
        if sig.shape[1] != self.n_timepoints_:
            raise ValueError(f"normal_beats have {sig.shape[1]} timepoints, the bank was fitted on "
                             f"{self.n_timepoints_}")
        if len(sig) == 0:
            raise ValueError("normal_beats is empty: synthesis needs at least one normal beat")
        return sig, rr

    def transform(self, X):
        """Filter the average of ``X`` (a person's normal beats) with every filter of the bank.

        Parameters
        ----------
        X : array-like of shape (n_beats, n_timepoints[ + 7])
            Normal beats of the person (the bank must not contain their record).

        Returns
        -------
        X_synth : ndarray of shape (n_filters, n_timepoints[ + 7])
            One synthetic beat per filter, in the order of ``filter_classes_``.
        """
        sig, rr = self._check_normal(X)
        index = np.arange(len(self.filters_))
        out = self._apply(np.repeat(sig.mean(axis=0)[None], len(index), axis=0), index)
        if rr is not None:
            out = np.hstack([out, self._synthetic_rr(rr, index)])
        return out

    def synthesize(self, X, n_per_filter=1, use_average=True, random_state=None):
        """Synthetic abnormal beats and their labels from a person's normal beats.

        Parameters
        ----------
        X : array-like of shape (n_beats, n_timepoints[ + 7])
            Normal beats of the person.
        n_per_filter : int, default=1
            Individual normal beats (drawn at random, with replacement when
            there are fewer) passed through each filter.
        use_average : bool, default=True
            Also pass the average normal beat through each filter (:meth:`transform`).
        random_state : int or None, default=None

        Returns
        -------
        X_synth : ndarray of shape (n_synth, n_timepoints[ + 7])
        y_synth : ndarray of shape (n_synth,)
            The class of each synthetic beat.
        """
        sig, rr = self._check_normal(X)
        rng = np.random.default_rng(random_state)
        parts, labels = [], []
        if use_average:
            parts.append(self.transform(X))
            labels.append(self.filter_classes_)
        if n_per_filter:
            index = np.repeat(np.arange(len(self.filters_)), n_per_filter)
            beats = rng.integers(0, len(sig), size=len(index))
            out = self._apply(sig[beats], index)
            if rr is not None:
                out = np.hstack([out, self._synthetic_rr(rr, index)])
            parts.append(out)
            labels.append(self.filter_classes_[index])
        return np.vstack(parts), np.concatenate(labels)

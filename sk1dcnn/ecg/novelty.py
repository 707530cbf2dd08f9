"""How new is a heartbeat for this person: a template of their normal beats, followed online.

A personal monitor trained on a person's first minutes meets beats that drift away
from those minutes (electrode contact, posture, heart rate, noise). A fixed template
calls that drift abnormal. :class:`AdaptiveTemplateDetector` follows the person's
normal beats instead: its template and its local RR interval are exponential moving
averages of the beats it has seen, and a beat too far from them is *not* averaged in,
so a run of abnormal beats cannot pull the template towards itself.

For each beat it returns two ratios, above 1 when the beat is beyond anything the
person's training beats showed:

``distance_ratio``
    ``||beat - template|| / ||template||`` over the largest such distance of the
    training beats;
``prematurity_ratio``
    the smallest ``pre_rr / local_rr`` of the training beats over the beat's own
    ``pre_rr / local_rr`` (a premature beat comes early against the recent rhythm).

The detector needs normal beats only: it is the "N beats only" half of a personal
monitor, and the gate that decides which monitored beats may teach a personal
classifier more about the person's normal beats.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator

__all__ = ["AdaptiveTemplateDetector"]


class AdaptiveTemplateDetector(BaseEstimator):
    """A person's normal-beat template and local RR interval, updated online.

    Parameters
    ----------
    template_rate : float, default=0.05
        Weight of a new beat in the template's moving average (about the last
        ``1 / template_rate`` accepted beats count).
    rr_rate : float, default=0.1
        Weight of a new pre-RR interval in the local RR interval's moving average.
    n_init : int, default=30
        The template starts as the mean of the first ``n_init`` training beats.
    update_gate : tuple of 2 float, default=(3.0, 1.2)
        A monitored beat updates the template and the local RR only if its
        ``distance_ratio`` and ``prematurity_ratio`` are below these: beats far
        beyond the training range are kept out, moderate drift is followed.

    Attributes
    ----------
    template_ : ndarray of shape (n_timepoints,)
        The current template (it moves with every accepted beat).
    local_rr_ : float
        The current local RR interval, seconds.
    distance_threshold_ : float
        The largest relative distance of a training beat to the template.
    prematurity_threshold_ : float
        The smallest ``pre_rr / local_rr`` of a training beat.
    n_updates_ : int
        Beats averaged in so far (training and monitored).

    Notes
    -----
    A monitored beat is compared with a template built from the beats before it
    only (:meth:`step`, :meth:`score_stream`: one beat at a time, in time order).
    :meth:`fit` starts the template as the mean of the first ``n_init`` training
    beats, then averages every training beat in (they are normal by
    construction), so the thresholds are measured against a moving template, as
    the monitored beats will be; the first ``n_init`` training beats are thus
    compared with a template that already contains them, which makes the
    thresholds a little tighter.

    A sudden, lasting change of rate or shape beyond ``update_gate`` (a new
    rhythm, a new lead position) is never averaged in: the template then stays
    where it was and every later beat keeps its large ratio.

    Examples
    --------
    >>> import numpy as np
    >>> from sk1dcnn.ecg.novelty import AdaptiveTemplateDetector
    >>> rng = np.random.default_rng(0)
    >>> beat = np.sin(np.linspace(0, np.pi, 40))
    >>> train = beat + 0.01 * rng.standard_normal((100, 40))
    >>> det = AdaptiveTemplateDetector().fit(train, np.full(100, 0.8))
    >>> d, p = det.score_stream(np.vstack([beat, -beat]), [0.8, 0.8])
    >>> bool(d[0] < 1 < d[1])
    True
    """

    def __init__(self, template_rate=0.05, rr_rate=0.1, n_init=30, update_gate=(3.0, 1.2)):
        self.template_rate = template_rate
        self.rr_rate = rr_rate
        self.n_init = n_init
        self.update_gate = update_gate

    def _validate(self):
        for name in ("template_rate", "rr_rate"):
            v = getattr(self, name)
            if not isinstance(v, numbers.Real) or not 0 < v <= 1:
                raise ValueError(f"{name} must be a float in (0, 1], got {v!r}")
        if not isinstance(self.n_init, numbers.Integral) or self.n_init < 1:
            raise ValueError(f"n_init must be a positive int, got {self.n_init!r}")
        gate = self.update_gate
        if np.shape(gate) != (2,) or not all(np.isfinite(gate)) or min(gate) <= 0:
            raise ValueError(f"update_gate must be two positive numbers (distance, prematurity), got {gate!r}")

    @staticmethod
    def _check(beats, pre_rr, what):
        beats = np.asarray(beats, dtype=np.float64)
        pre_rr = np.asarray(pre_rr, dtype=np.float64)
        if beats.ndim != 2:
            raise ValueError(f"{what} beats must be 2-D (n_beats, n_timepoints), got shape {beats.shape}")
        if pre_rr.shape != (len(beats),):
            raise ValueError(f"pre_rr must hold one interval per beat: {len(beats)} beats, "
                             f"pre_rr of shape {pre_rr.shape}")
        if not (np.isfinite(beats).all() and np.isfinite(pre_rr).all()):
            raise ValueError(f"{what} beats and pre_rr must be finite (no NaN or inf)")
        if (pre_rr <= 0).any():
            raise ValueError("pre_rr must be positive intervals, seconds")
        return beats, pre_rr

    def fit(self, beats, pre_rr):
        """Learn the person's template and thresholds from their normal beats, in time order.

        Parameters
        ----------
        beats : array-like of shape (n_beats, n_timepoints)
            Normal beats only, aligned on the R peak.
        pre_rr : array-like of shape (n_beats,)
            Each beat's pre-RR interval, seconds.

        Returns
        -------
        self
        """
        self._validate()
        beats, pre_rr = self._check(beats, pre_rr, "training")
        if len(beats) < 2:
            raise ValueError(f"fit needs at least 2 normal beats, got {len(beats)}")
        self.template_ = beats[: self.n_init].mean(axis=0)
        if not np.linalg.norm(self.template_) > 0:
            raise ValueError("the training beats average to zero: no template to compare with")
        self.local_rr_ = float(pre_rr[0])
        self.n_updates_ = 0
        dist, prem = np.empty(len(beats)), np.empty(len(beats))
        for i, (b, r) in enumerate(zip(beats, pre_rr)):
            dist[i], prem[i] = self._raw(b, r)
            self._update(b, r)
        self.distance_threshold_ = float(dist.max()) or np.finfo(float).tiny
        self.prematurity_threshold_ = float(prem.min())
        return self

    def _raw(self, beat, pre_rr):
        return (float(np.linalg.norm(beat - self.template_) / np.linalg.norm(self.template_)),
                float(pre_rr / self.local_rr_))

    def _update(self, beat, pre_rr):
        a, b = self.template_rate, self.rr_rate
        self.template_ = (1 - a) * self.template_ + a * beat
        self.local_rr_ = (1 - b) * self.local_rr_ + b * float(pre_rr)
        self.n_updates_ += 1

    def step(self, beat, pre_rr):
        """Score one monitored beat, then average it in if it passes ``update_gate``.

        Parameters
        ----------
        beat : array-like of shape (n_timepoints,)
            The beat, cut and scaled as the training beats were.
        pre_rr : float
            Its pre-RR interval, seconds.

        Returns
        -------
        distance_ratio, prematurity_ratio : float
            Above 1 when the beat is further from the template, or more premature
            against the local RR, than any training beat was.
        """
        if not hasattr(self, "template_"):
            raise RuntimeError("AdaptiveTemplateDetector is not fitted yet: call fit with normal beats first")
        beat = np.asarray(beat, dtype=np.float64)
        if beat.shape != self.template_.shape:
            raise ValueError(f"beat has {beat.shape} timepoints, the training beats had {self.template_.shape}")
        if not np.isfinite(beat).all():
            raise ValueError("the beat must be finite (no NaN or inf)")
        if not (np.isfinite(pre_rr) and pre_rr > 0):
            raise ValueError(f"pre_rr must be a positive interval, seconds, got {pre_rr!r}")
        d, p = self._raw(beat, pre_rr)
        ratios = (d / self.distance_threshold_, self.prematurity_threshold_ / p)
        if ratios[0] < self.update_gate[0] and ratios[1] < self.update_gate[1]:
            self._update(beat, pre_rr)
        return ratios

    def score_stream(self, beats, pre_rr):
        """:meth:`step` over monitored beats in time order (the state moves on).

        Parameters
        ----------
        beats : array-like of shape (n_beats, n_timepoints)
            Monitored beats, in time order.
        pre_rr : array-like of shape (n_beats,)
            Their pre-RR intervals, seconds.

        Returns
        -------
        distance_ratio, prematurity_ratio : ndarray of shape (n_beats,)
        """
        beats, pre_rr = self._check(beats, pre_rr, "monitored")
        out = np.array([self.step(b, r) for b, r in zip(beats, pre_rr)]).reshape(-1, 2)
        return out[:, 0], out[:, 1]

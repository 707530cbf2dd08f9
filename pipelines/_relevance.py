"""The average test beat of each class and where the network looks in it (no MLflow, no files).

:func:`class_relevance` is computed by the ECG workflow (:func:`pipelines.ecg.fit_and_evaluate`)
and drawn by :func:`pipelines._plots.plot_class_relevance`, one figure per class.
"""

from dataclasses import dataclass, field

import numpy as np

__all__ = ["MAX_BEATS", "METHOD", "ClassRelevance", "class_relevance", "preprocess"]

#: Beats averaged per class at most (drawn at random): a few seconds for any data set.
MAX_BEATS = 500
#: The relevance method of the figures (see :func:`class_relevance` for why).
METHOD = "gradient*input"


@dataclass(frozen=True)
class ClassRelevance:
    """One class's average preprocessed test beat and its mean relevance for that class."""

    beat: np.ndarray            # (T,) mean of the preprocessed beats (the network's input)
    beat_std: np.ndarray        # (T,) their standard deviation per timepoint
    relevance: np.ndarray       # (T,) mean relevance of the class's output, per timepoint
    n_beats: int                # beats averaged (at most MAX_BEATS)
    n_class: int                # test beats of the class
    n_correct: int              # of which the model classified correctly
    correct_only: bool          # True: the beats averaged are correctly classified ones
    time: np.ndarray            # (T,) the x axis: seconds from the R peak, or sample index
    time_unit: str              # "s" or "sample"
    method: str = METHOD
    static: dict = field(default_factory=dict)  # static feature name -> its mean relevance
    static_reference: dict = field(default_factory=dict)  # name -> its reference (training mean); {}: 0


def preprocess(pipe, X):
    """``X`` as the pipeline's last step sees it (float64); a one-step pipeline passes it through."""
    X = np.asarray(X)
    return np.asarray(pipe[:-1].transform(X) if len(pipe) > 1 else X, dtype=np.float64)


def class_relevance(parts, labels, time, time_unit, *, static_names=(), static_reference=None,
                    max_beats=MAX_BEATS, random_state=0):
    """Average beat and mean relevance of each class, over its correctly classified test beats.

    For each class of ``labels`` that has test beats and that the models know:
    the correctly classified test beats of the class (all its beats when none is
    correct; ``correct_only`` says which), at most ``max_beats`` of them drawn at
    random, go through each model's preprocessing (``pipe[:-1].transform``); the
    figure's beat is their mean, and its relevance the mean of
    :func:`sk1dcnn.relevance` for that class.

    The method is ``"gradient*input"`` (Shrikumar et al. 2017): the gradient of
    the class's logit times the input. It reads best on an ECG: it is signed (a
    red stretch raises the class's score, a blue one lowers it), it has the
    resolution of the beat itself (one value per sample, so it lands on the P
    wave, the QRS complex or the T wave rather than on a 47-ms step of the
    last feature map, as Grad-CAM would), it is near zero on the flat baseline
    where the input is near zero, and it scores the static features (the RR
    intervals) in the same unit, a contribution to the logit, so the figure can
    say whether a class is told by its shape or by its timing.

    The signal's reference is the flat line (zero: the beats are standardised),
    so ``gradient * input`` reads as "this stretch of the beat, against a flat
    line". An RR interval of zero is no reference, though: a static feature's
    relevance is ``gradient * (value - static_reference)``, against a typical
    training beat's timing, so that the short RR before a premature beat shows
    as evidence for S, not against it.

    Parameters
    ----------
    parts : list of (pipeline, X, y_true, y_pred)
        Fitted pipelines ending in a CNN1DClassifier, each with the test beats
        it classified (one part; or one per patient, each with its own model).
    labels : list
        Classes in reporting order.
    time : ndarray of shape (T,)
        The x axis of the preprocessed signal (without static columns).
    time_unit : {"s", "sample"}
    static_names : sequence of str
        Names of the static columns at the end of the preprocessed input
        (``n_static_features`` of the classifier), e.g. the RR features.
    static_reference : array-like of shape (len(static_names),), default=None
        The static features' reference values: their mean over the training
        beats (what the figures say); None: zero (plain gradient * input).
    max_beats : int
    random_state : int
        Seeds the draw of the beats.

    Returns
    -------
    dict
        Class -> :class:`ClassRelevance`, in the order of ``labels``. A class
        no model was trained on (e.g. F beats left out of training) has none.
    """
    from sk1dcnn import relevance

    rng = np.random.default_rng(random_state)
    k = len(static_names)
    ref = np.zeros(k) if static_reference is None else np.asarray(static_reference, dtype=np.float64)
    if ref.shape != (k,):
        raise ValueError(f"class_relevance: static_reference has shape {ref.shape}; it must have one "
                         f"value per static feature ({k})")
    y_true = np.concatenate([np.asarray(p[2]) for p in parts])
    y_pred = np.concatenate([np.asarray(p[3]) for p in parts])
    owner = np.concatenate([np.full(len(p[2]), i) for i, p in enumerate(parts)])
    known = [set(pipe[-1].classes_.tolist()) for pipe, *_ in parts]
    start = np.concatenate([[0], np.cumsum([len(p[2]) for p in parts])])  # first row of each part
    out = {}
    for c in labels:
        explainable = (y_true == c) & np.array([c in known[i] for i in owner], dtype=bool)
        if not explainable.any():
            continue
        correct = explainable & (y_pred == c)
        chosen = np.flatnonzero(correct if correct.any() else explainable)
        if chosen.size > max_beats:
            chosen = np.sort(rng.choice(chosen, size=max_beats, replace=False))
        beats, rel = [], []
        for i, (pipe, X, _, _) in enumerate(parts):
            idx = chosen[owner[chosen] == i] - start[i]
            if idx.size == 0:
                continue
            Z = preprocess(pipe, np.asarray(X)[idx])
            beats.append(Z)
            rel.append(relevance(pipe[-1], Z, target=c, method="gradient"))
        Z, G = np.concatenate(beats), np.concatenate(rel)
        T = Z.shape[1] - k
        R = np.concatenate([G[:, :T] * Z[:, :T], G[:, T:] * (Z[:, T:] - ref)], axis=1)  # gradient*input
        if T != len(time):
            raise ValueError(f"class_relevance: the preprocessed beats have {T} timepoints (plus {k} "
                             f"static columns) but the time axis has {len(time)}")
        out[c] = ClassRelevance(
            beat=Z[:, :T].mean(axis=0), beat_std=Z[:, :T].std(axis=0), relevance=R[:, :T].mean(axis=0),
            n_beats=int(chosen.size), n_class=int(np.sum(y_true == c)), n_correct=int(correct.sum()),
            correct_only=bool(correct.any()), time=np.asarray(time, dtype=np.float64), time_unit=time_unit,
            static=dict(zip(static_names, (float(v) for v in R[:, T:].mean(axis=0)))),
            static_reference={} if static_reference is None else dict(zip(static_names, map(float, ref))))
    return out

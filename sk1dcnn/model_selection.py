"""Decision offsets for multiclass classifiers, tuned on out-of-fold predictions,
and ensembles of one classifier trained from several seeds.

scikit-learn's ``TunedThresholdClassifierCV`` tunes the decision threshold of a
*binary* classifier. Arrhythmia and other imbalanced multiclass problems need
the same for several classes at once: a classifier trained with balanced class
weights (or on a subsampled majority class) calls far too many beats S or V
once it meets the real class frequencies. :class:`TunedOffsetsClassifierCV`
predicts

    argmax_c  log p(c | x) + offsets_[c]

with one offset per class, chosen to maximise a label metric on out-of-fold
predictions of the training data (the folds may be grouped, e.g. by patient),
and refits the estimator on all of it. An offset is a shift of the class
prior: ``predict_proba`` returns the estimator's probabilities multiplied by
``exp(offsets_)`` and renormalised, so that its argmax is ``predict``.
"""

import numbers

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from sklearn.model_selection import StratifiedGroupKFold, check_cv
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils import _safe_indexing, indexable
from sklearn.utils._available_if import available_if
from sklearn.utils.metaestimators import _BaseComposition  # named members' params, as Pipeline's
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _check_method_params, check_is_fitted

__all__ = ["BlendClassifier", "SeedEnsembleClassifier", "TunedOffsetsClassifierCV", "decide", "tune_offsets"]

#: The label metrics ``scoring`` may name (higher is better); ``labels`` restricts the F1 ones.
METRICS = {
    "accuracy": lambda y, p, labels, w: accuracy_score(y, p, sample_weight=w),
    "balanced_accuracy": lambda y, p, labels, w: balanced_accuracy_score(y, p, sample_weight=w),
    "f1_macro": lambda y, p, labels, w: f1_score(y, p, labels=labels, average="macro", zero_division=0,
                                                 sample_weight=w),
    "f1_weighted": lambda y, p, labels, w: f1_score(y, p, labels=labels, average="weighted", zero_division=0,
                                                    sample_weight=w),
}

_EPS = 1e-12


def decide(proba, offsets):
    """Column index of the largest ``log proba + offsets`` in each row: the decision with offsets.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Class probabilities (clipped at 1e-12 before the log).
    offsets : float or array-like of shape (n_classes,)

    Returns
    -------
    ndarray of shape (n_samples,) of int
    """
    return _decide(np.log(np.clip(np.asarray(proba, dtype=float), _EPS, None)), offsets)


def _decide(log_proba, offsets):
    """Column index of the largest ``log_proba + offsets`` per row."""
    return np.argmax(log_proba + offsets, axis=1)


def tune_offsets(y_true, proba, classes, metric, grid, *, reference=0, fixed=(), max_sweeps=10):
    """Per-class log-probability offsets that maximise ``metric`` on given predictions.

    Coordinate ascent: each class but ``reference`` (whose offset stays 0,
    since only differences between offsets matter) takes in turn the value of
    ``grid`` that scores best with the others fixed; sweeps repeat until one
    changes nothing. On ties the value nearest 0 wins, so an offset moves only
    when it helps.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    proba : ndarray of shape (n_samples, n_classes)
        Probabilities of ``classes`` (out-of-fold, for an honest choice).
    classes : array-like of shape (n_classes,)
    metric : callable
        ``metric(y_true, y_pred) -> float``, higher is better.
    grid : array-like of float
        The offsets tried for each class.
    reference : int, default=0
        Index of the class whose offset is fixed at 0.
    fixed : sequence of int, default=()
        Indices of other classes whose offset stays 0 too.
    max_sweeps : int, default=10

    Returns
    -------
    offsets : ndarray of shape (n_classes,)
    score : float
        ``metric`` with these offsets.
    """
    classes = np.asarray(classes)
    log_p = np.log(np.clip(np.asarray(proba, dtype=float), _EPS, None))
    grid = np.asarray(sorted(set(np.asarray(grid, dtype=float)) | {0.0}))
    order = np.argsort(np.abs(grid), kind="stable")  # ties go to the offset nearest 0
    offsets = np.zeros(len(classes))

    def score(off):
        return float(metric(y_true, classes[_decide(log_p, off)]))

    best = score(offsets)
    for _ in range(max_sweeps):
        changed = False
        for k in range(len(classes)):
            if k == reference or k in fixed:
                continue
            trial = offsets.copy()
            scores = []
            for v in grid[order]:
                trial[k] = v
                scores.append(score(trial))
            i = int(np.argmax(scores))
            if scores[i] > best:
                offsets[k], best, changed = grid[order][i], scores[i], True
        if not changed:
            break
    return offsets, best


def _oof_proba(estimator, X, y, train, test, fit_params):
    params = _check_method_params(X, fit_params, train)  # sample-aligned ones (e.g. sample_weight) sliced
    model = clone(estimator).fit(_take(X, train), _take(y, train), **params)
    return test, model.classes_, model.predict_proba(_take(X, test))


def _take(a, idx):
    return _safe_indexing(a, idx)


class TunedOffsetsClassifierCV(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A multiclass classifier whose decision offsets are tuned by cross-validation.

    The multiclass counterpart of scikit-learn's ``TunedThresholdClassifierCV``:
    out-of-fold probabilities of the training data choose one offset per class
    (added to the log-probabilities before the argmax) that maximises
    ``scoring``; the estimator is then refit on all the data.

    Use it when the training class frequencies differ from those the model
    will meet (balanced class weights, a subsampled majority class), or when
    the figure that matters is not accuracy (e.g. the F1 of the rare classes).
    The offsets are chosen on the training side only: with ``groups`` (e.g.
    patients) no group is in both a fold's fit and its out-of-fold predictions.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        Cloned for every fold and for the final refit.
    scoring : {"balanced_accuracy", "accuracy", "f1_macro", "f1_weighted"} or callable, \
default="balanced_accuracy"
        The label metric maximised, or ``metric(y_true, y_pred) -> float``
        (higher is better). A named metric keeps the fitted object free of
        functions, so that it saves with ``sk1dcnn.persistence`` (skops).
    labels : array-like or None, default=None
        The classes the ``"f1_macro"`` and ``"f1_weighted"`` scorings average
        over (None: all), e.g. ``["S", "V"]`` for the mean F1 of the two
        arrhythmia classes. The other scorings ignore it.
    cv : int, cross-validation generator or iterable, default=5
        As in scikit-learn, except that an int with ``groups`` given to
        :meth:`fit` means ``StratifiedGroupKFold(cv)``: no group is in both the
        fit and the out-of-fold predictions of a fold. (An int without groups
        means ``StratifiedKFold``.)
    offset_grid : array-like of float or None, default=None
        The offsets tried per class (natural-log units: +0.69 doubles a class's
        odds). None: 41 values from -4 to 4.
    reference_class : label or None, default=None
        The class whose offset stays 0. None: the most frequent class.
    fixed_classes : array-like or None, default=None
        Other classes whose offset stays 0: those whose out-of-fold
        predictions cannot tell how an offset carries to new groups, e.g. a
        class whose training samples nearly all come from one patient.
    refit : bool, default=True
        Refit the estimator on all the data (False: fit it on the first
        fold's training part only, which is cheaper and mostly for tests; that
        part must hold every class).
    n_jobs : int or None, default=None
        Folds fitted in parallel (joblib).

    Attributes
    ----------
    estimator_ : estimator
        The refit estimator.
    classes_ : ndarray of shape (n_classes,)
    offsets_ : ndarray of shape (n_classes,)
        Added to the log-probabilities of ``classes_``.
    best_score_ : float
        ``scoring`` of the out-of-fold predictions with ``offsets_``.
    base_score_ : float
        ``scoring`` of the same predictions without offsets (plain argmax).
    n_features_in_ : int
        When the estimator has it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sk1dcnn.model_selection import TunedOffsetsClassifierCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4)); y = np.where(X[:, 0] > 1.2, "rare", "common")
    >>> clf = TunedOffsetsClassifierCV(LogisticRegression(class_weight="balanced"),
    ...                                scoring="f1_macro", cv=3).fit(X, y)
    >>> clf.offsets_.shape
    (2,)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "scoring": [StrOptions(set(METRICS)), callable],
        "labels": ["array-like", None],
        "cv": ["cv_object"],
        "offset_grid": ["array-like", None],
        "reference_class": [None, str, numbers.Real, bool],
        "fixed_classes": ["array-like", str, None],
        "refit": ["boolean"],
        "n_jobs": [numbers.Integral, None],
    }

    def __init__(self, estimator, *, scoring="balanced_accuracy", labels=None, cv=5, offset_grid=None,
                 reference_class=None, fixed_classes=None, refit=True, n_jobs=None):
        self.estimator = estimator
        self.scoring = scoring
        self.labels = labels
        self.cv = cv
        self.offset_grid = offset_grid
        self.reference_class = reference_class
        self.fixed_classes = fixed_classes
        self.refit = refit
        self.n_jobs = n_jobs

    def _metric(self, score_weight):
        if not isinstance(self.scoring, str):
            if score_weight is None:
                return self.scoring
            return lambda y, p: self.scoring(y, p, sample_weight=score_weight)
        named, labels = METRICS[self.scoring], self.labels
        return lambda y, p: named(y, p, labels, score_weight)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, groups=None, *, score_weight=None, **fit_params):
        """Tune the offsets on out-of-fold probabilities, then refit on all the data.

        Parameters
        ----------
        X : array-like
            Whatever the estimator takes.
        y : array-like of shape (n_samples,)
            Class labels (binary or multiclass).
        groups : array-like of shape (n_samples,) or None
            Group labels for a group splitter (e.g. the patient of each beat).
        score_weight : array-like of shape (n_samples,) or None
            Weights of the samples in the out-of-fold score only (not in the
            fits). Use them when the training set's class frequencies are not
            the population's: after keeping a share ``s`` of a majority class,
            weight its samples ``1 / s``, so that the offsets are tuned at the
            frequencies the model will meet. A callable ``scoring`` then
            receives them as ``sample_weight=``.
        **fit_params
            Passed to every fit of the estimator; those with one value per
            sample (e.g. ``sample_weight``) are sliced for each fold.

        Returns
        -------
        self
        """
        if y is None:
            raise ValueError("TunedOffsetsClassifierCV requires y to be passed, but the target y is None.")
        X, y = indexable(X, y)
        y = np.asarray(y)
        check_classification_targets(y)
        kind = type_of_target(y, input_name="y")
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"TunedOffsetsClassifierCV needs binary or multiclass y; got {kind} targets.")
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2:
            raise ValueError(f"TunedOffsetsClassifierCV needs at least 2 classes in y; got "
                             f"{len(classes)} class ({classes.tolist()}).")
        if self.reference_class is None:
            reference = int(np.argmax(counts))
        else:
            where = np.flatnonzero(classes == self.reference_class)
            if not len(where):
                raise ValueError(f"reference_class={self.reference_class!r} is not a class of y; "
                                 f"classes: {classes.tolist()}.")
            reference = int(where[0])
        if self.labels is not None:
            unknown = [c for c in np.atleast_1d(self.labels).tolist() if c not in set(classes.tolist())]
            if unknown:
                raise ValueError(f"labels {unknown} are not classes of y; classes: {classes.tolist()}.")
        fixed = ()
        if self.fixed_classes is not None:
            wanted = np.atleast_1d(self.fixed_classes).tolist()
            unknown = [c for c in wanted if c not in set(classes.tolist())]
            if unknown:
                raise ValueError(f"fixed_classes {unknown} are not classes of y; classes: {classes.tolist()}.")
            fixed = tuple(int(np.flatnonzero(classes == c)[0]) for c in wanted)
        if score_weight is not None:
            score_weight = np.asarray(score_weight, dtype=float)
            if score_weight.shape != y.shape or not np.all(np.isfinite(score_weight)) or np.any(score_weight < 0):
                raise ValueError(f"score_weight must hold one finite weight >= 0 per sample ({len(y)}); got "
                                 f"shape {score_weight.shape}.")
        # rounded: offsets read -0.8, not -0.7999999999999998, in logs and tables
        grid = np.round(np.linspace(-4.0, 4.0, 41), 6) if self.offset_grid is None \
            else np.asarray(self.offset_grid, float)
        if grid.ndim != 1 or not len(grid) or not np.all(np.isfinite(grid)):
            raise ValueError("offset_grid must be a non-empty 1D array of finite offsets; "
                             f"got {self.offset_grid!r}.")

        if isinstance(self.cv, numbers.Integral) and groups is not None:
            cv = StratifiedGroupKFold(self.cv)
        else:
            cv = check_cv(self.cv, y, classifier=True)
        splits = list(cv.split(X, y, groups))
        folds = Parallel(n_jobs=self.n_jobs)(
            delayed(_oof_proba)(self.estimator, X, y, tr, te, fit_params) for tr, te in splits)
        proba = np.zeros((len(y), len(classes)))
        seen = np.zeros(len(y), dtype=bool)
        for test, fold_classes, p in folds:
            # a fold's model may lack a class missing from its training part: that class gets 0
            cols = np.searchsorted(classes, fold_classes)
            proba[np.ix_(test, cols)] = p
            seen[test] = True
        if not seen.all():
            raise ValueError(f"cv={self.cv!r} leaves {int((~seen).sum())} samples out of every test fold; "
                             "out-of-fold predictions need each sample predicted once.")
        metric = self._metric(score_weight)
        log_p = np.log(np.clip(proba, _EPS, None))
        self.base_score_ = float(metric(y[seen], classes[_decide(log_p, 0.0)]))
        self.offsets_, self.best_score_ = tune_offsets(y, proba, classes, metric, grid, reference=reference,
                                                       fixed=fixed)

        if self.refit:
            self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        else:
            self.estimator_ = clone(self.estimator).fit(_take(X, splits[0][0]), y[splits[0][0]], **fit_params)
        if not np.array_equal(np.asarray(self.estimator_.classes_), classes):
            raise ValueError(f"the refit estimator's classes_ {list(self.estimator_.classes_)} differ from "
                             f"y's classes {classes.tolist()}.")
        self.classes_ = classes
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        return self

    def predict_proba(self, X):
        """The estimator's probabilities shifted by the offsets (a change of class prior).

        ``p_c * exp(offsets_[c])``, renormalised to sum to 1, so that the
        argmax is :meth:`predict`.

        Parameters
        ----------
        X : array-like

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        log_p = np.log(np.clip(self.estimator_.predict_proba(X), _EPS, None)) + self.offsets_
        log_p -= log_p.max(axis=1, keepdims=True)
        p = np.exp(log_p)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The class with the largest offset log-probability.

        Parameters
        ----------
        X : array-like

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self.classes_[decide(self.estimator_.predict_proba(X), self.offsets_)]

    @available_if(lambda self: hasattr(self.estimator, "transform"))
    def transform(self, X):
        """The refit estimator's ``transform`` (e.g. a CNN's embeddings), unchanged by the offsets.

        Parameters
        ----------
        X : array-like

        Returns
        -------
        ndarray
        """
        check_is_fitted(self)
        return self.estimator_.transform(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        from sklearn.utils import get_tags

        inner = get_tags(self.estimator)
        tags.input_tags = inner.input_tags
        tags.classifier_tags.multi_class = True
        return tags


def _fit_member(estimator, seed_param, seed, X, y, fit_params):
    model = clone(estimator)
    if seed_param is not None:
        model.set_params(**{seed_param: seed})
    return model.fit(X, y, **fit_params)


class _SoftVotingMixin:
    """What the ensembles that average their members' probabilities (soft voting) share."""

    def _adopt_members(self, names):
        """``classes_`` and ``n_features_in_`` of the fitted ``estimators_``, which must agree on the classes."""
        self.classes_ = np.asarray(self.estimators_[0].classes_)
        for name, m in zip(names[1:], self.estimators_[1:]):
            if not np.array_equal(np.asarray(m.classes_), self.classes_):
                raise ValueError(f"{name} learnt classes {np.asarray(m.classes_).tolist()}, the first "
                                 f"member {self.classes_.tolist()}")
        if hasattr(self.estimators_[0], "n_features_in_"):
            self.n_features_in_ = self.estimators_[0].n_features_in_

    def predict(self, X):
        """The class of largest mean probability.

        Parameters
        ----------
        X : array-like

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class SeedEnsembleClassifier(_SoftVotingMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """The same classifier trained from ``n_estimators`` seeds, its probabilities averaged.

    Neural networks trained from different initialisations disagree most where
    the data say least (new patients, rare classes); averaging their
    probabilities (soft voting) removes much of that seed-to-seed spread.
    InceptionTime is such an ensemble of 5 networks. Unlike scikit-learn's
    ``VotingClassifier``, the members are copies of one estimator, seeded
    apart, and keep the labels of ``y`` (they are not label-encoded), so each
    member is a usable model on its own.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        Cloned for every member.
    n_estimators : int, default=5
    seed_param : str or None, default="random_state"
        The estimator's parameter that seeds it (``"cnn__random_state"`` for
        a pipeline whose classifier step is ``cnn``). Member ``i`` gets
        ``seed + i * seed_stride``, where ``seed`` is the estimator's own
        value of it (0 when None, so that the ensemble is reproducible). Seeds
        of separate ensembles should differ by ``n_estimators * seed_stride``
        or more, or their members overlap (seed 1000 of one is member 1 of
        another seeded 0).
        None: the members are not reseeded (only for estimators that draw
        their own randomness).
    seed_stride : int, default=1000
    n_jobs : int or None, default=None
        Members fitted in parallel (joblib).

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members; ``estimators_[0]`` has the estimator's own seed.
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
        When the estimator has it.

    Examples
    --------
    >>> import numpy as np
    >>> from sk1dcnn import CNN1DClassifier
    >>> from sk1dcnn.model_selection import SeedEnsembleClassifier
    >>> X = np.random.default_rng(0).normal(size=(30, 24)); y = X[:, 5] > 0
    >>> ens = SeedEnsembleClassifier(CNN1DClassifier(filters=(4,), max_iter=3), n_estimators=3).fit(X, y)
    >>> [m.random_state for m in ens.estimators_]
    [0, 1000, 2000]
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "n_estimators": [Interval(numbers.Integral, 1, None, closed="left")],
        "seed_param": [str, None],
        "seed_stride": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_jobs": [numbers.Integral, None],
    }

    def __init__(self, estimator, *, n_estimators=5, seed_param="random_state", seed_stride=1000, n_jobs=None):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.seed_param = seed_param
        self.seed_stride = seed_stride
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **fit_params):
        """Fit every member on all of ``X, y``.

        Parameters
        ----------
        X : array-like
        y : array-like of shape (n_samples,)
        **fit_params
            Passed to every member's ``fit``.

        Returns
        -------
        self
        """
        if y is None:
            raise ValueError("SeedEnsembleClassifier requires y to be passed, but the target y is None.")
        seed = 0
        if self.seed_param is not None:
            params = self.estimator.get_params()
            if self.seed_param not in params:
                raise ValueError(f"seed_param={self.seed_param!r} is not a parameter of "
                                 f"{type(self.estimator).__name__}; e.g. 'random_state', or "
                                 "'cnn__random_state' for a pipeline step named cnn.")
            seed = params[self.seed_param]
            seed = 0 if seed is None else seed
            if not isinstance(seed, numbers.Integral):
                raise ValueError(f"SeedEnsembleClassifier seeds its members from an int {self.seed_param}; "
                                 f"got {seed!r}.")
        self.estimators_ = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_member)(self.estimator, self.seed_param, int(seed) + i * self.seed_stride, X, y, fit_params)
            for i in range(self.n_estimators))
        self._adopt_members([f"member {i}" for i in range(self.n_estimators)])
        return self

    def predict_proba(self, X):
        """The mean of the members' probabilities.

        Parameters
        ----------
        X : array-like

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return np.mean([m.predict_proba(X) for m in self.estimators_], axis=0)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        from sklearn.utils import get_tags

        tags.input_tags = get_tags(self.estimator).input_tags
        return tags


class BlendClassifier(_SoftVotingMixin, MetaEstimatorMixin, ClassifierMixin, _BaseComposition):
    """Several different classifiers, their probabilities averaged (soft voting) on the labels of ``y``.

    Like scikit-learn's ``VotingClassifier(voting="soft")``, but the members are
    fitted on ``y`` as it is, not label-encoded, so a member's
    ``class_weight={"N": 1, "S": 4}`` or any other use of the labels keeps
    working, and each fitted member is a usable model on its own. All members
    are fitted on the same ``X, y`` and must learn the same classes.

    Parameters
    ----------
    estimators : list of (str, classifier) tuples
        Named members with ``predict_proba``; ``set_params(<name>__<param>=...)``
        reaches into them, as in a ``Pipeline``.
    weights : sequence of float or None, default=None
        The members' weights in the average (None: equal).

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members, in the order of ``estimators``.
    named_estimators_ : dict
        The same, by name.
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
        When the first member has it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from sk1dcnn.model_selection import BlendClassifier
    >>> X = np.random.default_rng(0).normal(size=(40, 3)); y = np.where(X[:, 0] > 0, "b", "a")
    >>> blend = BlendClassifier([("lr", LogisticRegression()),
    ...                          ("tree", DecisionTreeClassifier(class_weight={"a": 1, "b": 2}))]).fit(X, y)
    >>> blend.classes_.tolist(), blend.named_estimators_["tree"].classes_.tolist()
    (['a', 'b'], ['a', 'b'])
    """

    _parameter_constraints: dict = {
        "estimators": [list],
        "weights": ["array-like", None],
    }

    def __init__(self, estimators, *, weights=None):
        self.estimators = estimators
        self.weights = weights

    def get_params(self, deep=True):
        """Parameters, with those of the members as ``<name>__<param>`` when ``deep``."""
        return self._get_params("estimators", deep=deep)

    def set_params(self, **params):
        """Set parameters, ``<name>__<param>`` of a member included; returns self."""
        self._set_params("estimators", **params)
        return self

    def _check_estimators(self):
        names = [name for name, _ in self.estimators] if all(
            isinstance(e, tuple) and len(e) == 2 for e in self.estimators) else None
        if not self.estimators or names is None:
            raise ValueError("estimators must be a non-empty list of (name, classifier) tuples; got "
                             f"{self.estimators!r}")
        self._validate_names(names)
        for name, est in self.estimators:
            if not hasattr(est, "predict_proba"):
                raise ValueError(f"BlendClassifier averages probabilities: member {name!r} "
                                 f"({type(est).__name__}) has no predict_proba")
        if self.weights is not None:
            w = np.asarray(self.weights, dtype=float)
            if w.shape != (len(self.estimators),):
                raise ValueError(f"weights has {w.size} values for {len(self.estimators)} estimators")
            if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
                raise ValueError(f"weights must be finite, >= 0 and not all 0; got {list(self.weights)}")
        return names

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **fit_params):
        """Fit a clone of every member on all of ``X, y``.

        Parameters
        ----------
        X : array-like
        y : array-like of shape (n_samples,)
        **fit_params
            Passed to every member's ``fit`` (so each member must accept them:
            a ``Pipeline`` member takes ``<step>__sample_weight``, not
            ``sample_weight``).

        Returns
        -------
        self
        """
        if y is None:
            raise ValueError("BlendClassifier requires y to be passed, but the target y is None.")
        names = self._check_estimators()
        self.estimators_ = [clone(est).fit(X, y, **fit_params) for _, est in self.estimators]
        self.named_estimators_ = dict(zip(names, self.estimators_))
        self._adopt_members([f"member {name!r}" for name in names])
        return self

    def predict_proba(self, X):
        """The (weighted) mean of the members' probabilities.

        Parameters
        ----------
        X : array-like

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return np.average([m.predict_proba(X) for m in self.estimators_], axis=0, weights=self.weights)

    def __sklearn_tags__(self):
        from sklearn.utils import get_tags

        tags = super().__sklearn_tags__()
        try:
            members = [get_tags(est).input_tags for _, est in self.estimators]
        except (TypeError, ValueError, AttributeError):  # not (name, estimator) pairs: fit says so
            return tags
        if members:
            # an input all members take: the first member's kinds, sparse or NaN only if all take it
            tags.input_tags = members[0]
            tags.input_tags.sparse = all(m.sparse for m in members)
            tags.input_tags.allow_nan = all(m.allow_nan for m in members)
        return tags

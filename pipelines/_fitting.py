"""Fitting and scoring shared by the workflows: one grid search, one refit, one evaluation.

No MLflow and no files here: these functions take arrays and estimators and
return fitted estimators, predictions and metric dicts.
"""

import contextlib
import math
import multiprocessing
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np

from .config import ConfigError

__all__ = ["Fitted", "SearchProgress", "cnn_step", "evaluate", "first_pipeline", "fit_clone", "grid_search",
           "search_backend"]


@dataclass
class Fitted:
    """What :func:`fit_clone` returns: the fitted clone, its predictions and its fit time."""

    model: object
    y_pred: np.ndarray = None
    fit_time_s: float = 0.0


def first_pipeline(model):
    """The workflow's pipeline inside the meta-estimators of the refit.

    Parameters
    ----------
    model : Pipeline, TunedOffsetsClassifierCV, BlendClassifier or SeedEnsembleClassifier
        Fitted or not.

    Returns
    -------
    Pipeline
        Inside a ``TunedOffsetsClassifierCV``: its refit estimator once fitted,
        its prototype before; inside a ``BlendClassifier`` (the network blended
        with a model of the static columns): its ``cnn`` estimator; inside a
        ``SeedEnsembleClassifier``: its first member (the ensemble's own seed),
        or its template before fitting.
    """
    from sk1dcnn.model_selection import BlendClassifier, SeedEnsembleClassifier, TunedOffsetsClassifierCV

    if isinstance(model, TunedOffsetsClassifierCV):
        model = getattr(model, "estimator_", model.estimator)
    if isinstance(model, BlendClassifier):  # the network blended with a model of the static columns
        fitted = hasattr(model, "named_estimators_")
        model = model.named_estimators_["cnn"] if fitted else dict(model.estimators)["cnn"]
    if isinstance(model, SeedEnsembleClassifier):
        model = model.estimators_[0] if hasattr(model, "estimators_") else model.estimator
    return model


def cnn_step(model):
    """The ``cnn`` step of a workflow's pipeline (of the first network of an ensemble).

    Parameters
    ----------
    model : Pipeline or a meta-estimator around one (see :func:`first_pipeline`)

    Returns
    -------
    CNN1DClassifier
    """
    return first_pipeline(model).named_steps["cnn"]


def _seed_param(model):
    """``cnn__random_state``, or its name inside meta-estimators (``estimator__cnn__...``)."""
    key = next((k for k in model.get_params() if k == "cnn__random_state" or k.endswith("__cnn__random_state")),
               None)
    if key is None:
        raise ValueError(f"fit_clone(seed=...) seeds the pipeline step named 'cnn'; {type(model).__name__} "
                         "has no cnn__random_state parameter")
    return key


def fit_clone(proto, X, y, *, params=None, seed=None, X_predict=None, fit_params=None):
    """Fit a clone of a pipeline, optionally with other parameters and seed, and predict.

    The one refit helper of every workflow (the seeds of the ECG refit, each
    patient of the patient-specific scheme, each held-out speaker of the audio
    workflow); it runs in joblib workers too.

    Parameters
    ----------
    proto : Pipeline
        Unfitted or fitted; it is cloned, never changed. Its CNN step is ``cnn``.
    X, y : array-like
        Training data.
    params : dict or None
        ``set_params`` of the clone (e.g. GridSearchCV's ``best_params_``).
    seed : int or None
        ``cnn__random_state`` of the clone (None keeps the prototype's).
    X_predict : array-like or None
        Predicted after the fit when given.
    fit_params : dict or None
        Passed to ``fit`` (e.g. ``groups`` of a ``TunedOffsetsClassifierCV``).

    Returns
    -------
    Fitted
    """
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    t0 = time.perf_counter()
    model = clone(proto).set_params(**(params or {}))
    if seed is not None:
        model.set_params(**{_seed_param(model): seed})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y, **(fit_params or {}))
    fit_time = time.perf_counter() - t0
    y_pred = None if X_predict is None else model.predict(X_predict)
    return Fitted(model, y_pred, fit_time)


@contextlib.contextmanager
def search_backend(search, source="mlflow.yml"):
    """Inside the block joblib (GridSearchCV's n_jobs) runs on the configured backend.

    ``search["backend"] == "local"``: local processes. ``"dask"``: the
    dask.distributed cluster at ``search["scheduler"]``, with the BLAS threads
    of each worker capped (:func:`sk1dcnn.parallel.dask_backend`).
    """
    if search.get("backend", "local") != "dask":
        yield None
        return
    try:
        import distributed  # noqa: F401

        from sk1dcnn.parallel import dask_backend
    except ImportError as exc:
        raise ConfigError(f"{source}: search.backend: dask needs dask.distributed ({exc}); "
                          "allowed: pip install sk1dcnn[dask], or backend: local") from None
    with contextlib.ExitStack() as stack:
        try:
            client = stack.enter_context(dask_backend(search["scheduler"]))
        except OSError as exc:  # distributed's connect timeout
            raise ConfigError(f"{source}: search.scheduler: cannot connect to {search['scheduler']} "
                              f"({exc}); start one with `dask scheduler` and `dask worker "
                              "tcp://HOST:8786` and pass its address") from None
        yield client


#: The clock of the progress lines (tests replace it with a fake one).
_clock = time.perf_counter


def _duration(seconds):
    """``0:07``, ``12:34`` or ``1:02:03``."""
    seconds = int(round(max(float(seconds), 0.0)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class SearchProgress:
    """Progress of a grid search: candidates done / total, fits, elapsed time and ETA.

    On a terminal one line on ``stream`` (stderr) is redrawn with ``\\r``;
    elsewhere (logs, CI) a line is written at most every ``every_s`` seconds,
    and the last one always.

    Parameters
    ----------
    n_candidates, n_splits : int
    label : str
        What the line starts with.
    refit : bool
        Whether a refit follows (said on the last line).
    stream : file-like or None
        None: ``sys.stderr`` at construction.
    every_s : float
    """

    def __init__(self, n_candidates, n_splits, label="grid search", refit=False, stream=None,
                 every_s=10.0):
        self.n, self.n_splits, self.label, self.refit = n_candidates, n_splits, label, refit
        self.stream = sys.stderr if stream is None else stream
        try:
            self.tty = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.tty = False
        self.every_s = every_s
        self.t0 = _clock()
        self.last = None
        self.lines = []  # what was written, for the record

    def __getstate__(self):
        # joblib may pickle the search (and this) for its workers, which never
        # report: leave the stream (stderr, a capture) behind
        return {**self.__dict__, "stream": None}

    def line(self, done, now):
        elapsed = now - self.t0
        fits = f"{done * self.n_splits}/{self.n * self.n_splits} fits"
        if done >= self.n:
            tail = f"in {_duration(elapsed)}" + ("; refitting the best on all the training data"
                                                   if self.refit else "")
            return f"{self.label}: {done}/{self.n} candidates ({fits}) {tail}"
        eta = elapsed / done * (self.n - done)
        return (f"{self.label}: {done}/{self.n} candidates ({fits}), {_duration(elapsed)} elapsed, "
                f"ETA {_duration(eta)}")

    def update(self, done):
        """``done`` candidates have all their folds scored."""
        now = _clock()
        last = done >= self.n
        if not self.tty and not last and self.last is not None and now - self.last < self.every_s:
            return
        self.last = now
        text = self.line(done, now)
        self.lines.append(text)
        stream = self.stream if self.stream is not None else sys.stderr
        if self.tty:
            width = max((len(t) for t in self.lines[:-1]), default=0)
            stream.write("\r" + text.ljust(width) + ("\n" if last else ""))
        else:
            stream.write(text + "\n")
        stream.flush()


def _search_class():
    """GridSearchCV that evaluates its candidates in rounds and reports after each round.

    The rounds keep every worker busy (``lcm(workers, folds) / folds`` candidates
    each) and give the same ``cv_results_`` as one call: scikit-learn's
    ``evaluate_candidates`` accumulates them in order.
    """
    from sklearn.model_selection import GridSearchCV, ParameterGrid

    class ProgressGridSearchCV(GridSearchCV):
        _progress = None
        _round = 1

        def _run_search(self, evaluate_candidates):
            candidates = list(ParameterGrid(self.param_grid))
            if self._progress is None:
                evaluate_candidates(candidates)
                return
            for start in range(0, len(candidates), self._round):
                evaluate_candidates(candidates[start:start + self._round])
                self._progress.update(min(start + self._round, len(candidates)))

    return ProgressGridSearchCV


def grid_search(pipe, grid, X, y, *, cv, scoring, search, groups=None, refit=False, source="mlflow.yml",
                progress=True):
    """``GridSearchCV(pipe, grid).fit(X, y)`` on the configured backend, quietly.

    Parameters
    ----------
    pipe : Pipeline
    grid : dict or list of dict
    X, y : array-like
    cv : int or CV splitter
    scoring : str or callable
    search : dict
        The resolved ``search:`` section (``n_jobs``, ``backend``, ``scheduler``).
    groups : array-like or None
        For grouped splitters (by record, by speaker).
    refit : bool, default=False
    progress : bool, default=True
        Report candidates done / total, elapsed time and ETA on stderr
        (:class:`SearchProgress`) after each round of candidates; never from
        a worker process.

    Returns
    -------
    GridSearchCV
        Fitted; ``cv_results_``, ``best_params_``, ``best_score_``.
    """
    import joblib
    from sklearn.base import is_classifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import ParameterGrid, check_cv

    # with dask, joblib's n_jobs=1 would run the candidates one after another
    n_jobs = -1 if search.get("backend") == "dask" else search["n_jobs"]
    gs = _search_class()(pipe, grid, scoring=scoring, cv=cv, n_jobs=n_jobs, refit=refit,
                         error_score="raise")
    with warnings.catch_warnings(), search_backend(search, source):
        # not from inside a worker (patient-specific searches run one per worker): its
        # lines would interleave with the others'
        if progress and multiprocessing.parent_process() is None:
            n_splits = check_cv(cv, y, classifier=is_classifier(pipe)).get_n_splits(X, y, groups)
            workers = max(joblib.effective_n_jobs(n_jobs), 1)
            gs._round = math.lcm(workers, n_splits) // n_splits
            gs._progress = SearchProgress(len(ParameterGrid(grid)), n_splits, refit=bool(refit))
        # the fits are short on purpose (and a workflow refits): their
        # ConvergenceWarnings say nothing here; scikit-learn passes this filter
        # on to the joblib workers
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        # a fold may miss a rare class (S, F) that the model predicts
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        gs.fit(X, y, **({"groups": groups} if groups is not None else {}))
    return gs


def evaluate(y_true, y_pred, labels):
    """Held-out metrics of predictions, as arrhythmia papers report them.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    labels : list
        Classes in reporting order.

    Returns
    -------
    metrics : dict
        ``accuracy``, ``balanced_accuracy``, ``f1_macro`` and per class
        ``se_<c>`` (sensitivity, recall), ``ppv_<c>`` (positive predictivity,
        precision) and ``support_<c>``.
    report : str
        ``classification_report`` text.
    cm : ndarray of shape (n_labels, n_labels)
        Confusion matrix (rows = true, columns = predicted) in ``labels`` order.
    """
    from sklearn.metrics import (accuracy_score, balanced_accuracy_score, classification_report,
                                 confusion_matrix, f1_score, precision_recall_fscore_support)

    y, y_pred = np.asarray(y_true), np.asarray(y_pred)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # classes absent from y_true or y_pred
        ppv, se, _, support = precision_recall_fscore_support(y, y_pred, labels=labels, zero_division=0)
        metrics = {
            "accuracy": accuracy_score(y, y_pred),
            "balanced_accuracy": balanced_accuracy_score(y, y_pred),
            "f1_macro": f1_score(y, y_pred, labels=sorted(set(np.unique(y).tolist())), average="macro",
                                 zero_division=0),
        }
        report = classification_report(y, y_pred, labels=labels, zero_division=0, digits=3)
    for c, s, p, n in zip(labels, se, ppv, support):
        metrics[f"se_{c}"] = float(s)
        metrics[f"ppv_{c}"] = float(p)
        metrics[f"support_{c}"] = int(n)
    cm = confusion_matrix(y, y_pred, labels=labels)
    return {k: float(v) for k, v in metrics.items()}, report, cm

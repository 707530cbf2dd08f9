"""Fitting and scoring shared by the workflows: one grid search, one refit, one evaluation.

No MLflow and no files here: these functions take arrays and estimators and
return fitted estimators, predictions and metric dicts.
"""

import contextlib
import time
import warnings
from dataclasses import dataclass

import numpy as np

from .config import ConfigError

__all__ = ["Fitted", "evaluate", "fit_clone", "grid_search", "search_backend"]


@dataclass
class Fitted:
    """What :func:`fit_clone` returns: the fitted clone, its predictions and its fit time."""

    model: object
    y_pred: np.ndarray = None
    fit_time_s: float = 0.0


def fit_clone(proto, X, y, *, params=None, seed=None, X_predict=None):
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

    Returns
    -------
    Fitted
    """
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    t0 = time.perf_counter()
    model = clone(proto).set_params(**(params or {}))
    if seed is not None:
        model.set_params(cnn__random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
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


def grid_search(pipe, grid, X, y, *, cv, scoring, search, groups=None, refit=False, source="mlflow.yml"):
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

    Returns
    -------
    GridSearchCV
        Fitted; ``cv_results_``, ``best_params_``, ``best_score_``.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV

    # with dask, joblib's n_jobs=1 would run the candidates one after another
    n_jobs = -1 if search.get("backend") == "dask" else search["n_jobs"]
    gs = GridSearchCV(pipe, grid, scoring=scoring, cv=cv, n_jobs=n_jobs, refit=refit,
                      error_score="raise")
    with warnings.catch_warnings(), search_backend(search, source):
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

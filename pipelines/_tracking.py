"""All MLflow code of the workflows, in one place.

Imported only when a workflow runs (``import sk1dcnn`` never imports MLflow).
Everything logged comes from plain results: ``get_params()``,
``GridSearchCV.cv_results_`` and the estimator's ``history_``.

Notes for MLflow 3.17 (measured):

* The file store is refused: the tracking URI is ``sqlite:///<path>`` by
  default and the experiment's artifact location is set explicitly when it is
  created (otherwise artifacts land in the working directory).
* ``mlflow.sklearn.log_model`` saves with skops and refuses, when loading,
  classes it was not told to trust: the model is logged with
  ``serialization_format="skops"`` and ``skops_trusted_types`` =
  :func:`sk1dcnn.persistence.get_trusted_types` (sk1dcnn's one trusted-type
  list), after :func:`sk1dcnn.persistence.check_trusted` has refused anything
  outside it. Explicit ``pip_requirements`` skip 6-10 s of requirement inference.
* ``mlflow.sklearn.autolog`` cannot see per-epoch curves: ``history_`` is
  logged here with ``step=epoch``.
* MLflow's HTTP client retries 7 times with exponential backoff and waits up
  to 120 s per request: a server that dies mid-run is reported after about
  4.5 minutes. Every run sets :data:`RUN_HTTP_SETTINGS` (unless the user set
  them) so a dead server is reported within 30 s (:func:`bounded_http`).
* The logged model keeps the sklearn flavor (skops), but its
  ``python_function`` flavor is :class:`LabelledModel`: ``predict`` returns
  class labels, and ``params={"predict_method": "predict_proba"}`` returns
  probabilities in a DataFrame with one column per class.
"""

import contextlib
import json
import logging
import math
import numbers
import os
import time

import mlflow
import numpy as np
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from ._report import LOCAL_COPY_HINT

# A new SQLite store logs "Creating initial MLflow database tables..." and "Updating
# database tables" at INFO (MLflow 3.17) in the middle of a workflow's output; its
# warnings and errors still show. (alembic's own logger is at WARNING already.)
logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)

__all__ = ["LabelledModel", "RUN_HTTP_SETTINGS", "Tracker", "TrackingServerError", "bounded_http",
           "check_server", "check_write_access", "is_remote", "load_pyfunc", "logged_run",
           "pip_requirements"]

#: How a team starts the shared server the error messages point to.
SERVER_HINT = ("start one with: mlflow server --backend-store-uri sqlite:///<path>/mlflow.db "
               "--artifacts-destination <path>/mlartifacts --host 127.0.0.1 --port 5000 "
               "(a team server with logins: docs/mlflow.md; or unset MLFLOW_TRACKING_URI and set "
               "tracking: uri: null in mlflow.yml to log to a local sqlite:///<cwd>/mlflow.db)")


from .config import TrackingServerError  # noqa: E402  (defined without MLflow for the CLI)


#: MLflow HTTP client settings of a run (MLflow 3.17's defaults: 7 retries, backoff factor 2,
#: 120 s timeout, Retry-After respected). A request to a dead or hung server fails after at most
#: 3 attempts x 6 s + 2.5 s of backoff; with the FAILED mark (:func:`few_retries`, 3 s) the run
#: reports it within 30 s. A variable the user set in the environment is left as it is.
RUN_HTTP_SETTINGS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "6",
    "MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER": "false",
}


@contextlib.contextmanager
def _environ(values, keep_set=False):
    """``os.environ`` updated inside the block and restored after it.

    With ``keep_set``, variables already set (by the user, or an enclosing block)
    are kept.
    """
    old = {k: os.environ.get(k) for k in values}
    os.environ.update({k: v for k, v in values.items() if not (keep_set and old[k] is not None)})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _current_tracking_uri(uri):
    """MLflow's current tracking URI (of its fluent API) is ``uri`` inside the block only.

    ``mlflow.set_tracking_uri`` also sets ``MLFLOW_TRACKING_URI`` in the
    environment; left behind, a later run in the same process would take it as
    the user's choice (it comes before mlflow.yml). Both are restored.
    """
    from mlflow.tracking._tracking_service import utils as tracking_utils

    before, env_before = tracking_utils._tracking_uri, os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before)
        if env_before is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = env_before


def bounded_http():
    """MLflow's HTTP retries and timeouts bounded for the block (:data:`RUN_HTTP_SETTINGS`).

    The variables are set only where the environment does not set them, and
    restored afterwards; MLflow reads them at every request.
    """
    return _environ(RUN_HTTP_SETTINGS, keep_set=True)


def few_retries(max_retries=0, timeout=3):
    """No retries and a short timeout inside the block (marking a run FAILED after an error)."""
    return _environ({"MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(max_retries),
                     "MLFLOW_HTTP_REQUEST_TIMEOUT": str(timeout)})


def _tracking_errors():
    import requests
    from mlflow.exceptions import MlflowException

    return (MlflowException, requests.exceptions.RequestException)


#: What a failing tracking store raises (after MLflow's own retries).
TRACKING_ERRORS = _tracking_errors()


def is_remote(uri):
    return isinstance(uri, str) and uri.startswith(("http://", "https://"))


def check_server(uri, timeout=5.0):
    """Raise :class:`TrackingServerError` unless the server at ``uri`` answers ``GET /health``.

    Called before any data is loaded, so a wrong or stopped server is reported in
    seconds, not after the search. Non-HTTP URIs (``sqlite:///...``) are not checked.
    """
    if not is_remote(uri):
        return
    import urllib.error
    import urllib.request

    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            status = resp.status
    except urllib.error.HTTPError as exc:
        status, problem = exc.code, f"HTTP {exc.code} {exc.reason}"
    except (OSError, ValueError) as exc:  # refused, timeout, DNS, bad URL
        status, problem = None, f"{type(exc).__name__}: {getattr(exc, 'reason', None) or exc}"
    else:
        problem = f"HTTP {status}"
    if status != 200:
        raise TrackingServerError(
            f"MLflow tracking server {uri} is not reachable (GET {url} -> {problem}); nothing was "
            f"run. Check --tracking-uri, MLFLOW_TRACKING_URI or tracking: uri: in mlflow.yml (in that "
            f"order; the run's first line says which it used), or {SERVER_HINT}")


#: The environment variables of MLflow's basic-auth login.
CREDENTIAL_VARS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
_CHECK_TAG = "sk1dcnn.write_check"


def check_write_access(tracking):
    """Raise :class:`TrackingServerError` unless this run may write to its experiment.

    For an ``http(s)://`` tracking URI, before any data is loaded: the server
    answers ``GET /health`` (:func:`check_server`); the experiment is read, or
    created; and a tag is set on it and removed again, which needs the same
    permission as logging a run. A server with basic auth that gets no
    credentials, or wrong ones, or a user who may not write, stops the run here
    with one line naming the server and ``MLFLOW_TRACKING_USERNAME`` /
    ``MLFLOW_TRACKING_PASSWORD``. Other URIs (``sqlite:///...``) are not checked.

    Parameters
    ----------
    tracking : dict
        The resolved ``tracking:`` section (``uri``, ``experiment``, ``artifact_location``).
    """
    uri, name = tracking["uri"], tracking["experiment"]
    if not is_remote(uri):
        return
    check_server(uri)
    client = MlflowClient(uri)
    with bounded_http():
        try:
            exp = client.get_experiment_by_name(name)
            if exp is None:
                exp_id = client.create_experiment(name, artifact_location=tracking["artifact_location"])
            elif exp.lifecycle_stage != "active":
                raise TrackingServerError(
                    f"MLflow tracking server {uri}: experiment '{name}' is deleted; restore it "
                    f"(mlflow experiments restore --experiment-id {exp.experiment_id}) or choose another "
                    "name (--experiment-name or tracking: experiment: in mlflow.yml); nothing was run.")
            else:
                exp_id = exp.experiment_id
            client.set_experiment_tag(exp_id, _CHECK_TAG, time.strftime("%Y-%m-%dT%H:%M:%S"))
            client.delete_experiment_tag(exp_id, _CHECK_TAG)
        except TRACKING_ERRORS as exc:
            raise TrackingServerError(_access_problem(uri, name, exc)) from None


def _access_problem(uri, experiment, exc):
    """One line: why the server refused the run, and what to set."""
    from mlflow.utils.credentials import read_mlflow_creds

    status = exc.get_http_status_code() if hasattr(exc, "get_http_status_code") else None
    creds = read_mlflow_creds()  # the environment, else ~/.mlflow/credentials (as MLflow reads them)
    user, vars_ = creds.username, " and ".join(CREDENTIAL_VARS)
    if status == 401:
        if not (creds.username and creds.password):
            given = ("only MLFLOW_TRACKING_USERNAME is set" if creds.username else
                     "only MLFLOW_TRACKING_PASSWORD is set" if creds.password else "none are set")
            return (f"MLflow tracking server {uri} needs a login (HTTP 401) and {given}: export "
                    f"{vars_} in the environment (never on the command line); nothing was run.")
        return (f"MLflow tracking server {uri} refused the login of user '{user}' (HTTP 401): check "
                f"{vars_}; nothing was run.")
    if status == 403 and experiment is None:  # reading a model
        return (f"MLflow tracking server {uri}: user '{user}' may not read this (HTTP 403): ask the server's "
                f"admin for READ permission on the model's experiment; {vars_} name the user; nothing was run.")
    if status == 403:
        return (f"MLflow tracking server {uri}: user '{user}' may not write to experiment "
                f"'{experiment}' (HTTP 403): ask the server's admin for EDIT permission on it, or choose "
                f"another experiment (--experiment-name); {vars_} name the user; nothing was run.")
    text = " ".join(str(exc).split())[:300]
    return (f"MLflow tracking server {uri} answers /health but refused this run's first write "
            f"({type(exc).__name__}: {text}); nothing was run. If it needs a login, set {vars_}.")


class LoggedRun:
    """The parent run of :func:`logged_run`: its id, and the local copy once one is written."""

    def __init__(self, run_id):
        self.run_id = run_id
        self.local_copy = None


@contextlib.contextmanager
def logged_run(tracker, run_name, tags, save_local):
    """The parent run, logged so that nothing computed is lost if the tracking store fails.

    With a remote store (``http(s)://``) ``save_local(run_id)`` writes the model
    and metrics locally before anything is logged; with any store, a tracking
    error inside the block saves them (if not yet saved) and becomes a
    :class:`TrackingServerError` that says where they are.

    Parameters
    ----------
    tracker : Tracker
    run_name : str
    tags : dict
    save_local : callable
        ``save_local(run_id) -> folder``, e.g. with :func:`pipelines._report.save_local_copy`.

    Yields
    ------
    LoggedRun
    """
    run = LoggedRun(None)
    try:
        with tracker.parent_run(run_name, tags=tags) as run_id:
            run.run_id = run_id
            if is_remote(tracker.tracking_uri):
                run.local_copy = save_local(run_id)
            yield run
    except TRACKING_ERRORS as exc:
        if run.local_copy is None:
            run.local_copy = save_local(tracker.run_id)
        raise TrackingServerError(
            f"logging to the MLflow tracking store {tracker.tracking_uri} failed during run "
            f"{tracker.run_id} ({type(exc).__name__}: {str(exc)[:400]}); the fitted model and metrics "
            f"are saved in {run.local_copy} ({LOCAL_COPY_HINT}). "
            f"{SERVER_HINT if is_remote(tracker.tracking_uri) else ''}".rstrip()
        ) from exc


#: history_ keys logged per epoch, and their metric names.
_HISTORY_KEYS = {"train_loss": "train_loss", "valid_loss": "valid_loss", "valid_score": "valid_score",
                 "learning_rate": "learning_rate", "dur": "epoch_time_s"}
_BATCH = 900  # MLflow accepts up to 1000 metrics per log_batch call


def _finite(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


class Tracker:
    """A tracking store + experiment, and the run being logged to.

    Parameters
    ----------
    tracking_uri : str
        E.g. ``sqlite:////abs/path/mlflow.db``.
    experiment_name : str
        Created if missing, with ``artifact_location``.
    artifact_location : str
        URI of the experiment's artifact root (used only when creating it).
    """

    def __init__(self, tracking_uri, experiment_name, artifact_location):
        self.tracking_uri = tracking_uri
        self.client = MlflowClient(tracking_uri)
        with bounded_http():
            exp = self.client.get_experiment_by_name(experiment_name)
            if exp is None:
                self.experiment_id = self.client.create_experiment(
                    experiment_name, artifact_location=artifact_location)
            else:
                self.experiment_id = exp.experiment_id
        self.run_id = None

    @contextlib.contextmanager
    def parent_run(self, run_name, tags=None):
        """Start the parent run; yields its id. Failed runs are marked FAILED.

        MLflow's HTTP retries and timeouts are bounded inside (:func:`bounded_http`),
        and MLflow's current tracking URI is this store's (and restored after).
        """
        with bounded_http(), _current_tracking_uri(self.tracking_uri):
            run = mlflow.start_run(run_name=run_name, experiment_id=self.experiment_id, tags=tags or {})
            self.run_id = run.info.run_id
            try:
                yield self.run_id
            except BaseException as exc:
                # mark it FAILED if the store still answers; never hide the original error
                status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
                with contextlib.suppress(Exception), few_retries():
                    mlflow.end_run(status)
                raise
            mlflow.end_run()

    # ------------------------------------------------------------- params
    def log_params(self, params, run_id=None):
        items = [Param(str(k), _param_str(v)) for k, v in params.items()]
        for i in range(0, len(items), 90):
            self.client.log_batch(run_id or self.run_id, params=items[i:i + 90])

    # ------------------------------------------------------------ metrics
    def log_metrics(self, metrics, step=0, run_id=None):
        ts = int(time.time() * 1000)
        items = [Metric(str(k), float(v), ts, int(step)) for k, v in metrics.items() if _finite(v)]
        self._log_metric_list(items, run_id)

    def _log_metric_list(self, items, run_id=None):
        for i in range(0, len(items), _BATCH):
            self.client.log_batch(run_id or self.run_id, metrics=items[i:i + _BATCH])

    def log_history(self, history):
        """One point per epoch and history key, ``step=epoch``."""
        ts = int(time.time() * 1000)
        items = [Metric(name, float(rec[key]), ts, int(rec["epoch"]))
                 for rec in history for key, name in _HISTORY_KEYS.items()
                 if _finite(rec.get(key))]
        self._log_metric_list(items)

    def log_candidates(self, cv_results, scoring):
        """One nested child run per grid candidate: its params and CV scores."""
        n = len(cv_results["params"])
        split_keys = sorted(k for k in cv_results if k.startswith("split") and k.endswith("_test_score"))
        for i in range(n):
            params = cv_results["params"][i]
            name = "candidate-" + ",".join(f"{k.split('__')[-1]}={_param_str(v)}" for k, v in params.items())
            run = self.client.create_run(
                self.experiment_id, run_name=name[:250],
                tags={"mlflow.parentRunId": self.run_id, "sk1dcnn.candidate": str(i)})
            cid = run.info.run_id
            self.log_params(params, run_id=cid)
            metrics = {"cv_mean_score": cv_results["mean_test_score"][i],
                       "cv_std_score": cv_results["std_test_score"][i],
                       "cv_rank": cv_results["rank_test_score"][i],
                       "mean_fit_time_s": cv_results["mean_fit_time"][i],
                       "mean_score_time_s": cv_results["mean_score_time"][i]}
            for k in split_keys:
                metrics[f"cv_{k.replace('_test_score', '')}_score"] = cv_results[k][i]
            self.log_metrics(metrics, run_id=cid)
            self.client.set_tag(cid, "sk1dcnn.scoring", scoring)
            self.client.set_terminated(cid, "FINISHED")

    def child_run(self, name, params=None, metrics=None, history=None, tags=None):
        """A finished child run of the parent run with params, metrics and per-epoch history."""
        run = self.client.create_run(self.experiment_id, run_name=name[:250],
                                     tags={"mlflow.parentRunId": self.run_id, **(tags or {})})
        cid = run.info.run_id
        if params:
            self.log_params(params, run_id=cid)
        if metrics:
            self.log_metrics(metrics, run_id=cid)
        if history:
            ts = int(time.time() * 1000)
            self._log_metric_list([Metric(n, float(rec[k]), ts, int(rec["epoch"]))
                                   for rec in history for k, n in _HISTORY_KEYS.items()
                                   if _finite(rec.get(k))], cid)
        self.client.set_terminated(cid, "FINISHED")
        return cid

    # ---------------------------------------------------------- artifacts
    def log_artifacts(self, local_dir):
        mlflow.log_artifacts(str(local_dir))

    def log_model(self, pipeline, X_example, metadata):
        """Log the fitted pipeline (skops); return its URI.

        The pipeline is saved with skops and loaded back trusting exactly
        :func:`sk1dcnn.persistence.get_trusted_types`; a pipeline holding other
        types is refused before anything is logged. ``mlflow.sklearn.load_model``
        gives the pipeline back; ``mlflow.pyfunc.load_model`` (and ``mlflow models
        serve``) give a :class:`LabelledModel`. A single-lead model's input
        signature is 2-D ``(n, T)``.
        """
        from mlflow.models import Model, infer_signature

        from sk1dcnn import persistence

        persistence.check_trusted(pipeline)
        X_example = np.asarray(X_example)
        config = {"columns": _output_columns(pipeline, metadata), "multilabel": "tags" in (metadata or {}),
                  "input_shape": list(X_example.shape[1:])}
        labelled = LabelledModel(pipeline, **config)
        X_example = _single_lead_2d(X_example)
        signature = infer_signature(X_example, labelled.predict(X_example),
                                    params={"predict_method": "predict"})
        info = Model.log(
            artifact_path=None, name="model", flavor=_LabelledSklearnFlavor, sk_model=pipeline,
            signature=signature,
            input_example=X_example, pip_requirements=pip_requirements(),
            serialization_format="skops", skops_trusted_types=persistence.get_trusted_types(),
            metadata=metadata, pyfunc_model_config=config,
        )
        self.client.set_tag(self.run_id, "sk1dcnn.model_uri", info.model_uri)
        return info.model_uri


# ------------------------------------------------------------ the pyfunc model
#: ``params={"predict_method": ...}`` values of :meth:`LabelledModel.predict`.
PREDICT_METHODS = ("predict", "predict_proba")


class LabelledModel:
    """The ``python_function`` flavor of a logged workflow model.

    What ``mlflow.pyfunc.load_model(uri)`` wraps and ``mlflow models serve``
    serves. ``predict(X)`` returns class labels (one per signal), or for a
    multi-label (tagging) model a 0/1 DataFrame with one column per tag;
    ``predict(X, params={"predict_method": "predict_proba"})`` returns a
    DataFrame of probabilities with one column per class (or tag), named by it.

    Parameters
    ----------
    pipeline : fitted Pipeline or estimator
    columns : list of str
        Class (or tag) names, in the order of ``predict_proba``'s columns.
    multilabel : bool, default=False
    input_shape : list of int or None
        The shape of one training signal, ``[T]`` or ``[C, T]``: a 2-D
        ``(n, T)`` input of a ``[1, T]`` model is given to it as ``(n, 1, T)``.
    """

    def __init__(self, pipeline, columns, multilabel=False, input_shape=None):
        self.pipeline = pipeline
        self.columns = [str(c) for c in columns]
        self.multilabel = bool(multilabel)
        self.input_shape = None if input_shape is None else [int(d) for d in input_shape]

    def predict(self, data, params=None):
        """Labels, or with ``params={"predict_method": "predict_proba"}`` probabilities.

        Parameters
        ----------
        data : array-like or DataFrame
            ``(n, T)`` for a single-lead model (``(n, 1, T)`` also works when
            called directly), ``(n, C, T)`` otherwise.
        params : dict or None
            ``{"predict_method": "predict" | "predict_proba"}``; default ``predict``.
        """
        import pandas as pd

        method = (params or {}).get("predict_method") or "predict"
        if method not in PREDICT_METHODS:
            raise ValueError(f"predict_method {method!r} is not one of {', '.join(PREDICT_METHODS)}")
        X = np.asarray(data.to_numpy() if isinstance(data, pd.DataFrame) else data)
        if self.input_shape is not None and len(self.input_shape) == 2 and self.input_shape[0] == 1 \
                and X.ndim == 2:
            X = X[:, None, :]  # single lead, given as (n, T)
        elif self.input_shape is not None and len(self.input_shape) == 1 and X.ndim == 3 and X.shape[1] == 1:
            X = X[:, 0, :]
        if method == "predict_proba":
            return pd.DataFrame(np.asarray(self.pipeline.predict_proba(X)), columns=self.columns)
        labels = np.asarray(self.pipeline.predict(X))
        if self.multilabel:
            return pd.DataFrame(labels, columns=self.columns)
        return labels


def _output_columns(pipeline, metadata):
    """Column names of predict_proba: the tags of a tagging model, else ``classes_``."""
    tags = (metadata or {}).get("tags")
    return [str(c) for c in (pipeline.classes_ if tags is None else tags)]


def _single_lead_2d(X):
    """``(n, 1, T)`` examples of a single-lead model as ``(n, T)`` (the signature callers see)."""
    return X[:, 0, :] if X.ndim == 3 and X.shape[1] == 1 else X


class _LabelledSklearnFlavor:
    """``mlflow.sklearn``'s flavor with :class:`LabelledModel` as its ``python_function``.

    ``mlflow.models.Model.log`` calls ``save_model``: the sklearn flavor saves
    the pipeline (skops), then the python_function flavor is pointed at
    :func:`_load_pyfunc` of this module, with the column names as its model config.
    """

    @staticmethod
    def save_model(path, mlflow_model, pyfunc_model_config, **kwargs):
        import mlflow.sklearn
        from mlflow.models.model import MLMODEL_FILE_NAME, MODEL_CONFIG

        mlflow.sklearn.save_model(path=path, mlflow_model=mlflow_model, **kwargs)
        conf = mlflow_model.flavors["python_function"]
        conf["loader_module"] = __name__
        conf.pop("predict_fn", None)
        conf["data"] = mlflow_model.flavors["sklearn"]["pickled_model"]  # _load_pyfunc's data_path
        conf[MODEL_CONFIG] = dict(pyfunc_model_config)  # given to _load_pyfunc
        mlflow_model.save(os.path.join(path, MLMODEL_FILE_NAME))


def _load_pyfunc(data_path, model_config=None):
    """MLflow's pyfunc loader: ``data_path`` is the skops file of the sklearn flavor."""
    from sk1dcnn import persistence

    cfg = model_config or {}
    pipeline = persistence.load(data_path)
    return LabelledModel(pipeline, cfg.get("columns") or [str(c) for c in pipeline.classes_],
                         cfg.get("multilabel", False), cfg.get("input_shape"))


def _param_str(v):
    if isinstance(v, (list, tuple)):
        return json.dumps(list(v))
    return str(v)[:6000]


def pip_requirements():
    """Pinned requirements of the logged model (explicit: skips MLflow's inference)."""
    from importlib.metadata import PackageNotFoundError, version

    reqs = []
    for dist in ("sk1dcnn", "scikit-learn", "numpy", "scipy", "skops", "cloudpickle"):
        try:
            reqs.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            if dist == "sk1dcnn":
                import sk1dcnn

                reqs.append(f"sk1dcnn=={sk1dcnn.__version__}")
    return reqs


def load_pyfunc(model_uri, tracking_uri):
    """An MLflow model (``runs:/<id>/model``, ``models:/<id>``, a local folder) as a pyfunc model."""
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    with bounded_http(), _current_tracking_uri(tracking_uri):
        try:
            return mlflow.pyfunc.load_model(model_uri)
        except MlflowException as exc:
            if is_remote(tracking_uri) and exc.get_http_status_code() in (401, 403):
                raise TrackingServerError(
                    _access_problem(tracking_uri, None, exc).replace("; nothing was run.", ".")) from None
            raise

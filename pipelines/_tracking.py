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
"""

import contextlib
import json
import logging
import math
import numbers
import time

import mlflow
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from ._report import LOCAL_COPY_HINT

# A new SQLite store logs "Creating initial MLflow database tables..." and "Updating
# database tables" at INFO (MLflow 3.17) in the middle of a workflow's output; its
# warnings and errors still show. (alembic's own logger is at WARNING already.)
logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)

__all__ = ["Tracker", "TrackingServerError", "check_server", "is_remote", "load_pyfunc", "logged_run",
           "pip_requirements"]

#: How a team starts the shared server the error messages point to.
SERVER_HINT = ("start one with: mlflow server --backend-store-uri sqlite:///<path>/mlflow.db "
               "--artifacts-destination <path>/mlartifacts --host 127.0.0.1 --port 5000 "
               "(or set tracking: uri: null in mlflow.yml to log to a local sqlite:///<cwd>/mlflow.db)")


from .config import TrackingServerError  # noqa: E402  (defined without MLflow for the CLI)


@contextlib.contextmanager
def few_retries(max_retries=0, timeout=5):
    """Lower MLflow's HTTP retries/timeout inside the block (defaults: 7 retries, 120 s)."""
    import os

    keys = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(max_retries),
            "MLFLOW_HTTP_REQUEST_TIMEOUT": str(timeout)}
    old = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


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
            f"run. Check tracking_uri (mlflow.yml or --tracking-uri), or {SERVER_HINT}")

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
        mlflow.set_tracking_uri(tracking_uri)
        self.tracking_uri = tracking_uri
        self.client = MlflowClient(tracking_uri)
        exp = self.client.get_experiment_by_name(experiment_name)
        if exp is None:
            self.experiment_id = self.client.create_experiment(
                experiment_name, artifact_location=artifact_location)
        else:
            self.experiment_id = exp.experiment_id
        mlflow.set_experiment(experiment_id=self.experiment_id)
        self.run_id = None

    @contextlib.contextmanager
    def parent_run(self, run_name, tags=None):
        """Start the parent run; yields its id. Failed runs are marked FAILED."""
        run = mlflow.start_run(run_name=run_name, tags=tags or {})
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
        """Log the fitted pipeline (skops) with a predict_proba signature; return its URI.

        The pipeline is saved with skops and loaded back trusting exactly
        :func:`sk1dcnn.persistence.get_trusted_types`; a pipeline holding other
        types is refused before anything is logged.
        """
        import mlflow.sklearn
        from mlflow.models import infer_signature

        from sk1dcnn import persistence

        persistence.check_trusted(pipeline)
        proba = pipeline.predict_proba(X_example)
        signature = infer_signature(X_example, proba)
        info = mlflow.sklearn.log_model(
            pipeline, name="model", signature=signature, input_example=X_example,
            pyfunc_predict_fn="predict_proba", pip_requirements=pip_requirements(),
            serialization_format="skops", skops_trusted_types=persistence.get_trusted_types(),
            metadata=metadata,
        )
        self.client.set_tag(self.run_id, "sk1dcnn.model_uri", info.model_uri)
        return info.model_uri


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

    mlflow.set_tracking_uri(tracking_uri)
    return mlflow.pyfunc.load_model(model_uri)

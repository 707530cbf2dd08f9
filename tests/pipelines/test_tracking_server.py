"""The workflows against real ``mlflow server`` processes on 127.0.0.1 (free ports): a plain
one, and one with ``--app-name basic-auth`` whose secrets come from the environment.

Both start together, once per module, and are stopped by process group. Covered: the
quick ECG workflow with the model read back through pyfunc; no credentials, wrong ones,
a user who may not write, right ones (with MLFLOW_TRACKING_URI taking precedence over
mlflow.yml); and a server killed mid-run, reported within the run's HTTP bounds.
Tests skip when a server cannot start (e.g. without Flask-WTF, ``pip install mlflow[auth]``).
"""

import base64
import contextlib
import io
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

pytest.importorskip("mlflow")
pytest.importorskip("yaml")

from pipelines.__main__ import main  # noqa: E402
from pipelines.config import DEFAULT_CONFIG  # noqa: E402

#: A configuration whose ECG run takes seconds: ECG200, one candidate, a tiny network.
TINY_CONFIG = """\
tracking: {uri: null, experiment: tiny-ecg}
ecg:
  data: {name: "ucr:ECG200"}
  model: {filters: [4], kernel_size: 5, hidden_layer_sizes: [8], max_iter: 3, batch_size: 32}
  search: {grid: {learning_rate_init: [0.01]}, cv: 2, n_jobs: 1}
  random_state: 0
  model_file: null
  log_model: false
"""
ADMIN = "admin"
CREDENTIALS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One ``mlflow server`` process (its own process group) and where it keeps things."""

    def __init__(self, tmp, app_name=None, env=None):
        self.tmp, self.port = tmp, _free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "mlflow", "server",
               "--backend-store-uri", f"sqlite:///{tmp / 'mlflow.db'}",
               "--artifacts-destination", str(tmp / "artifacts"), "--serve-artifacts",
               "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        if app_name:
            cmd += ["--app-name", app_name]
        self.log = open(tmp / "server.log", "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=tmp,
                                     env={**os.environ, **(env or {})}, start_new_session=True)

    def wait_healthy(self, deadline):
        while True:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(self.uri + "/health", timeout=2) as r:
                    if r.status == 200:
                        return None
            if self.proc.poll() is not None or time.monotonic() > deadline:
                return (self.tmp / "server.log").read_text(errors="replace")[-1500:]
            time.sleep(0.5)

    def stop(self, sig=signal.SIGTERM):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """A plain server and a basic-auth server, started together (their start-up dominates)."""
    auth_tmp = tmp_path_factory.mktemp("mlflow_auth_server")
    admin_password = secrets.token_urlsafe(18)  # MLflow wants at least 12 characters
    # auth_cache_ttl_seconds: without it every request pays a PBKDF2 check (seconds on a busy machine)
    (auth_tmp / "basic_auth.ini").write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{auth_tmp / 'basic_auth.db'}\nadmin_username = {ADMIN}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "auth_cache_ttl_seconds = 60\n")
    auth_env = {"MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
                "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password,
                "MLFLOW_AUTH_CONFIG_PATH": str(auth_tmp / "basic_auth.ini")}
    plain = Server(tmp_path_factory.mktemp("mlflow_server"))
    auth = Server(auth_tmp, "basic-auth", auth_env)
    auth.admin_password = admin_password
    try:
        deadline = time.monotonic() + 180
        problems = {s.uri: s.wait_healthy(deadline) for s in (plain, auth)}
        yield {"plain": plain if problems[plain.uri] is None else problems[plain.uri],
               "auth": auth if problems[auth.uri] is None else problems[auth.uri]}
    finally:
        plain.stop()
        auth.stop()


def _server(servers, which):
    s = servers[which]
    if isinstance(s, str):
        pytest.skip(f"the {which} mlflow server did not start: {s}")
    return s


@pytest.fixture
def tiny_config(tmp_path, monkeypatch):
    """TINY_CONFIG in a fresh working directory, with no MLflow variables or credentials file."""
    path = tmp_path / "tiny.yml"
    path.write_text(TINY_CONFIG)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.mlflow/credentials
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", *CREDENTIALS):
        monkeypatch.delenv(var, raising=False)
    return path


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def _no_data_loaded(monkeypatch):
    import pipelines.ecg as ecg

    monkeypatch.setattr(ecg, "load_data", lambda *a, **k: pytest.fail("data loaded before the access check"))


def _admin_request(server, endpoint, body):
    token = base64.b64encode(f"{ADMIN}:{server.admin_password}".encode()).decode()
    req = urllib.request.Request(server.uri + endpoint, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


# ------------------------------------------------------------------ basic auth
def test_no_credentials_stop_the_run_before_any_data_with_one_line(servers, tiny_config, monkeypatch):
    auth = _server(servers, "auth")
    _no_data_loaded(monkeypatch)
    rc, out, err = _run(["ecg", "--config", str(tiny_config), "--tracking-uri", auth.uri])
    assert rc == 2
    assert err == (f"error: MLflow tracking server {auth.uri} needs a login (HTTP 401) and none are set: "
                   "export MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD in the environment (never on "
                   "the command line); nothing was run.\n")
    assert out == f"MLflow tracking: {auth.uri}  (from --tracking-uri); experiment 'tiny-ecg'\n"


def test_wrong_credentials_stop_the_run_before_any_data_with_one_line(servers, tiny_config, monkeypatch):
    auth = _server(servers, "auth")
    _no_data_loaded(monkeypatch)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "not-the-password")
    rc, _, err = _run(["ecg", "--config", str(tiny_config), "--tracking-uri", auth.uri])
    assert rc == 2
    assert err == (f"error: MLflow tracking server {auth.uri} refused the login of user '{ADMIN}' (HTTP 401): "
                   "check MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD; nothing was run.\n")


def test_a_user_who_may_only_read_is_stopped_before_any_data(servers, tiny_config, monkeypatch):
    auth = _server(servers, "auth")
    _no_data_loaded(monkeypatch)
    _admin_request(auth, "/api/2.0/mlflow/users/create", {"username": "reader", "password": "reader-password-1"})
    _admin_request(auth, "/api/2.0/mlflow/experiments/create", {"name": "admins-only"})
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "reader")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "reader-password-1")
    rc, _, err = _run(["ecg", "--config", str(tiny_config), "--tracking-uri", auth.uri,
                       "--experiment-name", "admins-only"])
    assert rc == 2
    assert err.startswith(f"error: MLflow tracking server {auth.uri}: user 'reader' may not write to experiment "
                          "'admins-only' (HTTP 403): ask the server's admin for EDIT permission")
    assert err.count("\n") == 1


def test_right_credentials_and_the_environment_uri_log_to_the_server(servers, tiny_config, monkeypatch):
    from mlflow.tracking import MlflowClient

    auth = _server(servers, "auth")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", auth.uri)  # mlflow.yml says null (local SQLite)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", auth.admin_password)
    rc, out, err = _run(["ecg", "--config", str(tiny_config)])
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == f"MLflow tracking: {auth.uri}  (from MLFLOW_TRACKING_URI); experiment 'tiny-ecg'"
    assert not (tiny_config.parent / "mlflow.db").exists()  # nothing went to the local default
    client = MlflowClient(auth.uri)
    exp = client.get_experiment_by_name("tiny-ecg")
    assert "sk1dcnn.write_check" not in exp.tags  # the access check cleaned up after itself
    (run,) = client.search_runs([exp.experiment_id], "tags.`mlflow.parentRunId` IS NULL")
    assert run.info.status == "FINISHED" and 0.5 < run.data.metrics["test_accuracy"] <= 1
    # the final hint is the server's URL (it is the UI), not `mlflow ui --backend-store-uri http://...`
    assert lines[-1] == (f"  open:   {auth.uri}  (this run: {auth.uri}/#/experiments/{exp.experiment_id}"
                         f"/runs/{run.info.run_id})")
    assert "mlflow ui" not in out


# ------------------------------------------------------------------ plain server
def test_quick_workflow_against_server(servers, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from pipelines._tracking import load_pyfunc
    from sk1dcnn.datasets import load_ucr

    server = _server(servers, "plain")
    uri = server.uri
    monkeypatch.chdir(tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):
        rc = main(["ecg", "--quick", "--config", str(DEFAULT_CONFIG), "--tracking-uri", uri,
                   "--experiment-name", "server-ecg", "--dataset", "ucr:ECG200", "--no-model-file"])
    assert rc == 0
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("server-ecg")
    assert exp.artifact_location.startswith("mlflow-artifacts:")  # the server's artifact store
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    from pipelines.config import load_config

    grid = load_config(DEFAULT_CONFIG, quick=True)["search"]["grid"]
    n_candidates = int(np.prod([len(v) for v in grid.values()]))
    assert len(parents) == 1 and len(children) == n_candidates  # one child run per candidate
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    m = parent.data.metrics
    assert 0.5 < m["test_accuracy"] <= 1 and "best_cv_score" in m
    assert len(client.get_metric_history(parent.info.run_id, "train_loss")) >= 1
    names = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"loss_curve.png", "confusion_matrix.png", "classification_report.txt"} <= names
    # artifacts went through the server into --artifacts-destination
    assert any((server.tmp / "artifacts").rglob("classification_report.txt"))
    # the local copy written before logging to a remote server
    local = list((tmp_path / "mlartifacts").glob("local-*/model.skops"))
    assert len(local) == 1
    model = load_pyfunc(parent.data.tags["sk1dcnn.model_uri"], uri)
    _, _, X_te, y_te = load_ucr("ECG200")
    labels = np.asarray(model.predict(X_te[:20]))
    assert labels.shape == (20,) and set(labels) <= set(str(c) for c in np.unique(y_te)) | set(np.unique(y_te))
    proba = model.predict(X_te[:20], params={"predict_method": "predict_proba"})
    assert proba.shape == (20, 2)
    np.testing.assert_allclose(proba.to_numpy().sum(axis=1), 1, atol=1e-5)


def test_a_server_killed_mid_run_is_reported_quickly_with_the_local_copy(servers, tiny_config, monkeypatch):
    """Last in the module: it kills the plain server."""
    from pipelines import _tracking

    server = _server(servers, "plain")
    original = _tracking.Tracker.log_candidates
    killed = {}

    def kill_then_log(self, *a, **k):  # the run has started on the server; now it dies
        server.stop(signal.SIGKILL)
        killed["t"] = time.monotonic()
        return original(self, *a, **k)

    monkeypatch.setattr(_tracking.Tracker, "log_candidates", kill_then_log)
    rc, out, err = _run(["ecg", "--config", str(tiny_config), "--tracking-uri", server.uri])
    reported_after = time.monotonic() - killed["t"]
    assert rc == 2
    # a behaviour bound (MLflow's defaults take ~4.5 min), not a benchmark: generous, but under 30 s
    assert reported_after < 25, reported_after
    (folder,) = (tiny_config.parent / "mlartifacts").glob("local-*")
    assert {p.name for p in folder.iterdir()} == {"model.skops", "metrics.json"}
    # stderr: the grid search's progress line, then the one-line error
    progress, error = err.splitlines()
    assert progress.startswith("grid search: 1/1 candidates")
    assert error.startswith(f"error: logging to the MLflow tracking store {server.uri} failed during run ")
    assert f"the fitted model and metrics are saved in {folder} (" in error

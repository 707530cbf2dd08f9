"""The quick ECG workflow against a real ``mlflow server`` (SQLite store, served
artifacts, 127.0.0.1, a free port), read back through ``MlflowClient``; the
server is stopped by its process id."""

import contextlib
import io
import os
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


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlflow_server")
    port = _free_port()
    cmd = [sys.executable, "-m", "mlflow", "server",
           "--backend-store-uri", f"sqlite:///{tmp / 'mlflow.db'}",
           "--artifacts-destination", str(tmp / "artifacts"), "--serve-artifacts",
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    log = open(tmp / "server.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(uri + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not start: {(tmp / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield {"uri": uri, "tmp": tmp, "proc": proc}
    finally:
        # stop the server (and its uvicorn/gunicorn workers) by its process group id
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_quick_workflow_against_server(server, tmp_path, monkeypatch):
    import mlflow
    import mlflow.pyfunc
    from mlflow.tracking import MlflowClient

    from sk1dcnn.datasets import load_ucr

    uri = server["uri"]
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
    assert len(parents) == 1 and len(children) == np.prod([len(v) for v in grid.values()])  # candidates
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    m = parent.data.metrics
    assert 0.5 < m["test_accuracy"] <= 1 and "best_cv_score" in m
    assert len(client.get_metric_history(parent.info.run_id, "train_loss")) >= 1
    names = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"loss_curve.png", "confusion_matrix.png", "classification_report.txt"} <= names
    # artifacts went through the server into --artifacts-destination
    assert any((server["tmp"] / "artifacts").rglob("classification_report.txt"))
    # the local copy written before logging to a remote server
    local = list((tmp_path / "mlartifacts").glob("local-*/model.skops"))
    assert len(local) == 1
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model(parent.data.tags["sk1dcnn.model_uri"])
    _, _, X_te, y_te = load_ucr("ECG200")
    proba = np.asarray(model.predict(X_te[:20]))
    assert proba.shape == (20, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)

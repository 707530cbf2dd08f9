"""Fixtures shared by the pipelines tests: the parsed repository mlflow.yml, one
``python -m pipelines ecg --quick`` run (~30 s on 2 cores) against a temporary
SQLite MLflow store, read by the ECG workflow and ecg-monitor tests, and the run of
a workflow whose tracking server fails mid-run."""

import contextlib
import io
import os

import pytest


@pytest.fixture
def raw():
    """The repository's mlflow.yml, parsed (a fresh copy per test, free to mutate)."""
    yaml = pytest.importorskip("yaml")
    from pipelines.config import DEFAULT_CONFIG

    return yaml.safe_load(DEFAULT_CONFIG.read_text())


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    """Run the README command in a fresh directory with its own tracking store."""
    pytest.importorskip("mlflow")
    pytest.importorskip("yaml")
    pytest.importorskip("wfdb")
    from pipelines.__main__ import main
    from pipelines.config import DEFAULT_CONFIG

    tmp = tmp_path_factory.mktemp("ecg_quick")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    stdout = io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp)  # artifacts and the model file must land here, not in the repo
    try:
        with contextlib.redirect_stdout(stdout):
            rc = main(["ecg", "--quick", "--config", str(DEFAULT_CONFIG), "--tracking-uri", uri,
                       "--experiment-name", "test-ecg"])
    finally:
        os.chdir(cwd)
    assert rc == 0
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("test-ecg")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return {"tmp": tmp, "uri": uri, "out": stdout.getvalue(), "client": client, "exp": exp,
            "parents": parents, "children": children,
            "model_file": tmp / "mlartifacts" / "ecg_model_mitdb-inter_patient.skops"}


@pytest.fixture
def run_with_tracking_failure(tmp_path, monkeypatch):
    """``run(workflow, cfg)``: run ``workflow.run(cfg)`` in ``tmp_path`` while MLflow
    refuses to log, and check what it kept.

    The run raises TrackingServerError naming the store, the cause and the one
    local folder holding the model and the metrics; the MLflow run is marked
    FAILED and none stays active. Returns ``(saved, doc)``: the model file's
    content and the metrics document, for the workflow's own checks.
    """
    import json

    mlflow = pytest.importorskip("mlflow")
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from pipelines import _tracking
    from pipelines.config import TrackingServerError
    from sk1dcnn import persistence

    def gone(self, *a, **k):
        raise MlflowException("API request to endpoint /api/2.0/mlflow/runs/log-batch failed: "
                              "Connection refused")

    def run(workflow, cfg):
        monkeypatch.setattr(_tracking.Tracker, "log_candidates", gone)
        with pytest.raises(TrackingServerError) as err:
            workflow.run(cfg, out=lambda *a: None)
        msg = str(err.value)
        assert "Connection refused" in msg and cfg["tracking"]["uri"] in msg
        folders = list((tmp_path / "mlartifacts").glob("local-*"))
        assert len(folders) == 1 and str(folders[0]) in msg
        saved = persistence.load(folders[0] / "model.skops")
        doc = json.loads((folders[0] / "metrics.json").read_text())
        assert mlflow.active_run() is None
        assert MlflowClient(cfg["tracking"]["uri"]).get_run(doc["run_id"]).info.status == "FAILED"
        return saved, doc

    return run

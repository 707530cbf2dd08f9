"""Fixtures shared by the pipelines tests: the parsed repository mlflow.yml, and one
``python -m pipelines ecg --quick`` run (~30 s on 2 cores) against a temporary
SQLite MLflow store, read by the ECG workflow and ecg-monitor tests."""

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
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("test-ecg")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return {"tmp": tmp, "uri": uri, "out": stdout.getvalue(), "client": client, "exp": exp,
            "parents": parents, "children": children,
            "model_file": tmp / "mlartifacts" / "ecg_model_mitdb-inter_patient.skops"}

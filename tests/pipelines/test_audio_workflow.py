"""pipelines/audio.py: ``python -m pipelines audio --quick`` and the tagging run, tracked in
MLflow; ``fit_and_evaluate`` without MLflow."""

import contextlib
import io
import os
import re
import sys

import numpy as np
import pytest

pytest.importorskip("yaml")

from pipelines.config import DEFAULT_CONFIG, load_config  # noqa: E402


@pytest.fixture(scope="module")
def quick_audio(tmp_path_factory):
    """``python -m pipelines audio --quick`` and the tagging run in a fresh directory and store."""
    pytest.importorskip("mlflow")
    from pipelines import audio
    from pipelines.__main__ import main

    tmp = tmp_path_factory.mktemp("audio_quick")
    stdout = io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp)  # tracking uri null -> sqlite:///<cwd>/mlflow.db; artifacts in <cwd>/mlartifacts
    try:
        with contextlib.redirect_stdout(stdout):
            rc = main(["audio", "--quick", "--config", str(DEFAULT_CONFIG), "--experiment-name", "test-audio"])
            cfg = load_config(DEFAULT_CONFIG, "audio", quick=True, overrides={
                "tracking": {"experiment": "test-audio"},
                "audio": {"log_model": False, "search": {"grid": {"front_end": ["mel"]}},
                          "model": {"max_iter": 3}, "tagging": {"n_train": 60, "n_test": 40}}})
            tagging, tagging_logged = audio.run(cfg, "tagging")
    finally:
        os.chdir(cwd)
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("test-audio")
    runs = client.search_runs([exp.experiment_id])
    return {"rc": rc, "out": stdout.getvalue(), "tagging": tagging, "tagging_logged": tagging_logged,
            "client": client, "uri": uri,
            "parents": {r.data.tags["sk1dcnn.workflow"]: r for r in runs
                        if "mlflow.parentRunId" not in r.data.tags},
            "children": [r for r in runs if "mlflow.parentRunId" in r.data.tags]}


def test_quick_audio_run_is_tracked(quick_audio):
    assert quick_audio["rc"] == 0
    assert "official test accuracy" in quick_audio["out"]
    # a working model, and where to find it, as the ecg workflow says
    out = quick_audio["out"]
    assert re.search(r"^  model:  models:/m-\w+  \(mlflow\.pyfunc\.load_model; predicts digit "
                     r"labels; predict_proba on request\)$", out, re.M)
    assert f"  open:   mlflow ui --backend-store-uri {quick_audio['uri']}" in out
    assert quick_audio["parents"]["audio"].data.metrics["test_accuracy"] >= 0.8
    parent = quick_audio["parents"]["audio"]
    m = parent.data.metrics
    for key in ("test_accuracy", "loso_mean_accuracy", "loso_accuracy_theo", "best_cv_accuracy",
                "epoch_time_s", "wall_time_s"):
        assert key in m, key
    assert 0.0 <= m["test_accuracy"] <= 1.0
    assert parent.data.params["best_front_end"] in ("raw", "mel")
    assert parent.data.tags["sk1dcnn.quick"] == "true"
    # one child run per front end of the grid
    kids = [r for r in quick_audio["children"] if r.data.tags["mlflow.parentRunId"] == parent.info.run_id]
    assert len(kids) == 2 and all("cv_mean_score" in r.data.metrics for r in kids)
    client = quick_audio["client"]
    quick = load_config(DEFAULT_CONFIG, "audio", quick=True)
    assert len(client.get_metric_history(parent.info.run_id, "train_loss")) == quick["model"]["max_iter"]
    names = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"loss_curve.png", "confusion_matrix.png", "classification_report.txt",
            "model_summary.txt"} <= names


def test_quick_audio_model_loads_with_pyfunc(quick_audio):
    from pipelines._tracking import load_pyfunc
    from sk1dcnn.audio import load_fsdd

    parent = quick_audio["parents"]["audio"]
    model = load_pyfunc(parent.data.tags["sk1dcnn.model_uri"], quick_audio["uri"])
    X = load_fsdd("shipped", length=6561, digits=[3]).X_test  # 3 speakers x 3 takes
    assert model.predict(X).shape == (9,)  # class labels
    proba = model.predict(X, params={"predict_method": "predict_proba"})
    assert list(proba.columns) == [str(d) for d in range(10)]


def test_quick_audio_tagging_run(quick_audio):
    logged = quick_audio["tagging_logged"]
    parent = quick_audio["parents"]["audio-tagging"]
    assert parent.info.run_id == logged.run_id
    m = parent.data.metrics
    assert 0.0 <= m["test_mean_roc_auc"] <= 1.0
    assert "test_roc_auc_digit_0" in m and "test_roc_auc_speaker_theo" in m
    names = {a.path for a in quick_audio["client"].list_artifacts(parent.info.run_id)}
    assert "per_tag_auc.png" in names
    assert quick_audio["tagging"].metrics["test_mean_roc_auc"] == pytest.approx(m["test_mean_roc_auc"])


def test_fit_and_evaluate_runs_without_mlflow(monkeypatch, tmp_path):
    """Compute, then log: the audio workflow's first step neither imports nor needs MLflow."""
    from pipelines import audio

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "pipelines._tracking", None)
    cfg = load_config(DEFAULT_CONFIG, "audio", quick=True, overrides={"audio": {
        "search": {"grid": {"front_end": ["mel"]}}, "loso": False, "model": {"max_iter": 1}}})
    data = audio.load_data(cfg)
    result = audio.fit_and_evaluate(cfg, data)
    assert result.task == "digits" and result.best_front_end == "mel" and result.scoring == "accuracy"
    assert result.metrics["test_accuracy"] == pytest.approx(np.mean(result.predictions == data.y_test))
    assert result.confusion_matrix.sum() == len(data.y_test)
    assert "loso_mean_accuracy" not in result.metrics
    tagging = audio.fit_and_evaluate(cfg, audio.load_tagging_data(cfg, data))
    assert tagging.task == "tagging" and tagging.predictions.shape == (60, len(tagging.labels))
    assert tagging.scoring == "roc_auc"
    assert 0.0 <= tagging.metrics["test_mean_roc_auc"] <= 1.0


def test_grid_crosses_front_ends_with_cnn_parameters():
    """search: grid: front_end x any CNN1DClassifier parameter (which replaces the front end's)."""
    from pipelines import audio

    cfg = load_config(DEFAULT_CONFIG, "audio", quick=True, overrides={"audio": {"search": {
        "grid": {"front_end": ["raw", "mel"], "learning_rate_init": [0.001, 0.01], "dropout": [0.5]}}}})
    _, grid = audio.build_pipeline(cfg)
    assert [g["frontend"][0] == "passthrough" for g in grid] == [True, False]
    for g in grid:
        assert g["cnn__learning_rate_init"] == [0.001, 0.01] and g["cnn__dropout"] == [0.5]
    # the quick raw front end's {preset: ...} arrives as layer specs
    assert isinstance(grid[0]["cnn__architecture"][0], list)


def test_logging_failure_keeps_model_and_metrics_locally(tmp_path, monkeypatch,
                                                         run_with_tracking_failure):
    """As for ECG: a tracking store failing during logging loses nothing computed."""
    from pipelines import audio

    monkeypatch.chdir(tmp_path)
    cfg = load_config(DEFAULT_CONFIG, "audio", quick=True, overrides={
        "tracking": {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "experiment": "t"},
        "audio": {"search": {"grid": {"front_end": ["mel"]}}, "loso": False, "model": {"max_iter": 1}}})
    saved, doc = run_with_tracking_failure(audio, cfg)
    assert saved["metadata"]["classes"] == list(range(10)) and doc["best_front_end"] == "mel"
    data = audio.load_data(cfg)
    accuracy = np.mean(saved["pipeline"].predict(data.X_test) == data.y_test)
    assert accuracy == pytest.approx(doc["metrics"]["test_accuracy"])

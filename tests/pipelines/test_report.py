"""pipelines/_report.py: the printed tables, the artifact files and the local copy of a model."""

from types import SimpleNamespace

import numpy as np
import pytest


def test_refit_params_are_json_or_repr():
    from sklearn.pipeline import Pipeline

    from pipelines._report import refit_params
    from sk1dcnn import CNN1DClassifier
    from sk1dcnn.preprocessing import SeriesStandardScaler

    inner = Pipeline([("standardize", SeriesStandardScaler())])
    pipe = Pipeline([("frontend", inner), ("cnn", CNN1DClassifier(filters=(4, 8)))])
    params = refit_params(pipe)
    assert params["cnn__filters"] == (4, 8)
    assert isinstance(params["frontend__steps"], str)  # not JSON: its repr


def test_result_table_names_where_things_went():
    from pipelines._report import Logged, result_table

    m = {"accuracy": 0.9, "balanced_accuracy": 0.8, "f1_macro": 0.7, "se_N": 0.95, "ppv_N": 0.9,
         "support_N": 10}
    result = SimpleNamespace(
        metrics=m, labels=["N"], seed_rows=[(0, m)], seed_summary={},
        cv_results={"rank_test_score": np.array([1]), "mean_test_score": np.array([0.8]),
                    "std_test_score": np.array([0.01]), "params": [{"cnn__kernel_size": 5}]},
        data=SimpleNamespace(name="ucr:ECG200"))
    cfg = {"tracking": {"experiment": "sk1dcnn-ecg"}}
    logged = Logged("r1", "1", "sqlite:///x/mlflow.db", "models:/m-1", wall_time_s=3.0)
    text = result_table(cfg, result, logged, "/x/model.skops")
    assert "accuracy 0.900" in text and "kernel_size=5" in text
    assert "MLflow: run r1 (experiment 'sk1dcnn-ecg', id 1)" in text
    assert "models:/m-1" in text and "/x/model.skops" in text and "sk1dcnn.persistence.load" in text
    assert "mlflow ui --backend-store-uri sqlite:///x/mlflow.db" in text


def test_save_local_copy_writes_model_and_metrics(tmp_path, monkeypatch):
    """The one writer of mlartifacts/local-*: what logging keeps when the tracking store fails."""
    pytest.importorskip("skops")
    import json

    from pipelines._report import LOCAL_COPY_HINT, Logged, local_copy_line, save_local_copy
    from sk1dcnn import CNN1DClassifier, persistence

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(12, 1, 16)), np.arange(12) % 2
    cnn = CNN1DClassifier(filters=(2,), hidden_layer_sizes=(4,), max_iter=1, random_state=0).fit(X, y)
    folder = save_local_copy("r1", cnn, {"classes": [0, 1]}, {"metrics": {"accuracy": 0.5}})
    assert folder.parent == tmp_path / "mlartifacts" and folder.name.startswith("local-")
    assert folder.name.endswith("-r1")
    saved = persistence.load(folder / "model.skops")
    np.testing.assert_array_equal(saved["pipeline"].predict(X), cnn.predict(X))
    assert saved["metadata"] == {"classes": [0, 1]}
    assert json.loads((folder / "metrics.json").read_text()) == {"run_id": "r1", "metrics": {"accuracy": 0.5}}
    line = local_copy_line(Logged("r1", "1", "http://x", local_copy=folder))
    assert str(folder) in line and LOCAL_COPY_HINT in line

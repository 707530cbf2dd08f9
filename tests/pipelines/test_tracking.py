"""pipelines/_tracking.py: the only module that imports MLflow; models are logged with skops
and sk1dcnn's one trusted-type list."""

import warnings

import numpy as np
import pytest

pytest.importorskip("mlflow")
pytest.importorskip("skops")


class Negate:
    """A transformer nobody reviewed."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return -X


def _tiny_pipeline():
    from sklearn.pipeline import Pipeline

    from sk1dcnn import CNN1DClassifier
    from sk1dcnn.preprocessing import SeriesStandardScaler

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 1, 16)), np.arange(20) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = Pipeline([("standardize", SeriesStandardScaler()),
                         ("cnn", CNN1DClassifier(filters=(2,), hidden_layer_sizes=(4,), max_iter=1,
                                                 random_state=0))]).fit(X, y)
    return pipe, X


def test_log_model_trusts_exactly_persistence_get_trusted_types(tmp_path, monkeypatch):
    import mlflow.sklearn

    from pipelines import _tracking
    from sk1dcnn import persistence

    assert not hasattr(_tracking, "trusted_types")  # no second trust rule
    seen = {}

    class Info:
        model_uri = "models:/m-test"

    def fake_log_model(model, **kw):
        seen.update(kw, model=model)
        return Info()

    monkeypatch.setattr(mlflow.sklearn, "log_model", fake_log_model)
    pipe, X = _tiny_pipeline()
    tracker = _tracking.Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "t", (tmp_path / "art").as_uri())
    with tracker.parent_run("r"):
        assert tracker.log_model(pipe, X[:2], {"classes": ["0", "1"]}) == "models:/m-test"
    assert seen["model"] is pipe
    assert seen["serialization_format"] == "skops"
    assert seen["skops_trusted_types"] == persistence.get_trusted_types()


def test_log_model_refuses_types_outside_the_list_before_logging(tmp_path, monkeypatch):
    import mlflow.sklearn
    from sklearn.pipeline import Pipeline

    from pipelines import _tracking
    from sk1dcnn.persistence import UntrustedTypesError

    monkeypatch.setattr(mlflow.sklearn, "log_model", lambda *a, **k: pytest.fail("logged"))
    pipe, X = _tiny_pipeline()
    bad = Pipeline([("f", Negate()), *pipe.steps])
    tracker = _tracking.Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "t", (tmp_path / "art").as_uri())
    with pytest.raises(UntrustedTypesError, match="Negate"):
        with tracker.parent_run("r"):
            tracker.log_model(bad, X[:2], {})


def test_log_history_steps_are_epochs(tmp_path):
    from mlflow.tracking import MlflowClient

    from pipelines import _tracking

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = _tracking.Tracker(uri, "t", (tmp_path / "art").as_uri())
    history = [{"epoch": 1, "train_loss": 0.9, "valid_loss": None, "dur": 0.1},
               {"epoch": 2, "train_loss": 0.5, "valid_loss": float("nan"), "dur": 0.1}]
    with tracker.parent_run("r") as run_id:
        tracker.log_history(history)
    client = MlflowClient(uri)
    points = client.get_metric_history(run_id, "train_loss")
    assert [(p.step, p.value) for p in sorted(points, key=lambda p: p.step)] == [(1, 0.9), (2, 0.5)]
    assert client.get_metric_history(run_id, "valid_loss") == []  # None and NaN are skipped


def test_a_new_sqlite_store_logs_no_info_lines(tmp_path):
    """MLflow's "Creating initial MLflow database tables..." stays out of the workflows' output."""
    import logging

    from pipelines._tracking import Tracker

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("mlflow.store.db.utils")
    logger.addHandler(handler)
    try:
        Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "t", (tmp_path / "art").as_uri())
    finally:
        logger.removeHandler(handler)
    assert (tmp_path / "mlflow.db").is_file()
    assert [r.getMessage() for r in records if r.levelno < logging.WARNING] == []

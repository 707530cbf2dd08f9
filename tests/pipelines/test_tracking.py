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
    from mlflow.models import Model

    from pipelines import _tracking
    from sk1dcnn import persistence

    assert not hasattr(_tracking, "trusted_types")  # no second trust rule
    seen = {}

    class Info:
        model_uri = "models:/m-test"

    def fake_log(**kw):
        seen.update(kw)
        return Info()

    monkeypatch.setattr(Model, "log", fake_log)
    pipe, X = _tiny_pipeline()
    tracker = _tracking.Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "t", (tmp_path / "art").as_uri())
    with tracker.parent_run("r"):
        assert tracker.log_model(pipe, X[:2], {"classes": ["0", "1"]}) == "models:/m-test"
    assert seen["sk_model"] is pipe
    assert seen["serialization_format"] == "skops"
    assert seen["skops_trusted_types"] == persistence.get_trusted_types()


def test_log_model_refuses_types_outside_the_list_before_logging(tmp_path, monkeypatch):
    from mlflow.models import Model
    from sklearn.pipeline import Pipeline

    from pipelines import _tracking
    from sk1dcnn.persistence import UntrustedTypesError

    monkeypatch.setattr(Model, "log", lambda **k: pytest.fail("logged"))
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


# ----------------------------------------------------------- HTTP bounds of a run
def test_bounded_http_sets_the_run_settings_and_restores_the_environment(monkeypatch):
    import os

    from pipelines._tracking import RUN_HTTP_SETTINGS, bounded_http

    for k in RUN_HTTP_SETTINGS:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "33")  # the user's own choice wins
    with bounded_http():
        assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == RUN_HTTP_SETTINGS["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]
        assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "33"
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "33"


def test_the_run_settings_bound_a_dead_server_below_30_s():
    """Worst case of one request under RUN_HTTP_SETTINGS (urllib3's Retry: the first retry does not
    wait, the k-th waits factor * 2**(k-1) + jitter), plus the FAILED mark, stays under 30 s."""
    from pipelines._tracking import RUN_HTTP_SETTINGS

    retries = int(RUN_HTTP_SETTINGS["MLFLOW_HTTP_REQUEST_MAX_RETRIES"])
    timeout = float(RUN_HTTP_SETTINGS["MLFLOW_HTTP_REQUEST_TIMEOUT"])
    factor = float(RUN_HTTP_SETTINGS["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"])
    jitter = float(RUN_HTTP_SETTINGS["MLFLOW_HTTP_REQUEST_BACKOFF_JITTER"])
    backoff = sum(factor * 2 ** (k - 1) + jitter for k in range(2, retries + 1))
    failed_mark = 3  # few_retries(): no retry, 3 s timeout
    assert (retries + 1) * timeout + backoff + failed_mark < 30
    assert RUN_HTTP_SETTINGS["MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER"] == "false"


# ------------------------------------------------------------------- the pyfunc model
@pytest.fixture(scope="module")
def logged_model(tmp_path_factory):
    """A tiny single-lead pipeline (classes 'N', 'V'), logged to a local SQLite store."""
    from sklearn.pipeline import Pipeline

    from pipelines import _tracking
    from sk1dcnn import CNN1DClassifier
    from sk1dcnn.preprocessing import SeriesStandardScaler

    tmp = tmp_path_factory.mktemp("pyfunc")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 1, 16))
    y = np.array(["N", "V"])[np.arange(24) % 2]
    X[y == "V", 0, 4:8] += 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = Pipeline([("standardize", SeriesStandardScaler()),
                         ("cnn", CNN1DClassifier(filters=(2,), hidden_layer_sizes=(4,), max_iter=3,
                                                 random_state=0))]).fit(X, y)
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    tracker = _tracking.Tracker(uri, "t", (tmp / "art").as_uri())
    with tracker.parent_run("r"):
        model_uri = tracker.log_model(pipe, X[:3], {"classes": ["N", "V"], "kind": "mitdb"})
    return {"uri": uri, "model_uri": model_uri, "pipe": pipe, "X": X}


def _pyfunc(logged_model):
    from pipelines._tracking import load_pyfunc

    return load_pyfunc(logged_model["model_uri"], logged_model["uri"])


def test_pyfunc_predicts_class_labels_and_named_probabilities(logged_model):
    import pandas as pd

    model, pipe, X = _pyfunc(logged_model), logged_model["pipe"], logged_model["X"]
    X2 = X[:, 0, :]  # a single-lead model takes (n, T)
    np.testing.assert_array_equal(model.predict(X2), pipe.predict(X))
    proba = model.predict(X2, params={"predict_method": "predict_proba"})
    assert isinstance(proba, pd.DataFrame) and list(proba.columns) == ["N", "V"]
    np.testing.assert_allclose(proba.to_numpy(), pipe.predict_proba(X))
    sig = model.metadata.signature
    assert sig.inputs.inputs[0].shape == (-1, 16)
    assert [p.name for p in sig.params.params] == ["predict_method"]
    # a DataFrame of (n, T) rows (what a CSV or dataframe_split request gives) works too
    np.testing.assert_array_equal(model.predict(pd.DataFrame(X2)), pipe.predict(X))


def test_pyfunc_refuses_an_unknown_predict_method(logged_model):
    from pipelines._tracking import LabelledModel

    model = LabelledModel(logged_model["pipe"], ["N", "V"], input_shape=[1, 16])
    with pytest.raises(ValueError, match=r"predict_method 'proba' is not one of predict, predict_proba"):
        model.predict(logged_model["X"][:2, 0], params={"predict_method": "proba"})
    # called directly, (n, 1, T) works as well as (n, T)
    np.testing.assert_array_equal(model.predict(logged_model["X"][:5]), model.predict(logged_model["X"][:5, 0]))


def test_the_sklearn_flavor_still_gives_the_pipeline(logged_model):
    import mlflow.sklearn
    from sklearn.pipeline import Pipeline

    from pipelines._tracking import _current_tracking_uri

    with _current_tracking_uri(logged_model["uri"]):
        back = mlflow.sklearn.load_model(logged_model["model_uri"])
    assert isinstance(back, Pipeline)
    np.testing.assert_allclose(back.predict_proba(logged_model["X"]),
                               logged_model["pipe"].predict_proba(logged_model["X"]))


def test_a_run_leaves_mlflow_current_tracking_uri_as_it_found_it(tmp_path, monkeypatch):
    """mlflow.set_tracking_uri also sets MLFLOW_TRACKING_URI, which a later run would read first."""
    import os

    from mlflow.tracking._tracking_service import utils as tracking_utils

    from pipelines import _tracking

    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://the-users-choice:5000")
    tracker = _tracking.Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "t", (tmp_path / "art").as_uri())
    with tracker.parent_run("r"):
        assert os.environ["MLFLOW_TRACKING_URI"] == tracker.tracking_uri
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://the-users-choice:5000"
    assert tracking_utils._tracking_uri is None
    assert "MLFLOW_EXPERIMENT_ID" not in os.environ or os.environ["MLFLOW_EXPERIMENT_ID"] != tracker.experiment_id


def test_served_model_answers_labels_and_probabilities(logged_model):
    """What `mlflow models serve` answers: its /invocations handler, on JSON requests."""
    import json

    from mlflow.pyfunc import scoring_server

    model, pipe, X = _pyfunc(logged_model), logged_model["pipe"], logged_model["X"]
    schema = model.metadata.get_input_schema()

    def ask(body):
        resp = scoring_server.invocations(json.dumps(body), "application/json", model, schema)
        assert resp.status == 200, resp.response
        return json.loads(resp.response)["predictions"]

    rows = X[:4, 0].tolist()
    assert ask({"inputs": rows}) == list(pipe.predict(X[:4]))
    proba = ask({"inputs": rows, "params": {"predict_method": "predict_proba"}})
    assert [sorted(r) for r in proba] == [["N", "V"]] * 4
    np.testing.assert_allclose([[r["N"], r["V"]] for r in proba], pipe.predict_proba(X[:4]), rtol=1e-6)
    split = {"dataframe_split": {"columns": list(range(16)), "data": rows}}
    assert ask(split) == list(pipe.predict(X[:4]))


def test_ecg_monitor_reads_probabilities_from_the_labelled_model(logged_model):
    from pipelines.monitor import load_model

    m = load_model(logged_model["model_uri"], logged_model["uri"])
    assert list(m.classes) == ["N", "V"]
    X = logged_model["X"][:6]  # ecg-monitor cuts (n, 1, T) beats
    np.testing.assert_allclose(m.predict_proba(X), logged_model["pipe"].predict_proba(X))


def test_a_tagging_model_answers_one_named_column_per_tag():
    import pandas as pd

    from pipelines._tracking import LabelledModel
    from sk1dcnn import CNN1DClassifier

    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 12))
    Y = (rng.random((30, 3)) < 0.5).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = CNN1DClassifier(filters=(2,), hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, Y)
    model = LabelledModel(clf, ["digit_0", "speaker_theo", "speaker_jackson"], multilabel=True, input_shape=[12])
    tags = model.predict(X[:4])
    assert isinstance(tags, pd.DataFrame) and list(tags.columns) == ["digit_0", "speaker_theo", "speaker_jackson"]
    np.testing.assert_array_equal(tags.to_numpy(), clf.predict(X[:4]))
    proba = model.predict(X[:4, None, :], params={"predict_method": "predict_proba"})  # (n, 1, T) squeezed
    np.testing.assert_allclose(proba.to_numpy(), clf.predict_proba(X[:4]))

"""pipelines/ecg.py: ``python -m pipelines ecg --quick`` end to end (the ``quick_run`` fixture),
``fit_and_evaluate`` without MLflow, the patient-specific scheme, a failing tracking store,
and the grid search on a Dask cluster."""

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("yaml")
pytest.importorskip("wfdb")

from pipelines.__main__ import main  # noqa: E402
from pipelines.config import DEFAULT_CONFIG, ConfigError, load_config, resolve_config  # noqa: E402
from sk1dcnn.datasets import find_shared_data  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

#: A tiny UCR ECG200 run: one candidate, 2 folds, 2 epochs (about a second).
TINY = {"data": {"name": "ucr:ECG200"}, "model": {"filters": [4], "hidden_layer_sizes": [8], "max_iter": 2},
        "search": {"grid": {"learning_rate_init": [0.01]}, "cv": 2, "n_jobs": 1}, "seeds": [0],
        "model_file": None, "log_model": False}


def test_quick_runs_and_metrics(quick_run):
    pytest.importorskip("mlflow")
    client, out = quick_run["client"], quick_run["out"]
    assert len(quick_run["parents"]) == 1
    parent = quick_run["parents"][0]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["sk1dcnn.dataset"] == "mitdb:inter_patient"
    cfg = load_config(DEFAULT_CONFIG, quick=True)
    grid = cfg["search"]["grid"]
    n_candidates = int(np.prod([len(v) for v in grid.values()]))
    children = quick_run["children"]
    assert len(children) == n_candidates
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert {"cv_mean_score", "cv_std_score", "cv_rank"} <= set(child.data.metrics)
        assert set(grid) <= set(child.data.params)

    m = parent.data.metrics
    for key in ("test_accuracy", "test_balanced_accuracy", "test_f1_macro", "best_cv_score"):
        assert 0.0 <= m[key] <= 1.0
    for c in ("N", "S", "V"):
        assert f"test_se_{c}" in m and f"test_ppv_{c}" in m
    # the refit model's params, from get_params()
    assert parent.data.params["cnn__max_iter"] == str(cfg["model"]["max_iter"])
    # the preprocessing of the signal columns (the RR features pass through)
    assert "features__signal__bandpass__high" in parent.data.params
    assert parent.data.params["cnn__n_static_features"] == "7"
    # EC57 gross statistics, first seed and mean over seeds, and the per-record table
    assert {"test_ec57_S_Se", "test_ec57_V_PP", "test_ec57_mean_V_Se"} <= set(m)
    assert {"ec57_per_record.csv", "ec57_gross_seeds.csv"} <= arts_of(client, parent)
    assert "EC57 gross" in out and "de Chazal et al. 2004" in out and "full protocol" in out

    # per-epoch curves with step=epoch
    train = client.get_metric_history(parent.info.run_id, "train_loss")
    valid = client.get_metric_history(parent.info.run_id, "valid_loss")
    steps = sorted(p.step for p in train)
    assert steps == list(range(1, len(steps) + 1)) and len(steps) >= 2
    # no early stopping (the epochs are a grid choice, by record-grouped CV): no valid_loss
    assert cfg["model"]["early_stopping"] is False and valid == []
    assert m["n_epochs"] == len(steps)

    arts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"loss_curve.png", "confusion_matrix.png", "classification_report.txt",
            "model_summary.txt", "cv_results.csv"} <= arts
    # artifacts went to the experiment's explicit location, inside the run's cwd
    assert quick_run["exp"].artifact_location.startswith(Path(quick_run["tmp"]).as_uri())
    assert (quick_run["tmp"] / "mlartifacts").is_dir()

    assert "Se" in out and "PPV" in out
    assert f"mlflow ui --backend-store-uri {quick_run['uri']}" in out


def test_quick_run_logs_one_relevance_figure_per_class(quick_run):
    """relevance/relevance_<class>.png for each class the model knows that has test beats (F beats,
    left out of training, have none), with the x axis in seconds around the R peak."""
    from matplotlib.image import imread

    client, parent = quick_run["client"], quick_run["parents"][0]
    figures = {a.path for a in client.list_artifacts(parent.info.run_id, "relevance")}
    assert figures == {f"relevance/relevance_{c}.png" for c in ("N", "S", "V")}
    local = client.download_artifacts(parent.info.run_id, "relevance/relevance_V.png", str(quick_run["tmp"]))
    assert imread(local).shape[:2] == (600, 1000)  # the beat, its relevance and the RR features' panel
    assert parent.data.metrics["relevance_time_s"] > 0


def test_relevance_time_axis_and_classes():
    """MIT-BIH: seconds from the R peak over the resampled beat (0.25 s before, 0.45 s after, 180 Hz)."""
    from pipelines.ecg import _class_relevance, build_pipeline, load_data

    cfg = load_config(DEFAULT_CONFIG, quick=True, overrides={"ecg": {"model": {"max_iter": 1}}})
    data = load_data(cfg["data"])
    sub = np.flatnonzero(data.groups_train == "208")[:300]  # N, V and F beats of one record
    pipe = build_pipeline(cfg, data).fit(data.X_train[sub], data.y_train[sub])
    test = np.flatnonzero(data.groups_test == "200")
    out = _class_relevance(cfg, data, [(pipe, data.X_test[test], data.y_test[test], data.y_test[test])])
    known = set(pipe[-1].classes_) & set(data.y_test[test])
    assert list(out) == [c for c in data.labels if c in known]
    e = next(iter(out.values()))
    assert e.time_unit == "s" and len(e.time) == 126
    np.testing.assert_allclose(e.time, np.arange(126) / 180 - 0.25, atol=1e-12)
    assert list(e.static) == ["pre_rr", "post_rr", "local_rr", "avg_rr", "pre_ratio", "post_ratio",
                              "local_ratio"]
    np.testing.assert_allclose(list(e.static_reference.values()), data.X_train[:, -7:].mean(axis=0))


def arts_of(client, run):
    return {a.path for a in client.list_artifacts(run.info.run_id)}


def _shipped_beats(record="100"):
    """Beats of a shipped record as the quick model takes them: MLII + 7 RR features."""
    from pipelines.ecg import load_data

    cfg = load_config(DEFAULT_CONFIG, quick=True)
    data = load_data(cfg["data"])
    return data.X_test[data.groups_test == record]


def test_quick_model_loads_with_pyfunc(quick_run):
    from pipelines._tracking import load_pyfunc
    from sk1dcnn import persistence

    parent = quick_run["parents"][0]
    uri = parent.data.tags["sk1dcnn.model_uri"]
    model = load_pyfunc(uri, quick_run["uri"])  # mlflow.pyfunc.load_model with this store's URI
    assert model.metadata.signature is not None
    assert model.metadata.saved_input_example_info is not None
    X = _shipped_beats("100")
    # 2-D beats (MLII + RR columns): predict gives class labels, predict_proba named columns
    labels = np.asarray(model.predict(X[:7]))
    proba = model.predict(X[:7], params={"predict_method": "predict_proba"})
    classes = model.metadata.metadata["classes"]
    assert list(proba.columns) == [str(c) for c in classes]
    np.testing.assert_allclose(proba.to_numpy().sum(axis=1), 1.0, rtol=1e-4)
    # the local model file (sk1dcnn.persistence, skops) predicts the same
    saved = persistence.load(quick_run["model_file"])
    np.testing.assert_allclose(saved["pipeline"].predict_proba(X[:7]), proba.to_numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(saved["pipeline"].predict(X[:7]).astype(str), labels.astype(str))
    assert saved["metadata"]["classes"] == classes


def test_import_sk1dcnn_does_not_import_mlflow():
    code = ("import sys, sk1dcnn, sk1dcnn.ecg, sk1dcnn.audio, sk1dcnn.preprocessing, pipelines.config, "
            "pipelines.ecg, pipelines.audio, pipelines.monitor; "
            "assert 'mlflow' not in sys.modules, 'mlflow imported'; "
            "assert 'pipelines._tracking' not in sys.modules, 'pipelines._tracking imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    code = "import sys, sk1dcnn; assert not any(m.split('.')[0] == 'pipelines' for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_fit_and_evaluate_runs_without_mlflow(raw, monkeypatch, tmp_path):
    """Compute, then log: the first step neither imports nor needs MLflow."""
    from pipelines import ecg

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` raises ImportError
    monkeypatch.setitem(sys.modules, "pipelines._tracking", None)
    cfg = resolve_config(raw, overrides={"ecg": TINY})
    data = ecg.load_data(cfg["data"], cfg["random_state"])
    result = ecg.fit_and_evaluate(cfg, data)
    assert isinstance(result, ecg.ECGResult)
    assert result.y_pred.shape == data.y_test.shape
    assert result.metrics["accuracy"] == pytest.approx(np.mean(result.y_pred == data.y_test))
    np.testing.assert_array_equal(result.model.predict(data.X_test), result.y_pred)
    assert result.confusion_matrix.sum() == len(data.y_test)
    assert len(result.cv_results["params"]) == 1 and result.seed_rows[0][0] == 0
    assert result.metadata["kind"] == "ucr" and result.timings["n_epochs"] == 2
    # one average beat per test class, with its relevance, on the series' samples
    assert sorted(result.relevance) == sorted(set(data.y_test.tolist()))
    for c, e in result.relevance.items():
        assert e.time_unit == "sample" and e.beat.shape == e.relevance.shape == (data.X_test.shape[1],)
        assert e.n_class == np.sum(data.y_test == c) and e.static == {}


# ------------------------------------------------------ patient-specific
def test_patient_specific_refuses_shipped_excerpts(capsys):
    from pipelines.ecg import load_data

    cfg = load_config(DEFAULT_CONFIG, quick=True, overrides={"ecg": {"data": {"name": "mitdb:patient_specific"}}})
    assert cfg["data"]["data_dir"] is None
    with pytest.raises(ConfigError, match=r"ecg\.data\.data_dir: .*5-minute .*no test part.*'shared'"):
        load_data(cfg["data"])
    assert main(["ecg", "--quick", "--dataset", "mitdb:patient_specific"]) == 2
    assert "no test part" in capsys.readouterr().err


def test_detection_stats():
    from pipelines.ecg import _se_ppv, detection_stats

    y = np.array(list("NNNNVVVSSN"))
    p = np.array(list("NNNVVVNSNS"))
    st = detection_stats(y, p, ("N", "S", "V"))
    assert st["V"] == {"tp": 2, "fn": 1, "fp": 1}
    assert st["S"] == {"tp": 1, "fn": 1, "fp": 1}
    assert _se_ppv(st["V"]) == pytest.approx((200 / 3, 200 / 3))
    se, ppv = _se_ppv({"tp": 0, "fn": 0, "fp": 2})  # no S beat in the record: Se undefined
    assert np.isnan(se) and ppv == 0.0


def _fake_records(n_min=30.0, fs=360.0, seed=0):
    """Synthetic 'records' (beats with positions over n_min minutes): N, S and V beats whose
    shapes differ, so a tiny CNN separates them in a few epochs."""
    rng = np.random.default_rng(seed)
    t = np.linspace(-1, 1, 252)
    shapes = {"N": np.exp(-(t / 0.05) ** 2), "S": 0.6 * np.exp(-((t + 0.3) / 0.05) ** 2),
              "V": -np.exp(-(t / 0.2) ** 2)}
    Xs, ys, recs, pos = [], [], [], []
    for rec in ("100", "101", "200"):
        n = 400
        lab = rng.choice(list("NNNNNNSV"), size=n)
        Xs.append(np.stack([shapes[c] for c in lab])[:, None, :] + 0.05 * rng.standard_normal((n, 1, 252)))
        ys.append(lab)
        recs.append(np.full(n, rec))
        pos.append(np.sort(rng.integers(0, int(n_min * 60 * fs), size=n)))
    return (np.concatenate(Xs), np.concatenate(ys), np.concatenate(recs), np.concatenate(pos))


def _synthetic_patient_specific(raw, tmp_path, monkeypatch, search, seeds=(0, 1)):
    """A patient-specific configuration on fake 30-minute records 100, 101, 200 (patients 100, 200)."""
    from pipelines import ecg

    fake = _fake_records()
    for rec in ("100", "101", "200"):
        (tmp_path / f"{rec}.hea").write_text("")

    def fake_load(records, folder, ds):
        keep = np.isin(fake[2], list(records))
        X, *rest = (a[keep] for a in fake)
        return (X[:, 0, :], *rest)

    monkeypatch.setattr(ecg, "_load_mitdb", fake_load)
    raw["ecg"]["datasets"]["mitdb:patient_specific"] = {
        "model": {"filters": [4], "kernel_size": 5, "hidden_layer_sizes": [8], "max_iter": 4,
                  "batch_size": 64, "learning_rate_init": 0.01, "global_pool": None,
                  "early_stopping": False, "class_weight": "balanced"},
        "search": search}
    raw["tracking"].update(uri=f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_location=str(tmp_path / "art"),
                           experiment="test-ps")
    raw["ecg"].update(seeds=list(seeds))
    raw["ecg"]["search"]["n_jobs"] = 1
    raw["ecg"]["data"] = {"name": "mitdb:patient_specific", "data_dir": str(tmp_path),
                          "records": ["100", "200"], "n_common_per_class": 20}
    return resolve_config(raw)


def test_patient_specific_workflow_on_synthetic_records(raw, tmp_path, monkeypatch):
    """The whole patient-specific run, on fake 30-minute records (no full data needed)."""
    pytest.importorskip("mlflow")
    from pipelines import ecg

    # one candidate: fitted without any search, whatever the validation
    cfg = _synthetic_patient_specific(raw, tmp_path, monkeypatch,
                                      {"grid": {"alpha": [0.0001]}, "validation": "inner_minutes"})
    lines = []
    res, logged = ecg.run(cfg, out=lines.append)
    text = "\n".join(lines)
    assert isinstance(res, ecg.PatientResult)
    assert res.selection is None and "grid: 1 candidate (no search)" in text
    assert [r["record"] for r in res.rows] == ["100", "200"]
    for r in res.rows:
        # common beats from the other record numbered 100-124 only (101; not 200)
        assert r["n_common"] <= 3 * 20
        assert r["n_test"] > 300  # the last 25 of 30 minutes
        assert r["n_V"] > 0 and 0 <= r["se_V"] <= 100
    assert {"se_V", "ppv_V", "se_S", "ppv_S"} <= set(res.gross)
    assert "Kiranyaz" in text and "gross" in text and "Se_V" in text
    assert "EC57 gross over 2 records" in text and "records 200-234" in text
    # the synthetic beats are separable: the tiny CNN finds the V beats
    assert res.gross["se_V"] > 80

    from mlflow.tracking import MlflowClient

    client = MlflowClient(cfg["tracking"]["uri"])
    exp = client.get_experiment_by_name("test-ps")
    runs = client.search_runs([exp.experiment_id])
    parent = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parent) == 1 and parent[0].info.status == "FINISHED"
    assert parent[0].info.run_id == logged.run_id
    assert sorted(c.info.run_name for c in children) == ["record-100", "record-200"]
    assert {"se_V", "ppv_V", "se_S", "ppv_S"} <= set(children[0].data.metrics)
    assert {"gross_se_V", "gross_ppv_S", "test_accuracy", "ec57_V_Se", "ec57_mean_S_PP",
            "ec57_200_mean_V_Se"} <= set(parent[0].data.metrics)
    # the EC57 V Se (mean over seeds) is the gross Se_V of the per-record counts
    assert 100 * parent[0].data.metrics["ec57_mean_V_Se"] == pytest.approx(res.gross["se_V"])
    arts = {a.path for a in client.list_artifacts(parent[0].info.run_id)}
    assert {"per_record.csv", "confusion_matrix.png", "classification_report.txt",
            "ec57_per_record.csv", "ec57_gross_seeds.csv"} <= arts
    # the pooled test beats of every patient, each explained by the patient's own model
    assert {a.path for a in client.list_artifacts(parent[0].info.run_id, "relevance")} == {
        f"relevance/relevance_{c}.png" for c in ("N", "S", "V")}
    assert res.relevance["V"].n_class == sum(r["n_V"] for r in res.rows)
    # the child runs' ids are in what logging returned, not written into the result
    assert logged.child_run_ids == {c.info.run_name.replace("record-", ""): c.info.run_id for c in children}
    assert all("run_id" not in r for r in res.rows)
    # compute, then log: logging leaves the result as it was computed
    before = copy.deepcopy(res.rows)
    again = ecg.log_result(res, cfg, cfg["tracking"])
    assert res.rows == before and again.run_id != logged.run_id


def test_patient_specific_inner_validation_chooses_one_candidate_for_all(raw, tmp_path, monkeypatch):
    """validation: inner_minutes: the candidates are scored on minutes 2.5-5 of both patients pooled,
    the best is fitted for every patient, and each candidate is logged as a child run."""
    pytest.importorskip("mlflow")
    from pipelines import ecg

    # max_iter 1 of a tiny CNN barely learns the V beats; 8 epochs finds them
    cfg = _synthetic_patient_specific(raw, tmp_path, monkeypatch, seeds=[0], search={
        "grid": {"max_iter": [1, 8]}, "validation": "inner_minutes", "scoring": "ec57_f1_sv"})
    assert cfg["search"]["inner_train_minutes"] == 2.5
    lines = []
    res, logged = ecg.run(cfg, out=lines.append)
    text = "\n".join(lines)
    sel = res.selection
    scores = [r["score"] for r in sel.rows]
    assert [r["params"] for r in sel.rows] == [{"cnn__max_iter": 1}, {"cnn__max_iter": 8}]
    assert sel.best_index == int(np.argmax(scores)) and sel.best_score == max(scores)
    assert all(r["params"] == sel.best_params for r in res.rows)  # one choice for every patient
    assert all(res.rows[i]["epochs"] <= sel.best_params["cnn__max_iter"] for i in range(2))
    assert set(sel.n_val) == {"100", "200"} and all(n > 0 for n in sel.n_val.values())
    assert "Inner validation (training minutes 2.5-5 of 2 patients" in text and "<- chosen" in text

    from mlflow.tracking import MlflowClient

    client = MlflowClient(cfg["tracking"]["uri"])
    runs = client.search_runs([client.get_experiment_by_name("test-ps").experiment_id])
    parent = client.get_run(logged.run_id)
    cands = sorted((r for r in runs if r.data.tags.get("sk1dcnn.validation") == "inner_minutes"),
                   key=lambda r: int(r.data.tags["sk1dcnn.candidate"]))
    assert [c.info.run_name for c in cands] == ["candidate-max_iter=1", "candidate-max_iter=8"]
    assert all(c.data.tags["mlflow.parentRunId"] == logged.run_id for c in cands)
    for c, r in zip(cands, sel.rows):
        assert c.data.metrics["inner_score"] == pytest.approx(r["score"])
        assert {"inner_se_V", "inner_ppv_V", "inner_se_S", "inner_ppv_S", "inner_rank"} <= set(c.data.metrics)
    assert parent.data.params["validation"] == "inner_minutes"
    assert parent.data.params["best_max_iter"] == str(sel.best_params["cnn__max_iter"])
    assert parent.data.metrics["inner_best_score"] == pytest.approx(sel.best_score)
    assert "inner_validation.csv" in {a.path for a in client.list_artifacts(logged.run_id)}


@pytest.mark.skipif(find_shared_data("mitdb") is None or
                    not (find_shared_data("mitdb") / "100.hea").is_file(),
                    reason="full MIT-BIH records ($SK1DCNN_DATA/mitdb) absent")
def test_patient_specific_split_on_full_records():
    """On the full records the first 5 minutes train and the other 25 test (data only, no fit)."""
    from pipelines.ecg import load_data

    cfg = load_config(DEFAULT_CONFIG, overrides={"ecg": {"data": {"name": "mitdb:patient_specific",
                                                                  "data_dir": "shared",
                                                                  "records": ["100", "233"]}}})
    data = load_data(cfg["data"])
    pos = data.info["positions"]
    for patient, (tr, te) in data.info["splits"].items():
        own = data.groups_train[tr] == patient
        assert pos[tr][own].max() < 5 * 60 * 360 <= pos[te].min()
        assert set(data.groups_train[te]) == {patient}
        assert patient not in set(data.groups_train[tr][~own])
        assert len(te) > 4 * own.sum()  # 25 minutes against 5


# --------------------------------------------------------------------------- #
# Tracking server down, logging failures, dask backend
# --------------------------------------------------------------------------- #
def _closed_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the with block ends


def test_unreachable_server_is_reported_before_loading_data(tmp_path, monkeypatch, capsys):
    pytest.importorskip("mlflow")
    from pipelines import ecg

    def no_loading(*a, **k):
        raise AssertionError("data loaded although the tracking server is unreachable")

    monkeypatch.setattr(ecg, "load_data", no_loading)
    monkeypatch.chdir(tmp_path)
    uri = f"http://127.0.0.1:{_closed_port()}"
    rc = main(["ecg", "--quick", "--config", str(DEFAULT_CONFIG), "--tracking-uri", uri])
    assert rc == 2
    err = capsys.readouterr().err
    assert uri in err and "not reachable" in err and "mlflow server --backend-store-uri sqlite" in err
    assert not (tmp_path / "mlartifacts").exists()


def _ecg200_cfg(tmp_path, **search):
    return load_config(DEFAULT_CONFIG, quick=True, overrides={
        "tracking": {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "experiment": "t"},
        "ecg": {"data": {"name": "ucr:ECG200"}, "log_model": False, "model_file": None,
                "search": {"n_jobs": 1, **search}}})


def test_logging_failure_keeps_model_and_metrics_locally(tmp_path, monkeypatch,
                                                         run_with_tracking_failure):
    from pipelines import ecg
    from sk1dcnn.datasets import load_ucr

    monkeypatch.chdir(tmp_path)
    cfg = _ecg200_cfg(tmp_path)
    saved, doc = run_with_tracking_failure(ecg, cfg)
    _, _, X_te, y_te = load_ucr("ECG200")
    assert np.mean(saved["pipeline"].predict(X_te) == y_te) == pytest.approx(doc["test"]["accuracy"])


def test_quick_workflow_on_dask_cluster(tmp_path, monkeypatch):
    """backend: dask runs the search on a real LocalCluster and finds what local processes find."""
    pytest.importorskip("mlflow")
    distributed = pytest.importorskip("distributed")
    from pipelines import ecg

    monkeypatch.chdir(tmp_path)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, distributed.get_task_stream(client) as ts:
        cfg = _ecg200_cfg(tmp_path, backend="dask", scheduler=cluster.scheduler_address)
        res, _ = ecg.run(cfg, out=lambda *a: None)
    n_fits = int(np.prod([len(v) for v in cfg["search"]["grid"].values()])) * cfg["search"]["cv"]
    assert len(ts.data) >= n_fits >= 2  # every candidate x fold ran as a task on the cluster
    local_dir = tmp_path / "local"
    local_dir.mkdir()
    local, _ = ecg.run(_ecg200_cfg(local_dir), out=lambda *a: None)
    np.testing.assert_allclose(res.cv_results["mean_test_score"], local.cv_results["mean_test_score"])
    assert res.best_params == local.best_params
    assert res.metrics["accuracy"] == pytest.approx(local.metrics["accuracy"])


def test_offsets_and_ensemble_travel_in_the_saved_model(tmp_path, monkeypatch):
    """search.ensemble and search.tune_offsets: the refit model of each seed is an ensemble inside
    TunedOffsetsClassifierCV, tuned on record-grouped folds; the model file, its summary line and
    ecg-monitor all use the offsets."""
    from pipelines import ecg
    from pipelines.monitor import monitor
    from sk1dcnn import persistence
    from sk1dcnn.datasets import shipped_data_dir
    from sk1dcnn.model_selection import SeedEnsembleClassifier, TunedOffsetsClassifierCV

    monkeypatch.chdir(tmp_path)
    cfg = load_config(DEFAULT_CONFIG, quick=True, overrides={"ecg": {
        "model": {"max_iter": 2}, "search": {"tune_offsets": "f1_nsv", "ensemble": 2, "n_jobs": 1},
        "model_file": str(tmp_path / "m.skops"), "log_model": False}})
    data = ecg.load_data(cfg["data"], cfg["random_state"])
    result = ecg.fit_and_evaluate(cfg, data)
    model = result.model
    assert isinstance(model, TunedOffsetsClassifierCV) and isinstance(model.estimator_, SeedEnsembleClassifier)
    assert [m.named_steps["cnn"].random_state for m in model.estimator_.estimators_] == [0, 1000]
    np.testing.assert_array_equal(model.predict(data.X_test), result.y_pred)
    (o,) = result.offsets
    assert o["offset_N"] == 0.0 and o["oof_score_with_offsets"] >= o["oof_score_without_offsets"]
    assert "decision offsets on log-probabilities" in ecg.summary_text(cfg, result)

    path = ecg.save_model_file(result, cfg["model_file"])
    saved = persistence.load(path)["pipeline"]
    beats = data.X_test[data.groups_test == "233"]
    np.testing.assert_array_equal(saved.predict(beats), model.predict(beats))
    summary = monitor(shipped_data_dir("mitdb", "233"), model=str(path), out_csv=tmp_path / "b.csv",
                      out=lambda *_: None)
    assert sum(summary["counts"].values()) == summary["n_beats"] > 400
    # the monitor decides with the offsets: a V offset of +40 makes every beat V
    doc = persistence.load(path)
    doc["pipeline"].offsets_ = np.where(doc["pipeline"].classes_ == "V", 40.0, 0.0)
    persistence.dump(doc, tmp_path / "all_v.skops")
    all_v = monitor(shipped_data_dir("mitdb", "233"), model=str(tmp_path / "all_v.skops"),
                    out_csv=tmp_path / "v.csv", out=lambda *_: None)
    assert all_v["counts"]["V"] == summary["n_beats"] != summary["counts"]["V"]


def test_patient_specific_offsets_and_ensemble_from_the_inner_minutes(raw, tmp_path, monkeypatch):
    """search.tune_offsets with validation inner_minutes: offsets tuned on the pooled inner minutes
    (training beats only) label every patient's test beats; search.ensemble averages networks."""
    from pipelines import ecg
    from sk1dcnn.model_selection import SeedEnsembleClassifier

    cfg = _synthetic_patient_specific(raw, tmp_path, monkeypatch, seeds=[0], search={
        "grid": {"max_iter": [4]}, "validation": "inner_minutes", "scoring": "ec57_f1_sv",
        "tune_offsets": True, "ensemble": 2})
    data = ecg.load_data(cfg["data"], cfg["random_state"])
    res = ecg.fit_and_evaluate(cfg, data)
    o = res.offsets
    assert o["scoring"] == "ec57_f1_sv" and o["offsets"]["N"] == 0.0
    assert o["score_with"] >= o["score_without"]
    # the inner beats are training beats of the patients, from minute 2.5 on
    assert o["n_beats"] == sum(len(ecg.inner_minutes_split(tr, data.groups_train, data.info["positions"], p,
                                                           2.5, data.fs)[1])
                               for p, (tr, _) in data.info["splits"].items())
    assert "tuned on the pooled inner minutes" in ecg.summary_text(cfg, res)
    # each patient's labels are argmax log p + offsets of its ensemble's probabilities
    tr, te = data.info["splits"]["200"]
    model = ecg._patient_model(ecg.build_pipeline(cfg, data), {"cnn__max_iter": 4}, cfg["search"])
    assert isinstance(model, SeedEnsembleClassifier)
    fit = ecg._fit_patient(model, data.X_train[tr], data.y_train[tr], 0, data.X_train[te], o)
    X_te = data.X_train[te]
    zero = {"offsets": {c: 0.0 for c in o["offsets"]}}
    np.testing.assert_array_equal(ecg._apply_offsets(fit.model, X_te, zero), fit.model.predict(X_te))
    all_v = {"offsets": {**zero["offsets"], "V": 40.0}}
    assert set(ecg._apply_offsets(fit.model, X_te, all_v)) == {"V"}
    np.testing.assert_array_equal(fit.y_pred, ecg._apply_offsets(fit.model, X_te, o))


def test_patient_specific_offsets_need_the_inner_minutes(raw, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="tune_offsets: the patient-specific scheme tunes its offsets on the "
                                          "pooled inner minutes: it needs validation: inner_minutes"):
        _synthetic_patient_specific(raw, tmp_path, monkeypatch, search={
            "grid": {"max_iter": [4]}, "validation": "cv", "tune_offsets": True})


def test_offsets_and_ensemble_model_through_mlflow_pyfunc(tmp_path, monkeypatch):
    """The logged MLflow model of a TunedOffsetsClassifierCV(SeedEnsembleClassifier(Pipeline)) predicts
    the labels and prior-shifted probabilities of the fitted model."""
    pytest.importorskip("mlflow")
    from pipelines import ecg
    from pipelines._tracking import load_pyfunc

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = load_config(DEFAULT_CONFIG, quick=True, overrides={
        "tracking": {"uri": uri, "experiment": "test-offsets"},
        "ecg": {"model": {"max_iter": 2}, "search": {"tune_offsets": "f1_nsv", "ensemble": 2, "n_jobs": 1},
                "model_file": None}})
    result, logged = ecg.run(cfg, out=lambda *_: None)
    model = load_pyfunc(logged.model_uri, uri)
    X = ecg.load_data(cfg["data"]).X_test[:40]
    np.testing.assert_array_equal(np.asarray(model.predict(X)).astype(str), result.model.predict(X).astype(str))
    proba = model.predict(X, params={"predict_method": "predict_proba"})
    np.testing.assert_allclose(proba.to_numpy(), result.model.predict_proba(X), rtol=1e-5, atol=1e-6)

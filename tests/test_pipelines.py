"""End-to-end tests of ``python -m pipelines ecg --quick`` and ``ecg-monitor``.

The quick workflow runs once (module fixture, ~30-45 s on 2 cores) against a
temporary SQLite MLflow store; the other tests read what it logged.
"""

import contextlib
import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mlflow")
pytest.importorskip("yaml")
pytest.importorskip("wfdb")

from pipelines.__main__ import main  # noqa: E402
from pipelines.config import DEFAULT_CONFIG, ConfigError, load_config, resolve_config  # noqa: E402
from sk1dcnn.datasets import find_shared_data, shipped_data_dir  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """Run the README command in a fresh directory with its own tracking store."""
    tmp = tmp_path_factory.mktemp("ecg_quick")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    stdout = io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp)  # artifacts and the joblib file must land here, not in the repo
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
            "parents": parents, "children": children}


def test_quick_runs_and_metrics(quick_run):
    client, out = quick_run["client"], quick_run["out"]
    assert len(quick_run["parents"]) == 1
    parent = quick_run["parents"][0]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["sk1dcnn.dataset"] == "mitdb:inter_patient"
    cfg = load_config(DEFAULT_CONFIG, quick=True)
    n_candidates = int(np.prod([len(v) for v in cfg["grid"].values()]))
    children = quick_run["children"]
    assert len(children) == n_candidates
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert {"cv_mean_score", "cv_std_score", "cv_rank"} <= set(child.data.metrics)
        assert set(cfg["grid"]) <= set(child.data.params)

    m = parent.data.metrics
    for key in ("test_accuracy", "test_balanced_accuracy", "test_f1_macro", "best_cv_score"):
        assert 0.0 <= m[key] <= 1.0
    for c in ("N", "S", "V"):
        assert f"test_se_{c}" in m and f"test_ppv_{c}" in m
    # the refit model's params, from get_params()
    assert parent.data.params["cnn__max_iter"] == str(cfg["model"]["max_iter"])
    assert "bandpass__high" in parent.data.params

    # per-epoch curves with step=epoch
    train = client.get_metric_history(parent.info.run_id, "train_loss")
    valid = client.get_metric_history(parent.info.run_id, "valid_loss")
    steps = sorted(p.step for p in train)
    assert steps == list(range(1, len(steps) + 1)) and len(steps) >= 2
    assert sorted(p.step for p in valid) == steps
    assert m["n_epochs"] == len(steps)

    arts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"loss_curve.png", "confusion_matrix.png", "classification_report.txt",
            "model_summary.txt", "cv_results.csv"} <= arts
    # artifacts went to the experiment's explicit location, inside the run's cwd
    assert quick_run["exp"].artifact_location.startswith(Path(quick_run["tmp"]).as_uri())
    assert (quick_run["tmp"] / "mlartifacts").is_dir()

    assert "Se" in out and "PPV" in out
    assert f"mlflow ui --backend-store-uri {quick_run['uri']}" in out


def test_quick_model_loads_with_pyfunc(quick_run):
    import mlflow

    from sk1dcnn.datasets import load_mitdb_beats

    parent = quick_run["parents"][0]
    uri = parent.data.tags["sk1dcnn.model_uri"]
    model = mlflow.pyfunc.load_model(uri)
    assert model.metadata.signature is not None
    assert model.metadata.saved_input_example_info is not None
    X, y, _, _ = load_mitdb_beats(["100"])
    proba = np.asarray(model.predict(X[:7]))
    classes = model.metadata.metadata["classes"]
    assert proba.shape == (7, len(classes))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-4)
    # the joblib copy predicts the same
    import joblib

    saved = joblib.load(quick_run["tmp"] / "mlartifacts" / "ecg_model_mitdb-inter_patient.joblib")
    np.testing.assert_allclose(saved["pipeline"].predict_proba(X[:7]), proba, rtol=1e-5, atol=1e-6)


def test_import_sk1dcnn_does_not_import_mlflow():
    code = ("import sys, sk1dcnn, sk1dcnn.datasets, sk1dcnn.preprocessing, pipelines.config; "
            "assert 'mlflow' not in sys.modules, 'mlflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


# ------------------------------------------------------------------ config
def _raw():
    import yaml

    return yaml.safe_load(DEFAULT_CONFIG.read_text())


@pytest.mark.parametrize("mutate, key, allowed", [
    (lambda c: c.update(n_job=2), "n_job", "n_jobs"),
    (lambda c: c["model"].update(filtres=[8]), "model.filtres", "filters"),
    (lambda c: c["dataset"].update(nme="x"), "dataset.nme", "data_dir"),
    (lambda c: c["quick"].update(tracking_uri="x"), "quick.tracking_uri", "grid"),
    (lambda c: c.pop("grid"), "grid", "missing required key"),
    (lambda c: c.update(cv=1), "cv", "integer >= 2"),
    (lambda c: c.update(n_jobs=0), "n_jobs", "-1 (all cores)"),
    (lambda c: c.update(scoring="auc"), "scoring", "balanced_accuracy"),
    (lambda c: c["dataset"].update(name="mitdb:intra"), "dataset.name", "mitdb:inter_patient"),
    (lambda c: c["dataset"].update(name="physionet:x"), "dataset.name", "ucr:<UCR name>"),
    (lambda c: c["model"].update(activation="relux"), "model.activation", "'relu'"),
    (lambda c: c["grid"].update(kernel_size=[5, 0]), "grid.kernel_size", "kernel_size"),
    (lambda c: c["grid"].update(kernel_sise=[5]), "grid.kernel_sise", "kernel_size"),
    (lambda c: c.update(tracking_uri="./mlruns"), "tracking_uri", "sqlite:///"),
    (lambda c: c.update(preprocessing=[{"notch": {}}]), "preprocessing[0]", "bandpass"),
    (lambda c: c.update(preprocessing=[{"bandpass": {"hgh": 40}}]), "preprocessing[0].bandpass.hgh",
     "high"),
    # per-dataset sections
    (lambda c: c.update(datasets=[1]), "datasets", "dataset names"),
    (lambda c: c["datasets"].update({"ucr:ECG200": {"modle": {}}}), "datasets.ucr:ECG200.modle",
     "model, grid, cv, scoring, preprocessing"),
    (lambda c: c["datasets"].update({"ucr:ECG200": {"seeds": [1]}}), "datasets.ucr:ECG200.seeds",
     "model, grid, cv"),
    (lambda c: c["datasets"].update({"mitdb:intra": {"cv": 3}}), "datasets.mitdb:intra",
     "mitdb:patient_specific"),
    (lambda c: c["datasets"].update({"ECG200": {"cv": 3}}), "datasets.ECG200", "ucr:<UCR name>"),
    (lambda c: c["datasets"]["ucr:ECG5000"].update(model={"kernel_size": 0}), "model.kernel_size",
     "kernel_size"),
    (lambda c: c["datasets"]["ucr:ECG5000"].update(grid={"kernel_sise": [5]}), "grid.kernel_sise",
     "kernel_size"),
    (lambda c: c["datasets"]["ucr:ECG5000"].update(cv=1), "cv", "integer >= 2"),
    (lambda c: c["datasets"]["mitdb:inter_patient"].update(cv={"n_splits": 2, "n_repeats": 2}),
     "cv.n_repeats", "UCR data sets only"),
    (lambda c: c["datasets"]["ucr:ECG200"].update(cv={"n_split": 3}), "cv.n_split", "n_splits, n_repeats"),
    (lambda c: c["datasets"]["ucr:ECG200"].update(dataset={"name": "ucr:ECG5000"}),
     "datasets.ucr:ECG200.dataset.name", "data_dir"),
    (lambda c: c["datasets"]["mitdb:inter_patient"].update(dataset={"classes": ["N", "X"]}),
     "dataset.classes", "N, S, V, F, Q"),
    (lambda c: c["dataset"].update(classes=["N", "V"], name="ucr:ECG200"), "dataset.classes",
     "MIT-BIH"),
    (lambda c: c["dataset"].update(records="100"), "dataset.records", "list"),
    (lambda c: c["dataset"].update(train_minutes=30), "dataset.train_minutes", "(0, 30)"),
    # where the search runs
    (lambda c: c.update(backend="spark"), "backend", "local, dask"),
    (lambda c: c.update(backend="dask"), "scheduler", "tcp://HOST:PORT"),
    (lambda c: c.update(backend="dask", scheduler="localhost"), "scheduler", "tcp://HOST:PORT"),
    (lambda c: c.update(scheduler="tcp://127.0.0.1:8786"), "scheduler", "backend: dask"),
    (lambda c: c["quick"].update(backend="dask"), "quick.backend", "grid"),
])
def test_bad_config_names_key_and_allowed(mutate, key, allowed):
    raw = _raw()
    mutate(raw)
    with pytest.raises(ConfigError) as err:
        resolve_config(raw, quick=True, source="mlflow.yml")
    msg = str(err.value)
    assert f"mlflow.yml: {key}:" in msg
    assert allowed in msg


def test_bad_dataset_section_is_named():
    raw = _raw()
    raw["datasets"]["ucr:ECG5000"]["model"] = {"activation": "relux"}
    # the section is checked even when another data set runs
    with pytest.raises(ConfigError, match=r"model\.activation: .*in the configuration of that data set"):
        resolve_config(raw, quick=True)


def test_datasets_section_overrides_top_level():
    raw = _raw()
    raw["model"]["dropout"] = 0.1
    raw["datasets"] = {"ucr:ECG200": {"model": {"kernel_size": 9, "batch_size": 16},
                                      "grid": {"alpha": [0.0001, 0.001]}, "cv": 4},
                       "mitdb:inter_patient": {"model": {"global_pool": "avg"}, "scoring": "f1_macro"}}
    over = {"dataset": {"name": "ucr:ECG200"}}
    cfg = resolve_config(raw, overrides=over)
    assert cfg["dataset_section"] == "ucr:ECG200"
    assert cfg["model"]["kernel_size"] == 9 and cfg["model"]["batch_size"] == 16
    assert cfg["model"]["dropout"] == 0.1  # merged key by key: the rest stays top-level
    assert cfg["grid"] == {"cnn__alpha": [0.0001, 0.001]}  # grid replaced, not merged
    assert cfg["cv"] == 4 and cfg["scoring"] == "accuracy"
    # quick applies on top of the section; the command line on top of both
    q = resolve_config(raw, quick=True, overrides=over)
    assert q["dataset_section"] == "ucr:ECG200"
    assert q["model"]["max_iter"] == raw["quick"]["model"]["max_iter"]
    assert q["model"]["batch_size"] == raw["quick"]["model"]["batch_size"]
    assert q["model"]["kernel_size"] == raw["quick"]["model"]["kernel_size"]
    assert q["grid"] == {f"cnn__{k}": v for k, v in raw["quick"]["grid"].items()}
    assert q["cv"] == raw["quick"]["cv"]
    # the dataset named in the file (no override) picks its own section
    mit = resolve_config(raw)
    assert mit["dataset_section"] == "mitdb:inter_patient"
    assert mit["model"]["global_pool"] == "avg" and mit["scoring"] == "f1_macro"
    # a data set with no section uses the top level
    five = resolve_config(raw, overrides={"dataset": {"name": "ucr:ECGFiveDays"}})
    assert five["dataset_section"] is None
    assert five["model"]["kernel_size"] == raw["model"]["kernel_size"]
    assert five["grid"] == {f"cnn__{k}": [tuple(x) if isinstance(x, list) else x for x in v]
                            for k, v in raw["grid"].items()}


def test_shipped_config_sections():
    """The repository's mlflow.yml: the UCR results come from their own sections."""
    for name in ("ucr:ECG200", "ucr:ECG5000", "mitdb:inter_patient", "mitdb:patient_specific"):
        cfg = load_config(DEFAULT_CONFIG, overrides={"dataset": {"name": name}})
        assert cfg["dataset_section"] == name
    mit = load_config(DEFAULT_CONFIG)
    assert mit["dataset"]["classes"] == ["N", "S", "V", "F"]  # the section's dataset keys
    ucr = load_config(DEFAULT_CONFIG, overrides={"dataset": {"name": "ucr:ECG200"}})
    assert ucr["dataset"]["classes"] is None
    assert not ucr["model"].get("early_stopping") and ucr["model"].get("global_pool") is None
    # repeated folds in a UCR section are checked as a UCR configuration
    raw = _raw()
    raw["datasets"]["ucr:ECG200"]["cv"] = {"n_splits": 3, "n_repeats": 2}
    cfg = resolve_config(raw, overrides={"dataset": {"name": "ucr:ECG200"}})
    assert (cfg["cv"], cfg["cv_repeats"]) == (3, 2)
    from pipelines.ecg import make_cv

    from types import SimpleNamespace

    assert type(make_cv(cfg, SimpleNamespace(kind="ucr"))).__name__ == "RepeatedStratifiedKFold"
    mit = load_config(DEFAULT_CONFIG)
    assert mit["dataset"]["name"] == "mitdb:inter_patient"
    assert mit["model"]["class_weight"] == "balanced" and mit["model"]["early_stopping"] is True


def test_bad_config_file_through_cli(tmp_path, capsys):
    bad = tmp_path / "bad.yml"
    bad.write_text(DEFAULT_CONFIG.read_text().replace("cv: 3", "cv: three"))
    assert main(["ecg", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "cv: must be an integer >= 2" in err and str(bad) in err
    assert main(["ecg", "--config", str(tmp_path / "missing.yml")]) == 2
    assert "Configuration file not found" in capsys.readouterr().err


def test_missing_data_paths(tmp_path, capsys):
    raw = _raw()
    raw["dataset"]["data_dir"] = str(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match=r"dataset\.data_dir: folder does not exist: .*nowhere"):
        resolve_config(raw)
    # a folder that exists but lacks the records: the loader names the missing file
    from pipelines.ecg import load_data

    cfg = resolve_config({**_raw(), "dataset": {"name": "mitdb:inter_patient", "data_dir": str(tmp_path)}})
    with pytest.raises(FileNotFoundError, match=r"MIT-BIH record '101' not found"):
        load_data(cfg["dataset"])
    cfg = resolve_config({**_raw(), "dataset": {"name": "ucr:NoSuchSet", "data_dir": str(tmp_path)}})
    with pytest.raises(FileNotFoundError, match="NoSuchSet"):
        load_data(cfg["dataset"])
    assert main(["ecg", "--quick", "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "dataset.data_dir" in capsys.readouterr().err


# ----------------------------------------------------------------- monitor
def test_ecg_monitor_on_shipped_record(quick_run, tmp_path, capsys, monkeypatch):
    record = shipped_data_dir("mitdb", "119")
    out_csv = tmp_path / "beats.csv"
    model = quick_run["tmp"] / "mlartifacts" / "ecg_model_mitdb-inter_patient.joblib"
    monkeypatch.chdir(quick_run["tmp"])  # the README flow: the default --model is what ecg saved
    rc = main(["ecg-monitor", "--record", str(record), "--out", str(out_csv), "--chunk-seconds", "45"])
    assert rc == 0
    text = capsys.readouterr().out
    rows = list(csv.DictReader(out_csv.open()))
    # ~349 annotated beats in the 5-minute excerpt; the detector finds nearly all
    assert 320 <= len(rows) <= 360
    samples = np.array([int(r["sample"]) for r in rows])
    assert np.all(np.diff(samples) > 0)  # no beat lost or doubled at the chunk seams
    assert "real-time factor" in text
    assert "R-peak Se" in text

    from pipelines.monitor import monitor

    summary = monitor(record, model=str(model), out_csv=tmp_path / "b2.csv", chunk_seconds=300,
                      out=lambda *_: None)
    assert summary["n_beats"] == len(rows)  # chunking does not change the beats found
    assert summary["detection"]["sensitivity"] > 0.97

    # the same model through its MLflow URI gives the same labels
    uri = quick_run["parents"][0].data.tags["sk1dcnn.model_uri"]
    by_uri = monitor(record, model=uri, tracking_uri=quick_run["uri"], out_csv=tmp_path / "b3.csv",
                     out=lambda *_: None)
    assert by_uri["counts"] == summary["counts"]


def test_ecg_monitor_alerts_runs_of_abnormal_beats(tmp_path, monkeypatch):
    """A fake model: every 4th-7th beat of each 10 is V -> one alert per 10 beats."""
    from pipelines import monitor as mon

    def predict_proba(X):
        predict_proba.seen += len(X)
        i = np.arange(predict_proba.seen - len(X), predict_proba.seen)
        v = (i % 10 >= 3) & (i % 10 < 7)
        return np.stack([~v, v], axis=1).astype(float)

    predict_proba.seen = 0
    fake = mon._check(mon._Model(predict_proba, ["N", "V"], {"kind": "mitdb"}, "fake"))
    monkeypatch.setattr(mon, "load_model", lambda model, tracking_uri=None: fake)
    lines = []
    summary = mon.monitor(shipped_data_dir("mitdb", "100"), out_csv=tmp_path / "b.csv",
                          chunk_seconds=20, max_alerts=3, out=lines.append)
    n = summary["n_beats"]
    assert len(summary["alerts"]) == (n - 3) // 10 + (1 if (n - 3) % 10 >= 3 else 0)
    assert all(len(labs) == 4 and set(labs) == {"V"} for *_, labs in summary["alerts"][:-1])
    assert sum(line.lstrip().startswith("ALERT") for line in lines) == 3
    assert any("more alerts" in line for line in lines)


def test_ecg_monitor_refuses_missing_model(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    record = shipped_data_dir("mitdb", "100")
    assert main(["ecg-monitor", "--record", str(record)]) == 2
    assert "ecg --quick" in capsys.readouterr().err
    assert main(["ecg-monitor", "--record", str(tmp_path / "999")]) == 2
    assert "WFDB header not found" in capsys.readouterr().err


# ------------------------------------------------------ patient-specific
def test_patient_specific_refuses_shipped_excerpts(capsys):
    from pipelines.ecg import load_data

    cfg = load_config(DEFAULT_CONFIG, quick=True, overrides={"dataset": {"name": "mitdb:patient_specific"}})
    assert cfg["dataset"]["data_dir"] is None
    with pytest.raises(ConfigError, match=r"dataset\.data_dir: .*5-minute .*no test part.*'shared'"):
        load_data(cfg["dataset"])
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


def test_patient_specific_workflow_on_synthetic_records(tmp_path, monkeypatch):
    """The whole patient-specific run, on fake 30-minute records (no ../shared needed)."""
    from sk1dcnn import datasets
    from pipelines import ecg

    fake = _fake_records()
    for rec in ("100", "101", "200"):
        (tmp_path / f"{rec}.hea").write_text("")

    def fake_load(records, data_dir=None, **kw):
        keep = np.isin(fake[2], list(records))
        return tuple(a[keep] for a in fake)

    monkeypatch.setattr(datasets, "load_mitdb_beats", fake_load)
    raw = _raw()
    raw["datasets"]["mitdb:patient_specific"] = {
        "model": {"filters": [4], "kernel_size": 5, "hidden_layer_sizes": [8], "max_iter": 4,
                  "batch_size": 64, "learning_rate_init": 0.01, "global_pool": None,
                  "early_stopping": False, "class_weight": "balanced"},
        "grid": {"alpha": [0.0001]}}
    raw.update(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_location=str(tmp_path / "art"),
               experiment_name="test-ps", seeds=[0, 1], n_jobs=1)
    raw["dataset"] = {"name": "mitdb:patient_specific", "data_dir": str(tmp_path),
                      "records": ["100", "200"], "n_common_per_class": 20}
    cfg = resolve_config(raw)
    lines = []
    res = ecg.run(cfg, out=lines.append)
    text = "\n".join(lines)
    assert [r["record"] for r in res["rows"]] == ["100", "200"]
    for r in res["rows"]:
        # common beats from the other record numbered 100-124 only (101; not 200)
        assert r["n_common"] <= 3 * 20
        assert r["n_test"] > 300  # the last 25 of 30 minutes
        assert r["n_V"] > 0 and 0 <= r["se_V"] <= 100
    assert {"se_V", "ppv_V", "se_S", "ppv_S"} <= set(res["gross"])
    assert "Kiranyaz" in text and "gross" in text and "Se_V" in text
    # the synthetic beats are separable: the tiny CNN finds the V beats
    assert res["gross"]["se_V"] > 80

    from mlflow.tracking import MlflowClient

    client = MlflowClient(cfg["tracking_uri"])
    exp = client.get_experiment_by_name("test-ps")
    runs = client.search_runs([exp.experiment_id])
    parent = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parent) == 1 and parent[0].info.status == "FINISHED"
    assert sorted(c.info.run_name for c in children) == ["record-100", "record-200"]
    assert {"se_V", "ppv_V", "se_S", "ppv_S"} <= set(children[0].data.metrics)
    assert {"gross_se_V", "gross_ppv_S", "test_accuracy"} <= set(parent[0].data.metrics)
    arts = {a.path for a in client.list_artifacts(parent[0].info.run_id)}
    assert {"per_record.csv", "confusion_matrix.png", "classification_report.txt"} <= arts


@pytest.mark.skipif(find_shared_data("mitdb") is None or
                    not (find_shared_data("mitdb") / "100.hea").is_file(),
                    reason="full MIT-BIH records (../shared/data/mitdb) absent")
def test_patient_specific_split_on_full_records():
    """On the full records the first 5 minutes train and the other 25 test (data only, no fit)."""
    from pipelines.ecg import load_data

    cfg = load_config(DEFAULT_CONFIG, overrides={"dataset": {"name": "mitdb:patient_specific",
                                                             "data_dir": "shared",
                                                             "records": ["100", "233"]}})
    data = load_data(cfg["dataset"])
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
    import time

    from pipelines import ecg

    def no_loading(*a, **k):
        raise AssertionError("data loaded although the tracking server is unreachable")

    monkeypatch.setattr(ecg, "load_data", no_loading)
    monkeypatch.chdir(tmp_path)
    uri = f"http://127.0.0.1:{_closed_port()}"
    t0 = time.perf_counter()
    rc = main(["ecg", "--quick", "--config", str(DEFAULT_CONFIG), "--tracking-uri", uri])
    assert time.perf_counter() - t0 < 15
    assert rc == 2
    err = capsys.readouterr().err
    assert uri in err and "not reachable" in err and "mlflow server --backend-store-uri sqlite" in err
    assert not (tmp_path / "mlartifacts").exists()


def test_http_config_leaves_artifacts_to_the_server():
    raw = _raw()
    raw["tracking_uri"] = "http://127.0.0.1:5000"
    assert resolve_config(raw, quick=True)["artifact_location"] is None
    raw["artifact_location"] = "s3://bucket/x"
    assert resolve_config(raw, quick=True)["artifact_location"] == "s3://bucket/x"


def _ecg200_cfg(tmp_path, **overrides):
    return load_config(DEFAULT_CONFIG, quick=True, overrides={
        "tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "experiment_name": "t",
        "dataset": {"name": "ucr:ECG200"}, "log_model": False, "model_file": None, "n_jobs": 1,
        **overrides})


def test_logging_failure_keeps_model_and_metrics_locally(tmp_path, monkeypatch):
    import joblib
    import json

    from mlflow.exceptions import MlflowException

    from pipelines import _tracking, ecg
    from pipelines.config import TrackingServerError

    monkeypatch.chdir(tmp_path)
    cfg = _ecg200_cfg(tmp_path)

    def gone(self, *a, **k):
        raise MlflowException("API request to endpoint /api/2.0/mlflow/runs/log-batch failed: "
                              "Connection refused")

    monkeypatch.setattr(_tracking.Tracker, "log_candidates", gone)
    with pytest.raises(TrackingServerError) as err:
        ecg.run(cfg, out=lambda *a: None)
    msg = str(err.value)
    assert "Connection refused" in msg and cfg["tracking_uri"] in msg
    folders = list((tmp_path / "mlartifacts").glob("local-*"))
    assert len(folders) == 1 and str(folders[0]) in msg
    saved = joblib.load(folders[0] / "model.joblib")
    doc = json.loads((folders[0] / "metrics.json").read_text())
    from sk1dcnn.datasets import load_ucr

    _, _, X_te, y_te = load_ucr("ECG200")
    assert np.mean(saved["pipeline"].predict(X_te) == y_te) == pytest.approx(doc["test"]["accuracy"])
    # the run is marked FAILED, and no run stays active in this process
    import mlflow

    assert mlflow.active_run() is None
    from mlflow.tracking import MlflowClient

    run = MlflowClient(cfg["tracking_uri"]).get_run(doc["run_id"])
    assert run.info.status == "FAILED"


def test_quick_workflow_on_dask_cluster(tmp_path, monkeypatch):
    """backend: dask runs the search on a real LocalCluster and finds what local processes find."""
    distributed = pytest.importorskip("distributed")
    from pipelines import ecg

    monkeypatch.chdir(tmp_path)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, distributed.get_task_stream(client) as ts:
        cfg = _ecg200_cfg(tmp_path, backend="dask", scheduler=cluster.scheduler_address)
        res = ecg.run(cfg, out=lambda *a: None)
    assert len(ts.data) >= 4  # 2 candidates x 2 folds ran as tasks on the cluster
    local_dir = tmp_path / "local"
    local_dir.mkdir()
    local = ecg.run(_ecg200_cfg(local_dir), out=lambda *a: None)
    np.testing.assert_allclose(res["cv_results"]["mean_test_score"],
                               local["cv_results"]["mean_test_score"])
    assert res["best_params"] == local["best_params"]
    assert res["metrics"]["accuracy"] == pytest.approx(local["metrics"]["accuracy"])


def test_backend_flags_reach_the_config(monkeypatch):
    import pipelines.ecg as ecg

    seen = {}
    monkeypatch.setattr(ecg, "run", lambda cfg: seen.update(cfg))
    assert main(["ecg", "--quick", "--config", str(DEFAULT_CONFIG), "--tracking-uri", "sqlite:///x.db",
                 "--backend", "dask", "--scheduler", "tcp://10.0.0.1:8786"]) == 0
    assert seen["backend"] == "dask" and seen["scheduler"] == "tcp://10.0.0.1:8786"

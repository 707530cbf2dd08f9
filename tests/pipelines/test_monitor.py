"""pipelines/monitor.py: ``python -m pipelines ecg-monitor`` over whole records."""

import csv
import re

import numpy as np
import pytest

pytest.importorskip("wfdb")

from pipelines.__main__ import main  # noqa: E402
from sk1dcnn.datasets import shipped_data_dir  # noqa: E402


def test_ecg_monitor_on_shipped_record(quick_run, tmp_path, capsys, monkeypatch):
    record = shipped_data_dir("mitdb", "119")
    out_csv = tmp_path / "beats.csv"
    model = quick_run["model_file"]
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
    assert "R-peak Se" in text and "alerts vs .atr" in text
    assert "lead MLII" in text and "RR features online" in text
    assert "was in this model's training data" in text  # 119 is a training record of the quick run

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


class Foreign:
    """A class nobody reviewed."""


def test_ecg_monitor_reads_model_files_with_sk1dcnn_persistence(tmp_path):
    """Model files are skops files read by sk1dcnn.persistence.load; a pickle is refused unread."""
    import joblib

    from pipelines.monitor import load_model
    from sk1dcnn.persistence import UntrustedTypesError

    pickled = tmp_path / "model.joblib"
    joblib.dump({"pipeline": None}, pickled)
    with pytest.raises(ValueError, match=r"pickle.*sk1dcnn\.persistence"):
        load_model(str(pickled))
    skops_io = pytest.importorskip("skops.io")
    foreign = tmp_path / "foreign.skops"
    skops_io.dump({"pipeline": Foreign()}, foreign)  # a file naming a type nobody reviewed
    with pytest.raises(UntrustedTypesError, match="Foreign"):
        load_model(str(foreign))


def test_ecg_monitor_command_line_names_a_refused_model_file_in_one_line(tmp_path, capsys):
    import joblib

    from pipelines.__main__ import main
    from sk1dcnn.datasets import shipped_data_dir

    pickled = tmp_path / "model.joblib"
    joblib.dump({"pipeline": None}, pickled)
    record = str(shipped_data_dir("mitdb", "233"))
    assert main(["ecg-monitor", "--record", record, "--model", str(pickled)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "pickle" in err and "Traceback" not in err


def _rr_model_meta():
    return {"kind": "mitdb", "input_ndim": 2, "n_static_features": 7, "static_features": "rr",
            "lead": "MLII"}


@pytest.mark.parametrize("chunk_seconds", [17.0, 300.0])
def test_ecg_monitor_rr_features_online_equal_the_batch_definition(tmp_path, monkeypatch, chunk_seconds):
    """A model with RR features gets, for each beat, sk1dcnn.ecg.rr_features of the R peaks the
    monitor detected (one definition; the stream reads at most the next peak), whatever the chunks."""
    from pipelines import monitor as mon
    from sk1dcnn.ecg import RRFeatureStream, rr_features

    seen, fed = [], []

    class Recording(RRFeatureStream):
        def update(self, r_peak):
            fed.append(int(r_peak))
            return super().update(r_peak)

    def predict_proba(X):
        seen.append(np.array(X))
        return np.tile([1.0, 0.0], (len(X), 1))

    fake = mon._check(mon._Model(predict_proba, ["N", "V"], _rr_model_meta(), "fake"))
    monkeypatch.setattr(mon, "load_model", lambda model, tracking_uri=None: fake)
    monkeypatch.setattr("sk1dcnn.ecg.RRFeatureStream", Recording)
    summary = mon.monitor(shipped_data_dir("mitdb", "100"), out_csv=tmp_path / "b.csv",
                          chunk_seconds=chunk_seconds, out=lambda *_: None)
    X = np.concatenate(seen)
    assert X.shape == (summary["n_beats"], 252 + 7)
    rows = list(csv.DictReader((tmp_path / "b.csv").open()))
    samples = np.array([int(r["sample"]) for r in rows])
    assert np.all(np.diff(fed) > 0) and set(samples) <= set(fed)
    expected = rr_features(np.array(fed), 360.0)[np.searchsorted(fed, samples)]
    np.testing.assert_allclose(X[:, -7:], expected, rtol=1e-12)


def test_alert_scores_against_reference_runs():
    from pipelines.monitor import alert_scores, reference_runs

    t = np.arange(20.0)  # one beat per second
    lab = np.array(list("NNVVVNNSNNVVFVNNQVVV"))
    # runs of >= 3 S/V/F beats: 2-4 and 10-13 (Q ends a run; 17-19 is one too)
    assert reference_runs(t, lab, 3) == [(2.0, 4.0), (10.0, 13.0), (17.0, 19.0)]
    alerts = [(3.0, 5.0, ["V"] * 3), (7.0, 9.0, ["S"] * 3), (12.9, 14.0, ["V"] * 2)]
    s = alert_scores(alerts, t, lab, 3)
    assert (s["n_alerts"], s["n_true_alerts"], s["n_reference_runs"], s["n_runs_alerted"]) == (3, 2, 3, 2)
    assert s["precision"] == pytest.approx(2 / 3) and s["sensitivity"] == pytest.approx(2 / 3)
    none = alert_scores([], t, np.array(["N"] * 20), 3)
    assert np.isnan(none["precision"]) and np.isnan(none["sensitivity"])


@pytest.mark.parametrize("kind, k", [("template", 3), ("rr+template", 10)])
def test_ecg_monitor_template_features_online_equal_the_batch_definition(tmp_path, monkeypatch, kind, k):
    """A model with template features gets sk1dcnn.ecg.template_features of the beats the monitor
    classified, in time order (after the RR features when it has both)."""
    from pipelines import monitor as mon
    from sk1dcnn.ecg import load_wfdb_record, template_features

    seen = []

    def predict_proba(X):
        seen.append(np.array(X))
        return np.tile([1.0, 0.0], (len(X), 1))

    meta = {**_rr_model_meta(), "n_static_features": k, "static_features": kind}
    fake = mon._check(mon._Model(predict_proba, ["N", "V"], meta, "fake"))
    monkeypatch.setattr(mon, "load_model", lambda model, tracking_uri=None: fake)
    summary = mon.monitor(shipped_data_dir("mitdb", "233"), out_csv=tmp_path / "b.csv",
                          chunk_seconds=23.0, out=lambda *_: None)
    X = np.concatenate(seen)
    assert X.shape == (summary["n_beats"], 252 + k)
    # the beats reached the model in time order, each once, as windows cut from the record
    samples = np.array([int(r["sample"]) for r in csv.DictReader((tmp_path / "b.csv").open())])
    assert np.all(np.diff(samples) > 0)
    sig = load_wfdb_record(shipped_data_dir("mitdb", "233"), annotator=None).signal[0]
    np.testing.assert_array_equal(X[:, :252], np.stack([sig[p - 90:p + 162] for p in samples]))
    np.testing.assert_array_equal(X[:, -3:], template_features(X[:, :252], 360.0, 90))


def test_ecg_monitor_refuses_static_features_it_cannot_compute():
    from pipelines import monitor as mon

    meta = {**_rr_model_meta(), "n_static_features": 4, "static_features": "hrv"}
    with pytest.raises(ValueError, match=re.escape(
            "the model fake expects 4 static features ('hrv'); ecg-monitor computes 'rr' (7), "
            "'template' (3), 'rr+template' (10)")):
        mon._check(mon._Model(None, ["N", "V"], meta, "fake"))

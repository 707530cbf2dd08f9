"""pipelines/monitor.py: ``python -m pipelines ecg-monitor`` over whole records."""

import csv

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

"""pipelines/personal_monitor.py: ``ecg-monitor --personal MINUTES`` on a shipped record."""

import csv
import re

import numpy as np
import pytest

pytest.importorskip("wfdb")

from pipelines.__main__ import main  # noqa: E402
from pipelines.personal_monitor import monitor_personal  # noqa: E402
from sk1dcnn.datasets import shipped_data_dir  # noqa: E402

RECORD = str(shipped_data_dir("mitdb", "233"))


def test_personal_monitor_trains_on_the_first_minutes_and_scores_itself(tmp_path):
    lines = []
    out_csv = tmp_path / "w.csv"
    s = monitor_personal(RECORD, 2.5, out_csv=out_csv, out=lines.append)
    text = "\n".join(lines)
    # the degradation bank is built from the other shipped records, never from 233
    assert "233" not in s["bank_records"] and len(s["bank_records"]) >= 5
    assert f"filters from {len(s['bank_records'])} other records" in text
    # the reference labels leave abnormal beats out of the training minutes, and it says so
    assert re.search(r"training on minutes 0-2.5: \d+ beats \(\d+ left out", text)
    rows = list(csv.DictReader(open(out_csv)))
    assert len(rows) == s["n_beats"] > 200
    times = np.array([float(r["time_s"]) for r in rows])
    assert times.min() >= 150 and np.all(np.diff(times) > 0)
    warned = np.array([r["warning"] == "1" for r in rows])
    assert warned.sum() == s["n_warnings"] == len(s["warnings"])
    assert set(r["label"] for r in rows if r["warning"] == "1") <= {"S", "V"}
    # 233 has V beats after minute 2.5: scored against the annotations, and caught
    onsets = {o["class"]: o["detected"] for o in s["scores"]["onsets"]}
    assert onsets.get("V") is True
    assert s["scores"]["false_alarm_rate"] < 0.05
    # scored on the reference beats after minute 2.5 (the shipped excerpt's annotations)
    from sk1dcnn.ecg import load_wfdb_record, to_aami

    rec = load_wfdb_record(RECORD)
    aami = to_aami(rec.ann_symbols)
    n_ref = int(np.sum((aami != "") & (rec.ann_samples >= 150 * rec.fs)))
    assert s["scores"]["n_normal"] + sum(np.sum(aami[(aami != "") & (rec.ann_samples >= 150 * rec.fs)] == c)
                                         for c in "SVFQ") == n_ref
    assert f"({n_ref} reference beats after minute 2.5, " in text
    assert "Research software, not a medical device." in text


def test_personal_monitor_refuses_training_minutes_that_leave_nothing_to_monitor(tmp_path):
    with pytest.raises(ValueError, match=re.escape("--personal MINUTES must be a positive number of training "
                                                   "minutes, got 0")):
        monitor_personal(RECORD, 0, out_csv=tmp_path / "w.csv", out=lambda *_: None)
    with pytest.raises(ValueError, match=re.escape("record 233 is 5.0 min long: --personal 4.5 must leave at "
                                                   "least one minute to monitor after the training minutes")):
        monitor_personal(RECORD, 4.5, out_csv=tmp_path / "w.csv", out=lambda *_: None)


def test_cli_personal_and_its_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["ecg-monitor", "--record", RECORD, "--personal", "2.5"]) == 0
    assert (tmp_path / "233_warnings.csv").is_file()
    assert "ecg-monitor --personal: record" in capsys.readouterr().out
    assert main(["ecg-monitor", "--record", RECORD, "--personal", "2.5", "--min-run", "5"]) == 0
    assert "note: --min-run not used with --personal" in capsys.readouterr().err
    assert main(["ecg-monitor", "--record", RECORD, "--bank-records", str(tmp_path)]) == 2
    assert "--bank-records goes with --personal MINUTES" in capsys.readouterr().err
    assert main(["ecg-monitor", "--record", RECORD, "--personal", "2.5", "--bank-records", str(tmp_path)]) == 2
    assert "no labelled record other than 233 in" in capsys.readouterr().err


def test_personal_monitor_accepts_random_state_none(tmp_path):
    s = monitor_personal(RECORD, 2.5, out_csv=tmp_path / "w.csv", random_state=None, out=lambda *_: None)
    assert s["n_beats"] > 200 and "scores" in s

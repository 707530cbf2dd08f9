import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sk1dcnn.datasets import (
    AAMI_CLASSES,
    AAMI_MAPPING,
    INTER_PATIENT_TEST,
    INTER_PATIENT_TRAIN,
    extract_beats,
    find_shared_data,
    load_mitdb_beats,
    load_ucr,
    load_wfdb_record,
    patient_specific_split,
    shipped_data_dir,
    to_aami,
)

SHARED_MITDB = find_shared_data("mitdb")
SHARED_UCR = find_shared_data("ucr")
needs_wfdb = pytest.mark.skipif(
    importlib.util.find_spec("wfdb") is None, reason="wfdb not installed (pip install sk1dcnn[ecg])"
)
TEN_RECORDS = ("100", "101", "106", "118", "119", "200", "208", "209", "232", "233")


# --------------------------------------------------------------------------- #
# UCR
# --------------------------------------------------------------------------- #
def test_load_ucr_shipped_ecg200():
    X_train, y_train, X_test, y_test = load_ucr("ECG200")
    assert X_train.shape == (100, 96) and X_test.shape == (100, 96)
    assert X_train.dtype == np.float64
    assert y_train.dtype.kind == "i"
    assert set(np.unique(y_train)) == {-1, 1} and set(np.unique(y_test)) == {-1, 1}
    # Class counts documented in the shared data's SOURCE.md.
    assert np.sum(y_train == -1) == 31 and np.sum(y_test == -1) == 36


def test_load_ucr_single_split_matches_both():
    X_train, y_train, X_test, y_test = load_ucr("ECG200", split="both")
    X, y = load_ucr("ECG200", split="test")
    np.testing.assert_array_equal(X, X_test)
    np.testing.assert_array_equal(y, y_test)
    X, y = load_ucr("ECGFiveDays", split="train")
    assert X.shape == (23, 136) and set(np.unique(y)) == {1, 2}


def test_load_ucr_file_and_folder_paths():
    folder = shipped_data_dir("ucr")
    X, y = load_ucr(folder / "ECG200_TRAIN.tsv")
    raw = np.loadtxt(folder / "ECG200_TRAIN.tsv", delimiter="\t")
    np.testing.assert_array_equal(X, raw[:, 1:])
    np.testing.assert_array_equal(y, raw[:, 0].astype(int))
    # A split= with a file path picks the sibling file.
    X_test, _ = load_ucr(str(folder / "ECG200_TRAIN.tsv"), split="test")
    np.testing.assert_array_equal(X_test, load_ucr("ECG200", split="test")[0])


def test_load_ucr_archive_folder_and_data_home(tmp_path, monkeypatch):
    monkeypatch.delenv("SK1DCNN_DATA", raising=False)
    d = tmp_path / "Toy"
    d.mkdir()
    (d / "Toy_TRAIN.tsv").write_text("1\t0.5\t1.5\t2.5\n2\t3\t4\t5\n")
    (d / "Toy_TEST.tsv").write_text("2\t-1\t-2\t-3\n")
    X_tr, y_tr, X_te, y_te = load_ucr(d)  # folder of the archive layout
    np.testing.assert_array_equal(X_tr, [[0.5, 1.5, 2.5], [3, 4, 5]])
    np.testing.assert_array_equal(y_tr, [1, 2])
    assert X_te.shape == (1, 3)
    # By name via data_home (root/<name>/<name>_TRAIN.tsv) and via the env var.
    assert load_ucr("Toy", split="test", data_home=tmp_path)[0].shape == (1, 3)
    monkeypatch.setenv("SK1DCNN_DATA", str(tmp_path))
    assert load_ucr("Toy", split="train")[0].shape == (2, 3)


def test_load_ucr_non_integer_labels_stay_float(tmp_path):
    f = tmp_path / "F_TRAIN.tsv"
    f.write_text("0.5\t1\t2\n1\t3\t4\n")
    _, y = load_ucr(f)
    assert y.dtype == np.float64 and y[0] == 0.5


def test_load_ucr_unknown_name_error(monkeypatch):
    monkeypatch.delenv("SK1DCNN_DATA", raising=False)
    with pytest.raises(FileNotFoundError) as info:
        load_ucr("NoSuchSet")
    msg = str(info.value)
    assert "NoSuchSet_TRAIN.tsv" in msg  # names the paths tried
    assert "ECG200" in msg and "ECGFiveDays" in msg  # and what is shipped
    with pytest.raises(FileNotFoundError, match="No such UCR file"):
        load_ucr("some/dir/Missing_TRAIN.tsv")
    with pytest.raises(ValueError, match="split"):
        load_ucr("ECG200", split="valid")


@pytest.mark.skipif(SHARED_UCR is None, reason="team shared data not present")
def test_shipped_ucr_files_identical_to_shared():
    for name in ("ECG200", "ECGFiveDays"):
        for split in ("TRAIN", "TEST"):
            shipped = (shipped_data_dir("ucr") / f"{name}_{split}.tsv").read_bytes()
            assert shipped == (SHARED_UCR / f"{name}_{split}.tsv").read_bytes()


def test_find_shared_data_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SK1DCNN_DATA", str(tmp_path))
    assert find_shared_data("mitdb") is None
    (tmp_path / "mitdb").mkdir()
    assert find_shared_data("mitdb") == tmp_path / "mitdb"
    assert find_shared_data() == tmp_path


def test_datasets_imports_without_wfdb():
    code = (
        "import sys; sys.modules['wfdb'] = None\n"
        "import sk1dcnn.datasets as d\n"
        "d.load_ucr('ECG200')\n"
        "try:\n    d.load_wfdb_record(d.shipped_data_dir('mitdb', '100'))\n"
        "except ImportError as e:\n    print(e)\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])},
        check=True,
    )
    assert "pip install sk1dcnn[ecg]" in out.stdout


# --------------------------------------------------------------------------- #
# MIT-BIH
# --------------------------------------------------------------------------- #
@needs_wfdb
def test_shipped_mitdb_excerpt_loads():
    rec = load_wfdb_record(shipped_data_dir("mitdb", "100"))
    assert rec.signal.shape == (2, 300 * 360)
    assert rec.fs == 360.0
    assert rec.channel_names == ("MLII", "V5")
    assert rec.ann_samples.shape == rec.ann_symbols.shape
    assert rec.ann_samples.max() < 300 * 360
    # MIT-BIH is 200 ADC units per mV with 11-bit samples: values are k/200 mV.
    np.testing.assert_allclose(rec.signal * 200, np.round(rec.signal * 200), rtol=0, atol=1e-9)
    assert np.all(np.isin(list(rec.ann_symbols), list("NAV+")))


@needs_wfdb
@pytest.mark.skipif(SHARED_MITDB is None, reason="team shared MIT-BIH records not present")
@pytest.mark.parametrize("record", ["100", "208", "232"])
def test_shipped_excerpt_equals_full_record_start(record):
    excerpt = load_wfdb_record(shipped_data_dir("mitdb", record))
    full = load_wfdb_record(SHARED_MITDB / record, sampto=300 * 360)
    np.testing.assert_array_equal(excerpt.signal, full.signal)
    np.testing.assert_array_equal(excerpt.ann_samples, full.ann_samples)
    np.testing.assert_array_equal(excerpt.ann_symbols, full.ann_symbols)
    assert excerpt.channel_names == full.channel_names


@needs_wfdb
def test_load_wfdb_record_range_and_errors(tmp_path):
    path = shipped_data_dir("mitdb", "100")
    whole = load_wfdb_record(path)
    part = load_wfdb_record(str(path) + ".hea", sampfrom=3600, sampto=7200)
    np.testing.assert_array_equal(part.signal, whole.signal[:, 3600:7200])
    inside = (whole.ann_samples >= 3600) & (whole.ann_samples < 7200)
    np.testing.assert_array_equal(part.ann_samples, whole.ann_samples[inside] - 3600)
    with pytest.raises(FileNotFoundError, match="header"):
        load_wfdb_record(tmp_path / "999")


def test_aami_mapping():
    assert AAMI_CLASSES == ("N", "S", "V", "F", "Q")
    expected = {
        "N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ",
    }
    for cls, symbols in expected.items():
        np.testing.assert_array_equal(to_aami(list(symbols)), [cls] * len(symbols))
    assert set(AAMI_MAPPING) == set("".join(expected.values()))
    dropped = ["+", "~", "|", '"', "x", "[", "]", "!"]
    np.testing.assert_array_equal(to_aami(dropped), [""] * len(dropped))
    assert to_aami([]).shape == (0,)


def test_extract_beats_shapes_labels_and_edges():
    fs = 100.0
    signal = np.vstack([np.arange(1000.0), -np.arange(1000.0)])
    samples = np.array([10, 300, 310, 500, 700, 990])
    symbols = np.array(["N", "+", "V", "A", "F", "N"])
    X, y, pos = extract_beats(signal, fs, samples, symbols, before=0.25, after=0.45)
    # 10 and 990 run off the edges; "+" is not a beat.
    np.testing.assert_array_equal(pos, [310, 500, 700])
    np.testing.assert_array_equal(y, ["V", "S", "F"])
    assert X.shape == (3, 1, 70)
    np.testing.assert_array_equal(X[1, 0], np.arange(475.0, 545.0))
    X2, _, _ = extract_beats(signal, fs, samples, symbols, channel=None)
    assert X2.shape == (3, 2, 70)
    np.testing.assert_array_equal(X2[:, 1], -X2[:, 0])
    X3, _, _ = extract_beats(signal, fs, samples, symbols, channel=1)
    np.testing.assert_array_equal(X3[:, 0], X2[:, 1])
    # A 1-D signal is one channel.
    X4, _, _ = extract_beats(signal[0], fs, samples, symbols)
    np.testing.assert_array_equal(X4, X)
    with pytest.raises(ValueError, match="channel"):
        extract_beats(signal, fs, samples, symbols, channel=2)


def test_extract_beats_target_fs():
    fs = 360.0
    t = np.arange(3600) / fs
    signal = np.sin(2 * np.pi * 1.0 * t)
    X, y, pos = extract_beats(signal, fs, [1800], ["N"], before=0.25, after=0.45, target_fs=180.0)
    assert X.shape == (1, 1, round(0.25 * 180) + round(0.45 * 180))
    assert pos[0] == 1800  # positions stay at the original rate
    # The resampled window is the sine at half the rate.
    expected = np.sin(2 * np.pi * (np.arange(-45, 81) / 180.0 + 5.0))
    np.testing.assert_allclose(X[0, 0], expected, atol=1e-3)


@needs_wfdb
def test_load_mitdb_beats_shipped():
    X, y, ids, pos = load_mitdb_beats(("100", "233"))
    assert X.ndim == 3 and X.shape[1] == 1 and X.shape[2] == 90 + 162
    assert len(y) == len(ids) == len(pos) == len(X)
    assert set(np.unique(ids)) == {"100", "233"}
    assert set(np.unique(y)) <= set(AAMI_CLASSES)
    rec = load_wfdb_record(shipped_data_dir("mitdb", "100"))
    first = np.flatnonzero(ids == "100")[0]
    p = pos[first]
    np.testing.assert_array_equal(X[first, 0], rec.signal[0, p - 90 : p + 162])
    with pytest.raises(FileNotFoundError, match="Shipped excerpts"):
        load_mitdb_beats(["999"])


def test_inter_patient_split_disjoint_and_shipped():
    assert not set(INTER_PATIENT_TRAIN) & set(INTER_PATIENT_TEST)
    assert set(INTER_PATIENT_TRAIN) | set(INTER_PATIENT_TEST) == set(TEN_RECORDS)
    shipped = {p.stem for p in shipped_data_dir("mitdb").glob("*.hea")}
    assert shipped == set(TEN_RECORDS)


def test_patient_specific_split_logic():
    fs = 360.0
    five_min = 5 * 60 * fs
    ids = np.array(["100"] * 6 + ["101"] * 4 + ["200"] * 4)
    y = np.array(list("NSVNNN") + list("NSVF") + list("NNVN"))
    pos = np.array([0, 10, five_min - 1, five_min, 2 * five_min, 3 * five_min,
                    1, 2, 3, 4, 1, 2, five_min + 1, five_min + 2])
    train, test = patient_specific_split(y, ids, pos, "200", n_common_per_class=1, random_state=0)
    np.testing.assert_array_equal(test, [12, 13])
    # Own first 5 minutes + one beat per class from records 100-124 (not 200).
    assert {10, 11} <= set(train)
    common = sorted(set(train) - {10, 11})
    assert all(ids[i] in ("100", "101") for i in common)
    assert sorted(y[common]) == ["F", "N", "S", "V"]
    with pytest.raises(ValueError, match="no beats after"):
        patient_specific_split(y, ids, pos, "101")
    with pytest.raises(ValueError, match="no beats"):
        patient_specific_split(y, ids, pos, "999")


@needs_wfdb
def test_patient_specific_split_needs_full_records():
    X, y, ids, pos = load_mitdb_beats(("100", "101", "200"))
    with pytest.raises(ValueError, match="find_shared_data"):
        patient_specific_split(y, ids, pos, "200")


@needs_wfdb
@pytest.mark.skipif(SHARED_MITDB is None, reason="team shared MIT-BIH records not present")
def test_patient_specific_split_full_records():
    X, y, ids, pos = load_mitdb_beats(("100", "101", "106", "200"), data_dir=SHARED_MITDB)
    train, test = patient_specific_split(y, ids, pos, "200", random_state=0)
    assert not set(train) & set(test)
    assert np.all(ids[test] == "200") and np.all(pos[test] >= 5 * 60 * 360)
    own_train = train[ids[train] == "200"]
    assert own_train.size > 0 and np.all(pos[own_train] < 5 * 60 * 360)
    counts = {c: np.sum(y[train[ids[train] != "200"]] == c) for c in AAMI_CLASSES}
    assert counts["N"] == 75 and counts["V"] == 75 and counts["S"] == 36  # 33 + 3 A beats

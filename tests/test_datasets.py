"""sk1dcnn.datasets: where data lives (shipped or a full data folder) and the UCR loader."""

import numpy as np
import pytest

from sk1dcnn.datasets import find_shared_data, load_ucr, shipped_data_dir

from _subprocess import run_python

SHARED_UCR = find_shared_data("ucr")


# --------------------------------------------------------------------------- #
# UCR
# --------------------------------------------------------------------------- #
def test_load_ucr_shipped_ecg200():
    X_train, y_train, X_test, y_test = load_ucr("ECG200")
    assert X_train.shape == (100, 96) and X_test.shape == (100, 96)
    assert X_train.dtype == np.float64
    assert y_train.dtype.kind == "i"
    assert set(np.unique(y_train)) == {-1, 1} and set(np.unique(y_test)) == {-1, 1}
    # Class counts documented in sk1dcnn/data/SOURCE.md.
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


@pytest.mark.skipif(SHARED_UCR is None, reason="full data folder not present")
def test_shipped_ucr_files_identical_to_the_full_data_folder():
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
    # Reading a WFDB record without wfdb is tested in tests/ecg/test_records.py.
    code = (
        "import sys; sys.modules['wfdb'] = None\n"
        "import sk1dcnn.datasets as d\n"
        "print(d.load_ucr('ECG200')[0].shape)\n"
    )
    assert "(100, 96)" in run_python(code)


def test_shipped_data_dir():
    assert shipped_data_dir("mitdb", "100.hea").is_file()
    assert shipped_data_dir("ucr").is_dir()

"""sk1dcnn.ecg.splits: inter-patient and patient-specific splits of the MIT-BIH records."""

import importlib.util

import numpy as np
import pytest

from sk1dcnn.datasets import find_shared_data, shipped_data_dir
from sk1dcnn.ecg.beats import load_mitdb_beats
from sk1dcnn.ecg.labels import AAMI_CLASSES
from sk1dcnn.ecg.splits import INTER_PATIENT_TEST, INTER_PATIENT_TRAIN, patient_specific_split

SHARED_MITDB = find_shared_data("mitdb")
needs_wfdb = pytest.mark.skipif(
    importlib.util.find_spec("wfdb") is None, reason="wfdb not installed (pip install sk1dcnn[ecg])"
)
TEN_RECORDS = ("100", "101", "106", "118", "119", "200", "208", "209", "232", "233")


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
@pytest.mark.skipif(SHARED_MITDB is None, reason="full MIT-BIH records not present")
def test_patient_specific_split_full_records():
    X, y, ids, pos = load_mitdb_beats(("100", "101", "106", "200"), data_dir=SHARED_MITDB)
    train, test = patient_specific_split(y, ids, pos, "200", random_state=0)
    assert not set(train) & set(test)
    assert np.all(ids[test] == "200") and np.all(pos[test] >= 5 * 60 * 360)
    own_train = train[ids[train] == "200"]
    assert own_train.size > 0 and np.all(pos[own_train] < 5 * 60 * 360)
    counts = {c: np.sum(y[train[ids[train] != "200"]] == c) for c in AAMI_CLASSES}
    assert counts["N"] == 75 and counts["V"] == 75 and counts["S"] == 36  # 33 + 3 A beats

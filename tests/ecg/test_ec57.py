"""sk1dcnn.ecg.ec57: EC57 statistics against a hand-built confusion matrix."""

import math
import re

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from sk1dcnn.ecg.ec57 import EC57_CLASSES, ec57_counts, ec57_report
from sk1dcnn.ecg.labels import AAMI_CLASSES

# Rows: reference N S V F Q; columns: predicted N S V F Q.
CM = np.array([
    [50, 4, 3, 2, 1],
    [5, 10, 1, 0, 0],
    [2, 1, 20, 1, 0],
    [1, 1, 3, 4, 0],
    [1, 2, 2, 0, 1],
])

# Worked out by hand from CM with the EC57 rules (module docstring):
# V: TP Vv=20; FN 2+1+1+0=4; FP Nv+Sv=3+1=4 (Fv=3 and Qv=2 not counted);
#    TN (60-3)+(16-1)+(9-3)+(6-2)=82.
# S: TP 10; FN 5+1=6; FP Ns+Vs+Fs=4+1+1=6 (Qs=2 not counted); TN 56+23+8+4=91.
# N: TP 50; FN 4+3+2+1=10; FP Sn+Vn+Fn=5+2+1=8 (Qn=1 not counted); TN 11+22+8+5=46.
# F: TP 4; FN 1+1+3=5; FP Nf+Sf+Vf=2+0+1=3; TN 58+16+23+6=103.
HAND = {
    "N": (50, 10, 8, 46),
    "S": (10, 6, 6, 91),
    "V": (20, 4, 4, 82),
    "F": (4, 5, 3, 103),
}


def _labels_from(cm, rng):
    y_true, y_pred = [], []
    for i, r in enumerate(AAMI_CLASSES):
        for j, p in enumerate(AAMI_CLASSES):
            y_true += [r] * cm[i, j]
            y_pred += [p] * cm[i, j]
    order = rng.permutation(len(y_true))
    return np.array(y_true)[order], np.array(y_pred)[order]


def test_counts_and_statistics_match_the_hand_built_matrix():
    y_true, y_pred = _labels_from(CM, np.random.default_rng(0))
    rep = ec57_report(y_true, y_pred)
    np.testing.assert_array_equal(rep.confusion, CM)
    np.testing.assert_array_equal(rep.confusion, confusion_matrix(y_true, y_pred, labels=list(AAMI_CLASSES)))
    for cls, (tp, fn, fp, tn) in HAND.items():
        g = rep.gross[cls]
        assert (g["TP"], g["FN"], g["FP"], g["TN"]) == (tp, fn, fp, tn)
        assert ec57_counts(CM, cls) == {"TP": tp, "FN": fn, "FP": fp, "TN": tn}
        assert g["Se"] == tp / (tp + fn)
        assert g["+P"] == tp / (tp + fp)
        assert g["FPR"] == fp / (fp + tn)
        assert g["Sp"] == 1 - fp / (fp + tn)
        assert g["Acc"] == (tp + tn) / (tp + tn + fp + fn)
    # Two figures spelled out: VEB +P 20/24 (F and Q beats labelled V are not false positives),
    # SVEB FPR 6/97.
    assert rep.gross["V"]["+P"] == pytest.approx(0.8333333333333334)
    assert rep.gross["S"]["FPR"] == pytest.approx(0.061855670103092786)


def test_per_record_tables_add_up_to_the_gross_counts():
    rng = np.random.default_rng(1)
    y_true, y_pred = _labels_from(CM, rng)
    groups = rng.choice(["100", "200", "233"], size=len(y_true))
    rep = ec57_report(y_true, y_pred, groups=groups)
    assert list(rep.per_record) == ["100", "200", "233"]
    np.testing.assert_array_equal(sum(v["confusion"] for v in rep.per_record.values()), CM)
    for rec, v in rep.per_record.items():
        m = groups == rec
        alone = ec57_report(y_true[m], y_pred[m])
        np.testing.assert_array_equal(v["confusion"], alone.confusion)
        assert v["n_beats"] == m.sum()
        for cls in EC57_CLASSES:
            for key in ("TP", "FN", "FP", "TN"):
                assert v["stats"][cls][key] == alone.gross[cls][key]
    rows = rep.table()
    assert [r["record"] for r in rows] == ["100", "200", "233", "gross"]
    assert rows[-1]["V_+P"] == rep.gross["V"]["+P"]
    assert rows[-1]["n_beats"] == CM.sum() and rows[-1]["n_Q"] == CM[4].sum()
    csv_text = rep.to_csv()
    assert csv_text.splitlines()[0].startswith("record,n_beats,n_N")
    assert len(csv_text.splitlines()) == 5


def test_undefined_ratios_are_nan_and_left_out_of_metrics():
    # No S or F beat anywhere, nothing predicted F.
    rep = ec57_report(["N", "N", "V"], ["N", "V", "V"])
    assert math.isnan(rep.gross["S"]["Se"]) and math.isnan(rep.gross["S"]["+P"])
    assert rep.gross["S"]["FPR"] == 0.0
    assert rep.gross["V"]["+P"] == 0.5
    m = rep.metrics()
    assert m["ec57_V_PP"] == 0.5 and m["ec57_N_Se"] == 0.5
    assert "ec57_S_Se" not in m and "ec57_F_PP" not in m
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", k) for k in m)
    text = str(rep)
    assert "EC57 gross statistics" in text and "Confusion" in text
    assert rep.per_record == {}


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=re.escape("y_pred has labels that are not AAMI classes")):
        ec57_report(["N"], ["X"])
    with pytest.raises(ValueError, match="differ in length"):
        ec57_report(["N", "S"], ["N"])
    with pytest.raises(ValueError, match=re.escape("groups has shape (1,), expected (2,)")):
        ec57_report(["N", "S"], ["N", "S"], groups=["100"])
    with pytest.raises(ValueError, match="cls must be one of"):
        ec57_counts(CM, "Q")

"""Beat-classification scores as ANSI/AAMI EC57 reports them: Se, +P, FPR and accuracy for N, S, V, F.

:func:`ec57_report` scores AAMI labels (``"N" "S" "V" "F" "Q"``, see
:mod:`sk1dcnn.ecg.labels`) against the reference, gross (beat counts summed
over records) and record by record, from one confusion matrix.

How the EC57 rules are read here
--------------------------------
EC57 (and ``bxb``, the PhysioNet program that implements its beat-by-beat
comparison) defines VEB and SVEB statistics from the confusion matrix of
reference classes (rows) against algorithm labels (columns):

* **V (VEB):** TP = Vv; FN = V beats given any other label (Vn + Vs + Vf + Vq);
  FP = Nv + Sv. A reference **F** beat or a reference **Q** beat labelled V is
  neither a false nor a true positive: EC57 neither rewards nor penalises the
  classification of fusion (and of unclassifiable) beats as VEB. TN = every
  other N, S, F and Q beat not labelled V.
* **S (SVEB):** TP = Ss; FN = Sn + Sv + Sf + Sq; FP = Ns + Vs + Fs. A reference
  Q beat labelled S is not counted (``bxb``: SFP = Ns + Vs + Fs). TN = every
  other N, V, F and Q beat not labelled S.
* **N and F** are not EC57 statistics, but the papers that follow it (de
  Chazal et al. 2004 and those compared with it) report them; they are
  computed one-against-the-rest with the same rule for **Q: a reference Q
  (unclassifiable) beat is never a false positive** of any class; given
  another label it counts as a true negative of the class.
* A beat the algorithm labels Q (or that it leaves unclassified as Q) is a
  false negative of its reference class.

Se = TP / (TP + FN), +P = TP / (TP + FP), FPR = FP / (FP + TN),
Sp = 1 - FPR, Acc = (TP + TN) / (TP + TN + FP + FN). A ratio with a zero
denominator is NaN (``bxb`` prints ``-``). The gross statistics use the counts
summed over all records; the per-record table uses each record's own counts.
EC57's detection part (beats missed or added by a QRS detector) does not
apply here: every reference beat has exactly one label.
"""

import csv
import io
import math
from dataclasses import dataclass

import numpy as np

from .labels import AAMI_CLASSES

__all__ = ["EC57_CLASSES", "EC57_METRICS", "EC57Report", "ec57_counts", "ec57_report"]

#: The classes EC57-style reports give statistics for (Q is scored as described above).
EC57_CLASSES = ("N", "S", "V", "F")

#: Statistic names in each class's dict, in table order.
EC57_METRICS = ("Se", "+P", "FPR", "Sp", "Acc")

# Short names for MLflow metric keys, which may not contain "+".
_METRIC_KEYS = {"Se": "Se", "+P": "PP", "FPR": "FPR", "Sp": "Sp", "Acc": "Acc"}


def _check_labels(name, y):
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {y.shape}")
    y = y.astype(str)
    bad = sorted(set(np.unique(y)) - set(AAMI_CLASSES))
    if bad:
        raise ValueError(
            f"{name} has labels that are not AAMI classes {AAMI_CLASSES}: {bad[:10]}; "
            "map MIT-BIH symbols with sk1dcnn.ecg.to_aami"
        )
    return y


def _confusion(y_true, y_pred):
    index = {c: i for i, c in enumerate(AAMI_CLASSES)}
    rows = np.array([index[c] for c in y_true], dtype=np.intp)
    cols = np.array([index[c] for c in y_pred], dtype=np.intp)
    k = len(AAMI_CLASSES)
    return np.bincount(rows * k + cols, minlength=k * k).reshape(k, k).astype(np.int64)


def _ratio(a, b):
    return a / b if b > 0 else math.nan


def ec57_counts(confusion, cls):
    """TP, FN, FP and TN of one class from a 5 x 5 AAMI confusion matrix, by the EC57 rules.

    Parameters
    ----------
    confusion : array-like of shape (5, 5)
        Counts; rows are reference classes and columns predicted classes, both
        in :data:`sk1dcnn.ecg.labels.AAMI_CLASSES` order (N, S, V, F, Q).
    cls : {"N", "S", "V", "F"}
        The class.

    Returns
    -------
    counts : dict
        ``{"TP": int, "FN": int, "FP": int, "TN": int}`` (see the module
        docstring for which cells are left out).
    """
    cm = np.asarray(confusion, dtype=np.int64)
    if cm.shape != (5, 5):
        raise ValueError(f"confusion must have shape (5, 5), got {cm.shape}")
    if cls not in EC57_CLASSES:
        raise ValueError(f"cls must be one of {EC57_CLASSES}, got {cls!r}")
    c = AAMI_CLASSES.index(cls)
    q = AAMI_CLASSES.index("Q")
    # Reference beats whose label `cls` is neither rewarded nor penalised.
    ignored = {q}
    if cls == "V":
        ignored.add(AAMI_CLASSES.index("F"))
    tp = int(cm[c, c])
    fn = int(cm[c].sum() - tp)
    others = [r for r in range(5) if r != c]
    fp = int(sum(cm[r, c] for r in others if r not in ignored))
    tn = int(sum(cm[r].sum() - cm[r, c] for r in others))
    return {"TP": tp, "FN": fn, "FP": fp, "TN": tn}


def _stats(cm):
    out = {}
    for cls in EC57_CLASSES:
        n = ec57_counts(cm, cls)
        tp, fn, fp, tn = n["TP"], n["FN"], n["FP"], n["TN"]
        fpr = _ratio(fp, fp + tn)
        out[cls] = {
            "Se": _ratio(tp, tp + fn),
            "+P": _ratio(tp, tp + fp),
            "FPR": fpr,
            "Sp": 1.0 - fpr,
            "Acc": _ratio(tp + tn, tp + tn + fp + fn),
            **n,
        }
    return out


@dataclass(frozen=True)
class EC57Report:
    """The result of :func:`ec57_report`.

    Attributes
    ----------
    confusion : ndarray of shape (5, 5)
        Gross confusion matrix: rows are reference classes, columns predicted
        classes, both in the order of :attr:`labels` (N, S, V, F, Q).
    gross : dict
        ``{cls: {"Se", "+P", "FPR", "Sp", "Acc", "TP", "FN", "FP", "TN"}}``
        for cls in N, S, V, F, from the counts summed over all beats.
    per_record : dict
        ``{record: {"n_beats": int, "confusion": ndarray, "stats": {...}}}``
        with ``stats`` as in ``gross``, in sorted record order; empty when
        ``groups`` was not given.
    labels : tuple of str
        Row/column order of the confusion matrices.
    """

    confusion: np.ndarray
    gross: dict
    per_record: dict
    labels: tuple = AAMI_CLASSES

    def metrics(self, prefix="ec57_"):
        """Gross statistics as a flat dict of floats, e.g. for ``mlflow.log_metrics``.

        Keys are ``f"{prefix}{cls}_{name}"`` with name in Se, PP (+P), FPR,
        Sp, Acc; NaN values (no beat to score) are left out.
        """
        out = {}
        for cls, stats in self.gross.items():
            for name in EC57_METRICS:
                value = stats[name]
                if not math.isnan(value):
                    out[f"{prefix}{cls}_{_METRIC_KEYS[name]}"] = float(value)
        return out

    def table(self):
        """The per-record table and a final ``"gross"`` row, as a list of dicts.

        Each row has ``record``, ``n_beats``, the reference counts of N, S, V,
        F, Q (``n_N`` ...) and ``{cls}_{stat}`` for cls in N, S, V, F and stat
        in Se, +P, FPR, Sp, Acc.
        """
        def row(name, cm, stats):
            r = {"record": name, "n_beats": int(cm.sum())}
            r.update({f"n_{c}": int(cm[i].sum()) for i, c in enumerate(self.labels)})
            for cls in EC57_CLASSES:
                r.update({f"{cls}_{m}": stats[cls][m] for m in EC57_METRICS})
            return r

        rows = [row(rec, v["confusion"], v["stats"]) for rec, v in self.per_record.items()]
        rows.append(row("gross", self.confusion, self.gross))
        return rows

    def to_csv(self):
        """:meth:`table` as CSV text (NaN written as an empty cell)."""
        rows = self.table()
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()})
        return buf.getvalue()

    def __str__(self):
        lines = ["EC57 gross statistics (%)", "      " + "".join(f"{m:>8}" for m in EC57_METRICS)]
        for cls in EC57_CLASSES:
            cells = "".join(
                f"{'-':>8}" if math.isnan(v) else f"{100 * v:8.2f}"
                for v in (self.gross[cls][m] for m in EC57_METRICS)
            )
            lines.append(f"  {cls:<4}{cells}")
        lines.append("Confusion (rows: reference, columns: predicted)")
        lines.append("      " + "".join(f"{c:>8}" for c in self.labels))
        for c, counts in zip(self.labels, self.confusion):
            lines.append(f"  {c:<4}" + "".join(f"{int(v):8d}" for v in counts))
        return "\n".join(lines)


def ec57_report(y_true, y_pred, groups=None):
    """Score AAMI beat labels the ANSI/AAMI EC57 way: Se, +P, FPR, Sp and accuracy for N, S, V, F.

    Parameters
    ----------
    y_true : array-like of shape (n_beats,)
        Reference AAMI classes (``"N" "S" "V" "F" "Q"``).
    y_pred : array-like of shape (n_beats,)
        Predicted AAMI classes (a model that never predicts Q is fine).
    groups : array-like of shape (n_beats,), default=None
        Record of each beat, for the per-record table (e.g. the
        ``record_ids`` of :func:`sk1dcnn.ecg.load_mitdb_beats`).

    Returns
    -------
    report : EC57Report
        ``.gross`` (beats summed over records), ``.per_record``,
        ``.confusion`` (5 x 5), plus ``.metrics()`` for MLflow,
        ``.table()`` / ``.to_csv()`` for a table artifact and ``str(report)``.

    Notes
    -----
    Q beats in the reference are never false positives; a reference F beat
    labelled V is not counted for V; see :mod:`sk1dcnn.ecg.ec57` for the full
    reading of EC57.

    Examples
    --------
    >>> from sk1dcnn.ecg import ec57_report
    >>> r = ec57_report(["N", "N", "S", "V", "F"], ["N", "S", "S", "V", "V"])
    >>> r.gross["S"]["Se"], r.gross["S"]["+P"], r.gross["V"]["+P"]
    (1.0, 0.5, 1.0)
    """
    y_true = _check_labels("y_true", y_true)
    y_pred = _check_labels("y_pred", y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y_true.shape[0]} vs {y_pred.shape[0]}")
    cm = _confusion(y_true, y_pred)
    per_record = {}
    if groups is not None:
        groups = np.asarray(groups).astype(str)
        if groups.shape != y_true.shape:
            raise ValueError(f"groups has shape {groups.shape}, expected {y_true.shape}")
        for rec in np.unique(groups):
            m = groups == rec
            rcm = _confusion(y_true[m], y_pred[m])
            per_record[str(rec)] = {"n_beats": int(m.sum()), "confusion": rcm, "stats": _stats(rcm)}
    return EC57Report(confusion=cm, gross=_stats(cm), per_record=per_record)

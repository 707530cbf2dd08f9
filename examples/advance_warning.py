"""Personalized advance warning on one shipped record, from the library's pieces.

A person treated as having no recorded abnormal beat: their first 2.5 minutes
of normal (N) beats (the abnormal beats of those minutes are left out, using the
reference labels, as the protocol does), plus S and V beats *synthesized* from
them by degradation filters learnt on other people's records
(``DegradationBank``), train a small personal ``CNN1DClassifier``. An
``AdaptiveTemplateDetector`` follows the person's normal beats (a moving
template, a moving local RR interval). The rest of the record is then watched
beat by beat; a beat raises the warning when the CNN is sure it is abnormal and
it is off the template, or when it is far off the template, or premature
against the recent rhythm. This is the simplest form of the system: one network
that does not learn while it monitors (the workflows average three that do).

    python examples/advance_warning.py          # ~3 s

The full protocol (40 MIT-BIH records, 3 seeds, the CNNs that keep learning
while they monitor) is ``python -m pipelines ecg --dataset mitdb:advance_warning
--data-dir shared``; one record with its own R-peak detection is
``python -m pipelines ecg-monitor --record sk1dcnn/data/mitdb/233 --personal 2.5``.
Research software, not a medical device.
"""

import warnings

import numpy as np
from scipy.signal import resample_poly
from sklearn.exceptions import ConvergenceWarning

from sk1dcnn import CNN1DClassifier, join_static
from sk1dcnn.ecg import AdaptiveTemplateDetector, DegradationBank, load_mitdb_beats

FS = 360.0
PERSON, MINUTES = "233", 2.5

X, y, rec, pos, rr = load_mitdb_beats(rr_features=True)         # the ten shipped 5-minute excerpts
X = X[:, 0, :] - np.median(X[:, 0, :], axis=1, keepdims=True)   # each beat's baseline out
X = resample_poly(X, 1, 2, axis=1)                               # 360 -> 180 Hz: 126 samples per beat
train = (rec == PERSON) & (pos < MINUTES * 60 * FS) & (y == "N")  # their first minutes, N beats only
test = (rec == PERSON) & (pos >= MINUTES * 60 * FS)
others = rec != PERSON                                           # the bank never sees the person

bank = DegradationBank(rr_features=True, random_state=0)      # 63-tap filters, as the protocol
bank.fit(join_static(X[others], rr[others]), y[others], groups=rec[others])
X_syn, y_syn = bank.synthesize(join_static(X[train], rr[train]), random_state=0)
print(f"person {PERSON}: {train.sum()} normal training beats + {len(y_syn)} synthetic S/V beats "
      f"from {len(bank.records_)} other records")

scale = X[train].std()                                           # the person's own amplitude
X_fit = np.vstack([join_static(X[train], rr[train]), X_syn])
X_fit[:, :X.shape[1]] /= scale
y_fit = np.concatenate([np.full(train.sum(), "N"), y_syn])
clf = CNN1DClassifier(filters=(8, 16), kernel_size=7, hidden_layer_sizes=(32,), max_iter=25,
                      learning_rate_init=0.003, class_weight="balanced", n_static_features=7,
                      random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)          # a fixed, small budget on purpose
    clf.fit(X_fit, y_fit)

detector = AdaptiveTemplateDetector().fit(X[train], rr[train, 0])
dist, prem = detector.score_stream(X[test], rr[test, 0])         # in time order: the template moves on
proba = clf.predict_proba(join_static(X[test] / scale, rr[test]))
p_abnormal = 1 - proba[:, list(clf.classes_).index("N")]
warn = ((p_abnormal > 0.9) & (dist > 0.3)) | (dist > 2.0) | (prem > 1.06)

truth, t = y[test], pos[test] / FS
print(f"monitored {len(truth)} beats (minutes {MINUTES:g}-5), {warn.sum()} warnings")
for c in ("S", "V"):
    idx = np.flatnonzero(truth == c)
    if len(idx):
        m, s = divmod(t[idx[0]], 60)
        print(f"  first {c} beat after minute {MINUTES:g}, at {int(m):02d}:{s:04.1f}: "
              "warned within its first three: "
              f"{'yes' if warn[idx[:3]].any() else 'no'} ({warn[idx].sum()} of {len(idx)} {c} beats warned)")
normal = truth == "N"
print(f"  false alarms: {warn[normal].sum()} of {normal.sum()} N beats ({100 * warn[normal].mean():.1f}%)")

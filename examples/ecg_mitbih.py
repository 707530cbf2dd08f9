"""Arrhythmia classification on MIT-BIH beats, inter-patient split.

Beats are cut around each annotated R peak (0.25 s before, 0.45 s after, at
360 Hz), labelled with the AAMI classes (N normal, S supraventricular ectopic,
V ventricular ectopic, F fusion, Q unknown), and split by patient: training
records 101 106 118 119 208 209, test records 100 200 232 233, so no patient
is in both. The 5-minute excerpts shipped with sk1dcnn are used; pass
``data_dir=find_shared_data("mitdb")`` (or your own copy of the database) to
load_mitdb_beats for the full 30-minute records.

    python examples/ecg_mitbih.py          # ~1 min on 2 cores

For the tracked, grid-searched version: python -m pipelines ecg --quick
"""

from sklearn.metrics import classification_report, precision_recall_fscore_support
from sklearn.pipeline import make_pipeline

from sk1dcnn import CNN1DClassifier
from sk1dcnn.ecg import INTER_PATIENT_TEST, INTER_PATIENT_TRAIN, load_mitdb_beats
from sk1dcnn.preprocessing import BandpassFilter, Resampler, SeriesStandardScaler

X_train, y_train, _, _ = load_mitdb_beats(INTER_PATIENT_TRAIN)  # X: (n_beats, 1, 252)
X_test, y_test, _, _ = load_mitdb_beats(INTER_PATIENT_TEST)
print(f"train {X_train.shape}, test {X_test.shape}")

model = make_pipeline(
    BandpassFilter(low=0.5, high=40.0, fs=360.0),  # baseline wander and high-frequency noise
    Resampler(orig_fs=360.0, target_fs=180.0),     # 252 -> 126 samples per beat
    SeriesStandardScaler(),                        # each beat z-normalised on its own
    CNN1DClassifier(filters=(16, 32, 64), kernel_size=7, hidden_layer_sizes=(64,), dropout=0.2,
                    batch_size=64, max_iter=30, early_stopping=True, n_iter_no_change=10,
                    class_weight="balanced",       # N beats are ~80% of the data
                    random_state=0),
)
model.fit(X_train, y_train)
y_pred = model.predict(X_test)

# Sensitivity (Se, recall) and positive predictivity (PPV, precision) per class,
# as arrhythmia papers report them.
labels = ["N", "S", "V"]
ppv, se, _, n = precision_recall_fscore_support(y_test, y_pred, labels=labels, zero_division=0)
print(f"{'class':>5} {'n':>5} {'Se':>6} {'PPV':>6}")
for c, s, p, k in zip(labels, se, ppv, n):
    print(f"{c:>5} {k:>5} {s:6.3f} {p:6.3f}")
print(classification_report(y_test, y_pred, zero_division=0))

"""Arrhythmia classification on MIT-BIH beats, inter-patient, with RR-interval features.

Each beat is 0.7 s of lead MLII around its R peak (0.25 s before, 0.45 s after,
at 360 Hz), labelled with the AAMI classes (N normal, S supraventricular
ectopic, V ventricular ectopic, F fusion, Q unknown). Seven RR-interval
features travel with it as the last columns of X (``sk1dcnn.join_static``):
S beats look like N beats and differ mainly in timing. The CNN convolves the
signal and joins the features before its dense head (``n_static_features=7``);
the preprocessing applies to the signal columns only (a ColumnTransformer).

Training records 101 106 118 119 208 209, test records 100 200 232 233: no
patient in both (de Chazal's DS1 and DS2 records among the ten shipped
excerpts). The 5-minute excerpts shipped with sk1dcnn are used; pass
``data_dir=find_shared_data("mitdb")`` (or your own copy of the database) with
``DE_CHAZAL_DS1`` / ``DE_CHAZAL_DS2`` for the full protocol.

    python examples/ecg_mitbih.py          # ~6 s of CPU time (EC57: N Se 98.8 +P 82.4, V Se 93.2 +P 93.9)

For the tracked, grid-searched version: python -m pipelines ecg --quick
"""

from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline

from sk1dcnn import CNN1DClassifier, join_static
from sk1dcnn.ecg import INTER_PATIENT_TEST, INTER_PATIENT_TRAIN, ec57_report, load_mitdb_beats
from sk1dcnn.preprocessing import BandpassFilter, Resampler, SeriesStandardScaler


def load(records):
    X, y, rec, _, rr = load_mitdb_beats(records, rr_features=True)   # X: (n_beats, 1, 252), rr: (n, 7)
    return join_static(X[:, 0, :], rr), y, rec                      # (n_beats, 252 + 7)


X_train, y_train, _ = load(INTER_PATIENT_TRAIN)
X_test, y_test, rec_test = load(INTER_PATIENT_TEST)
# Q (4 beats) and F are left out of training: the excerpts' 71 F beats all come from record 208,
# and a model that learns F from one patient calls other patients' N beats F.
keep = (y_train == "N") | (y_train == "S") | (y_train == "V")
X_train, y_train = X_train[keep], y_train[keep]
print(f"train {X_train.shape}, test {X_test.shape}")

signal = make_pipeline(
    BandpassFilter(low=0.5, high=40.0, fs=360.0),  # baseline wander and high-frequency noise
    Resampler(orig_fs=360.0, target_fs=180.0),     # 252 -> 126 samples per beat
    SeriesStandardScaler(),                        # each beat z-normalised on its own
)
model = make_pipeline(
    ColumnTransformer([("signal", signal, list(range(252))),              # the beat
                       ("rr", "passthrough", list(range(252, 259)))]),   # its RR features, as they are
    CNN1DClassifier(filters=(8, 16, 32), kernel_size=7, global_pool="avg", hidden_layer_sizes=(32,),
                    dropout=0.2, batch_size=32, learning_rate_init=0.003, max_iter=20,
                    class_weight="balanced",                            # N beats are ~80% of the data
                    n_static_features=7, random_state=0),
)
model.fit(X_train, y_train)
y_pred = model.predict(X_test)

# ANSI/AAMI EC57 statistics: sensitivity (Se), positive predictivity (+P), ...
report = ec57_report(y_test, y_pred, groups=rec_test)
print(report)
print("S beats: only 21 in these training excerpts, 214 of the test ones in record 232;"
      " V and N are the figures to read here.")

"""The ECG workflow: data -> Pipeline(preprocessing -> CNN1DClassifier) ->
GridSearchCV -> refit -> held-out evaluation, tracked in MLflow.

Two steps, kept apart so that the first can be used and tested without MLflow:

* :func:`fit_and_evaluate` (config, data) -> :class:`ECGResult` (or
  :class:`PatientResult` for ``mitdb:patient_specific``): search, refit and
  evaluate; pure computing, no MLflow and no files.
* :func:`log_result` (result, config, tracking): every MLflow call, through
  :mod:`pipelines._tracking` (the only module that imports MLflow).

:func:`run` does both for ``python -m pipelines ecg`` and prints the tables.
"""

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._fitting import cnn_step, evaluate, first_pipeline, fit_clone, grid_search
from ._report import Logged
from .config import ConfigError, preprocessing_step

__all__ = ["DE_CHAZAL_2004", "FULL_PROTOCOL", "KIRANYAZ_2016", "RECORDS_200", "ECGData", "ECGResult",
           "InnerSelection", "Logged", "PatientResult", "build_pipeline", "detection_stats", "ec57_f1_sv",
           "ec57_gross", "ec57_metrics", "ec57_table", "fit_and_evaluate", "inner_minutes_offsets",
           "inner_minutes_split", "load_data", "log_result", "make_cv", "model_metadata", "offsets_line",
           "pipeline_grid", "pooled_score", "refit_model", "run", "save_model_file", "select_inner_minutes",
           "summary_text", "write_ec57_artifacts"]

_AAMI_ORDER = ("N", "S", "V", "F", "Q")
_NORMAL = "N"
#: pre-RR, post-RR, local and running average RR, and three ratios (sk1dcnn.ecg.rr)
N_RR_FEATURES = 7
N_TEMPLATE_FEATURES = 3


@dataclass
class ECGData:
    """Train/test arrays of one data set plus what is needed to describe it."""

    name: str
    kind: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    groups_train: np.ndarray = None
    groups_test: np.ndarray = None
    fs: float = None
    info: dict = field(default_factory=dict)

    @property
    def labels(self):
        """Class labels in reporting order (AAMI order for MIT-BIH)."""
        present = set(np.unique(self.y_train).tolist()) | set(np.unique(self.y_test).tolist())
        if self.kind == "mitdb":
            return [c for c in _AAMI_ORDER if c in present]
        return sorted(present)


def load_data(ds, random_state=0):
    """Load the data set described by a validated ``ecg: data:`` config section.

    MIT-BIH beats are 2-D: ``(n_beats, n_timepoints)`` of one lead (picked by
    name, ``data.lead``), with the 7 RR-interval features of
    :func:`sk1dcnn.ecg.rr_features` joined as the last columns when
    ``data.rr_features`` is true, then the 3 of
    :func:`sk1dcnn.ecg.template_features` when ``data.template_features`` is
    true (:func:`sk1dcnn.join_static`).

    * ``mitdb:de_chazal``: DS1 -> DS2 (de Chazal et al. 2004), 22 + 22 records,
      the paced records in neither.
    * ``mitdb:inter_patient``: the same split restricted to the ten records
      shipped with sk1dcnn (train 101 106 118 119 208 209, test 100 200 232 233).
    * ``mitdb:patient_specific``: every beat of the records read
      (``X_train``/``y_train``, record in ``groups_train``) and, in
      ``info["splits"]``, the ``(train_idx, test_idx)`` of each patient;
      ``X_test``/``y_test`` are the test beats of all patients together.

    The ``data.classes`` filter applies to the training beats only: the test
    beats keep every AAMI class, and EC57 scoring (:func:`sk1dcnn.ecg.ec57_report`)
    treats Q beats as EC57 says.
    """
    from sk1dcnn import datasets

    if ds["kind"] == "mitdb" and ds["sub"] == "patient_specific":
        return _load_patient_specific(ds, random_state)
    if ds["kind"] == "ucr":
        X_tr, y_tr, X_te, y_te = datasets.load_ucr(ds["sub"], data_home=ds["data_dir"])
        where = ds["data_dir"] or "shipped or $SK1DCNN_DATA"
        return ECGData(ds["name"], "ucr", X_tr, y_tr, X_te, y_te,
                       info={"source": where, "n_timepoints": X_tr.shape[-1]})
    import sk1dcnn.ecg as mitdb

    train, test = {"inter_patient": (mitdb.INTER_PATIENT_TRAIN, mitdb.INTER_PATIENT_TEST),
                   "de_chazal": (mitdb.DE_CHAZAL_DS1, mitdb.DE_CHAZAL_DS2)}[ds["sub"]]
    folder = _mitdb_folder(ds, train + test)
    X_tr, y_tr, g_tr, _ = _subsample_normal(ds, random_state, *_keep_classes(ds, *_load_mitdb(train, folder, ds)))
    X_te, y_te, g_te, _ = _load_mitdb(test, folder, ds)
    return ECGData(ds["name"], "mitdb", X_tr, y_tr, X_te, y_te, g_tr, g_te, fs=mitdb.MITDB_FS,
                   info={"source": _source(ds, folder), "train_records": " ".join(train),
                         "test_records": " ".join(test), "n_timepoints": X_tr.shape[-1] - _n_static(ds),
                         "n_static_features": _n_static(ds), **_classes_info(ds)})


def _n_static(ds):
    return (N_RR_FEATURES if ds.get("rr_features") else 0) + (
        N_TEMPLATE_FEATURES if ds.get("template_features") else 0)


def static_feature_names(ds):
    """Names of the static columns a ``data:`` section joins to each beat, in order."""
    from sk1dcnn.ecg import RR_FEATURE_NAMES, TEMPLATE_FEATURE_NAMES

    return ((RR_FEATURE_NAMES if ds.get("rr_features") else ())
            + (TEMPLATE_FEATURE_NAMES if ds.get("template_features") else ()))


def _static_kind(ds):
    """The static features' name in a saved model's metadata: 'none', 'rr', 'template' or 'rr+template'."""
    parts = [name for name, key in (("rr", "rr_features"), ("template", "template_features")) if ds.get(key)]
    return "+".join(parts) or "none"


def _source(ds, folder):
    if ds["data_dir"] is None:
        return f"{folder} (5-minute excerpts)"
    return str(folder)


def _mitdb_folder(ds, records):
    """The folder of the records; a clear error when the shipped excerpts lack some."""
    from sk1dcnn import datasets

    if ds["data_dir"] is not None:  # a folder: the loader names the first missing record
        return Path(ds["data_dir"])
    folder = datasets.shipped_data_dir("mitdb")
    available = {p.stem for p in folder.glob("*.hea")}
    missing = sorted(r for r in records if r not in available)
    if missing:
        where = "the ten 5-minute excerpts shipped with sk1dcnn"
        raise ConfigError(
            f"ecg.data.data_dir: {ds['name']} needs MIT-BIH record(s) {' '.join(missing)}, which are not "
            f"in {where}; allowed: 'shared' (--data-dir shared: the full records in $SK1DCNN_DATA/mitdb), "
            "a folder with the full MIT-BIH database, or --dataset mitdb:inter_patient (the shipped "
            "records only)")
    return folder


def _load_mitdb(records, folder, ds):
    """Beats of several records: X (n, T[+7][+3]) of one lead [+ RR] [+ template features], y, record, position.

    :func:`sk1dcnn.ecg.load_mitdb_beats` cuts the beats (the lead by name, e.g.
    MLII, also in record 114 whose leads are swapped) and computes the RR features
    from every annotated beat of each record; the template features
    (:func:`sk1dcnn.ecg.template_features`) come from every beat window of the
    record, in time order, before any class is dropped. They are joined as the
    last columns.
    """
    from sk1dcnn import join_static
    from sk1dcnn.ecg import MITDB_FS, load_mitdb_beats, template_features

    rr = bool(ds.get("rr_features"))
    lead = ds.get("lead")
    out = load_mitdb_beats(records, folder, before=ds["before"], after=ds["after"], lead=lead or "MLII",
                           channel=None if lead else int(ds["channel"]), rr_features=rr)
    X, static = out[0][:, 0, :], [out[4]] if rr else []
    if ds.get("template_features"):
        tf = np.empty((len(X), N_TEMPLATE_FEATURES))
        for rec in dict.fromkeys(out[2].tolist()):  # each record's beats, in time order
            idx = np.flatnonzero(out[2] == rec)
            idx = idx[np.argsort(out[3][idx], kind="stable")]
            tf[idx] = template_features(X[idx], MITDB_FS, int(round(ds["before"] * MITDB_FS)))
        static.append(tf)
    if static:
        X = join_static(X, np.hstack(static))
    return X, out[1], out[2], out[3]


def _keep_classes(ds, X, y, *rest):
    """Drop the beats whose AAMI class is not in ``dataset.classes`` (None keeps all)."""
    if ds.get("classes") is None:
        return (X, y, *rest)
    keep = np.isin(y, ds["classes"])
    return (X[keep], y[keep], *(a[keep] for a in rest))


def _classes_info(ds):
    out = {} if ds.get("classes") is None else {"classes_kept": " ".join(ds["classes"])}
    if ds.get("subsample_normal") is not None:
        out["subsample_normal"] = float(ds["subsample_normal"])
    return out


def _subsample_normal(ds, random_state, X, y, groups, *rest):
    """Keep a share ``data.subsample_normal`` of each training record's N beats (all other beats).

    N beats are ~90% of DS1 and alike within a record: a fifth of them trains a
    network nearly as well, five times faster, with milder class weights.
    """
    frac = ds.get("subsample_normal")
    if frac is None or frac >= 1:
        return (X, y, groups, *rest)
    rng = np.random.default_rng(random_state)
    keep = y != _NORMAL
    for rec in np.unique(groups):
        idx = np.flatnonzero((groups == rec) & ~keep)
        keep[rng.choice(idx, size=int(round(frac * idx.size)), replace=False)] = True
    return (X[keep], y[keep], groups[keep], *(a[keep] for a in rest))


def _load_patient_specific(ds, random_state=0):
    """Kiranyaz et al. (2016): per patient, common beats + own first 5 minutes -> the next 25.

    Patients: ``data.records`` or every non-paced record in the folder; the
    common beats come from the non-paced records 100-124 other than the patient.
    """
    import sk1dcnn.ecg as mitdb
    from sk1dcnn import datasets

    folder = datasets.shipped_data_dir("mitdb") if ds["data_dir"] is None else Path(ds["data_dir"])
    if ds["data_dir"] is None and ds["train_minutes"] >= 5:
        raise ConfigError(
            f"ecg.data.data_dir: {ds['name']} trains on the first {ds['train_minutes']:g} minutes of "
            f"each record and tests on the rest, but the 5-minute MIT-BIH excerpts shipped in {folder} "
            "have no test part; allowed: 'shared' (--data-dir shared: the full 30-minute records in "
            "$SK1DCNN_DATA/mitdb), a folder with full MIT-BIH records, or ecg.data.train_minutes below 5 "
            "(e.g. 2.5: a shortened scheme on the excerpts)")
    available = sorted(p.stem for p in folder.glob("*.hea"))
    patients = ds["records"] or [r for r in available if r not in mitdb.PACED_RECORDS]
    missing = [r for r in patients if r not in available]
    if missing:
        raise FileNotFoundError(f"MIT-BIH record(s) {', '.join(missing)} not found in {folder} "
                                f"(found: {', '.join(available) or 'none'})")
    # the paper's common beats come from records 100-124; EC57 leaves the paced ones out
    common = [r for r in available if r.isdigit() and 100 <= int(r) <= 124 and r not in mitdb.PACED_RECORDS]
    records = sorted(set(patients) | set(common))
    X, y, rec, pos = _load_mitdb(records, folder, ds)
    splits = {}
    for patient in patients:
        try:
            tr, te = mitdb.patient_specific_split(
                y, rec, pos, patient, train_minutes=ds["train_minutes"], common_records=common,
                n_common_per_class=ds["n_common_per_class"], random_state=random_state)
        except ValueError as exc:  # a record no longer than the training segment
            raise ConfigError(f"ecg.data.data_dir: {exc}; allowed: a folder with the full "
                              "30-minute MIT-BIH records, or 'shared' (or ecg.data.train_minutes "
                              "below the records' length)") from None
        if ds.get("classes") is not None:  # the training beats only, as for the other splits
            tr = tr[np.isin(y[tr], ds["classes"])]
        splits[patient] = (tr, te)
    test = np.concatenate([te for _, te in splits.values()])
    n_common = {p: int(np.sum(rec[tr] != p)) for p, (tr, _) in splits.items()}
    return ECGData(ds["name"], "mitdb", X, y, X[test], y[test], rec, rec[test], fs=mitdb.MITDB_FS,
                   info={"source": _source(ds, folder), "patients": patients,
                         "common_records": " ".join(common),
                         "splits": splits, "n_common": n_common, "positions": pos,
                         "train_minutes": float(ds["train_minutes"]),
                         "train_records": f"common beats from {' '.join(common)} + own first "
                                          f"{ds['train_minutes']:g} min",
                         "test_records": " ".join(patients), "n_timepoints": X.shape[-1] - _n_static(ds),
                         "n_static_features": _n_static(ds), **_classes_info(ds)})


def _auto_steps(kind, fs):
    if kind == "mitdb":
        return [{"bandpass": {"low": 0.5, "high": 40.0, "fs": fs}},
                {"resample": {"orig_fs": fs, "target_fs": fs / 2}},
                {"standardize": {}}]
    return [{"standardize": {}}]


def build_pipeline(cfg, data):
    """``Pipeline([*preprocessing, ("cnn", CNN1DClassifier(**model))])`` from a config.

    With static features (RR intervals, ``data.info["n_static_features"]`` = k > 0)
    the preprocessing applies to the signal columns only::

        Pipeline([("features", ColumnTransformer([("signal", Pipeline(preprocessing), <signal columns>),
                                                  ("static", "passthrough", <last k columns>)])),
                  ("cnn", CNN1DClassifier(n_static_features=k, **model))])

    and a grid key ``<step>__<param>`` is ``features__signal__<step>__<param>``
    (:func:`pipeline_grid`).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    from sk1dcnn import CNN1DClassifier

    steps_cfg = cfg["preprocessing"]
    if steps_cfg == "auto":
        steps_cfg = _auto_steps(data.kind, data.fs)
    steps = [(name, preprocessing_step(name, params)) for item in steps_cfg
             for name, params in item.items()]
    model = {"random_state": cfg["random_state"], **cfg["model"]}
    k = int(data.info.get("n_static_features", 0))
    if k:
        if "n_static_features" not in CNN1DClassifier().get_params():
            key = "rr_features" if cfg["data"].get("rr_features") else "template_features"
            raise ConfigError(f"{cfg['source']}: ecg.data.{key}: this sk1dcnn's CNN1DClassifier "
                              "has no n_static_features; allowed: false")
        n_signal = int(data.info["n_timepoints"])
        signal = Pipeline(steps) if steps else "passthrough"
        features = ColumnTransformer([("signal", signal, list(range(n_signal))),
                                      ("static", "passthrough", list(range(n_signal, n_signal + k)))])
        pipe = Pipeline([("features", features), ("cnn", CNN1DClassifier(n_static_features=k, **model))])
    else:
        pipe = Pipeline([*steps, ("cnn", CNN1DClassifier(**model))])
    known = pipe.get_params()
    for key in pipeline_grid(cfg, data):
        if key not in known:
            allowed = ", ".join(k for k in known if "__" in k)
            raise ConfigError(f"{cfg['source']}: ecg.search.grid.{key}: not a parameter of the pipeline "
                              f"{[n for n, _ in pipe.steps]}; allowed: {allowed}")
    return pipe


def pipeline_grid(cfg, data):
    """The configured grid in the pipeline's parameter names (see :func:`build_pipeline`)."""
    grid = cfg["search"]["grid"]
    if not data.info.get("n_static_features"):
        return grid
    return {key if key.startswith("cnn__") else f"features__signal__{key}": values
            for key, values in grid.items()}


#: The MIT-BIH scorings: the mean F1 of these classes.
_F1_LABELS = {"f1_sv": ["S", "V"], "f1_nsv": ["N", "S", "V"]}


def _f1_sv(y_true, y_pred, sample_weight=None):
    """The mean F1 of the S and V classes (each one against the rest)."""
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, labels=["S", "V"], average="macro", zero_division=0,
                          sample_weight=sample_weight))


def ec57_f1_sv(y_true, y_pred):
    """The mean F1 of SVEB and VEB from EC57 gross counts: the figures the papers report, in one number.

    F1 = 2 TP / (2 TP + FN + FP) = the harmonic mean of Se and +P, with TP, FN
    and FP counted as EC57 does (:func:`sk1dcnn.ecg.ec57_counts`: a reference F
    or Q beat called V, and a Q beat called S, is no false positive); 0 for a
    class with no beat and no detection.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_beats,)
        Reference and predicted AAMI classes.

    Returns
    -------
    float
    """
    from sk1dcnn.ecg import ec57_report

    gross = ec57_report(np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str)).gross
    f1 = []
    for c in ("S", "V"):
        tp, fn, fp = gross[c]["TP"], gross[c]["FN"], gross[c]["FP"]
        f1.append(2 * tp / (2 * tp + fn + fp) if tp + fn + fp else 0.0)
    return float(np.mean(f1))


def _score_funcs():
    """``ecg: search: scoring:`` name -> metric of (y_true, y_pred), as GridSearchCV scores a fold."""
    from functools import partial

    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    return {"accuracy": accuracy_score, "balanced_accuracy": balanced_accuracy_score,
            "f1_macro": partial(f1_score, average="macro", zero_division=0),
            "f1_sv": _f1_sv, "f1_nsv": partial(f1_score, labels=_F1_LABELS["f1_nsv"], average="macro",
                                               zero_division=0),
            "ec57_f1_sv": ec57_f1_sv}


def _class_weighted(y_true, y_pred, *, metric, weights):
    """``metric`` with each beat weighted by its true class (``weights``: class -> weight, else 1)."""
    y_true = np.asarray(y_true)
    w = np.ones(len(y_true))
    for c, v in weights.items():
        w[y_true == c] = v
    return metric(y_true, y_pred, sample_weight=w)


def _scoring(name, class_weights=None):
    """A scoring name of ``ecg: search: scoring:`` as GridSearchCV's ``scoring``.

    ``f1_sv``: the mean F1 of the S and V classes, the two classes the
    arrhythmia protocols are judged on (Se and +P of SVEB and VEB);
    ``ec57_f1_sv``: the same from EC57 counts (:func:`ec57_f1_sv`);
    ``f1_nsv``: the mean F1 of N, S and V, which also counts N beats called
    something else (tuned decision offsets could otherwise buy S and V +P by
    calling doubtful N beats F).

    ``class_weights`` (class -> weight) weights each held-out beat by its true
    class: with ``data.subsample_normal: 0.2`` every kept N beat stands for 5,
    so that a fold is scored at the population's class frequencies (its false
    positives are not undercounted five times).
    """
    from functools import partial

    from sklearn.metrics import make_scorer

    if class_weights:
        if name == "ec57_f1_sv":  # EC57 counts beats; config validation refuses this pairing
            raise ValueError("ec57_f1_sv takes no class weights")
        return make_scorer(partial(_class_weighted, metric=_score_funcs()[name], weights=dict(class_weights)))
    if name not in ("f1_sv", "f1_nsv", "ec57_f1_sv"):
        return name
    return make_scorer(_score_funcs()[name])


def pooled_score(name, y_true, y_pred):
    """The score ``name`` (``ecg: search: scoring:``) of predictions pooled over patients."""
    return float(_score_funcs()[name](np.asarray(y_true), np.asarray(y_pred)))


def make_cv(cfg, data):
    """Grouped folds for MIT-BIH (no record in two folds), stratified ones for UCR
    (repeated with reshuffling when ``cv: {n_splits: k, n_repeats: r}``, r > 1)."""
    from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedGroupKFold, StratifiedKFold

    n_splits = cfg["search"]["cv"]
    if data.kind == "mitdb":
        n_groups = len(np.unique(data.groups_train))
        if n_splits > n_groups:
            raise ConfigError(f"{cfg['source']}: ecg.search.cv: {n_splits} folds but only {n_groups} training "
                              f"records; allowed: 2..{n_groups}")
        return StratifiedGroupKFold(n_splits, shuffle=True, random_state=cfg["random_state"])
    if cfg["search"].get("cv_repeats", 1) > 1:
        return RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=cfg["search"]["cv_repeats"],
                                       random_state=cfg["random_state"])
    return StratifiedKFold(n_splits, shuffle=True, random_state=cfg["random_state"])




# --------------------------------------------------------------------------- #
# Compute
# --------------------------------------------------------------------------- #
@dataclass
class ECGResult:
    """Everything :func:`fit_and_evaluate` found, and everything logging needs."""

    data: ECGData
    model: object                 # the refit pipeline (first seed)
    y_pred: np.ndarray            # its predictions on the test split
    labels: list
    metrics: dict                 # test metrics of the first seed (see pipelines._fitting.evaluate)
    report: str                   # classification report
    confusion_matrix: np.ndarray
    cv_results: dict              # GridSearchCV.cv_results_
    best_params: dict
    best_score: float
    cv_splitter: str
    seed_rows: list               # [(seed, test metrics)] of every refit seed, first seed first
    seed_summary: dict            # mean and std over the seeds
    timings: dict                 # best_cv_score, search_time_s, refit_time_s, n_epochs
    metadata: dict                # how the model's beats are cut (model_metadata)
    compute_time_s: float = 0.0
    ec57: list = None             # MIT-BIH: one sk1dcnn.ecg.EC57Report per seed, first seed first
    offsets: list = None          # search.tune_offsets: per seed, {class: offset} and the out-of-fold scores
    relevance: dict = field(default_factory=dict)  # class -> _relevance.ClassRelevance (first seed)


@dataclass
class PatientResult:
    """What the patient-specific scheme (Kiranyaz et al. 2016) found."""

    data: ECGData
    labels: list
    rows: list                    # one dict per patient (record): counts, Se/PPV, params, ...
    gross: dict                   # Se/PPV of the counts summed over records (mean and std over seeds)
    gross_per_seed: dict          # seed -> class -> {tp, fn, fp}
    metrics: dict                 # all patients' test beats pooled, first seed
    report: str
    confusion_matrix: np.ndarray
    histories: dict               # patient -> history_ of its first-seed model
    compute_time_s: float = 0.0
    ec57: list = None             # one sk1dcnn.ecg.EC57Report per seed (all patients' test beats)
    relevance: dict = field(default_factory=dict)  # class -> _relevance.ClassRelevance (first seed)
    selection: object = None      # InnerSelection (search.validation: inner_minutes, several candidates)
    offsets: dict = None          # search.tune_offsets: {class: offset} and the pooled inner scores


def model_metadata(cfg, data, classes):
    """What ecg-monitor needs to cut beats the way the model was trained."""
    import sk1dcnn

    meta = {"dataset": data.name, "kind": data.kind, "classes": [str(c) for c in classes],
            "sk1dcnn_version": sk1dcnn.__version__}
    if data.kind == "mitdb":
        ds = cfg["data"]
        k = int(data.info.get("n_static_features", 0))
        meta.update(fs=float(data.fs), before=float(ds["before"]), after=float(ds["after"]),
                    channel=int(ds["channel"]), lead=ds.get("lead"), normal_class=_NORMAL,
                    input_ndim=2, n_static_features=k, static_features=_static_kind(ds),
                    train_records=str(data.info.get("train_records", "")))
    return meta


def fit_and_evaluate(config, data):
    """Grid-search, refit with every seed and evaluate on the held-out split.

    No MLflow is imported and nothing is written.

    Parameters
    ----------
    config : dict
        A resolved ``ecg:`` configuration (:func:`pipelines.config.load_config`).
    data : ECGData
        From :func:`load_data`.

    Returns
    -------
    ECGResult or PatientResult
        :class:`PatientResult` for ``mitdb:patient_specific`` data.
    """
    from joblib import Parallel, delayed
    from sklearn.base import clone

    if "splits" in data.info:
        return _fit_and_evaluate_patients(config, data)
    t_start = time.perf_counter()
    search = config["search"]
    pipe = build_pipeline(config, data)
    cv = make_cv(config, data)
    labels = data.labels
    t0 = time.perf_counter()
    frac = data.info.get("subsample_normal")
    gs = grid_search(pipe, pipeline_grid(config, data), data.X_train, data.y_train, cv=cv,
                     scoring=_scoring(search["scoring"], {_NORMAL: 1.0 / frac} if frac else None),
                     search=search, groups=data.groups_train, source=config["source"])
    search_time = time.perf_counter() - t0

    # The best configuration refit on the whole training split with every seed
    # (no peeking: the grid was chosen on the training split only). The first
    # seed (the model's random_state) gives the model that is kept.
    proto = clone(pipe).set_params(**gs.best_params_)
    first = proto.named_steps["cnn"].random_state
    if first is None:  # model: {random_state: null}: the first seed stands in
        first = config["seeds"][0]
    seeds = [first] + [s for s in config["seeds"] if s != first]
    proto = refit_model(proto, search, data)
    fit_params = None
    if search["tune_offsets"]:
        fit_params = {"groups": data.groups_train}
        if frac:
            # the offsets are scored at the population's class frequencies: each kept N beat
            # stands for 1 / frac of them (tuned on a fifth of the N beats, S +P fell 60 -> 40
            # on DS1 out of fold)
            fit_params["score_weight"] = np.where(data.y_train == _NORMAL, 1.0 / frac, 1.0)
    n_par = len(seeds) if search["n_jobs"] == -1 else min(search["n_jobs"], len(seeds))
    fits = Parallel(n_jobs=n_par)(delayed(fit_clone)(proto, data.X_train, data.y_train, seed=seed,
                                                     X_predict=data.X_test, fit_params=fit_params)
                                  for seed in seeds)
    best = fits[0].model
    cnn = cnn_step(best)
    offsets = None
    if search["tune_offsets"]:
        offsets = [{"seed": int(seed), **{f"offset_{c}": float(o) for c, o in zip(f.model.classes_, f.model.offsets_)},
                    "fixed_classes": " ".join(map(str, f.model.fixed_classes if f.model.fixed_classes is not None
                                                  else ())),
                    "oof_score_without_offsets": f.model.base_score_, "oof_score_with_offsets": f.model.best_score_}
                   for seed, f in zip(seeds, fits)]
    metrics, report, cm = evaluate(data.y_test, fits[0].y_pred, labels)
    seed_rows = [(int(first), metrics)] + [(seed, evaluate(data.y_test, f.y_pred, labels)[0])
                                          for seed, f in zip(seeds[1:], fits[1:])]
    t0 = time.perf_counter()
    explained = first_pipeline(best)  # inside TunedOffsetsClassifierCV / the ensemble's first network
    relevance = _class_relevance(config, data, [(explained, data.X_test, data.y_test, fits[0].y_pred)])
    relevance_time = time.perf_counter() - t0
    return ECGResult(
        data=data, model=best, y_pred=fits[0].y_pred, labels=labels, metrics=metrics, report=report,
        confusion_matrix=cm, cv_results=gs.cv_results_, best_params=gs.best_params_,
        best_score=float(gs.best_score_), cv_splitter=type(cv).__name__, seed_rows=seed_rows,
        seed_summary=_seed_summary(seed_rows),
        timings={"best_cv_score": float(gs.best_score_), "search_time_s": search_time,
                 "refit_time_s": float(fits[0].fit_time_s), "n_epochs": cnn.n_iter_,
                 "relevance_time_s": relevance_time},
        metadata=model_metadata(config, data, cnn.classes_),
        compute_time_s=time.perf_counter() - t_start,
        ec57=[_ec57(data.y_test, f.y_pred, data.groups_test) for f in fits] if data.kind == "mitdb" else None,
        offsets=offsets, relevance=relevance)


def _class_relevance(config, data, parts):
    """Per test class: the average preprocessed beat of its correctly classified test beats and
    their mean relevance (:func:`pipelines._relevance.class_relevance`, gradient*input, at most
    500 beats per class drawn with ``random_state``).

    ``parts``: ``[(pipeline, X, y_true, y_pred)]``, the kept (first-seed) model with the test
    beats, or one per patient with that patient's own model. The x axis: seconds from the R peak
    for MIT-BIH beats (the ``before``/``after`` window over the preprocessed length, so the
    360 -> 180 Hz resampling is accounted for), sample index for UCR series and whenever the
    preprocessing crops or pads. Classes no model was trained on (e.g. F in the quick run) get
    no figure. The static features' (RR, template) relevance is taken against their mean over the
    training beats.
    """
    from ._relevance import class_relevance, preprocess

    k = int(data.info.get("n_static_features", 0))
    n_out = preprocess(parts[0][0], parts[0][1][:1]).shape[-1] - k  # the preprocessed length
    steps = config["preprocessing"]
    crops = steps != "auto" and any("crop_or_pad" in item for item in steps)
    if data.kind == "mitdb" and not crops:
        ds = config["data"]
        n_before = int(round(ds["before"] * data.fs))
        n_raw = int(data.info["n_timepoints"])
        # sample i of the preprocessed beat stands for raw sample i * n_raw / n_out
        time_axis, unit = (np.arange(n_out) * n_raw / n_out - n_before) / data.fs, "s"
    else:
        time_axis, unit = np.arange(n_out, dtype=float), "sample"
    names = static_feature_names(config["data"]) if data.kind == "mitdb" else ()
    if len(names) != k:
        names = tuple(f"static_{i}" for i in range(k))
    # an RR feature's relevance is taken against its mean over the training beats (a typical timing)
    ref = np.asarray(data.X_train[:, -k:], dtype=np.float64).mean(axis=0) if k else None
    return class_relevance(parts, data.labels, time_axis, unit, static_names=names, static_reference=ref,
                           random_state=config["random_state"])


def static_feature_model(name, n_signal, n_static, *, random_state=None):
    """A classifier of the ``n_static`` columns after the ``n_signal`` signal columns of X alone.

    ``name`` is ``gradient_boosting``: a ``HistGradientBoostingClassifier``
    (200 iterations, no early stopping, so no validation split cuts across
    patients; balanced class weights), fixed a priori, not tuned. Inside DS1
    (record-grouped folds, out of fold) it reaches the network's mean F1 of S
    and V alone, and their average beats both (docs/results-ecg.md).

    Returns
    -------
    Pipeline
        ``[("columns", ColumnTransformer(static columns)), ("gbt", ...)]``.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    if name != "gradient_boosting":
        raise ValueError(f"unknown static model {name!r}; allowed: gradient_boosting")
    columns = ColumnTransformer([("static", "passthrough", list(range(n_signal, n_signal + n_static)))])
    gbt = HistGradientBoostingClassifier(max_iter=200, early_stopping=False, class_weight="balanced",
                                         random_state=random_state)
    return Pipeline([("columns", columns), ("gbt", gbt)])


def refit_model(pipe, search, data):
    """The refit model of the chosen candidate.

    Parameters
    ----------
    pipe : Pipeline
        The chosen candidate (unfitted).
    search : dict
        The resolved ``ecg: search:`` section (``ensemble``, ``tune_offsets``, ``cv``).
    data : ECGData

    Returns
    -------
    estimator
        The pipeline, or a ``SeedEnsembleClassifier`` of ``search.ensemble``
        copies (seeds s, s + 1000, ...); with ``search.static_model`` that,
        blended with a model of the static columns
        (:func:`static_feature_model`) in a
        :class:`~sk1dcnn.model_selection.BlendClassifier` (``cnn``, ``static``:
        their probabilities averaged); all of it inside a
        ``TunedOffsetsClassifierCV`` when ``search.tune_offsets`` names a
        scoring (``ec57_f1_sv`` is tuned as ``f1_sv``, one class against the
        rest).
    """
    from sklearn.base import clone

    from sk1dcnn.model_selection import BlendClassifier, SeedEnsembleClassifier, TunedOffsetsClassifierCV

    model = pipe
    if search["ensemble"] > 1:
        model = SeedEnsembleClassifier(clone(pipe), n_estimators=search["ensemble"], seed_param="cnn__random_state")
    if search.get("static_model"):
        k = int(data.info["n_static_features"])
        static = static_feature_model(search["static_model"], int(data.info["n_timepoints"]), k,
                                      random_state=pipe.named_steps["cnn"].random_state)
        model = BlendClassifier([("cnn", model), ("static", static)])
    tune = search["tune_offsets"]
    if not tune:
        return model

    # Per-class decision offsets chosen on out-of-fold predictions (the folds of the grid
    # search, grouped by record for MIT-BIH): the training side only. A named scoring and an
    # int cv keep the saved model free of functions and splitters (skops); with the training
    # records as groups, the int means StratifiedGroupKFold.
    # (ec57_f1_sv: f1_sv is its stand-in, without EC57's exemption of reference F and Q beats)
    named = {"f1_sv": ("f1_macro", _F1_LABELS["f1_sv"]), "f1_nsv": ("f1_macro", _F1_LABELS["f1_nsv"]),
             "ec57_f1_sv": ("f1_macro", _F1_LABELS["f1_sv"])}
    scoring, labels = named.get(tune, (tune, None))
    share = search.get("fixed_offset_share")
    fixed = [] if share is None or data.groups_train is None else sorted(
        single_record_classes(data.y_train, data.groups_train, share))
    return TunedOffsetsClassifierCV(model, scoring=scoring, labels=labels, cv=search["cv"],
                                    reference_class=_NORMAL if data.kind == "mitdb" else None,
                                    fixed_classes=fixed or None)


def single_record_classes(y, groups, share=0.75):
    """The classes with ``share`` or more of their training beats in one record: class -> that record.

    Their decision offset stays 0 (``TunedOffsetsClassifierCV(fixed_classes=...)``):
    record-grouped out-of-fold predictions cannot tell how an offset of such a
    class carries to other patients. In DS1 that is F alone (372 of its 414
    beats are record 208's; the largest one-record share of S is 41%, of V
    26%), and F offsets of +2.2 to +4.0 tuned there called most N beats of the
    DS2 records 233 and 214 F (docs/results-ecg.md).
    """
    y, groups = np.asarray(y), np.asarray(groups)
    out = {}
    for c in np.unique(y):
        recs, counts = np.unique(groups[y == c], return_counts=True)
        if counts.max() >= share * counts.sum():
            out[c.item() if hasattr(c, "item") else c] = recs[np.argmax(counts)].item()
    return out


def _seed_summary(rows):
    """Mean and std over seeds of the test accuracy, balanced accuracy and macro F1; mean Se/PPV."""
    out = {}
    for k in ("accuracy", "balanced_accuracy", "f1_macro"):
        vals = np.array([m[k] for _, m in rows])
        out[f"test_{k}_mean"] = float(vals.mean())
        out[f"test_{k}_std"] = float(vals.std())
    classes = sorted({k[3:] for _, m in rows for k in m if k.startswith("se_")})
    for c in classes:
        for p in ("se", "ppv"):
            out[f"test_{p}_{c}_mean"] = float(np.mean([m.get(f"{p}_{c}", np.nan) for _, m in rows]))
    return out


# --------------------------------------------------------------------------- #
# Patient-specific scheme (Kiranyaz et al. 2016)
# --------------------------------------------------------------------------- #
_PS_CLASSES = ("V", "S")


def detection_stats(y_true, y_pred, labels=_AAMI_ORDER):
    """Per class counts TP, FN, FP (one class against the rest) as a dict."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    out = {}
    for c in labels:
        t, p = y_true == c, y_pred == c
        out[c] = {"tp": int(np.sum(t & p)), "fn": int(np.sum(t & ~p)), "fp": int(np.sum(~t & p))}
    return out


def _se_ppv(counts):
    """Sensitivity and positive predictivity in %, NaN when undefined (no beat / no detection)."""
    tp, fn, fp = counts["tp"], counts["fn"], counts["fp"]
    se = 100.0 * tp / (tp + fn) if tp + fn else float("nan")
    ppv = 100.0 * tp / (tp + fp) if tp + fp else float("nan")
    return se, ppv


def _nanmean_cols(values, fn=np.nanmean):
    """Column means ignoring NaN (undefined in a seed); NaN when undefined in every seed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return tuple(float(v) for v in fn(values, axis=0))


def _choose_params(cfg, data, pipe, X_tr, y_tr):
    """The grid's only candidate, or the one GridSearchCV picks on the patient's training beats."""
    from sklearn.model_selection import ParameterGrid, StratifiedKFold

    search = cfg["search"]
    grid = pipeline_grid(cfg, data)
    candidates = list(ParameterGrid(grid))
    if len(candidates) == 1:
        return candidates[0], None
    gs = grid_search(pipe, grid, X_tr, y_tr, scoring=_scoring(search["scoring"]), search=search,
                     cv=StratifiedKFold(search["cv"], shuffle=True, random_state=cfg["random_state"]),
                     source=cfg["source"])
    return gs.best_params_, float(gs.best_score_)


def inner_minutes_split(train_idx, records, positions, patient, inner_train_minutes, fs):
    """Split a patient's training beats in two by time, for the inner validation.

    Parameters
    ----------
    train_idx : array-like of int
        The patient's training beats (common beats of other records + the
        patient's first ``data.train_minutes``), indices into the beat arrays.
    records, positions : ndarray of shape (n_beats,)
        Record and sample index (in its record) of every beat.
    patient : str
    inner_train_minutes : float
    fs : float
        Sampling rate of ``positions``.

    Returns
    -------
    fit_idx : ndarray of int
        The common beats and the patient's beats before ``inner_train_minutes``.
    val_idx : ndarray of int
        The patient's training beats from ``inner_train_minutes`` on: a subset
        of ``train_idx``, so never a beat of the test minutes.
    """
    tr = np.asarray(train_idx)
    late = (np.asarray(records)[tr] == patient) & (np.asarray(positions)[tr] >= inner_train_minutes * 60.0 * fs)
    return tr[~late], tr[late]


@dataclass
class InnerSelection:
    """What :func:`select_inner_minutes` found: every candidate's pooled inner scores, the chosen one."""

    rows: list                    # per candidate: params, score, rank, se/ppv of V and S (%), counts
    best_index: int
    scoring: str
    inner_train_minutes: float
    train_minutes: float
    n_fit: dict                   # patient -> beats fitted (common + first inner_train_minutes)
    n_val: dict                   # patient -> beats scored (own, inner_train_minutes .. train_minutes)
    time_s: float = 0.0

    @property
    def best_params(self):
        return self.rows[self.best_index]["params"]

    @property
    def best_score(self):
        return self.rows[self.best_index]["score"]


def _score_candidate(scoring, y_true, y_pred):
    """One candidate's row: the configured score and EC57 Se/+P of V and S, all from pooled predictions."""
    from sk1dcnn.ecg import ec57_report

    gross = ec57_report(np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str)).gross
    row = {"score": pooled_score(scoring, y_true, y_pred), "n_val": len(y_true)}
    for c in _PS_CLASSES:
        counts = {k.lower(): gross[c][k] for k in ("TP", "FN", "FP")}
        row[f"se_{c}"], row[f"ppv_{c}"] = _se_ppv(counts)
        row.update({f"{k}_{c}": v for k, v in counts.items()})
    return row


def select_inner_minutes(cfg, data, pipe, candidates):
    """Choose one grid candidate for every patient on the training minutes only (``validation: inner_minutes``).

    For each candidate and each patient: fit on the common beats + the patient's
    first ``search.inner_train_minutes`` and predict the patient's beats from
    there to ``data.train_minutes`` (still training beats: the test minutes
    never steer the choice). The predictions of all patients are pooled (gross
    counts, as EC57) and scored with ``search.scoring``; the best candidate (the
    first on a tie) is used for every patient. One global choice: a patient's
    few minutes hold too few S beats (often none) to choose per patient.

    Parameters
    ----------
    cfg : dict
        A resolved ``ecg:`` configuration.
    data : ECGData
        Patient-specific data (:func:`load_data`).
    pipe : Pipeline
        From :func:`build_pipeline`; its ``random_state`` seeds every fit.
    candidates : list of dict
        Parameter settings in the pipeline's names (``ParameterGrid``).

    Returns
    -------
    InnerSelection
    """
    from joblib import Parallel, delayed

    from ._fitting import SearchProgress

    t0 = time.perf_counter()
    search, splits = cfg["search"], data.info["splits"]
    inner_min = float(search["inner_train_minutes"])
    X, y = data.X_train, data.y_train
    inner = {p: inner_minutes_split(tr, data.groups_train, data.info["positions"], p, inner_min, data.fs)
             for p, (tr, _) in splits.items()}
    patients = [p for p in splits if len(inner[p][1])]  # a patient with no beat to score fits nothing
    if not patients:
        raise ConfigError(f"{cfg['source']}: ecg.search.inner_train_minutes: no patient has a training beat "
                          f"after {inner_min:g} minutes; allowed: minutes below data.train_minutes "
                          f"({data.info['train_minutes']:g})")
    jobs = [(i, p) for i in range(len(candidates)) for p in patients]
    progress = SearchProgress(len(candidates), len(patients), label="inner validation (pooled over patients)")
    fits = Parallel(n_jobs=search["n_jobs"], return_as="generator")(
        delayed(fit_clone)(pipe, X[inner[p][0]], y[inner[p][0]], params=candidates[i], X_predict=X[inner[p][1]])
        for i, p in jobs)
    rows, preds, times = [], [], []
    for (i, p), fit in zip(jobs, fits):
        preds.append(fit.y_pred)
        times.append(fit.fit_time_s)
        if p != patients[-1]:
            continue
        y_true = np.concatenate([y[inner[q][1]] for q in patients])
        row = {"params": candidates[i], **_score_candidate(search["scoring"], y_true, np.concatenate(preds)),
               "mean_fit_time_s": float(np.mean(times))}
        rows.append(row)
        preds, times = [], []
        progress.update(i + 1)
    scores = np.array([r["score"] for r in rows])
    order = np.argsort(-scores, kind="stable")
    for rank, i in enumerate(order, 1):
        rows[i]["rank"] = rank
    return InnerSelection(rows=rows, best_index=int(np.argmax(scores)), scoring=search["scoring"],
                          inner_train_minutes=inner_min, train_minutes=float(data.info["train_minutes"]),
                          n_fit={p: len(inner[p][0]) for p in splits},
                          n_val={p: len(inner[p][1]) for p in splits}, time_s=time.perf_counter() - t0)


def _patient_model(pipe, params, search):
    """A patient's model: the pipeline with its chosen parameters, or ``search.ensemble`` of them."""
    from sklearn.base import clone

    from sk1dcnn.model_selection import SeedEnsembleClassifier

    model = clone(pipe).set_params(**params)
    if search["ensemble"] > 1:
        model = SeedEnsembleClassifier(model, n_estimators=search["ensemble"], seed_param="cnn__random_state")
    return model


def _apply_offsets(model, X, offsets):
    """Labels of ``argmax log p + offsets`` (the classes the offsets were tuned on)."""
    from sk1dcnn.model_selection import decide

    classes = np.asarray(model.classes_)
    off = np.array([offsets["offsets"].get(str(c), 0.0) for c in classes])
    return classes[decide(model.predict_proba(X), off)]


def _fit_patient(model, X, y, seed, X_test, offsets):
    """Fit one patient's model (in a joblib worker) and label its test beats, with offsets if tuned."""
    fit = fit_clone(model, X, y, seed=seed, X_predict=None if offsets else X_test)
    if offsets:
        fit.y_pred = _apply_offsets(fit.model, X_test, offsets)
    return fit


def _inner_fit_proba(model, X, y, seed, X_val):
    fit = fit_clone(model, X, y, seed=seed)
    return np.asarray(fit.model.classes_), np.asarray(fit.model.predict_proba(X_val))


def inner_minutes_offsets(cfg, data, pipe, params):
    """Per-class decision offsets for every patient's model, tuned on the pooled inner minutes.

    The chosen candidate (with ``search.ensemble``) is fitted per patient on the
    common beats + the first ``search.inner_train_minutes`` and predicts the
    patient's minutes from there to ``data.train_minutes`` (training beats: the
    test minutes never steer the offsets); the probabilities of all patients are
    pooled and the offsets chosen by
    :func:`sk1dcnn.model_selection.tune_offsets` for the scoring
    ``search.tune_offsets`` (N fixed at 0).

    Parameters
    ----------
    cfg : dict
        A resolved ``ecg:`` configuration (``search.tune_offsets`` names the scoring).
    data : ECGData
        Patient-specific data (:func:`load_data`).
    pipe : Pipeline
        From :func:`build_pipeline`.
    params : dict
        The chosen candidate's parameters, in the pipeline's names.

    Returns
    -------
    dict
        ``offsets`` (class -> offset), ``score_without`` and ``score_with`` (the
        pooled inner score), ``scoring``, ``n_beats``.
    """
    from joblib import Parallel, delayed

    from sk1dcnn.model_selection import tune_offsets

    search, splits = cfg["search"], data.info["splits"]
    inner_min = float(search["inner_train_minutes"])
    X, y = data.X_train, data.y_train
    inner = {p: inner_minutes_split(tr, data.groups_train, data.info["positions"], p, inner_min, data.fs)
             for p, (tr, _) in splits.items()}
    patients = [p for p in splits if len(inner[p][1])]
    model = _patient_model(pipe, params, search)
    out = Parallel(n_jobs=search["n_jobs"])(
        delayed(_inner_fit_proba)(model, X[inner[p][0]], y[inner[p][0]], cfg["random_state"], X[inner[p][1]])
        for p in patients)
    classes = np.unique(np.concatenate([c for c, _ in out]))
    proba = np.zeros((sum(len(pr) for _, pr in out), len(classes)))
    row = 0
    for c, pr in out:
        proba[row:row + len(pr), np.searchsorted(classes, c)] = pr
        row += len(pr)
    y_val = np.concatenate([y[inner[p][1]] for p in patients])
    metric = _score_funcs()[search["tune_offsets"]]
    base = float(metric(y_val, classes[np.argmax(proba, axis=1)]))
    ref = int(np.flatnonzero(classes == _NORMAL)[0]) if _NORMAL in classes else 0
    off, score = tune_offsets(y_val, proba, classes, metric, np.linspace(-4.0, 4.0, 41), reference=ref)
    return {"offsets": {str(c): float(o) for c, o in zip(classes, off)}, "score_without": base,
            "score_with": float(score), "scoring": search["tune_offsets"], "n_beats": int(len(y_val))}


def _fit_and_evaluate_patients(cfg, data):
    """One model per patient (test record), trained on common beats from records 100-124
    plus the first minutes of the patient's own record, tested on the rest of the record;
    V and S sensitivity / PPV per record and in total (gross).

    A grid of several candidates is chosen before any test beat is predicted:
    with ``search.validation: inner_minutes`` one candidate for all patients
    (:func:`select_inner_minutes`), with ``cv`` GridSearchCV per patient."""
    from joblib import Parallel, delayed
    from sklearn.model_selection import ParameterGrid

    t_start = time.perf_counter()
    pipe = build_pipeline(cfg, data)
    labels = data.labels
    splits = data.info["splits"]
    seeds = cfg["seeds"]
    X, y = data.X_train, data.y_train
    candidates = list(ParameterGrid(pipeline_grid(cfg, data)))
    selection = None
    if len(candidates) > 1 and cfg["search"].get("validation", "cv") == "inner_minutes":
        selection = select_inner_minutes(cfg, data, pipe, candidates)
        chosen = {p: (selection.best_params, selection.best_score) for p in splits}
    else:
        chosen = {p: _choose_params(cfg, data, pipe, X[tr], y[tr]) for p, (tr, _) in splits.items()}
    offsets = None
    if cfg["search"]["tune_offsets"]:  # on the pooled inner minutes (config: validation inner_minutes)
        offsets = inner_minutes_offsets(cfg, data, pipe, next(iter(chosen.values()))[0])
    jobs = [(patient, seed) for patient in splits for seed in seeds]
    fits = Parallel(n_jobs=cfg["search"]["n_jobs"])(
        delayed(_fit_patient)(_patient_model(pipe, chosen[p][0], cfg["search"]), X[splits[p][0]],
                              y[splits[p][0]], seed, X[splits[p][1]], offsets)
        for p, seed in jobs)
    by_job = dict(zip(jobs, fits))

    rows, gross_per_seed = [], {seed: detection_stats([], [], labels) for seed in seeds}
    for patient, (tr, te) in splits.items():
        y_te = y[te]
        per_seed = []
        for seed in seeds:
            y_pred = by_job[(patient, seed)].y_pred
            st = detection_stats(y_te, y_pred, labels)
            for c in labels:
                for k in ("tp", "fn", "fp"):
                    gross_per_seed[seed][c][k] += st[c][k]
            per_seed.append((st, float(np.mean(y_pred == y_te))))
        row = {"record": patient, "n_train": len(tr), "n_common": data.info["n_common"][patient],
               "n_test": len(te), "accuracy": float(np.mean([a for _, a in per_seed])),
               "epochs": float(np.mean([cnn_step(by_job[(patient, s)].model).n_iter_ for s in seeds])),
               "fit_time_s": float(np.mean([by_job[(patient, s)].fit_time_s for s in seeds])),
               "params": chosen[patient][0], "cv_score": chosen[patient][1]}
        for c in _PS_CLASSES:
            row[f"n_{c}"] = int(np.sum(y_te == c))
            row[f"se_{c}"], row[f"ppv_{c}"] = _nanmean_cols(
                np.array([_se_ppv(st[c]) for st, _ in per_seed]))
        rows.append(row)

    gross = {}
    for c in labels:
        vals = np.array([_se_ppv(gross_per_seed[s][c]) for s in seeds])
        gross[f"se_{c}"], gross[f"ppv_{c}"] = _nanmean_cols(vals)
        gross[f"se_{c}_std"], gross[f"ppv_{c}_std"] = _nanmean_cols(vals, np.nanstd)
    y_all = np.concatenate([y[te] for _, te in splits.values()])
    p_all = np.concatenate([by_job[(p, seeds[0])].y_pred for p in splits])
    metrics, report, cm = evaluate(y_all, p_all, labels)
    histories = {p: list(cnn_step(by_job[(p, seeds[0])].model).history_) for p in splits}
    rec_all = np.concatenate([data.groups_train[te] for _, te in splits.values()])
    ec57 = [_ec57(y_all, np.concatenate([by_job[(p, seed)].y_pred for p in splits]), rec_all)
            for seed in seeds]
    # each patient's own (first-seed) model explains that patient's test beats
    relevance = _class_relevance(cfg, data, [(first_pipeline(by_job[(p, seeds[0])].model), X[te], y[te],
                                              by_job[(p, seeds[0])].y_pred) for p, (_, te) in splits.items()])
    return PatientResult(ec57=ec57, relevance=relevance, data=data, labels=labels, rows=rows, gross=gross,
                         gross_per_seed=gross_per_seed,
                         metrics=metrics, report=report, confusion_matrix=cm, histories=histories,
                         selection=selection, offsets=offsets, compute_time_s=time.perf_counter() - t_start)


# --------------------------------------------------------------------------- #
# EC57 scoring and the published figures it is compared with
# --------------------------------------------------------------------------- #
#: de Chazal, O'Dwyer and Reilly (2004), DS2, gross (%): linear discriminants on RR and morphology.
DE_CHAZAL_2004 = {"S": {"Se": 75.9, "+P": 38.5}, "V": {"Se": 77.7, "+P": 81.9}}
#: Kiranyaz, Ince and Gabbouj (2016), 44 records, gross (%): patient-specific 1-D CNN.
KIRANYAZ_2016 = {"V": {"Se": 95.0, "+P": 89.5}, "S": {"Se": 64.6, "+P": 62.1}}
#: The records 200-234 (24 of the 44 non-paced), the subset the patient-specific papers compare on.
RECORDS_200 = tuple(str(r) for r in range(200, 235))
_EC57_STATS = ("Se", "+P", "Sp", "Acc")


def _ec57(y_true, y_pred, groups):
    from sk1dcnn.ecg import ec57_report

    return ec57_report(np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str), groups)


def ec57_gross(reports, records=None):
    """Mean over seeds of the EC57 gross statistics, in %.

    Parameters
    ----------
    reports : list of EC57Report
        One per seed.
    records : collection of str or None
        Sum the confusion matrices of these records only (e.g. :data:`RECORDS_200`);
        None: all records.

    Returns
    -------
    stats : dict
        ``{cls: {"Se", "+P", "FPR", "Sp", "Acc", and "<stat>_std"}}`` for N, S, V, F
        (NaN where undefined in every seed), plus ``"n_records"`` and ``"n_beats"``.
    """
    from sk1dcnn.ecg import ec57_report
    from sk1dcnn.ecg.ec57 import EC57_CLASSES, EC57_METRICS, _stats

    per_seed = []
    n_records = n_beats = 0
    for rep in reports:
        if records is None:
            cm, n_records = rep.confusion, max(len(rep.per_record), 1)
        else:
            chosen = [v["confusion"] for r, v in rep.per_record.items() if r in set(records)]
            cm = np.sum(chosen, axis=0) if chosen else ec57_report([], []).confusion
            n_records = len(chosen)
        n_beats = int(np.sum(cm))
        per_seed.append(_stats(cm))
    out = {"n_records": n_records, "n_beats": n_beats}
    for cls in EC57_CLASSES:
        vals = np.array([[100 * st[cls][m] for m in EC57_METRICS] for st in per_seed])
        mean, std = _nanmean_cols(vals), _nanmean_cols(vals, np.nanstd)
        out[cls] = {**dict(zip(EC57_METRICS, mean)), **{f"{m}_std": v for m, v in zip(EC57_METRICS, std)}}
    return out


def _fmt_pct(v):
    return "    -" if v is None or not np.isfinite(v) else f"{v:5.1f}"


def ec57_table(reports, title, anchor=None, anchor_name=None, records=None, classes=("N", "S", "V", "F")):
    """Text table of :func:`ec57_gross` (mean +- std over seeds) beside a published anchor."""
    g = ec57_gross(reports, records)
    n = len(reports)
    lines = [f"{title}: EC57 gross over {g['n_records']} records ({g['n_beats']} beats), "
             + (f"mean of {n} seeds" if n > 1 else "1 seed") + ", %",
             f"  {'class':>5} " + " ".join(f"{m:>12}" for m in _EC57_STATS)
             + (f"   {anchor_name}" if anchor else "")]
    for c in classes:
        cells = " ".join(f"{_fmt_pct(g[c][m])} +- {_fmt_pct(g[c][m + '_std']).strip():>4}" if n > 1
                         else f"{_fmt_pct(g[c][m]):>12}" for m in _EC57_STATS)
        ref = ""
        if anchor and c in anchor:
            ref = "   " + "  ".join(f"{k} {v:.1f}" for k, v in anchor[c].items())
        lines.append(f"  {c:>5} {cells}{ref}")
    return "\n".join(lines)


def ec57_metrics(reports, prefix="ec57_", records=None):
    """MLflow metrics: the first seed's gross statistics (all records only) and the mean over
    seeds (``<prefix>mean_...``), as fractions."""
    out = dict(reports[0].metrics(prefix)) if records is None else {}
    g = ec57_gross(reports, records)
    keys = {"Se": "Se", "+P": "PP", "FPR": "FPR", "Sp": "Sp", "Acc": "Acc"}
    for c in ("N", "S", "V", "F"):
        for m, k in keys.items():
            if np.isfinite(g[c][m]):
                out[f"{prefix}mean_{c}_{k}"] = g[c][m] / 100
    return out


def write_ec57_artifacts(adir, reports, seeds):
    """``ec57_per_record.csv`` (first seed, per record + gross) and ``ec57_gross_seeds.csv``."""
    (Path(adir) / "ec57_per_record.csv").write_text(reports[0].to_csv(), encoding="utf-8")
    rows = ["seed,class,Se,+P,FPR,Sp,Acc,TP,FN,FP,TN"]
    for seed, rep in zip(seeds, reports):
        for c, st in rep.gross.items():
            rows.append(f"{seed},{c}," + ",".join(f"{st[m]:.6f}" for m in ("Se", "+P", "FPR", "Sp", "Acc"))
                        + "," + ",".join(str(st[k]) for k in ("TP", "FN", "FP", "TN")))
    (Path(adir) / "ec57_gross_seeds.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- #
# Save and log
# --------------------------------------------------------------------------- #
def save_model_file(result, path):
    """Write the refit pipeline and its metadata with :func:`sk1dcnn.persistence.dump`.

    The file holds ``{"pipeline": Pipeline, "metadata": dict}``; read it back
    with ``sk1dcnn.persistence.load(path)`` (``ecg-monitor --model`` does).

    Returns
    -------
    path : Path
    """
    from sk1dcnn import persistence

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    persistence.dump({"pipeline": result.model, "metadata": result.metadata}, path)
    return path


def _save_local(result, run_id):
    """Model and metrics in ``<cwd>/mlartifacts/local-<time>-<run>/`` (:func:`_report.save_local_copy`)."""
    from ._report import save_local_copy

    doc = {"test": result.metrics, **result.timings, "best_params": result.best_params,
           "seeds": [{"seed": s, **m} for s, m in result.seed_rows], "metadata": result.metadata}
    return save_local_copy(run_id, result.model, result.metadata, doc)


def _run_tags(config, data):
    return {"sk1dcnn.workflow": "ecg", "sk1dcnn.dataset": data.name,
            "sk1dcnn.quick": str(config["quick"]).lower(),
            "sk1dcnn.backend": config["search"].get("backend", "local")}


def log_result(result, config, tracking):
    """Log a result to MLflow: one parent run, a child run per grid candidate (or per patient),
    params, test metrics, per-epoch history, artifacts and the model.

    The artifacts hold, besides the tables and the loss and confusion-matrix plots, one figure per
    class under ``relevance/`` (``relevance_<class>.png``: the class's average test beat and where
    the network looks in it, computed by :func:`fit_and_evaluate`).

    With a remote tracking server the model and metrics are first saved under
    ``mlartifacts/local-*``; if logging fails they are saved there too and the
    error says where.

    Parameters
    ----------
    result : ECGResult or PatientResult
    config : dict
        The resolved ``ecg:`` configuration the result was computed with.
    tracking : dict
        The resolved ``tracking:`` section (``uri``, ``experiment``, ``artifact_location``).

    Returns
    -------
    Logged

    Raises
    ------
    TrackingServerError
        The tracking store failed during the run.
    """
    from . import _report, _tracking

    t0 = time.perf_counter()
    if isinstance(result, PatientResult):
        return _log_patients(result, config, tracking, t0)
    data = result.data
    tracker = _tracking.Tracker(tracking["uri"], tracking["experiment"], tracking["artifact_location"])
    run_name = f"ecg-{data.name.replace(':', '-')}" + ("-quick" if config["quick"] else "")
    # nothing computed is lost if the tracking store fails (logged_run says where it is)
    with _tracking.logged_run(tracker, run_name, _run_tags(config, data),
                              lambda run_id: _save_local(result, run_id)) as run:
        tracker.log_params(_report.run_params(config, result))
        tracker.log_candidates(result.cv_results, config["search"]["scoring"])
        tracker.log_params(_report.refit_params(first_pipeline(result.model)))
        tracker.log_history(cnn_step(result.model).history_)
        if result.offsets:
            first = result.offsets[0]
            tracker.log_metrics({k: v for k, v in first.items() if k != "seed"})
        tracker.log_metrics({f"test_{k}": v for k, v in result.metrics.items()
                             if not k.startswith("support_")})
        tracker.log_metrics(result.timings)
        if len(result.seed_rows) > 1:
            for seed, m in result.seed_rows:
                tracker.log_metrics({f"seeds/test_{k}": m[k] for k in ("accuracy", "balanced_accuracy",
                                                                         "f1_macro")}, step=seed)
            tracker.log_metrics({f"seeds_{k}": v for k, v in result.seed_summary.items()})
        if result.ec57:
            tracker.log_metrics({f"test_{k}": v for k, v in ec57_metrics(result.ec57).items()})
        with _report.artifact_dir() as adir:
            _report.write_artifacts(adir, result, config)
            _report.write_relevance_figures(adir, result)
            if result.ec57:
                write_ec57_artifacts(adir, result.ec57, [seed for seed, _ in result.seed_rows])
            if result.offsets:
                keys = list(result.offsets[0])
                (adir / "decision_offsets.csv").write_text(
                    ",".join(keys) + "\n" + "".join(",".join(str(o[k]) for k in keys) + "\n"
                                                    for o in result.offsets))
            tracker.log_artifacts(adir)
        model_uri = None
        if config["log_model"]:
            model_uri = tracker.log_model(result.model, data.X_test[:5], result.metadata)
        wall = result.compute_time_s + time.perf_counter() - t0
        tracker.log_metrics({"wall_time_s": wall})
    return Logged(run.run_id, tracker.experiment_id, tracking["uri"], model_uri, run.local_copy, wall)


def _log_patients(result, config, tracking, t0):
    from . import _report, _tracking

    data, seeds = result.data, config["seeds"]
    tracker = _tracking.Tracker(tracking["uri"], tracking["experiment"], tracking["artifact_location"])
    run_name = "ecg-mitdb-patient_specific" + ("-quick" if config["quick"] else "")
    child_run_ids = {}  # record -> its child run (result.rows stay as computed)
    with tracker.parent_run(run_name, tags=_run_tags(config, data)) as run_id:
        tracker.log_params(_report.patient_run_params(config, data))
        if result.selection is not None:
            _log_inner_selection(tracker, result.selection)
        if result.offsets:
            tracker.log_metrics({**{f"offset_{c}": v for c, v in result.offsets["offsets"].items()},
                                 "inner_score_without_offsets": result.offsets["score_without"],
                                 "inner_score_with_offsets": result.offsets["score_with"]})
        for row in result.rows:
            child_run_ids[row["record"]] = tracker.child_run(
                f"record-{row['record']}",
                params={"record": row["record"], "n_train": row["n_train"], "n_test": row["n_test"],
                        **row["params"]},
                metrics={k: row[k] for k in ("accuracy", "se_V", "ppv_V", "se_S", "ppv_S", "n_V", "n_S",
                                             "epochs", "fit_time_s")},
                history=result.histories[row["record"]])
        tracker.log_metrics({f"gross_{k}": v for k, v in result.gross.items()})
        tracker.log_metrics({f"test_{k}": v for k, v in result.metrics.items()
                             if not k.startswith("support_")})
        for seed in seeds:
            for c in _PS_CLASSES:
                se, ppv = _se_ppv(result.gross_per_seed[seed][c])
                tracker.log_metrics({f"seeds/gross_se_{c}": se, f"seeds/gross_ppv_{c}": ppv}, step=seed)
        tracker.log_metrics(ec57_metrics(result.ec57))
        tracker.log_metrics(ec57_metrics(result.ec57, records=RECORDS_200, prefix="ec57_200_"))
        with _report.artifact_dir() as adir:
            _report.write_patient_artifacts(adir, result, config)
            _report.write_relevance_figures(adir, result)
            write_ec57_artifacts(adir, result.ec57, seeds)
            tracker.log_artifacts(adir)
        wall = result.compute_time_s + time.perf_counter() - t0
        tracker.log_metrics({"wall_time_s": wall})
    return Logged(run_id, tracker.experiment_id, tracking["uri"], wall_time_s=wall,
                  child_run_ids=child_run_ids)


def _log_inner_selection(tracker, sel):
    """One child run per candidate of the inner validation (as GridSearchCV's candidates are logged)
    and the chosen one's parameters and score on the parent run."""
    for i, r in enumerate(sel.rows):
        name = "candidate-" + ",".join(f"{k.split('__')[-1]}={v}" for k, v in r["params"].items())
        tracker.child_run(
            name, params=r["params"],
            metrics={"inner_score": r["score"], "inner_rank": r["rank"], "mean_fit_time_s": r["mean_fit_time_s"],
                     **{f"inner_{k}_{c}": r[f"{k}_{c}"] for c in _PS_CLASSES for k in ("se", "ppv")}},
            tags={"sk1dcnn.candidate": str(i), "sk1dcnn.scoring": sel.scoring,
                  "sk1dcnn.validation": "inner_minutes"})
    tracker.log_params({f"best_{k.split('__')[-1]}": v for k, v in sel.best_params.items()})
    tracker.log_metrics({"inner_best_score": sel.best_score, "inner_time_s": sel.time_s})


def run(config, *, out=print):
    """``python -m pipelines ecg``: load, fit and evaluate, save the model file, log; print tables.

    Parameters
    ----------
    config : dict
        A resolved ``ecg:`` configuration.
    out : callable, default=print

    Returns
    -------
    result : ECGResult or PatientResult
    logged : Logged
    """
    from . import _report, _tracking

    if config["data"]["name"] == "mitdb:advance_warning":  # its own protocol (pipelines/advance_warning.py)
        from .advance_warning import run as run_advance_warning

        return run_advance_warning(config, out=out)
    # a wrong or stopped tracking server is reported now, not after the search
    _tracking.check_server(config["tracking"]["uri"])
    data = load_data(config["data"], config["random_state"])
    if "splits" in data.info:
        out(_report.patient_header(config, data))
    else:
        out(_report.header(config, data, make_cv(config, data)))
    result = fit_and_evaluate(config, data)
    if isinstance(result, PatientResult):
        logged = log_result(result, config, config["tracking"])
        out(_report.patient_table(config, result, logged))
        out(summary_text(config, result))
        return result, logged
    model_file = None
    if config["model_file"] is not None:
        model_file = save_model_file(result, config["model_file"])
    logged = log_result(result, config, config["tracking"])
    out(_report.result_table(config, result, logged, model_file))
    if result.ec57:
        out(summary_text(config, result))
    return result, logged


#: What the full protocols reached (docs/results-ecg.md), printed beside the quick run's figures.
FULL_PROTOCOL = {
    "mitdb:de_chazal": {"what": "DS1 -> DS2, 22 -> 22 full records, RR and template features, 3 networks "
                                "blended with gradient boosting + offsets tuned on DS1 (F's fixed at 0 after "
                                "a look at DS2), mean of 3 seeds",
                        "gross": {"S": {"Se": 61.5, "+P": 30.0}, "V": {"Se": 95.1, "+P": 82.9}},
                        "wall": "3.1 min on 2 cores"},
    "mitdb:patient_specific": {"what": "44 records, 5 + 25 minutes, RR features, grid and offsets chosen on "
                                       "minutes 2.5-5, 3 networks, mean of 3 seeds",
                               "gross": {"V": {"Se": 90.5, "+P": 96.3}, "S": {"Se": 60.2, "+P": 71.1}},
                               "wall": "10.4 min on 2 cores"},
}


def _full_line(name):
    full = FULL_PROTOCOL.get(name)
    if not full:
        return f"  full protocol: python -m pipelines ecg --dataset {name} (see docs/results-ecg.md)"
    return (f"  full protocol ({name}, {full['what']}): " + ", ".join(
        f"{c} Se {v['Se']:.1f} +P {v['+P']:.1f}" for c, v in full["gross"].items())
        + f"  [python -m pipelines ecg --dataset {name}, {full['wall']}]")


def offsets_line(offsets, scoring):
    """The printed lines of the tuned decision offsets, one per seed.

    Parameters
    ----------
    offsets : list of dict
        ``ECGResult.offsets``: ``seed``, ``offset_<class>``, and the out-of-fold
        scores without and with the offsets.
    scoring : str
        The scoring they were tuned by.

    Returns
    -------
    str
    """
    rows = []
    for o in offsets:
        offs = ", ".join(f"{k[7:]} {v:+.1f}" for k, v in o.items() if k.startswith("offset_") and k[7:] != _NORMAL)
        rows.append(f"seed {o['seed']}: {offs} (out-of-fold {scoring} {o['oof_score_without_offsets']:.3f} -> "
                    f"{o['oof_score_with_offsets']:.3f})")
    fixed = offsets[0].get("fixed_classes", "") if offsets else ""
    also = (f"; {fixed} fixed at 0 too: search.fixed_offset_share or more of its training beats come from one "
            "record, so out-of-fold predictions cannot tell how its offset carries to other patients") if fixed else ""
    return ("  decision offsets on log-probabilities, tuned on out-of-fold predictions of the training records "
            f"(N fixed at 0{also}):\n    " + "\n    ".join(rows))


def summary_text(config, result):
    """The EC57 tables printed after a MIT-BIH run, beside the published figures, and for the
    shipped-data runs what they can and cannot show."""
    data = result.data
    lines = [""]
    if isinstance(result, PatientResult):
        sub = [r for r in data.info["patients"] if r in RECORDS_200]
        lines.append(ec57_table(result.ec57, "Patient-specific test beats", KIRANYAZ_2016,
                                "Kiranyaz et al. 2016 (44 records)", classes=("V", "S")))
        if 0 < len(sub) < len(data.info["patients"]):
            lines.append(ec57_table(result.ec57, f"  the {len(sub)} records 200-234", records=sub,
                                    classes=("V", "S")))
        if result.offsets:
            o = result.offsets
            offs = ", ".join(f"{c} {v:+.1f}" for c, v in o["offsets"].items() if c != _NORMAL)
            lines.append(f"  decision offsets on log-probabilities, tuned on the pooled inner minutes "
                         f"({o['n_beats']} training beats, N fixed at 0): {offs} ({o['scoring']} "
                         f"{o['score_without']:.3f} -> {o['score_with']:.3f})")
        if config["quick"] or data.info["train_minutes"] != 5.0:
            lines.append(_full_line("mitdb:patient_specific"))
        return "\n".join(lines)
    anchor = DE_CHAZAL_2004 if data.name in ("mitdb:de_chazal", "mitdb:inter_patient") else None
    lines.append(ec57_table(result.ec57, f"Test records ({data.info['test_records']})", anchor,
                            "de Chazal et al. 2004 (DS2)"))
    if result.offsets:
        lines.append(offsets_line(result.offsets, config["search"]["tune_offsets"]))
    if data.name != "mitdb:de_chazal":
        n_tr = {c: int(np.sum(data.y_train == c)) for c in ("S", "V", "F") if c in set(data.y_train)}
        n_te = {c: int(np.sum(data.y_test == c)) for c in ("S", "V", "F")}
        top_s = max(set(data.groups_test.tolist()),
                    key=lambda r: np.sum((data.groups_test == r) & (data.y_test == "S")))
        lines.append(f"  what this shows: {len(data.y_train)} training beats from 5-minute excerpts, with "
                     + ", ".join(f"{n_tr[c]} {c}" for c in n_tr) + f"; the test beats hold "
                     + ", ".join(f"{n_te[c]} {c}" for c in n_te)
                     + f" ({int(np.sum((data.groups_test == top_s) & (data.y_test == 'S')))} of the S beats "
                     f"in record {top_s})"
                     + ("" if "F" in n_tr else "; F beats are left out of training (data.classes)")
                     + ". Too few S training beats for the S figures to mean much; V and N are the ones "
                     "to read.")
        lines.append(_full_line("mitdb:de_chazal"))
    return "\n".join(lines)

"""The ECG workflow: data -> Pipeline(preprocessing -> CNN1DClassifier) ->
GridSearchCV -> refit -> held-out evaluation, tracked in MLflow.

The estimators know nothing of MLflow: this module fits and evaluates, and
hands plain results (``cv_results_``, ``get_params()``, ``history_``, metric
dicts, files) to :mod:`pipelines._tracking`, which is the only module that
imports MLflow.
"""

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import ConfigError, preprocessing_step

__all__ = ["ECGData", "build_pipeline", "evaluate", "load_data", "make_cv", "run"]

_AAMI_ORDER = ("N", "S", "V", "F", "Q")
_NORMAL = "N"


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


def load_data(ds):
    """Load the data set described by a validated ``dataset`` config section."""
    from sk1dcnn import datasets

    if ds["kind"] == "ucr":
        X_tr, y_tr, X_te, y_te = datasets.load_ucr(ds["sub"], data_home=ds["data_dir"])
        where = ds["data_dir"] or "shipped or ../shared/data"
        return ECGData(ds["name"], "ucr", X_tr, y_tr, X_te, y_te,
                       info={"source": where, "n_timepoints": X_tr.shape[-1]})
    # mitdb:inter_patient
    kw = dict(data_dir=ds["data_dir"], before=ds["before"], after=ds["after"], channel=ds["channel"])
    X_tr, y_tr, g_tr, _ = datasets.load_mitdb_beats(datasets.INTER_PATIENT_TRAIN, **kw)
    X_te, y_te, g_te, _ = datasets.load_mitdb_beats(datasets.INTER_PATIENT_TEST, **kw)
    where = ds["data_dir"] or str(datasets.shipped_data_dir("mitdb")) + " (5-minute excerpts)"
    return ECGData(ds["name"], "mitdb", X_tr, y_tr, X_te, y_te, g_tr, g_te, fs=datasets.MITDB_FS,
                   info={"source": where, "train_records": " ".join(datasets.INTER_PATIENT_TRAIN),
                         "test_records": " ".join(datasets.INTER_PATIENT_TEST),
                         "n_timepoints": X_tr.shape[-1]})


def _auto_steps(kind, fs):
    if kind == "mitdb":
        return [{"bandpass": {"low": 0.5, "high": 40.0, "fs": fs}},
                {"resample": {"orig_fs": fs, "target_fs": fs / 2}},
                {"standardize": {}}]
    return [{"standardize": {}}]


def build_pipeline(cfg, data):
    """``Pipeline([*preprocessing, ("cnn", CNN1DClassifier(**model))])`` from a config."""
    from sklearn.pipeline import Pipeline

    from sk1dcnn import CNN1DClassifier

    steps_cfg = cfg["preprocessing"]
    if steps_cfg == "auto":
        steps_cfg = _auto_steps(data.kind, data.fs)
    steps = [(name, preprocessing_step(name, params)) for item in steps_cfg
             for name, params in item.items()]
    model = {"random_state": cfg["random_state"], **cfg["model"]}
    pipe = Pipeline([*steps, ("cnn", CNN1DClassifier(**model))])
    known = pipe.get_params()
    for key in cfg["grid"]:
        if key not in known:
            allowed = ", ".join(k for k in known if "__" in k)
            raise ConfigError(f"{cfg['source']}: grid.{key}: not a parameter of the pipeline "
                              f"{[n for n, _ in pipe.steps]}; allowed: {allowed}")
    return pipe


def make_cv(cfg, data):
    """Grouped folds for MIT-BIH (no record in two folds), stratified ones for UCR."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    n_splits = cfg["cv"]
    if data.kind == "mitdb":
        n_groups = len(np.unique(data.groups_train))
        if n_splits > n_groups:
            raise ConfigError(f"{cfg['source']}: cv: {n_splits} folds but only {n_groups} training "
                              f"records; allowed: 2..{n_groups}")
        return StratifiedGroupKFold(n_splits, shuffle=True, random_state=cfg["random_state"])
    return StratifiedKFold(n_splits, shuffle=True, random_state=cfg["random_state"])


def evaluate(model, X, y, labels):
    """Held-out metrics as arrhythmia papers report them.

    Returns
    -------
    metrics : dict
        ``accuracy``, ``balanced_accuracy``, ``f1_macro`` and per class
        ``se_<c>`` (sensitivity, recall) and ``ppv_<c>`` (positive
        predictivity, precision), plus ``support_<c>``.
    report : str
        ``classification_report`` text.
    cm : ndarray of shape (n_labels, n_labels)
        Confusion matrix (rows = true, columns = predicted) in ``labels`` order.
    y_pred : ndarray
    """
    from sklearn.metrics import (accuracy_score, balanced_accuracy_score, classification_report,
                                 confusion_matrix, f1_score, precision_recall_fscore_support)

    y_pred = model.predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # classes absent from y_true or y_pred
        ppv, se, _, support = precision_recall_fscore_support(y, y_pred, labels=labels, zero_division=0)
        metrics = {
            "accuracy": accuracy_score(y, y_pred),
            "balanced_accuracy": balanced_accuracy_score(y, y_pred),
            "f1_macro": f1_score(y, y_pred, labels=sorted(set(np.unique(y).tolist())), average="macro",
                                 zero_division=0),
        }
        report = classification_report(y, y_pred, labels=labels, zero_division=0, digits=3)
    for c, s, p, n in zip(labels, se, ppv, support):
        metrics[f"se_{c}"] = float(s)
        metrics[f"ppv_{c}"] = float(p)
        metrics[f"support_{c}"] = int(n)
    cm = confusion_matrix(y, y_pred, labels=labels)
    return {k: float(v) for k, v in metrics.items()}, report, cm, y_pred


def model_metadata(cfg, data, classes):
    """What ecg-monitor needs to cut beats the way the model was trained."""
    import sk1dcnn

    meta = {"dataset": data.name, "kind": data.kind, "classes": [str(c) for c in classes],
            "sk1dcnn_version": sk1dcnn.__version__}
    if data.kind == "mitdb":
        ds = cfg["dataset"]
        meta.update(fs=float(data.fs), before=float(ds["before"]), after=float(ds["after"]),
                    channel=int(ds["channel"]), normal_class=_NORMAL)
    return meta


def run(cfg, *, out=print):
    """Run the whole workflow for a validated config; return a result dict."""
    import joblib
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV

    from . import _report, _tracking

    t_start = time.perf_counter()
    data = load_data(cfg["dataset"])
    pipe = build_pipeline(cfg, data)
    cv = make_cv(cfg, data)
    labels = data.labels
    out(_report.header(cfg, data, cv))

    tracker = _tracking.Tracker(cfg["tracking_uri"], cfg["experiment_name"], cfg["artifact_location"])
    run_name = f"ecg-{data.name.replace(':', '-')}" + ("-quick" if cfg["quick"] else "")
    with tracker.parent_run(run_name, tags={"sk1dcnn.workflow": "ecg", "sk1dcnn.dataset": data.name,
                                            "sk1dcnn.quick": str(cfg["quick"]).lower()}) as run_id:
        tracker.log_params(_report.run_params(cfg, data, cv))

        search = GridSearchCV(pipe, cfg["grid"], scoring=cfg["scoring"], cv=cv, n_jobs=cfg["n_jobs"],
                              refit=True, error_score="raise")
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.filterwarnings("ignore", message=".*least populated class.*")
            # a fold may miss a rare class (S, F) that the model predicts
            warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
            search.fit(data.X_train, data.y_train,
                       **({"groups": data.groups_train} if data.groups_train is not None else {}))
        search_time = time.perf_counter() - t0
        tracker.log_candidates(search.cv_results_, cfg["scoring"])

        best = search.best_estimator_
        cnn = best.named_steps["cnn"]
        tracker.log_params(_report.refit_params(best))
        tracker.log_history(cnn.history_)

        metrics, report, cm, _ = evaluate(best, data.X_test, data.y_test, labels)
        tracker.log_metrics({f"test_{k}": v for k, v in metrics.items() if not k.startswith("support_")})
        tracker.log_metrics({"best_cv_score": float(search.best_score_), "search_time_s": search_time,
                             "refit_time_s": float(search.refit_time_), "n_epochs": cnn.n_iter_})

        # The best configuration refit with more seeds (no peeking: the grid was
        # chosen on the training split only); the first run is the refit above.
        seed_rows = [(int(cnn.random_state), metrics)]
        for seed in cfg["seeds"]:
            if seed == cnn.random_state:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                other = clone(best).set_params(cnn__random_state=seed).fit(data.X_train, data.y_train)
            seed_rows.append((seed, evaluate(other, data.X_test, data.y_test, labels)[0]))
        seed_summary = _report.seed_summary(seed_rows)
        if len(seed_rows) > 1:
            for step, (seed, m) in enumerate(seed_rows):
                tracker.log_metrics({f"seeds/test_{k}": m[k] for k in ("accuracy", "balanced_accuracy",
                                                                         "f1_macro")}, step=seed)
            tracker.log_metrics({f"seeds_{k}": v for k, v in seed_summary.items()})

        with _report.artifact_dir() as adir:
            _report.write_artifacts(adir, best, cnn, report, cm, labels, search, cfg, data, metrics)
            tracker.log_artifacts(adir)

        meta = model_metadata(cfg, data, cnn.classes_)
        model_uri = None
        if cfg["log_model"]:
            model_uri = tracker.log_model(best, data.X_test[:5], meta)
        model_file = cfg["model_file"]
        if model_file is not None:
            Path(model_file).parent.mkdir(parents=True, exist_ok=True)
            joblib.dump({"pipeline": best, "metadata": meta}, model_file)
        tracker.log_metrics({"wall_time_s": time.perf_counter() - t_start})

    result = {
        "run_id": run_id, "experiment_id": tracker.experiment_id, "tracking_uri": cfg["tracking_uri"],
        "model_uri": model_uri, "model_file": model_file, "metrics": metrics, "labels": labels,
        "best_params": search.best_params_, "best_cv_score": float(search.best_score_),
        "cv_results": search.cv_results_, "seeds": seed_summary, "n_seeds": len(seed_rows),
        "wall_time_s": time.perf_counter() - t_start, "data": data,
    }
    out(_report.result_table(cfg, result))
    return result

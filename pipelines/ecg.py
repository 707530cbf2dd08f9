"""The ECG workflow: data -> Pipeline(preprocessing -> CNN1DClassifier) ->
GridSearchCV -> refit -> held-out evaluation, tracked in MLflow.

The estimators know nothing of MLflow: this module fits and evaluates, and
hands plain results (``cv_results_``, ``get_params()``, ``history_``, metric
dicts, files) to :mod:`pipelines._tracking`, which is the only module that
imports MLflow.
"""

import contextlib
import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import ConfigError, TrackingServerError, preprocessing_step

__all__ = ["ECGData", "build_pipeline", "evaluate", "load_data", "make_cv", "run",
           "run_patient_specific", "detection_stats"]

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


def load_data(ds, random_state=0):
    """Load the data set described by a validated ``dataset`` config section.

    For ``mitdb:patient_specific`` the returned data holds every beat of the
    records read (``X_train``/``y_train``, record in ``groups_train``) and, in
    ``info["splits"]``, the ``(train_idx, test_idx)`` of each patient;
    ``X_test``/``y_test`` are the test beats of all patients together.
    """
    from sk1dcnn import datasets

    if ds["kind"] == "mitdb" and ds["sub"] == "patient_specific":
        return _load_patient_specific(ds, random_state)
    if ds["kind"] == "ucr":
        X_tr, y_tr, X_te, y_te = datasets.load_ucr(ds["sub"], data_home=ds["data_dir"])
        where = ds["data_dir"] or "shipped or ../shared/data"
        return ECGData(ds["name"], "ucr", X_tr, y_tr, X_te, y_te,
                       info={"source": where, "n_timepoints": X_tr.shape[-1]})
    # mitdb:inter_patient
    kw = dict(data_dir=ds["data_dir"], before=ds["before"], after=ds["after"], channel=ds["channel"])
    X_tr, y_tr, g_tr, _ = _keep_classes(ds, *datasets.load_mitdb_beats(datasets.INTER_PATIENT_TRAIN, **kw))
    X_te, y_te, g_te, _ = _keep_classes(ds, *datasets.load_mitdb_beats(datasets.INTER_PATIENT_TEST, **kw))
    where = ds["data_dir"] or str(datasets.shipped_data_dir("mitdb")) + " (5-minute excerpts)"
    return ECGData(ds["name"], "mitdb", X_tr, y_tr, X_te, y_te, g_tr, g_te, fs=datasets.MITDB_FS,
                   info={"source": where, "train_records": " ".join(datasets.INTER_PATIENT_TRAIN),
                         "test_records": " ".join(datasets.INTER_PATIENT_TEST),
                         "n_timepoints": X_tr.shape[-1], **_classes_info(ds)})


def _keep_classes(ds, X, y, *rest):
    """Drop the beats whose AAMI class is not in ``dataset.classes`` (None keeps all)."""
    if ds.get("classes") is None:
        return (X, y, *rest)
    keep = np.isin(y, ds["classes"])
    return (X[keep], y[keep], *(a[keep] for a in rest))


def _classes_info(ds):
    return {} if ds.get("classes") is None else {"classes_kept": " ".join(ds["classes"])}


def _load_patient_specific(ds, random_state=0):
    """Kiranyaz et al. (2016): per patient, common beats + own first 5 minutes -> the next 25."""
    from sk1dcnn import datasets

    if ds["data_dir"] is None:
        shipped = datasets.shipped_data_dir("mitdb")
        raise ConfigError(
            f"dataset.data_dir: {ds['name']} trains on the first {ds['train_minutes']:g} minutes of "
            f"each record and tests on the rest, but the 5-minute MIT-BIH excerpts shipped in {shipped} "
            "have no test part; allowed: 'shared' (--data-dir shared: the full 30-minute records in "
            "../shared/data/mitdb or $SK1DCNN_DATA/mitdb) or a folder with full MIT-BIH records")
    folder = Path(ds["data_dir"])
    available = sorted(p.stem for p in folder.glob("*.hea"))
    patients = ds["records"] or available
    missing = [r for r in patients if r not in available]
    if missing:
        raise FileNotFoundError(f"MIT-BIH record(s) {', '.join(missing)} not found in {folder} "
                                f"(found: {', '.join(available) or 'none'})")
    # the paper's common beats come from records 100-124
    common = [r for r in available if r.isdigit() and 100 <= int(r) <= 124]
    records = sorted(set(patients) | set(common))
    kw = dict(data_dir=folder, before=ds["before"], after=ds["after"], channel=ds["channel"])
    X, y, rec, pos = _keep_classes(ds, *datasets.load_mitdb_beats(records, **kw))
    splits = {}
    for patient in patients:
        try:
            splits[patient] = datasets.patient_specific_split(
                y, rec, pos, patient, train_minutes=ds["train_minutes"], common_records=common,
                n_common_per_class=ds["n_common_per_class"], random_state=random_state)
        except ValueError as exc:  # a record no longer than the training segment
            raise ConfigError(f"dataset.data_dir: {exc}; allowed: a folder with the full "
                              "30-minute MIT-BIH records, or 'shared'") from None
    test = np.concatenate([te for _, te in splits.values()])
    n_common = {p: int(np.sum(rec[tr] != p)) for p, (tr, _) in splits.items()}
    return ECGData(ds["name"], "mitdb", X, y, X[test], y[test], rec, rec[test], fs=datasets.MITDB_FS,
                   info={"source": str(folder), "patients": patients, "common_records": " ".join(common),
                         "splits": splits, "n_common": n_common, "positions": pos,
                         "train_minutes": float(ds["train_minutes"]),
                         "train_records": f"common beats from {' '.join(common)} + own first "
                                          f"{ds['train_minutes']:g} min",
                         "test_records": " ".join(patients), "n_timepoints": X.shape[-1],
                         **_classes_info(ds)})


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
    """Grouped folds for MIT-BIH (no record in two folds), stratified ones for UCR
    (repeated with reshuffling when ``cv: {n_splits: k, n_repeats: r}``, r > 1)."""
    from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedGroupKFold, StratifiedKFold

    n_splits = cfg["cv"]
    if data.kind == "mitdb":
        n_groups = len(np.unique(data.groups_train))
        if n_splits > n_groups:
            raise ConfigError(f"{cfg['source']}: cv: {n_splits} folds but only {n_groups} training "
                              f"records; allowed: 2..{n_groups}")
        return StratifiedGroupKFold(n_splits, shuffle=True, random_state=cfg["random_state"])
    if cfg.get("cv_repeats", 1) > 1:
        return RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=cfg["cv_repeats"],
                                       random_state=cfg["random_state"])
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


def _refit(proto, seed, X, y):
    """Fit a clone of the chosen pipeline with one seed (runs in a joblib worker)."""
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    t0 = time.perf_counter()
    model = clone(proto)
    if seed is not None:
        model.set_params(cnn__random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return model, time.perf_counter() - t0


@contextlib.contextmanager
def search_backend(cfg):
    """Inside the block joblib (GridSearchCV's n_jobs) runs on the config's backend:
    local processes, or the dask.distributed cluster at ``cfg["scheduler"]`` with
    the BLAS threads of each worker capped (:func:`sk1dcnn.parallel.dask_backend`)."""
    if cfg.get("backend", "local") != "dask":
        yield None
        return
    try:
        import distributed  # noqa: F401

        from sk1dcnn.parallel import dask_backend
    except ImportError as exc:
        raise ConfigError(f"{cfg['source']}: backend: dask needs dask.distributed ({exc}); "
                          "allowed: pip install sk1dcnn[dask], or backend: local") from None
    with contextlib.ExitStack() as stack:
        try:
            client = stack.enter_context(dask_backend(cfg["scheduler"]))
        except OSError as exc:  # distributed's connect timeout
            raise ConfigError(f"{cfg['source']}: scheduler: cannot connect to {cfg['scheduler']} "
                              f"({exc}); start one with `dask scheduler` and `dask worker "
                              "tcp://HOST:8786` and pass its address") from None
        yield client


def _save_local(best, meta, metrics, summary, best_params, seed_rows, run_id):
    """Write the fitted model and its metrics to ``<cwd>/mlartifacts/local-<time>/``; return the folder."""
    import joblib

    folder = Path.cwd() / "mlartifacts" / f"local-{time.strftime('%Y%m%d-%H%M%S')}-{run_id or 'norun'}"
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump({"pipeline": best, "metadata": meta}, folder / "model.joblib")
    doc = {"run_id": run_id, "test": metrics, **summary, "best_params": best_params,
           "seeds": [{"seed": s, **m} for s, m in seed_rows], "metadata": meta}
    (folder / "metrics.json").write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
    return folder


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
    from joblib import Parallel, delayed
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV

    from . import _report, _tracking

    if cfg["dataset"]["name"] == "mitdb:patient_specific":
        return run_patient_specific(cfg, out=out)
    t_start = time.perf_counter()
    # a wrong or stopped tracking server is reported now, not after the search
    _tracking.check_server(cfg["tracking_uri"])
    data = load_data(cfg["dataset"], cfg["random_state"])
    pipe = build_pipeline(cfg, data)
    cv = make_cv(cfg, data)
    labels = data.labels
    out(_report.header(cfg, data, cv))

    tracker = _tracking.Tracker(cfg["tracking_uri"], cfg["experiment_name"], cfg["artifact_location"])
    run_name = f"ecg-{data.name.replace(':', '-')}" + ("-quick" if cfg["quick"] else "")
    best = meta = local_copy = None
    try:
        with tracker.parent_run(run_name, tags={"sk1dcnn.workflow": "ecg", "sk1dcnn.dataset": data.name,
                                                "sk1dcnn.quick": str(cfg["quick"]).lower(),
                                                "sk1dcnn.backend": cfg.get("backend", "local")}) as run_id:
            tracker.log_params(_report.run_params(cfg, data, cv))

            # with dask, joblib's n_jobs=1 would run the candidates one after another
            n_jobs = -1 if cfg.get("backend") == "dask" else cfg["n_jobs"]
            search = GridSearchCV(pipe, cfg["grid"], scoring=cfg["scoring"], cv=cv, n_jobs=n_jobs,
                                  refit=False, error_score="raise")
            t0 = time.perf_counter()
            with warnings.catch_warnings(), search_backend(cfg):
                warnings.simplefilter("ignore", ConvergenceWarning)
                warnings.filterwarnings("ignore", message=".*least populated class.*")
                # a fold may miss a rare class (S, F) that the model predicts
                warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
                search.fit(data.X_train, data.y_train,
                           **({"groups": data.groups_train} if data.groups_train is not None else {}))
            search_time = time.perf_counter() - t0

            # The best configuration refit on the whole training split with every seed
            # at once (no peeking: the grid was chosen on the training split only).
            # The first seed (the model's random_state) gives the model that is logged.
            proto = clone(pipe).set_params(**search.best_params_)
            first = proto.named_steps["cnn"].random_state
            if first is None:  # model: {random_state: null}: the first seed stands in
                first = cfg["seeds"][0]
                proto.set_params(cnn__random_state=first)
            seeds = [first] + [s for s in cfg["seeds"] if s != first]
            n_par = len(seeds) if cfg["n_jobs"] == -1 else min(cfg["n_jobs"], len(seeds))
            fits = Parallel(n_jobs=n_par)(delayed(_refit)(proto, seed, data.X_train, data.y_train)
                                          for seed in seeds)
            best, refit_time = fits[0]
            cnn = best.named_steps["cnn"]
            metrics, report, cm, _ = evaluate(best, data.X_test, data.y_test, labels)
            seed_rows = [(int(first), metrics)] + [
                (seed, evaluate(model, data.X_test, data.y_test, labels)[0])
                for seed, (model, _) in zip(seeds[1:], fits[1:])]
            seed_summary = _report.seed_summary(seed_rows)
            summary = {"best_cv_score": float(search.best_score_), "search_time_s": search_time,
                       "refit_time_s": float(refit_time), "n_epochs": cnn.n_iter_}
            meta = model_metadata(cfg, data, cnn.classes_)
            model_file = cfg["model_file"]
            if model_file is not None:
                Path(model_file).parent.mkdir(parents=True, exist_ok=True)
                joblib.dump({"pipeline": best, "metadata": meta}, model_file)
            # Nothing computed is lost if a remote server goes away from here on.
            local_copy = _save_local(best, meta, metrics, summary, search.best_params_, seed_rows,
                                     run_id) if _tracking.is_remote(cfg["tracking_uri"]) else None

            tracker.log_candidates(search.cv_results_, cfg["scoring"])
            tracker.log_params(_report.refit_params(best))
            tracker.log_history(cnn.history_)
            tracker.log_metrics({f"test_{k}": v for k, v in metrics.items()
                                 if not k.startswith("support_")})
            tracker.log_metrics(summary)
            if len(seed_rows) > 1:
                for step, (seed, m) in enumerate(seed_rows):
                    tracker.log_metrics({f"seeds/test_{k}": m[k] for k in ("accuracy", "balanced_accuracy",
                                                                             "f1_macro")}, step=seed)
                tracker.log_metrics({f"seeds_{k}": v for k, v in seed_summary.items()})

            with _report.artifact_dir() as adir:
                _report.write_artifacts(adir, best, cnn, report, cm, labels, search, cfg, data, metrics)
                tracker.log_artifacts(adir)

            model_uri = None
            if cfg["log_model"]:
                model_uri = tracker.log_model(best, data.X_test[:5], meta)
            tracker.log_metrics({"wall_time_s": time.perf_counter() - t_start})
    except _tracking.TRACKING_ERRORS as exc:
        if best is not None and local_copy is None:
            local_copy = _save_local(best, meta, metrics, summary, search.best_params_, seed_rows,
                                     tracker.run_id)
        where = (f"the fitted model and metrics were saved first in {local_copy} (model.joblib: "
                 f"joblib.load(...)['pipeline']; metrics.json)") if local_copy else \
            "nothing had been fitted yet"
        raise TrackingServerError(
            f"logging to the MLflow tracking store {cfg['tracking_uri']} failed during run "
            f"{tracker.run_id} ({type(exc).__name__}: {str(exc)[:400]}); {where}. "
            f"{_tracking.SERVER_HINT if _tracking.is_remote(cfg['tracking_uri']) else ''}".rstrip()
        ) from exc

    result = {
        "run_id": run_id, "experiment_id": tracker.experiment_id, "tracking_uri": cfg["tracking_uri"],
        "model_uri": model_uri, "model_file": model_file, "metrics": metrics, "labels": labels,
        "best_params": search.best_params_, "best_cv_score": float(search.best_score_),
        "cv_results": search.cv_results_, "seeds": seed_summary, "n_seeds": len(seed_rows),
        "seed_rows": seed_rows, "local_copy": local_copy,
        "wall_time_s": time.perf_counter() - t_start, "data": data,
    }
    out(_report.result_table(cfg, result))
    return result


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


def _fit_predict(pipe, params, seed, X_tr, y_tr, X_te):
    import warnings as _w

    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    t0 = time.perf_counter()
    model = clone(pipe).set_params(**params, cnn__random_state=seed)
    with _w.catch_warnings():
        _w.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_tr, y_tr)
    y_pred = model.predict(X_te)
    cnn = model.named_steps["cnn"]
    return y_pred, list(cnn.history_), int(cnn.n_iter_), time.perf_counter() - t0


def _choose_params(cfg, pipe, X_tr, y_tr):
    """The grid's only candidate, or the one GridSearchCV picks on the patient's training beats."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, ParameterGrid, StratifiedKFold

    candidates = list(ParameterGrid(cfg["grid"]))
    if len(candidates) == 1:
        return candidates[0], None, None
    n_jobs = -1 if cfg.get("backend") == "dask" else cfg["n_jobs"]
    search = GridSearchCV(pipe, cfg["grid"], scoring=cfg["scoring"], n_jobs=n_jobs, refit=False,
                          cv=StratifiedKFold(cfg["cv"], shuffle=True, random_state=cfg["random_state"]),
                          error_score="raise")
    with warnings.catch_warnings(), search_backend(cfg):
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        search.fit(X_tr, y_tr)
    return search.best_params_, float(search.best_score_), search.cv_results_


def run_patient_specific(cfg, *, out=print):
    """Kiranyaz et al. (2016): one model per patient (test record), trained on common beats from
    records 100-124 plus the first 5 minutes of the patient's own record, tested on the
    remaining 25 minutes; V and S sensitivity / PPV per record and in total (gross)."""
    from joblib import Parallel, delayed

    from . import _report, _tracking

    t_start = time.perf_counter()
    _tracking.check_server(cfg["tracking_uri"])
    data = load_data(cfg["dataset"], cfg["random_state"])
    pipe = build_pipeline(cfg, data)
    labels = data.labels
    splits = data.info["splits"]
    out(_report.patient_header(cfg, data))

    tracker = _tracking.Tracker(cfg["tracking_uri"], cfg["experiment_name"], cfg["artifact_location"])
    run_name = "ecg-mitdb-patient_specific" + ("-quick" if cfg["quick"] else "")
    with tracker.parent_run(run_name, tags={"sk1dcnn.workflow": "ecg", "sk1dcnn.dataset": data.name,
                                            "sk1dcnn.quick": str(cfg["quick"]).lower()}) as run_id:
        tracker.log_params(_report.patient_run_params(cfg, data))
        chosen = {}
        for patient, (tr, _) in splits.items():
            chosen[patient] = _choose_params(cfg, pipe, data.X_train[tr], data.y_train[tr])
        jobs = [(patient, seed) for patient in splits for seed in cfg["seeds"]]
        fits = Parallel(n_jobs=cfg["n_jobs"])(
            delayed(_fit_predict)(pipe, chosen[p][0], seed, data.X_train[splits[p][0]],
                                  data.y_train[splits[p][0]], data.X_train[splits[p][1]])
            for p, seed in jobs)
        by_job = dict(zip(jobs, fits))

        rows, gross_per_seed = [], {seed: detection_stats([], [], labels) for seed in cfg["seeds"]}
        for patient, (tr, te) in splits.items():
            y_te = data.y_train[te]
            per_seed = []
            for seed in cfg["seeds"]:
                y_pred = by_job[(patient, seed)][0]
                st = detection_stats(y_te, y_pred, labels)
                for c in labels:
                    for k in ("tp", "fn", "fp"):
                        gross_per_seed[seed][c][k] += st[c][k]
                per_seed.append((st, float(np.mean(y_pred == y_te))))
            row = {"record": patient, "n_train": len(tr), "n_common": data.info["n_common"][patient],
                   "n_test": len(te), "accuracy": float(np.mean([a for _, a in per_seed])),
                   "epochs": float(np.mean([by_job[(patient, s)][2] for s in cfg["seeds"]])),
                   "fit_time_s": float(np.mean([by_job[(patient, s)][3] for s in cfg["seeds"]])),
                   "params": chosen[patient][0], "cv_score": chosen[patient][1]}
            for c in _PS_CLASSES:
                row[f"n_{c}"] = int(np.sum(y_te == c))
                row[f"se_{c}"], row[f"ppv_{c}"] = _nanmean_cols(
                    np.array([_se_ppv(st[c]) for st, _ in per_seed]))
            rows.append(row)
            cid = tracker.child_run(
                f"record-{patient}", params={"record": patient, "n_train": row["n_train"],
                                             "n_test": row["n_test"],
                                             **{k: v for k, v in chosen[patient][0].items()}},
                metrics={k: row[k] for k in ("accuracy", "se_V", "ppv_V", "se_S", "ppv_S", "n_V", "n_S",
                                             "epochs", "fit_time_s")},
                history=by_job[(patient, cfg["seeds"][0])][1])
            row["run_id"] = cid

        gross = {}
        for c in labels:
            vals = np.array([_se_ppv(gross_per_seed[s][c]) for s in cfg["seeds"]])
            gross[f"se_{c}"], gross[f"ppv_{c}"] = _nanmean_cols(vals)
            gross[f"se_{c}_std"], gross[f"ppv_{c}_std"] = _nanmean_cols(vals, np.nanstd)
        first = cfg["seeds"][0]
        y_all = np.concatenate([data.y_train[te] for _, te in splits.values()])
        p_all = np.concatenate([by_job[(p, first)][0] for p in splits])
        metrics, report, cm, _ = evaluate(_Fixed(p_all), None, y_all, labels)
        tracker.log_metrics({f"gross_{k}": v for k, v in gross.items()})
        tracker.log_metrics({f"test_{k}": v for k, v in metrics.items() if not k.startswith("support_")})
        for i, seed in enumerate(cfg["seeds"]):
            for c in _PS_CLASSES:
                se, ppv = _se_ppv(gross_per_seed[seed][c])
                tracker.log_metrics({f"seeds/gross_se_{c}": se, f"seeds/gross_ppv_{c}": ppv}, step=seed)
        with _report.artifact_dir() as adir:
            _report.write_patient_artifacts(adir, rows, gross, report, cm, labels, cfg, data)
            tracker.log_artifacts(adir)
        tracker.log_metrics({"wall_time_s": time.perf_counter() - t_start})

    result = {"run_id": run_id, "experiment_id": tracker.experiment_id, "tracking_uri": cfg["tracking_uri"],
              "rows": rows, "gross": gross, "gross_per_seed": gross_per_seed, "metrics": metrics,
              "labels": labels, "n_seeds": len(cfg["seeds"]), "model_uri": None, "model_file": None,
              "wall_time_s": time.perf_counter() - t_start, "data": data}
    out(_report.patient_table(cfg, result))
    return result


class _Fixed:
    """Stands in for a model in :func:`evaluate` when the predictions are already known."""

    def __init__(self, y_pred):
        self.y_pred = y_pred

    def predict(self, X):
        return self.y_pred

"""The audio workflows, tracked in MLflow like the ECG one (configured by ``audio:`` in mlflow.yml).

``python -m pipelines audio``: spoken-digit classification on FSDD. A
``Pipeline(amplitude normalization -> front end -> CNN1DClassifier)`` is
grid-searched over the front ends of ``search: grid: front_end:`` (raw waveform
into the sample-level CNN, or log-mel spectrogram into a plain CNN) with folds
by speaker, scored by ``search: scoring:`` (auto: accuracy), refit on the
official training split (takes 5-49), evaluated on the official test split
(takes 0-4), then refit once per held-out speaker (leave one speaker out).

``python -m pipelines audio-tagging``: multi-label tagging of two-clip
mixtures (both digits and both speakers are tags) with sigmoid outputs and
binary cross-entropy, searched and evaluated with per-tag and mean ROC-AUC.

As in :mod:`pipelines.ecg`, computing and logging are two steps:
:func:`fit_and_evaluate` (config, data) -> :class:`AudioResult` uses no
MLflow; :func:`log_result` (result, config, tracking) makes every MLflow call
through :mod:`pipelines._tracking`; :func:`run` does both and prints a line.
"""

import json
import time
from dataclasses import dataclass, field

import numpy as np

from ._fitting import evaluate, fit_clone, grid_search
from ._report import Logged
from .config import architecture_specs, audio_scoring

__all__ = ["AudioResult", "TaggingData", "build_pipeline", "fit_and_evaluate", "load_data",
           "load_tagging_data", "log_result", "run"]

FS = 8000
DIGITS = list(range(10))


@dataclass
class TaggingData:
    """Two-clip mixtures of FSDD: training ones from the training clips, test ones from the test clips."""

    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    tags: list
    data_dir: str


@dataclass
class AudioResult:
    """Everything :func:`fit_and_evaluate` found, and everything logging needs."""

    task: str                     # "digits" (python -m pipelines audio) or "tagging"
    scoring: str                  # what chose the front end (audio: search: scoring:, auto resolved)
    data_dir: str
    n_train: int
    n_test: int
    model: object                 # the refit pipeline (GridSearchCV's best_estimator_)
    predictions: np.ndarray       # digits: predicted labels; tagging: tag probabilities
    labels: list                  # digits 0-9, or the tag names
    metrics: dict
    cv_results: dict
    best_params: dict
    best_score: float
    X_example: np.ndarray         # a few test inputs (the logged model's input example)
    report: str = None
    confusion_matrix: np.ndarray = None
    aucs: dict = field(default_factory=dict)
    compute_time_s: float = 0.0

    @property
    def best_front_end(self):
        return _front_end_name(self.best_params)


def load_data(config):
    """FSDD clips as ``config["data"]`` says (official split, cropped or padded to ``length``)."""
    from sk1dcnn.audio import load_fsdd

    return load_fsdd(config["data"]["data_dir"], length=config["data"]["length"])


def load_tagging_data(config, fsdd=None):
    """Mixtures of two clips for the tagging task (``config["tagging"]``)."""
    from sk1dcnn.audio import load_fsdd, make_fsdd_mixtures

    d = fsdd if fsdd is not None else load_fsdd(config["data"]["data_dir"])
    tg, rs, length = config["tagging"], config["random_state"], config["data"]["length"]
    X_tr, Y_tr, tags = make_fsdd_mixtures(d.X_train, d.y_train, d.speaker_train, n_mixtures=tg["n_train"],
                                          length=length, gain_db=tg["gain_db"], random_state=rs)
    X_te, Y_te, tags_te = make_fsdd_mixtures(d.X_test, d.y_test, d.speaker_test, n_mixtures=tg["n_test"],
                                             length=length, gain_db=tg["gain_db"], random_state=rs + 1)
    if tags_te != tags:
        raise ValueError(f"train and test clips have different speakers: {tags} vs {tags_te}")
    return TaggingData(X_tr, Y_tr, X_te, Y_te, list(tags), str(d.data_dir))


def _front_end_params(config, fe):
    """CNN1DClassifier parameters of one front end; ``architecture: {preset: ...}`` as layer specs."""
    params = dict(config["front_ends"].get(fe, {}))
    if "architecture" in params:
        params["architecture"] = architecture_specs(params["architecture"])
    return params


def build_pipeline(config, *, multilabel=False):
    """``Pipeline([("normalize", ...), ("frontend", ...), ("cnn", CNN1DClassifier)])`` and its grid.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Set to the first front end of the grid.
    grid : list of dict
        One entry per front end of ``search.grid.front_end``: the raw waveform
        (``frontend="passthrough"``) or the log-mel spectrogram, each with the
        CNN parameters of ``front_ends.<name>`` and the values of any other
        parameter of ``search.grid`` (which replace the front end's).
    """
    from sklearn.pipeline import Pipeline

    from sk1dcnn import CNN1DClassifier
    from sk1dcnn.audio import AmplitudeNormalizer, ClipStandardScaler, LogMelSpectrogram

    pre = config["preprocessing"]
    model = {"random_state": config["random_state"], **config["model"]}
    if multilabel:
        model.pop("early_stopping", None)  # validation accuracy of tag sets is too strict a monitor
    search_grid = dict(config["search"]["grid"])
    also = {f"cnn__{k}": list(v) for k, v in search_grid.items() if k != "front_end"}
    grid = []
    for fe in search_grid["front_end"]:
        params = _front_end_params(config, fe)
        if fe == "raw":
            frontend = "passthrough"
            params.setdefault("architecture", "sample_level")
        else:
            # one mean and scale per clip: per-band scaling would erase the spectral envelope
            frontend = Pipeline([("logmel", LogMelSpectrogram(**pre["mel"])),
                                 ("standardize", ClipStandardScaler())])
            params.setdefault("architecture", None)
        grid.append({"frontend": [frontend], **{f"cnn__{k}": [v] for k, v in params.items()}, **also})
    pipe = Pipeline([("normalize", AmplitudeNormalizer(pre["normalize"])), ("frontend", "passthrough"),
                     ("cnn", CNN1DClassifier(**model))])
    pipe.set_params(**{k: v[0] for k, v in grid[0].items()})
    return pipe, grid


def _front_end_name(params):
    return "raw" if params.get("frontend") == "passthrough" else "mel"


def _roc_auc_scorer(estimator, X, Y):
    """``scoring: roc_auc`` of audio-tagging: the mean over the tags of each tag's ROC-AUC."""
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(Y, estimator.predict_proba(X), average="macro")


#: A scoring of ``audio: search: scoring:`` as GridSearchCV's ``scoring``.
_SCORERS = {"roc_auc": _roc_auc_scorer}


def _epoch_time(cnn):
    return float(np.mean([r["dur"] for r in cnn.history_]))


def fit_and_evaluate(config, data):
    """Grid-search the front ends, refit, evaluate on the test split (no MLflow, no files).

    Parameters
    ----------
    config : dict
        A resolved ``audio:`` configuration (:func:`pipelines.config.load_config`).
    data : FSDD data from :func:`load_data`, or :class:`TaggingData`
        The task follows the data: digits, or tags of mixtures.

    Returns
    -------
    AudioResult
        Digits: ``metrics`` holds ``test_accuracy``, ``test_recall_<digit>``,
        ``best_cv_<scoring>`` (e.g. ``best_cv_accuracy``) and, with ``loso``,
        ``loso_accuracy_<speaker>`` and ``loso_mean_accuracy``. Tagging:
        ``test_mean_roc_auc``, ``test_mean_roc_auc_digits``, ``best_cv_mean_roc_auc``
        and ``test_roc_auc_<tag>``.
    """
    if isinstance(data, TaggingData):
        return _fit_and_evaluate_tagging(config, data)
    from sklearn.model_selection import GroupKFold

    t_start = time.perf_counter()
    scoring = audio_scoring(config, "audio")
    pipe, grid = build_pipeline(config)
    t0 = time.perf_counter()
    gs = grid_search(pipe, grid, data.X_train, data.y_train, cv=GroupKFold(config["search"]["cv"]),
                     scoring=_SCORERS.get(scoring, scoring), search=config["search"],
                     groups=data.speaker_train, refit=True, source=config["source"])
    search_time = time.perf_counter() - t0
    best = gs.best_estimator_
    cnn = best.named_steps["cnn"]
    y_pred = best.predict(data.X_test)
    ev, report, cm = evaluate(data.y_test, y_pred, DIGITS)
    metrics = {"test_accuracy": ev["accuracy"], f"best_cv_{scoring}": float(gs.best_score_),
               "search_time_s": search_time, "refit_time_s": float(gs.refit_time_),
               "n_epochs": cnn.n_iter_, "epoch_time_s": _epoch_time(cnn),
               **{f"test_recall_{d}": ev[f"se_{d}"] if ev[f"support_{d}"] else np.nan for d in DIGITS}}
    if config["loso"]:
        # leave one speaker out: the best configuration refit without each speaker
        X_all = np.concatenate([data.X_train, data.X_test])
        y_all = np.concatenate([data.y_train, data.y_test])
        s_all = np.concatenate([data.speaker_train, data.speaker_test])
        accs = {}
        for spk in sorted(set(s_all)):
            held = s_all == spk
            fit = fit_clone(best, X_all[~held], y_all[~held], X_predict=X_all[held])
            accs[spk] = float(np.mean(fit.y_pred == y_all[held]))
            metrics[f"loso_accuracy_{spk}"] = accs[spk]
        metrics["loso_mean_accuracy"] = float(np.mean(list(accs.values())))
    return AudioResult(
        task="digits", scoring=scoring, data_dir=str(data.data_dir), n_train=len(data.y_train), n_test=len(data.y_test),
        model=best, predictions=y_pred, labels=DIGITS, metrics=metrics, cv_results=gs.cv_results_,
        best_params=gs.best_params_, best_score=float(gs.best_score_), X_example=data.X_test[:3],
        report=report, confusion_matrix=cm, compute_time_s=time.perf_counter() - t_start)


def _fit_and_evaluate_tagging(config, data):
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import KFold

    t_start = time.perf_counter()
    scoring = audio_scoring(config, "audio-tagging")
    pipe, grid = build_pipeline(config, multilabel=True)
    cv = KFold(config["search"]["cv"], shuffle=True, random_state=config["random_state"])
    gs = grid_search(pipe, grid, data.X_train, data.Y_train, cv=cv, scoring=_SCORERS.get(scoring, scoring),
                     search=config["search"], refit=True, source=config["source"])
    best = gs.best_estimator_
    cnn = best.named_steps["cnn"]
    P = best.predict_proba(data.X_test)
    Y = data.Y_test
    aucs = {tag: float(roc_auc_score(Y[:, j], P[:, j]))
            for j, tag in enumerate(data.tags) if 0 < Y[:, j].sum() < len(Y)}
    digit_aucs = [v for k, v in aucs.items() if k.startswith("digit")]
    metrics = {"test_mean_roc_auc": float(np.mean(list(aucs.values()))),
               "test_mean_roc_auc_digits": float(np.mean(digit_aucs)),
               "best_cv_mean_roc_auc": float(gs.best_score_), "n_epochs": cnn.n_iter_,
               "epoch_time_s": _epoch_time(cnn), **{f"test_roc_auc_{k}": v for k, v in aucs.items()}}
    return AudioResult(
        task="tagging", scoring=scoring, data_dir=data.data_dir, n_train=len(data.X_train), n_test=len(data.X_test),
        model=best, predictions=P, labels=data.tags, metrics=metrics, cv_results=gs.cv_results_,
        best_params=gs.best_params_, best_score=float(gs.best_score_), X_example=data.X_test[:3],
        aucs=aucs, compute_time_s=time.perf_counter() - t_start)


# --------------------------------------------------------------------------- #
# Log
# --------------------------------------------------------------------------- #
def _run_params(config, result):
    pre = config["preprocessing"]
    return {"data_dir": result.data_dir, "n_train": result.n_train, "n_test": result.n_test,
            "length": config["data"]["length"], "normalize": pre["normalize"],
            "cv": config["search"]["cv"], "scoring": result.scoring,
            "grid": json.dumps({k: [str(v) for v in vals] for k, vals in config["search"]["grid"].items()}),
            "best_front_end": result.best_front_end, **{f"mel_{k}": v for k, v in pre["mel"].items()},
            **({"gain_db": config["tagging"]["gain_db"], "tags": result.labels}
               if result.task == "tagging" else {})}


def _model_metadata(config, result):
    tagging = result.task == "tagging"
    return {"dataset": "fsdd-mixtures" if tagging else "fsdd", "fs": FS, "length": config["data"]["length"],
            ("tags" if tagging else "classes"): result.labels}


def _save_local(result, config, run_id):
    """Model and metrics in ``<cwd>/mlartifacts/local-<time>-<run>/`` (:func:`_report.save_local_copy`)."""
    from ._report import save_local_copy

    meta = _model_metadata(config, result)
    doc = {"task": result.task, "metrics": result.metrics, "scoring": result.scoring,
           "best_params": result.best_params,
           "best_front_end": result.best_front_end, "metadata": meta}
    return save_local_copy(run_id, result.model, meta, doc)


def log_result(result, config, tracking):
    """Log an audio result to MLflow: a parent run, a child run per grid candidate, params,
    metrics, per-epoch history, artifacts and (``log_model``) the model.

    As in :func:`pipelines.ecg.log_result`, with a remote tracking server the
    model and metrics are first saved under ``mlartifacts/local-*``; if logging
    fails they are saved there too and the error says where. ``result`` is not
    changed.

    Parameters
    ----------
    result : AudioResult
    config : dict
        The resolved ``audio:`` configuration.
    tracking : dict
        The resolved ``tracking:`` section.

    Returns
    -------
    Logged

    Raises
    ------
    TrackingServerError
        The tracking store failed during the run.
    """
    from . import _report, _tracking
    from ._plots import plot_confusion_matrix, plot_loss_curve, plot_per_tag_auc

    t0 = time.perf_counter()
    tagging = result.task == "tagging"
    workflow = "audio-tagging" if tagging else "audio"
    tracker = _tracking.Tracker(tracking["uri"], tracking["experiment"], tracking["artifact_location"])
    run_name = ("audio-tagging-fsdd" if tagging else "audio-fsdd") + ("-quick" if config["quick"] else "")
    cnn = result.model.named_steps["cnn"]
    tags = {"sk1dcnn.workflow": workflow, "sk1dcnn.dataset": "fsdd-mixtures" if tagging else "fsdd",
            "sk1dcnn.quick": str(config["quick"]).lower()}
    with _tracking.logged_run(tracker, run_name, tags,
                              lambda run_id: _save_local(result, config, run_id)) as run:
        tracker.log_candidates(result.cv_results, result.scoring)
        tracker.log_params({**_run_params(config, result), **_report.refit_params(result.model)})
        tracker.log_history(cnn.history_)
        tracker.log_metrics(result.metrics)
        with _report.artifact_dir() as adir:
            if tagging:
                plot_loss_curve(cnn.history_, "FSDD mixtures: refit model", adir / "loss_curve.png")
                plot_per_tag_auc(result.aucs, f"Per-tag ROC-AUC, test mixtures (mean "
                                 f"{result.metrics['test_mean_roc_auc']:.3f})", adir / "per_tag_auc.png")
            else:
                plot_loss_curve(cnn.history_, "FSDD: refit model", adir / "loss_curve.png")
                plot_confusion_matrix(
                    result.confusion_matrix, result.labels, f"FSDD official test split: accuracy "
                    f"{result.metrics['test_accuracy']:.3f}", adir / "confusion_matrix.png",
                    xlabel="predicted digit", ylabel="spoken digit")
                (adir / "classification_report.txt").write_text(result.report)
            (adir / "model_summary.txt").write_text(cnn.summary() + "\n")
            tracker.log_artifacts(adir)
        model_uri = None
        if config["log_model"]:
            model_uri = tracker.log_model(result.model, result.X_example, _model_metadata(config, result))
        wall = result.compute_time_s + time.perf_counter() - t0
        tracker.log_metrics({"wall_time_s": wall})
    return Logged(run.run_id, tracker.experiment_id, tracking["uri"], model_uri, run.local_copy, wall)


def run(config, task="digits", *, out=print):
    """``python -m pipelines audio`` (``task="digits"``) or ``audio-tagging`` (``"tagging"``).

    Parameters
    ----------
    config : dict
        A resolved ``audio:`` configuration.
    task : {'digits', 'tagging'}
    out : callable, default=print

    Returns
    -------
    result : AudioResult
    logged : Logged
    """
    from . import _report, _tracking

    # a scoring of the other task, or a stopped tracking server, is reported now, not after the search
    scoring = audio_scoring(config, "audio-tagging" if task == "tagging" else "audio")
    _tracking.check_server(config["tracking"]["uri"])
    length = config["data"]["length"]
    fsdd = load_data(config)
    if task == "tagging":
        data = load_tagging_data(config, fsdd)
        out(f"audio-tagging: {len(data.X_train)} train / {len(data.X_test)} test mixtures of {length} "
            f"samples, {len(data.tags)} tags ({', '.join(data.tags)}); {config['search']['cv']}-fold CV; "
            f"scoring {scoring}")
    else:
        data = fsdd
        grid = " x ".join(f"{k} {_short_list(v)}" for k, v in config["search"]["grid"].items())
        out(f"audio: FSDD from {data.data_dir}: {len(data.y_train)} train / {len(data.y_test)} test clips "
            f"of {length} samples; grid {grid}; {config['search']['cv']}-fold CV by speaker; "
            f"scoring {scoring}")
    result = fit_and_evaluate(config, data)
    logged = log_result(result, config, config["tracking"])
    m = result.metrics
    if task == "tagging":
        out(f"audio-tagging: test mean ROC-AUC {m['test_mean_roc_auc']:.3f} (digits "
            f"{m['test_mean_roc_auc_digits']:.3f}); {m['epoch_time_s']:.2f} s per epoch; "
            f"MLflow run {logged.run_id}")
    else:
        chosen = "".join(f", {k} {result.best_params.get(f'cnn__{k}')}"
                         for k in config["search"]["grid"] if k != "front_end")
        out(f"audio: best front end {result.best_front_end}{chosen} (CV {scoring} {result.best_score:.3f}); "
            f"official test accuracy {m['test_accuracy']:.3f}"
            + (f"; leave-one-speaker-out mean accuracy {m['loso_mean_accuracy']:.3f}"
               if "loso_mean_accuracy" in m else "")
            + f"; {m['epoch_time_s']:.2f} s per epoch; MLflow run {logged.run_id}")
    if logged.model_uri:
        out(f"  model:  {logged.model_uri}  (mlflow.pyfunc.load_model; predicts "
            + ("tags)" if task == "tagging" else "digit labels; predict_proba on request)"))
    if logged.local_copy:
        out(_report.local_copy_line(logged))
    out(_report.open_line(logged))
    return result, logged


def _short_list(values):
    return "[" + ", ".join(str(list(v)) if isinstance(v, tuple) else str(v) for v in values) + "]"

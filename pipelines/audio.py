"""The audio workflows, tracked in MLflow like the ECG one.

``python -m pipelines audio``: spoken-digit classification on FSDD. A
``Pipeline(amplitude normalization -> front end -> CNN1DClassifier)`` is
grid-searched over the front end (raw waveform into the sample-level CNN, or
log-mel spectrogram into a plain CNN), refit on the official training split
(takes 5-49), evaluated on the official test split (takes 0-4), then refit
once per held-out speaker (leave one speaker out).

``python -m pipelines audio-tagging``: multi-label tagging of two-clip
mixtures (both digits and both speakers are tags) with sigmoid outputs and
binary cross-entropy, evaluated with per-tag and mean ROC-AUC.

Only the data, the pipeline and the metrics are audio-specific: the tracking
store, the experiment, the child runs of the grid, the per-epoch history and
the model are logged by :mod:`pipelines._tracking`, and the tracking settings
(``tracking_uri``, ``artifact_location``, ``n_jobs``, ``random_state``) come
from the same ``mlflow.yml`` through :func:`pipelines.config.load_config`.
The audio settings are :data:`AUDIO_DEFAULTS` (and :data:`AUDIO_QUICK` for
``--quick``), overridable with a ``dict``.
"""

import copy
import time
import warnings

import numpy as np

from .config import _check_estimator_values, _merge, load_config

__all__ = ["AUDIO_DEFAULTS", "AUDIO_QUICK", "audio_config", "build_pipeline", "run_audio",
           "run_audio_tagging"]

#: Settings of the full runs. The raw front end with these model settings
#: reached 0.987 accuracy on the official FSDD test split (20 epochs).
AUDIO_DEFAULTS = {
    "experiment_name": "sk1dcnn-audio",
    "data_dir": None,          # None: ../shared/data/fsdd/recordings, else the 90 shipped clips
    "length": 6561,            # 3**8 samples = 0.82 s at 8 kHz (98% of the clips are shorter)
    "normalize": "rms",
    "mel": {"fs": 8000.0, "n_fft": 256, "hop_length": 80, "n_mels": 40, "fmin": 20.0},
    "model": {"batch_size": 32, "learning_rate_init": 0.002, "learning_rate": "cosine",
              "max_iter": 20, "early_stopping": False, "n_iter_no_change": 100,
              "augment": {"time_shift": 0.05}},
    # each front end with its network; "raw" uses the architecture preset below
    "front_ends": ["raw", "mel"],
    "architecture": "sample_level",
    "mel_model": {"filters": (32, 64, 128), "kernel_size": 3, "pool": "max", "pool_size": 2,
                  "global_pool": "avg", "hidden_layer_sizes": (64,), "dropout": 0.3},
    "cv": 3,
    "loso": True,              # leave-one-speaker-out refits of the best configuration
    "tagging": {"n_train": 5400, "n_test": 600, "gain_db": 6.0},
    "log_model": True,
}

#: What ``--quick`` changes: the shipped clips and a tiny network.
AUDIO_QUICK = {
    "n_jobs": 1,               # tiny fits: worker processes cost more than they save
    "data_dir": "shipped",
    "model": {"batch_size": 16, "max_iter": 3, "early_stopping": False, "n_iter_no_change": 100,
              "learning_rate_init": 0.003},
    "architecture": {"preset": "sample_level", "n_blocks": 7, "filters": 8},
    "mel_model": {"filters": (8, 16), "kernel_size": 3, "pool": "max", "pool_size": 2,
                  "global_pool": "avg", "hidden_layer_sizes": (16,), "dropout": 0.0},
    "cv": 2,
    "tagging": {"n_train": 120, "n_test": 60, "gain_db": 6.0},
    "log_model": True,
}


def audio_config(path=None, *, quick=False, overrides=None):
    """Tracking settings from ``mlflow.yml`` plus the audio settings, validated.

    Parameters
    ----------
    path : str, path or None
        The ``mlflow.yml`` read by :func:`pipelines.config.load_config`.
    quick : bool
    overrides : dict or None
        Keys of :data:`AUDIO_DEFAULTS` (``model`` is merged key by key).

    Returns
    -------
    dict
    """
    from sk1dcnn import CNN1DClassifier

    base = load_config(path, quick=quick)
    cfg = {k: base[k] for k in ("tracking_uri", "artifact_location", "n_jobs", "random_state",
                                "source")}
    cfg.update(copy.deepcopy(AUDIO_DEFAULTS))
    if quick:
        cfg = _merge(cfg, AUDIO_QUICK)
    cfg = _merge(cfg, overrides or {})
    cfg["quick"] = bool(quick)
    unknown = set(cfg) - set(AUDIO_DEFAULTS) - {"tracking_uri", "artifact_location", "n_jobs",
                                                 "random_state", "source", "quick"}
    if unknown:
        raise ValueError(f"unknown audio settings {sorted(unknown)}; allowed: {sorted(AUDIO_DEFAULTS)}")
    if not set(cfg["front_ends"]) <= {"raw", "mel"} or not cfg["front_ends"]:
        raise ValueError(
            f"front_ends must be a non-empty subset of ['raw', 'mel'], got {cfg['front_ends']!r}")
    _check_estimator_values(cfg["source"], "audio.model", CNN1DClassifier, cfg["model"])
    _check_estimator_values(cfg["source"], "audio.mel_model", CNN1DClassifier, cfg["mel_model"])
    return cfg


def _architecture(cfg):
    arch = cfg["architecture"]
    if isinstance(arch, dict):  # {"preset": name, **kwargs} -> explicit layer specs
        from sk1dcnn.presets import get_preset

        kw = dict(arch)
        return get_preset(kw.pop("preset"), **kw)
    return arch


def build_pipeline(cfg, *, multilabel=False):
    """``Pipeline([("normalize", ...), ("frontend", ...), ("cnn", CNN1DClassifier)])`` and its grid.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Set to the first front end of the grid.
    grid : list of dict
        One entry per front end: the raw waveform with the sample-level
        architecture, or the log-mel spectrogram with the flat CNN parameters.
    """
    from sklearn.pipeline import Pipeline

    from sk1dcnn import CNN1DClassifier
    from sk1dcnn.preprocessing import AmplitudeNormalizer, LogMelSpectrogram, SeriesStandardScaler

    model = {"random_state": cfg["random_state"], **cfg["model"]}
    if multilabel:
        model.pop("early_stopping", None)  # validation accuracy of tag sets is too strict a monitor
    grid = []
    for fe in cfg["front_ends"]:
        if fe == "raw":
            grid.append({"frontend": ["passthrough"], "cnn__architecture": [_architecture(cfg)]})
        else:
            mel = Pipeline([("logmel", LogMelSpectrogram(**cfg["mel"])),
                            ("standardize", SeriesStandardScaler())])
            grid.append({"frontend": [mel], "cnn__architecture": [None],
                         **{f"cnn__{k}": [v] for k, v in cfg["mel_model"].items()}})
    pipe = Pipeline([("normalize", AmplitudeNormalizer(cfg["normalize"])), ("frontend", "passthrough"),
                     ("cnn", CNN1DClassifier(**model))])
    pipe.set_params(**{k: v[0] for k, v in grid[0].items()})
    return pipe, grid


def _tracker(cfg):
    from . import _tracking

    return _tracking.Tracker(cfg["tracking_uri"], cfg["experiment_name"], cfg["artifact_location"])


def _search(cfg, pipe, grid, X, y, scoring, groups=None):
    """GridSearchCV over the front ends: folds by speaker (``groups``) or shuffled K-fold."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, GroupKFold, KFold

    cv = GroupKFold(cfg["cv"]) if groups is not None else KFold(
        cfg["cv"], shuffle=True, random_state=cfg["random_state"])
    search = GridSearchCV(pipe, grid, scoring=scoring, cv=cv, n_jobs=cfg["n_jobs"],
                          refit=True, error_score="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y, **({"groups": groups} if groups is not None else {}))
    return search


def _front_end_name(params):
    return "raw" if params.get("frontend") == "passthrough" else "mel"


def _plot_history(adir, cnn, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hist = cnn.history_
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot([r["epoch"] for r in hist], [r["train_loss"] for r in hist], marker="o", label="train loss")
    valid = [r.get("valid_loss") for r in hist]
    if any(v is not None for v in valid):
        ax.plot([r["epoch"] for r in hist], [np.nan if v is None else v for v in valid], marker="o",
                label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(adir / "loss_curve.png")
    plt.close(fig)
    return plt


def _refit_params(best):
    """The refit pipeline's parameters; objects (a front-end Pipeline's steps) as their repr."""
    import json

    from . import _report

    out = {}
    for k, v in _report.refit_params(best).items():
        try:
            json.dumps(v)
        except TypeError:
            v = repr(v)
        out[k] = v
    return out


def _common_params(cfg, data, search):
    return {"data_dir": data.data_dir, "n_train": len(data.y_train), "n_test": len(data.y_test),
            "length": cfg["length"], "normalize": cfg["normalize"], "cv": cfg["cv"],
            "front_ends": cfg["front_ends"], "best_front_end": _front_end_name(search.best_params_),
            **{f"mel_{k}": v for k, v in cfg["mel"].items()}}


def run_audio(config=None, quick=False, *, overrides=None, out=print):
    """Spoken-digit classification on FSDD, tracked in MLflow.

    Parameters
    ----------
    config : dict, str, path or None
        A dict from :func:`audio_config`, or the ``mlflow.yml`` path to build it from.
    quick : bool
        With a path: use :data:`AUDIO_QUICK` (shipped clips, tiny network, seconds).
    overrides : dict or None
        Passed to :func:`audio_config` when ``config`` is a path.

    Returns
    -------
    dict
        ``run_id``, ``metrics`` (``test_accuracy``, ``loso_mean_accuracy``, ...),
        ``best_params``, ``epoch_time_s``, ``model_uri``.
    """
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

    from sk1dcnn.audio import load_fsdd

    from . import _report

    cfg = config if isinstance(config, dict) else audio_config(config, quick=quick, overrides=overrides)
    t_start = time.perf_counter()
    data = load_fsdd(cfg["data_dir"], length=cfg["length"])
    pipe, grid = build_pipeline(cfg)
    labels = list(range(10))
    out(f"audio: FSDD from {data.data_dir}: {len(data.y_train)} train / {len(data.y_test)} test clips "
        f"of {cfg['length']} samples; front ends {cfg['front_ends']}, {cfg['cv']}-fold CV by speaker")
    tracker = _tracker(cfg)
    run_name = "audio-fsdd" + ("-quick" if cfg["quick"] else "")
    with tracker.parent_run(run_name, tags={"sk1dcnn.workflow": "audio", "sk1dcnn.dataset": "fsdd",
                                            "sk1dcnn.quick": str(cfg["quick"]).lower()}) as run_id:
        t0 = time.perf_counter()
        search = _search(cfg, pipe, grid, data.X_train, data.y_train, "accuracy", data.speaker_train)
        search_time = time.perf_counter() - t0
        tracker.log_candidates(search.cv_results_, "accuracy")
        best = search.best_estimator_
        cnn = best.named_steps["cnn"]
        tracker.log_params({**_common_params(cfg, data, search), **_refit_params(best)})
        tracker.log_history(cnn.history_)
        y_pred = best.predict(data.X_test)
        epoch_time = float(np.mean([r["dur"] for r in cnn.history_]))
        metrics = {"test_accuracy": accuracy_score(data.y_test, y_pred),
                   "best_cv_accuracy": float(search.best_score_), "search_time_s": search_time,
                   "refit_time_s": float(search.refit_time_), "n_epochs": cnn.n_iter_,
                   "epoch_time_s": epoch_time}
        for d in labels:
            mask = data.y_test == d
            metrics[f"test_recall_{d}"] = float((y_pred[mask] == d).mean()) if mask.any() else np.nan

        # leave one speaker out: the best configuration refit without each speaker
        if cfg["loso"]:
            accs = {}
            X_all = np.concatenate([data.X_train, data.X_test])
            y_all = np.concatenate([data.y_train, data.y_test])
            s_all = np.concatenate([data.speaker_train, data.speaker_test])
            for spk in sorted(set(s_all)):
                held = s_all == spk
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model = clone(best).fit(X_all[~held], y_all[~held])
                accs[spk] = accuracy_score(y_all[held], model.predict(X_all[held]))
                metrics[f"loso_accuracy_{spk}"] = accs[spk]
            metrics["loso_mean_accuracy"] = float(np.mean(list(accs.values())))
        tracker.log_metrics(metrics)

        with _report.artifact_dir() as adir:
            _plot_history(adir, cnn, "FSDD: refit model")
            cm = confusion_matrix(data.y_test, y_pred, labels=labels)
            _report.plot_confusion_matrix(
                cm, labels, f"FSDD official test split: accuracy {metrics['test_accuracy']:.3f}",
                adir / "confusion_matrix.png", xlabel="predicted digit", ylabel="spoken digit")
            (adir / "classification_report.txt").write_text(
                classification_report(data.y_test, y_pred, labels=labels, zero_division=0, digits=3))
            (adir / "model_summary.txt").write_text(cnn.summary() + "\n")
            tracker.log_artifacts(adir)
        model_uri = None
        if cfg["log_model"]:
            model_uri = tracker.log_model(best, data.X_test[:3], {
                "dataset": "fsdd", "fs": 8000, "length": cfg["length"], "classes": labels})
        tracker.log_metrics({"wall_time_s": time.perf_counter() - t_start})
    out(f"audio: best front end {_front_end_name(search.best_params_)} (CV accuracy "
        f"{search.best_score_:.3f}); official test accuracy {metrics['test_accuracy']:.3f}"
        + (f"; leave-one-speaker-out mean accuracy {metrics['loso_mean_accuracy']:.3f}"
           if "loso_mean_accuracy" in metrics else "")
        + f"; {epoch_time:.2f} s per epoch; MLflow run {run_id}")
    return {"run_id": run_id, "experiment_id": tracker.experiment_id, "metrics": metrics,
            "best_params": search.best_params_, "epoch_time_s": epoch_time, "model_uri": model_uri,
            "wall_time_s": time.perf_counter() - t_start}


def _roc_auc_scorer(estimator, X, Y):
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(Y, estimator.predict_proba(X), average="macro")


def run_audio_tagging(config=None, quick=False, *, overrides=None, out=print):
    """Multi-label tagging of two-clip FSDD mixtures (digits and speakers), tracked in MLflow.

    Training mixtures come from the official training clips and test
    mixtures from the test clips only. Metrics: per-tag ROC-AUC and their
    mean (``test_mean_roc_auc``), as in the MagnaTagATune papers.

    Parameters and returns as :func:`run_audio` (``metrics`` holds
    ``test_mean_roc_auc`` and ``test_roc_auc_<tag>``).
    """
    from sklearn.metrics import roc_auc_score

    from sk1dcnn.audio import load_fsdd, make_fsdd_mixtures

    from . import _report

    cfg = config if isinstance(config, dict) else audio_config(config, quick=quick, overrides=overrides)
    t_start = time.perf_counter()
    data = load_fsdd(cfg["data_dir"])
    tg = cfg["tagging"]
    rs = cfg["random_state"]
    X_tr, Y_tr, tags = make_fsdd_mixtures(data.X_train, data.y_train, data.speaker_train,
                                          n_mixtures=tg["n_train"], length=cfg["length"],
                                          gain_db=tg["gain_db"], random_state=rs)
    X_te, Y_te, tags_te = make_fsdd_mixtures(data.X_test, data.y_test, data.speaker_test,
                                             n_mixtures=tg["n_test"], length=cfg["length"],
                                             gain_db=tg["gain_db"], random_state=rs + 1)
    if tags_te != tags:
        raise ValueError(f"train and test clips have different speakers: {tags} vs {tags_te}")
    pipe, grid = build_pipeline(cfg, multilabel=True)
    out(f"audio-tagging: {len(X_tr)} train / {len(X_te)} test mixtures of {cfg['length']} samples, "
        f"{len(tags)} tags ({', '.join(tags)})")
    tracker = _tracker(cfg)
    run_name = "audio-tagging-fsdd" + ("-quick" if cfg["quick"] else "")
    with tracker.parent_run(run_name, tags={"sk1dcnn.workflow": "audio-tagging",
                                            "sk1dcnn.dataset": "fsdd-mixtures",
                                            "sk1dcnn.quick": str(cfg["quick"]).lower()}) as run_id:
        search = _search(cfg, pipe, grid, X_tr, Y_tr, _roc_auc_scorer)
        tracker.log_candidates(search.cv_results_, "mean_roc_auc")
        best = search.best_estimator_
        cnn = best.named_steps["cnn"]
        tracker.log_params({**_common_params(cfg, data, search), **_refit_params(best),
                            "n_train_mixtures": len(X_tr), "n_test_mixtures": len(X_te),
                            "gain_db": tg["gain_db"], "tags": tags})
        tracker.log_history(cnn.history_)
        P = best.predict_proba(X_te)
        aucs = {}
        for j, tag in enumerate(tags):
            if 0 < Y_te[:, j].sum() < len(Y_te):
                aucs[tag] = float(roc_auc_score(Y_te[:, j], P[:, j]))
        epoch_time = float(np.mean([r["dur"] for r in cnn.history_]))
        digit_aucs = [v for k, v in aucs.items() if k.startswith("digit")]
        metrics = {"test_mean_roc_auc": float(np.mean(list(aucs.values()))),
                   "test_mean_roc_auc_digits": float(np.mean(digit_aucs)),
                   "best_cv_mean_roc_auc": float(search.best_score_), "n_epochs": cnn.n_iter_,
                   "epoch_time_s": epoch_time, **{f"test_roc_auc_{k}": v for k, v in aucs.items()}}
        tracker.log_metrics(metrics)
        with _report.artifact_dir() as adir:
            plt = _plot_history(adir, cnn, "FSDD mixtures: refit model")
            fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
            ax.bar(range(len(aucs)), list(aucs.values()), color="tab:blue")
            ax.set_xticks(range(len(aucs)), list(aucs), rotation=60, ha="right", fontsize=8)
            ax.set_ylim(0.5, 1.0)
            ax.axhline(metrics["test_mean_roc_auc"], color="k", ls="--", lw=1, label="mean")
            ax.set_ylabel("ROC-AUC")
            ax.set_title(f"Per-tag ROC-AUC, test mixtures (mean {metrics['test_mean_roc_auc']:.3f})")
            ax.legend()
            fig.tight_layout()
            fig.savefig(adir / "per_tag_auc.png")
            plt.close(fig)
            (adir / "model_summary.txt").write_text(cnn.summary() + "\n")
            tracker.log_artifacts(adir)
        model_uri = None
        if cfg["log_model"]:
            model_uri = tracker.log_model(best, X_te[:3], {"dataset": "fsdd-mixtures", "fs": 8000,
                                                           "length": cfg["length"], "tags": tags})
        tracker.log_metrics({"wall_time_s": time.perf_counter() - t_start})
    out(f"audio-tagging: test mean ROC-AUC {metrics['test_mean_roc_auc']:.3f} (digits "
        f"{metrics['test_mean_roc_auc_digits']:.3f}); {epoch_time:.2f} s per epoch; MLflow run {run_id}")
    return {"run_id": run_id, "experiment_id": tracker.experiment_id, "metrics": metrics,
            "best_params": search.best_params_, "epoch_time_s": epoch_time, "model_uri": model_uri,
            "tags": tags, "wall_time_s": time.perf_counter() - t_start}

"""Load and validate ``mlflow.yml``, the configuration of every workflow.

Layout
------
The file has one section per concern::

    tracking:   uri, experiment, artifact_location          (every workflow)
    ecg:        data, preprocessing, model, search, random_state, seeds,
                model_file, log_model, datasets, quick      (python -m pipelines ecg)
    audio:      data, preprocessing, model, front_ends, search, loso, tagging,
                random_state, log_model, quick              (audio, audio-tagging)

Both workflow sections search the same way: ``search:`` holds ``grid``,
``cv``, ``scoring``, ``n_jobs``, ``backend`` (and ``scheduler``).

A run reads and validates ``tracking:`` and the section of its own workflow
only, so a typo in ``audio:`` never stops ``python -m pipelines ecg`` (and the
other way round). Inside that section every key is checked before anything
runs: an unknown key, a missing required key or a bad value raises
:class:`ConfigError` naming the key (dotted, e.g. ``ecg.model.filters``) and
the allowed keys or values. Estimator parameters are checked by the estimator
itself (``CNN1DClassifier(**model)._validate_params()``).

Overrides: one rule
-------------------
The configuration of a run is built by one function, :func:`merge`, applied
layer after layer, each layer on top of the one before::

    defaults (ECG_DEFAULTS, AUDIO_DEFAULTS, TRACKING_DEFAULTS)
      <- the file's section
      <- ecg: datasets.<name>   (ECG only: the section of the data set that runs)
      <- quick:                 (with --quick)
      <- the command line       (given in the file's layout, e.g. {"ecg": {"data": {"name": ...}}})

``merge(base, over)``: where both values are mappings they are merged key by
key, at every depth; any other value (a number, a string, a list, null)
replaces the one below, and so does a whole ``search.grid`` (a grid is one
search space: merging two grids would multiply their candidates).

A file in the 0.1 layout (``model:``, ``grid:``, ``tracking_uri:`` ... at the
top level), or with the earlier ``audio: search: front_ends:``, is refused with
an error that says where each key moved.
"""

import contextlib
import copy
import difflib
import os
from pathlib import Path

__all__ = ["AUDIO_DEFAULTS", "AUDIO_SCORINGS", "ConfigError", "DEFAULT_CONFIG", "ECG_DEFAULTS",
           "TRACKING_DEFAULTS", "TrackingServerError", "VALIDATIONS", "WORKFLOWS", "architecture_specs",
           "audio_scoring", "default_tracking_uri", "load_config", "merge", "preprocessing_step", "resolve_config",
           "tracking_line"]

#: The repository's own mlflow.yml, used when --config is not given and the
#: working directory has none.
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "mlflow.yml"

#: Workflow sections of mlflow.yml.
WORKFLOWS = ("ecg", "audio")

TRACKING_DEFAULTS = {
    "uri": None,                          # null: sqlite:///<cwd>/mlflow.db
    "experiment": "sk1dcnn-{workflow}",   # {workflow}: ecg or audio
    "artifact_location": None,            # null: <cwd>/mlartifacts (a server: its own store)
}

#: Optional keys of ``ecg:``; ``data.name``, ``model``, ``search.grid``,
#: ``search.cv``, ``search.n_jobs`` and ``random_state`` are required.
ECG_DEFAULTS = {
    "data": {"data_dir": None, "channel": 0, "before": 0.25, "after": 0.45,
             # mitdb only: keep the beats of these AAMI classes (null = all)
             "classes": None,
             # mitdb only: the lead by its header name (null: by position, channel);
             # RR-interval features (sk1dcnn.ecg.rr) joined to each beat, then the
             # template features (sk1dcnn.ecg.template)
             "lead": "MLII", "rr_features": False, "template_features": False,
             # mitdb inter-patient only: share of the training N beats kept (drawn per record)
             "subsample_normal": None,
             # mitdb:patient_specific only (Kiranyaz et al. 2016)
             "records": None, "train_minutes": 5.0, "n_common_per_class": 75},
    "preprocessing": "auto",
    # tune_offsets: per-class decision offsets tuned on out-of-fold predictions of the
    # chosen candidate (sk1dcnn.model_selection.TunedOffsetsClassifierCV): false, true (the
    # search's scoring) or a scoring name; ensemble: networks averaged in each refit model;
    # static_model: null, or gradient_boosting: a HistGradientBoostingClassifier on the static
    # columns (RR, template features) whose probabilities are averaged with the network's;
    # fixed_offset_share: a class with this share or more of its training beats in one record
    # keeps offset 0 (null: every class but the reference is tuned).
    # mitdb:patient_specific only: how a grid of several candidates is chosen (see
    # VALIDATIONS) and the inner training minutes of inner_minutes (null: half of
    # data.train_minutes)
    "search": {"scoring": "auto", "backend": "local", "scheduler": None, "tune_offsets": False,
               "ensemble": 1, "validation": "cv", "inner_train_minutes": None, "static_model": None,
               "fixed_offset_share": 0.75},
    "seeds": None,
    "model_file": "mlartifacts/ecg_model_{dataset}.skops",
    "log_model": True,
}

#: Every key of ``audio:`` (the section may be left out of the file).
AUDIO_DEFAULTS = {
    "data": {"data_dir": None,    # null: the full FSDD in $SK1DCNN_DATA if present, else the shipped clips
             "length": 6561},     # 3**8 samples = 0.82 s at 8 kHz (98% of the clips are shorter)
    "preprocessing": {"normalize": "rms",
                      "mel": {"fs": 8000.0, "n_fft": 256, "hop_length": 80, "n_mels": 40, "fmin": 20.0}},
    # CNN1DClassifier parameters of every front end; the raw front end with
    # these reached 0.987 accuracy on the official FSDD test split (20 epochs)
    "model": {"batch_size": 32, "learning_rate_init": 0.002, "learning_rate": "cosine",
              "max_iter": 20, "early_stopping": False, "n_iter_no_change": 100,
              "augment": {"time_shift": 0.05}},
    # the network of each front end (CNN1DClassifier parameters)
    "front_ends": {
        "raw": {"architecture": "sample_level"},
        "mel": {"filters": [32, 64, 128], "kernel_size": 3, "pool": "max", "pool_size": 2,
                "global_pool": "avg", "hidden_layer_sizes": [64], "dropout": 0.3},
    },
    # the grid: one candidate per front end (times any CNN1DClassifier parameter listed beside it)
    "search": {"grid": {"front_end": ["raw", "mel"]}, "cv": 3,
               "scoring": "auto",         # see AUDIO_SCORINGS
               "n_jobs": 2, "backend": "local", "scheduler": None},
    "loso": True,                 # leave-one-speaker-out refits of the best configuration
    "tagging": {"n_train": 5400, "n_test": 600, "gain_db": 6.0},
    "random_state": 0,
    "log_model": True,
    "quick": {
        "data": {"data_dir": "shipped"},
        "model": {"batch_size": 16, "max_iter": 40, "learning_rate_init": 0.003},
        "front_ends": {"raw": {"architecture": {"preset": "sample_level", "n_blocks": 7, "filters": 8}},
                       "mel": {"filters": [16, 32], "hidden_layer_sizes": [32], "dropout": 0.0}},
        # the mel CNN's head chosen by CV; raw needs more epochs than a quick run has
        "search": {"grid": {"front_end": ["mel"], "global_pool": ["avg", None]},
                   "cv": 2, "n_jobs": 1},   # small fits: worker processes cost more than they save
        "tagging": {"n_train": 120, "n_test": 60},
    },
}

_TRACKING_KEYS = tuple(TRACKING_DEFAULTS)
_MODEL_FILE_SUFFIX = ".skops"
_ECG_KEYS = ("data", "preprocessing", "model", "search", "random_state", "seeds", "model_file",
             "log_model", "datasets", "quick")
_ECG_REQUIRED = ("data", "model", "search", "random_state")
_ECG_SEARCH_KEYS = ("grid", "cv", "scoring", "n_jobs", "backend", "scheduler", "tune_offsets", "ensemble",
                    "validation", "inner_train_minutes", "static_model", "fixed_offset_share")
_ECG_DATA_KEYS = ("name",) + tuple(ECG_DEFAULTS["data"])
#: What a ``datasets.<name>`` section and ``quick:`` may change.
_ECG_SECTION_KEYS = {"data": _ECG_DATA_KEYS[1:], "preprocessing": None, "model": None,
                     "search": ("grid", "cv", "scoring", "tune_offsets", "ensemble", "validation",
                                "inner_train_minutes", "static_model", "fixed_offset_share")}
_ECG_QUICK_KEYS = {"data": _ECG_DATA_KEYS, "preprocessing": None, "model": None,
                   "search": ("grid", "cv", "scoring", "n_jobs", "tune_offsets", "ensemble", "validation",
                              "inner_train_minutes", "static_model", "fixed_offset_share"),
                   "random_state": None,
                   "seeds": None, "model_file": None, "log_model": None}
_AUDIO_KEYS = tuple(AUDIO_DEFAULTS)
_AUDIO_SEARCH_KEYS = tuple(AUDIO_DEFAULTS["search"])
_FRONT_ENDS = ("raw", "mel")
#: ``audio: search: scoring:`` of each task (``auto``: the first). ``roc_auc`` is the
#: mean over the tags of each tag's ROC-AUC.
AUDIO_SCORINGS = {"audio": ("accuracy", "balanced_accuracy", "f1_macro"),
                  "audio-tagging": ("roc_auc",)}
_BACKENDS = ("local", "dask")
#: ``ecg: search: static_model:`` the learners on the static columns that the refit can blend in.
STATIC_MODELS = ("gradient_boosting",)
_MITDB_SPLITS = ("inter_patient", "de_chazal", "patient_specific", "advance_warning")
#: f1_sv: MIT-BIH, mean F1 of S and V; f1_nsv: of N, S and V; ec57_f1_sv: f1_sv from EC57 counts
#: (a reference F or Q beat called V, a Q beat called S, is no false positive), the papers' figures
_SCORINGS = ("auto", "accuracy", "balanced_accuracy", "f1_macro", "f1_sv", "f1_nsv", "ec57_f1_sv")
#: ``ecg: search: validation:`` how a grid of several candidates is chosen. cv: GridSearchCV
#: (``cv`` folds; for mitdb:patient_specific on each patient's own training beats);
#: inner_minutes (mitdb:patient_specific only): one candidate for every patient, scored on the
#: patients' training minutes after ``inner_train_minutes``, pooled (pipelines.ecg.select_inner_minutes)
VALIDATIONS = ("cv", "inner_minutes")
#: The scorings of AAMI beat classes (MIT-BIH only).
_MITDB_SCORINGS = ("f1_sv", "f1_nsv", "ec57_f1_sv")
PREPROCESSING_STEPS = ("bandpass", "resample", "standardize", "crop_or_pad")
#: Keys replaced whole by :func:`merge`, never merged key by key.
_ATOMIC = ("grid",)

#: The 0.1 layout (every key at the top level, ECG only): key -> its new place.
_MOVED_KEYS = {
    "tracking_uri": "tracking: uri:", "experiment_name": "tracking: experiment:",
    "artifact_location": "tracking: artifact_location:", "dataset": "ecg: data:",
    "preprocessing": "ecg: preprocessing:", "model": "ecg: model:", "grid": "ecg: search: grid:",
    "cv": "ecg: search: cv:", "scoring": "ecg: search: scoring:", "n_jobs": "ecg: search: n_jobs:",
    "backend": "ecg: search: backend:", "scheduler": "ecg: search: scheduler:",
    "random_state": "ecg: random_state:", "seeds": "ecg: seeds:", "model_file": "ecg: model_file:",
    "log_model": "ecg: log_model:", "datasets": "ecg: datasets:", "quick": "ecg: quick:",
}


class ConfigError(ValueError):
    """A key of mlflow.yml is unknown, missing or has a bad value."""


class TrackingServerError(RuntimeError):
    """The MLflow tracking server cannot be reached (before a run) or went away (during one)."""


def _fail(source, key, problem, allowed=None):
    msg = f"{source}: {key}: {problem}"
    if allowed is not None:
        msg += f"; allowed: {allowed}"
    raise ConfigError(msg)


def _fmt(values):
    return ", ".join(str(v) for v in values)


def _check_keys(source, where, mapping, allowed, required=()):
    if not isinstance(mapping, dict):
        _fail(source, where, f"must be a mapping, got {type(mapping).__name__} {mapping!r}",
              "keys " + _fmt(allowed))
    for key in mapping:
        if key not in allowed:
            _fail(source, _join(where, key), "unknown key" + _did_you_mean(key, allowed), "keys " + _fmt(allowed))
    for key in required:
        if key not in mapping:
            _fail(source, _join(where, key), "missing required key", "keys " + _fmt(allowed))


def _did_you_mean(word, choices):
    """`` (did you mean 'x'?)`` for the closest of ``choices`` (difflib), or ``""``."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _join(where, key):
    return str(key) if where == "<top level>" else f"{where}.{key}"


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def merge(base, over):
    """``over`` on top of ``base``: the one merge rule of every override layer.

    Where both values are mappings they are merged key by key, recursively;
    any other value in ``over`` (number, string, list, None) replaces the one
    in ``base``, and so does a whole ``grid`` mapping. Neither argument is
    modified.

    Parameters
    ----------
    base, over : dict

    Returns
    -------
    dict
    """
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in _ATOMIC:
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# --------------------------------------------------------------------------- #
# Loading
# --------------------------------------------------------------------------- #
def load_config(path=None, workflow="ecg", *, quick=False, overrides=None):
    """Read a configuration file and resolve the section of one workflow.

    Parameters
    ----------
    path : str or path-like or None
        The YAML file. None means ``./mlflow.yml`` if it exists, else the
        repository's own ``mlflow.yml``.
    workflow : {'ecg', 'audio'}, default='ecg'
        The section to resolve and validate (with ``tracking:``); the other
        workflow's section is not read.
    quick : bool, default=False
        Apply the section's ``quick:`` overrides.
    overrides : dict or None
        Final overrides (from the command line) in the file's layout, e.g.
        ``{"tracking": {"uri": ...}, "ecg": {"data": {"name": "ucr:ECG200"}}}``.

    Returns
    -------
    config : dict
        The validated workflow section with defaults filled in, plus
        ``tracking`` (the resolved ``tracking:`` section), ``workflow``,
        ``quick`` and ``source``. Paths (tracking URI, artifact location,
        model file) are resolved against the working directory.
    """
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("Reading mlflow.yml needs PyYAML: pip install sk1dcnn[mlflow]") from exc
    if path is None:
        path = Path("mlflow.yml") if Path("mlflow.yml").is_file() else DEFAULT_CONFIG
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Configuration file not found: {path.resolve()} "
                                f"(pass --config PATH; the repository's default is {DEFAULT_CONFIG})")
    with open(path, encoding="utf-8") as fh:
        try:
            raw = yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            raise ConfigError(_yaml_problem(path, exc)) from None
    return resolve_config(raw or {}, workflow, quick=quick, overrides=overrides, source=str(path))


def _yaml_problem(path, exc):
    """A PyYAML error as one line: ``<file>:<line>:<column>: YAML syntax error: <problem>``."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    text = problem + (f" ({context})" if context else "")
    return f"{where}: YAML syntax error: " + " ".join(text.split())


def resolve_config(raw, workflow="ecg", *, quick=False, overrides=None, source="mlflow.yml"):
    """Resolve and validate the ``workflow`` section (and ``tracking:``) of a parsed file.

    Parameters and returns as :func:`load_config`, with ``raw`` the parsed
    YAML mapping and ``source`` the name used in error messages.
    """
    if workflow not in WORKFLOWS:
        raise ValueError(f"unknown workflow {workflow!r}; allowed: {_fmt(WORKFLOWS)}")
    _check_layout(source, raw)
    overrides = overrides or {}
    tracking = _resolve_tracking(source, raw.get("tracking"), overrides.get("tracking") or {}, workflow)
    section = raw.get(workflow) or {}
    over = overrides.get(workflow, {})
    if workflow == "ecg":
        cfg = _resolve_ecg(source, section, quick, over)
    else:
        cfg = _resolve_audio(source, section, quick, over)
    cfg.update(workflow=workflow, tracking=tracking, quick=bool(quick), source=source)
    return cfg


def _check_layout(source, raw):
    if not isinstance(raw, dict):
        _fail(source, "<top level>", f"must be a mapping, got {type(raw).__name__}",
              "keys tracking, " + _fmt(WORKFLOWS))
    old = [k for k in raw if k in _MOVED_KEYS]
    if old:
        moves = ", ".join(f"`{k}:` to `{_MOVED_KEYS[k]}`" for k in old)
        quick = raw.get("quick") if isinstance(raw.get("quick"), dict) else {}
        files = [f for f in (raw.get("model_file"), quick.get("model_file"))
                 if isinstance(f, str) and not f.endswith(_MODEL_FILE_SUFFIX)]
        rename = "".join(f" Rename `model_file: {f}` to end in `{_MODEL_FILE_SUFFIX}` (e.g. "
                         f"{_skops_name(f)}): the model is written with skops, and ecg-monitor refuses "
                         "a .joblib or .pkl file as a pickle." for f in files)
        raise ConfigError(
            f"{source} uses the 0.1 layout (every key at the top level): move {moves}. Inside "
            "`ecg: quick:` and each `ecg: datasets: <name>:` the same moves apply (`dataset:` -> "
            f"`data:`; `grid:`, `cv:`, `scoring:`, `n_jobs:` -> `search:`).{rename} The repository's "
            f"mlflow.yml ({DEFAULT_CONFIG}) shows the new layout.")
    _check_keys(source, "<top level>", raw, ("tracking", *WORKFLOWS))


def _check_audio_search_layout(source, where, section):
    """The earlier ``audio: search: front_ends: [...]``: say where it moved."""
    search = section.get("search") if isinstance(section, dict) else None
    if isinstance(search, dict) and "front_ends" in search:
        fes = search["front_ends"]
        shown = "[" + _fmt(fes) + "]" if isinstance(fes, list) else repr(fes)
        raise ConfigError(
            f"{source} uses the earlier audio: layout: move `{where}: search: front_ends: {shown}` to "
            f"`{where}: search: grid: front_end: {shown}` (the front ends are the grid of the search, "
            "as in ecg: search: grid:). The repository's "
            f"mlflow.yml ({DEFAULT_CONFIG}) shows the new layout.")


def _skops_name(path):
    p = Path(path)
    return str(p.with_suffix(_MODEL_FILE_SUFFIX)) if p.suffix else path + _MODEL_FILE_SUFFIX


@contextlib.contextmanager
def _prefix_errors(note=None):
    """Name errors found only in a merged configuration (quick, a datasets section) as such."""
    try:
        yield
    except ConfigError as exc:
        if note is None:
            raise
        raise ConfigError(f"{exc} ({note})") from None


# --------------------------------------------------------------------------- #
# tracking:
# --------------------------------------------------------------------------- #
def default_tracking_uri():
    """``tracking: uri: null``: a local SQLite store, ``sqlite:///<cwd>/mlflow.db``."""
    return f"sqlite:///{Path.cwd().resolve() / 'mlflow.db'}"


def _resolve_tracking(source, section, cli, workflow):
    """``tracking:`` with the URI and experiment taken by precedence, and why.

    MLflow's convention, the environment over a project's file and the command
    line over both. URI: ``--tracking-uri`` > ``$MLFLOW_TRACKING_URI`` >
    ``tracking.uri`` of the file > ``sqlite:///<cwd>/mlflow.db``; experiment: ``--experiment-name`` >
    ``$MLFLOW_EXPERIMENT_NAME`` > ``tracking.experiment``. ``uri_from`` and
    ``experiment_from`` say which (see :func:`tracking_line`).
    """
    file_trk = merge(TRACKING_DEFAULTS, section or {})
    _check_keys(source, "tracking", file_trk, _TRACKING_KEYS)
    trk = dict(file_trk)
    env_uri = os.environ.get("MLFLOW_TRACKING_URI") or None
    file_uri = file_trk["uri"]
    if cli.get("uri"):
        trk["uri"], where = cli["uri"], "--tracking-uri"
        over = [n for n, v in (("MLFLOW_TRACKING_URI", env_uri), (f"tracking.uri in {source}", file_uri))
                if v is not None and v != cli["uri"]]
        trk["uri_from"] = "from --tracking-uri" + (f", which overrides {' and '.join(over)}" if over else "")
    elif env_uri:
        trk["uri"], where = env_uri, "MLFLOW_TRACKING_URI"
        trk["uri_from"] = "from MLFLOW_TRACKING_URI" + (
            f", which overrides tracking.uri {file_uri} in {source}" if file_uri not in (None, env_uri) else "")
    elif file_uri is not None:
        where = "tracking.uri"
        trk["uri_from"] = f"from tracking.uri in {source}; MLFLOW_TRACKING_URI is not set"
    else:
        where = "tracking.uri"
        trk["uri_from"] = (f"default: no --tracking-uri, MLFLOW_TRACKING_URI not set, tracking.uri: null "
                           f"in {source}")
    env_exp = os.environ.get("MLFLOW_EXPERIMENT_NAME") or None
    if cli.get("experiment"):
        trk["experiment"], trk["experiment_from"] = cli["experiment"], "--experiment-name"
    elif env_exp:
        trk["experiment"], trk["experiment_from"] = env_exp, "MLFLOW_EXPERIMENT_NAME"
    else:
        trk["experiment_from"] = "tracking.experiment"
    return _validate_tracking(source, trk, workflow, uri_key=where)


def tracking_line(tracking):
    """The one line a run prints: which tracking URI (and experiment) it uses, and why."""
    exp = tracking["experiment"]
    exp_from = tracking.get("experiment_from", "tracking.experiment")
    exp_note = "" if exp_from == "tracking.experiment" else f" (from {exp_from})"
    return f"MLflow tracking: {tracking['uri']}  ({tracking.get('uri_from', '')}); experiment '{exp}'{exp_note}"


def _validate_tracking(source, trk, workflow, uri_key="tracking.uri"):
    _check_keys(source, "tracking", {k: v for k, v in trk.items() if not k.endswith("_from")}, _TRACKING_KEYS)
    trk = dict(trk)
    exp = trk["experiment"]
    if not isinstance(exp, str) or not exp.strip():
        _fail(source, "tracking.experiment", f"must be a non-empty string, got {exp!r}")
    trk["experiment"] = exp.replace("{workflow}", workflow)
    uri = trk["uri"]
    if uri_key != "tracking.uri":  # the value came from the command line or the environment
        source = "command line" if uri_key == "--tracking-uri" else "environment"
    if uri is None:
        trk["uri"] = default_tracking_uri()
    elif not isinstance(uri, str):
        _fail(source, uri_key, f"must be a string or null, got {uri!r}",
              "null (sqlite:///<cwd>/mlflow.db), sqlite:///<path>, http(s)://host:port")
    elif uri.startswith("file:") or ("://" not in uri and uri != "databricks"):
        _fail(source, uri_key, f"{uri!r} is a file store, which MLflow 3.x refuses",
              "null (sqlite:///<cwd>/mlflow.db), sqlite:///<absolute path>/mlflow.db, "
              "http(s)://host:port")
    art = trk["artifact_location"]
    remote = trk["uri"].startswith(("http://", "https://"))
    if art is None and not remote:
        art = "mlartifacts"
    if art is not None and not isinstance(art, str):
        _fail(source, "tracking.artifact_location", f"must be a path or URI, got {art!r}",
              "null (<cwd>/mlartifacts; with an http(s) server: the server's artifact store), "
              "a local path, or a URI such as s3://bucket/prefix")
    # null with a tracking server: the server's own artifact store (--artifacts-destination)
    trk["artifact_location"] = None if art is None else \
        art if "://" in art else Path(art).expanduser().resolve().as_uri()
    return trk


def _validate_backend(source, where, search):
    backend, scheduler = search["backend"], search["scheduler"]
    if backend not in _BACKENDS:
        _fail(source, f"{where}.backend", f"unknown backend {backend!r}" + _did_you_mean(backend, _BACKENDS),
              _fmt(_BACKENDS))
    if backend == "dask":
        if not isinstance(scheduler, str) or "://" not in scheduler:
            _fail(source, f"{where}.scheduler", f"backend: dask needs the scheduler address, got "
                  f"{scheduler!r}", "tcp://HOST:PORT (the address dask scheduler / LocalCluster prints)")
    elif scheduler is not None:
        _fail(source, f"{where}.scheduler", f"{scheduler!r} is only used with backend: dask (backend "
              f"is {backend!r})", "null, or set backend: dask")
    n_jobs = search["n_jobs"]
    if not _is_int(n_jobs) or n_jobs == 0 or n_jobs < -1:
        _fail(source, f"{where}.n_jobs", f"must be -1 (all cores) or an integer >= 1, got {n_jobs!r}")


# --------------------------------------------------------------------------- #
# ecg:
# --------------------------------------------------------------------------- #
def _resolve_ecg(source, section, quick, over):
    """``ECG_DEFAULTS <- ecg: <- datasets.<name> <- quick: <- over``, validated."""
    _check_keys(source, "ecg", section, _ECG_KEYS)
    base = merge(ECG_DEFAULTS, section)
    quick_section = base.pop("quick", None) or {}
    sections = base.pop("datasets", None) or {}
    _check_override_keys(source, "ecg.quick", quick_section, _ECG_QUICK_KEYS)
    _check_sections(source, sections)
    # The section alone (what a data set with no datasets: entry runs) and every
    # datasets.<name> entry on top of it are checked, so a typo in one does not
    # wait for that data set to be run.
    if sections:
        with _prefix_errors("in the ecg: section, used by data sets with no datasets: entry"):
            _validate_ecg(source, merge(base, over), check_paths=False)
    for name, entry in sections.items():
        with _prefix_errors("in the configuration of that data set"):
            _validate_ecg(source, merge(base, merge(entry, {"data": {"name": name}})), check_paths=False)
    # Both the full and the quick configuration are checked whichever runs, so a
    # typo in one does not wait for the other to be used.
    checked = {}
    for is_quick in (bool(quick), not quick):
        top = merge(base, quick_section) if is_quick else base
        name = _dataset_name(merge(top, over))
        entry = sections.get(name) if isinstance(name, str) else None
        run_cfg = merge(merge(base, entry or {}), quick_section if is_quick else {})
        run_cfg = merge(run_cfg, over)
        note = None if is_quick == bool(quick) else "in the configuration used by --quick"
        with _prefix_errors(note):
            checked[is_quick] = _validate_ecg(source, run_cfg, check_paths=is_quick == bool(quick))
        checked[is_quick]["dataset_section"] = name if entry is not None else None
    return checked[bool(quick)]


def _dataset_name(cfg):
    data = cfg.get("data")
    return data.get("name") if isinstance(data, dict) else None


def _check_override_keys(source, where, section, allowed):
    """``quick:`` or a ``datasets.<name>`` entry: top-level keys and, where listed, their keys."""
    _check_keys(source, where, section, tuple(allowed))
    for key, sub in allowed.items():
        if sub is not None and key in section:
            _check_keys(source, f"{where}.{key}", section[key], sub)


def _check_sections(source, sections):
    """``datasets:``: a mapping of data set name -> {data, preprocessing, model, search}."""
    if not isinstance(sections, dict):
        _fail(source, "ecg.datasets", f"must be a mapping of dataset name -> overrides, got {sections!r}",
              "keys: dataset names (ucr:<UCR name>, " + _fmt(f"mitdb:{s}" for s in _MITDB_SPLITS)
              + "), each a mapping with keys " + _fmt(_ECG_SECTION_KEYS))
    for name, entry in sections.items():
        where = f"ecg.datasets.{name}"
        try:
            _validate_dataset_name(source, name)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("ecg.data.name:", f"{where}:", 1)) from None
        if entry is None:
            entry = sections[name] = {}
        _check_override_keys(source, where, entry, _ECG_SECTION_KEYS)


def _validate_ecg(source, cfg, check_paths=True):
    """Check every key of a merged ``ecg:`` configuration; fill defaults; resolve paths."""
    _check_keys(source, "ecg", cfg, _ECG_KEYS, required=_ECG_REQUIRED)
    cfg = dict(cfg)
    search = cfg["search"]
    _check_keys(source, "ecg.search", search, _ECG_SEARCH_KEYS, required=("grid", "cv", "n_jobs"))
    search = dict(search)
    _validate_backend(source, "ecg.search", search)

    cfg["data"] = _validate_data(source, cfg["data"], check_paths)
    cfg["preprocessing"] = _validate_preprocessing(source, cfg["preprocessing"])

    from sk1dcnn import CNN1DClassifier

    est_params = CNN1DClassifier().get_params()
    model = cfg["model"] or {}
    _check_keys(source, "ecg.model", model, sorted(est_params))
    cfg["model"] = {k: _tuplify(v) for k, v in model.items()}
    _check_estimator_values(source, "ecg.model", CNN1DClassifier, cfg["model"])

    grid = search["grid"]
    if not isinstance(grid, dict) or not grid:
        _fail(source, "ecg.search.grid", f"must be a non-empty mapping of parameter -> list of values, "
              f"got {grid!r}", "keys " + _fmt(sorted(est_params)) + " (CNN1DClassifier), or "
              "<step>__<param> for preprocessing steps")
    clean_grid = {}
    for key, values in grid.items():
        where = f"ecg.search.grid.{key}"
        if not isinstance(values, list) or not values:
            _fail(source, where, f"must be a non-empty list of values, got {values!r}")
        if "__" in str(key):
            step, _, param = str(key).partition("__")
            if step == "cnn":
                key = param
            else:
                steps = [next(iter(s)) for s in cfg["preprocessing"]] if cfg["preprocessing"] != "auto" \
                    else list(PREPROCESSING_STEPS)
                if step not in steps:
                    _fail(source, where, f"unknown pipeline step {step!r}" + _did_you_mean(step, ["cnn", *steps]),
                          "steps " + _fmt(["cnn", *steps]))
                clean_grid[str(key)] = [_tuplify(v) for v in values]
                continue
        if key not in est_params:
            _fail(source, where, "unknown parameter" + _did_you_mean(key, est_params),
                  "keys " + _fmt(sorted(est_params)) + " (CNN1DClassifier), or <step>__<param>")
        vals = [_tuplify(v) for v in values]
        for v in vals:
            _check_estimator_values(source, where, CNN1DClassifier, {**cfg["model"], key: v}, only=key)
        clean_grid[f"cnn__{key}"] = vals
    search["grid"] = clean_grid

    cv = search["cv"]
    search["cv_repeats"] = 1
    if isinstance(cv, dict):
        _check_keys(source, "ecg.search.cv", cv, ("n_splits", "n_repeats"), required=("n_splits",))
        reps = cv.get("n_repeats", 1)
        if not _is_int(reps) or reps < 1:
            _fail(source, "ecg.search.cv.n_repeats", f"must be an integer >= 1, got {reps!r}")
        if reps > 1 and cfg["data"]["kind"] == "mitdb":
            _fail(source, "ecg.search.cv.n_repeats", f"{reps}: repeated folds are for UCR data sets only "
                  "(MIT-BIH folds are grouped by record)", "1")
        search["cv"], search["cv_repeats"] = cv["n_splits"], reps
        if not _is_int(search["cv"]) or search["cv"] < 2:
            _fail(source, "ecg.search.cv.n_splits",
                  f"must be an integer >= 2 (number of folds), got {search['cv']!r}")
    elif not _is_int(cv) or cv < 2:
        _fail(source, "ecg.search.cv", f"must be an integer >= 2 (number of folds) or "
              f"{{n_splits: k, n_repeats: r}}, got {cv!r}")
    if search["scoring"] not in _SCORINGS:
        _fail(source, "ecg.search.scoring", f"unknown scoring {search['scoring']!r}"
              + _did_you_mean(search["scoring"], _SCORINGS), _fmt(_SCORINGS))
    if search["scoring"] == "auto":
        search["scoring"] = "balanced_accuracy" if cfg["data"]["kind"] == "mitdb" else "accuracy"
    if cfg["data"]["kind"] != "mitdb":
        for key in ("scoring", "tune_offsets"):
            if search[key] in _MITDB_SCORINGS:
                _fail(source, f"ecg.search.{key}", f"{search[key]} scores the AAMI beat classes N, S, V: MIT-BIH "
                      f"data sets only, not {cfg['data']['name']}",
                      _fmt(s for s in _SCORINGS[1:] if s not in _MITDB_SCORINGS))
    if search["scoring"] == "ec57_f1_sv" and cfg["data"].get("subsample_normal") is not None:
        _fail(source, "ecg.search.scoring", "ec57_f1_sv counts beats as EC57 does and cannot weight the "
              "N beats that data.subsample_normal keeps (each stands for 1 / subsample_normal)",
              "f1_sv (the same classes, one against the rest), or data.subsample_normal: null")
    tune = search["tune_offsets"]
    if not isinstance(tune, bool) and tune not in _SCORINGS[1:]:
        _fail(source, "ecg.search.tune_offsets", f"must be true, false or a scoring, got {tune!r}"
              + (_did_you_mean(tune, _SCORINGS[1:]) if isinstance(tune, str) else ""),
              "true, false, " + _fmt(_SCORINGS[1:]))
    if tune is True:
        search["tune_offsets"] = search["scoring"]
    if not _is_int(search["ensemble"]) or isinstance(search["ensemble"], bool) or search["ensemble"] < 1:
        _fail(source, "ecg.search.ensemble", f"must be an integer >= 1 (networks averaged per model), "
              f"got {search['ensemble']!r}")
    _validate_inner(source, search, cfg["data"])
    share = search["fixed_offset_share"]
    if share is not None and (isinstance(share, bool) or not isinstance(share, (int, float))
                              or not 0.5 < share <= 1):
        _fail(source, "ecg.search.fixed_offset_share", f"must be a share in (0.5, 1] or null, got {share!r}",
              "null (tune every class), or e.g. 0.75")
    sm = search["static_model"]
    if sm is not None:
        ds = cfg["data"]
        if sm not in STATIC_MODELS:
            _fail(source, "ecg.search.static_model", f"unknown static model {sm!r}"
                  + _did_you_mean(str(sm), STATIC_MODELS), "null, " + _fmt(STATIC_MODELS))
        if ds["name"] in ("mitdb:patient_specific", "mitdb:advance_warning"):
            _fail(source, "ecg.search.static_model", f"is for the inter-patient refit, not {ds['name']}", "null")
        if not (ds.get("rr_features") or ds.get("template_features")):
            _fail(source, "ecg.search.static_model", f"{sm} learns from the static columns, and "
                  f"{ds['name']} has none", "null, or data.rr_features / data.template_features: true")
    cfg["search"] = search

    if not _is_int(cfg["random_state"]) or cfg["random_state"] < 0:
        _fail(source, "ecg.random_state", f"must be a non-negative integer, got {cfg['random_state']!r}")
    seeds = cfg["seeds"]
    if seeds is None:
        seeds = [cfg["random_state"]]
    if not isinstance(seeds, list) or not seeds or not all(_is_int(s) and s >= 0 for s in seeds):
        _fail(source, "ecg.seeds", f"must be a non-empty list of non-negative integers or null, "
              f"got {seeds!r}")
    cfg["seeds"] = seeds
    mf = cfg["model_file"]
    if mf is not None and not isinstance(mf, str):
        _fail(source, "ecg.model_file", f"must be a path or null, got {mf!r}")
    if mf is not None and not mf.endswith(_MODEL_FILE_SUFFIX):
        # a 0.1 config's model.joblib: skops bytes in it would be refused by ecg-monitor as a pickle
        _fail(source, "ecg.model_file", f"{mf!r} does not end in {_MODEL_FILE_SUFFIX}: the model is "
              f"written with skops (sk1dcnn.persistence.dump), and ecg-monitor refuses .joblib and .pkl "
              f"files as pickles; rename it to {_skops_name(mf)}",
              f"null, or a path ending in {_MODEL_FILE_SUFFIX} (e.g. {ECG_DEFAULTS['model_file']})")
    if mf is not None:
        # one file per data set, so a UCR run does not replace the MIT-BIH model ecg-monitor uses
        mf = mf.replace("{dataset}", cfg["data"]["name"].replace(":", "-"))
        mf = str(Path(mf).expanduser().resolve())
    cfg["model_file"] = mf
    if not isinstance(cfg["log_model"], bool):
        _fail(source, "ecg.log_model", f"must be true or false, got {cfg['log_model']!r}", "true, false")
    return cfg


def _validate_inner(source, search, ds):
    """``search.validation`` and ``search.inner_train_minutes`` (mitdb:patient_specific)."""
    validation = search["validation"]
    if validation not in VALIDATIONS:
        _fail(source, "ecg.search.validation", f"unknown validation {validation!r}"
              + _did_you_mean(str(validation), VALIDATIONS), _fmt(VALIDATIONS))
    patient_specific = ds["kind"] == "mitdb" and ds["sub"] == "patient_specific"
    if validation == "inner_minutes" and not patient_specific:
        _fail(source, "ecg.search.validation", f"inner_minutes chooses among a patient's own training "
              f"minutes: mitdb:patient_specific only, not {ds['name']}", "cv")
    if patient_specific and search["tune_offsets"] and validation != "inner_minutes":
        _fail(source, "ecg.search.tune_offsets", "the patient-specific scheme tunes its offsets on the "
              "pooled inner minutes: it needs validation: inner_minutes", "false, or validation: inner_minutes")
    inner = search["inner_train_minutes"]
    if inner is None:
        if patient_specific:
            search["inner_train_minutes"] = ds["train_minutes"] / 2
        return
    if not isinstance(inner, (int, float)) or isinstance(inner, bool) or not patient_specific \
            or not 0 < inner < ds["train_minutes"]:
        _fail(source, "ecg.search.inner_train_minutes",
              f"must be minutes in (0, data.train_minutes = {ds['train_minutes']:g}) for "
              f"mitdb:patient_specific, got {inner!r} for {ds['name']}",
              f"null (half of data.train_minutes) or e.g. {ds['train_minutes'] / 2:g}")
    search["inner_train_minutes"] = float(inner)


def _tuplify(v):
    """YAML gives lists; per-layer parameters read better (and hash) as tuples."""
    return tuple(v) if isinstance(v, list) else v


def _check_estimator_values(source, where, cls, params, only=None):
    """The estimator's own ``_validate_params()`` (one source of truth), as a ConfigError."""
    from sklearn.utils._param_validation import InvalidParameterError

    try:
        cls(**params)._validate_params()
    except InvalidParameterError as exc:
        # sklearn's message: "The 'filters' parameter of CNN1DClassifier must be ... Got ... instead."
        text = str(exc)
        bad = text.split("'")[1] if text.count("'") >= 2 else (only or "?")
        key = where if only is not None else f"{where}.{bad}"
        raise ConfigError(f"{source}: {key}: {text}") from None


def _validate_data(source, ds, check_paths=True):
    _check_keys(source, "ecg.data", ds, _ECG_DATA_KEYS, required=("name",))
    ds = dict(ds)
    kind, sub = _validate_dataset_name(source, ds["name"])
    ds["kind"], ds["sub"] = kind, sub
    data_dir = ds["data_dir"] if check_paths else None
    if data_dir is not None:
        ds["data_dir"] = _resolve_data_dir(source, "ecg.data.data_dir", data_dir, kind)
    if not _is_int(ds["channel"]) or ds["channel"] < 0:
        _fail(source, "ecg.data.channel", f"must be a non-negative integer, got {ds['channel']!r}")
    for key in ("before", "after"):
        v = ds[key]
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 < v <= 2:
            _fail(source, f"ecg.data.{key}", f"must be seconds in (0, 2], got {v!r}")
    classes = ds["classes"]
    if classes is not None:
        from sk1dcnn.ecg import AAMI_CLASSES

        if (not isinstance(classes, list) or len(classes) < 2
                or not all(c in AAMI_CLASSES for c in classes) or len(set(classes)) != len(classes)):
            _fail(source, "ecg.data.classes", f"must be null or a list of at least two AAMI classes, "
                  f"got {classes!r}", "null (all), or a subset of " + _fmt(AAMI_CLASSES))
        if kind != "mitdb":
            _fail(source, "ecg.data.classes", f"is for MIT-BIH data sets, not {ds['name']}", "null")
    if ds["lead"] is not None and (not isinstance(ds["lead"], str) or not ds["lead"]):
        _fail(source, "ecg.data.lead", f"must be a lead name or null, got {ds['lead']!r}",
              "null (use channel), or a lead name from the record headers, e.g. MLII, V1, V5")
    for key in ("rr_features", "template_features"):
        if not isinstance(ds[key], bool):
            _fail(source, f"ecg.data.{key}", f"must be true or false, got {ds[key]!r}", "true, false")
        if ds[key] and kind != "mitdb":
            _fail(source, f"ecg.data.{key}", f"is for MIT-BIH data sets, not {ds['name']}", "false")
    if ds["template_features"] and ds["name"] == "mitdb:advance_warning":
        _fail(source, "ecg.data.template_features", "mitdb:advance_warning does not read it: its personal "
              "network's inputs are fixed by its protocol (pipelines.advance_warning)", "false")
    sn = ds["subsample_normal"]
    if sn is not None and (not isinstance(sn, (int, float)) or isinstance(sn, bool) or not 0 < sn <= 1):
        _fail(source, "ecg.data.subsample_normal", f"must be a fraction in (0, 1] or null, got {sn!r}")
    recs = ds["records"]
    if recs is not None:
        if (not isinstance(recs, list) or not recs
                or not all(isinstance(r, (str, int)) and not isinstance(r, bool) for r in recs)):
            _fail(source, "ecg.data.records", f"must be a non-empty list of record names or null, "
                  f"got {recs!r}", "null (every record in data_dir), or e.g. [100, 119, 233]")
        ds["records"] = [str(r) for r in recs]
    tm = ds["train_minutes"]
    if not isinstance(tm, (int, float)) or isinstance(tm, bool) or not 0 < tm < 30:
        _fail(source, "ecg.data.train_minutes", f"must be minutes in (0, 30), got {tm!r}")
    if not _is_int(ds["n_common_per_class"]) or ds["n_common_per_class"] < 0:
        _fail(source, "ecg.data.n_common_per_class",
              f"must be a non-negative integer, got {ds['n_common_per_class']!r}")
    return ds


def _resolve_data_dir(source, where, data_dir, kind):
    """'shared' (the full data folder, $SK1DCNN_DATA) or an existing folder, as an absolute path."""
    if not isinstance(data_dir, (str, os.PathLike)):
        _fail(source, where, f"must be a path, 'shared' or null, got {data_dir!r}")
    if str(data_dir) == "shared":
        from sk1dcnn.datasets import find_shared_data

        found = find_shared_data(kind)
        if found is None:
            _fail(source, where, f"'shared' but the full data folder has no {kind}/ "
                  "(set $SK1DCNN_DATA or give a path)",
                  "null (shipped data), 'shared', or an existing folder")
        return str(found)
    p = Path(data_dir).expanduser().resolve()
    if not p.is_dir():
        _fail(source, where, f"folder does not exist: {p}",
              "null (shipped data), 'shared', or an existing folder")
    return str(p)


def _validate_dataset_name(source, name):
    """``ucr:<name>`` or ``mitdb:<split>``; returns ``(kind, sub)``."""
    allowed = ("ucr:<UCR name> (shipped: ECG200, ECGFiveDays; from $SK1DCNN_DATA or data_dir: "
               "ECG5000, ...), " + _fmt(f"mitdb:{s}" for s in _MITDB_SPLITS))
    if not isinstance(name, str) or ":" not in name:
        _fail(source, "ecg.data.name", f"bad value {name!r}", allowed)
    kind, _, sub = name.partition(":")
    if kind == "ucr":
        if not sub:
            _fail(source, "ecg.data.name", "missing the UCR data set name after 'ucr:'", allowed)
    elif kind == "mitdb":
        if sub not in _MITDB_SPLITS:
            _fail(source, "ecg.data.name", f"unknown MIT-BIH split {sub!r}" + _did_you_mean(sub, _MITDB_SPLITS),
                  allowed)
    else:
        _fail(source, "ecg.data.name", f"unknown data source {kind!r}", allowed)
    return kind, sub


def _validate_preprocessing(source, steps):
    if steps == "auto" or steps is None:
        return "auto" if steps == "auto" else []
    if not isinstance(steps, list):
        _fail(source, "ecg.preprocessing", f"must be 'auto' or a list of steps, got {steps!r}",
              "'auto', [] or a list of {step: {params}} with step in " + _fmt(PREPROCESSING_STEPS))
    out = []
    for i, item in enumerate(steps):
        where = f"ecg.preprocessing[{i}]"
        if isinstance(item, str):
            item = {item: {}}
        if not isinstance(item, dict) or len(item) != 1:
            _fail(source, where, f"must be one {{step: {{params}}}} mapping, got {item!r}",
                  "steps " + _fmt(PREPROCESSING_STEPS))
        (name, params), = item.items()
        if name not in PREPROCESSING_STEPS:
            _fail(source, where, f"unknown step {name!r}" + _did_you_mean(name, PREPROCESSING_STEPS),
                  "steps " + _fmt(PREPROCESSING_STEPS))
        params = params or {}
        if name == "crop_or_pad" and "length" not in params:
            _fail(source, f"{where}.crop_or_pad.length", "missing required key",
                  "keys length, mode, pad_value")
        _check_transformer(source, f"{where}.{name}", preprocessing_step(name), params)
        out.append({name: dict(params)})
    return out


def _check_transformer(source, where, template, params):
    """Unknown keys and bad values of a transformer's parameters (its own ``_validate_params``)."""
    from sklearn.base import clone

    _check_keys(source, where, params, sorted(template.get_params()))
    try:
        clone(template).set_params(**params)._validate_params()
    except Exception as exc:  # sklearn's InvalidParameterError names the parameter
        raise ConfigError(f"{source}: {where}: {exc}") from None


def preprocessing_step(name, params=None):
    """A fresh preprocessing transformer for a step name of ``ecg: preprocessing:``."""
    from sk1dcnn.preprocessing import BandpassFilter, CropOrPad, Resampler, SeriesStandardScaler

    classes = {"bandpass": BandpassFilter, "resample": Resampler,
               "standardize": SeriesStandardScaler, "crop_or_pad": CropOrPad}
    est = classes[name](length=1) if name == "crop_or_pad" else classes[name]()
    return est.set_params(**(params or {}))


# --------------------------------------------------------------------------- #
# audio:
# --------------------------------------------------------------------------- #
def _resolve_audio(source, section, quick, over):
    """``AUDIO_DEFAULTS <- audio: <- quick: <- over``, validated (both quick and full)."""
    _check_audio_search_layout(source, "audio", section)
    if isinstance(section, dict):
        _check_audio_search_layout(source, "audio: quick", section.get("quick"))
    _check_keys(source, "audio", section, _AUDIO_KEYS)
    base = merge(AUDIO_DEFAULTS, section)
    quick_section = base.pop("quick")
    _check_keys(source, "audio.quick", quick_section, tuple(k for k in _AUDIO_KEYS if k != "quick"))
    checked = {}
    for is_quick in (bool(quick), not quick):
        run_cfg = merge(merge(base, quick_section) if is_quick else base, over)
        note = None if is_quick == bool(quick) else "in the configuration used by --quick"
        with _prefix_errors(note):
            checked[is_quick] = _validate_audio(source, run_cfg, check_paths=is_quick == bool(quick))
    return checked[bool(quick)]


def _validate_audio(source, cfg, check_paths=True):
    from sk1dcnn import CNN1DClassifier
    from sk1dcnn.audio import AmplitudeNormalizer, LogMelSpectrogram

    _check_keys(source, "audio", cfg, _AUDIO_KEYS)
    cfg = copy.deepcopy(cfg)
    cfg.pop("quick", None)
    data = cfg["data"]
    _check_keys(source, "audio.data", data, tuple(AUDIO_DEFAULTS["data"]))
    if not _is_int(data["length"]) or data["length"] < 1:
        _fail(source, "audio.data.length", f"must be a positive number of samples, got {data['length']!r}")
    d = data["data_dir"]
    if d not in (None, "shipped", "shared"):
        if not check_paths:
            data["data_dir"] = None
        elif not isinstance(d, (str, os.PathLike)) or not Path(d).expanduser().is_dir():
            _fail(source, "audio.data.data_dir", f"folder does not exist: {d!r}",
                  "null (full FSDD if found, else the shipped clips), 'shipped', 'shared', "
                  "or an existing folder")
        else:
            data["data_dir"] = str(Path(d).expanduser().resolve())

    pre = cfg["preprocessing"]
    _check_keys(source, "audio.preprocessing", pre, ("normalize", "mel"))
    _check_transformer(source, "audio.preprocessing.normalize", AmplitudeNormalizer(),
                       {"method": pre["normalize"]})
    _check_transformer(source, "audio.preprocessing.mel", LogMelSpectrogram(), pre["mel"])

    est_params = sorted(CNN1DClassifier().get_params())
    cfg["model"] = {k: _tuplify(v) for k, v in cfg["model"].items()}
    _check_keys(source, "audio.model", cfg["model"], est_params)
    _check_estimator_values(source, "audio.model", CNN1DClassifier, cfg["model"])
    _check_keys(source, "audio.front_ends", cfg["front_ends"], _FRONT_ENDS)
    for fe, params in cfg["front_ends"].items():
        where = f"audio.front_ends.{fe}"
        _check_keys(source, where, params, est_params)
        params = {k: _tuplify(v) for k, v in params.items()}
        cfg["front_ends"][fe] = params
        try:
            params = {**params, "architecture": architecture_specs(params.get("architecture"))}
        except (KeyError, TypeError, ValueError) as exc:
            _fail(source, f"{where}.architecture", f"bad preset {params['architecture']!r} ({exc})",
                  "a preset name, or {preset: name, <its keyword arguments>}")
        _check_estimator_values(source, where, CNN1DClassifier, {**cfg["model"], **params})

    search = cfg["search"]
    _check_keys(source, "audio.search", search, _AUDIO_SEARCH_KEYS)
    grid = search["grid"]
    grid_keys = "keys front_end (required), or CNN1DClassifier parameters: " + _fmt(est_params)
    if not isinstance(grid, dict):
        _fail(source, "audio.search.grid", f"must be a mapping of parameter -> list of values, got "
              f"{grid!r}", grid_keys)
    _check_keys(source, "audio.search.grid", grid, ("front_end", *est_params), required=("front_end",))
    fes = grid["front_end"]
    if not isinstance(fes, list) or not fes or not set(fes) <= set(_FRONT_ENDS) or len(set(fes)) < len(fes):
        _fail(source, "audio.search.grid.front_end", f"must be a non-empty list of front ends, got {fes!r}",
              _fmt(_FRONT_ENDS))
    for key, values in grid.items():
        where = f"audio.search.grid.{key}"
        if not isinstance(values, list) or not values:
            _fail(source, where, f"must be a non-empty list of values, got {values!r}")
        if key != "front_end":
            grid[key] = [_tuplify(v) for v in values]
            for v in grid[key]:
                _check_estimator_values(source, where, CNN1DClassifier, {**cfg["model"], key: v}, only=key)
    if not _is_int(search["cv"]) or search["cv"] < 2:
        _fail(source, "audio.search.cv", f"must be an integer >= 2 (number of folds), got {search['cv']!r}")
    scorings = ("auto", *dict.fromkeys(s for task in AUDIO_SCORINGS.values() for s in task))
    if search["scoring"] not in scorings:
        _fail(source, "audio.search.scoring", f"unknown scoring {search['scoring']!r}"
              + _did_you_mean(search["scoring"], scorings), _scorings_text())
    _validate_backend(source, "audio.search", search)

    tg = cfg["tagging"]
    _check_keys(source, "audio.tagging", tg, tuple(AUDIO_DEFAULTS["tagging"]))
    for key in ("n_train", "n_test"):
        if not _is_int(tg[key]) or tg[key] < 2:
            _fail(source, f"audio.tagging.{key}", f"must be an integer >= 2, got {tg[key]!r}")
    if not isinstance(tg["gain_db"], (int, float)) or isinstance(tg["gain_db"], bool) or tg["gain_db"] < 0:
        _fail(source, "audio.tagging.gain_db", f"must be a number of dB >= 0, got {tg['gain_db']!r}")
    for key in ("loso", "log_model"):
        if not isinstance(cfg[key], bool):
            _fail(source, f"audio.{key}", f"must be true or false, got {cfg[key]!r}", "true, false")
    if not _is_int(cfg["random_state"]) or cfg["random_state"] < 0:
        _fail(source, "audio.random_state", f"must be a non-negative integer, got {cfg['random_state']!r}")
    return cfg


def _scorings_text():
    return "auto (" + ", ".join(f"{v[0]} for {task}" for task, v in AUDIO_SCORINGS.items()) + "), " + \
        "; ".join(f"{_fmt(v)} ({task})" for task, v in AUDIO_SCORINGS.items())


def audio_scoring(config, task):
    """The scoring of ``audio: search: scoring:`` for a task, ``auto`` resolved.

    Parameters
    ----------
    config : dict
        A resolved ``audio:`` configuration.
    task : {'audio', 'audio-tagging'}
        The command (spoken digits, or tags of mixtures).

    Returns
    -------
    str
        One of ``AUDIO_SCORINGS[task]``.

    Raises
    ------
    ConfigError
        The scoring is one of the other task's.
    """
    scoring, allowed = config["search"]["scoring"], AUDIO_SCORINGS[task]
    if scoring == "auto":
        return allowed[0]
    if scoring not in allowed:
        _fail(config["source"], "audio.search.scoring", f"{scoring!r} does not score {task}",
              f"auto ({allowed[0]}), " + _fmt(allowed))
    return scoring


def architecture_specs(arch):
    """``architecture: {preset: name, <keyword arguments>}`` as the preset's layer specs.

    Any other value (a preset name, layer specs, None) is returned as it is.
    Raises KeyError, TypeError or ValueError for a bad preset (``get_preset``'s).
    """
    if not isinstance(arch, dict):
        return arch
    from sk1dcnn.presets import get_preset

    kw = dict(arch)
    return get_preset(kw.pop("preset"), **kw)

"""Load and validate ``mlflow.yml``, the workflow's configuration file.

Every key is checked before anything runs: an unknown key, a missing required
key or a bad value raises :class:`ConfigError` naming the key (dotted, e.g.
``model.filters``) and the allowed keys or values.

The ``datasets:`` section holds per-dataset overrides keyed by dataset name
(``ucr:ECG200``, ``mitdb:inter_patient``, ...): the section of the dataset
that runs is applied on top of the top-level keys, ``dataset`` (all but its
name) and ``model`` merged key by key, ``grid``, ``cv``, ``scoring`` and
``preprocessing`` replacing the top-level value. A data set without a section uses the top-level keys.

The ``quick:`` section holds overrides used by ``--quick``: mappings
(``dataset``, ``model``) are merged key by key, everything else (``grid``
included) replaces the top-level value. Order: top level, then
``datasets.<name>``, then ``quick``, then the command line.
"""

import contextlib
import copy
import os
from pathlib import Path

__all__ = ["ConfigError", "TrackingServerError", "DEFAULT_CONFIG", "load_config", "resolve_config", "validate_config"]

#: The repository's own mlflow.yml, used when --config is not given and the
#: working directory has none.
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "mlflow.yml"

_REQUIRED = ("experiment_name", "dataset", "model", "grid", "cv", "n_jobs", "random_state")
_OPTIONAL = {
    "tracking_uri": None,
    "artifact_location": None,
    "preprocessing": "auto",
    "scoring": "auto",
    "seeds": None,
    "model_file": "mlartifacts/ecg_model_{dataset}.joblib",
    "log_model": True,
    # where GridSearchCV runs: local processes, or a dask.distributed cluster
    "backend": "local",
    "scheduler": None,
}
_TOP_KEYS = _REQUIRED + tuple(_OPTIONAL) + ("datasets", "quick")
_QUICK_KEYS = tuple(k for k in _TOP_KEYS if k not in ("quick", "datasets", "tracking_uri",
                                                      "experiment_name", "artifact_location",
                                                      "backend", "scheduler"))
_BACKENDS = ("local", "dask")
#: Keys a ``datasets.<name>`` section may override.
_SECTION_KEYS = ("dataset", "model", "grid", "cv", "scoring", "preprocessing")
_DATASET_KEYS = {"name": None, "data_dir": None, "channel": 0, "before": 0.25, "after": 0.45,
                 # mitdb only: keep the beats of these AAMI classes (null = all)
                 "classes": None,
                 # mitdb:patient_specific only (Kiranyaz et al. 2016)
                 "records": None, "train_minutes": 5.0, "n_common_per_class": 75}
_MITDB_SPLITS = ("inter_patient", "patient_specific")
_SCORINGS = ("auto", "accuracy", "balanced_accuracy", "f1_macro")
PREPROCESSING_STEPS = ("bandpass", "resample", "standardize", "crop_or_pad")


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
            name = f"{where}.{key}" if where != "<top level>" else str(key)
            _fail(source, name, "unknown key", "keys " + _fmt(allowed))
    for key in required:
        if key not in mapping:
            name = f"{where}.{key}" if where != "<top level>" else str(key)
            _fail(source, name, "missing required key", "keys " + _fmt(allowed))


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def load_config(path=None, *, quick=False, overrides=None):
    """Read, merge (``quick``, CLI overrides) and validate a configuration file.

    Parameters
    ----------
    path : str or path-like or None
        The YAML file. None means ``./mlflow.yml`` if it exists, else the
        repository's own ``mlflow.yml``.
    quick : bool, default=False
        Apply the ``quick:`` section.
    overrides : dict or None
        Final overrides (from the command line), e.g. ``{"n_jobs": 1}`` or
        ``{"dataset": {"name": "ucr:ECG200"}}``; merged like ``quick``.

    Returns
    -------
    config : dict
        Validated configuration with defaults filled in and paths resolved
        (``tracking_uri``, ``artifact_location``, ``model_file``) against the
        working directory.
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
        raw = yaml.safe_load(fh)
    if raw is None:
        raw = {}
    return resolve_config(raw, quick=quick, overrides=overrides, source=str(path))


def resolve_config(raw, *, quick=False, overrides=None, source="mlflow.yml"):
    """Apply the ``datasets.<name>`` section, ``quick:`` and overrides to ``raw``, then validate.

    The returned config has ``dataset_section``: the name of the ``datasets:``
    section applied, or None.
    """
    # required at the top level: a data set with no datasets: section runs on it
    _check_keys(source, "<top level>", raw, _TOP_KEYS, required=_REQUIRED)
    cfg = copy.deepcopy(raw)
    quick_section = cfg.pop("quick", None) or {}
    sections = cfg.pop("datasets", None) or {}
    _check_keys(source, "quick", quick_section, _QUICK_KEYS)
    _check_sections(source, sections)
    overrides = overrides or {}
    # The top level alone (what a data set with no section runs) and every
    # datasets.<name> section on top of it are checked, so a typo in one does not
    # wait for that data set to be run.
    if sections:
        with _prefix_errors("top level", "in the top-level configuration, used by data sets with no "
                                         "datasets: section"):
            validate_config(_merge(cfg, overrides), source=source, check_paths=False)
    for name, section in sections.items():
        with _prefix_errors(f"datasets.{name}", "in the configuration of that data set"):
            validate_config(_merge(cfg, {**section, "dataset": {"name": name}}), source=source,
                            check_paths=False)
    # Both the full and the quick configuration are checked whichever runs, so a
    # typo in one does not wait for the other to be used.
    checked = {}
    for is_quick in (bool(quick), not quick):
        merged = _merge(cfg, quick_section) if is_quick else cfg
        name = _dataset_name(_merge(merged, overrides))
        section = sections.get(name) if isinstance(name, str) else None
        run_cfg = _merge(_merge(cfg, section or {}), quick_section) if is_quick else \
            _merge(cfg, section or {})
        run_cfg = _merge(run_cfg, overrides)
        label = None if is_quick == bool(quick) else "used by --quick"
        with _prefix_errors(label and "quick", label and f"in the configuration {label}"):
            checked[is_quick] = validate_config(run_cfg, source=source,
                                                check_paths=is_quick == bool(quick))
        checked[is_quick]["dataset_section"] = name if section is not None else None
    cfg = checked[bool(quick)]
    cfg["quick"] = bool(quick)
    cfg["source"] = source
    return cfg


def _dataset_name(cfg):
    ds = cfg.get("dataset")
    return ds.get("name") if isinstance(ds, dict) else ds


def _check_sections(source, sections):
    """``datasets:``: a mapping of dataset name -> {dataset, model, grid, cv, scoring, preprocessing}."""
    if not isinstance(sections, dict):
        _fail(source, "datasets", f"must be a mapping of dataset name -> overrides, got {sections!r}",
              "keys: dataset names (ucr:<UCR name>, " + _fmt(f"mitdb:{s}" for s in _MITDB_SPLITS)
              + "), each a mapping with keys " + _fmt(_SECTION_KEYS))
    for name, section in sections.items():
        where = f"datasets.{name}"
        try:
            _validate_dataset_name(source, name)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("dataset.name:", f"{where}:", 1)) from None
        if section is None:
            section = sections[name] = {}
        _check_keys(source, where, section, _SECTION_KEYS)
        if "dataset" in section:  # the section's own key is the name
            _check_keys(source, f"{where}.dataset", section["dataset"],
                        tuple(k for k in _DATASET_KEYS if k != "name"))


@contextlib.contextmanager
def _prefix_errors(prefix, note=None):
    """Name errors found only in a merged configuration (quick, a datasets section) as such."""
    try:
        yield
    except ConfigError as exc:
        if prefix is None:
            raise
        raise ConfigError(f"{exc} ({note or f'in the configuration used by --{prefix}'})") from None


def _merge(base, extra):
    out = dict(base)
    for key, value in extra.items():
        if key in ("dataset", "model") and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = copy.deepcopy(value)
    return out


def validate_config(cfg, source="mlflow.yml", check_paths=True):
    """Check every key of a merged configuration; fill defaults; resolve paths.

    ``check_paths=False`` skips the checks that data folders exist (used for
    the configuration that is validated but not run).
    """
    _check_keys(source, "<top level>", cfg, _TOP_KEYS, required=_REQUIRED)
    cfg = {**_OPTIONAL, **cfg}

    if not isinstance(cfg["experiment_name"], str) or not cfg["experiment_name"].strip():
        _fail(source, "experiment_name", f"must be a non-empty string, got {cfg['experiment_name']!r}")
    uri = cfg["tracking_uri"]
    if uri is None:
        cfg["tracking_uri"] = f"sqlite:///{Path.cwd().resolve() / 'mlflow.db'}"
    elif not isinstance(uri, str):
        _fail(source, "tracking_uri", f"must be a string or null, got {uri!r}",
              "null (sqlite:///<cwd>/mlflow.db), sqlite:///<path>, http(s)://host:port")
    elif uri.startswith("file:") or "://" not in uri:
        _fail(source, "tracking_uri",
              f"{uri!r} is a file store, which MLflow 3.x refuses",
              "null (sqlite:///<cwd>/mlflow.db), sqlite:///<absolute path>/mlflow.db, "
              "http(s)://host:port")
    art = cfg["artifact_location"]
    remote = cfg["tracking_uri"].startswith(("http://", "https://"))
    if art is None and not remote:
        art = "mlartifacts"
    if art is not None and not isinstance(art, str):
        _fail(source, "artifact_location", f"must be a path or URI, got {art!r}",
              "null (<cwd>/mlartifacts; with an http(s) server: the server's artifact store), "
              "a local path, or a URI such as s3://bucket/prefix")
    # null with a tracking server: the server's own artifact store (--artifacts-destination)
    cfg["artifact_location"] = None if art is None else \
        art if "://" in art else Path(art).expanduser().resolve().as_uri()

    backend, scheduler = cfg["backend"], cfg["scheduler"]
    if backend not in _BACKENDS:
        _fail(source, "backend", f"unknown backend {backend!r}", _fmt(_BACKENDS))
    if backend == "dask":
        if not isinstance(scheduler, str) or "://" not in scheduler:
            _fail(source, "scheduler", f"backend: dask needs the scheduler address, got {scheduler!r}",
                  "tcp://HOST:PORT (the address dask scheduler / LocalCluster prints)")
    elif scheduler is not None:
        _fail(source, "scheduler", f"{scheduler!r} is only used with backend: dask (backend is "
              f"{backend!r})", "null, or set backend: dask")

    cfg["dataset"] = _validate_dataset(source, cfg["dataset"], check_paths)
    cfg["preprocessing"] = _validate_preprocessing(source, cfg["preprocessing"])

    from sk1dcnn import CNN1DClassifier

    est_params = CNN1DClassifier().get_params()
    model = cfg["model"] or {}
    _check_keys(source, "model", model, sorted(est_params))
    _check_estimator_values(source, "model", CNN1DClassifier, {k: _tuplify(v) for k, v in model.items()})
    cfg["model"] = {k: _tuplify(v) for k, v in model.items()}

    grid = cfg["grid"]
    if not isinstance(grid, dict) or not grid:
        _fail(source, "grid", f"must be a non-empty mapping of parameter -> list of values, got {grid!r}",
              "keys " + _fmt(sorted(est_params)) + " (CNN1DClassifier), or <step>__<param> for "
              "preprocessing steps")
    clean_grid = {}
    for key, values in grid.items():
        where = f"grid.{key}"
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
                    _fail(source, where, f"unknown pipeline step {step!r}", "steps " + _fmt(["cnn", *steps]))
                clean_grid[str(key)] = [_tuplify(v) for v in values]
                continue
        if key not in est_params:
            _fail(source, where, "unknown parameter",
                  "keys " + _fmt(sorted(est_params)) + " (CNN1DClassifier), or <step>__<param>")
        vals = [_tuplify(v) for v in values]
        for v in vals:
            _check_estimator_values(source, where, CNN1DClassifier, {**cfg["model"], key: v}, only=key)
        clean_grid[f"cnn__{key}"] = vals
    cfg["grid"] = clean_grid

    cv = cfg["cv"]
    cfg["cv_repeats"] = 1
    if isinstance(cv, dict):
        _check_keys(source, "cv", cv, ("n_splits", "n_repeats"), required=("n_splits",))
        reps = cv.get("n_repeats", 1)
        if not _is_int(reps) or reps < 1:
            _fail(source, "cv.n_repeats", f"must be an integer >= 1, got {reps!r}")
        if reps > 1 and cfg["dataset"]["kind"] == "mitdb":
            _fail(source, "cv.n_repeats", f"{reps}: repeated folds are for UCR data sets only (MIT-BIH "
                  "folds are grouped by record)", "1")
        cfg["cv"], cfg["cv_repeats"] = cv["n_splits"], reps
        if not _is_int(cfg["cv"]) or cfg["cv"] < 2:
            _fail(source, "cv.n_splits", f"must be an integer >= 2 (number of folds), got {cfg['cv']!r}")
    elif not _is_int(cv) or cv < 2:
        _fail(source, "cv", f"must be an integer >= 2 (number of folds) or {{n_splits: k, n_repeats: r}}, "
              f"got {cv!r}")
    n_jobs = cfg["n_jobs"]
    if not _is_int(n_jobs) or n_jobs == 0 or n_jobs < -1:
        _fail(source, "n_jobs", f"must be -1 (all cores) or an integer >= 1, got {n_jobs!r}")
    if not _is_int(cfg["random_state"]) or cfg["random_state"] < 0:
        _fail(source, "random_state", f"must be a non-negative integer, got {cfg['random_state']!r}")
    if cfg["scoring"] not in _SCORINGS:
        _fail(source, "scoring", f"unknown scoring {cfg['scoring']!r}", _fmt(_SCORINGS))
    if cfg["scoring"] == "auto":
        cfg["scoring"] = "balanced_accuracy" if cfg["dataset"]["kind"] == "mitdb" else "accuracy"
    seeds = cfg["seeds"]
    if seeds is None:
        seeds = [cfg["random_state"]]
    if not isinstance(seeds, list) or not seeds or not all(_is_int(s) and s >= 0 for s in seeds):
        _fail(source, "seeds", f"must be a non-empty list of non-negative integers or null, got {seeds!r}")
    cfg["seeds"] = seeds
    mf = cfg["model_file"]
    if mf is not None and not isinstance(mf, str):
        _fail(source, "model_file", f"must be a path or null, got {mf!r}")
    if mf is not None:
        # one file per data set, so a UCR run does not replace the MIT-BIH model ecg-monitor uses
        mf = mf.replace("{dataset}", cfg["dataset"]["name"].replace(":", "-"))
        mf = str(Path(mf).expanduser().resolve())
    cfg["model_file"] = mf
    if not isinstance(cfg["log_model"], bool):
        _fail(source, "log_model", f"must be true or false, got {cfg['log_model']!r}", "true, false")
    return cfg


def _tuplify(v):
    """YAML gives lists; per-layer parameters read better (and hash) as tuples."""
    return tuple(v) if isinstance(v, list) else v


def _check_estimator_values(source, where, cls, params, only=None):
    from sklearn.utils._param_validation import InvalidParameterError

    try:
        cls(**params)._validate_params()
    except InvalidParameterError as exc:
        # sklearn's message: "The 'filters' parameter of CNN1DClassifier must be ... Got ... instead."
        text = str(exc)
        bad = text.split("'")[1] if text.count("'") >= 2 else (only or "?")
        key = where if only is not None else f"{where}.{bad}"
        raise ConfigError(f"{source}: {key}: {text}") from None


def _validate_dataset(source, ds, check_paths=True):
    if isinstance(ds, str):
        ds = {"name": ds}
    _check_keys(source, "dataset", ds, tuple(_DATASET_KEYS), required=("name",))
    ds = {**_DATASET_KEYS, **ds}
    kind, sub = _validate_dataset_name(source, ds["name"])
    ds["kind"], ds["sub"] = kind, sub
    data_dir = ds["data_dir"]
    if data_dir is not None:
        if not check_paths:
            data_dir = None
    if data_dir is not None:
        if not isinstance(data_dir, (str, os.PathLike)):
            _fail(source, "dataset.data_dir", f"must be a path, 'shared' or null, got {data_dir!r}")
        if str(data_dir) == "shared":
            from sk1dcnn.datasets import find_shared_data

            found = find_shared_data(kind)
            if found is None:
                _fail(source, "dataset.data_dir",
                      f"'shared' but the shared data folder has no {kind}/ "
                      "(set $SK1DCNN_DATA or give a path)",
                      "null (shipped data), 'shared', or an existing folder")
            ds["data_dir"] = str(found)
        else:
            p = Path(data_dir).expanduser().resolve()
            if not p.is_dir():
                _fail(source, "dataset.data_dir", f"folder does not exist: {p}",
                      "null (shipped data), 'shared', or an existing folder")
            ds["data_dir"] = str(p)
    if not _is_int(ds["channel"]) or ds["channel"] < 0:
        _fail(source, "dataset.channel", f"must be a non-negative integer, got {ds['channel']!r}")
    for key in ("before", "after"):
        v = ds[key]
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 < v <= 2:
            _fail(source, f"dataset.{key}", f"must be seconds in (0, 2], got {v!r}")
    classes = ds["classes"]
    if classes is not None:
        from sk1dcnn.datasets import AAMI_CLASSES

        if (not isinstance(classes, list) or len(classes) < 2
                or not all(c in AAMI_CLASSES for c in classes) or len(set(classes)) != len(classes)):
            _fail(source, "dataset.classes", f"must be null or a list of at least two AAMI classes, "
                  f"got {classes!r}", "null (all), or a subset of " + _fmt(AAMI_CLASSES))
        if kind != "mitdb":
            _fail(source, "dataset.classes", f"is for MIT-BIH data sets, not {ds['name']}", "null")
    recs = ds["records"]
    if recs is not None:
        if (not isinstance(recs, list) or not recs
                or not all(isinstance(r, (str, int)) and not isinstance(r, bool) for r in recs)):
            _fail(source, "dataset.records", f"must be a non-empty list of record names or null, "
                  f"got {recs!r}", "null (every record in data_dir), or e.g. [100, 119, 233]")
        ds["records"] = [str(r) for r in recs]
    tm = ds["train_minutes"]
    if not isinstance(tm, (int, float)) or isinstance(tm, bool) or not 0 < tm < 30:
        _fail(source, "dataset.train_minutes", f"must be minutes in (0, 30), got {tm!r}")
    if not _is_int(ds["n_common_per_class"]) or ds["n_common_per_class"] < 0:
        _fail(source, "dataset.n_common_per_class",
              f"must be a non-negative integer, got {ds['n_common_per_class']!r}")
    return ds


def _validate_dataset_name(source, name):
    """``ucr:<name>`` or ``mitdb:<split>``; returns ``(kind, sub)``."""
    allowed = ("ucr:<UCR name> (shipped: ECG200, ECGFiveDays; from ../shared/data or data_dir: "
               "ECG5000, ...), " + _fmt(f"mitdb:{s}" for s in _MITDB_SPLITS))
    if not isinstance(name, str) or ":" not in name:
        _fail(source, "dataset.name", f"bad value {name!r}", allowed)
    kind, _, sub = name.partition(":")
    if kind == "ucr":
        if not sub:
            _fail(source, "dataset.name", "missing the UCR data set name after 'ucr:'", allowed)
    elif kind == "mitdb":
        if sub not in _MITDB_SPLITS:
            _fail(source, "dataset.name", f"unknown MIT-BIH split {sub!r}", allowed)
    else:
        _fail(source, "dataset.name", f"unknown data source {kind!r}", allowed)
    return kind, sub


def _validate_preprocessing(source, steps):
    if steps == "auto" or steps is None:
        return "auto" if steps == "auto" else []
    if not isinstance(steps, list):
        _fail(source, "preprocessing", f"must be 'auto' or a list of steps, got {steps!r}",
              "'auto', [] or a list of {step: {params}} with step in " + _fmt(PREPROCESSING_STEPS))
    from sklearn.base import clone

    out = []
    for i, item in enumerate(steps):
        where = f"preprocessing[{i}]"
        if isinstance(item, str):
            item = {item: {}}
        if not isinstance(item, dict) or len(item) != 1:
            _fail(source, where, f"must be one {{step: {{params}}}} mapping, got {item!r}",
                  "steps " + _fmt(PREPROCESSING_STEPS))
        (name, params), = item.items()
        if name not in PREPROCESSING_STEPS:
            _fail(source, where, f"unknown step {name!r}", "steps " + _fmt(PREPROCESSING_STEPS))
        params = params or {}
        if name == "crop_or_pad" and "length" not in params:
            _fail(source, f"{where}.crop_or_pad.length", "missing required key",
                  "keys length, mode, pad_value")
        template = preprocessing_step(name)
        _check_keys(source, f"{where}.{name}", params, sorted(template.get_params()))
        try:
            clone(template).set_params(**params)._validate_params()
        except Exception as exc:  # sklearn's InvalidParameterError names the parameter
            raise ConfigError(f"{source}: {where}.{name}: {exc}") from None
        out.append({name: dict(params)})
    return out


def preprocessing_step(name, params=None):
    """A fresh preprocessing transformer for a step name of mlflow.yml."""
    from sk1dcnn.preprocessing import BandpassFilter, CropOrPad, Resampler, SeriesStandardScaler

    classes = {"bandpass": BandpassFilter, "resample": Resampler,
               "standardize": SeriesStandardScaler, "crop_or_pad": CropOrPad}
    est = classes[name](length=1) if name == "crop_or_pad" else classes[name]()
    return est.set_params(**(params or {}))

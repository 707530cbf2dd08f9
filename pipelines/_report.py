"""Text tables and artifact files of the workflows (no MLflow here; plots in :mod:`pipelines._plots`)."""

import contextlib
import json
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._fitting import cnn_step
from ._plots import plot_class_relevance, plot_confusion_matrix, plot_loss_curve


@dataclass
class Logged:
    """Where a workflow's ``log_result`` put its result."""

    run_id: str
    experiment_id: str
    tracking_uri: str
    model_uri: str = None
    local_copy: Path = None
    wall_time_s: float = 0.0
    child_run_ids: dict = field(default_factory=dict)   # e.g. record -> its child run (patient-specific)


def _fmt_params(params):
    return ", ".join(f"{k.replace('cnn__', '')}={_short(v)}" for k, v in params.items())


def _short(v):
    return str(list(v)) if isinstance(v, tuple) else str(v)


def header(cfg, data, cv):
    """The lines printed before the search starts."""
    search = cfg["search"]
    n_cand = int(np.prod([len(v) for v in search["grid"].values()]))
    lines = [f"sk1dcnn ECG workflow{' (--quick)' if cfg['quick'] else ''}: {data.name}  "
             f"[{data.info['source']}]"]
    unit = "beats" if data.kind == "mitdb" else "series"
    tr = f"train {len(data.y_train)} {unit}"
    te = f"test {len(data.y_test)} {unit}"
    if data.kind == "mitdb":
        tr += f" (records {data.info['train_records']})"
        te += f" (records {data.info['test_records']})"
    lines.append(f"  {tr}; {te}; input {data.X_train.shape[1:]}"
                 + (f"; AAMI classes kept: {data.info['classes_kept']}" if "classes_kept" in data.info else ""))
    reps = search.get("cv_repeats", 1)
    folds = f"{search['cv']} folds" + (f" x {reps} repeats" if reps > 1 else "")
    lines.append(f"  GridSearchCV: {n_cand} candidates x {folds} ({type(cv).__name__}), "
                 f"scoring={search['scoring']}, n_jobs={search['n_jobs']}")
    lines.append(f"  configuration: {_section(cfg)}")
    return "\n".join(lines)


def _section(cfg):
    sec = cfg.get("dataset_section")
    where = f"ecg + ecg.datasets.{sec}" if sec else "ecg (no datasets entry for this data set)"
    return where + (" + quick" if cfg["quick"] else "")


def _grid_json(grid):
    return json.dumps({k: [_short(x) for x in v] for k, v in grid.items()})


def run_params(cfg, result):
    """Parameters of the parent run: the data, the split and the search."""
    data, search = result.data, cfg["search"]
    return {
        "dataset": data.name, "data_source": data.info["source"], "quick": cfg["quick"],
        "n_train": len(data.y_train), "n_test": len(data.y_test),
        "input_shape": list(data.X_train.shape[1:]), "classes": " ".join(map(str, data.labels)),
        "cv": search["cv"], "cv_repeats": search.get("cv_repeats", 1), "cv_splitter": result.cv_splitter,
        "scoring": search["scoring"], "n_jobs": search["n_jobs"], "seeds": cfg["seeds"],
        "tune_offsets": search.get("tune_offsets", False), "ensemble": search.get("ensemble", 1),
        "config_section": _section(cfg), "grid": _grid_json(search["grid"]),
        **({"train_records": data.info["train_records"], "test_records": data.info["test_records"]}
           if data.kind == "mitdb" else {}),
        **({"classes_kept": data.info["classes_kept"]} if "classes_kept" in data.info else {}),
    }


def refit_params(pipeline):
    """Every parameter of the refit pipeline's steps, as ``<step>__<param>``; values that
    are not JSON (a front-end Pipeline's steps) as their repr."""
    from sklearn.base import BaseEstimator

    out = {}
    for key, value in pipeline.get_params(deep=True).items():
        if "__" not in key or isinstance(value, BaseEstimator):
            continue
        try:
            json.dumps(value)
        except TypeError:
            value = repr(value)
        out[key] = value
    return out


def save_local_copy(run_id, model, metadata, doc):
    """The fitted model and its metrics, kept out of the tracking store.

    Writes ``<cwd>/mlartifacts/local-<time>-<run id>/model.skops``
    (``{"pipeline": model, "metadata": metadata}`` with
    :func:`sk1dcnn.persistence.dump`) and ``metrics.json`` (``doc`` and the run id).

    Returns
    -------
    folder : Path
    """
    from sk1dcnn import persistence

    folder = Path.cwd() / "mlartifacts" / f"local-{time.strftime('%Y%m%d-%H%M%S')}-{run_id or 'norun'}"
    folder.mkdir(parents=True, exist_ok=True)
    persistence.dump({"pipeline": model, "metadata": metadata}, folder / "model.skops")
    (folder / "metrics.json").write_text(json.dumps({"run_id": run_id, **doc}, indent=2, default=str),
                                         encoding="utf-8")
    return folder


#: How to read what :func:`save_local_copy` wrote (printed and in error messages).
LOCAL_COPY_HINT = "model.skops: sk1dcnn.persistence.load(path)['pipeline']; metrics.json"


@contextlib.contextmanager
def artifact_dir():
    """A temporary folder for the artifacts of one run (removed after logging)."""
    with tempfile.TemporaryDirectory(prefix="sk1dcnn-artifacts-") as d:
        yield Path(d)


def _write_config(adir, cfg):
    safe = {k: v for k, v in cfg.items() if k not in ("search", "tracking")}
    safe["search"] = {**cfg["search"], "grid": {k: [_short(x) for x in v]
                                                for k, v in cfg["search"]["grid"].items()}}
    (adir / "config.json").write_text(json.dumps(safe, indent=2, default=str) + "\n")


def write_artifacts(adir, result, cfg):
    """loss_curve.png, confusion_matrix.png, classification_report.txt,
    model_summary.txt, cv_results.csv and the resolved config.json."""
    data, metrics, labels = result.data, result.metrics, result.labels
    cnn = cnn_step(result.model)
    plot_loss_curve(cnn.history_, f"{data.name}: refit model", adir / "loss_curve.png")
    plot_confusion_matrix(result.confusion_matrix, labels, f"{data.name}: test set",
                          adir / "confusion_matrix.png")
    (adir / "classification_report.txt").write_text(
        f"{data.name} test set ({len(data.y_test)} samples)\n\n{result.report}\n"
        + "\n".join(f"{c}: Se {metrics[f'se_{c}']:.3f}  PPV {metrics[f'ppv_{c}']:.3f}  "
                    f"(n={int(metrics[f'support_{c}'])})" for c in labels) + "\n")
    (adir / "model_summary.txt").write_text(cnn.summary() + "\n")
    rows = ["rank,mean_score,std_score,mean_fit_time_s,params"]
    cv = result.cv_results
    for i in np.argsort(cv["rank_test_score"]):
        rows.append(f"{cv['rank_test_score'][i]},{cv['mean_test_score'][i]:.5f},"
                    f"{cv['std_test_score'][i]:.5f},{cv['mean_fit_time'][i]:.2f},"
                    f"\"{_fmt_params(cv['params'][i])}\"")
    (adir / "cv_results.csv").write_text("\n".join(rows) + "\n")
    _write_config(adir, cfg)


def relevance_file_name(label):
    """``relevance_<class>.png``, the class label made safe for a file name."""
    return "relevance_" + re.sub(r"[^A-Za-z0-9_.+-]", "_", str(label)) + ".png"


def write_relevance_figures(adir, result):
    """``relevance/relevance_<class>.png``: per class, the average test beat and where the
    network looks in it (``result.relevance``, :func:`pipelines._plots.plot_class_relevance`).

    Returns
    -------
    list of Path
        The files written, in the order of the classes (none when ``result.relevance`` is empty).
    """
    if not result.relevance:
        return []
    folder = Path(adir) / "relevance"
    folder.mkdir(exist_ok=True)
    paths = []
    for label, entry in result.relevance.items():
        paths.append(folder / relevance_file_name(label))
        plot_class_relevance(entry, label, result.data.name, paths[-1])
    return paths


def local_copy_line(logged):
    """Where the model was saved before it was logged to a server."""
    return f"  copy:   {logged.local_copy}  (written before logging to the server; {LOCAL_COPY_HINT})"


def open_line(logged):
    """How to look at the run: a tracking server's URL (it is the UI), else the ``mlflow ui`` command."""
    uri = logged.tracking_uri
    if uri.startswith(("http://", "https://")):
        base = uri.rstrip("/")
        return f"  open:   {base}  (this run: {base}/#/experiments/{logged.experiment_id}/runs/{logged.run_id})"
    return f"  open:   mlflow ui --backend-store-uri {uri}"


def _mlflow_lines(cfg, logged, extra=""):
    trk = cfg["tracking"]
    return [f"MLflow: run {logged.run_id} (experiment '{trk['experiment']}', id {logged.experiment_id}), "
            f"{logged.wall_time_s:.0f} s{extra}"]


def result_table(cfg, result, logged, model_file=None):
    """The lines printed after the run: grid, test metrics per class, where things went."""
    m = result.metrics
    lines = ["", "Grid search (mean +- std CV score, best first):"]
    cv = result.cv_results
    order = np.argsort(cv["rank_test_score"])
    for i in order[:10]:
        lines.append(f"  {cv['rank_test_score'][i]:>3}  {cv['mean_test_score'][i]:.3f} +- "
                     f"{cv['std_test_score'][i]:.3f}  {_fmt_params(cv['params'][i])}")
    if len(order) > 10:
        lines.append(f"  ... {len(order) - 10} more in the child runs")
    lines.append("")
    lines.append(f"Test set ({result.data.name}): accuracy {m['accuracy']:.3f}  "
                 f"balanced accuracy {m['balanced_accuracy']:.3f}  macro F1 {m['f1_macro']:.3f}")
    n_seeds = len(result.seed_rows)
    multi = n_seeds > 1
    lines.append(f"  {'class':>5} {'n':>6} {'Se':>7} {'PPV':>7}"
                 + (f"   {'Se':>7} {'PPV':>7} (mean over {n_seeds} seeds)" if multi else ""))
    for c in result.labels:
        row = f"  {str(c):>5} {int(m[f'support_{c}']):>6} {m[f'se_{c}']:>7.3f} {m[f'ppv_{c}']:>7.3f}"
        if multi:
            s = result.seed_summary
            row += f"   {s[f'test_se_{c}_mean']:>7.3f} {s[f'test_ppv_{c}_mean']:>7.3f}"
        lines.append(row)
    if multi:
        s = result.seed_summary
        lines.append("  per seed: " + ", ".join(
            f"seed {seed}: accuracy {sm['accuracy']:.3f} (balanced {sm['balanced_accuracy']:.3f})"
            for seed, sm in result.seed_rows))
        lines.append(f"  over {n_seeds} seeds: accuracy {s['test_accuracy_mean']:.3f} +- "
                     f"{s['test_accuracy_std']:.3f}, balanced accuracy "
                     f"{s['test_balanced_accuracy_mean']:.3f} +- {s['test_balanced_accuracy_std']:.3f}")
    lines.append("")
    lines += _mlflow_lines(cfg, logged)
    if logged.model_uri:
        lines.append(f"  model:  {logged.model_uri}  (mlflow.pyfunc.load_model: predict gives class labels; "
                     "params={'predict_method': 'predict_proba'} gives probabilities)")
    if model_file:
        lines.append(f"  file:   {model_file}  (sk1dcnn.persistence.load(path)['pipeline'])")
    if logged.local_copy:
        lines.append(local_copy_line(logged))
    lines.append(open_line(logged))
    return "\n".join(lines)


# ------------------------------------------------------- patient-specific
def _pct(v):
    return "    -" if v is None or not np.isfinite(v) else f"{v:5.1f}"


def patient_header(cfg, data):
    """The lines printed before the patient-specific scheme starts."""
    search = cfg["search"]
    n_cand = int(np.prod([len(v) for v in search["grid"].values()]))
    ds = cfg["data"]
    lines = [f"sk1dcnn ECG workflow{' (--quick)' if cfg['quick'] else ''}: {data.name}  "
             f"[{data.info['source']}]",
             f"  Kiranyaz et al. 2016: per patient, {ds['n_common_per_class']} common beats per class from "
             f"records {data.info['common_records']} (not the patient's) + the patient's first "
             f"{ds['train_minutes']:g} min -> test on the rest of the record",
             f"  {len(data.info['patients'])} patients ({' '.join(data.info['patients'])}); "
             f"test {len(data.y_test)} beats; input {data.X_train.shape[1:]}; seeds {cfg['seeds']}"
             + (f"; AAMI classes kept: {data.info['classes_kept']}" if "classes_kept" in data.info else ""),
             _patient_search_line(cfg, n_cand),
             f"  configuration: {_section(cfg)}"]
    return "\n".join(lines)


def _patient_search_line(cfg, n_cand):
    search, ds = cfg["search"], cfg["data"]
    if n_cand == 1:
        return "  grid: 1 candidate (no search): " + _fmt_params({k: v[0] for k, v in search["grid"].items()})
    if search.get("validation", "cv") == "inner_minutes":
        inner = search["inner_train_minutes"]
        return (f"  inner validation: {n_cand} candidates (1 seed), each fitted per "
                f"patient on the common beats + its first {inner:g} min and scored on its minutes "
                f"{inner:g}-{ds['train_minutes']:g} (training beats), pooled over the patients; "
                f"scoring={search['scoring']}; the best for every patient")
    return (f"  GridSearchCV per patient on its training beats: {n_cand} candidates x {search['cv']} folds "
            f"(StratifiedKFold), scoring={search['scoring']}")


def patient_run_params(cfg, data):
    """Parameters of the patient-specific parent run."""
    ds, search = cfg["data"], cfg["search"]
    return {"dataset": data.name, "data_source": data.info["source"], "quick": cfg["quick"],
            "patients": " ".join(data.info["patients"]), "common_records": data.info["common_records"],
            "train_minutes": ds["train_minutes"], "n_common_per_class": ds["n_common_per_class"],
            "n_test": len(data.y_test), "input_shape": list(data.X_train.shape[1:]),
            "classes": " ".join(map(str, data.labels)), "classes_kept": data.info.get("classes_kept", "all"),
            "scoring": search["scoring"], "cv": search["cv"], "validation": search.get("validation", "cv"),
            "inner_train_minutes": search.get("inner_train_minutes"),
            "tune_offsets": search.get("tune_offsets", False), "ensemble": search.get("ensemble", 1),
            "n_jobs": search["n_jobs"], "seeds": cfg["seeds"], "config_section": _section(cfg),
            "grid": _grid_json(search["grid"]),
            **{f"model__{k}": v for k, v in cfg["model"].items()}}


def _patient_rows_text(rows, gross):
    lines = [f"  {'record':>6} {'train':>6} {'test':>6} {'n_V':>5} {'Se_V':>5} {'PPV_V':>5} "
             f"{'n_S':>5} {'Se_S':>5} {'PPV_S':>5} {'acc':>6}"]
    for r in rows:
        lines.append(f"  {r['record']:>6} {r['n_train']:>6} {r['n_test']:>6} {r['n_V']:>5} "
                     f"{_pct(r['se_V'])} {_pct(r['ppv_V'])} {r['n_S']:>5} {_pct(r['se_S'])} "
                     f"{_pct(r['ppv_S'])} {100 * r['accuracy']:6.1f}")
    nv, ns = sum(r["n_V"] for r in rows), sum(r["n_S"] for r in rows)
    lines.append(f"  {'gross':>6} {sum(r['n_train'] for r in rows):>6} {sum(r['n_test'] for r in rows):>6} "
                 f"{nv:>5} {_pct(gross.get('se_V'))} {_pct(gross.get('ppv_V'))} {ns:>5} "
                 f"{_pct(gross.get('se_S'))} {_pct(gross.get('ppv_S'))}")
    return lines


def inner_selection_lines(selection):
    """The candidates of the inner validation, best first: pooled score and EC57 Se/+P (%)."""
    sel = selection
    n_val = sum(sel.n_val.values())
    lines = [f"Inner validation (training minutes {sel.inner_train_minutes:g}-{sel.train_minutes:g} of "
             f"{sum(1 for v in sel.n_val.values() if v)} patients, {n_val} beats pooled, 1 seed; "
             f"{sel.time_s:.0f} s), %:",
             f"  {'rank':>4} {sel.scoring:>10} {'Se_V':>5} {'PPV_V':>5} {'Se_S':>5} {'PPV_S':>5}  candidate"]
    for i in sorted(range(len(sel.rows)), key=lambda i: sel.rows[i]["rank"]):
        r = sel.rows[i]
        lines.append(f"  {r['rank']:>4} {r['score']:10.4f} {_pct(r['se_V'])} {_pct(r['ppv_V'])} "
                     f"{_pct(r['se_S'])} {_pct(r['ppv_S'])}  {_fmt_params(r['params'])}"
                     + ("   <- chosen" if i == sel.best_index else ""))
    return lines


def inner_selection_csv(selection):
    """The rows of :func:`inner_selection_lines` as CSV text (candidate order)."""
    keys = ("rank", "score", "se_V", "ppv_V", "se_S", "ppv_S", "tp_V", "fn_V", "fp_V", "tp_S", "fn_S", "fp_S",
            "n_val", "mean_fit_time_s")
    text = [",".join(keys) + ",chosen,params"]
    for i, r in enumerate(selection.rows):
        text.append(",".join(str(r[k]) for k in keys) + f",{int(i == selection.best_index)},"
                    f"\"{_fmt_params(r['params'])}\"")
    return "\n".join(text) + "\n"


def write_patient_artifacts(adir, result, cfg):
    """per_record.csv, confusion_matrix.png (all patients, first seed), classification_report.txt,
    config.json, and inner_validation.csv when the grid was chosen by inner validation."""
    rows, gross, data = result.rows, result.gross, result.data
    if result.selection is not None:
        (adir / "inner_validation.csv").write_text(inner_selection_csv(result.selection))
    keys = ("record", "n_train", "n_common", "n_test", "n_V", "se_V", "ppv_V", "n_S", "se_S", "ppv_S",
            "accuracy", "epochs", "fit_time_s")
    text = [",".join(keys) + ",params"]
    for r in rows:
        text.append(",".join(str(r[k]) for k in keys) + f",\"{_fmt_params(r['params'])}\"")
    (adir / "per_record.csv").write_text("\n".join(text) + "\n")
    plot_confusion_matrix(result.confusion_matrix, result.labels,
                          f"{data.name}: all test records, seed {cfg['seeds'][0]}",
                          adir / "confusion_matrix.png")
    (adir / "classification_report.txt").write_text(
        f"{data.name}: test beats of all patients pooled (seed {cfg['seeds'][0]})\n\n{result.report}\n"
        "Per record, mean over seeds (%):\n" + "\n".join(_patient_rows_text(rows, gross)) + "\n")
    _write_config(adir, cfg)


def patient_table(cfg, result, logged):
    """The lines printed after the patient-specific run."""
    lines = []
    if result.selection is not None:
        lines += [""] + inner_selection_lines(result.selection)
    lines += ["", f"Patient-specific test (remaining minutes of each record), mean over {len(cfg['seeds'])} "
                  "seed(s), %:"]
    lines += _patient_rows_text(result.rows, result.gross)
    g = result.gross
    lines.append(f"  gross = counts summed over records. Kiranyaz et al. 2016 (44 records): "
                 f"VEB Se 95.0 PPV 89.5, SVEB Se 64.6 PPV 62.1; here VEB Se {_pct(g.get('se_V')).strip()} "
                 f"PPV {_pct(g.get('ppv_V')).strip()}, SVEB Se {_pct(g.get('se_S')).strip()} "
                 f"PPV {_pct(g.get('ppv_S')).strip()}")
    lines.append("")
    lines += _mlflow_lines(cfg, logged, "; one child run per record")
    lines.append("  no model is logged or saved: each patient has its own model")
    lines.append(open_line(logged))
    return "\n".join(lines)

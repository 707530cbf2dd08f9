"""Text tables, plots and artifact files of the ECG workflow (no MLflow here)."""

import contextlib
import json
import tempfile
from pathlib import Path

import numpy as np


def _fmt_params(params):
    return ", ".join(f"{k.replace('cnn__', '')}={_short(v)}" for k, v in params.items())


def _short(v):
    return str(list(v)) if isinstance(v, tuple) else str(v)


def header(cfg, data, cv):
    n_cand = int(np.prod([len(v) for v in cfg["grid"].values()]))
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
    reps = cfg.get("cv_repeats", 1)
    folds = f"{cfg['cv']} folds" + (f" x {reps} repeats" if reps > 1 else "")
    lines.append(f"  GridSearchCV: {n_cand} candidates x {folds} ({type(cv).__name__}), "
                 f"scoring={cfg['scoring']}, n_jobs={cfg['n_jobs']}")
    lines.append(f"  configuration: {_section(cfg)}")
    return "\n".join(lines)


def _section(cfg):
    sec = cfg.get("dataset_section")
    where = f"top level + datasets.{sec}" if sec else "top level (no datasets section for this data set)"
    return where + (" + quick" if cfg["quick"] else "")


def run_params(cfg, data, cv):
    return {
        "dataset": data.name, "data_source": data.info["source"], "quick": cfg["quick"],
        "n_train": len(data.y_train), "n_test": len(data.y_test),
        "input_shape": list(data.X_train.shape[1:]), "classes": " ".join(map(str, data.labels)),
        "cv": cfg["cv"], "cv_repeats": cfg.get("cv_repeats", 1), "cv_splitter": type(cv).__name__,
        "scoring": cfg["scoring"],
        "n_jobs": cfg["n_jobs"], "seeds": cfg["seeds"], "config_section": _section(cfg), "grid": json.dumps(
            {k: [_short(x) for x in v] for k, v in cfg["grid"].items()}),
        **({"train_records": data.info["train_records"], "test_records": data.info["test_records"]}
           if data.kind == "mitdb" else {}),
        **({"classes_kept": data.info["classes_kept"]} if "classes_kept" in data.info else {}),
    }


def refit_params(pipeline):
    """Every parameter of the refit pipeline's steps, as ``<step>__<param>``."""
    from sklearn.base import BaseEstimator

    out = {}
    for key, value in pipeline.get_params(deep=True).items():
        if "__" not in key or isinstance(value, BaseEstimator):
            continue
        out[key] = value
    return out


def seed_summary(rows):
    keys = ("accuracy", "balanced_accuracy", "f1_macro")
    out = {}
    for k in keys:
        vals = np.array([m[k] for _, m in rows])
        out[f"test_{k}_mean"] = float(vals.mean())
        out[f"test_{k}_std"] = float(vals.std())
    classes = sorted({k[3:] for _, m in rows for k in m if k.startswith("se_")})
    for c in classes:
        for p in ("se", "ppv"):
            out[f"test_{p}_{c}_mean"] = float(np.mean([m.get(f"{p}_{c}", np.nan) for _, m in rows]))
    return out


@contextlib.contextmanager
def artifact_dir():
    with tempfile.TemporaryDirectory(prefix="sk1dcnn-artifacts-") as d:
        yield Path(d)


def write_artifacts(adir, pipeline, cnn, report, cm, labels, search, cfg, data, metrics):
    """loss_curve.png, confusion_matrix.png, classification_report.txt,
    model_summary.txt, cv_results.csv and the resolved config.json."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hist = cnn.history_
    epochs = [r["epoch"] for r in hist]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(epochs, [r["train_loss"] for r in hist], marker="o", label="train loss")
    valid = [r.get("valid_loss") for r in hist]
    if any(v is not None and np.isfinite(v) for v in valid):
        ax.plot(epochs, [np.nan if v is None else v for v in valid], marker="o", label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(f"{data.name}: refit model")
    ax.legend()
    fig.tight_layout()
    fig.savefig(adir / "loss_curve.png")
    plt.close(fig)

    plot_confusion_matrix(cm, labels, f"{data.name}: test set", adir / "confusion_matrix.png")

    (adir / "classification_report.txt").write_text(
        f"{data.name} test set ({len(data.y_test)} samples)\n\n{report}\n"
        + "\n".join(f"{c}: Se {metrics[f'se_{c}']:.3f}  PPV {metrics[f'ppv_{c}']:.3f}  "
                    f"(n={int(metrics[f'support_{c}'])})" for c in labels) + "\n")
    (adir / "model_summary.txt").write_text(cnn.summary() + "\n")
    rows = ["rank,mean_score,std_score,mean_fit_time_s,params"]
    cv = search.cv_results_
    for i in np.argsort(cv["rank_test_score"]):
        rows.append(f"{cv['rank_test_score'][i]},{cv['mean_test_score'][i]:.5f},"
                    f"{cv['std_test_score'][i]:.5f},{cv['mean_fit_time'][i]:.2f},"
                    f"\"{_fmt_params(cv['params'][i])}\"")
    (adir / "cv_results.csv").write_text("\n".join(rows) + "\n")
    safe = {k: v for k, v in cfg.items() if k != "grid"}
    safe["grid"] = {k: [_short(x) for x in v] for k, v in cfg["grid"].items()}
    (adir / "config.json").write_text(json.dumps(safe, indent=2, default=str) + "\n")


def result_table(cfg, res):
    m = res["metrics"]
    lines = ["", "Grid search (mean +- std CV score, best first):"]
    cv = res["cv_results"]
    order = np.argsort(cv["rank_test_score"])
    for i in order[:10]:
        lines.append(f"  {cv['rank_test_score'][i]:>3}  {cv['mean_test_score'][i]:.3f} +- "
                     f"{cv['std_test_score'][i]:.3f}  {_fmt_params(cv['params'][i])}")
    if len(order) > 10:
        lines.append(f"  ... {len(order) - 10} more in the child runs")
    lines.append("")
    lines.append(f"Test set ({res['data'].name}): accuracy {m['accuracy']:.3f}  "
                 f"balanced accuracy {m['balanced_accuracy']:.3f}  macro F1 {m['f1_macro']:.3f}")
    multi = res["n_seeds"] > 1
    lines.append(f"  {'class':>5} {'n':>6} {'Se':>7} {'PPV':>7}"
                 + (f"   {'Se':>7} {'PPV':>7} (mean over {res['n_seeds']} seeds)" if multi else ""))
    for c in res["labels"]:
        row = f"  {str(c):>5} {int(m[f'support_{c}']):>6} {m[f'se_{c}']:>7.3f} {m[f'ppv_{c}']:>7.3f}"
        if multi:
            row += f"   {res['seeds'][f'test_se_{c}_mean']:>7.3f} {res['seeds'][f'test_ppv_{c}_mean']:>7.3f}"
        lines.append(row)
    if res["n_seeds"] > 1:
        s = res["seeds"]
        lines.append("  per seed: " + ", ".join(
            f"seed {seed}: accuracy {sm['accuracy']:.3f} (balanced {sm['balanced_accuracy']:.3f})"
            for seed, sm in res.get("seed_rows", [])))
        lines.append(f"  over {res['n_seeds']} seeds: accuracy {s['test_accuracy_mean']:.3f} +- "
                     f"{s['test_accuracy_std']:.3f}, balanced accuracy "
                     f"{s['test_balanced_accuracy_mean']:.3f} +- {s['test_balanced_accuracy_std']:.3f}")
    lines.append("")
    lines.append(f"MLflow: run {res['run_id']} (experiment '{cfg['experiment_name']}', "
                 f"id {res['experiment_id']}), {res['wall_time_s']:.0f} s")
    if res["model_uri"]:
        lines.append(f"  model:  {res['model_uri']}  (mlflow.pyfunc.load_model; predicts probabilities)")
    if res["model_file"]:
        lines.append(f"  joblib: {res['model_file']}")
    lines.append(f"  open:   mlflow ui --backend-store-uri {cfg['tracking_uri']}")
    return "\n".join(lines)


# ------------------------------------------------------- patient-specific
def _pct(v):
    return "    -" if v is None or not np.isfinite(v) else f"{v:5.1f}"


def patient_header(cfg, data):
    n_cand = int(np.prod([len(v) for v in cfg["grid"].values()]))
    ds = cfg["dataset"]
    lines = [f"sk1dcnn ECG workflow{' (--quick)' if cfg['quick'] else ''}: {data.name}  "
             f"[{data.info['source']}]",
             f"  Kiranyaz et al. 2016: per patient, {ds['n_common_per_class']} common beats per class from "
             f"records {data.info['common_records']} (not the patient's) + the patient's first "
             f"{ds['train_minutes']:g} min -> test on the rest of the record",
             f"  {len(data.info['patients'])} patients ({' '.join(data.info['patients'])}); "
             f"test {len(data.y_test)} beats; input {data.X_train.shape[1:]}; seeds {cfg['seeds']}"
             + (f"; AAMI classes kept: {data.info['classes_kept']}" if "classes_kept" in data.info else ""),
             ("  grid: 1 candidate (no search): " + _fmt_params(
                 {k: v[0] for k, v in cfg["grid"].items()})) if n_cand == 1 else
             f"  GridSearchCV per patient on its training beats: {n_cand} candidates x {cfg['cv']} folds "
             f"(StratifiedKFold), scoring={cfg['scoring']}",
             f"  configuration: {_section(cfg)}"]
    return "\n".join(lines)


def patient_run_params(cfg, data):
    ds = cfg["dataset"]
    return {"dataset": data.name, "data_source": data.info["source"], "quick": cfg["quick"],
            "patients": " ".join(data.info["patients"]), "common_records": data.info["common_records"],
            "train_minutes": ds["train_minutes"], "n_common_per_class": ds["n_common_per_class"],
            "n_test": len(data.y_test), "input_shape": list(data.X_train.shape[1:]),
            "classes": " ".join(map(str, data.labels)), "classes_kept": data.info.get("classes_kept", "all"),
            "scoring": cfg["scoring"], "cv": cfg["cv"],
            "n_jobs": cfg["n_jobs"], "seeds": cfg["seeds"], "config_section": _section(cfg),
            "grid": json.dumps({k: [_short(x) for x in v] for k, v in cfg["grid"].items()}),
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


def write_patient_artifacts(adir, rows, gross, report, cm, labels, cfg, data):
    """per_record.csv, confusion_matrix.png (all patients, first seed), classification_report.txt,
    config.json."""
    keys = ("record", "n_train", "n_common", "n_test", "n_V", "se_V", "ppv_V", "n_S", "se_S", "ppv_S",
            "accuracy", "epochs", "fit_time_s")
    text = [",".join(keys) + ",params"]
    for r in rows:
        text.append(",".join(str(r[k]) for k in keys) + f",\"{_fmt_params(r['params'])}\"")
    (adir / "per_record.csv").write_text("\n".join(text) + "\n")
    plot_confusion_matrix(cm, labels, f"{data.name}: all test records, seed {cfg['seeds'][0]}",
                          adir / "confusion_matrix.png")
    (adir / "classification_report.txt").write_text(
        f"{data.name}: test beats of all patients pooled (seed {cfg['seeds'][0]})\n\n{report}\n"
        "Per record, mean over seeds (%):\n" + "\n".join(_patient_rows_text(rows, gross)) + "\n")
    safe = {k: v for k, v in cfg.items() if k != "grid"}
    safe["grid"] = {k: [_short(x) for x in v] for k, v in cfg["grid"].items()}
    (adir / "config.json").write_text(json.dumps(safe, indent=2, default=str) + "\n")


def patient_table(cfg, res):
    lines = ["", f"Patient-specific test (remaining minutes of each record), mean over {res['n_seeds']} "
                 "seed(s), %:"]
    lines += _patient_rows_text(res["rows"], res["gross"])
    g = res["gross"]
    lines.append(f"  gross = counts summed over records. Kiranyaz et al. 2016 (44 records): "
                 f"VEB Se 95.0 PPV 89.5, SVEB Se 64.6 PPV 62.1; here VEB Se {_pct(g.get('se_V')).strip()} "
                 f"PPV {_pct(g.get('ppv_V')).strip()}, SVEB Se {_pct(g.get('se_S')).strip()} "
                 f"PPV {_pct(g.get('ppv_S')).strip()}")
    lines.append("")
    lines.append(f"MLflow: run {res['run_id']} (experiment '{cfg['experiment_name']}', "
                 f"id {res['experiment_id']}), {res['wall_time_s']:.0f} s; one child run per record")
    lines.append("  no model is logged or saved: each patient has its own model")
    lines.append(f"  open:   mlflow ui --backend-store-uri {cfg['tracking_uri']}")
    return "\n".join(lines)


def plot_confusion_matrix(cm, labels, title, path, xlabel="predicted", ylabel="true"):
    """Confusion-matrix PNG: counts in the cells, shading by the row's fraction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    n = len(labels)
    fig, ax = plt.subplots(figsize=(min(1.2 * n + 2.5, 8), min(1.1 * n + 2, 7)), dpi=100)
    row_sum = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, row_sum, out=np.zeros(cm.shape, float), where=row_sum > 0)
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8 if n > 6 else 10,
                    color="white" if frac[i, j] > 0.5 else "black")
    ax.set_xticks(range(n), [str(c) for c in labels])
    ax.set_yticks(range(n), [str(c) for c in labels])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

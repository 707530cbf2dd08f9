"""``python -m pipelines ecg-monitor``: classify every beat of a whole record.

The record is read in chunks (``chunk_seconds`` plus a margin on each side),
R peaks are detected in each chunk (:func:`sk1dcnn.ecg.detect_r_peaks`),
a window is cut around each peak exactly as the model's training beats were
cut, and the chunk's beats are classified together. Per-beat rows are
appended to a CSV as they come, so memory depends on the chunk length, not
on the record length.

A run of ``min_run`` (3) or more consecutive abnormal (non-N) beats prints an
alert line. Throughput is reported as a real-time factor: seconds of ECG
processed per second of compute.
"""

import csv
import time
from pathlib import Path

import numpy as np

from .config import default_tracking_uri

__all__ = ["DEFAULT_MODEL_FILE", "load_model", "monitor"]

DEFAULT_MODEL_FILE = "mlartifacts/ecg_model_mitdb-inter_patient.skops"
_MARGIN_S = 3.0  # context around each chunk for the detector's filters and the beat windows


class _Model:
    """A classifier of raw beat windows plus how the windows must be cut."""

    def __init__(self, predict_proba, classes, meta, source):
        self.predict_proba = predict_proba
        self.classes = np.asarray(classes)
        self.meta = meta
        self.source = source


def load_model(model=None, tracking_uri=None):
    """Load a model written by ``python -m pipelines ecg``.

    Parameters
    ----------
    model : str or None
        A model file written by ``python -m pipelines ecg`` with
        :func:`sk1dcnn.persistence.dump` (``{"pipeline", "metadata"}``, or a
        bare fitted pipeline), or an MLflow model URI
        (``runs:/<run id>/model``, ``models:/<model id>``, a local folder with
        an ``MLmodel`` file). None means :data:`DEFAULT_MODEL_FILE`, written by
        ``python -m pipelines ecg`` on ``mitdb:inter_patient``.
    tracking_uri : str or None
        For ``runs:/`` and ``models:/`` URIs; None means
        ``sqlite:///<cwd>/mlflow.db``.
    """
    if model is None:
        model = DEFAULT_MODEL_FILE
        if not Path(model).is_file():
            raise FileNotFoundError(
                f"no model given and the default {Path(model).resolve()} does not exist; run "
                "'python -m pipelines ecg --quick' first or pass --model")
    path = Path(model)
    if path.is_file():
        from sk1dcnn import persistence

        if path.suffix in (".joblib", ".pkl", ".pickle"):
            raise ValueError(
                f"{path} is a pickle; model files are read with sk1dcnn.persistence.load (skops), "
                "which never runs code from the file. Run 'python -m pipelines ecg --quick' again "
                "(it writes a .skops file), or convert a file you trust: "
                "sk1dcnn.persistence.dump(joblib.load(path), 'model.skops')")
        obj = persistence.load(path)
        if isinstance(obj, dict) and "pipeline" in obj:
            pipe, meta = obj["pipeline"], dict(obj.get("metadata") or {})
        else:  # a bare fitted estimator: assume MIT-BIH beats cut the default way
            pipe, meta = obj, {"kind": "mitdb"}
        meta.setdefault("classes", [str(c) for c in pipe.classes_])
        return _check(_Model(pipe.predict_proba, pipe.classes_, meta, str(path.resolve())))
    if "://" not in str(model) and ":/" not in str(model) and not path.is_dir():
        raise FileNotFoundError(f"model not found: {path.resolve()} (give a .skops file or an "
                                "MLflow model URI such as runs:/<run id>/model)")
    from ._tracking import load_pyfunc

    pyfunc = load_pyfunc(str(model), tracking_uri or default_tracking_uri())
    meta = dict(pyfunc.metadata.metadata or {})
    if "classes" not in meta:
        raise ValueError(f"MLflow model {model} has no 'classes' metadata; log it with "
                         "'python -m pipelines ecg' (which records how its beats were cut)")

    # Models logged by this version answer predict with labels and take a single-lead
    # model's beats as (n, T); those logged before (mlflow.sklearn's pyfunc) give probabilities.
    labelled = pyfunc.metadata.flavors["python_function"].get("loader_module") == "pipelines._tracking"
    columns = [str(c) for c in meta["classes"]]

    def predict_proba(X):
        if not labelled:
            return np.asarray(pyfunc.predict(X))
        X = X[:, 0, :] if X.ndim == 3 and X.shape[1] == 1 else X
        proba = pyfunc.predict(X, params={"predict_method": "predict_proba"})
        return proba[columns].to_numpy()

    return _check(_Model(predict_proba, meta["classes"], meta, str(model)))


def _check(m):
    if m.meta.get("kind", "mitdb") != "mitdb":
        raise ValueError(
            f"the model {m.source} was trained on {m.meta.get('dataset')}, not on MIT-BIH beats; "
            "train one with 'python -m pipelines ecg --quick --dataset mitdb:inter_patient'")
    m.meta.setdefault("fs", 360.0)
    m.meta.setdefault("before", 0.25)
    m.meta.setdefault("after", 0.45)
    m.meta.setdefault("channel", 0)
    m.meta.setdefault("normal_class", "N")
    return m


def _hms(seconds):
    h, rem = divmod(seconds, 3600)
    mnt, s = divmod(rem, 60)
    return f"{int(h):02d}:{int(mnt):02d}:{s:04.1f}"


def monitor(record, model=None, out_csv=None, *, chunk_seconds=60.0, min_run=3, max_alerts=20,
            tracking_uri=None, out=print):
    """Slide the model over a whole WFDB record; see the module docstring.

    Returns
    -------
    summary : dict
        ``n_beats``, ``counts`` (per predicted class), ``alerts`` (list of
        ``(start_s, end_s, labels)``), ``duration_s``, ``compute_s``,
        ``realtime_factor``, ``csv`` and, when the record has ``.atr``
        annotations, ``detection`` (Se/PPV of the R peaks) and
        ``classification`` (per-class Se/PPV of the matched beats).
    """
    from sk1dcnn.ecg import detect_r_peaks, import_wfdb, load_wfdb_record, wfdb_record_base
    from sk1dcnn.signal import resample_signal

    wfdb = import_wfdb()
    rec_path = wfdb_record_base(record)
    if chunk_seconds <= 0 or min_run < 1:
        raise ValueError(f"chunk_seconds must be > 0 and min_run >= 1, got {chunk_seconds}, {min_run}")

    m = load_model(model, tracking_uri)
    meta = m.meta
    header = wfdb.rdheader(str(rec_path))
    fs_rec, n_samples = float(header.fs), int(header.sig_len)
    fs = float(meta["fs"])
    n_before, n_after = int(round(meta["before"] * fs)), int(round(meta["after"] * fs))
    channel = int(meta["channel"])
    normal = str(meta["normal_class"])
    classes = [str(c) for c in m.classes]
    duration = n_samples / fs_rec

    out_csv = Path(out_csv) if out_csv else Path(f"{rec_path.name}_beats.csv")
    out(f"ecg-monitor: record {rec_path} ({duration / 60:.1f} min at {fs_rec:g} Hz), model {m.source}")

    chunk = int(round(chunk_seconds * fs_rec))
    margin = int(round(_MARGIN_S * fs_rec))
    counts = dict.fromkeys(classes, 0)
    alerts, run = [], []
    positions, labels = [], []
    compute = 0.0
    n_beats = 0

    def close_run():
        if len(run) >= min_run:
            alerts.append((run[0][0], run[-1][0], [lab for _, lab in run]))
        run.clear()

    with open(out_csv, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["beat", "sample", "time_s", "label", "abnormal", *[f"p_{c}" for c in classes]])
        for s0 in range(0, n_samples, chunk):
            t0 = time.perf_counter()
            s1 = min(s0 + chunk, n_samples)
            a, b = max(0, s0 - margin), min(n_samples, s1 + margin)
            sig = load_wfdb_record(rec_path, sampfrom=a, sampto=b, annotator=None).signal[channel]
            if fs != fs_rec:
                sig = resample_signal(sig, fs_rec, fs)
            peaks = detect_r_peaks(sig, fs)                        # in model-rate samples of the segment
            abs_rec = a + np.round(peaks * (fs_rec / fs)).astype(np.int64)  # record samples
            keep = ((abs_rec >= s0) & (abs_rec < s1) & (peaks - n_before >= 0)
                    & (peaks + n_after <= sig.shape[0]))
            peaks, abs_rec = peaks[keep], abs_rec[keep]
            if peaks.size:
                idx = peaks[:, None] + np.arange(-n_before, n_after)[None, :]
                X = sig[idx][:, None, :]
                proba = m.predict_proba(X)
                pred = np.asarray(classes)[np.argmax(proba, axis=1)]
            else:
                proba, pred = np.empty((0, len(classes))), np.empty(0, str)
            compute += time.perf_counter() - t0
            for p, lab, pr in zip(abs_rec, pred, proba):
                t = p / fs_rec
                abnormal = lab != normal
                writer.writerow([n_beats, int(p), f"{t:.3f}", lab, int(abnormal),
                                 *[f"{v:.4f}" for v in pr]])
                n_beats += 1
                counts[lab] += 1
                if abnormal:
                    run.append((t, lab))
                else:
                    close_run()
            positions.append(abs_rec)
            labels.append(pred)
        close_run()

    rtf = duration / compute if compute > 0 else float("inf")
    out(f"  {n_beats} beats: " + ", ".join(f"{c} {n}" for c, n in counts.items()) + f"  -> {out_csv}")
    for start, end, labs in alerts[:max_alerts]:
        out(f"  ALERT {_hms(start)}-{_hms(end)}  {len(labs)} abnormal beats in a row: {' '.join(labs)}")
    if len(alerts) > max_alerts:
        out(f"  ... {len(alerts) - max_alerts} more alerts (runs of >= {min_run} non-{normal} beats; "
            f"see the 'abnormal' column of the CSV)")
    if not alerts:
        out(f"  no run of >= {min_run} abnormal beats")
    out(f"  throughput: {duration:.0f} s of ECG in {compute:.2f} s of compute = real-time factor "
        f"{rtf:.0f}x  (chunks of {chunk_seconds:g} s)")

    summary = {"n_beats": n_beats, "counts": counts, "alerts": alerts, "duration_s": duration,
               "compute_s": compute, "realtime_factor": rtf, "csv": str(out_csv)}
    if rec_path.with_suffix(".atr").is_file():
        summary.update(_score_against_annotations(
            rec_path, np.concatenate(positions), np.concatenate(labels), fs_rec, classes, out))
    return summary


def _score_against_annotations(rec_path, det, pred, fs, classes, out):
    """R-peak Se/PPV and per-class Se/PPV of the beats matched within 150 ms."""
    from sk1dcnn.ecg import evaluate_r_peaks, import_wfdb, to_aami

    ann = import_wfdb().rdann(str(rec_path), "atr")
    ref = np.asarray(ann.sample, dtype=np.int64)
    sym = np.asarray(ann.symbol, dtype=str)
    detection = evaluate_r_peaks(det, ref, fs, reference_symbols=sym)
    aami = to_aami(sym)
    ref, aami = ref[aami != ""], aami[aami != ""]
    cls = {}
    if det.size and ref.size:
        j = np.clip(np.searchsorted(ref, det), 1, ref.size - 1) if ref.size > 1 else np.zeros(det.size, int)
        if ref.size > 1:
            j = np.where(np.abs(ref[j - 1] - det) <= np.abs(ref[j] - det), j - 1, j)
        ok = np.abs(ref[j] - det) <= 0.150 * fs
        true, guess = aami[j[ok]], pred[ok]
        for c in classes:
            tp = int(np.sum((true == c) & (guess == c)))
            n_true, n_pred = int(np.sum(true == c)), int(np.sum(guess == c))
            if n_true or n_pred:
                cls[c] = {"se": tp / n_true if n_true else float("nan"),
                          "ppv": tp / n_pred if n_pred else float("nan"), "n": n_true}
    out(f"  vs .atr: R-peak Se {detection['sensitivity']:.3f} PPV {detection['positive_predictivity']:.3f}; "
        + "  ".join(f"{c} Se {v['se']:.2f} PPV {v['ppv']:.2f} (n={v['n']})" for c, v in cls.items()))
    return {"detection": detection, "classification": cls}

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

Models trained with RR-interval features (``ecg: data: rr_features: true``)
get them online, from the detected R peaks: a beat is classified once the
next R peak has been detected (post-RR needs it: one beat of delay, the
last beat of each chunk waits for the next chunk), and the averages use past
beats only (:class:`sk1dcnn.ecg.RRFeatureStream`, equal to
:func:`sk1dcnn.ecg.rr_features`, the one definition used for training and
test too). Models trained with template features (``template_features: true``)
get them from the beats classified before, in time order
(:class:`sk1dcnn.ecg.TemplateFeatureStream`, equal to
:func:`sk1dcnn.ecg.template_features`): no delay.

When the record has reference annotations (``.atr``) the monitor scores
itself against them: R-peak Se/+P, per-class Se/+P of the beats, and the
alerts' precision: the share of alerts that overlap a run of ``min_run`` or
more reference non-N beats (S, V or F) in a row, and the share of such
reference runs that raised an alert.
"""

import csv
import time
from pathlib import Path

import numpy as np

from .config import default_tracking_uri

__all__ = ["DEFAULT_MODEL_FILE", "alert_scores", "load_model", "match_beats", "monitor", "reference_runs"]

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
    m.meta.setdefault("lead", None)
    m.meta.setdefault("normal_class", "N")
    m.meta.setdefault("input_ndim", 3)  # models written before 2-D beats: (n, 1, T)
    m.meta.setdefault("n_static_features", 0)
    k, kind, known = int(m.meta["n_static_features"]), m.meta.get("static_features"), _n_static()
    if k and known.get(kind) != k:
        raise ValueError(f"the model {m.source} expects {k} static features ({kind!r}); ecg-monitor "
                         f"computes {', '.join(f'{name!r} ({n})' for name, n in known.items())}")
    return m


def _n_static():
    """The static features ecg-monitor computes online: their name in a model's metadata -> their number."""
    from sk1dcnn.ecg import RR_FEATURE_NAMES, TEMPLATE_FEATURE_NAMES

    n_rr, n_t = len(RR_FEATURE_NAMES), len(TEMPLATE_FEATURE_NAMES)
    return {"rr": n_rr, "template": n_t, "rr+template": n_rr + n_t}


def _channel(meta, names, rec_path):
    """The model's lead in this record: by name when the model names it, else by position."""
    lead = meta.get("lead")
    if lead is None:
        return int(meta["channel"])
    if lead not in names:
        raise ValueError(f"the model reads lead {lead!r}, which record {rec_path} lacks (leads: "
                         f"{', '.join(names)})")
    return names.index(lead)


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
        annotations, ``detection`` (Se/PPV of the R peaks),
        ``classification`` (per-class Se/PPV of the matched beats) and
        ``alert_scores`` (alert precision and sensitivity, see the module docstring).
    """
    from sk1dcnn.ecg import (RRFeatureStream, TemplateFeatureStream, detect_r_peaks, import_wfdb,
                             load_wfdb_record, wfdb_record_base)
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
    channel = _channel(meta, list(header.sig_name), rec_path)
    normal = str(meta["normal_class"])
    classes = [str(c) for c in m.classes]
    duration = n_samples / fs_rec
    kind = meta.get("static_features") if int(meta["n_static_features"]) else "none"
    rr = RRFeatureStream(fs_rec) if kind in ("rr", "rr+template") else None
    # the template features read the beats in time order, each once, as classify() receives them
    template = TemplateFeatureStream(fs, n_before) if kind in ("template", "rr+template") else None

    out_csv = Path(out_csv) if out_csv else Path(f"{rec_path.name}_beats.csv")
    out(f"ecg-monitor: record {rec_path} ({duration / 60:.1f} min at {fs_rec:g} Hz, lead "
        f"{header.sig_name[channel]}), model {m.source}"
        + ("; RR features online (one beat of delay)" if rr else "")
        + ("; template features online" if template else ""))
    note = _training_note(meta, rec_path.name)
    if note:
        out(f"  note: {note}")

    chunk = int(round(chunk_seconds * fs_rec))
    margin = int(round(_MARGIN_S * fs_rec))
    counts = dict.fromkeys(classes, 0)
    alerts, run = [], []
    positions, labels = [], []
    compute = cpu = 0.0
    n_beats = 0
    pending_X, pending_pos = [], []   # beats cut but waiting for their next R peak (RR features)

    def close_run():
        if len(run) >= min_run:
            alerts.append((run[0][0], run[-1][0], [lab for _, lab in run]))
        run.clear()

    def classify(X, abs_rec, feats):
        if not len(abs_rec):
            return np.empty((0, len(classes))), np.empty(0, str)
        static = [] if feats is None else [feats]
        if template is not None:
            static.append(np.array([template.update(x) for x in X]).reshape(len(X), -1))
        if static:
            X = np.concatenate([X, *static], axis=1)
        elif int(meta["input_ndim"]) == 3:
            X = X[:, None, :]
        proba = np.asarray(m.predict_proba(X))
        return proba, np.asarray(classes)[np.argmax(proba, axis=1)]

    def emit(writer, abs_rec, pred, proba):
        nonlocal n_beats
        for p, lab, pr in zip(abs_rec, pred, proba):
            t = p / fs_rec
            abnormal = lab != normal
            writer.writerow([n_beats, int(p), f"{t:.3f}", lab, int(abnormal), *[f"{v:.4f}" for v in pr]])
            n_beats += 1
            counts[lab] += 1
            if abnormal:
                run.append((t, lab))
            else:
                close_run()
        positions.append(np.asarray(abs_rec, dtype=np.int64))
        labels.append(pred)

    with open(out_csv, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["beat", "sample", "time_s", "label", "abnormal", *[f"p_{c}" for c in classes]])
        for s0 in range(0, n_samples, chunk):
            t0, c0 = time.perf_counter(), time.process_time()
            s1 = min(s0 + chunk, n_samples)
            a, b = max(0, s0 - margin), min(n_samples, s1 + margin)
            sig = load_wfdb_record(rec_path, sampfrom=a, sampto=b, annotator=None).signal[channel]
            if fs != fs_rec:
                sig = resample_signal(sig, fs_rec, fs)
            peaks = detect_r_peaks(sig, fs)                        # in model-rate samples of the segment
            abs_rec = a + np.round(peaks * (fs_rec / fs)).astype(np.int64)  # record samples
            in_chunk = (abs_rec >= s0) & (abs_rec < s1)
            inside = (peaks - n_before >= 0) & (peaks + n_after <= sig.shape[0])
            if rr is not None:
                # every detected beat times its neighbours, also one whose window is cut off
                # beat i's features come out with peak i+1 (RRFeatureStream: one beat late)
                done = [rr.update(p) for p in abs_rec[in_chunk]]
                feats = np.array([f for f in done if f is not None]).reshape(-1, _n_static()["rr"])
                keep_all = in_chunk
            else:
                keep_all = in_chunk & inside
            peaks, abs_rec, inside = peaks[keep_all], abs_rec[keep_all], inside[keep_all]
            X = cut_windows(sig, peaks, n_before, n_after)
            if rr is not None:
                pending_X.extend(X), pending_pos.extend(zip(abs_rec, inside))
                n_ready = len(feats)
                X_ready = np.array(pending_X[:n_ready]).reshape(n_ready, -1)
                pos_ready = pending_pos[:n_ready]
                del pending_X[:n_ready], pending_pos[:n_ready]
                ok = np.array([ins for _, ins in pos_ready], dtype=bool)
                abs_ready = np.array([p for p, _ in pos_ready], dtype=np.int64)
                proba, pred = classify(X_ready[ok], abs_ready[ok], feats[ok])
                abs_rec = abs_ready[ok]
            else:
                proba, pred = classify(X, abs_rec, None)
            compute += time.perf_counter() - t0
            cpu += time.process_time() - c0
            emit(writer, abs_rec, pred, proba)
        if rr is not None and pending_X:  # the record's last beat: no next R peak
            t0, c0 = time.perf_counter(), time.process_time()
            feats = rr.finish()[None, :]
            ok = np.array([ins for _, ins in pending_pos], dtype=bool)
            abs_last = np.array([p for p, _ in pending_pos], dtype=np.int64)[ok]
            proba, pred = classify(np.array(pending_X).reshape(len(pending_X), -1)[ok], abs_last, feats[ok])
            compute += time.perf_counter() - t0
            cpu += time.process_time() - c0
            emit(writer, abs_last, pred, proba)
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
    rtf_cpu = duration / cpu if cpu > 0 else float("inf")
    out(f"  throughput: {duration:.0f} s of ECG in {compute:.2f} s of compute = real-time factor "
        f"{rtf:.0f}x  (chunks of {chunk_seconds:g} s; {cpu:.2f} s of CPU time = {rtf_cpu:.0f}x, which "
        "other programs on a busy machine do not inflate)")

    summary = {"n_beats": n_beats, "counts": counts, "alerts": alerts, "duration_s": duration,
               "compute_s": compute, "cpu_s": cpu, "realtime_factor": rtf, "realtime_factor_cpu": rtf_cpu,
               "csv": str(out_csv)}
    if rec_path.with_suffix(".atr").is_file():
        det = np.concatenate(positions) if positions else np.empty(0, np.int64)
        lab = np.concatenate(labels) if labels else np.empty(0, str)
        summary.update(_score_against_annotations(rec_path, det, lab, fs_rec, classes, alerts, min_run,
                                                  normal, out))
    return summary


def _training_note(meta, record):
    """A warning when the record (or part of it) was in the model's training data."""
    train = str(meta.get("train_records", "")).split()
    if record in train:
        return (f"record {record} was in this model's training data ({meta.get('dataset')}: "
                f"train {' '.join(train)}); its scores below are not a test")
    return None


def cut_windows(sig, peaks, n_before, n_after):
    """The window ``peak - n_before .. peak + n_after`` of ``sig`` around each peak, edge samples
    repeated where it runs past the signal: shape (n_peaks, n_before + n_after)."""
    idx = np.clip(peaks[:, None] + np.arange(-n_before, n_after)[None, :], 0, sig.shape[0] - 1)
    return sig[idx].reshape(len(peaks), n_before + n_after)


def match_beats(det, ref, fs, tolerance=0.150):
    """Index of the nearest reference beat of each detected peak, -1 when it is further than
    ``tolerance`` seconds.

    Parameters
    ----------
    det : ndarray of int, shape (n_detected,)
        Detected R peaks, samples.
    ref : ndarray of int, shape (n_reference,)
        Reference beats, samples, increasing.
    fs : float
        Sampling rate of both, Hz.
    tolerance : float, default=0.150

    Returns
    -------
    ndarray of int, shape (n_detected,)
    """
    if not ref.size or not det.size:
        return np.full(det.size, -1)
    j = np.clip(np.searchsorted(ref, det), 1, ref.size - 1) if ref.size > 1 else np.zeros(det.size, int)
    if ref.size > 1:
        j = np.where(np.abs(ref[j - 1] - det) <= np.abs(ref[j] - det), j - 1, j)
    return np.where(np.abs(ref[j] - det) <= tolerance * fs, j, -1)


def _score_against_annotations(rec_path, det, pred, fs, classes, alerts, min_run, normal, out):
    """R-peak Se/PPV, per-class Se/PPV of the beats matched within 150 ms, and the alerts' precision."""
    from sk1dcnn.ecg import evaluate_r_peaks, import_wfdb, to_aami

    ann = import_wfdb().rdann(str(rec_path), "atr")
    ref = np.asarray(ann.sample, dtype=np.int64)
    sym = np.asarray(ann.symbol, dtype=str)
    detection = evaluate_r_peaks(det, ref, fs, reference_symbols=sym)
    aami = to_aami(sym)
    ref, aami = ref[aami != ""], aami[aami != ""]
    cls = {}
    if det.size and ref.size:
        j = match_beats(det, ref, fs)
        ok = j >= 0
        true, guess = aami[j[ok]], pred[ok]
        for c in classes:
            tp = int(np.sum((true == c) & (guess == c)))
            n_true, n_pred = int(np.sum(true == c)), int(np.sum(guess == c))
            if n_true or n_pred:
                cls[c] = {"se": tp / n_true if n_true else float("nan"),
                          "ppv": tp / n_pred if n_pred else float("nan"), "n": n_true}
    out(f"  vs .atr: R-peak Se {detection['sensitivity']:.3f} PPV {detection['positive_predictivity']:.3f}; "
        + "  ".join(f"{c} Se {v['se']:.2f} PPV {v['ppv']:.2f} (n={v['n']})" for c, v in cls.items()))
    scores = alert_scores(alerts, ref / fs, aami, min_run, normal)
    if scores["n_alerts"] or scores["n_reference_runs"]:
        out(f"  alerts vs .atr: {scores['n_true_alerts']} of {scores['n_alerts']} alerts overlap a reference "
            f"run of >= {min_run} non-{normal} beats (alert precision {_frac(scores['precision'])}); "
            f"{scores['n_runs_alerted']} of {scores['n_reference_runs']} such reference runs raised an alert "
            f"(sensitivity {_frac(scores['sensitivity'])})")
    else:
        out(f"  alerts vs .atr: no alert and no reference run of >= {min_run} non-{normal} beats")
    return {"detection": detection, "classification": cls, "alert_scores": scores}


def _frac(v):
    return "-" if not np.isfinite(v) else f"{v:.2f}"


def reference_runs(times, labels, min_run=3, normal="N"):
    """Runs of ``min_run`` or more consecutive reference beats labelled S, V or F.

    Parameters
    ----------
    times : array-like of float
        Beat times in seconds, in order.
    labels : array-like of str
        AAMI labels (Q beats are neither normal nor abnormal: they end a run).

    Returns
    -------
    runs : list of (start_s, end_s)
    """
    times, labels = np.asarray(times, dtype=float), np.asarray(labels).astype(str)
    abnormal = np.isin(labels, [c for c in ("N", "S", "V", "F") if c != normal])
    runs, start = [], None
    for i, a in enumerate(np.append(abnormal, False)):
        if a and start is None:
            start = i
        elif not a and start is not None:
            if i - start >= min_run:
                runs.append((float(times[start]), float(times[i - 1])))
            start = None
    return runs


def alert_scores(alerts, ref_times, ref_labels, min_run=3, normal="N", tolerance=0.150):
    """Alert precision and sensitivity against the reference runs of abnormal beats.

    An alert ``(start_s, end_s, labels)`` is true when its span overlaps (within
    ``tolerance`` seconds) a reference run of ``min_run`` or more S/V/F beats in
    a row (:func:`reference_runs`); a reference run is alerted when an alert overlaps it.

    Returns
    -------
    scores : dict
        ``n_alerts``, ``n_true_alerts``, ``precision`` (NaN without alerts),
        ``n_reference_runs``, ``n_runs_alerted``, ``sensitivity`` (NaN without runs).
    """
    runs = reference_runs(ref_times, ref_labels, min_run, normal)

    def overlaps(a0, a1, r0, r1):
        return a0 <= r1 + tolerance and r0 <= a1 + tolerance

    true_alerts = sum(any(overlaps(a0, a1, r0, r1) for r0, r1 in runs) for a0, a1, _ in alerts)
    alerted = sum(any(overlaps(a0, a1, r0, r1) for a0, a1, _ in alerts) for r0, r1 in runs)
    return {"n_alerts": len(alerts), "n_true_alerts": int(true_alerts),
            "precision": true_alerts / len(alerts) if alerts else float("nan"),
            "n_reference_runs": len(runs), "n_runs_alerted": int(alerted),
            "sensitivity": alerted / len(runs) if runs else float("nan")}

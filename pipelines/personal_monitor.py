"""``python -m pipelines ecg-monitor --record R --personal MINUTES``: the advance-warning system on one record.

The system of ``--dataset mitdb:advance_warning`` (``synthesis_rr_online``), run as a
monitor on any WFDB record, with its own R-peak detection:

1. R peaks are detected in the whole record (:func:`sk1dcnn.ecg.detect_r_peaks`),
   and their RR features computed (causal: a beat's features read the previous
   beats and the next R peak only).
2. The beats of the first ``MINUTES`` are the person's normal beats. A new person
   has no labels: every beat is taken as normal, except that, when the record has
   reference annotations (``.atr``), the beats they call S, V, F or Q are left out,
   as in the protocol (and the monitor says how many).
3. A bank of degradation filters (:class:`sk1dcnn.ecg.synthesis.DegradationBank`)
   is fitted on the labelled records of ``bank_records`` (default: the shipped
   excerpts), never on the monitored record; it synthesizes the person's S and V
   beats, which with their normal beats train a personal ``CNN1DClassifier``.
4. The rest of the record is monitored minute by minute: the adaptive template
   (:class:`sk1dcnn.ecg.novelty.AdaptiveTemplateDetector`) and the CNN decide each
   beat, and after each minute the CNN learns the beats the detector accepted
   (:func:`pipelines.advance_warning.monitor_online`). The warning logic uses past
   beats and the next R peak only. The record is read whole (a 30-minute record is
   a few MB) and the R peaks are detected on it at once: the detector's zero-phase
   filters and its threshold read a few seconds of signal after each peak, which a
   live monitor would get with that much delay.

With reference annotations the monitor scores itself on the reference beats after
the training minutes, each taking the decision of the detected beat within 150 ms
(a beat the detector missed is not warned): the onsets of S and V and whether one
of their first three beats warned, the false-alarm rate over the reference N beats,
and the warnings on detections that match no reference beat.
"""

import csv
import time
from pathlib import Path

import numpy as np

from .advance_warning import (PROTOCOL, _prepare, fit_personal_cnn, online_warnings, synthetic_training_set,
                               warning_scores)
from .monitor import cut_windows, match_beats

__all__ = ["monitor_personal"]

def _bank(bank_records, exclude, protocol, before, after):
    from sk1dcnn import datasets
    from sk1dcnn.ecg import list_records, load_mitdb_beats
    from sk1dcnn.ecg.synthesis import DegradationBank

    folder = datasets.shipped_data_dir("mitdb") if bank_records is None else Path(bank_records)
    names = [r for r in list_records(folder) if r != exclude]
    if not names:
        raise ValueError(f"no labelled record other than {exclude} in {folder} to build the bank from")
    X, y, g, _, rr = load_mitdb_beats(names, folder, before=before, after=after, lead="MLII", rr_features=True)
    X = _prepare(X[:, 0, :], protocol["decimate"])
    bank = DegradationBank(rr_features=True, random_state=0, **protocol["bank"])
    return bank.fit(np.hstack([X, rr]), y.astype(str), groups=g.astype(str)), folder


def monitor_personal(record, minutes=5.0, *, bank_records=None, out_csv=None, max_warnings=20,
                     random_state=0, protocol=PROTOCOL, out=print):
    """Train the advance-warning system on a record's first minutes, then monitor the rest.

    Parameters
    ----------
    record : str or path-like
        WFDB record path without extension (MIT-BIH format, lead MLII by name when present).
    minutes : float, default=5.0
        Training minutes (the person's normal beats).
    bank_records : path-like or None, default=None
        Folder of labelled WFDB records for the degradation bank (the monitored
        record is left out); None: the 5-minute excerpts shipped with sk1dcnn.
    out_csv : path-like or None
        Per-beat CSV; default ``<record name>_warnings.csv``.
    max_warnings : int, default=20
        Warning lines printed (every beat goes to the CSV).
    random_state : int or None, default=0
        The CNNs' initialization and the synthetic draws (member i uses
        ``random_state + 1000 * i``); None: a fresh draw.
    protocol : dict, default=PROTOCOL
        ``decimate``, ``bank``, ``model``, ``detector`` and ``online`` settings.

    Returns
    -------
    summary : dict
        ``n_beats``, ``n_training_beats``, ``n_warnings``, ``warnings`` (list of
        ``(time_s, class)``), ``compute_s``, ``realtime_factor``, ``csv``, ``bank_records``
        (the records the degradation filters came from); with reference annotations
        ``scores`` (:func:`pipelines.advance_warning.warning_scores` over the
        reference beats, plus ``n_missed_by_detector`` and
        ``n_warnings_without_reference``).
    """
    from sk1dcnn.ecg import detect_r_peaks, import_wfdb, load_wfdb_record, rr_features, to_aami, wfdb_record_base
    from sk1dcnn.ecg.novelty import AdaptiveTemplateDetector
    from sk1dcnn.signal import resample_signal

    before, after, fs = 0.25, 0.45, 360.0   # the protocol's beat window, at MIT-BIH's rate
    if not minutes > 0:
        raise ValueError(f"--personal MINUTES must be a positive number of training minutes, got {minutes:g}")
    rec_path = wfdb_record_base(record)
    header = import_wfdb().rdheader(str(rec_path))
    duration = header.sig_len / float(header.fs)
    if not minutes * 60 < duration - 60:
        raise ValueError(f"record {rec_path.name} is {duration / 60:.1f} min long: --personal {minutes:g} "
                         "must leave at least one minute to monitor after the training minutes")
    t0, c0 = time.perf_counter(), time.process_time()
    rec = load_wfdb_record(rec_path)
    names = list(rec.channel_names)
    channel = names.index("MLII") if "MLII" in names else 0
    sig = rec.signal[channel]
    if rec.fs != fs:
        sig = resample_signal(sig, rec.fs, fs)
    peaks = detect_r_peaks(sig, fs)
    rr = rr_features(peaks, fs)
    X = _prepare(cut_windows(sig, peaks, int(round(before * fs)), int(round(after * fs))), protocol["decimate"])
    times = peaks / fs
    train = times < minutes * 60

    # the reference labels, when there are any, only to leave abnormal beats out of training
    ref_samples = np.round(rec.ann_samples * (fs / rec.fs)).astype(np.int64)
    aami = to_aami(rec.ann_symbols)
    ref_samples, aami = ref_samples[aami != ""], aami[aami != ""]
    has_ref = ref_samples.size > 0
    match = match_beats(peaks, ref_samples, fs)
    ref_label = np.where(match >= 0, aami[np.maximum(match, 0)], "") if has_ref else np.full(len(peaks), "")
    dropped = train & has_ref & (ref_label != "N")
    own = np.flatnonzero(train & ~dropped)
    if len(own) < 30:
        raise ValueError(f"only {len(own)} normal beats in the first {minutes:g} minutes of {rec_path.name}: "
                         "the personal model needs at least 30")
    bank, bank_folder = _bank(bank_records, rec_path.name, protocol, before, after)
    out(f"ecg-monitor --personal: record {rec_path} ({duration / 60:.1f} min, lead {names[channel]}); "
        f"training on minutes 0-{minutes:g}: {len(own)} beats"
        + (f" ({int(dropped.sum())} left out: the reference annotations call them S, V, F, Q or "
           "match no reference beat)" if has_ref else " (no annotations: all taken as normal)"))
    out(f"  degradation bank: {len(bank.filters_)} filters from {len(bank.records_)} other records "
        f"in {bank_folder}")

    def personal_cnn(seed):
        X_tr, y_tr, _ = synthetic_training_set(X[own], rr[own], bank, n_per_filter=1, use_rr=True,
                                               random_state=seed)
        return fit_personal_cnn(X_tr, y_tr, protocol["model"], n_static_features=7, random_state=seed)

    scale = float(X[own].std()) or 1.0
    detector = AdaptiveTemplateDetector(**protocol["detector"]).fit(X[own], rr[own, 0])
    mon = np.flatnonzero(~train)
    dist, prem = detector.score_stream(X[mon], rr[mon, 0])
    on = protocol["online"]
    # n_members CNNs (seeds base, base + 1000, ...), each learning online
    base = int(np.random.default_rng().integers(2**31)) if random_state is None else int(random_state)
    seeds = [base + 1000 * i for i in range(max(1, int(on.get("n_members", 1))))]
    warn, cls, p_abn = online_warnings([personal_cnn(s) for s in seeds], X[mon], rr[mon], times[mon], dist,
                                       prem, bank, scale, on, seeds)
    label = np.where(warn, cls, "N")
    compute, cpu = time.perf_counter() - t0, time.process_time() - c0

    out_csv = Path(out_csv) if out_csv else Path(f"{rec_path.name}_warnings.csv")
    with open(out_csv, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["beat", "sample", "time_s", "label", "warning", "p_abnormal", "distance_ratio",
                    "prematurity_ratio"])
        for k, i in enumerate(mon):
            w.writerow([k, int(round(peaks[i] * rec.fs / fs)), f"{times[i]:.3f}", label[k], int(warn[k]),
                        f"{p_abn[k]:.4f}", f"{dist[k]:.3f}", f"{prem[k]:.3f}"])
    n_warn = int(warn.sum())
    out(f"  monitored minutes {minutes:g}-{duration / 60:.1f}: {len(mon)} beats, {n_warn} warnings "
        f"({', '.join(f'{c} {int(np.sum(label == c))}' for c in ('S', 'V'))})  -> {out_csv}")
    for k in np.flatnonzero(warn)[:max_warnings]:
        m, s = divmod(times[mon[k]], 60)
        out(f"  WARNING {int(m):02d}:{s:06.3f}  {label[k]} beat  (P(abnormal) {p_abn[k]:.2f}; distance "
            f"{dist[k]:.1f}x, prematurity {prem[k]:.2f}x; 1x = the most of the training beats)")
    if n_warn > max_warnings:
        out(f"  ... {n_warn - max_warnings} more warnings (the 'warning' column of the CSV)")
    rtf = (duration - minutes * 60) / compute
    out(f"  {compute:.1f} s of compute ({cpu:.1f} s CPU) for training and monitoring: {rtf:.0f}x real time "
        "over the monitored minutes")

    summary = {"n_beats": int(len(mon)), "n_training_beats": int(len(own)), "n_warnings": n_warn,
               "warnings": [(float(times[mon[k]]), str(label[k])) for k in np.flatnonzero(warn)],
               "compute_s": compute, "realtime_factor": rtf, "csv": str(out_csv),
               "bank_records": [str(r) for r in bank.records_]}
    if has_ref:
        # scored on the reference beats: each takes the decision of the detected beat within
        # 150 ms (none: not warned, a beat the R-peak detector missed)
        in_mon = ref_samples >= minutes * 60 * fs
        nearest = match_beats(ref_samples[in_mon], peaks[mon], fs)
        pred_ref = np.where(nearest >= 0, label[np.maximum(nearest, 0)], "N")
        s = warning_scores(aami[in_mon], pred_ref, np.zeros(int(in_mon.sum())), ref_samples[in_mon] / fs)
        spurious = int(np.sum(warn & (ref_label[mon] == "")))
        onsets = " ".join(f"{o['class']}:{'caught' if o['detected'] else 'missed'}" for o in s["onsets"])
        out(f"  vs .atr ({int(in_mon.sum())} reference beats after minute {minutes:g}, "
            f"{int(np.sum(nearest < 0))} not detected): onsets: {onsets or 'none'}; false alarms "
            f"{s['n_false_alarms']} of {s['n_normal']} N beats ({100 * s['false_alarm_rate']:.1f}%); "
            f"{spurious} warnings on detections with no reference beat")
        summary["scores"] = {**s, "n_missed_by_detector": int(np.sum(nearest < 0)),
                             "n_warnings_without_reference": spurious}
    out("  Research software, not a medical device.")
    return summary

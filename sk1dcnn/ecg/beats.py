"""MIT-BIH heartbeats: fixed windows cut around annotated beats, from one record or many.

The first 5 minutes of ten MIT-BIH records ship inside the package
(``sk1dcnn/data/mitdb``, see ``sk1dcnn/data/SOURCE.md``); pass a folder of full
records to :func:`load_mitdb_beats` for more. Leads are picked by their name in
the header (MLII by default), and RR-interval features can come with the beats.
"""

from pathlib import Path

import numpy as np

from ..datasets import shipped_data_dir
from ..signal import resample_signal
from . import rr as _rr
from .labels import to_aami
from .records import lead_indices, list_records, load_wfdb_record

__all__ = ["extract_beats", "load_mitdb_beats"]


def _select_channels(signal, channel):
    signal = np.asarray(signal, dtype=np.float64)
    if signal.ndim == 1:
        signal = signal[np.newaxis]
    if signal.ndim != 2:
        raise ValueError(f"signal must be 1-D or (n_channels, n_samples), got shape {signal.shape}")
    if channel is None:
        return signal
    idx = np.atleast_1d(np.asarray(channel, dtype=np.intp))
    if np.any(idx >= signal.shape[0]) or np.any(idx < -signal.shape[0]):
        raise ValueError(f"channel={channel!r} out of range for a signal with {signal.shape[0]} channel(s)")
    return signal[idx]


def extract_beats(
    signal, fs, ann_samples, ann_symbols, before=0.25, after=0.45, channel=0, target_fs=None
):
    """Cut fixed windows around annotated beats.

    Parameters
    ----------
    signal : ndarray of shape (n_channels, n_samples) or (n_samples,)
        The record.
    fs : float
        Sampling frequency of ``signal`` in Hz.
    ann_samples : array-like of int
        Annotation sample indices (at ``fs``).
    ann_symbols : array-like of str
        Annotation symbols. Only beats (see :func:`sk1dcnn.ecg.labels.to_aami`) are kept.
    before, after : float, default=0.25, 0.45
        Window extent in seconds before and after the annotation. The window
        is ``[s - round(before*fs), s + round(after*fs))``.
    channel : int, sequence of int or None, default=0
        Channel(s) to keep; None keeps all.
    target_fs : float or None, default=None
        If given, the selected channels are resampled to this rate
        (``scipy.signal.resample_poly`` over the whole record, so there are
        no per-window edge effects) before cutting.

    Returns
    -------
    X : ndarray of shape (n_beats, n_channels_selected, n_timepoints)
        Beat windows, float64.
    y : ndarray of shape (n_beats,)
        AAMI class of each beat (str).
    positions : ndarray of shape (n_beats,)
        Annotation sample index of each beat, at the original ``fs``.

    Notes
    -----
    Windows that would run off either edge of the record are dropped, so
    ``n_beats`` may be smaller than the number of beat annotations.
    """
    sig = _select_channels(signal, channel)
    samples = np.asarray(ann_samples, dtype=np.int64)
    labels = to_aami(ann_symbols)
    if samples.shape != labels.shape:
        raise ValueError(
            f"ann_samples and ann_symbols differ in length: {samples.shape} vs {labels.shape}"
        )
    is_beat = labels != ""
    samples, labels = samples[is_beat], labels[is_beat]

    rate = float(fs)
    centres = samples
    if target_fs is not None and float(target_fs) != float(fs):
        sig = resample_signal(sig, fs, target_fs)
        rate = float(target_fs)
        centres = np.round(samples * (rate / float(fs))).astype(np.int64)

    n_before = int(round(before * rate))
    n_after = int(round(after * rate))
    if n_before + n_after <= 0:
        raise ValueError(f"before + after must be positive, got {before} + {after}")
    inside = (centres - n_before >= 0) & (centres + n_after <= sig.shape[1])
    centres, labels, samples = centres[inside], labels[inside], samples[inside]
    # (n_beats, n_timepoints) index grid; one fancy index cuts every window.
    idx = centres[:, None] + np.arange(-n_before, n_after)[None, :]
    X = sig[:, idx].transpose(1, 0, 2)
    return np.ascontiguousarray(X), labels, samples


def _mitdb_dir(data_dir):
    return shipped_data_dir("mitdb") if data_dir is None else Path(data_dir)


def load_mitdb_beats(
    records=None,
    data_dir=None,
    *,
    before=0.25,
    after=0.45,
    lead="MLII",
    channel=None,
    target_fs=None,
    rr_features=False,
):
    """Load beat windows from several MIT-BIH records and concatenate them.

    Parameters
    ----------
    records : sequence of str or None, default=None
        Record names, e.g. ``("100", "200")`` or
        :data:`sk1dcnn.ecg.splits.DE_CHAZAL_DS1`. None reads every record in
        ``data_dir`` except the paced ones (:data:`~sk1dcnn.ecg.records.PACED_RECORDS`,
        left out as EC57 says); see :func:`~sk1dcnn.ecg.records.list_records`.
        Records named explicitly are read even when paced.
    data_dir : str or path-like, default=None
        Folder with ``<record>.hea/.dat/.atr``. None uses the 5-minute
        excerpts shipped with the package; pass a folder of the full
        30-minute records, e.g. ``sk1dcnn.datasets.find_shared_data("mitdb")``.
    before, after, target_fs
        Passed to :func:`extract_beats`.
    lead : str, sequence of str or "all", default="MLII"
        Lead(s) by the name in each record's header (see
        :func:`~sk1dcnn.ecg.records.lead_indices`): ``"MLII"`` is the right
        lead in every record, including 114, whose leads are swapped;
        ``"all"`` gives both leads as two channels, MLII first.
    channel : int, sequence of int or None, default=None
        Select channels by position instead (ignores ``lead``). Position 0 is
        not MLII in records 102, 104 and 114.
    rr_features : bool, default=False
        Also return the RR-interval features of each beat
        (:func:`sk1dcnn.ecg.rr.rr_features`), computed from all beat
        annotations of its record (edge beats without a full window
        included), so that they are the same as a monitor's.

    Returns
    -------
    X : ndarray of shape (n_beats, n_channels_selected, n_timepoints)
    y : ndarray of shape (n_beats,)
        AAMI class labels (str).
    record_ids : ndarray of shape (n_beats,)
        Record name of each beat (use as ``groups`` for group-aware CV).
    positions : ndarray of shape (n_beats,)
        Sample index of each beat in its record (at 360 Hz).
    rr : ndarray of shape (n_beats, 7)
        Only with ``rr_features=True``: columns
        :data:`sk1dcnn.ecg.rr.RR_FEATURE_NAMES`. Join them to ``X`` with
        :func:`sk1dcnn.join_static` for an estimator with
        ``n_static_features=7``.
    """
    folder = _mitdb_dir(data_dir)
    if records is None:
        records = list_records(folder)
        if not records:
            raise FileNotFoundError(f"no WFDB record (.hea with .dat and .atr) in {folder}")
    elif isinstance(records, str):
        records = (records,)
    parts = []
    for rec in records:
        path = folder / str(rec)
        if not path.with_suffix(".hea").is_file():
            shipped = sorted(p.stem for p in shipped_data_dir("mitdb").glob("*.hea"))
            raise FileNotFoundError(
                f"MIT-BIH record {rec!r} not found: {path.with_suffix('.hea')}. "
                f"Shipped excerpts: {', '.join(shipped)}"
            )
        r = load_wfdb_record(path)
        chans = channel if channel is not None else lead_indices(r.channel_names, lead, record=str(rec))
        X, y, pos = extract_beats(
            r.signal, r.fs, r.ann_samples, r.ann_symbols,
            before=before, after=after, channel=chans, target_fs=target_fs,
        )
        part = [X, y, np.full(len(y), str(rec)), pos]
        if rr_features:
            beats = r.ann_samples[to_aami(r.ann_symbols) != ""]
            feats = _rr.rr_features(beats, r.fs)
            part.append(feats[np.searchsorted(beats, pos)])
        parts.append(part)
    return tuple(np.concatenate(p) for p in zip(*parts))

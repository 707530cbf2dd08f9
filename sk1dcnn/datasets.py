"""Loaders for the small real ECG data sets shipped with sk1dcnn.

Two kinds of data are supported:

* UCR archive tsv files (``load_ucr``): one series per line, first column the
  class label. ECG200 and ECGFiveDays ship inside the package.
* MIT-BIH Arrhythmia Database records in WFDB format (``load_wfdb_record``,
  ``extract_beats``, ``load_mitdb_beats``): the first 5 minutes of ten records
  ship inside the package; the full 30-minute records are read from the team's
  shared data folder (``find_shared_data("mitdb")``) or a user path.

Nothing here downloads anything. ``wfdb`` is an optional dependency
(``pip install sk1dcnn[ecg]``) and is only imported by the WFDB readers.

See ``sk1dcnn/data/SOURCE.md`` for the origin, licences and citations.
"""

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "AAMI_CLASSES",
    "AAMI_MAPPING",
    "INTER_PATIENT_TEST",
    "INTER_PATIENT_TRAIN",
    "MITDB_FS",
    "ECGRecord",
    "extract_beats",
    "find_shared_data",
    "load_mitdb_beats",
    "load_ucr",
    "load_wfdb_record",
    "patient_specific_split",
    "shipped_data_dir",
    "to_aami",
]

_DATA_ENV = "SK1DCNN_DATA"
_PACKAGE_DATA = Path(__file__).resolve().parent / "data"

MITDB_FS = 360.0

#: The five AAMI EC57 heartbeat classes, in the usual order.
AAMI_CLASSES = ("N", "S", "V", "F", "Q")

#: MIT-BIH beat symbol -> AAMI class. Symbols not listed here are not beats
#: for our purposes and are dropped: rhythm/signal-quality marks (``+ ~ | "``),
#: ventricular flutter onset/offset ``[ ]``, ventricular flutter waves ``!``
#: (AAMI EC57 excludes ventricular flutter/fibrillation episodes from beat
#: classification) and ``x``, a non-conducted P wave (no QRS complex, so no
#: beat to classify or detect).
AAMI_MAPPING = {
    **dict.fromkeys(("N", "L", "R", "e", "j"), "N"),
    **dict.fromkeys(("A", "a", "J", "S"), "S"),
    **dict.fromkeys(("V", "E"), "V"),
    "F": "F",
    **dict.fromkeys(("/", "f", "Q"), "Q"),
}

#: Inter-patient split (de Chazal et al. 2004, DS1/DS2) restricted to the ten
#: MIT-BIH records we have. No record is in both.
INTER_PATIENT_TRAIN = ("101", "106", "118", "119", "208", "209")
INTER_PATIENT_TEST = ("100", "200", "232", "233")


# --------------------------------------------------------------------------- #
# Locating data
# --------------------------------------------------------------------------- #
def shipped_data_dir(*parts):
    """Return the folder of data shipped inside the package.

    Parameters
    ----------
    *parts : str
        Optional sub-path, e.g. ``"mitdb"`` or ``"ucr"``.

    Returns
    -------
    path : pathlib.Path
        ``<package>/data/<parts...>`` (not checked for existence).
    """
    return _PACKAGE_DATA.joinpath(*parts)


def find_shared_data(*parts):
    """Locate the team's full data folder, or return None.

    The folder is taken from the environment variable ``SK1DCNN_DATA`` if it
    is set, else ``<project root>/../shared/data`` (``/work/shared/data`` when
    the repository is at ``/work/main``), found relative to this file.

    Parameters
    ----------
    *parts : str
        Optional sub-path inside the data folder, e.g. ``"mitdb"``.

    Returns
    -------
    path : pathlib.Path or None
        The existing path, or None when it is missing. Tests that need the
        full data skip on None.

    Examples
    --------
    >>> mitdb = find_shared_data("mitdb")  # doctest: +SKIP
    >>> X, y, rec, pos = load_mitdb_beats(["100"], data_dir=mitdb)  # doctest: +SKIP
    """
    env = os.environ.get(_DATA_ENV)
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    path = root.joinpath(*parts)
    return path if path.exists() else None


# --------------------------------------------------------------------------- #
# UCR archive
# --------------------------------------------------------------------------- #
def _read_ucr_tsv(path, dtype):
    data = np.loadtxt(path, delimiter="\t", dtype=np.float64, ndmin=2)
    labels = data[:, 0]
    # UCR labels are integers written as text (sometimes as "1.0000000e+00").
    if np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)):
        labels = labels.astype(np.int64)
    return np.ascontiguousarray(data[:, 1:], dtype=dtype), labels


def _ucr_split_path(path, split):
    """Given a *_TRAIN.tsv or *_TEST.tsv path, return the file for `split`."""
    stem = path.name
    for suffix in ("_TRAIN.tsv", "_TEST.tsv"):
        if stem.upper().endswith(suffix.upper()):
            base = stem[: -len(suffix)]
            return path.with_name(f"{base}_{split.upper()}.tsv")
    raise ValueError(
        f"{path} is not a UCR split file: expected a name ending in "
        "'_TRAIN.tsv' or '_TEST.tsv'"
    )


def _ucr_candidate_dirs(name, data_home):
    """Folders searched for a UCR data set given by name, in order."""
    roots = []
    if data_home is not None:
        roots.append(Path(data_home))
    env = os.environ.get(_DATA_ENV)
    if env:
        roots.append(Path(env))
    roots.append(_PACKAGE_DATA)
    shared = find_shared_data()
    if shared is not None and not env:
        roots.append(shared)
    dirs = []
    for root in roots:
        # Flat folder, a data folder with ucr/, or the archive's NAME/NAME_*.tsv layout.
        dirs += [root, root / "ucr", root / name, root / "ucr" / name]
    # Keep order, drop duplicates.
    return list(dict.fromkeys(dirs))


def _shipped_ucr_names():
    return sorted(p.name[: -len("_TRAIN.tsv")] for p in (_PACKAGE_DATA / "ucr").glob("*_TRAIN.tsv"))


def load_ucr(name_or_path, split=None, *, data_home=None, dtype=np.float64):
    """Load a UCR archive data set from its tsv files.

    Each tsv file holds one series per line, tab separated, with the class
    label in the first column (the archive's 2018 format).

    Parameters
    ----------
    name_or_path : str or path-like
        One of:

        * a data set name, e.g. ``"ECG200"``. It is looked up, in order, in
          ``data_home``, in ``$SK1DCNN_DATA``, in the copies shipped with the
          package (ECG200, ECGFiveDays) and in the team's shared data folder
          (see :func:`find_shared_data`). In each folder the files may sit
          directly, under ``ucr/`` or under ``<name>/`` (the archive layout).
        * a folder holding ``<name>_TRAIN.tsv`` and ``<name>_TEST.tsv``
          (the folder's name is the data set name).
        * a path to one ``*_TRAIN.tsv`` or ``*_TEST.tsv`` file.

    split : {"train", "test", "both"} or None, default=None
        Which part to return. None means "both" for a name or folder, and
        "the given file" for a file path. With a file path, "train", "test"
        or "both" select the file(s) next to it.
    data_home : str or path-like, default=None
        Extra folder searched first for a data set given by name.
    dtype : numpy dtype, default=np.float64
        Dtype of the returned series.

    Returns
    -------
    X, y : ndarray of shape (n_samples, n_timepoints), ndarray of shape (n_samples,)
        When a single split is returned.
    X_train, y_train, X_test, y_test : ndarrays
        When ``split="both"`` (the default for a name).
        Labels are the archive's own labels as int64 (e.g. -1/1 for ECG200),
        or float64 if some label is not integral.

    Raises
    ------
    FileNotFoundError
        If the files cannot be found. The message lists the paths tried and
        the data set names shipped with the package.

    Examples
    --------
    >>> X_train, y_train, X_test, y_test = load_ucr("ECG200")
    >>> X_train.shape, X_test.shape
    ((100, 96), (100, 96))
    >>> X, y = load_ucr("ECG200", split="test")
    """
    if split not in (None, "train", "test", "both"):
        raise ValueError(f"split must be 'train', 'test', 'both' or None, got {split!r}")
    path = Path(name_or_path)
    if path.is_file():
        if split is None:
            return _read_ucr_tsv(path, dtype)
        files = {s: _ucr_split_path(path, s) for s in ("train", "test")}
    else:
        if path.is_dir():
            name = path.name
            dirs = [path]
        else:
            name = str(name_or_path)
            if os.sep in name or "/" in name or name.endswith(".tsv"):
                # Looks like a path, not a name: do not search, just report it.
                raise FileNotFoundError(f"No such UCR file or folder: {path}")
            dirs = _ucr_candidate_dirs(name, data_home)
        tried = []
        files = None
        for d in dirs:
            cand = {s: d / f"{name}_{s.upper()}.tsv" for s in ("train", "test")}
            tried.append(str(cand["train"]))
            if all(p.is_file() for p in cand.values()):
                files = cand
                break
        if files is None:
            raise FileNotFoundError(
                f"UCR data set {name!r} not found. Tried:\n  "
                + "\n  ".join(tried)
                + f"\nShipped with sk1dcnn: {', '.join(_shipped_ucr_names())}. "
                f"Pass data_home=, set ${_DATA_ENV}, or give a path to a *_TRAIN.tsv file."
            )
        split = split or "both"
    if split == "both":
        return (*_read_ucr_tsv(files["train"], dtype), *_read_ucr_tsv(files["test"], dtype))
    if not files[split].is_file():
        raise FileNotFoundError(f"UCR {split} file not found: {files[split]}")
    return _read_ucr_tsv(files[split], dtype)


# --------------------------------------------------------------------------- #
# MIT-BIH / WFDB
# --------------------------------------------------------------------------- #
def _import_wfdb():
    try:
        import wfdb
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Reading WFDB (MIT-BIH) records needs the optional package 'wfdb': "
            "pip install sk1dcnn[ecg]"
        ) from exc
    return wfdb


def wfdb_record_base(path):
    """The record's path without extension (``100.hea``, ``100.dat`` or ``100`` -> ``100``).

    Raises ``FileNotFoundError`` naming the header when it is missing.
    """
    path = Path(path)
    if path.suffix in (".hea", ".dat", ".atr"):
        path = path.with_suffix("")
    if not path.with_suffix(".hea").is_file():
        raise FileNotFoundError(f"WFDB header not found: {path.with_suffix('.hea')}")
    return path


class ECGRecord(NamedTuple):
    """A WFDB record as plain arrays (see :func:`load_wfdb_record`)."""

    signal: np.ndarray
    fs: float
    channel_names: tuple
    ann_samples: np.ndarray
    ann_symbols: np.ndarray


def load_wfdb_record(path, *, sampfrom=0, sampto=None, annotator="atr"):
    """Read a WFDB record and its annotations.

    Parameters
    ----------
    path : str or path-like
        Record path without extension (``".../mitdb/100"``); a ``.hea``,
        ``.dat`` or ``.atr`` suffix is accepted and removed.
    sampfrom, sampto : int, default=0, None
        Sample range to read (``sampto=None`` reads to the end). Annotations
        are restricted to the range and shifted so that ``sampfrom`` is 0.
    annotator : str or None, default="atr"
        Annotation file extension. None reads no annotations (empty arrays).

    Returns
    -------
    record : ECGRecord
        Named tuple ``(signal, fs, channel_names, ann_samples, ann_symbols)``:
        ``signal`` float64 of shape (n_channels, n_samples) in physical units
        (mV for MIT-BIH), ``fs`` in Hz, ``channel_names`` e.g. ``("MLII", "V5")``,
        ``ann_samples`` int64 sample indices and ``ann_symbols`` str array
        with all annotation symbols (beats and non-beats; see :func:`to_aami`).
    """
    wfdb = _import_wfdb()
    path = wfdb_record_base(path)
    rec = wfdb.rdrecord(str(path), sampfrom=sampfrom, sampto=sampto)
    signal = np.ascontiguousarray(rec.p_signal.T, dtype=np.float64)
    end = sampfrom + signal.shape[1]
    if annotator is None:
        samples, symbols = np.empty(0, np.int64), np.empty(0, "<U1")
    else:
        ann = wfdb.rdann(str(path), annotator, sampfrom=sampfrom, sampto=end - 1)
        samples = np.asarray(ann.sample, dtype=np.int64)
        symbols = np.asarray(ann.symbol, dtype=str)
        keep = (samples >= sampfrom) & (samples < end)
        samples, symbols = samples[keep] - sampfrom, symbols[keep]
    return ECGRecord(signal, float(rec.fs), tuple(rec.sig_name), samples, symbols)


def to_aami(symbols):
    """Map MIT-BIH annotation symbols to AAMI classes.

    Parameters
    ----------
    symbols : array-like of str
        Annotation symbols.

    Returns
    -------
    labels : ndarray of str, same shape
        The AAMI class (one of :data:`AAMI_CLASSES`), or ``""`` where the
        symbol is not a beat (see :data:`AAMI_MAPPING` for what is dropped).
    """
    symbols = np.asarray(symbols, dtype=str)
    if symbols.size == 0:
        return np.empty(symbols.shape, dtype="<U1")
    # Map the unique symbols only, then broadcast back (no per-beat loop).
    uniq, inv = np.unique(symbols, return_inverse=True)
    mapped = np.array([AAMI_MAPPING.get(s, "") for s in uniq], dtype="<U1")
    return mapped[inv].reshape(symbols.shape)


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
        Annotation symbols. Only beats (see :func:`to_aami`) are kept.
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
        from .preprocessing import resample_signal

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
    records=INTER_PATIENT_TRAIN + INTER_PATIENT_TEST,
    data_dir=None,
    *,
    before=0.25,
    after=0.45,
    channel=0,
    target_fs=None,
):
    """Load beat windows from several MIT-BIH records and concatenate them.

    Parameters
    ----------
    records : sequence of str, default=all ten records
        Record names, e.g. ``("100", "200")`` or :data:`INTER_PATIENT_TRAIN`.
    data_dir : str or path-like, default=None
        Folder with ``<record>.hea/.dat/.atr``. None uses the 5-minute
        excerpts shipped with the package; pass ``find_shared_data("mitdb")``
        for the full 30-minute records.
    before, after, channel, target_fs
        Passed to :func:`extract_beats` (channel 0 is MLII in these records).

    Returns
    -------
    X : ndarray of shape (n_beats, n_channels_selected, n_timepoints)
    y : ndarray of shape (n_beats,)
        AAMI class labels (str).
    record_ids : ndarray of shape (n_beats,)
        Record name of each beat (use as ``groups`` for group-aware CV).
    positions : ndarray of shape (n_beats,)
        Sample index of each beat in its record (at 360 Hz).
    """
    if isinstance(records, str):
        records = (records,)
    folder = _mitdb_dir(data_dir)
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
        X, y, pos = extract_beats(
            r.signal, r.fs, r.ann_samples, r.ann_symbols,
            before=before, after=after, channel=channel, target_fs=target_fs,
        )
        parts.append((X, y, np.full(len(y), str(rec)), pos))
    X, y, ids, pos = (np.concatenate(p) for p in zip(*parts))
    return X, y, ids, pos


def patient_specific_split(
    y,
    record_ids,
    positions,
    patient,
    *,
    fs=MITDB_FS,
    train_minutes=5.0,
    common_records=None,
    n_common_per_class=75,
    random_state=None,
):
    """Patient-specific train/test split of Kiranyaz et al. (2016).

    Training set: a common set of representative beats taken from other
    records, plus the beats in the first ``train_minutes`` (5) minutes of the
    patient's own record. Test set: the rest of the patient's record (the
    remaining 25 minutes of a full MIT-BIH record).

    Parameters
    ----------
    y : array-like of shape (n_beats,)
        AAMI labels, e.g. from :func:`load_mitdb_beats`.
    record_ids : array-like of shape (n_beats,)
        Record of each beat.
    positions : array-like of shape (n_beats,)
        Sample index of each beat in its record.
    patient : str
        The record to train and test on.
    fs : float, default=360.0
        Sampling rate of ``positions``.
    train_minutes : float, default=5.0
        Length of the patient-specific training segment.
    common_records : sequence of str or None, default=None
        Records the common beats come from. None follows the paper: records
        numbered 100-124, here those present in ``record_ids`` other than
        ``patient``.
    n_common_per_class : int, default=75
        Common beats drawn at random per AAMI class (all of them for a class
        with fewer). The paper used 75 N, S and V beats and all 13 F and 7 Q
        beats, 245 in total.
    random_state : int, RandomState instance or None, default=None
        Seed for drawing the common beats.

    Returns
    -------
    train_idx, test_idx : ndarray of int
        Indices into the beat arrays.

    Raises
    ------
    ValueError
        If the patient's record is missing or has no beat after the training
        segment (e.g. with the shipped 5-minute excerpts: use the full records
        from ``find_shared_data("mitdb")``).

    References
    ----------
    S. Kiranyaz, T. Ince, M. Gabbouj. "Real-Time Patient-Specific ECG
    Classification by 1-D Convolutional Neural Networks." IEEE Trans. Biomed.
    Eng. 63(3):664-675, 2016.
    """
    y = np.asarray(y)
    record_ids = np.asarray(record_ids).astype(str)
    positions = np.asarray(positions)
    patient = str(patient)
    own = record_ids == patient
    if not own.any():
        raise ValueError(f"patient {patient!r} has no beats in record_ids")
    cutoff = train_minutes * 60.0 * fs
    own_train = np.flatnonzero(own & (positions < cutoff))
    test_idx = np.flatnonzero(own & (positions >= cutoff))
    if test_idx.size == 0:
        raise ValueError(
            f"record {patient!r} has no beats after the first {train_minutes} minutes; "
            "the shipped MIT-BIH excerpts are 5 minutes long, use the full records "
            "(data_dir=find_shared_data('mitdb'))"
        )
    if common_records is None:
        others = np.unique(record_ids[~own])
        common_records = [r for r in others if r.isdigit() and 100 <= int(r) <= 124]
    pool = np.flatnonzero(np.isin(record_ids, [str(r) for r in common_records]) & ~own)
    rng = check_random_state(random_state)
    common = [
        rng.choice(members, size=min(n_common_per_class, members.size), replace=False)
        for cls in AAMI_CLASSES
        if (members := pool[y[pool] == cls]).size
    ]
    train_idx = np.sort(np.concatenate([own_train, *common]))
    return train_idx, test_idx

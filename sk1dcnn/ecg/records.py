"""Reading WFDB (MIT-BIH) records and their annotations as plain arrays.

``wfdb`` is an optional dependency (``pip install sk1dcnn[ecg]``), imported only
when a record is read (:func:`import_wfdb`).
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = ["MITDB_FS", "ECGRecord", "import_wfdb", "load_wfdb_record", "wfdb_record_base"]

#: Sampling rate of the MIT-BIH Arrhythmia Database, in Hz.
MITDB_FS = 360.0


def import_wfdb():
    """Import the optional ``wfdb`` package, or say how to install it.

    Returns
    -------
    wfdb : module

    Raises
    ------
    ImportError
        If ``wfdb`` is not installed; the message gives the pip command.
    """
    try:
        import wfdb
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Reading WFDB (MIT-BIH) records needs the optional package 'wfdb': "
            "pip install sk1dcnn[ecg]"
        ) from exc
    return wfdb


#: The 0.1 name of :func:`import_wfdb`: ``sk1dcnn.datasets._import_wfdb`` resolves here (sk1dcnn._compat).
_import_wfdb = import_wfdb


def wfdb_record_base(path):
    """The record's path without extension (``100.hea``, ``100.dat`` or ``100`` -> ``100``).

    Parameters
    ----------
    path : str or path-like
        Record path, with or without a ``.hea``, ``.dat`` or ``.atr`` suffix.

    Returns
    -------
    base : pathlib.Path
        The path without the suffix.

    Raises
    ------
    FileNotFoundError
        Naming the header when ``<base>.hea`` is missing.
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
        with all annotation symbols (beats and non-beats; see
        :func:`sk1dcnn.ecg.labels.to_aami`).
    """
    wfdb = import_wfdb()
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

"""Reading WFDB (MIT-BIH) records and their annotations as plain arrays.

``wfdb`` is an optional dependency (``pip install sk1dcnn[ecg]``), imported only
when a record is read (:func:`import_wfdb`).
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = [
    "MITDB_FS",
    "MITDB_RECORDS",
    "PACED_RECORDS",
    "ECGRecord",
    "import_wfdb",
    "lead_indices",
    "list_records",
    "load_wfdb_record",
    "wfdb_record_base",
]

#: Sampling rate of the MIT-BIH Arrhythmia Database, in Hz.
MITDB_FS = 360.0

#: The 48 records of the MIT-BIH Arrhythmia Database.
MITDB_RECORDS = tuple(
    str(r)
    for r in (
        100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 111, 112, 113, 114, 115, 116,
        117, 118, 119, 121, 122, 123, 124, 200, 201, 202, 203, 205, 207, 208, 209, 210,
        212, 213, 214, 215, 217, 219, 220, 221, 222, 223, 228, 230, 231, 232, 233, 234,
    )
)

#: Records with paced beats. ANSI/AAMI EC57 leaves them out of the reported
#: results, and both MIT-BIH protocols (inter-patient and patient-specific) do.
PACED_RECORDS = ("102", "104", "107", "217")


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


def lead_indices(channel_names, lead="MLII", *, record=None):
    """Positions of the leads named by ``lead`` in a record's ``channel_names``.

    The MIT-BIH records do not all have MLII first (102 and 104 have V5, V2;
    114 has V5, MLII), so leads are picked by the name in the header.

    Parameters
    ----------
    channel_names : sequence of str
        The record's lead names in signal order, e.g. ``("MLII", "V1")``.
    lead : str, sequence of str or "all", default="MLII"
        A lead name, several names (channels in that order), or ``"all"``:
        every lead, with MLII first when the record has it (so channel 0 is
        MLII and channel 1 the record's other lead, whatever its name).
    record : str, default=None
        Record name for the error message.

    Returns
    -------
    indices : list of int

    Raises
    ------
    ValueError
        If a named lead is not in the record; the message lists its leads.
    """
    names = [str(c) for c in channel_names]
    if isinstance(lead, str) and lead == "all":
        first = [names.index("MLII")] if "MLII" in names else []
        return first + [i for i in range(len(names)) if i not in first]
    wanted = [lead] if isinstance(lead, str) else list(lead)
    if not wanted:
        raise ValueError("lead must name at least one lead")
    missing = [w for w in wanted if w not in names]
    if missing:
        where = f"record {record!r}" if record is not None else "the record"
        raise ValueError(f"lead {missing[0]!r} not in {where}, whose leads are {tuple(names)}")
    return [names.index(w) for w in wanted]


def list_records(data_dir, *, paced=False):
    """Names of the WFDB records (``<name>.hea`` with ``.dat`` and ``.atr``) in a folder, sorted.

    Parameters
    ----------
    data_dir : str or path-like
        The folder, e.g. ``sk1dcnn.datasets.find_shared_data("mitdb")``.
    paced : bool, default=False
        Include the paced MIT-BIH records (:data:`PACED_RECORDS`). EC57 leaves
        them out.

    Returns
    -------
    records : list of str
        Numeric names in numeric order, then the others alphabetically.
    """
    folder = Path(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"record folder not found: {folder}")
    names = [
        p.stem
        for p in folder.glob("*.hea")
        if p.with_suffix(".dat").is_file() and p.with_suffix(".atr").is_file()
    ]
    if not paced:
        names = [n for n in names if n not in PACED_RECORDS]
    return sorted(names, key=lambda n: (not n.isdigit(), int(n) if n.isdigit() else 0, n))

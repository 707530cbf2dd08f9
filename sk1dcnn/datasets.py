"""Where data lives (shipped with the package or in a data folder) and the UCR archive loader.

* :func:`shipped_data_dir` is the data shipped inside the package (``sk1dcnn/data``),
  :func:`find_shared_data` a full data folder (``$SK1DCNN_DATA``) when there is one.
* :func:`load_ucr` reads UCR archive tsv files: one series per line, first column
  the class label. ECG200 and ECGFiveDays ship inside the package.

The domain loaders build on these: MIT-BIH records in :mod:`sk1dcnn.ecg`, the Free
Spoken Digit Dataset in :mod:`sk1dcnn.audio`. Nothing here downloads anything.
See ``sk1dcnn/data/SOURCE.md`` for the origin, licences and citations.
"""

import os
from pathlib import Path

import numpy as np

__all__ = ["find_shared_data", "load_ucr", "shipped_data_dir"]

_DATA_ENV = "SK1DCNN_DATA"
_PACKAGE_DATA = Path(__file__).resolve().parent / "data"


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
    """Locate the full data folder (more data than ships with the package), or return None.

    The folder is taken from the environment variable ``SK1DCNN_DATA`` if it
    is set, else from the development checkout's data folder, found relative
    to this file. Set ``SK1DCNN_DATA`` to point sk1dcnn at your own copies.

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
    >>> from sk1dcnn.ecg import load_mitdb_beats
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
          package (ECG200, ECGFiveDays) and in the full data folder
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


def __getattr__(name):
    # Names that moved to sk1dcnn.ecg in 0.2 (sk1dcnn._compat).
    from ._compat import resolve_moved

    return resolve_moved(__name__, name)

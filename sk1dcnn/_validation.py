"""Input checks shared by the estimators: shapes of signals and per-block parameters."""

import collections
import numbers

import numpy as np
import scipy.sparse as sp

__all__ = ["per_block", "check_same_length", "check_signal_ndim", "to_channels_last"]


def per_block(value, n_blocks, name):
    """Expand an int (broadcast) or a sequence of length ``n_blocks`` into a tuple."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        values = (int(value),) * n_blocks
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise ValueError(
                f"{name} must be an int or a sequence with one int per conv block, got {value!r}."
            ) from None
        if len(values) != n_blocks:
            raise ValueError(
                f"{name}={value!r} has {len(values)} entries but filters defines "
                f"{n_blocks} conv block(s); give one int or {n_blocks} ints."
            )
    for v in values:
        if (not isinstance(v, numbers.Integral)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} entries must be positive integers, got {value!r}.")
    return tuple(int(v) for v in values)


def _lengths_seen(lengths, unit):
    """``80 (2 signals) and 96 (1 signal)``, or a range when there are many."""
    counts = sorted(collections.Counter(lengths).items())
    if len(counts) > 5:
        return f"from {counts[0][0]} to {counts[-1][0]} {unit} ({len(counts)} different ones)"
    parts = [f"{value} ({n} signal{'s' if n > 1 else ''})" for value, n in counts]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def check_same_length(X):
    """Refuse a ragged list (or object array) of signals, naming the lengths seen.

    NumPy would say "inhomogeneous shape"; this says what to do. Regular
    arrays pass untouched (nothing is converted here).

    Raises
    ------
    ValueError
        The signals (or the channels of one signal) differ in length, or the
        signals differ in their number of channels.
    """
    if sp.issparse(X) or isinstance(X, (str, bytes)):
        return X
    if isinstance(X, np.ndarray) and X.dtype != object:
        return X
    if not isinstance(X, (list, tuple, np.ndarray)) or len(X) == 0:
        return X
    shapes = []
    for i, x in enumerate(X):
        try:
            shapes.append(np.shape(x))
        except ValueError:  # the channels of this signal differ in length
            lengths = [len(c) if hasattr(c, "__len__") else 1 for c in x]
            raise ValueError(
                f"All channels of a signal must have the same length; signal {i} has channels "
                f"of lengths {lengths}. Crop or pad them to one length first "
                "(sk1dcnn.signal.crop_or_pad)."
            ) from None
    if len(set(shapes)) <= 1:
        if isinstance(X, np.ndarray) and X.ndim == 1 and len(shapes[0]) >= 1:
            return np.stack(list(X))  # an object array of equal-length signals
        return X
    ndims = {len(shape) for shape in shapes}
    if ndims == {1}:
        lengths = [shape[0] for shape in shapes]
    elif ndims == {2} and len({shape[0] for shape in shapes}) > 1:
        raise ValueError(
            "All signals must have the same number of channels; got channel counts "
            f"{_lengths_seen([shape[0] for shape in shapes], 'channels')}."
        )
    elif ndims == {2}:
        lengths = [shape[1] for shape in shapes]
    else:
        raise ValueError(
            "All signals must have the same shape: (n_timepoints,) each for 2D X or "
            f"(n_channels, n_timepoints) each for 3D X; got signals of shapes "
            f"{sorted(set(shapes))[:5]}."
        )
    raise ValueError(
        f"All signals must have the same length; got lengths {_lengths_seen(lengths, 'timepoints')}. "
        "Crop or pad them to one length first (sk1dcnn.signal.crop_or_pad)."
    )


def check_signal_ndim(X):
    """Reject 1D, >3D and ragged input before scikit-learn's generic checks, naming the layouts."""
    if sp.issparse(X):
        return X
    X = check_same_length(X)
    ndim = getattr(X, "ndim", None)
    if ndim is None:
        try:
            ndim = np.asarray(X, dtype=object).ndim if not isinstance(X, (str, bytes)) else 0
        except ValueError:
            return X  # mixed nesting: let check_array produce its message
    if ndim is not None and ndim > 3:
        raise ValueError(
            f"X must be 2D (n_samples, n_timepoints) or 3D (n_samples, n_channels, "
            f"n_timepoints); got a {ndim}D array of shape {np.shape(X)}."
        )
    return X


def to_channels_last(X, dtype):
    """(N, T) or (N, C, T) -> contiguous (N, T, C) in ``dtype`` (the engine's layout)."""
    with np.errstate(over="ignore"):  # values beyond float32: the error below says so
        if X.ndim == 2:
            out = np.ascontiguousarray(X[:, :, None], dtype=dtype)
        else:
            out = np.ascontiguousarray(np.transpose(X, (0, 2, 1)), dtype=dtype)
    if out.dtype.itemsize < X.dtype.itemsize and not np.isfinite(out).all():
        raise ValueError(
            f"X has values beyond the range of {out.dtype.name} (largest magnitude "
            f"{np.abs(X).max():g}); rescale X or use dtype='float64'."
        )
    return out

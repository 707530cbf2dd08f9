"""Input checks shared by the estimators: shapes of signals and per-block parameters."""

import numbers

import numpy as np
import scipy.sparse as sp

__all__ = ["per_block", "check_signal_ndim", "to_channels_last"]


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


def check_signal_ndim(X):
    """Reject 1D and >3D input before scikit-learn's generic checks, naming the layouts."""
    if sp.issparse(X):
        return X
    ndim = getattr(X, "ndim", None)
    if ndim is None:
        try:
            ndim = np.asarray(X, dtype=object).ndim if not isinstance(X, (str, bytes)) else 0
        except ValueError:
            return X  # ragged: let check_array produce its message
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

"""Static (per-example) features carried inside X, beside the signal.

Scikit-learn passes one array through ``Pipeline``, ``GridSearchCV``,
``clone``, pickle and skops, so an estimator with ``n_static_features=k`` reads
its ``k`` static features (e.g. the RR intervals of a heartbeat) from the last
``k`` columns of X:

* 2-D X ``(n_samples, n_timepoints + k)``: the signal, then the features;
* 3-D X ``(n_samples, n_channels, n_timepoints + k)``: the features are the
  last ``k`` timepoints of channel 0; those timepoints of the other channels
  are ignored (:func:`join_static` writes zeros there).

The network convolves the signal only and joins the features to the vector
after the convolution stack (after the global pooling or Flatten), before the
dense head. :func:`join_static` builds such arrays, :func:`split_static`
takes them apart.
"""

import numpy as np

__all__ = ["join_static", "split_static"]


def join_static(signals, features):
    """One array holding signals and static features, as ``n_static_features`` estimators read it.

    Parameters
    ----------
    signals : array-like of shape (n_samples, n_timepoints) or (n_samples, n_channels, n_timepoints)
    features : array-like of shape (n_samples, n_static_features) or (n_samples,)

    Returns
    -------
    X : ndarray of shape (n_samples, n_timepoints + k) or (n_samples, n_channels, n_timepoints + k)
        For 3-D signals the features fill the last ``k`` timepoints of channel
        0 and zeros those of the other channels.

    Examples
    --------
    >>> import numpy as np
    >>> X = join_static(np.zeros((2, 3)), [[1.0, 2.0], [3.0, 4.0]])
    >>> X.tolist()
    [[0.0, 0.0, 0.0, 1.0, 2.0], [0.0, 0.0, 0.0, 3.0, 4.0]]
    >>> [a.shape for a in split_static(X, 2)]
    [(2, 3), (2, 2)]
    """
    S = np.asarray(signals)
    F = np.asarray(features)
    if F.ndim == 1:
        F = F[:, None]
    if S.ndim not in (2, 3):
        raise ValueError(
            f"signals must be 2-D (n_samples, n_timepoints) or 3-D (n_samples, n_channels, "
            f"n_timepoints), got shape {S.shape}"
        )
    if F.ndim != 2:
        raise ValueError(f"features must be 1-D or 2-D (n_samples, n_static_features), got shape {F.shape}")
    if F.shape[0] != S.shape[0]:
        raise ValueError(
            f"signals and features differ in n_samples: {S.shape[0]} vs {F.shape[0]}"
        )
    dtype = np.result_type(S.dtype, F.dtype, np.float32)
    if S.ndim == 2:
        return np.concatenate([S.astype(dtype, copy=False), F.astype(dtype, copy=False)], axis=1)
    n, C, T = S.shape
    X = np.zeros((n, C, T + F.shape[1]), dtype=dtype)
    X[:, :, :T] = S
    X[:, 0, T:] = F
    return X


def split_static(X, n_static_features):
    """Signals and static features of an array built as :func:`join_static` builds it.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_columns) or (n_samples, n_channels, n_columns)
    n_static_features : int
        Number of trailing columns that are static features (0 for none).

    Returns
    -------
    signals : ndarray of shape (n_samples, n_columns - k) or (n_samples, n_channels, n_columns - k)
    features : ndarray of shape (n_samples, k)
        From channel 0 for 3-D X. Both are views of ``X`` when it is an ndarray.
    """
    X = np.asarray(X)
    k = n_static_features
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"n_static_features must be a non-negative integer, got {k!r}")
    if X.ndim not in (2, 3):
        raise ValueError(f"X must be 2-D or 3-D, got shape {X.shape}")
    n_columns = X.shape[-1]
    if k >= n_columns:
        raise ValueError(
            f"n_static_features={k} must be less than the number of columns of X "
            f"({n_columns}): X holds the signal's timepoints, then the {k} static features"
        )
    T = n_columns - k
    if X.ndim == 2:
        return X[:, :T], X[:, T:]
    return X[:, :, :T], X[:, 0, T:]

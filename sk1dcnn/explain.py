"""Which timepoints a fitted network's prediction rests on.

:func:`relevance` returns one number per timepoint of each signal, for a fitted
:class:`~sk1dcnn.CNN1DClassifier` or :class:`~sk1dcnn.CNN1DRegressor` (or a
``Pipeline`` ending in one):

- ``"gradient"``: input-gradient saliency (Simonyan et al. 2014), the derivative
  of the target's output with respect to each input value;
- ``"gradient*input"``: that gradient times the input (Shrikumar et al. 2017);
- ``"gradcam"``: a class activation map from the last convolutional feature
  map (Grad-CAM, Selvaraju et al. 2017), interpolated back to the input length.

The pass runs in predict mode (dropout off, BatchNormalization on its running
statistics) on a copy of the network whose layers run their plain forward and
backward passes (``Sequential(fuse=False)``), so the fitted estimator is never
touched.
"""

import copy
import numbers

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._architecture import predict_chunk_size
from ._validation import to_channels_last
from .estimators import CNN1DRegressor, _BaseCNN1D

__all__ = ["relevance"]

METHODS = ("gradient", "gradient*input", "gradcam")
CHANNELS = ("sum", "each")


def relevance(estimator, X, target=None, method="gradient", *, channels="sum"):
    """Per-timepoint relevance of a fitted 1D CNN's prediction.

    Parameters
    ----------
    estimator : fitted CNN1DClassifier, CNN1DRegressor, or Pipeline ending in one
        For a ``Pipeline``, ``X`` goes through every step but the last
        (``pipe[:-1].transform``) and the relevance is that of the last step's
        input: the preprocessed signals, whose length may differ from ``X``'s
        (e.g. after resampling).
    X : array-like of shape (n_samples, n_timepoints) or (n_samples, n_channels, n_timepoints)
        Signals, as given to ``predict``.
    target : None, label, or array-like of shape (n_samples,), default=None
        What is explained: the network's raw output (before softmax or sigmoid)
        for this target.

        - Classifier: a class label (one for all samples, or one per sample).
          ``None`` explains the predicted class; for multilabel targets, the
          label with the largest output. A binary classifier has one output
          ``z`` (the logit of ``classes_[1]``): ``classes_[1]`` is explained by
          ``z`` and ``classes_[0]`` by ``-z``.
        - Regressor: an output index; ``None`` is output 0 (the only output
          of a regressor fitted on 1D ``y``).
    method : {"gradient", "gradient*input", "gradcam"}, default="gradient"
        ``"gradient"``: d output / d input, signed (take ``np.abs`` for a
        magnitude). ``"gradient*input"``: the same times the input, also signed.
        ``"gradcam"``: ReLU of the last convolutional feature map (the one that
        enters Flatten or global pooling) weighted by the time-averaged gradient
        of each of its channels, >= 0; each of its steps is placed at the centre
        of the span of input it stands for (``n_timepoints / its length``
        timepoints) and linearly interpolated between them. With
        ``n_static_features``, the map spans the signal's timepoints and the
        static columns at the end get 0 (Grad-CAM does not score them).
    channels : {"sum", "each"}, default="sum"
        Multichannel signals (3D ``X``): ``"sum"`` adds the gradient methods'
        relevance over channels, ``"each"`` keeps one row per channel. The
        Grad-CAM map has no channel axis and accepts only ``"sum"``.

    Returns
    -------
    ndarray of shape (n_samples, n_timepoints), float64
        With ``channels="each"``: shape (n_samples, n_channels, n_timepoints)
        (n_channels is 1 for 2D ``X``).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    ValueError
        For an unknown ``method`` or ``channels``, ``X`` of the wrong shape, a
        target that is not a class (or output) of the estimator, or a
        multi-output regressor without ``target``.

    Examples
    --------
    >>> import numpy as np
    >>> from sk1dcnn import CNN1DClassifier, relevance
    >>> X = np.random.default_rng(0).normal(size=(20, 32))
    >>> y = (X[:, 10] > 0).astype(int)
    >>> clf = CNN1DClassifier(filters=(4,), max_iter=2, random_state=0).fit(X, y)
    >>> relevance(clf, X[:3]).shape
    (3, 32)
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {list(METHODS)}.")
    if channels not in CHANNELS:
        raise ValueError(f"channels={channels!r} is not one of {list(CHANNELS)}.")
    if method == "gradcam" and channels != "sum":
        raise ValueError("method='gradcam' gives one map per signal, with no channel axis: "
                         "use channels='sum'.")
    if isinstance(estimator, Pipeline):
        check_is_fitted(estimator)
        X = estimator[:-1].transform(X)
        estimator = estimator[-1]
    if not isinstance(estimator, _BaseCNN1D):
        raise TypeError(
            f"relevance() explains a CNN1DClassifier or CNN1DRegressor (or a Pipeline ending "
            f"in one), not {type(estimator).__name__}.")
    check_is_fitted(estimator)
    X = _check_signals(estimator, X)
    name = type(estimator).__name__
    Xv = estimator._check_X_predict(X)
    # the network sees the scaled input (input_scaling); gradients are carried back to X
    Xs = estimator._scale_input(Xv, getattr(estimator, "_input_stats_", None))
    Xc = to_channels_last(Xs, estimator._dtype())
    Xraw = to_channels_last(Xv, np.float64)
    net = _plain_copy(estimator.network_)
    split = _last_sequence_layer(net, name) + 1 if method == "gradcam" else None
    weights = _output_weights(estimator, Xv, net, target)

    chunk = predict_chunk_size(net, Xc.dtype.itemsize)
    out = []
    for start in range(0, Xc.shape[0], chunk):
        Xb, Wb = Xc[start:start + chunk], weights[start:start + chunk]
        if method == "gradcam":
            out.append(_gradcam(net, split, Xb, Wb, getattr(estimator, "n_static_features", 0) or 0))
            continue
        raw = Xraw[start:start + chunk]
        dX = _through_scaling(estimator, raw, _gradient(net, Xb, Wb, times_input=False))
        out.append(dX * raw if method == "gradient*input" else dX)
    R = np.concatenate(out, axis=0) if out else np.empty((0,) + Xc.shape[1:])
    if method == "gradcam":
        return R
    R = np.transpose(R, (0, 2, 1))  # (n, T, C) -> (n, C, T)
    return R.sum(axis=1) if channels == "sum" else R


def _check_signals(estimator, X):
    """X as an array whose per-sample shape is the fitted one (2D or 3D)."""
    if not hasattr(X, "ndim"):
        X = np.asarray(X)
    C, T = estimator.n_channels_in_, estimator.n_timepoints_in_
    expected = f"(n_samples, {T})" if C == 1 else f"(n_samples, {C}, {T})"
    if X.ndim not in (2, 3):
        raise ValueError(f"relevance() needs X of shape {expected}; got a {X.ndim}D array of "
                         f"shape {X.shape}.")
    per_sample = (1,) + X.shape[1:] if X.ndim == 2 else X.shape[1:]
    if tuple(per_sample) != (C, T):
        raise ValueError(f"relevance() needs X of shape {expected}, as {type(estimator).__name__} "
                         f"was fitted on; got shape {X.shape}.")
    return X


def _plain_copy(network):
    """A copy of the fitted network that runs its plain layers (caches in predict mode)."""
    net = copy.deepcopy(network)  # Sequential's __getstate__ drops buffers and caches
    net.fuse = False
    return net


def _last_sequence_layer(net, name):
    """Index of the last layer whose output still has a time axis."""
    for i in range(len(net.layers) - 1, -1, -1):
        if len(net.layers[i].output_shape) == 2:
            if i == len(net.layers) - 1:
                break
            return i
    raise ValueError(f"method='gradcam' needs a convolutional feature map that enters Flatten or "
                     f"global pooling; this {name}'s network has none.")


def _output_weights(estimator, X, net, target):
    """(n, n_outputs) weights: the explained score of sample i is W[i] @ z_i."""
    n = X.shape[0]
    n_out = net.output_shape[0]
    W = np.zeros((n, n_out))
    if isinstance(estimator, CNN1DRegressor):
        if target is None:
            if n_out > 1:
                raise ValueError(f"This CNN1DRegressor has {n_out} outputs: give target= the index "
                                 f"of the output to explain (0 to {n_out - 1}).")
            target = 0
        idx = np.broadcast_to(np.asarray(target), (n,))
        if not all(isinstance(t, numbers.Integral) and 0 <= t < n_out for t in idx.tolist()):
            raise ValueError(f"target must be an output index from 0 to {n_out - 1} for this "
                             f"CNN1DRegressor; got {target!r}.")
        W[np.arange(n), idx.astype(int)] = 1.0
        return W
    classes = estimator.classes_
    binary = n_out == 1 and not estimator._multilabel  # one logit, of classes_[1]
    if target is None:  # the predicted class, from predict's own pass
        Z = estimator._raw_forward(X)
        if binary:
            W[:, 0] = np.where(Z[:, 0] > 0, 1.0, -1.0)
        else:
            W[np.arange(n), np.argmax(Z, axis=1)] = 1.0
        return W
    labels = np.asarray(target, dtype=object)
    if labels.ndim > 1 or (labels.ndim == 1 and labels.shape[0] != n):
        raise ValueError(f"target must be one class label or one per sample ({n}); got shape "
                         f"{labels.shape}.")
    labels = np.broadcast_to(labels, (n,))
    lookup = {c: k for k, c in enumerate(classes.tolist())}
    unknown = sorted({repr(t.item() if isinstance(t, np.generic) else t)
                      for t in labels.tolist() if t not in lookup})
    if unknown:
        raise ValueError(f"target {', '.join(unknown)} is not a class of this "
                         f"{type(estimator).__name__}; classes_ is {classes.tolist()}.")
    k = np.array([lookup[t] for t in labels.tolist()], dtype=int)
    if binary:
        W[:, 0] = np.where(k == 1, 1.0, -1.0)
    else:
        W[np.arange(n), k] = 1.0
    return W


def _gradient(net, Xb, Wb, times_input):
    net.forward(Xb, training=False)
    dX = net.backward(Wb.astype(Xb.dtype), need_dX=True).astype(np.float64)
    return dX * Xb if times_input else dX


def _through_scaling(estimator, raw, dX):
    """The gradient ``dX`` (n, T, C) of the scaled input carried back to the raw input.

    'global' divides each channel by a constant; 'per_series' standardises each
    series, whose backward pass is ``(g - mean(g) - z * mean(g * z)) / std``
    (means over time). Static feature columns are not scaled and keep ``dX``.
    """
    scaling = getattr(estimator, "input_scaling", None)
    if scaling is None:
        return dX
    k = getattr(estimator, "n_static_features", 0)
    T = raw.shape[1] - k
    g, x = dX[:, :T, :], raw[:, :T, :]
    if scaling == "global":
        mean, std = (np.asarray(a, dtype=np.float64) for a in estimator._input_stats_)
        mean, std = mean[None, None, :], std[None, None, :]
    else:
        mean, std = x.mean(axis=1, keepdims=True), x.std(axis=1, keepdims=True)
    # the same guard as the estimator's scaling: a flat channel is centred, not divided
    divided = std > 1e-12 * np.maximum(1.0, np.abs(mean))
    std = np.where(divided, std, 1.0)
    if scaling == "per_series":
        z = (x - mean) / std
        centred = g - g.mean(axis=1, keepdims=True)
        g = np.where(divided, (centred - z * (g * z).mean(axis=1, keepdims=True)) / std, centred)
    else:
        g = g / std
    return np.concatenate([g, dX[:, T:, :]], axis=1)


def _gradcam(net, split, Xb, Wb, n_static=0):
    """Grad-CAM of one chunk; with ``n_static`` static columns (SplitStatic first) the map covers
    the signal's timepoints and the static columns get 0 (the map does not score them)."""
    # the whole network's forward pass up to the feature map: it also links a JoinStatic in
    # the head to the SplitStatic that keeps this chunk's static features
    A = net.forward(Xb, training=False, upto=split)        # (n, L', F)
    Z = A
    for layer in net.layers[split:]:
        Z = layer.forward(Z, training=False)
    dA = Wb.astype(Xb.dtype)
    for layer in reversed(net.layers[split:]):
        dA = layer.backward(dA, need_dX=True)
    alpha = dA.astype(np.float64).mean(axis=1)            # (n, F): one weight per channel
    cam = np.maximum(np.einsum("nlf,nf->nl", A.astype(np.float64), alpha), 0.0)
    T, L = Xb.shape[1] - n_static, A.shape[1]
    if L == 1:
        cam = np.repeat(cam, T, axis=1)
    else:
        centres = (np.arange(L) + 0.5) * (T / L) - 0.5
        cam = np.stack([np.interp(np.arange(T), centres, row) for row in cam])
    return np.pad(cam, ((0, 0), (0, n_static)))

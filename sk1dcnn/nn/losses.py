"""Losses on the network's raw outputs (logits), each with its canonical output.

``LOSS_FUNCTIONS[name](Z, Y, w) -> (loss, dZ)`` where ``Z`` (N, K) are the raw
outputs of the last Dense layer, ``Y`` (N, K) the encoded targets and ``w`` (N,)
sample weights that sum to one over the batch. Losses are computed from the
logits (log-sum-exp, ``log1p(exp(-|z|))``), never from probabilities, so they
stay finite for any logit. With the canonical link the gradient is simply
``w * (out(Z) - Y)`` for softmax/cross-entropy, sigmoid/binary cross-entropy and
identity/squared error.

``OUT_ACTIVATIONS[name](Z)`` maps logits to what ``predict_proba`` (classifier)
or ``predict`` (regressor) returns.

Target encodings: cross-entropies and the squared errors on probabilities
(``softmax_squared_error``, ``sigmoid_squared_error``: the classifier's
``loss='squared_error'``) take one-hot / {0, 1} indicators; the exponential and
hinge losses take {-1, 1} (one column per class, one-vs-rest). Keyword
arguments (the exponential loss's ``beta``) reach a loss through
``functools.partial``.
"""

import numpy as np
from scipy.special import expit, log_softmax, softmax

__all__ = ["LOSS_FUNCTIONS", "OUT_ACTIVATIONS", "TARGET_ENCODING", "LOSS_ALIASES"]


def _wsum(per_sample, w):
    return float(per_sample @ w)


def categorical_crossentropy(Z, Y, w):
    """Softmax cross-entropy, multiclass (one-hot ``Y``)."""
    logp = log_softmax(Z, axis=1)
    loss = _wsum(-(Y * logp).sum(axis=1), w)
    dZ = np.exp(logp)
    dZ -= Y
    dZ *= w[:, None]
    return loss, dZ


def binary_crossentropy(Z, Y, w):
    """Sigmoid cross-entropy summed over outputs (binary and multilabel)."""
    per = np.maximum(Z, 0) - Z * Y + np.log1p(np.exp(-np.abs(Z)))
    loss = _wsum(per.sum(axis=1), w)
    dZ = expit(Z)
    dZ -= Y
    dZ *= w[:, None]
    return loss, dZ


def squared_error(Z, Y, w):
    """Half mean squared error over outputs (scikit-learn's ``squared_error``)."""
    diff = Z - Y
    K = Z.shape[1]
    loss = _wsum(0.5 * (diff * diff).sum(axis=1) / K, w)
    dZ = diff * (w[:, None] / K)
    return loss, dZ


def softmax_squared_error(Z, Y, w):
    """Half mean squared error between the softmax probabilities and one-hot ``Y``.

    ``0.5 * sum_k (p_k - y_k)**2 / K`` per sample: half the Brier score over K.
    Gradient ``dL/dz_j = p_j * (d_j - sum_k d_k p_k) / K`` with ``d = p - y``
    (the softmax Jacobian ``p_j (delta_jk - p_k)`` applied to ``d``).
    """
    K = Z.shape[1]
    P = softmax(Z, axis=1)
    D = P - Y
    loss = _wsum(0.5 * (D * D).sum(axis=1) / K, w)
    dZ = P * (D - (D * P).sum(axis=1, keepdims=True))
    dZ *= w[:, None] / K
    return loss, dZ


def sigmoid_squared_error(Z, Y, w):
    """Half mean squared error between sigmoid probabilities and {0, 1} ``Y`` (binary,
    multilabel): ``0.5 * sum_k (p_k - y_k)**2 / K``, gradient ``(p - y) p (1 - p) / K``."""
    K = Z.shape[1]
    P = expit(Z)
    D = P - Y
    loss = _wsum(0.5 * (D * D).sum(axis=1) / K, w)
    dZ = D * P * (1 - P) * (w[:, None] / K)
    return loss, dZ


def exponential(Z, Y, w, beta=1.0):
    """Exponential loss ``exp(-beta y z)``, y in {-1, 1}, mean over outputs.

    ``beta=1`` is AdaBoost's loss. The 1D-CNN literature writes it
    ``sum exp(-beta * y^T y_hat)``; per output (one-vs-rest) it is the same
    margin loss. Its minimiser is ``z = log(p / (1 - p)) / (2 beta)``.
    """
    K = Z.shape[1]
    # clip the margin so a wildly wrong logit gives a large finite loss, not inf
    margin = -Y * Z if beta == 1.0 else -beta * Y * Z
    e = np.exp(np.minimum(margin, 50.0))
    loss = _wsum(e.sum(axis=1) / K, w)
    dZ = (-Y if beta == 1.0 else -beta * Y) * e * (w[:, None] / K)
    return loss, dZ


def hinge(Z, Y, w):
    """Hinge loss ``max(0, 1 - y z)``, y in {-1, 1}, mean over outputs."""
    K = Z.shape[1]
    margin = 1 - Y * Z
    active = margin > 0
    loss = _wsum(np.where(active, margin, 0).sum(axis=1) / K, w)
    dZ = np.where(active, -Y, 0) * (w[:, None] / K)
    return loss, dZ


LOSS_FUNCTIONS = {
    "categorical_crossentropy": categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
    "squared_error": squared_error,
    "exponential": exponential,
    "hinge": hinge,
    "softmax_squared_error": softmax_squared_error,
    "sigmoid_squared_error": sigmoid_squared_error,
}


def _half_sigmoid(Z):
    # the exponential loss is minimised by f = log(p / (1 - p)) / 2 (beta = 1; the
    # classifier scales Z by beta first)
    return expit(2 * Z)


OUT_ACTIVATIONS = {
    "categorical_crossentropy": lambda Z: softmax(Z, axis=1),
    "binary_crossentropy": expit,
    "squared_error": lambda Z: Z,
    "exponential": _half_sigmoid,
    "hinge": lambda Z: Z,
    "softmax_squared_error": lambda Z: softmax(Z, axis=1),
    "sigmoid_squared_error": expit,
}

#: How a loss wants its class targets encoded: 0/1 indicators or -1/+1 signs.
TARGET_ENCODING = {
    "categorical_crossentropy": "indicator",
    "binary_crossentropy": "indicator",
    "squared_error": "indicator",
    "exponential": "sign",
    "hinge": "sign",
    "softmax_squared_error": "indicator",
    "sigmoid_squared_error": "indicator",
}

#: Names accepted by the estimators' ``loss`` parameter -> engine loss.
#: ``log_loss`` resolves to categorical or binary cross-entropy from the target.
LOSS_ALIASES = {
    "mean_squared_error": "squared_error",
    "mse": "squared_error",
}

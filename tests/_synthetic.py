"""Synthetic signals whose class sits in a known window (the relevance tests' ground truth)."""

import numpy as np


def bump_signals(peaks, n=120, T=64, seed=0, height=2.0, width=2.0, noise=0.5):
    """Noise signals; class ``c`` of ``peaks`` adds a Gaussian bump centred at timepoint ``peaks[c]``.

    Labels are ``arange(n) % (len(peaks) + 1)``: class 0 is noise only, classes
    1, 2, ... carry the bumps, in the order of ``peaks``' keys.

    Returns
    -------
    X : ndarray of shape (n, T)
    y : ndarray of shape (n,)
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n) % (len(peaks) + 1)
    t = np.arange(T)
    X = rng.normal(scale=noise, size=(n, T))
    for c, peak in peaks.items():
        X = X + height * (y == c)[:, None] * np.exp(-0.5 * ((t - peak) / width) ** 2)
    return X, y

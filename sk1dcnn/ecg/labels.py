"""AAMI EC57 heartbeat classes and the map from MIT-BIH beat symbols to them."""

import numpy as np

__all__ = ["AAMI_CLASSES", "AAMI_MAPPING", "to_aami"]

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

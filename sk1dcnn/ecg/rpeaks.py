"""R-peak detection in a single ECG lead (Pan-Tompkins style) and its scoring against annotations."""

import numpy as np
from scipy import ndimage
from scipy.signal import find_peaks

from ..signal import butter_sos, filtfilt
from .labels import to_aami

__all__ = ["detect_r_peaks", "evaluate_r_peaks"]


def detect_r_peaks(
    x,
    fs,
    *,
    band=(5.0, 15.0),
    integration_window=0.150,
    refractory=0.200,
    threshold=0.15,
    search_window=0.050,
):
    """Detect R peaks in a single-lead ECG, Pan-Tompkins style.

    Steps: zero-phase band-pass (``band``, 5-15 Hz), derivative, squaring,
    moving-window integration (150 ms), then ``scipy.signal.find_peaks`` on the
    integrated signal with a refractory distance (200 ms) and an adaptive
    height threshold; each peak is finally moved to the largest
    ``|band-passed signal|`` within ``search_window`` (±50 ms).

    The threshold adapts to amplitude changes and resists artefacts: the
    integrated signal's maximum is taken in 2 s blocks, a running median over
    7 blocks (14 s) of those maxima gives the local QRS level, and peaks must
    exceed ``threshold`` times that level (linearly interpolated in time).

    Parameters
    ----------
    x : ndarray of shape (n_samples,)
        ECG lead (e.g. MIT-BIH MLII in mV). A (1, n_samples) array is accepted.
    fs : float
        Sampling rate in Hz.
    band : (float, float), default=(5.0, 15.0)
        Band-pass cut-offs in Hz.
    integration_window : float, default=0.150
        Moving-window integration length in seconds.
    refractory : float, default=0.200
        Minimum distance between detections in seconds.
    threshold : float, default=0.15
        Fraction of the local QRS level a peak must exceed.
    search_window : float, default=0.050
        Half-width in seconds of the refinement window.

    Returns
    -------
    peaks : ndarray of int64
        Sorted sample indices of the detected R peaks.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 1:
        raise ValueError(f"x must be one ECG lead of shape (n_samples,), got shape {x.shape}")
    sos = butter_sos(band[0], band[1], fs, 2)
    filtered = filtfilt(x, sos, "detect_r_peaks")
    energy = (np.gradient(filtered) * fs) ** 2
    width = max(1, int(round(integration_window * fs)))
    # Centred window, so the integrated peak is not delayed w.r.t. the QRS.
    mwi = ndimage.uniform_filter1d(energy, size=width, mode="nearest")

    n = mwi.size
    block = max(1, int(round(2.0 * fs)))
    n_blocks = -(-n // block)
    padded = np.pad(mwi, (0, n_blocks * block - n), mode="edge")
    block_max = padded.reshape(n_blocks, block).max(axis=1)
    level = ndimage.median_filter(block_max, size=min(7, n_blocks), mode="nearest")
    centres = (np.arange(n_blocks) + 0.5) * block
    height = threshold * np.interp(np.arange(n), centres, level)

    distance = max(1, int(round(refractory * fs)))
    peaks, _ = find_peaks(mwi, height=height, distance=distance)
    if peaks.size == 0:
        return peaks.astype(np.int64)

    half = int(round(search_window * fs))
    offsets = np.arange(-half, half + 1)
    idx = np.clip(peaks[:, None] + offsets[None, :], 0, n - 1)
    refined = idx[np.arange(peaks.size), np.argmax(np.abs(filtered[idx]), axis=1)]
    return np.unique(refined).astype(np.int64)


def _match_once(det, ref, tol):
    """Nearest-neighbour matches ref -> det within tol, one-to-one by distance."""
    if det.size == 0 or ref.size == 0:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    pos = np.searchsorted(det, ref)
    left = np.clip(pos - 1, 0, det.size - 1)
    right = np.clip(pos, 0, det.size - 1)
    use_right = np.abs(det[right] - ref) < np.abs(det[left] - ref)
    nearest = np.where(use_right, right, left)
    dist = np.abs(det[nearest] - ref)
    ok = np.flatnonzero(dist <= tol)
    # Closest pairs first; a detection claimed by several references goes to the closest.
    ok = ok[np.argsort(dist[ok], kind="stable")]
    _, first = np.unique(nearest[ok], return_index=True)
    ri = ok[first]
    return ri, nearest[ri]


def evaluate_r_peaks(detected, reference, fs, tolerance=0.150, reference_symbols=None):
    """Score R-peak detections against reference beat annotations.

    Each reference beat is matched to at most one detection, and each
    detection to at most one beat, if they are within ``tolerance`` seconds
    (closest pairs first; unmatched leftovers get further rounds).

    Parameters
    ----------
    detected : array-like of int
        Detected sample indices.
    reference : array-like of int
        Reference annotation sample indices.
    fs : float
        Sampling rate in Hz.
    tolerance : float, default=0.150
        Matching window in seconds (150 ms, as in ANSI/AAMI EC57).
    reference_symbols : array-like of str or None, default=None
        Annotation symbols of ``reference``. When given, only beats (symbols
        with an AAMI class, see :func:`sk1dcnn.ecg.labels.to_aami`) are counted;
        rhythm and noise annotations are ignored.

    Returns
    -------
    scores : dict
        ``sensitivity`` = tp / (tp + fn), ``positive_predictivity`` =
        tp / (tp + fp) (NaN when the denominator is 0), and the counts
        ``tp``, ``fp``, ``fn``.
    """
    det = np.unique(np.asarray(detected, dtype=np.int64))
    ref = np.asarray(reference, dtype=np.int64)
    if reference_symbols is not None:
        symbols = np.asarray(reference_symbols, dtype=str)
        if symbols.shape != ref.shape:
            raise ValueError(
                f"reference and reference_symbols differ in length: {ref.shape} vs {symbols.shape}"
            )
        ref = ref[to_aami(symbols) != ""]
    ref = np.sort(ref)
    tol = tolerance * fs

    free_ref = np.ones(ref.size, bool)
    free_det = np.ones(det.size, bool)
    tp = 0
    while True:
        r_idx, d_idx = np.flatnonzero(free_ref), np.flatnonzero(free_det)
        ri, di = _match_once(det[d_idx], ref[r_idx], tol)
        if ri.size == 0:
            break
        free_ref[r_idx[ri]] = False
        free_det[d_idx[di]] = False
        tp += ri.size
    fn = int(ref.size - tp)
    fp = int(det.size - tp)
    se = tp / (tp + fn) if tp + fn else float("nan")
    ppv = tp / (tp + fp) if tp + fp else float("nan")
    return {"sensitivity": se, "positive_predictivity": ppv, "tp": int(tp), "fp": fp, "fn": fn}

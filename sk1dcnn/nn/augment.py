"""Label-preserving data augmentation: pure ``f(X, rng, strength) -> X_new``.

Applied per batch during ``fit`` only, on channels-last batches ``(N, L, C)``.
Each draw is per sample, so a batch is augmented in one vectorized pass.
"""

import numpy as np

__all__ = ["AUGMENTATIONS", "DEFAULT_AUGMENT", "resolve_augment", "apply_augment"]


def time_shift(X, rng, max_shift):
    """Shift each signal by a random number of steps in ``[-m, m]``, zero-filled.

    ``max_shift < 1`` is a fraction of the length (``m = round(max_shift * L)``);
    ``max_shift >= 1`` is a number of steps.
    """
    N, L, _ = X.shape
    m = int(round(max_shift * L)) if max_shift < 1 else int(max_shift)
    if m == 0:
        return X
    shifts = rng.integers(-m, m + 1, size=N)
    src = np.arange(L)[None, :] - shifts[:, None]  # output t reads input t - shift
    valid = (src >= 0) & (src < L)
    out = np.take_along_axis(X, np.clip(src, 0, L - 1)[:, :, None], axis=1)
    out *= valid[:, :, None]
    return out


def amplitude_scale(X, rng, sigma):
    """Multiply each signal by a factor drawn from N(1, sigma^2)."""
    factors = rng.normal(1.0, sigma, size=(X.shape[0], 1, 1)).astype(X.dtype)
    return X * factors


def gaussian_noise(X, rng, sigma):
    """Add white noise of standard deviation ``sigma`` times each signal's own std."""
    scale = X.std(axis=(1, 2), keepdims=True) * X.dtype.type(sigma)
    return X + rng.standard_normal(X.shape, dtype=np.float32).astype(X.dtype, copy=False) * scale


AUGMENTATIONS = {"time_shift": time_shift, "amplitude_scale": amplitude_scale, "noise": gaussian_noise}

#: What ``augment=True`` means: shifts up to 10% of the length, 10% amplitude
#: jitter, noise at 5% of the signal's std.
DEFAULT_AUGMENT = {"time_shift": 0.1, "amplitude_scale": 0.1, "noise": 0.05}


def resolve_augment(augment):
    """Validate the estimator's ``augment`` parameter into a dict (possibly empty)."""
    if augment is None or augment is False:
        return {}
    if augment is True:
        return dict(DEFAULT_AUGMENT)
    if isinstance(augment, dict):
        unknown = sorted(set(augment) - set(AUGMENTATIONS))
        if unknown:
            raise ValueError(
                f"augment has unknown key(s) {unknown}; allowed keys are {sorted(AUGMENTATIONS)}."
            )
        for k, v in augment.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v) or v < 0:
                raise ValueError(f"augment[{k!r}] must be a non-negative number, got {v!r}.")
        return {k: float(v) for k, v in augment.items() if v > 0}
    raise ValueError(
        f"augment must be None, True or a dict with keys {sorted(AUGMENTATIONS)}, got {augment!r}."
    )


def apply_augment(X, rng, augment):
    """Apply the augmentations of the dict ``augment`` (as :func:`resolve_augment`
    returns it) to the batch ``X``, always in the same order, drawing from ``rng``."""
    for name in ("time_shift", "amplitude_scale", "noise"):
        if name in augment:
            X = AUGMENTATIONS[name](X, rng, augment[name])
    return X

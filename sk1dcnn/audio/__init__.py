"""Audio: the Free Spoken Digit Dataset, a multi-label mixture task built from it, and audio front ends.

Modules
-------
fsdd
    The FSDD WAV clips as train and test arrays (``FSDD_FS``, ``FSDD_SPEAKERS``,
    ``fsdd_dir``, ``load_fsdd``).
mixtures
    Pairs of clips of different digits and speakers mixed and tagged with both:
    a real multi-label task for sigmoid outputs (``make_fsdd_mixtures``).
features
    Mel scale, mel filterbank and the transformers ``LogMelSpectrogram``,
    ``ClipStandardScaler`` and ``AmplitudeNormalizer``.

Nothing is downloaded: the 270 shipped clips are in ``sk1dcnn/data/fsdd`` (see its
``SOURCE.md``). The generic transformers (``SeriesStandardScaler``, ``CropOrPad``,
...) are in :mod:`sk1dcnn.preprocessing`.
"""

import warnings

from .._compat import REMOVAL
from ..signal import crop_or_pad
from .features import AmplitudeNormalizer, ClipStandardScaler, LogMelSpectrogram, hz_to_mel, mel_filterbank, mel_to_hz
from .fsdd import FSDD_FS, FSDD_SPEAKERS, fsdd_dir, load_fsdd
from .mixtures import make_fsdd_mixtures

__all__ = [
    "FSDD_FS",
    "FSDD_SPEAKERS",
    "AmplitudeNormalizer",
    "ClipStandardScaler",
    "LogMelSpectrogram",
    "fsdd_dir",
    "hz_to_mel",
    "load_fsdd",
    "make_fsdd_mixtures",
    "mel_filterbank",
    "mel_to_hz",
]


def fit_length(x, length, mode="center", rng=None):
    """Crop or zero-pad a 1-D signal to ``length`` samples (deprecated).

    .. deprecated:: 0.2
        Use :func:`sk1dcnn.signal.crop_or_pad`; ``fit_length`` goes in sk1dcnn 0.3.

    Parameters
    ----------
    x : ndarray of shape (n,)
    length : int
    mode : {'center', 'left', 'random'}, default='center'
        As in :func:`sk1dcnn.signal.crop_or_pad`, except that 'random' pads a
        shorter signal evenly at both ends (as 'center'), as it did in 0.1.
    rng : numpy.random.Generator or None
        Draws the offset of a random crop.

    Returns
    -------
    ndarray of shape (length,)
    """
    warnings.warn(
        f"sk1dcnn.audio.fit_length is deprecated and goes in sk1dcnn {REMOVAL}; "
        "use sk1dcnn.signal.crop_or_pad(x, length, mode, rng) instead.",
        DeprecationWarning, stacklevel=2)
    if mode == "random" and x.shape[-1] < length:
        mode = "center"
    return crop_or_pad(x, length, mode=mode, rng=rng)

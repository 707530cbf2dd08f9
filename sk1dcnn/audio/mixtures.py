"""A multi-label tagging task built from FSDD: pairs of clips mixed, tagged with both digits and speakers."""

import numpy as np
from sklearn.utils import check_random_state

from ..signal import crop_or_pad

__all__ = ["make_fsdd_mixtures"]


def _rms(x):
    r = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return r if r > 0 else 1.0


def make_fsdd_mixtures(X, y, speaker, *, n_mixtures=None, length=None, gain_db=6.0,
                       speaker_tags=True, random_state=None):
    """Mix pairs of clips (different digits, different speakers) into a tagging task.

    Each mixture is ``a * x1 + b * x2``: two clips drawn at random such that
    their digits differ and their speakers differ, each scaled to unit RMS,
    the second attenuated or boosted by a gain uniform in ``[-gain_db, gain_db]``
    dB, each placed at a random offset inside ``length`` samples (cropped at
    random if longer), and the sum scaled to a peak of 0.9.

    Parameters
    ----------
    X : array of shape (n_clips, n_timepoints), or 1-D object array / list of 1-D clips
    y : array-like of shape (n_clips,)
        Digits 0-9.
    speaker : array-like of shape (n_clips,)
        Speaker names.
    n_mixtures : int or None, default=None
        None makes ``len(X)`` mixtures.
    length : int or None, default=None
        Samples per mixture; None is ``X.shape[1]`` for 2-D X, else the longest clip.
    gain_db : float, default=6.0
    speaker_tags : bool, default=True
        Add one tag per speaker after the ten digit tags.
    random_state : int, RandomState instance or None

    Returns
    -------
    X_mix : ndarray of shape (n_mixtures, length), float32
    Y : ndarray of shape (n_mixtures, n_tags), int
        Multilabel indicator: columns ``digit_0 .. digit_9`` then
        ``speaker_<name>`` (sorted names), two digit tags and two speaker
        tags per row.
    tags : list of str
        Column names of ``Y``.
    """
    rs = check_random_state(random_state)
    rng = np.random.default_rng(rs.randint(np.iinfo(np.int32).max))
    clips = [np.asarray(x, dtype=np.float64).ravel() for x in X]
    y = np.asarray(y).astype(int)
    speaker = np.asarray(speaker)
    if not (len(clips) == len(y) == len(speaker)):
        raise ValueError(f"X, y and speaker differ in length: {len(clips)}, {len(y)}, {len(speaker)}.")
    names = sorted(set(speaker.tolist()))
    if len(set(y.tolist())) < 2 or len(names) < 2:
        raise ValueError("mixtures need clips of at least 2 digits and 2 speakers.")
    if length is None:
        length = np.shape(X)[1] if getattr(X, "ndim", 1) == 2 else max(len(c) for c in clips)
    n = len(clips) if n_mixtures is None else int(n_mixtures)
    tags = [f"digit_{d}" for d in range(10)] + ([f"speaker_{s}" for s in names] if speaker_tags else [])
    spk_col = {s: 10 + i for i, s in enumerate(names)}
    X_mix = np.zeros((n, length), dtype=np.float32)
    Y = np.zeros((n, len(tags)), dtype=int)
    for k in range(n):
        i = int(rng.integers(len(clips)))
        ok = np.flatnonzero((y != y[i]) & (speaker != speaker[i]))
        if ok.size == 0:
            raise ValueError(f"clip {i} has no partner of another digit and another speaker.")
        j = int(ok[rng.integers(ok.size)])
        gain = 10.0 ** (rng.uniform(-gain_db, gain_db) / 20.0)
        mix = np.zeros(length)
        for idx, g in ((i, 1.0), (j, gain)):
            x = clips[idx]
            # cropped at a random offset if longer, placed at a random offset if shorter
            mix += crop_or_pad(x / _rms(x) * g, length, mode="random", rng=rng)
            Y[k, y[idx]] = 1
            if speaker_tags:
                Y[k, spk_col[speaker[idx]]] = 1
        peak = np.abs(mix).max()
        X_mix[k] = mix * (0.9 / peak) if peak > 0 else mix
    return X_mix, Y, tags

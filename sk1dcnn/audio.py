"""Spoken-digit audio: the Free Spoken Digit Dataset and a multi-label task built from it.

* :func:`load_fsdd` reads the FSDD WAV files (8 kHz, mono, int16) with
  ``scipy.io.wavfile``: from a folder given by the user, else the team's shared
  folder (``find_shared_data("fsdd", "recordings")``, 3000 clips), else the 90
  clips shipped in ``sk1dcnn/data/fsdd/recordings`` (3 speakers x 10 digits x
  takes 0, 5, 6). The official split puts takes 0-4 of every speaker and digit
  in the test set; ``split="speaker"`` holds out one speaker.
* :func:`make_fsdd_mixtures` mixes pairs of clips of different digits spoken by
  different speakers, tagged with both digits and both speakers: a real
  multi-label tagging task for sigmoid outputs and binary cross-entropy.

Nothing is downloaded. The recordings are CC BY-SA 4.0 (Z. Jackson et al.,
FSDD v1.0.10); see ``sk1dcnn/data/fsdd/SOURCE.md``.
"""

import re
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from sklearn.utils import Bunch, check_random_state

from .datasets import find_shared_data, shipped_data_dir

__all__ = ["FSDD_FS", "FSDD_SPEAKERS", "fit_length", "fsdd_dir", "load_fsdd", "make_fsdd_mixtures"]

#: Sampling rate of every FSDD recording, in Hz.
FSDD_FS = 8000

#: The six speakers of FSDD v1.0.10.
FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")

_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


def fsdd_dir(data_dir=None):
    """The recordings folder: ``data_dir``, else the shared folder, else the shipped fixture.

    Parameters
    ----------
    data_dir : str, path, 'shared', 'shipped' or None
        None picks the shared folder when it exists, else the shipped clips.

    Returns
    -------
    path : pathlib.Path
    """
    if data_dir is None:
        return find_shared_data("fsdd", "recordings") or shipped_data_dir("fsdd", "recordings")
    if data_dir == "shipped":
        return shipped_data_dir("fsdd", "recordings")
    if data_dir == "shared":
        path = find_shared_data("fsdd", "recordings")
        if path is None:
            raise FileNotFoundError(
                "data_dir='shared' but the shared FSDD folder (<data>/fsdd/recordings) does not "
                "exist; set SK1DCNN_DATA or pass the recordings folder"
            )
        return path
    path = Path(data_dir)
    if (path / "recordings").is_dir():
        path = path / "recordings"
    if not path.is_dir():
        raise FileNotFoundError(f"FSDD folder {str(path)!r} does not exist")
    return path


def fit_length(x, length, mode="center", rng=None):
    """Crop or zero-pad a 1-D signal to ``length`` samples.

    Parameters
    ----------
    x : ndarray of shape (n,)
    length : int
    mode : {'center', 'left', 'random'}, default='center'
        Which part of a longer signal is kept: the middle, the start, or a
        random window (``rng``, a ``numpy.random.Generator``, draws the
        offset). A shorter signal is padded at the end ('left') or evenly
        at both ends (otherwise).
    rng : numpy.random.Generator or None

    Returns
    -------
    ndarray of shape (length,)
    """
    n = x.shape[-1]
    if n >= length:
        extra = n - length
        start = {"center": extra // 2, "left": 0}.get(mode)
        if start is None:
            start = int(rng.integers(extra + 1))
        return x[start:start + length]
    out = np.zeros(length, dtype=x.dtype)
    start = 0 if mode == "left" else (length - n) // 2
    out[start:start + n] = x
    return out


def _read(path, dtype):
    fs, x = wavfile.read(path)
    if fs != FSDD_FS:
        raise ValueError(f"{path.name}: sampling rate {fs} Hz, expected {FSDD_FS} Hz (FSDD)")
    if x.ndim != 1:
        x = x.mean(axis=1)
    if x.dtype == np.int16:
        x = x / 32768.0
    return np.asarray(x, dtype=dtype)


def _stack(clips, length, dtype):
    if length is None:
        out = np.empty(len(clips), dtype=object)
        out[:] = clips
        return out
    out = np.zeros((len(clips), length), dtype=dtype)
    for i, x in enumerate(clips):
        out[i] = fit_length(x, length)
    return out


def load_fsdd(data_dir=None, *, split="official", test_speaker=None, length=None, digits=None,
              speakers=None, dtype=np.float32):
    """Load the Free Spoken Digit Dataset as train and test sets.

    Parameters
    ----------
    data_dir : str, path, 'shared', 'shipped' or None, default=None
        Folder of ``{digit}_{speaker}_{take}.wav`` files (or its parent). None
        uses the team's shared folder when present, else the 90 clips shipped
        with sk1dcnn.
    split : {'official', 'speaker'}, default='official'
        'official': takes 0-4 of every speaker and digit are the test set (the
        FSDD README's split). 'speaker': every clip of ``test_speaker`` is the
        test set, the other speakers' clips the training set.
    test_speaker : str or None
        Required with ``split='speaker'``.
    length : int or None, default=None
        Centre-crop or zero-pad every clip to ``length`` samples and return
        2-D arrays ``(n_clips, length)``. None returns 1-D object arrays of
        clips of their own lengths.
    digits, speakers : sequence or None
        Keep only these digits (ints) or speakers (names).
    dtype : dtype, default=np.float32
        Samples are int16 / 32768, in [-1, 1).

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X_train, X_test``; ``y_train, y_test`` (digits, int);
        ``speaker_train, speaker_test``, ``take_train, take_test``,
        ``file_train, file_test`` (arrays of str / int); ``fs`` (8000);
        ``data_dir`` (the folder read).

    Examples
    --------
    >>> data = load_fsdd(length=6561)  # doctest: +SKIP
    >>> data.X_train.shape  # doctest: +SKIP
    (2700, 6561)
    """
    if split not in ("official", "speaker"):
        raise ValueError(f"split must be 'official' or 'speaker', got {split!r}.")
    folder = fsdd_dir(data_dir)
    rows = []
    for path in sorted(folder.iterdir()):
        m = _NAME.match(path.name)
        if m is None:
            continue
        digit, speaker, take = int(m.group(1)), m.group(2), int(m.group(3))
        if digits is not None and digit not in digits:
            continue
        if speakers is not None and speaker not in speakers:
            continue
        rows.append((digit, speaker, take, path))
    if not rows:
        raise FileNotFoundError(f"no FSDD clips ({{digit}}_{{speaker}}_{{take}}.wav) in {str(folder)!r}")
    rows.sort(key=lambda r: (r[1], r[0], r[2]))
    speaker = np.array([r[1] for r in rows])
    if split == "official":
        test = np.array([r[2] < 5 for r in rows])
    else:
        if test_speaker not in set(speaker):
            raise ValueError(
                f"split='speaker' needs test_speaker, one of {sorted(set(speaker))}; "
                f"got {test_speaker!r}."
            )
        test = speaker == test_speaker
    clips = [_read(r[3], dtype) for r in rows]
    out = Bunch(fs=FSDD_FS, data_dir=str(folder))
    for part, mask in (("train", ~test), ("test", test)):
        idx = np.flatnonzero(mask)
        out[f"X_{part}"] = _stack([clips[i] for i in idx], length, dtype)
        out[f"y_{part}"] = np.array([rows[i][0] for i in idx], dtype=int)
        out[f"speaker_{part}"] = speaker[idx]
        out[f"take_{part}"] = np.array([rows[i][2] for i in idx], dtype=int)
        out[f"file_{part}"] = np.array([rows[i][3].name for i in idx])
    return out


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
            x = x / _rms(x) * g
            if len(x) >= length:
                mix += fit_length(x, length, mode="random", rng=rng)
            else:
                start = int(rng.integers(length - len(x) + 1))
                mix[start:start + len(x)] += x
            Y[k, y[idx]] = 1
            if speaker_tags:
                Y[k, spk_col[speaker[idx]]] = 1
        peak = np.abs(mix).max()
        X_mix[k] = mix * (0.9 / peak) if peak > 0 else mix
    return X_mix, Y, tags

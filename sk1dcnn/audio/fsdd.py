"""The Free Spoken Digit Dataset (FSDD): its WAV clips as train and test arrays.

:func:`load_fsdd` reads the FSDD WAV files (8 kHz, mono, int16) with
``scipy.io.wavfile``: from a folder given by the user, else the full data folder
(``find_shared_data("fsdd", "recordings")``, 3000 clips), else the 270 clips
shipped in ``sk1dcnn/data/fsdd/recordings`` (3 speakers x 10 digits x takes 0-2
and 5-10). The official split puts takes 0-4 of every speaker and digit in the test set;
``split="speaker"`` holds out one speaker.

Nothing is downloaded. The recordings are CC BY-SA 4.0 (Z. Jackson et al.,
FSDD v1.0.10); see ``sk1dcnn/data/fsdd/SOURCE.md``.
"""

import re
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from sklearn.utils import Bunch

from ..datasets import find_shared_data, shipped_data_dir
from ..signal import crop_or_pad

__all__ = ["FSDD_FS", "FSDD_SPEAKERS", "fsdd_dir", "load_fsdd"]

#: Sampling rate of every FSDD recording, in Hz.
FSDD_FS = 8000

#: The six speakers of FSDD v1.0.10.
FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")

_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


def fsdd_dir(data_dir=None):
    """The recordings folder: ``data_dir``, else the full data folder, else the shipped clips.

    Parameters
    ----------
    data_dir : str, path, 'shared', 'shipped' or None
        A folder of clips (or its parent holding ``recordings/``); 'shared' the
        full data folder's ``fsdd/recordings`` (:func:`sk1dcnn.datasets.find_shared_data`,
        an error when it is missing); 'shipped' the 270 clips shipped with sk1dcnn;
        None 'shared' when it exists, else 'shipped'.

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
        out[i] = crop_or_pad(x, length)
    return out


def load_fsdd(data_dir=None, *, split="official", test_speaker=None, length=None, digits=None,
              speakers=None, dtype=np.float32):
    """Load the Free Spoken Digit Dataset as train and test sets.

    Parameters
    ----------
    data_dir : str, path, 'shared', 'shipped' or None, default=None
        Folder of ``{digit}_{speaker}_{take}.wav`` files (or its parent). None
        uses the full data folder when present, else the 270 clips shipped
        with sk1dcnn (see :func:`fsdd_dir`).
    split : {'official', 'speaker'}, default='official'
        'official': takes 0-4 of every speaker and digit are the test set (the
        FSDD README's split). 'speaker': every clip of ``test_speaker`` is the
        test set, the other speakers' clips the training set.
    test_speaker : str or None
        Required with ``split='speaker'``.
    length : int or None, default=None
        Centre-crop or zero-pad every clip to ``length`` samples
        (:func:`sk1dcnn.signal.crop_or_pad`) and return
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

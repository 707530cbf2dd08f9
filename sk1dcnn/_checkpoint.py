"""Training checkpoints: what ``checkpoint_path`` writes after every epoch and reads on resume.

A checkpoint is a pickled dict ``{"fingerprint", "net", "state", "rng"}``:
the network, the :class:`~sk1dcnn._training.TrainingState` (optimizer,
counters, history) and the random generator after the last completed epoch.
It is resumed only by a fit of the same data and parameters, which the
fingerprint stands for.
"""

import numbers
import os
import pickle
import warnings

import joblib

from ._io import atomic_write

__all__ = ["fingerprint", "read_checkpoint", "write_checkpoint"]

#: Parameters that do not change what a fit computes, so a checkpoint stays valid across them.
IGNORED_PARAMS = ("verbose", "warm_start", "checkpoint_path", "n_threads")


def fingerprint(params, Xc, Y, sample_weight):
    """What a checkpoint must match to be resumed: the data and the parameters.

    Parameters
    ----------
    params : dict
        The estimator's parameters (``est.get_params()``).
    Xc, Y, sample_weight : ndarray
        The training data as the training loop sees it, before the validation split.

    Returns
    -------
    str
    """
    kept = {k: v for k, v in params.items() if k not in IGNORED_PARAMS}
    return joblib.hash((Xc, Y, sample_weight, repr(sorted(kept.items(), key=str))))


def read_checkpoint(path, expected_fingerprint, *, early_stopping, random_state, verbose):
    """The checkpoint at ``path`` if it can be resumed, else None (with a warning why).

    Parameters
    ----------
    path : str or path-like
    expected_fingerprint : str
        :func:`fingerprint` of the fit about to run.
    early_stopping : bool
    random_state : int, RandomState instance or None
        With ``early_stopping`` only an int reproduces the validation split.
    verbose : bool
        Say where training resumes.

    Returns
    -------
    dict or None
    """
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        ckpt = pickle.load(f)
    if early_stopping and not isinstance(random_state, numbers.Integral):
        warnings.warn(
            f"Not resuming from {os.fspath(path)!r}: with early_stopping the validation "
            "split is only reproducible with an int random_state; starting a new fit.",
            UserWarning)
        return None
    if ckpt.get("fingerprint") != expected_fingerprint:
        warnings.warn(
            f"Checkpoint {os.fspath(path)!r} was written for other data or parameters; "
            "starting a new fit (it will be overwritten).", UserWarning)
        return None
    if verbose:
        print(f"Resuming from {os.fspath(path)!r} after epoch {ckpt['state'].epoch_of_fit}")
    return ckpt


def write_checkpoint(path, payload):
    """Pickle ``payload`` to ``path`` atomically: a kill or a failed dump keeps the last
    good checkpoint."""
    atomic_write(path, lambda f: pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL))

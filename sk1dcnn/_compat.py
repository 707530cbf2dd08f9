"""Where moved names went: the alias table behind the old import paths.

sk1dcnn 0.2 split the flat package into ``sk1dcnn.nn`` (the engine), the domain
packages ``sk1dcnn.ecg`` and ``sk1dcnn.audio``, and a few generic modules. Code,
pickles, joblib files and skops files written against 0.1 name the old paths
(``sk1dcnn.layers.Conv1D``). They keep working for one release: each old path
resolves through this table to the same class or function, with a
``DeprecationWarning`` that names the new path. sk1dcnn 0.3 removes the aliases;
a model saved with 0.1 should then be refitted, or loaded once with 0.2 and saved
again (``sk1dcnn.persistence.dump``), which records the new paths.

This module imports nothing from sk1dcnn at import time (it is a leaf).
"""

import importlib
import warnings

__all__ = ["MOVED_MODULES", "MOVED_NAMES", "REMOVAL", "legacy_names", "resolve_moved"]

#: the release that drops the aliases
REMOVAL = "0.3"

#: whole modules that moved: old module path -> new module path
MOVED_MODULES = {
    "sk1dcnn.activations": "sk1dcnn.nn.activations",
    "sk1dcnn.augment": "sk1dcnn.nn.augment",
    "sk1dcnn.blocks": "sk1dcnn.nn.blocks",
    "sk1dcnn.initializers": "sk1dcnn.nn.initializers",
    "sk1dcnn.layers": "sk1dcnn.nn.layers",
    "sk1dcnn.losses": "sk1dcnn.nn.losses",
    "sk1dcnn.network": "sk1dcnn.nn.network",
    "sk1dcnn.ops": "sk1dcnn.nn.ops",
    "sk1dcnn.optim": "sk1dcnn.nn.optim",
    "sk1dcnn.schedules": "sk1dcnn.nn.schedules",
}

_ECG = "sk1dcnn.ecg"
_AUDIO_FEATURES = "sk1dcnn.audio.features"

#: single names that left a module that still exists:
#: old module path -> {name: new module path (where the object is defined)}
MOVED_NAMES = {
    "sk1dcnn.datasets": {
        "AAMI_CLASSES": f"{_ECG}.labels",
        "AAMI_MAPPING": f"{_ECG}.labels",
        "to_aami": f"{_ECG}.labels",
        "MITDB_FS": f"{_ECG}.records",
        "ECGRecord": f"{_ECG}.records",
        "load_wfdb_record": f"{_ECG}.records",
        "wfdb_record_base": f"{_ECG}.records",
        "_import_wfdb": f"{_ECG}.records",
        "extract_beats": f"{_ECG}.beats",
        "load_mitdb_beats": f"{_ECG}.beats",
        "INTER_PATIENT_TEST": f"{_ECG}.splits",
        "INTER_PATIENT_TRAIN": f"{_ECG}.splits",
        "patient_specific_split": f"{_ECG}.splits",
    },
    "sk1dcnn.preprocessing": {
        "resample_signal": "sk1dcnn.signal",
        "sliding_windows": "sk1dcnn.signal",
        "detect_r_peaks": f"{_ECG}.rpeaks",
        "evaluate_r_peaks": f"{_ECG}.rpeaks",
        "AmplitudeNormalizer": _AUDIO_FEATURES,
        "LogMelSpectrogram": _AUDIO_FEATURES,
        "hz_to_mel": _AUDIO_FEATURES,
        "mel_filterbank": _AUDIO_FEATURES,
        "mel_to_hz": _AUDIO_FEATURES,
    },
}


_MISSING = object()


def resolve_moved(old_module, name):
    """The object that ``old_module.name`` now is, with a DeprecationWarning.

    Raises AttributeError (as a module does) for a name that never moved.
    """
    new_module = MOVED_NAMES.get(old_module, {}).get(name) or MOVED_MODULES.get(old_module)
    if new_module is None:
        raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(new_module), name, _MISSING)
    if value is _MISSING:
        raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
    warnings.warn(
        f"{old_module}.{name} moved to {new_module}.{name}; import it from there "
        f"(the old path goes in sk1dcnn {REMOVAL}).",
        DeprecationWarning, stacklevel=3)
    return value


def legacy_names(new_name):
    """The old dotted paths that resolve to ``new_name`` (e.g. for skops' trusted types).

    ``legacy_names("sk1dcnn.nn.layers.Conv1D") == ["sk1dcnn.layers.Conv1D"]``.
    """
    module, _, name = new_name.rpartition(".")
    old = [f"{o}.{name}" for o, n in MOVED_MODULES.items() if n == module]
    old += [f"{o}.{name}" for o, names in MOVED_NAMES.items() if names.get(name) == module]
    return sorted(old)

"""Safe persistence of fitted estimators with :mod:`skops.io`.

A fitted :class:`~sk1dcnn.CNN1DClassifier` / :class:`~sk1dcnn.CNN1DRegressor`
holds NumPy arrays, builtins (lists, dicts, floats, strings), a NumPy random
``Generator`` (trusted by skops) and a handful of sk1dcnn's own classes: the
network, its layers and blocks, the optimizer and the training state. Pickle
and joblib round-trip all of it, but loading a pickle runs whatever code the
file names. ``skops.io`` instead rebuilds only the types it is told to trust,
so a model file from someone else cannot run ``os.system`` on load.

:data:`TRUSTED_TYPES` is that list, found by walking real fitted estimators
(every layer, block, optimizer, ``early_stopping`` and ``partial_fit`` state;
see ``tests/test_persistence.py``, which fails if a type is missing or
superfluous) with ``skops.io.get_untrusted_types(data=skops.io.dumps(est))``.
:func:`dump` and :func:`load` use it; :func:`load` refuses a file holding any
other type and names the types it found::

    from sk1dcnn.persistence import dump, load
    dump(clf, "model.skops")
    clf = load("model.skops")

For MLflow 3, which saves scikit-learn models with skops and refuses unknown
types when loading them, pass the same list (after :func:`check_trusted`,
which refuses before anything is written an object that could not be loaded
back)::

    check_trusted(pipe)
    mlflow.sklearn.log_model(pipe, name="model", serialization_format="skops",
                             skops_trusted_types=get_trusted_types())

This list is the only trust rule of sk1dcnn: the pipelines' MLflow logging
(``pipelines._tracking``) uses :func:`get_trusted_types` too.
"""

import os
import pathlib
import zipfile

from ._compat import legacy_names
from ._io import atomic_write

__all__ = [
    "ESTIMATOR_TYPES",
    "PREPROCESSING_TYPES",
    "STDLIB_TYPES",
    "TRUSTED_TYPES",
    "UntrustedTypesError",
    "check_trusted",
    "get_trusted_types",
    "dump",
    "load",
]

#: sk1dcnn classes inside a fitted estimator that skops does not trust by default.
ESTIMATOR_TYPES = (
    "sk1dcnn.estimators.CNN1DClassifier",
    "sk1dcnn.estimators.CNN1DRegressor",
    # meta-estimators: an ensemble of seeds, decision offsets tuned by cross-validation
    "sk1dcnn.model_selection.SeedEnsembleClassifier",
    "sk1dcnn.model_selection.TunedOffsetsClassifierCV",
    "sk1dcnn.model_selection.BlendClassifier",
    # the network and its layers (sk1dcnn.nn.layers.LAYERS)
    "sk1dcnn.nn.network.Sequential",
    "sk1dcnn.nn.layers.Activation",
    "sk1dcnn.nn.layers.AveragePooling1D",
    "sk1dcnn.nn.layers.Conv1D",
    "sk1dcnn.nn.layers.Dense",
    "sk1dcnn.nn.layers.Dropout",
    "sk1dcnn.nn.layers.Flatten",
    "sk1dcnn.nn.layers.GlobalAveragePooling1D",
    "sk1dcnn.nn.layers.GlobalMaxPooling1D",
    "sk1dcnn.nn.layers.MaxPooling1D",
    # the blocks (sk1dcnn.nn.blocks.BLOCKS), used by the presets
    "sk1dcnn.nn.blocks.BatchNormalization",
    "sk1dcnn.nn.blocks.ReSEBlock",
    "sk1dcnn.nn.blocks.ResidualBlock",
    "sk1dcnn.nn.blocks.SqueezeExcitation",
    # the blocks made of small networks (sk1dcnn.nn.network), used by the resnet and
    # inception_time presets
    "sk1dcnn.nn.network.Concatenate",
    "sk1dcnn.nn.network.InceptionModule",
    "sk1dcnn.nn.network.Residual",
    # static features split off the input and joined after the convolutions
    "sk1dcnn.nn.static.JoinStatic",
    "sk1dcnn.nn.static.SplitStatic",
    # what survives between warm_start fits and partial_fit calls
    "sk1dcnn._training.TrainingState",
    "sk1dcnn.nn.optim.AdamOptimizer",
    "sk1dcnn.nn.optim.SGDOptimizer",
)

#: The (stateless) transformers of :mod:`sk1dcnn.preprocessing` and
#: :mod:`sk1dcnn.audio.features`, which the pipelines put in front of the network.
PREPROCESSING_TYPES = (
    "sk1dcnn.audio.features.AmplitudeNormalizer",
    "sk1dcnn.audio.features.ClipStandardScaler",
    "sk1dcnn.audio.features.LogMelSpectrogram",
    "sk1dcnn.preprocessing.BandpassFilter",
    "sk1dcnn.preprocessing.CropOrPad",
    "sk1dcnn.preprocessing.Resampler",
    "sk1dcnn.preprocessing.SeriesStandardScaler",
)

#: Standard-library types a fitted estimator may hold that skops does not trust
#: by default: ``checkpoint_path`` given as a ``pathlib.Path``. (The estimator's
#: ``numpy.random.Generator`` and its bit generator are trusted by skops.)
STDLIB_TYPES = ("pathlib.PosixPath", "pathlib.WindowsPath")

#: scikit-learn's own types that skops does not trust by default: the trees of a
#: ``HistGradientBoostingClassifier``, which the ECG workflow blends with the network
#: (``search.static_model``).
SKLEARN_TYPES = ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",)

#: The old paths of the types above (files saved with sk1dcnn 0.1, before the
#: ``sk1dcnn.nn`` layout): aliases of the same classes, see :mod:`sk1dcnn._compat`.
LEGACY_TYPES = tuple(old for new in ESTIMATOR_TYPES + PREPROCESSING_TYPES for old in legacy_names(new))

#: Everything :func:`load` accepts on top of skops' defaults.
TRUSTED_TYPES = tuple(sorted(ESTIMATOR_TYPES + PREPROCESSING_TYPES + STDLIB_TYPES + SKLEARN_TYPES + LEGACY_TYPES))


def get_trusted_types():
    """The types to pass as ``trusted=`` to ``skops.io.load`` (or as MLflow's
    ``skops_trusted_types``) for sk1dcnn estimators and pipelines.

    Returns
    -------
    list of str
        A new list (safe to extend with reviewed types of your own).
    """
    return list(TRUSTED_TYPES)


def _skops():
    try:
        import skops.io as sio
    except ImportError:  # pragma: no cover - skops comes with the mlflow/test extras
        raise ImportError(
            "sk1dcnn.persistence needs skops: pip install skops (or sk1dcnn[mlflow])."
        ) from None
    return sio


try:  # subclass skops' own exception so `except UntrustedTypesFoundException` catches ours
    from skops.io.exceptions import UntrustedTypesFoundException as _Base
except ImportError:  # pragma: no cover
    _Base = TypeError


class UntrustedTypesError(_Base):
    """A model file holds types that sk1dcnn does not trust; nothing was loaded.

    Attributes
    ----------
    types : list of str
        The unexpected types, as skops names them (``module.name``).
    """

    def __init__(self, message, types):
        TypeError.__init__(self, message)
        self.types = list(types)


def _unexpected(untrusted, trusted):
    allowed = set(TRUSTED_TYPES) | set(trusted or ())
    return sorted(set(untrusted) - allowed)


def _dumps_checked(estimator, trusted, compression=zipfile.ZIP_DEFLATED):
    """skops bytes of ``estimator``, or UntrustedTypesError if :func:`load` would refuse them."""
    sio = _skops()
    data = sio.dumps(estimator, compression=compression)
    bad = _unexpected(sio.get_untrusted_types(data=data), trusted)
    if bad:
        raise UntrustedTypesError(
            f"Not saving {type(estimator).__name__}: it holds types that sk1dcnn.persistence.load "
            f"would refuse: {bad}. Pass trusted=[...] to dump and load after reviewing them.", bad)
    return data


def check_trusted(estimator, *, trusted=None):
    """Refuse an object that could not be loaded back with :func:`get_trusted_types`.

    Call it before saving by other means (``mlflow.sklearn.log_model`` with
    ``skops_trusted_types=get_trusted_types()``); :func:`dump` does the same check.

    Parameters
    ----------
    estimator : object
    trusted : list of str, default=None
        Extra types you have reviewed and trust.

    Raises
    ------
    UntrustedTypesError
        ``estimator`` holds types outside :data:`TRUSTED_TYPES` and ``trusted``.
    """
    _dumps_checked(estimator, trusted)


def dump(estimator, path, *, trusted=None, compression=zipfile.ZIP_DEFLATED):
    """Save a (fitted) estimator or pipeline to ``path`` in skops format.

    Refuses, before writing anything, an object that :func:`load` would refuse.

    Parameters
    ----------
    estimator : object
        Typically a fitted ``CNN1DClassifier``/``CNN1DRegressor`` or a
        ``Pipeline`` of scikit-learn and sk1dcnn steps.
    path : str or path-like
        Conventionally ``*.skops``.
    trusted : list of str, default=None
        Extra types you have reviewed and trust, e.g. a transformer of your own.
    compression : int, default=zipfile.ZIP_DEFLATED
        Passed to ``skops.io.dump``.

    Raises
    ------
    UntrustedTypesError
        ``estimator`` holds types outside :data:`TRUSTED_TYPES` and ``trusted``.
    """
    data = _dumps_checked(estimator, trusted, compression)
    atomic_write(path, lambda f: f.write(data))


def load(path, *, trusted=None):
    """Load an estimator saved by :func:`dump` (or ``skops.io.dump``), safely.

    Only skops' default types, :data:`TRUSTED_TYPES` and ``trusted`` are
    rebuilt; a file naming any other type (a tampered or foreign file) is
    refused before any object is created.

    Parameters
    ----------
    path : str or path-like
    trusted : list of str, default=None
        Extra types you have reviewed and trust.

    Returns
    -------
    object

    Raises
    ------
    UntrustedTypesError
        The file holds types outside the trusted ones; the message lists them.
    """
    sio = _skops()
    path = pathlib.Path(path)
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ValueError(f"{os.fspath(path)!r} is not a skops file ({exc}).") from None
    bad = _unexpected(untrusted, trusted)
    if bad:
        raise UntrustedTypesError(
            f"Refusing to load {os.fspath(path)!r}: it contains types that sk1dcnn does not "
            f"trust: {bad}. A model saved by sk1dcnn.persistence.dump holds only "
            f"sk1dcnn's own classes, NumPy and builtins, so this file was made by other code "
            f"or tampered with. Load it only if you trust its source, by passing the "
            f"reviewed types as trusted=[...].", bad)
    # skops checks every node again against exactly this list while loading
    return sio.load(path, trusted=sorted(set(untrusted)))

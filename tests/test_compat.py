"""Models saved before the 0.2 layout load through the alias table of sk1dcnn._compat.

The fixtures were written by sk1dcnn 0.1 at revision 0cf41be
(``tests/fixtures/make_premove_fixtures.py``): a pickle and a skops file whose classes
are named by the old module paths (``sk1dcnn.layers.Conv1D``, ``sk1dcnn.blocks...``).

The deprecation warnings are recorded at their source (``sk1dcnn._compat``'s
``warnings.warn``), not through the process-wide warning filters, which threads
left running by other tests (Dask, MLflow) can swap under ``pytest.warns``.
"""

import importlib
import pickle
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

from sk1dcnn import _compat, persistence
from sk1dcnn.datasets import load_ucr

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def deprecations(monkeypatch):
    """The (message, category) pairs sk1dcnn._compat warns with, in order."""
    seen = []

    def warn(message, category=UserWarning, stacklevel=1):
        seen.append((str(message), category))

    monkeypatch.setattr(_compat, "warnings", types.SimpleNamespace(warn=warn))
    return seen


@pytest.fixture(scope="module")
def X_test():
    return load_ucr("ECG200", split="test")[0][:20]


def test_a_pickle_of_0_1_loads_with_a_deprecation_warning_and_predicts_the_same(
        X_test, deprecations):
    expected = np.load(FIXTURES / "model_0.1.0_premove_expected.npz")
    with open(FIXTURES / "model_0.1.0_premove.pkl", "rb") as f:
        models = pickle.load(f)
    assert ("sk1dcnn.layers.Conv1D moved to sk1dcnn.nn.layers.Conv1D; import it from there "
            "(the old path goes in sk1dcnn 0.3).", DeprecationWarning) in deprecations
    for name in ("default", "blocks"):
        np.testing.assert_allclose(models[name].predict_proba(X_test), expected[name],
                                   rtol=1e-5, atol=1e-6)
    # the loaded model is made of today's classes: saving it again records the new paths
    from sk1dcnn.nn.layers import Conv1D
    assert type(models["default"].network_.layers[0]) is Conv1D
    assert b"sk1dcnn.layers" not in pickle.dumps(models["default"])


def test_a_skops_file_of_0_1_loads_with_the_trusted_list(X_test):
    pytest.importorskip("skops")
    expected = np.load(FIXTURES / "model_0.1.0_premove_expected.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model = persistence.load(FIXTURES / "model_0.1.0_premove.skops")
    np.testing.assert_allclose(model.predict_proba(X_test), expected["blocks"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("old", sorted(_compat.MOVED_MODULES))
def test_every_old_module_path_still_imports_its_names_with_a_warning(old, deprecations):
    new = importlib.import_module(_compat.MOVED_MODULES[old])
    assert new.__all__
    for name in new.__all__:
        del deprecations[:]
        value = getattr(importlib.import_module(old), name)
        assert value is getattr(new, name)
        assert deprecations == [(f"{old}.{name} moved to {new.__name__}.{name}; import it from "
                                 f"there (the old path goes in sk1dcnn 0.3).", DeprecationWarning)]


@pytest.mark.parametrize("old_module, names", sorted(_compat.MOVED_NAMES.items()))
def test_every_moved_name_resolves_to_its_new_home(old_module, names, deprecations):
    for name, new_module in names.items():
        del deprecations[:]
        value = getattr(importlib.import_module(old_module), name)
        assert value is getattr(importlib.import_module(new_module), name)
        assert deprecations == [(f"{old_module}.{name} moved to {new_module}.{name}; import it "
                                 f"from there (the old path goes in sk1dcnn 0.3).",
                                 DeprecationWarning)]


def test_the_warning_reaches_the_caller():
    with pytest.warns(DeprecationWarning, match=r"sk1dcnn\.layers\.Dense moved to sk1dcnn\.nn\.layers"):
        from sk1dcnn.layers import Dense  # noqa: F401


def test_an_unknown_name_of_an_old_module_is_an_attribute_error():
    import sk1dcnn.layers

    with pytest.raises(AttributeError, match="'sk1dcnn.layers' has no attribute 'Conv2D'"):
        sk1dcnn.layers.Conv2D  # noqa: B018


def test_legacy_names_lists_the_old_paths_of_a_type():
    assert _compat.legacy_names("sk1dcnn.nn.layers.Conv1D") == ["sk1dcnn.layers.Conv1D"]
    assert "sk1dcnn.layers.Conv1D" in persistence.get_trusted_types()

"""sk1dcnn.signal: the generic signal helpers, and the module boundaries they anchor."""

import ast
from pathlib import Path

import numpy as np
import pytest
from scipy import signal as sp_signal

import sk1dcnn.signal
from sk1dcnn.signal import (
    butter_sos,
    check_filtfilt_length,
    crop_or_pad,
    filtfilt,
    resample_signal,
    sliding_windows,
    sosfiltfilt_padlen,
)

from _subprocess import run_python

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- #
# Boundaries
# --------------------------------------------------------------------------- #
def _imported_modules(path):
    """Every module a source file imports, at any depth of its syntax tree ("." for relative)."""
    names = []
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append("." * node.level + node.module)
        elif isinstance(node, ast.ImportFrom):  # from . import x, from .. import nn
            names += ["." * node.level + alias.name for alias in node.names]
    return names


def test_signal_is_a_leaf_that_imports_only_numpy_and_scipy():
    imported = _imported_modules(sk1dcnn.signal.__file__)
    assert imported, "the parser found no import at all"
    others = [m for m in imported if m.split(".")[0] not in ("fractions", "numpy", "scipy")]
    assert others == [], f"sk1dcnn.signal must import only numpy/scipy (and fractions), found {others}"


def test_generic_modules_do_not_import_the_domain_packages():
    code = (
        "import sys\n"
        "import sk1dcnn.signal, sk1dcnn.preprocessing, sk1dcnn.datasets\n"
        "print(sorted(m for m in sys.modules if m.startswith(('sk1dcnn.ecg', 'sk1dcnn.audio'))))\n"
    )
    assert run_python(code).strip() == "[]"
    # and no import statement in their source names them (not even inside a function)
    for module in ("signal", "preprocessing", "datasets"):
        imported = _imported_modules(REPO / "sk1dcnn" / f"{module}.py")
        domain = [m for m in imported if m.lstrip(".").startswith(("ecg", "audio", "sk1dcnn.ecg",
                                                                    "sk1dcnn.audio"))]
        assert domain == [], f"sk1dcnn.{module} imports {domain}"


def test_domain_packages_import_no_estimator_or_engine():
    # (``import sk1dcnn.ecg`` runs sk1dcnn/__init__.py, which imports the estimators, so
    # sys.modules cannot tell; the import statements can.)
    for path in [*(REPO / "sk1dcnn" / "ecg").glob("*.py"), *(REPO / "sk1dcnn" / "audio").glob("*.py")]:
        imported = _imported_modules(path)
        engine = [m for m in imported if m.lstrip(".").startswith(("nn", "estimators", "_training"))]
        assert engine == [], f"{path.name} imports {engine}"


# --------------------------------------------------------------------------- #
# crop_or_pad
# --------------------------------------------------------------------------- #
def test_crop_or_pad():
    x = np.arange(10.0)
    np.testing.assert_array_equal(crop_or_pad(x, 4), [3, 4, 5, 6])
    np.testing.assert_array_equal(crop_or_pad(x, 4, "left"), [0, 1, 2, 3])
    np.testing.assert_array_equal(crop_or_pad(x, 4, "right"), [6, 7, 8, 9])
    np.testing.assert_array_equal(crop_or_pad(x[:2], 5), [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(crop_or_pad(x[:2], 5, "left", pad_value=-1), [0, 1, -1, -1, -1])
    np.testing.assert_array_equal(crop_or_pad(x[:2], 5, "right"), [0, 0, 0, 0, 1])
    w = crop_or_pad(x, 4, "random", rng=np.random.default_rng(0))
    assert np.array_equal(w, np.arange(w[0], w[0] + 4))
    # never a view, dtype kept, any leading axes
    same = crop_or_pad(x, 10)
    assert not np.shares_memory(same, x) and np.array_equal(same, x)
    assert crop_or_pad(np.zeros((2, 3, 7), np.float32), 5).shape == (2, 3, 5)
    assert crop_or_pad(np.zeros((2, 3, 7), np.float32), 9).dtype == np.float32


def test_crop_or_pad_random_draws_once_per_call():
    x = np.arange(10.0)
    offsets = np.random.default_rng(3).integers(7, size=5)
    rng = np.random.default_rng(3)
    for start in offsets:
        np.testing.assert_array_equal(crop_or_pad(x, 4, "random", rng=rng), x[start:start + 4])
    # a shorter signal lands at a random offset; equal lengths still draw (integers(1))
    rng, ref = np.random.default_rng(5), np.random.default_rng(5)
    out = crop_or_pad(x[:3], 8, "random", rng=rng)
    start = int(ref.integers(6))
    np.testing.assert_array_equal(out[start:start + 3], x[:3])
    assert out.sum() == x[:3].sum()
    crop_or_pad(x, 10, "random", rng=rng)
    ref.integers(1)
    assert rng.integers(1000) == ref.integers(1000)


def test_crop_or_pad_errors():
    with pytest.raises(ValueError, match="needs rng"):
        crop_or_pad(np.zeros(5), 3, "random")
    with pytest.raises(ValueError, match="mode must be one of"):
        crop_or_pad(np.zeros(5), 3, "middle")


# --------------------------------------------------------------------------- #
# Filtering, resampling, windows
# --------------------------------------------------------------------------- #
def test_butter_sos_and_filtfilt_match_scipy():
    x = np.random.default_rng(0).normal(size=(3, 500))
    sos = butter_sos(0.5, 40.0, 360.0, 4)
    np.testing.assert_array_equal(sos, sp_signal.butter(4, [0.5, 40.0], btype="bandpass", fs=360.0,
                                                        output="sos"))
    np.testing.assert_array_equal(filtfilt(x, sos, "test"), sp_signal.sosfiltfilt(sos, x, axis=-1))
    padlen = sosfiltfilt_padlen(sos)
    assert padlen == 3 * (2 * len(sos) + 1)
    with pytest.raises(ValueError, match=rf"too short for the test filter: .* {padlen + 1} timepoints"):
        check_filtfilt_length(padlen, sos, "the test filter")
    check_filtfilt_length(padlen + 1, sos, "the test filter")


def test_resample_signal():
    x = np.random.default_rng(1).normal(size=(2, 360))
    expected = sp_signal.resample_poly(x, 25, 36, axis=-1)  # 250/360 reduced by gcd 10
    np.testing.assert_array_equal(resample_signal(x, 360.0, 250.0), expected)
    same = resample_signal(x, 360, 360.0)
    np.testing.assert_array_equal(same, x)
    assert not np.shares_memory(same, x)


def test_sliding_windows():
    x = np.vstack([np.arange(10.0), 10 + np.arange(10.0)])
    w = sliding_windows(x, width=4, step=3)
    assert w.shape == (3, 2, 4)
    np.testing.assert_array_equal(w[1, 0], [3, 4, 5, 6])
    np.testing.assert_array_equal(w[2, 1], [16, 17, 18, 19])
    assert np.shares_memory(w, x)  # a view, not a copy
    assert sliding_windows(np.arange(10.0), 5).shape == (2, 1, 5)  # step defaults to width
    with pytest.raises(ValueError, match="shorter than width"):
        sliding_windows(x, width=11, step=1)

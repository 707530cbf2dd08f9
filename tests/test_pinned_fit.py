"""Results do not move with refactors: small float64 fits pinned at revision 0cf41be.

The fixture holds SHA-256 hashes of every fitted parameter (bit-exact weights) and the
predicted probabilities, written by ``tests/fixtures/make_premove_fixtures.py`` with the
engine as it was before the ``sk1dcnn/nn`` layout. Each case runs a different engine
path: conv + max-pool fusion by phases, dilated im2col with average pooling, strided
convolution with SGD and early stopping, BatchNormalization and residual / SE blocks.
"""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from sk1dcnn import CNN1DClassifier, CNN1DRegressor
from sk1dcnn.datasets import load_ucr

PINNED = np.load(Path(__file__).parent / "fixtures" / "pinned_fit_float64.npz")

CASES = {
    "default": dict(),
    "dilated_avg": dict(filters=(4, 6), kernel_size=(5, 3), dilation_rate=(1, 2), pool="avg",
                        padding="valid", global_pool="max", hidden_layer_sizes=(8,), dropout=0.2),
    "strided_sgd": dict(filters=(5, 7), kernel_size=(7, 5), strides=(2, 1), solver="sgd",
                        learning_rate="adaptive", activation="tanh", early_stopping=True,
                        validation_fraction=0.2),
    "blocks": dict(architecture=[
        {"layer": "Conv1D", "filters": 6, "kernel_size": 5, "padding": "same"},
        "BatchNormalization", {"layer": "Activation", "activation": "relu"},
        {"layer": "MaxPooling1D", "pool_size": 2},
        {"layer": "ResidualBlock", "filters": 8, "kernel_size": 3},
        {"layer": "ReSEBlock", "filters": 8, "kernel_size": 3, "se_ratio": 4},
        {"layer": "MaxPooling1D", "pool_size": 3},
        "GlobalAveragePooling1D"]),
}


@pytest.fixture(scope="module")
def data():
    X, y = load_ucr("ECG200", split="train")
    Xte, _ = load_ucr("ECG200", split="test")
    return X[:40], y[:40], Xte[:20]


def _hashes(est):
    return [hashlib.sha256(np.ascontiguousarray(p).tobytes()).hexdigest()
            for p in est.network_.params()]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", sorted(CASES))
def test_classifier_fit_is_bit_identical_to_the_pinned_one(data, name):
    X, y, Xte = data
    est = CNN1DClassifier(random_state=0, max_iter=3, dtype="float64", **CASES[name]).fit(X, y)
    np.testing.assert_array_equal(est.loss_curve_, PINNED[f"{name}/loss_curve"])
    np.testing.assert_array_equal(est.predict_proba(Xte), PINNED[f"{name}/proba"])
    assert _hashes(est) == list(PINNED[f"{name}/params_sha256"])


def test_regressor_fit_is_bit_identical_to_the_pinned_one(data):
    X, y, Xte = data
    reg = CNN1DRegressor(random_state=0, max_iter=3, dtype="float64", filters=(4, 8))
    reg.fit(X, y.astype(float))
    np.testing.assert_array_equal(reg.predict(Xte), PINNED["regressor/pred"])
    assert _hashes(reg) == list(PINNED["regressor/params_sha256"])

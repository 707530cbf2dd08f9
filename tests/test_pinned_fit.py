"""Results do not move with refactors: small float64 fits pinned at revision 0cf41be.

The fixture holds SHA-256 hashes of every fitted parameter (bit-exact weights) and the
predicted probabilities, written by ``tests/fixtures/make_premove_fixtures.py`` with the
engine as it was before the ``sk1dcnn/nn`` layout. Each case runs a different engine
path: conv + max-pool fusion (by phases in groups at predict time only: kernel 5, pool 2),
pooling by phases in training too (kernel 3, pool 3), dilated im2col with average pooling,
strided convolution with SGD and early stopping, BatchNormalization and residual / SE blocks.

The "default" case pins today's defaults: it was re-pinned when the classifier's defaults
changed (issue 13: ``input_scaling='global'``, ``global_pool='auto'``, ``tol=1e-3``; written by
``tests/fixtures/repin_default.py``); the other cases keep the 0cf41be pins with
``input_scaling=None``, the scaling they were fitted without.
"""

from pathlib import Path

import numpy as np
import pytest

from fixtures.make_premove_fixtures import CASES, REGRESSOR, data, param_hashes
from sk1dcnn import CNN1DClassifier, CNN1DRegressor
from sk1dcnn.datasets import load_ucr

PINNED = np.load(Path(__file__).parent / "fixtures" / "pinned_fit_float64.npz")


@pytest.fixture(scope="module")
def ecg200():
    return data(load_ucr)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", sorted(CASES))
def test_classifier_fit_is_bit_identical_to_the_pinned_one(ecg200, name):
    X, y, Xte = ecg200
    params = CASES[name] if name == "default" else {"input_scaling": None, **CASES[name]}
    est = CNN1DClassifier(random_state=0, max_iter=3, dtype="float64", **params).fit(X, y)
    np.testing.assert_array_equal(est.loss_curve_, PINNED[f"{name}/loss_curve"])
    np.testing.assert_array_equal(est.predict_proba(Xte), PINNED[f"{name}/proba"])
    assert param_hashes(est) == list(PINNED[f"{name}/params_sha256"])


def test_regressor_fit_is_bit_identical_to_the_pinned_one(ecg200):
    X, y, Xte = ecg200
    reg = CNN1DRegressor(random_state=0, max_iter=3, dtype="float64", **REGRESSOR)
    reg.fit(X, y.astype(float))
    np.testing.assert_array_equal(reg.predict(Xte), PINNED["regressor/pred"])
    assert param_hashes(reg) == list(PINNED["regressor/params_sha256"])

"""CNN1DClassifier's loss='squared_error' (on probabilities) and exp_beta."""

import numpy as np
import pytest
from scipy.special import expit, softmax
from sklearn.base import clone

from sk1dcnn import CNN1DClassifier

# input_scaling=None: the tests forward X through network_ themselves
TINY = dict(filters=(4,), kernel_size=3, pool=None, hidden_layer_sizes=(8,), max_iter=30,
            learning_rate_init=0.01, random_state=0, dtype="float64", input_scaling=None)
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(n_classes, n=36, length=12):
    rng = np.random.default_rng(0)
    y = np.arange(n) % n_classes
    X = rng.standard_normal((n, length)) + 1.5 * y[:, None] * np.sin(np.arange(length))
    return X, y


@pytest.mark.parametrize("n_classes, engine, out", [(3, "softmax_squared_error", "softmax"),
                                                    (2, "sigmoid_squared_error", "logistic")])
def test_squared_error_classifier_trains_on_probabilities(n_classes, engine, out):
    X, y = _data(n_classes)
    est = CNN1DClassifier(loss="squared_error", **TINY).fit(X, y)
    assert est._engine_loss == engine and est.out_activation_ == out
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    assert est.score(X, y) > 0.9
    Z = est.network_.forward(X[:, :, None])
    P = est.predict_proba(X)
    expected = softmax(Z, axis=1) if n_classes > 2 else np.c_[1 - expit(Z[:, 0]), expit(Z[:, 0])]
    np.testing.assert_allclose(P, expected, rtol=1e-12)
    np.testing.assert_array_equal(est.predict(X), est.classes_[P.argmax(axis=1)])


def test_squared_error_multilabel_uses_a_sigmoid_per_label():
    X, y = _data(3)
    Y = np.c_[y == 0, y != 1].astype(int)
    est = CNN1DClassifier(loss="squared_error", **TINY).fit(X, Y)
    assert est._engine_loss == "sigmoid_squared_error"
    Z = est.network_.forward(X[:, :, None])
    np.testing.assert_allclose(est.predict_proba(X), expit(Z), rtol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_exp_beta_scales_the_margin_and_predict_proba(n_classes):
    X, y = _data(n_classes)
    base = CNN1DClassifier(loss="exponential", **TINY)
    one = clone(base).fit(X, y)
    assert one.get_params()["exp_beta"] == 1.0
    beta = clone(base).set_params(exp_beta=2.5).fit(X, y)
    assert beta.loss_curve_ != one.loss_curve_  # a different loss, a different fit
    Z = beta.network_.forward(X[:, :, None])
    logp = -np.logaddexp(0.0, -2 * 2.5 * Z)  # log sigmoid(2 beta z)
    if n_classes == 2:
        p1 = np.exp(logp[:, 0])
        np.testing.assert_allclose(beta.predict_proba(X)[:, 1], p1, rtol=1e-12)
    else:
        P = np.exp(logp - logp.max(axis=1, keepdims=True))
        np.testing.assert_allclose(beta.predict_proba(X), P / P.sum(axis=1, keepdims=True),
                                   rtol=1e-12)


def test_exp_beta_is_validated():
    with pytest.raises(ValueError, match="exp_beta"):
        CNN1DClassifier(loss="exponential", exp_beta=0.0).fit(*_data(2))

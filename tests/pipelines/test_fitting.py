"""pipelines/_fitting.py: evaluation from predictions, and the one refit helper."""

import warnings

import numpy as np
import pytest


def test_evaluate_takes_predictions():
    from pipelines._fitting import evaluate

    y = np.array(list("NNNNVVVSSN"))
    p = np.array(list("NNNVVVNSNS"))
    metrics, report, cm = evaluate(y, p, ["N", "S", "V"])
    assert metrics["accuracy"] == pytest.approx(0.6)
    assert metrics["se_V"] == pytest.approx(2 / 3) and metrics["ppv_V"] == pytest.approx(2 / 3)
    assert metrics["support_N"] == 5
    np.testing.assert_array_equal(cm, [[3, 1, 1], [1, 1, 0], [1, 0, 2]])
    assert "precision" in report


def test_fit_clone_leaves_the_prototype_unfitted_and_predicts():
    from sklearn.pipeline import Pipeline

    from pipelines._fitting import fit_clone
    from sk1dcnn import CNN1DClassifier

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 1, 16)), np.arange(20) % 2
    proto = Pipeline([("cnn", CNN1DClassifier(filters=(2,), hidden_layer_sizes=(4,), max_iter=1))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = fit_clone(proto, X, y, params={"cnn__max_iter": 2}, seed=3, X_predict=X[:5])
        b = fit_clone(proto, X, y, params={"cnn__max_iter": 2}, seed=3)
    assert not hasattr(proto.named_steps["cnn"], "n_iter_")
    assert a.model.named_steps["cnn"].random_state == 3 and a.model.named_steps["cnn"].n_iter_ == 2
    np.testing.assert_array_equal(a.y_pred, a.model.predict(X[:5]))
    np.testing.assert_array_equal(b.model.predict(X), a.model.predict(X))  # same seed, same model
    assert b.y_pred is None and a.fit_time_s > 0

"""Behaviour of CNN1DClassifier / CNN1DRegressor on real data and bad input."""

import pickle
import re

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import InvalidParameterError

from sk1dcnn import CNN1DClassifier, CNN1DRegressor
from sk1dcnn.datasets import load_ucr

# Flatten (global_pool=None) keeps where things happen in the aligned beats:
# on ECG200 it learns in a few epochs what global pooling needs many for.
SMALL = dict(filters=(8, 16), kernel_size=5, global_pool=None, hidden_layer_sizes=(16,),
             max_iter=15, learning_rate_init=3e-3, random_state=0)


@pytest.fixture(scope="module")
def ecg200():
    return load_ucr("ECG200")


def test_default_classifier_learns_ecg200(ecg200):
    """The promise of the defaults: a strong model on real ECG with no tuning."""
    X_train, y_train, X_test, y_test = ecg200
    clf = CNN1DClassifier(random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.85
    assert set(clf.classes_) == {-1, 1}
    assert clf.n_channels_in_ == 1 and clf.n_timepoints_in_ == 96
    assert len(clf.loss_curve_) == clf.n_iter_ == len(clf.history_)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_string_labels_and_proba(ecg200):
    X_train, y_train, X_test, _ = ecg200
    labels = np.where(y_train > 0, "normal", "ischemia")
    clf = CNN1DClassifier(**SMALL).fit(X_train, labels)
    assert list(clf.classes_) == ["ischemia", "normal"]
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X_test), clf.classes_[proba.argmax(axis=1)])
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X_test)), proba, rtol=1e-6)


def test_multiclass_3d_multichannel(ecg200):
    """3 classes from 2-channel signals (the beat and its derivative)."""
    X_train, y_train, X_test, y_test = ecg200
    rng = np.random.default_rng(0)

    def make(X, y):
        X3 = np.stack([X, np.gradient(X, axis=1)], axis=1)
        flip = rng.random(len(X)) < 0.33
        X3[flip] = X3[flip, :, ::-1]
        return X3, np.where(flip, 2, (y > 0).astype(int))

    Xa, ya = make(X_train, y_train)
    Xb, yb = make(X_test, y_test)
    clf = CNN1DClassifier(**{**SMALL, "max_iter": 60}).fit(Xa, ya)
    assert clf.n_channels_in_ == 2
    assert clf.predict_proba(Xb).shape == (len(Xb), 3)
    assert clf.score(Xb, yb) >= 0.8


def test_regressor_real_valued_target(ecg200):
    """Recover each beat's amplitude gain from real ECG beats (R^2 >= 0.9)."""
    X_train, _, X_test, _ = ecg200
    rng = np.random.default_rng(1)
    g_train = rng.uniform(0.5, 2.0, len(X_train))
    g_test = rng.uniform(0.5, 2.0, len(X_test))
    # a gain is a property of the whole beat: global averaging generalises it
    # from 100 beats (R^2 0.98) where a flatten head overfits positions (0.68)
    reg = CNN1DRegressor(filters=(8, 16), global_pool="avg", hidden_layer_sizes=(16,),
                         max_iter=80, learning_rate_init=3e-3, random_state=0)
    reg.fit(X_train * g_train[:, None], g_train)
    pred = reg.predict(X_test * g_test[:, None])
    assert pred.shape == (len(X_test),)
    assert r2_score(g_test, pred) >= 0.9


def test_regressor_multioutput(ecg200):
    X_train, _, _, _ = ecg200
    rng = np.random.default_rng(2)
    G = rng.uniform(0.5, 2.0, (len(X_train), 2))
    X = X_train * G[:, :1] + G[:, 1:]
    reg = CNN1DRegressor(**{**SMALL, "max_iter": 5}).fit(X, G)
    assert reg.predict(X).shape == (len(X), 2)


def test_multilabel(ecg200):
    """Two labels per beat: abnormal (real label) and time-reversed."""
    X_train, y_train, X_test, y_test = ecg200
    rng = np.random.default_rng(3)

    def make(X, y):
        rev = rng.random(len(X)) < 0.5
        X = np.where(rev[:, None], X[:, ::-1], X)
        return X, np.column_stack([(y < 0).astype(int), rev.astype(int)])

    Xa, Ya = make(X_train, y_train)
    Xb, Yb = make(X_test, y_test)
    clf = CNN1DClassifier(**{**SMALL, "max_iter": 60}).fit(Xa, Ya)
    P = clf.predict_proba(Xb)
    assert P.shape == (len(Xb), 2) and ((P >= 0) & (P <= 1)).all()
    pred = clf.predict(Xb)
    np.testing.assert_array_equal(pred, (P > 0.5).astype(int))
    assert (pred[:, 1] == Yb[:, 1]).mean() >= 0.9
    assert (pred[:, 0] == Yb[:, 0]).mean() >= 0.75


@pytest.mark.parametrize("loss", ["exponential", "hinge", "categorical_crossentropy"])
def test_other_losses_learn(ecg200, loss):
    X_train, y_train, X_test, y_test = ecg200
    clf = CNN1DClassifier(**{**SMALL, "max_iter": 40}, loss=loss).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.75
    assert hasattr(clf, "predict_proba") == (loss != "hinge")


def test_same_seed_same_weights_and_predictions(ecg200):
    X_train, y_train, X_test, _ = ecg200
    params = {**SMALL, "dropout": 0.2, "augment": True, "max_iter": 3}
    a = CNN1DClassifier(**params).fit(X_train, y_train)
    b = CNN1DClassifier(**params).fit(X_train, y_train)
    for wa, wb in zip(a.network_.params(), b.network_.params()):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))
    c = CNN1DClassifier(**{**params, "random_state": 1}).fit(X_train, y_train)
    assert not np.array_equal(a.network_.params()[0], c.network_.params()[0])


def test_clone_pickle_joblib(ecg200, tmp_path):
    X_train, y_train, X_test, _ = ecg200
    clf = CNN1DClassifier(**{**SMALL, "max_iter": 2}).fit(X_train, y_train)
    expected = clf.predict_proba(X_test)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X_test), expected)
    joblib.dump(clf, tmp_path / "m.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "m.joblib").predict_proba(X_test), expected)
    fresh = clone(clf)
    assert not hasattr(fresh, "network_")
    assert fresh.get_params() == clf.get_params()


def test_pipeline_gridsearch_parallel(ecg200):
    X_train, y_train, X_test, y_test = ecg200
    pipe = Pipeline([("scale", FunctionTransformer(lambda X: X / 2.0)),
                     ("cnn", CNN1DClassifier(**{**SMALL, "max_iter": 8}))])
    grid = GridSearchCV(pipe, {"cnn__kernel_size": [3, 7], "cnn__pool": ["max", "avg"]},
                        cv=2, n_jobs=-1)
    grid.fit(X_train, y_train)
    assert len(grid.cv_results_["params"]) == 4
    assert grid.best_estimator_.score(X_test, y_test) > 0.6


def test_transform_embeddings_feed_another_estimator(ecg200):
    X_train, y_train, X_test, y_test = ecg200
    cnn = CNN1DClassifier(**{**SMALL, "max_iter": 30})
    E = cnn.fit(X_train, y_train).transform(X_test)
    assert E.shape == (len(X_test), 16)
    pipe = make_pipeline(CNN1DClassifier(**{**SMALL, "max_iter": 30}), LogisticRegression())
    assert pipe.fit(X_train, y_train).score(X_test, y_test) >= 0.75


def test_partial_fit_and_warm_start(ecg200):
    X_train, y_train, _, _ = ecg200
    clf = CNN1DClassifier(**SMALL)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X_train, y_train)
    clf.partial_fit(X_train[:50], y_train[:50], classes=[-1, 1])
    clf.partial_fit(X_train[50:], y_train[50:])
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    with pytest.raises(ValueError, match=re.escape("is not the same as on the first call")):
        clf.partial_fit(X_train, y_train, classes=[-1, 1, 2])

    warm = CNN1DClassifier(**{**SMALL, "max_iter": 3, "warm_start": True, "tol": 0})
    warm.fit(X_train, y_train)
    first = warm.network_.get_weights()
    warm.fit(X_train, y_train)
    assert warm.n_iter_ == 6 and len(warm.history_) == 6
    assert not np.array_equal(first[0], warm.network_.params()[0])


def test_early_stopping_keeps_best_validation_weights(ecg200):
    X_train, y_train, _, _ = ecg200
    clf = CNN1DClassifier(**{**SMALL, "max_iter": 40}, early_stopping=True,
                          n_iter_no_change=3, validation_fraction=0.2)
    clf.fit(X_train, y_train)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.n_iter_ < 40
    assert all(r["valid_loss"] is not None for r in clf.history_)


@pytest.mark.parametrize("schedule", ["step", "exponential", "cosine", "adaptive", "invscaling"])
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_schedules_and_solvers_record_rates(ecg200, schedule, solver):
    X_train, y_train, _, _ = ecg200
    clf = CNN1DClassifier(**{**SMALL, "max_iter": 4, "tol": 0, "learning_rate_init": 0.01},
                          solver=solver, learning_rate=schedule,
                          lr_decay_steps=2).fit(X_train, y_train)
    rates = [r["learning_rate"] for r in clf.history_]
    assert rates[0] == pytest.approx(0.01)
    if schedule in ("step", "exponential", "cosine", "invscaling"):
        assert rates[-1] < rates[0]


def test_verbose_prints_one_line_per_epoch(ecg200, capsys):
    X_train, y_train, _, _ = ecg200
    CNN1DClassifier(**{**SMALL, "max_iter": 3, "tol": 0}, verbose=True,
                    early_stopping=True).fit(X_train, y_train)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Epoch")]
    assert len(lines) == 3
    assert re.fullmatch(r"Epoch 1/3: train_loss=[\d.]+, valid_loss=[\d.]+, valid_score=[\d.]+, "
                        r"lr=[\d.e-]+, [\d.]+ s, ETA \d+:\d\d", lines[0])


def test_class_weight_and_sample_weight(ecg200):
    X_train, y_train, X_test, _ = ecg200
    only_neg = CNN1DClassifier(**SMALL, class_weight={-1: 1.0, 1: 0.0}).fit(X_train, y_train)
    assert (only_neg.predict(X_test) == -1).all()
    sw = (y_train == 1).astype(float)
    only_pos = CNN1DClassifier(**SMALL).fit(X_train, y_train, sample_weight=sw)
    assert (only_pos.predict(X_test) == 1).all()
    CNN1DClassifier(**{**SMALL, "max_iter": 2}, class_weight="balanced").fit(X_train, y_train)


def test_float64_mode(ecg200):
    X_train, y_train, X_test, _ = ecg200
    clf = CNN1DClassifier(**{**SMALL, "max_iter": 2}, dtype="float64").fit(X_train, y_train)
    assert all(p.dtype == np.float64 for p in clf.network_.params())
    assert clf.predict_proba(X_test).dtype == np.float64


def test_summary_counts_parameters(ecg200):
    X_train, y_train, _, _ = ecg200
    clf = CNN1DClassifier(filters=(4, 8), kernel_size=3, global_pool="avg",
                          hidden_layer_sizes=(5,), max_iter=1, random_state=0)
    text = clf.summary(input_shape=(1, 96))
    # conv1: 4*(3*1)+4 = 16; conv2: 8*(3*4)+8 = 104; dense: 8*5+5 = 45; out: 5+1 = 6
    assert "Total params: 171" in text
    clf.fit(X_train, y_train)
    assert "Total params: 171" in clf.summary()
    assert "(None, 8, 24)" in clf.summary()  # channels-first shapes after two pools


def test_architecture_escape_hatch(ecg200):
    X_train, y_train, X_test, y_test = ecg200
    arch = [{"layer": "Conv1D", "filters": 8, "kernel_size": 7, "activation": "prelu"},
            {"layer": "MaxPooling1D", "pool_size": 3, "strides": 2},
            ("Conv1D", {"filters": 8, "kernel_size": 3, "dilation_rate": 2, "padding": "causal"}),
            {"layer": "Activation", "activation": "elu"},
            "GlobalMaxPooling1D",
            {"layer": "Dense", "units": 8, "activation": "swish"},
            {"layer": "Dropout", "rate": 0.1}]
    clf = CNN1DClassifier(architecture=arch, max_iter=40, learning_rate_init=3e-3,
                          random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.7
    assert clf.transform(X_test).shape == (len(X_test), 8)


# ----------------------------------------------------------------- bad input
def _fit_err(X, y, match, est=None, exc=ValueError):
    est = est or CNN1DClassifier(**{**SMALL, "max_iter": 1})
    with pytest.raises(exc, match=match):
        est.fit(X, y)
    return est


@pytest.mark.parametrize("bad, match", [
    (np.nan, "Input X contains NaN"),
    (np.inf, "Input X contains infinity"),
])
def test_nonfinite_X(ecg200, bad, match):
    X, y = ecg200[0].copy(), ecg200[1]
    X[3, 10] = bad
    est = _fit_err(X, y, match)
    assert not hasattr(est, "network_")


def test_nan_y_regressor(ecg200):
    X, y = ecg200[0], ecg200[1].astype(float)
    y[0] = np.nan
    _fit_err(X, y, "Input y contains NaN", CNN1DRegressor(**SMALL))


def test_bad_shapes(ecg200):
    X, y = ecg200[0], ecg200[1]
    _fit_err(X[0], y[:1], "Expected 2D array, got 1D array instead")
    _fit_err(X.reshape(100, 1, 1, 96), y,
             re.escape("X must be 2D (n_samples, n_timepoints) or 3D (n_samples, n_channels, "
                       "n_timepoints); got a 4D array of shape (100, 1, 1, 96)"))
    _fit_err(X[:0], y[:0], "Found array with 0 sample")
    _fit_err(X, y[:-1], "inconsistent numbers of samples")
    _fit_err(X, np.ones(100), "needs samples of at least 2 classes in y; got only one class: 1.0")


def test_predict_with_other_channels_or_length(ecg200):
    X_train, y_train, X_test, _ = ecg200
    X3 = np.stack([X_train, X_train], axis=1)
    clf = CNN1DClassifier(**{**SMALL, "max_iter": 1}).fit(X3, y_train)
    with pytest.raises(ValueError, match=re.escape(
            "X has 3 channels, but CNN1DClassifier is expecting 2 channels")):
        clf.predict(np.stack([X_test] * 3, axis=1))
    with pytest.raises(ValueError, match=re.escape(
            "X has 90 timepoints, but CNN1DClassifier is expecting 96 timepoints")):
        clf.predict(np.stack([X_test[:, :90]] * 2, axis=1))
    clf2 = CNN1DClassifier(**{**SMALL, "max_iter": 1}).fit(X_train, y_train)
    with pytest.raises(ValueError, match="X has 90 features, but CNN1DClassifier is expecting 96"):
        clf2.predict(X_test[:, :90])
    # a single-channel 3D array is the same data as 2D
    np.testing.assert_array_equal(clf2.predict(X_test[:, None, :]), clf2.predict(X_test))


@pytest.mark.parametrize("param, value, match", [
    ("padding", "full", "The 'padding' parameter of CNN1DClassifier must be a str among"),
    ("activation", "gelu", "The 'activation' parameter of CNN1DClassifier must be a str among"),
    ("solver", "lbfgs", "The 'solver' parameter of CNN1DClassifier must be a str among"),
    ("max_iter", 0, "The 'max_iter' parameter of CNN1DClassifier must be an int in the range"),
    ("dropout", 1.0, "The 'dropout' parameter of CNN1DClassifier must be a float in the range"),
])
def test_invalid_hyperparameters(ecg200, param, value, match):
    _fit_err(ecg200[0], ecg200[1], match,
             CNN1DClassifier(**{**SMALL, param: value}), exc=InvalidParameterError)


def test_per_block_parameter_length(ecg200):
    _fit_err(ecg200[0], ecg200[1],
             re.escape("kernel_size=(3, 5) has 2 entries but filters defines 3 conv block(s)"),
             CNN1DClassifier(filters=(4, 8, 16), kernel_size=(3, 5)))
    _fit_err(ecg200[0], ecg200[1], re.escape("augment has unknown key(s) ['warp']"),
             CNN1DClassifier(**SMALL, augment={"warp": 0.1}))


def test_divergence_is_an_error_and_loses_nothing(ecg200):
    X_train, _, X_test, _ = ecg200
    y = X_train.max(axis=1) * 1e3
    reg = CNN1DRegressor(**{**SMALL, "max_iter": 2}).fit(X_train, y)
    before = reg.predict(X_test)
    bad = reg.set_params(solver="sgd", learning_rate_init=1e6, momentum=0.0)
    with pytest.raises(ValueError, match=r"Training diverged: the loss became (nan|inf) at epoch 1 "
                                          r"\(learning rate 1e\+06\)\. Lower learning_rate_init"):
        bad.fit(X_train, y)
    np.testing.assert_array_equal(reg.predict(X_test), before)
    assert np.isfinite(before).all()


def test_best_weights_restore_includes_batchnorm_statistics(ecg200):
    X_train, y_train, _, _ = ecg200
    arch = [{"layer": "Conv1D", "filters": 8, "kernel_size": 5, "use_bias": False},
            "BatchNormalization", {"layer": "Activation", "activation": "relu"},
            "GlobalAveragePooling1D"]
    clf = CNN1DClassifier(architecture=arch, max_iter=3, early_stopping=True,
                          random_state=0).fit(X_train, y_train)
    net = clf.network_
    bn = net.layers[1]
    saved = net.get_weights()
    assert len(saved) == len(net.params()) + 2  # + running mean and variance
    before = (bn.moving_mean.copy(), bn.moving_variance.copy())
    bn.moving_mean += 1.0
    bn.moving_variance *= 3.0
    net.set_weights(saved)
    np.testing.assert_array_equal(bn.moving_mean, before[0])
    np.testing.assert_array_equal(bn.moving_variance, before[1])

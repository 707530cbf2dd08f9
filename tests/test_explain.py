"""sk1dcnn.relevance: gradients against finite differences, Grad-CAM against its
definition, peaks where the class signal is, and clear errors."""

import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.pipeline import make_pipeline

from sk1dcnn import CNN1DClassifier, CNN1DRegressor, relevance
from sk1dcnn.preprocessing import SeriesStandardScaler

from ._gradcheck import numerical_grad
from ._synthetic import bump_signals


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def _score(est, X, column, sign=1.0):
    """The explained quantity through the estimator's own (fused) predict path."""
    return lambda: sign * float(est._raw_forward(X)[0, column])


def _fd(est, x, column, sign=1.0):
    """Central differences of one sample's raw output ``column`` w.r.t. its input."""
    X = np.array(x[None], dtype=np.float64)
    return numerical_grad(_score(est, X, column, sign), X)[0]


RNG = np.random.default_rng(0)
X2 = RNG.normal(size=(30, 24))
X3 = RNG.normal(size=(30, 2, 24))

CASES = {
    "multiclass, relu, max pool, flatten": (
        CNN1DClassifier(filters=(3, 4), kernel_size=3, hidden_layer_sizes=(5,), dtype="float64",
                        max_iter=3, random_state=0), X2, np.arange(30) % 3),
    "binary, tanh, avg pool, global average, dropout": (
        CNN1DClassifier(filters=(3, 4), kernel_size=(3, 5), activation="tanh", pool="avg",
                        global_pool="avg", dropout=0.5, dtype="float64", max_iter=3,
                        random_state=1), X2, np.arange(30) % 2),
    "two channels, BatchNormalization, ResidualBlock with dropout": (
        CNN1DClassifier(architecture=[
            {"layer": "Conv1D", "filters": 4, "kernel_size": 3, "padding": "same"},
            "BatchNormalization", {"layer": "Activation", "activation": "softplus"},
            {"layer": "ResidualBlock", "filters": 3, "dropout": 0.5}, "Flatten"],
            dtype="float64", max_iter=3, random_state=2), X3, np.arange(30) % 3),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradient_matches_finite_differences(case):
    est, X, y = CASES[case]
    est = _fit(est, X, y)
    x = X[0]
    multichannel = X.ndim == 3
    n_out = est.network_.output_shape[0]
    for k, label in enumerate(est.classes_):
        column, sign = (0, 1.0 if k == 1 else -1.0) if n_out == 1 else (k, 1.0)
        expected = _fd(est, x, column, sign)  # (T,) or (C, T)
        got = relevance(est, x[None], target=label, channels="each")[0]
        np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=1e-5, atol=1e-8)
        summed = relevance(est, x[None], target=label)[0]
        np.testing.assert_allclose(summed, expected.sum(axis=0) if multichannel else expected,
                                   rtol=1e-5, atol=1e-8)
        times = relevance(est, x[None], target=label, method="gradient*input", channels="each")[0]
        np.testing.assert_allclose(times.reshape(expected.shape), expected * x, rtol=1e-5, atol=1e-8)


def test_target_none_explains_the_predicted_class_and_targets_go_per_sample():
    est, X, y = CASES["multiclass, relu, max pool, flatten"]
    est = _fit(est, X, y)
    pred = est.predict(X[:6])
    per_class = {c: relevance(est, X[:6], target=c) for c in est.classes_}
    expected = np.stack([per_class[c][i] for i, c in enumerate(pred)])
    np.testing.assert_array_equal(relevance(est, X[:6]), expected)
    np.testing.assert_array_equal(relevance(est, X[:6], target=list(pred)), expected)


def test_binary_classifier_explains_both_classes_with_opposite_signs():
    est, X, y = CASES["binary, tanh, avg pool, global average, dropout"]
    est = _fit(est, X, y)
    np.testing.assert_array_equal(relevance(est, X[:4], target=0), -relevance(est, X[:4], target=1))


def test_regressor_gradient_matches_finite_differences_per_output():
    y = np.column_stack([X2[:, 3] - X2[:, 10], X2[:, 20]])
    reg = _fit(CNN1DRegressor(filters=(3,), kernel_size=3, hidden_layer_sizes=(4,),
                              dtype="float64", max_iter=3, random_state=0), X2, y)
    for column in (0, 1):
        np.testing.assert_allclose(relevance(reg, X2[:1], target=column)[0],
                                   _fd(reg, X2[0], column), rtol=1e-5, atol=1e-8)
    with pytest.raises(ValueError, match=re.escape(
            "This CNN1DRegressor has 2 outputs: give target= the index of the output to explain "
            "(0 to 1).")):
        relevance(reg, X2[:1])
    with pytest.raises(ValueError, match=re.escape(
            "target must be an output index from 0 to 1 for this CNN1DRegressor; got 2.")):
        relevance(reg, X2[:1], target=2)


def _head_score(layers, A, W):
    """sum(W * raw outputs) from the feature map A, through the plain layers."""
    Z = A
    for layer in layers:
        Z = layer.forward(Z, training=False)
    return float(np.sum(Z * W))


def _gradcam_oracle(est, X, split, W):
    """Grad-CAM by its definition: feature map from the fused predict path, its
    gradient by finite differences through the plain head."""
    net = est.network_
    from sk1dcnn._validation import to_channels_last
    Xs = est._scale_input(X, getattr(est, "_input_stats_", None))  # what the network sees
    Xc = to_channels_last(Xs, np.float64)
    cams = []
    for i in range(Xc.shape[0]):
        # one sample at a time: a SplitStatic keeps this sample's static features for the head
        a = net.forward(Xc[i:i + 1], training=False, upto=split).copy()
        dA = numerical_grad(lambda: _head_score(net.layers[split:], a, W[i:i + 1]), a)
        alpha = dA[0].mean(axis=0)
        cams.append(np.maximum(a[0] @ alpha, 0.0))
    return np.array(cams)


def test_gradcam_matches_its_definition_and_is_placed_at_the_centres():
    # one conv block pooled by 3: feature step i stands for timepoints 3i..3i+2, centre 3i+1
    X = RNG.normal(size=(20, 30))
    y = np.arange(20) % 3
    est = _fit(CNN1DClassifier(filters=(5,), kernel_size=3, pool_size=3, hidden_layer_sizes=(6,),
                               dtype="float64", max_iter=3, random_state=0), X, y)
    W = np.zeros((3, 3))
    W[np.arange(3), [0, 1, 2]] = 1.0
    cam = relevance(est, X[:3], target=est.classes_[:3], method="gradcam")
    assert cam.shape == (3, 30)
    expected = _gradcam_oracle(est, X[:3], 2, W)  # layers: Conv1D, MaxPooling1D | Flatten, ...
    np.testing.assert_allclose(cam[:, 1::3], expected, rtol=1e-5, atol=1e-8)
    assert (cam >= 0).all()
    # between two centres, the straight line; before the first one, its value
    np.testing.assert_allclose(cam[:, 2], (2 * cam[:, 1] + cam[:, 4]) / 3, rtol=1e-12)
    np.testing.assert_allclose(cam[:, 3], (cam[:, 1] + 2 * cam[:, 4]) / 3, rtol=1e-12)
    np.testing.assert_array_equal(cam[:, 0], cam[:, 1])


def test_gradcam_without_pooling_is_the_map_itself():
    est, X, y = CASES["two channels, BatchNormalization, ResidualBlock with dropout"]
    est = _fit(est, X, y)
    W = np.zeros((2, 3))
    W[[0, 1], [2, 0]] = 1.0
    cam = relevance(est, X[:2], target=[est.classes_[2], est.classes_[0]], method="gradcam")
    split = 4  # Conv1D, BatchNormalization, Activation, ResidualBlock | Flatten, Dense
    np.testing.assert_allclose(cam, _gradcam_oracle(est, X[:2], split, W), rtol=1e-5, atol=1e-8)


# ---- relevance is where the class signal is

T, PEAK, HALF = 64, 40, 8  # class 1: a bump centred at timepoint 40; window 32..48


@pytest.fixture(scope="module")
def bump():
    X, y = bump_signals({1: PEAK}, n=120, T=T)
    clf = _fit(CNN1DClassifier(filters=(4, 8), max_iter=30, random_state=0), X, y)
    assert clf.score(X, y) > 0.95  # the net found the bump
    return clf, X[y == 1]


@pytest.mark.parametrize("method, ratio", [("gradient", 1.5), ("gradient*input", 3.0),
                                           ("gradcam", 3.0)])
def test_relevance_peaks_where_the_class_signal_is(bump, method, ratio):
    clf, X1 = bump
    profile = np.abs(relevance(clf, X1, target=1, method=method)).mean(axis=0)
    window = np.zeros(T, bool)
    window[PEAK - HALF:PEAK + HALF + 1] = True
    assert window[np.argmax(profile)]
    assert profile[window].mean() > ratio * profile[~window].mean()


def test_the_fitted_estimator_is_not_touched(bump):
    clf, X1 = bump
    before = clf.predict_proba(X1)
    relevance(clf, X1, method="gradcam")
    assert clf.network_.fuse
    np.testing.assert_array_equal(clf.predict_proba(X1), before)


def test_pipeline_explains_its_last_steps_input(bump):
    clf, X1 = bump
    pipe = make_pipeline(SeriesStandardScaler(), CNN1DClassifier(filters=(4,), max_iter=2,
                                                                 random_state=0))
    _fit(pipe, np.vstack([X1, -X1]), np.r_[np.ones(len(X1)), np.zeros(len(X1))])
    np.testing.assert_array_equal(relevance(pipe, X1[:3]),
                                  relevance(pipe[-1], pipe[:-1].transform(X1[:3])))


# ---- errors


def test_errors_name_the_problem(bump):
    clf, X1 = bump
    with pytest.raises(NotFittedError):
        relevance(CNN1DClassifier(), X1)
    with pytest.raises(ValueError, match=re.escape(
            "method='saliency' is not one of ['gradient', 'gradient*input', 'gradcam'].")):
        relevance(clf, X1, method="saliency")
    with pytest.raises(ValueError, match=re.escape(
            "channels='mean' is not one of ['sum', 'each'].")):
        relevance(clf, X1, channels="mean")
    with pytest.raises(ValueError, match=re.escape(
            "method='gradcam' gives one map per signal, with no channel axis: use channels='sum'.")):
        relevance(clf, X1, method="gradcam", channels="each")
    with pytest.raises(ValueError, match=re.escape(
            "relevance() needs X of shape (n_samples, 64), as CNN1DClassifier was fitted on; "
            "got shape (3, 60).")):
        relevance(clf, X1[:3, :60])
    with pytest.raises(ValueError, match=re.escape(
            "relevance() needs X of shape (n_samples, 64); got a 1D array of shape (64,).")):
        relevance(clf, X1[0])
    with pytest.raises(ValueError, match=re.escape(
            "relevance() needs X of shape (n_samples, 64), as CNN1DClassifier was fitted on; "
            "got shape (3, 2, 64).")):
        relevance(clf, np.stack([X1[:3], X1[:3]], axis=1))
    with pytest.raises(ValueError, match=re.escape(
            "target 7 is not a class of this CNN1DClassifier; classes_ is [0, 1].")):
        relevance(clf, X1[:3], target=7)
    with pytest.raises(ValueError, match=re.escape(
            "target must be one class label or one per sample (3); got shape (2,).")):
        relevance(clf, X1[:3], target=[0, 1])
    with pytest.raises(TypeError, match=re.escape(
            "relevance() explains a CNN1DClassifier or CNN1DRegressor (or a Pipeline ending in "
            "one), not SeriesStandardScaler.")):
        relevance(SeriesStandardScaler(), X1)


def test_gradcam_with_static_features_maps_the_signal_only():
    # SplitStatic | Conv1D, MaxPooling1D (by 3) | Flatten, JoinStatic, Dense, Dense: the head
    # joins the static features, so the feature map's gradient depends on them
    X = RNG.normal(size=(20, 32))  # 30 timepoints of signal, then 2 static features
    y = np.arange(20) % 3
    est = _fit(CNN1DClassifier(filters=(5,), kernel_size=3, pool_size=3, hidden_layer_sizes=(6,),
                               dtype="float64", max_iter=3, random_state=0, n_static_features=2), X, y)
    W = np.zeros((3, 3))
    W[np.arange(3), [0, 1, 2]] = 1.0
    cam = relevance(est, X[:3], target=est.classes_[:3], method="gradcam")
    assert cam.shape == (3, 32)
    np.testing.assert_array_equal(cam[:, 30:], 0.0)  # Grad-CAM does not score the static columns
    expected = _gradcam_oracle(est, X[:3], 3, W)  # the map of SplitStatic, Conv1D, MaxPooling1D
    np.testing.assert_allclose(cam[:, 1:30:3], expected, rtol=1e-5, atol=1e-8)
    # the first step stands for timepoints 0..2 of the signal, the last for 27..29
    np.testing.assert_array_equal(cam[:, 29], cam[:, 28])


def test_gradcam_needs_a_feature_map():
    X = RNG.normal(size=(12, 8))
    dense_only = _fit(CNN1DClassifier(architecture=["Flatten", {"layer": "Dense", "units": 3}],
                                      max_iter=1, random_state=0), X, np.arange(12) % 2)
    with pytest.raises(ValueError, match=re.escape(
            "method='gradcam' needs a convolutional feature map that enters Flatten or global "
            "pooling; this CNN1DClassifier's network has none.")):
        relevance(dense_only, X, method="gradcam")


@pytest.mark.parametrize("input_scaling", ["per_series", "global", None])
def test_gradient_is_carried_back_through_input_scaling_and_static_columns(input_scaling):
    # the network sees the scaled signal; relevance is the gradient of the raw input
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 24)) * 3 + 5
    y = np.arange(30) % 2
    est = CNN1DClassifier(filters=(4,), kernel_size=3, hidden_layer_sizes=(5,), max_iter=3,
                          dtype="float64", random_state=0, input_scaling=input_scaling,
                          n_static_features=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    R = relevance(est, X[:1], target=[est.classes_[1]])

    def score(x):
        return est._raw_forward(x[None])[0, 0]  # binary: one logit for the positive class

    h, num = 1e-6, np.empty(24)
    for t in range(24):
        e = np.zeros(24)
        e[t] = h
        num[t] = (score(X[0] + e) - score(X[0] - e)) / (2 * h)
    np.testing.assert_allclose(R[0], num, rtol=1e-5, atol=1e-8)

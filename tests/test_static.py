"""Static features carried in X (n_static_features): join/split helpers, the engine's split
and join layers against finite differences (fast and plain), and the estimator interface
through clone, pickle, skops, Pipeline and GridSearchCV."""

import pickle
import re
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import InvalidParameterError

from sk1dcnn import CNN1DClassifier, CNN1DRegressor, join_static, split_static
from sk1dcnn._architecture import build_network
from sk1dcnn.nn.layers import Conv1D, Dense, Flatten, GlobalAveragePooling1D, MaxPooling1D
from sk1dcnn.nn.losses import LOSS_FUNCTIONS
from sk1dcnn.nn.network import Sequential
from sk1dcnn.nn.static import JoinStatic, SplitStatic

from _gradcheck import ATOL, RTOL, numerical_grad, randomize_params

TINY = dict(filters=(3,), kernel_size=3, hidden_layer_sizes=(4,), max_iter=2, random_state=0)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _static_task(n=240, T=20, seed=0):
    """Noise signals; the label is the sign of f0 - f1 of two static features only."""
    rng = np.random.default_rng(seed)
    S = rng.standard_normal((n, T))
    f = rng.standard_normal((n, 2))
    return S, f, (f[:, 0] - f[:, 1] > 0).astype(int)


# --------------------------------------------------------------------------- #
# join_static / split_static
# --------------------------------------------------------------------------- #
def test_join_and_split_round_trip_2d_and_3d():
    rng = np.random.default_rng(0)
    S2, S3, F = rng.normal(size=(4, 6)), rng.normal(size=(4, 2, 6)), rng.normal(size=(4, 3))
    X2 = join_static(S2, F)
    assert X2.shape == (4, 9)
    np.testing.assert_array_equal(X2[:, 6:], F)
    s, f = split_static(X2, 3)
    np.testing.assert_array_equal(s, S2)
    np.testing.assert_array_equal(f, F)
    X3 = join_static(S3, F)
    assert X3.shape == (4, 2, 9)
    np.testing.assert_array_equal(X3[:, 0, 6:], F)
    np.testing.assert_array_equal(X3[:, 1, 6:], 0)  # the other channels' tail: ignored, zeros
    s, f = split_static(X3, 3)
    np.testing.assert_array_equal(s, S3)
    np.testing.assert_array_equal(f, F)
    np.testing.assert_array_equal(join_static(S2, F[:, 0]), join_static(S2, F[:, :1]))
    s, f = split_static(X2, 0)
    assert s.shape == (4, 9) and f.shape == (4, 0)


def test_join_and_split_name_bad_input():
    with pytest.raises(ValueError, match="signals and features differ in n_samples: 4 vs 3"):
        join_static(np.zeros((4, 5)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=re.escape("signals must be 2-D (n_samples, n_timepoints)")):
        join_static(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match=re.escape("n_static_features=5 must be less than the number of columns of X (5)")):
        split_static(np.zeros((2, 5)), 5)
    with pytest.raises(ValueError, match="non-negative integer"):
        split_static(np.zeros((2, 5)), -1)


# --------------------------------------------------------------------------- #
# The engine: SplitStatic / JoinStatic against finite differences
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("reduce", ["flatten", "gap"])
def test_network_with_static_features_matches_finite_differences(fuse, reduce):
    k = 3
    red = Flatten() if reduce == "flatten" else GlobalAveragePooling1D()
    net = Sequential([SplitStatic(k), Conv1D(3, 3, padding="same", activation="tanh"),
                      MaxPooling1D(2), red, JoinStatic(k), Dense(4, activation="elu"), Dense(3)],
                     fuse=fuse)
    out = net.build((10 + k, 2), np.random.RandomState(0), np.float64)
    assert out == (3,)
    assert net.layers[0].output_shape == (10, 2)
    assert net.layers[4].output_shape == (net.layers[3].output_shape[0] + k,)
    for layer in net.layers:
        randomize_params(layer)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 10 + k, 2))
    Y = np.eye(3)[[0, 2, 1, 2]]
    w = np.full(4, 0.25)

    def loss():
        return LOSS_FUNCTIONS["categorical_crossentropy"](net.forward(X), Y, w)[0]

    _, dZ = LOSS_FUNCTIONS["categorical_crossentropy"](net.forward(X), Y, w)
    dX = net.backward(dZ, need_dX=True)
    grads = [g.copy() for g in net.grads()]
    for p, g in zip(net.params(), grads):
        np.testing.assert_allclose(g, numerical_grad(loss, p), rtol=RTOL, atol=ATOL)
    # The input gradient reaches the signal and the static features of channel 0;
    # the ignored tail of channel 1 has none.
    num = numerical_grad(loss, X)
    np.testing.assert_allclose(dX, num, rtol=RTOL, atol=ATOL)
    assert np.abs(num[:, 10:, 0]).min() > 0
    np.testing.assert_array_equal(num[:, 10:, 1], 0)
    # Without need_dX no input gradient is computed (as for a network without static features).
    net.forward(X)
    assert net.backward(dZ) is None


def test_join_static_needs_its_split_and_a_vector():
    with pytest.raises(ValueError, match="JoinStatic needs a SplitStatic earlier"):
        Sequential([Flatten(), JoinStatic(2), Dense(1)]).build((5, 1), np.random.RandomState(0))
    with pytest.raises(ValueError, match=re.escape("JoinStatic(n_static=2) follows SplitStatic(n_static=3)")):
        Sequential([SplitStatic(3), Flatten(), JoinStatic(2)]).build((5, 1), np.random.RandomState(0))
    with pytest.raises(ValueError, match="JoinStatic needs a vector input"):
        Sequential([SplitStatic(2), JoinStatic(2)]).build((5, 1), np.random.RandomState(0))
    with pytest.raises(ValueError, match="n_static must be a positive integer"):
        SplitStatic(0)


# --------------------------------------------------------------------------- #
# The estimators
# --------------------------------------------------------------------------- #
def test_the_network_uses_the_static_features():
    S, f, y = _static_task()
    X = join_static(S, f)
    kw = dict(filters=(4,), hidden_layer_sizes=(16,), global_pool="avg", max_iter=60,
              learning_rate_init=1e-2, random_state=0)
    with_static = _quiet(CNN1DClassifier(n_static_features=2, **kw).fit, X[:160], y[:160])
    signal_only = _quiet(CNN1DClassifier(**kw).fit, S[:160], y[:160])
    assert with_static.score(X[160:], y[160:]) >= 0.9
    assert signal_only.score(S[160:], y[160:]) <= 0.7
    # Predictions follow the static features: swapping them flips most labels.
    swapped = join_static(S[160:], f[160:, ::-1])
    assert np.mean(with_static.predict(swapped) != with_static.predict(X[160:])) > 0.8
    names = [type(layer).__name__ for layer in with_static.network_.layers]
    assert names == ["SplitStatic", "Conv1D", "MaxPooling1D", "GlobalAveragePooling1D",
                     "JoinStatic", "Dense", "Dense"]
    assert with_static.n_timepoints_in_ == 22


def test_3d_input_reads_channel_0_and_ignores_the_other_channels_tail():
    rng = np.random.default_rng(0)
    S, F = rng.normal(size=(24, 2, 15)), rng.normal(size=(24, 2))
    X = join_static(S, F)
    clf = _quiet(CNN1DRegressor(**TINY, n_static_features=2).fit, X, rng.normal(size=24))
    X_other = X.copy()
    X_other[:, 1, 15:] = rng.normal(size=(24, 2))
    np.testing.assert_array_equal(clf.predict(X_other), clf.predict(X))
    X_static = X.copy()
    X_static[:, 0, 15:] += 1.0
    assert not np.allclose(clf.predict(X_static), clf.predict(X))


def test_transform_without_a_dense_head_ends_with_the_static_features():
    S, f, y = _static_task(n=30)
    clf = _quiet(CNN1DClassifier(filters=(3,), hidden_layer_sizes=(), global_pool="avg",
                                 n_static_features=2, max_iter=2, random_state=0).fit,
                 join_static(S, f), y)
    E = clf.transform(join_static(S, f))
    assert E.shape == (30, 3 + 2)
    np.testing.assert_allclose(E[:, 3:], f.astype(np.float32), rtol=0, atol=0)


def test_augmentation_leaves_the_static_features_alone(monkeypatch):
    import sk1dcnn._training as training

    seen = []
    real = training.apply_augment

    def spy(X, rng, augment):
        seen.append(X.shape[1])
        return real(X, rng, augment)

    monkeypatch.setattr(training, "apply_augment", spy)
    S, f, y = _static_task(n=40)
    _quiet(CNN1DClassifier(**TINY, augment=True, n_static_features=2).fit, join_static(S, f), y)
    assert seen and set(seen) == {S.shape[1]}


def test_architecture_specs_and_presets_get_the_join_after_the_vectorizing_layer():
    specs = [{"layer": "Conv1D", "filters": 2, "kernel_size": 3}, "GlobalMaxPooling1D",
             {"layer": "Dense", "units": 3}]
    clf = CNN1DClassifier(architecture=specs, n_static_features=7, max_iter=2, random_state=0)
    S, f, y = _static_task(n=20)
    _quiet(clf.fit, join_static(S, np.c_[f, f, f[:, :1]]), y)
    names = [type(layer).__name__ for layer in clf.network_.layers]
    assert names == ["SplitStatic", "Conv1D", "GlobalMaxPooling1D", "JoinStatic", "Dense", "Dense"]
    # A preset (built only): the join follows its global max pooling, before its dense layers.
    text = CNN1DClassifier(architecture="sample_level", n_static_features=7).summary(
        input_shape=(1, 3 ** 8 + 7))
    order = [line.split(":")[1].split("(")[0].strip() for line in text.splitlines()
             if re.match(r"\d+: ", line)]
    assert order[0] == "SplitStatic"
    assert order[order.index("GlobalMaxPooling1D") + 1] == "JoinStatic"
    no_vector = CNN1DClassifier(architecture=[{"layer": "Conv1D", "filters": 2, "kernel_size": 3}],
                                n_static_features=2)
    with pytest.raises(ValueError, match=re.escape("add a Flatten, GlobalAveragePooling1D or GlobalMaxPooling1D")):
        no_vector.fit(join_static(S, f), y)


def test_bad_n_static_features_is_named():
    S, f, y = _static_task(n=20, T=4)
    with pytest.raises(ValueError, match=re.escape(
            "n_static_features=6 must be less than the number of columns of X (6)")):
        CNN1DClassifier(**TINY, n_static_features=6).fit(join_static(S, f), y)
    with pytest.raises(InvalidParameterError, match="n_static_features"):
        CNN1DClassifier(n_static_features=-1).fit(join_static(S, f), y)
    clf = _quiet(CNN1DClassifier(**TINY, n_static_features=2, warm_start=True).fit, join_static(S, f), y)
    clf.set_params(n_static_features=1)
    with pytest.raises(ValueError, match=re.escape(
            "n_static_features=1, but CNN1DClassifier was fitted with 2; warm_start and "
            "partial_fit need the same.")):
        clf.fit(join_static(S, f), y)


def test_static_features_survive_clone_pickle_skops_pipeline_and_grid_search(tmp_path):
    S, f, y = _static_task(n=48)
    X = join_static(S, f)
    clf = CNN1DClassifier(**TINY, n_static_features=2)
    assert clone(clf).get_params()["n_static_features"] == 2
    fitted = _quiet(clf.fit, X, y)
    proba = fitted.predict_proba(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).predict_proba(X), proba)
    persistence = pytest.importorskip("sk1dcnn.persistence")
    pytest.importorskip("skops.io")
    persistence.dump(fitted, tmp_path / "m.skops")
    back = persistence.load(tmp_path / "m.skops")
    np.testing.assert_array_equal(back.predict_proba(X), proba)
    assert back.n_static_features == 2
    pipe = Pipeline([("id", FunctionTransformer()), ("cnn", CNN1DClassifier(**TINY))])
    grid = GridSearchCV(pipe, {"cnn__n_static_features": [0, 2], "cnn__kernel_size": [3]}, cv=2)
    _quiet(grid.fit, X, y)
    assert grid.best_estimator_["cnn"].n_static_features in (0, 2)
    assert [p["cnn__n_static_features"] for p in grid.cv_results_["params"]] == [0, 2]
    assert grid.predict(X).shape == (48,)


def test_default_networks_are_unchanged():
    """n_static_features=0 builds exactly the network of before (the pinned fits check the values)."""
    params = CNN1DClassifier().get_params()
    net = build_network(params, (32, 1), 2, np.random.RandomState(0))
    assert not any(isinstance(layer, (SplitStatic, JoinStatic)) for layer in net.layers)
    assert isinstance(net.layers[0], Conv1D)

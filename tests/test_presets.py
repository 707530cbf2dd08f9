"""sk1dcnn.presets: the sample-level CNN presets and the deep-TSC references FCN, ResNet and
InceptionTime (shapes, parameter counts against the reference Keras code, the estimator option).

The tests of the sk1dcnn.audio package are in tests/audio/, those of the audio
workflow (pipelines.audio) in tests/pipelines/test_audio_workflow.py.
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from sk1dcnn import CNN1DClassifier
from sk1dcnn.nn.blocks import BatchNormalization, ReSEBlock, ResidualBlock
from sk1dcnn.nn.network import Sequential, make_layer
from sk1dcnn.presets import (PRESETS, fcn, get_preset, inception_time, resnet, sample_level,
                             sample_level_filters)


# ---------------------------------------------------------------- presets
def _net(specs, input_shape):
    net = Sequential([make_layer(s) for s in specs])
    net.build(input_shape, np.random.RandomState(0), np.float64)
    return net


def test_sample_level_filters_double_at_block_2_and_last():
    assert sample_level_filters(9, 128) == [128, 128, 256, 256, 256, 256, 256, 256, 512]  # the paper
    assert sample_level_filters(7, 32) == [32, 32, 64, 64, 64, 64, 128]


def test_sample_level_shapes_and_parameter_counts():
    # 81 = 3**4 samples: strided conv -> 27, three blocks -> 9, 3, 1; filters 4, 4, 8
    # (block 2 is both "block 2" and the last: doubled once, as in the paper's code).
    net = _net(sample_level(n_blocks=3, filters=4), (81, 1))
    shapes = [layer.output_shape for layer in net.layers]
    assert shapes == [(27, 4), (27, 4), (27, 4),              # conv k3/s3, BN, ReLU
                      (27, 4), (27, 4), (27, 4), (9, 4),      # block 0
                      (9, 4), (9, 4), (9, 4), (3, 4),         # block 1
                      (3, 8), (3, 8), (3, 8), (1, 8),         # block 2
                      (8,), (8,), (8,), (8,), (8,)]      # global max, dense, BN, ReLU, dropout
    counts = [layer.n_params for layer in net.layers]
    by_hand = [3 * 1 * 4, 2 * 4, 0,            # conv without bias, gamma + beta
               3 * 4 * 4, 2 * 4, 0, 0,
               3 * 4 * 4, 2 * 4, 0, 0,
               3 * 4 * 8, 2 * 8, 0, 0,
               0, 8 * 8, 2 * 8, 0, 0]          # dense without bias
    assert counts == by_hand
    assert net.n_params == 12 + 8 + 56 + 56 + 112 + 64 + 16 == 324


def test_sample_level_res_and_rese_parameter_counts():
    # 81 samples, n_blocks=2, filters=4: widths 4, 8; the second block projects 4 -> 8.
    res = _net(sample_level(n_blocks=2, filters=4, block="res"), (27, 1))
    assert [type(x).__name__ for x in res.layers[3:7]] == [
        "ResidualBlock", "MaxPooling1D", "ResidualBlock", "MaxPooling1D"]
    assert res.layers[-1].output_shape == (8,)
    block0 = 3 * 4 * 4 + 3 * 4 * 4 + 4 * 4                 # two convs + two BNs
    block1 = 3 * 4 * 8 + 3 * 8 * 8 + 4 * 8 + 4 * 8 + 2 * 8  # + 1x1 projection and its BN
    head = 8 * 8 + 2 * 8
    assert [x.n_params for x in res.layers if isinstance(x, ResidualBlock)] == [block0, block1]
    assert res.n_params == 12 + 8 + block0 + block1 + head
    rese = _net(sample_level(n_blocks=2, filters=4, block="rese", se_ratio=2), (27, 1))
    se0 = 2 * 4 * 2 + 2 + 4   # 4 -> 2 -> 4 with biases
    se1 = 2 * 8 * 4 + 4 + 8
    assert [x.n_params for x in rese.layers if isinstance(x, ReSEBlock)] == [block0 + se0, block1 + se1]
    assert rese.n_params == res.n_params + se0 + se1


@pytest.mark.parametrize("name", ["sample_level", "sample_level_res", "sample_level_rese"])
def test_estimator_presets_summary_and_fit(name):
    est = CNN1DClassifier(architecture=name)
    text = est.summary(input_shape=(1, 6561), n_outputs=10)
    assert "(None, 1, 6561)" in text and "(None, 128, 1)" in text and "(None, 10)" in text
    n_blocks = {"sample_level": 0, "sample_level_res": 7, "sample_level_rese": 7}[name]
    assert text.count("Block(") == n_blocks
    # shorter clips still work: the last poolings see fewer than 3 steps and keep one
    short = est.summary(input_shape=(1, 3000))
    assert "(None, 128, 1)" in short and "(None, 64, 1)" in short
    # the name survives clone / get_params and trains on the shipped clips
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 6561)).astype(np.float32), np.arange(12) % 3
    fitted = clone(est).set_params(max_iter=1, batch_size=6, random_state=0).fit(X, y)
    assert fitted.get_params()["architecture"] == name
    assert fitted.predict_proba(X).shape == (12, 3)
    bns = [x for x in fitted.network_.layers if isinstance(x, BatchNormalization)]
    assert bns and not np.all(bns[0].moving_mean == 0)  # running statistics were updated


def test_unknown_preset_is_rejected():
    with pytest.raises(InvalidParameterError, match="architecture"):
        CNN1DClassifier(architecture="sample_levle").fit(np.zeros((4, 81)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="available presets"):
        get_preset("nope")


# ------------------------------------------------- deep-TSC reference presets
# Parameter counts of the reference Keras models (hfawaz/dl-4-tsc classifiers/fcn.py and
# resnet.py, hfawaz/InceptionTime classifiers/inception.py), by hand, for a univariate input
# and K classes. summary() counts the learnable parameters: Keras' "Trainable params". Its
# "Total params" adds each BatchNormalization's moving mean and variance (2 per channel).
def _conv(k, c_in, f, bias=True):
    return k * c_in * f + (f if bias else 0)


def _bn(c):
    return 2 * c  # gamma and beta


FCN_HIDDEN = (_conv(8, 1, 128) + _bn(128) + _conv(5, 128, 256) + _bn(256)
              + _conv(3, 256, 128) + _bn(128))
RESNET_BLOCKS = [
    # three convs (8, 5, 3) with BN, then the shortcut: conv 1x1 + BN, conv 1x1 + BN, BN only
    _conv(8, 1, 64) + _conv(5, 64, 64) + _conv(3, 64, 64) + 3 * _bn(64) + _conv(1, 1, 64) + _bn(64),
    (_conv(8, 64, 128) + _conv(5, 128, 128) + _conv(3, 128, 128) + 3 * _bn(128)
     + _conv(1, 64, 128) + _bn(128)),
    _conv(8, 128, 128) + _conv(5, 128, 128) + _conv(3, 128, 128) + 3 * _bn(128) + _bn(128),
]
# an inception module without bias: three wide convs (40, 20, 10) from the bottleneck (32
# channels; skipped on a 1-channel input), a 1x1 conv after the max pool, BN on 4 * 32
INCEPTION_FIRST = (_conv(40, 1, 32, False) + _conv(20, 1, 32, False) + _conv(10, 1, 32, False)
                   + _conv(1, 1, 32, False) + _bn(128))
INCEPTION_NEXT = (_conv(1, 128, 32, False) + _conv(40, 32, 32, False) + _conv(20, 32, 32, False)
                  + _conv(10, 32, 32, False) + _conv(1, 128, 32, False) + _bn(128))
INCEPTION_SHORTCUTS = [_conv(1, 1, 128, False) + _bn(128), _conv(1, 128, 128, False) + _bn(128)]


def _head(k):
    return 128 * k + k


@pytest.mark.parametrize("name, hidden, keras_trainable_3, keras_total_3", [
    ("fcn", FCN_HIDDEN, 265_091, 265_091 + 2 * (128 + 256 + 128)),
    ("resnet", sum(RESNET_BLOCKS), 504_387, 504_387 + 2 * (4 * 64 + 8 * 128)),
    ("inception_time", INCEPTION_FIRST + 5 * INCEPTION_NEXT + sum(INCEPTION_SHORTCUTS),
     420_579, 420_579 + 2 * 8 * 128),
])
def test_reference_presets_have_the_keras_parameter_counts(name, hidden, keras_trainable_3,
                                                           keras_total_3):
    assert hidden + _head(3) == keras_trainable_3
    for length in (24, 96, 500):  # global average pooling: no count depends on the length
        net = _net(get_preset(name) + [{"layer": "Dense", "units": 3}], (length, 1))
        assert net.n_params == keras_trainable_3
        assert net.layers[-2].output_shape == (128,)
    text = CNN1DClassifier(architecture=name).summary(input_shape=(1, 96), n_outputs=3)
    assert f"Total params: {keras_trainable_3:,}" in text
    # BN moving statistics: Keras' non-trainable parameters
    n_state = sum(a.size for a in net._state_arrays())
    assert net.n_params + n_state == keras_total_3


def test_resnet_blocks_and_shortcuts_follow_the_reference():
    net = _net(resnet(), (50, 1))
    assert [b.n_params for b in net.layers[:3]] == RESNET_BLOCKS
    assert [len(b.shortcut) for b in net.layers[:3]] == [2, 2, 1]  # conv+BN, conv+BN, BN
    assert [b.output_shape for b in net.layers[:3]] == [(50, 64), (50, 128), (50, 128)]


def test_inception_time_groups_modules_in_residual_blocks():
    net = _net(inception_time(), (50, 1))
    first, second = net.layers[0], net.layers[1]
    assert [m.n_params for m in first._nets["body"].layers] == [INCEPTION_FIRST] + 2 * [INCEPTION_NEXT]
    assert [m.n_params for m in second._nets["body"].layers] == 3 * [INCEPTION_NEXT]
    assert [first._nets["shortcut"].n_params, second._nets["shortcut"].n_params] == INCEPTION_SHORTCUTS
    # depth 7: two residual blocks and one module left unwrapped, as in the reference loop
    seven = inception_time(depth=7)
    assert [s["layer"] for s in seven] == ["Residual", "Residual", "InceptionModule",
                                           "GlobalAveragePooling1D"]
    assert [s["layer"] for s in inception_time(depth=4, residual_every=None)] == (
        4 * ["InceptionModule"] + ["GlobalAveragePooling1D"])
    # a multivariate input gets the bottleneck in the first module too
    multi = _net(inception_time(depth=3), (30, 3))
    assert multi.layers[0]._nets["body"].layers[0].n_params == (
        _conv(1, 3, 32, False) + _conv(40, 32, 32, False) + _conv(20, 32, 32, False)
        + _conv(10, 32, 32, False) + _conv(1, 3, 32, False) + _bn(128))


def test_fcn_is_conv_bn_relu_blocks():
    specs = fcn()
    assert [s["layer"] for s in specs] == 3 * ["Conv1D", "BatchNormalization", "Activation"] + [
        "GlobalAveragePooling1D"]
    assert [(s["filters"], s["kernel_size"]) for s in specs[0:9:3]] == [(128, 8), (256, 5), (128, 3)]


@pytest.mark.parametrize("name", ["fcn", "resnet", "inception_time"])
def test_reference_presets_fit_tiny_and_very_short_series(name):
    """Small widths keep this fast; the presets themselves are checked above. A 3-step
    series is not too short: every convolution is 'same'-padded and pooling keeps one step."""
    small = {"fcn": fcn(filters=(4, 6, 4)), "resnet": resnet(filters=(3, 4, 4)),
             "inception_time": inception_time(depth=3, filters=2, kernel_sizes=(8, 4, 2),
                                              bottleneck=2)}[name]
    rng = np.random.default_rng(0)
    y = np.arange(12) % 3
    for length in (40, 3):
        X = rng.standard_normal((12, length)) + y[:, None]
        est = CNN1DClassifier(architecture=small, max_iter=2, batch_size=6, random_state=0,
                              dtype="float64").fit(X, y)
        assert est.predict_proba(X).shape == (12, 3)
    assert clone(CNN1DClassifier(architecture=name)).get_params()["architecture"] == name


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_inception_time_ensemble_recipe_with_clone_and_grid_search():
    """docs/architectures.md's recipe: soft voting over networks that differ only in
    their seed (InceptionTime averages 5 networks' probabilities). It clones, and
    GridSearchCV searches a parameter shared by every member through ``estimators``."""
    from sklearn.ensemble import VotingClassifier
    from sklearn.model_selection import GridSearchCV

    def seeds(est, n=5):
        return [(f"seed{s}", clone(est).set_params(random_state=s)) for s in range(n)]

    small = inception_time(depth=3, filters=2, kernel_sizes=(4, 2), bottleneck=2)
    base = CNN1DClassifier(architecture=small, max_iter=2, batch_size=6, dtype="float64")
    rng = np.random.default_rng(0)
    y = np.arange(18) % 2
    X = rng.standard_normal((18, 16)) + y[:, None]
    ensemble = VotingClassifier(seeds(base, 3), voting="soft").fit(X, y)
    members = [est.predict_proba(X) for est in ensemble.estimators_]
    np.testing.assert_allclose(ensemble.predict_proba(X), np.mean(members, axis=0), rtol=1e-12)
    assert not np.allclose(members[0], members[1])  # the seeds differ
    again = clone(ensemble).fit(X, y)  # every member seeded: the same ensemble
    np.testing.assert_array_equal(again.predict_proba(X), ensemble.predict_proba(X))
    grid = {"estimators": [seeds(clone(base).set_params(learning_rate_init=lr), 2)
                           for lr in (1e-3, 1e-2)]}
    search = GridSearchCV(VotingClassifier(seeds(base, 2), voting="soft"), grid, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 2
    assert search.best_estimator_.predict_proba(X).shape == (18, 2)

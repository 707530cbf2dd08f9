"""sk1dcnn.presets: the sample-level CNN presets (shapes, parameter counts, the estimator option).

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
from sk1dcnn.presets import PRESETS, get_preset, sample_level, sample_level_filters


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


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_estimator_presets_summary_and_fit(name):
    est = CNN1DClassifier(architecture=name)
    text = est.summary(input_shape=(1, 6561), n_outputs=10)
    assert "(None, 1, 6561)" in text and "(None, 128, 1)" in text and "(None, 10)" in text
    n_blocks = {"sample_level": 0, "sample_level_res": 7, "sample_level_rese": 7}[name]
    assert text.count("Block(") == n_blocks
    with pytest.raises(ValueError, match="too short"):
        est.summary(input_shape=(1, 3000))
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

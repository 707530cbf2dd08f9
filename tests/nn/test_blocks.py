"""Blocks of sk1dcnn.nn.blocks: central finite differences in float64, running statistics.

For a layer ``Y = f(X; params)`` the scalar ``sum(Y * R)`` (``R`` fixed) has
gradient ``backward(R)`` w.r.t. ``X`` and ``layer.grads`` w.r.t. every
parameter; each entry is compared with ``(f(x + eps) - f(x - eps)) / (2 eps)``.
"""

import copy
import pickle

import numpy as np
import pytest
from scipy.special import expit

from sk1dcnn.nn.blocks import BatchNormalization, ReSEBlock, ResidualBlock, SqueezeExcitation
from sk1dcnn.nn.network import Sequential
from sk1dcnn.nn.optim import AdamOptimizer

from _gradcheck import build, check_layer


def randomize(layer, seed=1):
    """Move params (and BN statistics) away from their initial values."""
    rng = np.random.default_rng(seed)
    for p in layer.params.values():
        p += 0.3 * rng.standard_normal(p.shape)
    bns = [layer] if isinstance(layer, BatchNormalization) else [
        sub for sub in getattr(layer, "sublayers", {}).values() if isinstance(sub, BatchNormalization)]
    for bn in bns:
        bn.moving_mean[:] = rng.standard_normal(bn.moving_mean.shape)
        bn.moving_variance[:] = rng.uniform(0.5, 2.0, bn.moving_variance.shape)
    return layer


X_SEQ = np.random.default_rng(0).standard_normal((3, 7, 4))


# ------------------------------------------------------------------ batch norm
@pytest.mark.parametrize("shape", [(3, 7, 4), (5, 6)], ids=["sequence", "flat"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "predict"])
def test_batchnorm_gradient(shape, training):
    X = np.random.default_rng(0).standard_normal(shape) * 2 + 1
    bn = randomize(build(BatchNormalization(), shape[1:]))
    check_layer(bn, X, training)


def test_batchnorm_without_center_scale_gradient():
    bn = build(BatchNormalization(center=False, scale=False), (7, 4))
    assert bn.params == {}
    check_layer(bn, X_SEQ, True)


def test_batchnorm_training_normalises_and_updates_running_stats():
    X = np.random.default_rng(0).normal(3.0, 2.0, size=(8, 50, 3))
    bn = build(BatchNormalization(momentum=0.9), (50, 3))
    Y = bn.forward(X, training=True)
    flat = Y.reshape(-1, 3)
    np.testing.assert_allclose(flat.mean(axis=0), 0, atol=1e-12)
    var = X.reshape(-1, 3).var(axis=0)
    np.testing.assert_allclose(flat.var(axis=0), var / (var + 1e-3), rtol=1e-10)
    mean = X.reshape(-1, 3).mean(axis=0)
    # bias-corrected: after one update the running statistics are the batch's
    np.testing.assert_allclose(bn.moving_mean, mean)
    np.testing.assert_allclose(bn.moving_variance, var)
    assert bn.moving_mean.dtype == np.float64 and bn.n_updates == 1


def test_batchnorm_running_stats_are_a_normalised_exponential_average():
    """After t updates: sum_i m**(t-i) * batch_i / sum_i m**(t-i), with no trace of the
    initial 0 and 1 (Keras' plain update keeps m**t of them)."""
    rng = np.random.default_rng(0)
    batches = [rng.normal(2.0, 0.1, size=(4, 5, 2)) for _ in range(6)]
    bn = build(BatchNormalization(momentum=0.7), (5, 2))
    for B in batches:
        bn.forward(B, training=True)
    w = 0.7 ** np.arange(len(batches))[::-1]
    w /= w.sum()
    means = np.array([B.reshape(-1, 2).mean(axis=0) for B in batches])
    variances = np.array([B.reshape(-1, 2).var(axis=0) for B in batches])
    np.testing.assert_allclose(bn.moving_mean, w @ means, rtol=1e-12)
    np.testing.assert_allclose(bn.moving_variance, w @ variances, rtol=1e-12)
    # a layer pickled before the correction (no n_updates) keeps Keras' update
    old = build(BatchNormalization(momentum=0.7), (5, 2))
    del old.n_updates
    old.forward(batches[0], training=True)
    np.testing.assert_allclose(old.moving_variance, 0.7 + 0.3 * variances[0], rtol=1e-12)


def test_batchnorm_predict_uses_running_stats():
    X = np.random.default_rng(0).normal(3.0, 2.0, size=(16, 20, 3)).astype(np.float32)
    bn = BatchNormalization()
    bn.build((20, 3), np.random.RandomState(0), np.float32)
    bn.params["gamma"][:] = [1.0, 2.0, 0.5]
    bn.params["beta"][:] = [0.0, -1.0, 1.0]
    for _ in range(1000):  # momentum 0.99: converges to the batch statistics
        bn.forward(X, training=True)
    flat = X.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(bn.moving_mean, flat.mean(axis=0), rtol=1e-4)
    np.testing.assert_allclose(bn.moving_variance, flat.var(axis=0), rtol=1e-4)
    assert bn.moving_mean.dtype == bn.moving_variance.dtype == np.float64
    # predict: fixed statistics, independent of the batch (one sample alone)
    Y1 = bn.forward(X[:1], training=False)
    expected = (X[:1] - bn.moving_mean) / np.sqrt(bn.moving_variance + 1e-3) * [1.0, 2.0, 0.5] + [0, -1, 1]
    assert Y1.dtype == np.float32
    np.testing.assert_allclose(Y1, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.forward(X, training=False)[:1], Y1, rtol=1e-6)
    scale, shift = bn.inference_affine()
    np.testing.assert_allclose(X[:1] * scale + shift, expected, rtol=1e-5, atol=1e-5)


# -------------------------------------------------------- squeeze-excitation
def test_squeeze_excitation_gradient_and_forward():
    se = randomize(build(SqueezeExcitation(ratio=2), (7, 4)))
    assert se.sublayers["dense1"].units == 2
    Y = check_layer(se, X_SEQ, True)
    P = se.params
    s = X_SEQ.mean(axis=1)
    g = expit(np.maximum(s @ P["dense1_W"] + P["dense1_b"], 0) @ P["dense2_W"] + P["dense2_b"])
    np.testing.assert_allclose(Y, X_SEQ * g[:, None, :], rtol=1e-12)


def test_squeeze_excitation_amplifying_ratio():
    se = build(SqueezeExcitation(ratio=1 / 16), (5, 4))  # Kim et al.: alpha = 16
    assert se.sublayers["dense1"].units == 64
    assert se.n_params == 2 * 4 * 64 + 64 + 4
    assert build(SqueezeExcitation(units=3), (5, 4)).sublayers["dense1"].units == 3


# -------------------------------------------------------------- residual blocks
@pytest.mark.parametrize("cls", [ResidualBlock, ReSEBlock])
@pytest.mark.parametrize("channels_in", [5, 4], ids=["projection", "identity"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "predict"])
def test_residual_blocks_gradient(cls, channels_in, training):
    kw = {"se_ratio": 2} if cls is ReSEBlock else {}
    block = randomize(build(cls(4, kernel_size=3, **kw), (6, channels_in)))
    X = np.random.default_rng(2).standard_normal((3, 6, channels_in))
    Y = check_layer(block, X, training)
    assert Y.shape == (3, 6, 4)
    assert ("skip_W" in block.params) == (channels_in != 4)
    assert ("se_dense1_W" in block.params) == (cls is ReSEBlock)


def test_residual_block_with_dropout_gradient():
    block = randomize(build(ResidualBlock(3, dropout=0.3), (6, 2)))
    X = np.random.default_rng(3).standard_normal((2, 6, 2))
    check_layer(block, X, True, seed=7)


def test_residual_block_identity_skip_forward():
    block = build(ResidualBlock(4), (6, 4))
    X = np.abs(X_SEQ[:, :6]) + 1
    for k in block.params:  # zero residual branch: Y = relu(X)
        if k.startswith("bn2_"):
            block.params[k][...] = 0
    np.testing.assert_allclose(block.forward(X, training=True), X)


def test_block_params_are_the_sublayers_arrays():
    block = build(ReSEBlock(4, se_ratio=2), (6, 3))
    conv1 = block.sublayers["conv1"]
    assert block.params["conv1_W"] is conv1.params["W"]
    assert set(block.penalized) == {"conv1_W", "conv2_W", "skip_W", "se_dense1_W", "se_dense2_W"}
    # an optimizer step on the flat list reaches the sub-layer
    net = Sequential([block])
    net.build((6, 3), np.random.RandomState(0), np.float64)
    before = net.get_weights()
    net.forward(np.random.default_rng(0).standard_normal((2, 6, 3)), training=True)
    net.backward(np.ones((2, 6, 4)))
    opt = AdamOptimizer(net.params(), 0.1)
    opt.update_params(net.params(), net.grads())
    assert not np.array_equal(before[0], block.sublayers["conv1"].params["W"])
    # deepcopy and pickle keep the aliasing
    for clone in (copy.deepcopy(block), pickle.loads(pickle.dumps(block))):
        assert clone.params["conv1_W"] is clone.sublayers["conv1"].params["W"]


def test_parameter_counts():
    # ResidualBlock, projection 3 -> 8: k*C*F + k*F*F + 4F + C*F + 2F
    assert build(ResidualBlock(8), (9, 3)).n_params == 3 * 3 * 8 + 3 * 8 * 8 + 4 * 8 + 3 * 8 + 2 * 8
    assert build(ResidualBlock(8), (9, 8)).n_params == 3 * 8 * 8 * 2 + 4 * 8
    # ReSE adds 2 * F * h + h + F with h = F / se_ratio
    assert build(ReSEBlock(8, se_ratio=4), (9, 8)).n_params == 3 * 8 * 8 * 2 + 4 * 8 + 2 * 8 * 2 + 2 + 8
    assert build(BatchNormalization(), (9, 8)).n_params == 16

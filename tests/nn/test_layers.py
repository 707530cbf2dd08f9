"""Backward passes against central finite differences (float64, small shapes).

For a layer ``Y = f(X; params)`` the scalar ``sum(Y * R)`` (``R`` fixed and
random) has gradient ``backward(R)`` w.r.t. ``X`` and ``layer.grads`` w.r.t.
the parameters; each is compared with ``(f(x + eps) - f(x - eps)) / (2 eps)``
entry by entry. Stochastic layers (rrelu, Dropout) get a freshly seeded rng on
every forward so both sides of a difference see the same random draw.
"""

import numpy as np
import pytest

from sk1dcnn.nn.activations import ALL_ACTIVATIONS, RRELU_LOWER, RRELU_UPPER
from sk1dcnn.nn.layers import (
    Activation, AveragePooling1D, Conv1D, Dense, Dropout, Flatten, GlobalAveragePooling1D,
    GlobalMaxPooling1D, MaxPooling1D)

from _gradcheck import build, check_layer, randomize_params


def away_from_kinks(shape, seed):
    """Values in +-[0.05, 8], none within 0.1 of relu6's kink at 6."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.05, 8.0, shape) * rng.choice([-1.0, 1.0], shape)
    x[np.abs(np.abs(x) - 6.0) < 0.1] += 0.3
    return x


def distinct_values(shape, seed):
    """Well-separated values (gaps of 0.1) so max-pooling has no near-ties."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))) * 0.1 - 1.0).reshape(shape)


# --------------------------------------------------------------------------- #
# Conv1D
# --------------------------------------------------------------------------- #
CONV_CASES = [
    dict(padding="valid"),
    dict(padding="same"),
    dict(padding="causal"),
    dict(padding="valid", strides=2),
    dict(padding="same", strides=2),
    dict(padding="same", strides=3),
    dict(padding="causal", strides=2),
    dict(padding="valid", dilation_rate=2),
    dict(padding="same", dilation_rate=2),
    dict(padding="causal", dilation_rate=3),
    dict(padding="same", kernel_size=4),
    dict(padding="same", kernel_size=4, strides=2),
    dict(padding="valid", kernel_size=1),
    dict(padding="same", use_bias=False),
]


@pytest.mark.parametrize("cfg", CONV_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_conv1d_gradients(cfg):
    cfg = dict(cfg)
    K = cfg.pop("kernel_size", 3)
    layer = randomize_params(build(Conv1D(3, K, **cfg), (10, 2)))
    X = np.random.default_rng(0).standard_normal((2, 10, 2))
    Y = check_layer(layer, X)
    assert Y.shape == (2,) + layer.output_shape


@pytest.mark.parametrize("activation", ["relu", "tanh", "elu", "swish", "sigmoid", "prelu",
                                        "softplus", "leaky_relu"])
@pytest.mark.parametrize("padding", ["same", "causal"])
def test_conv1d_fused_activation_gradients(activation, padding):
    layer = randomize_params(build(Conv1D(3, 3, padding=padding, activation=activation), (9, 2)))
    if activation == "prelu":
        assert set(layer.params) == {"W", "b", "act_alpha"}
    X = np.random.default_rng(1).standard_normal((2, 9, 2))
    check_layer(layer, X)


def test_conv1d_fused_activation_equals_separate_layers():
    conv = build(Conv1D(3, 3, padding="same", activation="tanh"), (8, 2))
    plain = build(Conv1D(3, 3, padding="same"), (8, 2))
    plain.params["W"][...] = conv.params["W"]
    X = np.random.default_rng(2).standard_normal((2, 8, 2))
    np.testing.assert_allclose(conv.forward(X), np.tanh(plain.forward(X)), rtol=1e-13)


def test_conv1d_rrelu_training_gradients():
    layer = randomize_params(build(Conv1D(3, 3, padding="same", activation="rrelu"), (8, 2)))
    X = np.random.default_rng(3).standard_normal((2, 8, 2))
    check_layer(layer, X, training=True, seed=0)


# --------------------------------------------------------------------------- #
# Dense
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("activation", [None, "relu", "tanh", "prelu", "sigmoid"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_gradients(activation, use_bias):
    layer = randomize_params(build(Dense(4, activation=activation, use_bias=use_bias), (5,)))
    X = np.random.default_rng(4).standard_normal((3, 5))
    Y = check_layer(layer, X)
    assert Y.shape == (3, 4)


# --------------------------------------------------------------------------- #
# Activations
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", ALL_ACTIVATIONS)
@pytest.mark.parametrize("shape", [(2, 6, 3), (4, 3)])
def test_activation_layer_gradients(name, shape):
    layer = randomize_params(build(Activation(name), shape[1:]))
    X = away_from_kinks(shape, seed=len(name))
    if name == "prelu":
        assert set(layer.params) == {"alpha"} and layer.params["alpha"].shape == (shape[-1],)
    check_layer(layer, X)


@pytest.mark.parametrize("shape", [(2, 6, 3), (4, 3)])
def test_rrelu_training_gradients_with_fixed_rng(shape):
    layer = build(Activation("rrelu"), shape[1:])
    X = away_from_kinks(shape, seed=5)
    check_layer(layer, X, training=True, seed=0)


def test_rrelu_slopes():
    layer = build(Activation("rrelu"), (50, 4))
    X = -np.random.default_rng(6).uniform(0.5, 2.0, (3, 50, 4))
    slope = layer.forward(X, True, np.random.default_rng(0)) / X
    assert np.all(slope >= RRELU_LOWER) and np.all(slope <= RRELU_UPPER)
    assert slope.std() > 0.01  # one draw per element
    again = layer.forward(X, True, np.random.default_rng(0)) / X
    np.testing.assert_array_equal(slope, again)
    # predict time: the mean slope, deterministically
    A = layer.forward(X, False, None)
    np.testing.assert_allclose(A, X * (RRELU_LOWER + RRELU_UPPER) / 2, rtol=1e-14)
    Xpos = -X
    np.testing.assert_array_equal(layer.forward(Xpos, True, np.random.default_rng(0)), Xpos)


def test_prelu_is_per_channel():
    layer = build(Activation("prelu"), (4, 2))
    layer.params["alpha"][...] = [0.1, 0.5]
    X = np.array([[[-1.0, -2.0], [3.0, -4.0], [-0.5, 1.0], [2.0, 2.0]]])
    expected = np.array([[[-0.1, -1.0], [3.0, -2.0], [-0.05, 1.0], [2.0, 2.0]]])
    np.testing.assert_allclose(layer.forward(X), expected)


# --------------------------------------------------------------------------- #
# Pooling, Flatten, Dropout
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("cls", [MaxPooling1D, AveragePooling1D])
@pytest.mark.parametrize("pool_size, strides", [(2, None), (3, 2), (3, 1), (2, 3), (4, None)])
def test_pooling_gradients(cls, pool_size, strides):
    layer = build(cls(pool_size, strides), (11, 3))
    X = distinct_values((2, 11, 3), seed=pool_size)
    Y = check_layer(layer, X)
    assert Y.shape == (2,) + layer.output_shape


@pytest.mark.parametrize("cls", [GlobalMaxPooling1D, GlobalAveragePooling1D])
def test_global_pooling_gradients(cls):
    layer = build(cls(), (7, 3))
    X = distinct_values((2, 7, 3), seed=8)
    Y = check_layer(layer, X)
    ref = X.max(axis=1) if cls is GlobalMaxPooling1D else X.mean(axis=1)
    np.testing.assert_allclose(Y, ref, rtol=1e-14)


def test_flatten_gradients():
    layer = build(Flatten(), (4, 3))
    X = np.random.default_rng(9).standard_normal((2, 4, 3))
    Y = check_layer(layer, X)
    np.testing.assert_array_equal(Y[1], X[1].ravel())


@pytest.mark.parametrize("shape", [(3, 5, 2), (4, 6)])
def test_dropout_training_gradients(shape):
    layer = build(Dropout(0.4), shape[1:])
    X = np.random.default_rng(10).standard_normal(shape)
    Y = check_layer(layer, X, training=True, seed=0)
    kept = Y != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(Y[kept], X[kept] / 0.6, rtol=1e-14)
    # predict time is the identity
    np.testing.assert_array_equal(layer.forward(X, False, None), X)


def test_global_max_pooling_ties_go_to_first_max():
    layer = build(GlobalMaxPooling1D(), (5, 2))
    X = np.array([[[0.0, 1.0], [2.0, 1.0], [2.0, 0.0], [1.0, 1.0], [2.0, -1.0]]])
    np.testing.assert_array_equal(layer.forward(X), [[2.0, 1.0]])
    dX = layer.backward(np.array([[3.0, 4.0]]))
    expected = np.zeros_like(X)
    expected[0, 1, 0] = 3.0
    expected[0, 0, 1] = 4.0
    np.testing.assert_array_equal(dX, expected)


def test_fused_activation_follows_replaced_slope_array():
    # set_weights writes in place, but a replaced params entry must be used too
    for layer, shape in [(Conv1D(2, 3, padding="same", activation="prelu"), (2, 6, 2)),
                         (Dense(2, activation="prelu"), (2, 3))]:
        build(layer, shape[1:])
        X = -np.abs(np.random.default_rng(0).standard_normal(shape))
        layer.params["act_alpha"] = np.zeros(2)
        if "b" in layer.params:
            layer.params["b"][...] = -10.0  # every pre-activation negative
        np.testing.assert_array_equal(layer.forward(X), 0.0)


LAYER_FACTORIES = [
    (lambda: Conv1D(3, 3, padding="same", activation="relu"), (8, 2)),
    (lambda: Conv1D(3, 2, strides=2, activation="prelu"), (8, 2)),
    (lambda: Dense(3, activation="elu"), (4,)),
    (lambda: MaxPooling1D(2), (8, 2)),
    (lambda: AveragePooling1D(3, 2), (8, 2)),
    (lambda: GlobalMaxPooling1D(), (8, 2)),
    (lambda: GlobalAveragePooling1D(), (8, 2)),
    (lambda: Flatten(), (8, 2)),
    (lambda: Dropout(0.5), (8, 2)),
] + [(lambda name=name: Activation(name), (8, 2)) for name in ALL_ACTIVATIONS]


@pytest.mark.parametrize("factory, shape", LAYER_FACTORIES)
def test_layers_keep_float32(factory, shape):
    layer = factory()
    layer.build(shape, np.random.RandomState(0), np.float32)
    assert all(p.dtype == np.float32 for p in layer.params.values())
    X = np.random.default_rng(0).standard_normal((2,) + shape).astype(np.float32)
    Y = layer.forward(X, True, np.random.default_rng(0))
    assert Y.dtype == np.float32, type(layer)
    dX = layer.backward(np.ones_like(Y))
    assert dX.dtype == np.float32, type(layer)
    assert all(g.dtype == np.float32 for g in layer.grads.values()), type(layer)

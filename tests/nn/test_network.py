"""Sequential and make_layer: whole networks against finite differences (run fast and
plain), layer specs, plans, weights, summaries and pickles."""

import pickle

import numpy as np
import pytest

from sk1dcnn.nn.blocks import BatchNormalization, ReSEBlock, ResidualBlock
from sk1dcnn.nn.layers import (
    Activation, AveragePooling1D, Conv1D, Dense, Dropout, Flatten, GlobalAveragePooling1D,
    GlobalMaxPooling1D, MaxPooling1D)
from sk1dcnn.nn.losses import LOSS_FUNCTIONS
from sk1dcnn.nn.network import Sequential, Step, make_layer

from _gradcheck import ATOL, RTOL, numerical_grad, randomize_params


# --------------------------------------------------------------------------- #
# Whole networks against finite differences, fast (fuse=True) and plain
# --------------------------------------------------------------------------- #
def check_network(net, X, loss_name, Y, w, training=False):
    def forward():
        rng = np.random.default_rng(0) if training else None
        return net.forward(X, training, rng)

    def loss():
        return LOSS_FUNCTIONS[loss_name](forward(), Y, w)[0]

    Z = forward()
    _, dZ = LOSS_FUNCTIONS[loss_name](Z, Y, w)
    net.backward(dZ)
    params, grads = net.params(), [g.copy() for g in net.grads()]
    assert len(params) == len(grads) == sum(len(layer.params) for layer in net.layers)
    for i, (p, g) in enumerate(zip(params, grads)):
        assert g.shape == p.shape
        np.testing.assert_allclose(g, numerical_grad(loss, p), rtol=RTOL, atol=ATOL,
                                   err_msg=f"parameter {i} of shape {p.shape}")


@pytest.mark.parametrize("fuse", [True, False])
def test_sequential_conv_pool_dense_gradients(fuse):
    net = Sequential([
        Conv1D(4, 3, padding="same", activation="tanh"),
        MaxPooling1D(2),
        Conv1D(3, 2, padding="causal", dilation_rate=2, activation="elu"),
        GlobalAveragePooling1D(),
        Dense(5, activation="swish"),
        Dense(3),
    ], fuse=fuse)
    out = net.build((12, 2), np.random.RandomState(0), np.float64)
    assert out == (3,)
    for layer in net.layers:
        randomize_params(layer)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 12, 2))
    Y = np.eye(3)[[0, 2, 1, 2]]
    w = np.array([0.1, 0.2, 0.3, 0.4])
    check_network(net, X, "categorical_crossentropy", Y, w)


@pytest.mark.parametrize("fuse", [True, False])
def test_sequential_strided_globalmax_dropout_training_gradients(fuse):
    net = Sequential([
        Conv1D(3, 3, strides=2, padding="valid", activation="prelu"),
        AveragePooling1D(2, strides=1),
        Conv1D(4, 2, padding="same", activation="sigmoid"),
        GlobalMaxPooling1D(),
        Dropout(0.3),
        Dense(2),
    ], fuse=fuse)
    net.build((15, 3), np.random.RandomState(1), np.float64)
    for layer in net.layers:
        randomize_params(layer, seed=2)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 15, 3))
    Y = rng.integers(0, 2, (3, 2)).astype(float)
    check_network(net, X, "binary_crossentropy", Y, np.full(3, 1 / 3), training=True)


@pytest.mark.parametrize("fuse", [True, False])
def test_sequential_flatten_squared_error_gradients(fuse):
    net = Sequential([Conv1D(2, 3, padding="valid", activation="softplus"), Flatten(),
                      Dense(2)], fuse=fuse)
    net.build((6, 2), np.random.RandomState(2), np.float64)
    for layer in net.layers:
        randomize_params(layer, seed=3)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((3, 6, 2))
    check_network(net, X, "squared_error", rng.standard_normal((3, 2)),
                  np.array([0.5, 0.25, 0.25]))


def test_make_layer_specs_and_network():
    specs = [
        {"layer": "ResidualBlock", "filters": 4, "dropout": 0.2},
        ("MaxPooling1D", {"pool_size": 3}),
        {"layer": "ReSEBlock", "filters": 6, "se_ratio": 3},
        {"layer": "BatchNormalization", "momentum": 0.9},
        "GlobalMaxPooling1D",
        {"layer": "SqueezeExcitation"},
    ]
    layers = [make_layer(s) for s in specs[:5]]
    assert [type(x).__name__ for x in layers] == [
        "ResidualBlock", "MaxPooling1D", "ReSEBlock", "BatchNormalization", "GlobalMaxPooling1D"]
    assert make_layer(layers[2]).get_config() == {"filters": 6, "kernel_size": 3, "se_ratio": 3}
    assert repr(layers[0]) == "ResidualBlock(filters=4, kernel_size=3, dropout=0.2)"
    net = Sequential(layers + [Dense(3)])
    net.build((9, 2), np.random.RandomState(0), np.float64)
    assert net.output_shape == (3,)
    assert "ReSEBlock" in net.summary()
    with pytest.raises(ValueError, match="sequence input"):
        Sequential([GlobalMaxPooling1D(), make_layer(specs[5])]).build((9, 2), None, np.float64)


@pytest.mark.parametrize("fuse", [True, False])
def test_network_gradient_through_blocks(fuse):
    """Whole stack in training mode: ReSE -> pool -> Res -> global max -> BN(flat) -> Dense."""
    net = Sequential([ReSEBlock(3, se_ratio=1), MaxPooling1D(2), ResidualBlock(3),
                      GlobalMaxPooling1D(), BatchNormalization(), Dense(2)], fuse=fuse)
    net.build((8, 2), np.random.RandomState(0), np.float64)
    X = np.random.default_rng(4).standard_normal((4, 8, 2))
    R = np.random.default_rng(5).standard_normal((4, 2))
    net.forward(X, training=True)
    net.backward(R)
    for p, g in zip(net.params(), net.grads()):
        num = numerical_grad(lambda: float(np.sum(net.forward(X, training=True) * R)), p)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)



@pytest.mark.parametrize("spec, message", [
    ({"filters": 3}, "has no 'layer' key"),
    ("Conv2D", "Unknown layer 'Conv2D'; available layers: "),
    ({"layer": "Dense", "unit": 3}, "Bad arguments for Dense: "),
    (42, "Cannot read layer spec 42"),
])
def test_make_layer_names_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match=message):
        make_layer(spec)


def test_too_short_input_names_the_layer_where_the_length_runs_out():
    net = Sequential([Conv1D(2, 3, padding="same"), MaxPooling1D(4), Conv1D(2, 3), Flatten()])
    with pytest.raises(ValueError, match=r"n_timepoints=10 is too short for this network: "
                                         r"layer 2 Conv1D\(filters=2, kernel_size=3, "
                                         r"padding='valid'\) gets length 2"):
        net.build((10, 1), np.random.RandomState(0), np.float64)


def test_plan_fuses_only_with_the_switch_on():
    layers = [Conv1D(4, 3, padding="same", activation="relu"), MaxPooling1D(2),
              Conv1D(4, 3, padding="same"), BatchNormalization(), Activation("relu"),
              Conv1D(2, 3, padding="same", activation="tanh"), GlobalAveragePooling1D(), Dense(2)]
    net = Sequential(layers)
    net.build((16, 1), np.random.RandomState(0), np.float64)
    assert net.plan(training=True) == [
        Step(0, 2, "conv_pool"), Step(2, 1, "conv"), Step(3, 1, "layer"), Step(4, 1, "layer"),
        Step(5, 1, "conv"), Step(6, 1, "layer"), Step(7, 1, "layer")]
    assert net.plan(training=False)[1] == Step(2, 3, "conv_bn")
    assert net.plan(3, training=False)[-1] == Step(2, 1, "conv")  # the BN is past the end
    net.fuse = False
    assert net.plan(training=False) == [Step(i, 1, "layer") for i in range(len(layers))]


def test_get_and_set_weights_restore_parameters_and_running_statistics():
    net = Sequential([Conv1D(3, 3, padding="same"), BatchNormalization(), GlobalAveragePooling1D(),
                      Dense(2)])
    net.build((8, 2), np.random.RandomState(0), np.float64)
    X = np.random.default_rng(0).standard_normal((4, 8, 2)) + 3
    saved = net.get_weights()
    predicted = net.forward(X)
    net.forward(X, training=True)  # moves the running statistics
    for p in net.params():
        p += 1.0
    assert not np.allclose(net.forward(X), predicted)
    net.set_weights(saved)
    np.testing.assert_array_equal(net.forward(X), predicted)


def test_summary_counts_parameters_and_flops():
    net = Sequential([Conv1D(4, 3, padding="same"), MaxPooling1D(2), Flatten(), Dense(2)])
    net.build((10, 3), np.random.RandomState(0), np.float64)
    text = net.summary()
    assert net.n_params == 4 * (3 * 3 + 1) + (5 * 4 * 2 + 2)
    assert f"Total params: {net.n_params:,}" in text
    assert "(None, 4, 5)" in text  # channels-first after the pooling
    assert net.flops() == 2 * 10 * 3 * 3 * 4 + 2 * 20 * 2


@pytest.mark.parametrize("fuse", [True, False])
def test_a_pickled_network_keeps_its_switch_and_drops_its_buffers(fuse):
    net = Sequential([Conv1D(3, 3, padding="same", activation="relu"), MaxPooling1D(2),
                      GlobalAveragePooling1D(), Dense(2)], fuse=fuse)
    net.build((12, 1), np.random.RandomState(0), np.float32)
    X = np.random.default_rng(0).standard_normal((3, 12, 1)).astype(np.float32)
    Y = net.forward(X, training=True)
    clone = pickle.loads(pickle.dumps(net))
    assert clone.fuse is fuse and clone._runners == {}
    np.testing.assert_array_equal(clone.forward(X), net.forward(X))
    assert Y.dtype == np.float32


def test_forward_output_of_a_dense_relu_survives_the_next_pass():
    """A Dense with a fused ReLU writes into a reused buffer: forward copies it, so
    the embeddings of one chunk are not overwritten by the next (transform in chunks)."""
    net = Sequential([Flatten(), Dense(4, activation="relu")])
    net.build((3, 1), np.random.RandomState(0), np.float64)
    rng = np.random.default_rng(0)
    X1, X2 = rng.standard_normal((5, 3, 1)), rng.standard_normal((2, 3, 1))
    first = net.forward(X1)
    expected = first.copy()
    net.forward(X2)
    np.testing.assert_array_equal(first, expected)


def test_float32_predictions_of_a_row_do_not_depend_on_the_batch():
    """A one-unit float32 Dense goes through einsum (BLAS's matrix-vector kernels round a
    row differently with the number of rows); the estimators run a lone sample as a
    batch of two (a one-row matrix product is matrix-vector too). Rows of a batch
    then equal the same rows computed in a batch of two, bit for bit."""
    net = Sequential([Flatten(), Dense(64, activation="relu"), Dense(1)])
    net.build((3, 1), np.random.RandomState(0), np.float32)
    X = np.random.default_rng(0).uniform(0, 3, (20, 3, 1)).astype(np.float32)
    full = net.forward(X)
    pairs = np.concatenate([net.forward(np.concatenate([X[i:i + 1]] * 2))[:1] for i in range(20)])
    np.testing.assert_array_equal(full, pairs)

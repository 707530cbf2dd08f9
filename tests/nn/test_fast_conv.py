"""The engine's fast paths (sk1dcnn.nn.fast_conv) equal the plain reference.

* Buffer-reusing kernels of :mod:`sk1dcnn.nn.ops` against the plain ones.
* :class:`FastConv` against the plain :class:`Conv1D` (``ops.conv1d_forward/backward``),
  whose gradients tests/nn/test_layers.py checks against finite differences.
* A network run fast (``Sequential(fuse=True)``: FastConv, Conv1D + MaxPooling1D
  in one step pooling the raw matmul output before bias and activation, pooling by
  phases, BatchNormalization folded at predict time) against the same network run
  plain, layer by layer (``fuse=False``): outputs, input gradients and every
  parameter gradient. The two sum the same products in different orders, so they
  agree to rounding (rtol 1e-12 in float64), not bit for bit.
* Reused buffers: results do not change with batch size, and what
  ``Sequential.forward`` returns stays valid after the next pass.

No timings here: speed is measured by ``python -m benchmarks``.
"""

import numpy as np
import pytest

from sk1dcnn.nn import ops
from sk1dcnn.nn import fast_conv
from sk1dcnn.nn.activations import MONOTONE
from sk1dcnn.nn.fast_conv import FastConv
from sk1dcnn.nn.layers import (
    Activation, Conv1D, Dense, Dropout, Flatten, GlobalAveragePooling1D, GlobalMaxPooling1D,
    MaxPooling1D)
from sk1dcnn.nn.losses import LOSS_FUNCTIONS
from sk1dcnn.nn.network import Sequential, Step


# --------------------------------------------------------------------------- #
# ops
# --------------------------------------------------------------------------- #
CONV_CASES = [
    # (L, C, K, strides, padding, dilation)
    (17, 3, 5, 1, "same", 1),
    (17, 3, 4, 1, "same", 1),
    (16, 2, 3, 3, "valid", 1),
    (20, 2, 3, 3, "same", 1),
    (19, 4, 3, 2, "same", 1),
    (15, 2, 3, 1, "causal", 2),
    (15, 1, 5, 1, "valid", 2),
    (9, 2, 9, 1, "same", 1),
    (7, 3, 5, 4, "same", 1),
    (23, 2, 3, 5, "valid", 1),  # stride > kernel: gaps between windows
    (22, 3, 4, 3, "valid", 1),  # length not a multiple of the stride
    (14, 2, 3, 1, "causal", 1),
    (11, 3, 1, 1, "valid", 1),  # K = 1: windows are rows
    (4, 2, 7, 1, "same", 1),  # kernel longer than the signal
    (12, 1, 2, 2, "same", 1),
]


@pytest.mark.parametrize("L, C, K, s, padding, d", CONV_CASES)
def test_im2col_col2im_into_match_plain(L, C, K, s, padding, d):
    rng = np.random.default_rng(0)
    N = 3
    X = rng.standard_normal((N, L, C))
    left, right = ops.conv_padding(L, K, s, padding, d)
    out_len = ops.conv_output_length(L, K, s, padding, d)
    ref = ops.im2col(ops.pad1d(X, left, right), K, s, d, out_len)
    buf = np.zeros((N, out_len, K, C))
    for _ in range(2):  # a reused buffer gives the same columns
        got = ops.im2col_into(X, buf, s, d, left).reshape(N * out_len, K * C)
        np.testing.assert_array_equal(got, ref)

    dcols = rng.standard_normal(ref.shape)
    ref_dX = ops.col2im(dcols, L + left + right, K, s, d, out_len, C)[:, left:left + L]
    dX = np.full((N, L, C), np.nan)  # every cell must be written
    ops.col2im_into(dcols.reshape(N, out_len, K, C), dX, s, d, left)
    np.testing.assert_array_equal(dX, ref_dX)


@pytest.mark.parametrize("width, step, n_rows", [(6, 2, 9), (5, 5, 4), (3, 7, 5), (64, 16, 11),
                                                 (80, 16, 1), (4, 1, 13)])
def test_window_matmul_and_adjoints_match_explicit_windows(width, step, n_rows):
    """The overlapping-window products against one explicit window per row."""
    rng = np.random.default_rng(0)
    F = 3
    src = rng.standard_normal((n_rows - 1) * step + width + 2)
    B = rng.standard_normal((width, F))
    windows = np.stack([src[r * step:r * step + width] for r in range(n_rows)])
    out = np.full((n_rows + 1, F), 7.0)
    ops.window_matmul(src, width, step, n_rows, B, out)
    np.testing.assert_allclose(out[:n_rows], windows @ B, rtol=1e-12)
    assert (out[n_rows] == 7.0).all()  # rows past n_rows untouched
    G = rng.standard_normal((n_rows, F))
    np.testing.assert_allclose(ops.window_matmul_t(src, width, step, n_rows, G),
                               windows.T @ G, rtol=1e-12)
    dst = np.zeros_like(src)
    ops.window_matmul_scatter(G, B.T, width, step, n_rows, dst)
    ref = np.zeros_like(src)
    for r in range(n_rows):
        ref[r * step:r * step + width] += G[r] @ B.T
    np.testing.assert_allclose(dst, ref, rtol=1e-12, atol=1e-14)
    dst = np.full_like(src, np.nan)  # overwrite mode writes every cell
    ops.window_matmul_scatter(G, B.T, width, step, n_rows, dst, accumulate=False)
    np.testing.assert_allclose(dst, ref, rtol=1e-12, atol=1e-14)
    # one array per phase, more phases than the least
    n_ph = -(-width // step) + 1
    outs = np.full((n_ph, n_rows, 3), 7.0)
    ops.window_matmul(src, width, step, n_rows, B, outs, n_ph=n_ph)
    for r in range(n_rows):
        np.testing.assert_allclose(outs[r % n_ph, r // n_ph], windows[r] @ B, rtol=1e-12)
    per_phase = np.zeros((n_ph, n_rows, 3))
    for r in range(n_rows):
        per_phase[r % n_ph, r // n_ph] = G[r]
    np.testing.assert_allclose(ops.window_matmul_t(src, width, step, n_rows, per_phase, n_ph=n_ph),
                               windows.T @ G, rtol=1e-12)
    dst = np.full_like(src, np.nan)
    ops.window_matmul_scatter(per_phase, B.T, width, step, n_rows, dst, n_ph=n_ph,
                              accumulate=False)
    np.testing.assert_allclose(dst, ref, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="overlap"):
        ops.window_matmul(src, width, step, n_rows, B, outs, n_ph=-(-width // step) - 1)


def test_window_matmul_refuses_a_short_source():
    with pytest.raises(ValueError, match="source holds 10 values; 4 windows need 11"):
        ops.window_matmul(np.zeros(10), 5, 2, 4, np.zeros((5, 1)), np.zeros((4, 1)))


@pytest.mark.parametrize("KC", [3, 5, 63, 64, 160])
def test_weight_grad_shapes(KC):
    rng = np.random.default_rng(1)
    cols = rng.standard_normal((257, KC)).astype(np.float32)
    dY = rng.standard_normal((257, 16)).astype(np.float32)
    np.testing.assert_allclose(ops.weight_grad(cols, dY), cols.T @ dY, rtol=1e-5, atol=1e-5)
    cols64, dY64 = cols.astype(np.float64), dY.astype(np.float64)
    np.testing.assert_allclose(ops.weight_grad(cols64, dY64), cols64.T @ dY64, rtol=1e-12)


@pytest.mark.parametrize("pool_size, strides", [(2, 2), (3, 3), (4, 4), (1, 1), (3, 2), (2, 3)])
@pytest.mark.parametrize("ties", [False, True])
def test_maxpool_into_matches_plain(pool_size, strides, ties):
    rng = np.random.default_rng(2)
    L = 23
    Z = rng.standard_normal((3, L, 4))
    if ties:  # zero runs and repeated values: the first maximum must win
        Z = np.round(Z)
        Z[:, 15:] = 0.0
    Y, masks = ops.maxpool1d_forward(Z, pool_size, strides)
    out = np.empty_like(Y)
    m = np.zeros((pool_size,) + Y.shape, dtype=bool)
    ops.maxpool1d_forward_into(Z, pool_size, strides, out, m)
    np.testing.assert_array_equal(out, Y)
    np.testing.assert_array_equal(m, masks)
    out2 = np.empty_like(Y)
    ops.maxpool1d_forward_into(Z, pool_size, strides, out2)  # predict mode: no masks
    np.testing.assert_array_equal(out2, Y)

    dY = rng.standard_normal(Y.shape)
    ref = ops.maxpool1d_backward(dY, masks, L, strides)
    dX = np.full(Z.shape, np.nan)
    ops.maxpool1d_backward_into(dY, m, strides, dX)
    np.testing.assert_array_equal(dX, ref)


# --------------------------------------------------------------------------- #
# fused network vs layer by layer
# --------------------------------------------------------------------------- #
def _run(net, X, Y, training, seed=0):
    """Forward, loss gradient, backward: returns output, input gradient, grads."""
    rng = np.random.default_rng(seed)
    Z = net.forward(X, training=training, rng=rng)
    w = np.full(X.shape[0], 1.0 / X.shape[0], dtype=X.dtype)
    _, dZ = LOSS_FUNCTIONS["categorical_crossentropy"](Z, Y, w)
    net.backward(dZ)
    grads = [g.copy() for g in net.grads()]
    return Z.copy(), grads


def _first_layer_input_grad(net, X, Y, training):
    """Input gradient of the whole network (the first layer's dX)."""
    rng = np.random.default_rng(0)
    Z = net.forward(X, training=training, rng=rng)
    w = np.full(X.shape[0], 1.0 / X.shape[0], dtype=X.dtype)
    _, dY = LOSS_FUNCTIONS["categorical_crossentropy"](Z, Y, w)
    return np.array(net.backward(dY, need_dX=True), copy=True)


def _assert_runs_agree(fused, plain, X, Y, training, rtol, atol, grad_rtol=None, grad_atol=None):
    """Outputs, parameter gradients and input gradients of the two networks agree."""
    Zf, gf = _run(fused, X, Y, training)
    Zp, gp = _run(plain, X, Y, training)
    np.testing.assert_allclose(Zf, Zp, rtol=rtol, atol=atol)
    grad_rtol, grad_atol = grad_rtol or rtol, grad_atol or atol
    for a, b in zip(gf, gp):
        np.testing.assert_allclose(a, b, rtol=grad_rtol, atol=grad_atol)
    np.testing.assert_allclose(_first_layer_input_grad(fused, X, Y, training),
                               _first_layer_input_grad(plain, X, Y, training),
                               rtol=grad_rtol, atol=grad_atol)


def _pair(layers_fn, input_shape, dtype, seed=0):
    fused = Sequential(layers_fn())
    fused.build(input_shape, np.random.RandomState(seed), dtype)
    plain = Sequential(layers_fn(), fuse=False)
    plain.build(input_shape, np.random.RandomState(seed), dtype)
    return fused, plain


def _sizes(net, training):
    return [step.size for step in net.plan(training=training)]


FUSABLE_ACTIVATIONS = sorted(MONOTONE) + [None]


@pytest.mark.parametrize("activation", FUSABLE_ACTIVATIONS)
@pytest.mark.parametrize("pool_size, pool_strides", [(2, None), (3, None), (3, 2), (2, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_fused_conv_pool_equals_plain(activation, pool_size, pool_strides, training):
    def layers():
        return [
            Conv1D(6, 5, padding="same", activation=activation),
            MaxPooling1D(pool_size, pool_strides),
            Conv1D(5, 3, strides=2, padding="same", activation=activation),
            MaxPooling1D(pool_size, pool_strides),
            Flatten(),
            Dense(3),
        ]

    fused, plain = _pair(layers, (40, 2), np.float64)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, 40, 2))
    X[1, 25:] = 0.0  # zero padding: ties in the pools
    Y = np.eye(3)[[0, 1, 2, 1]]
    assert [step.kind for step in fused.plan(training=training)] == [
        "conv_pool", "conv_pool", "layer", "layer"]
    assert all(step.kind == "layer" for step in plain.plan(training=training))
    _assert_runs_agree(fused, plain, X, Y, training, rtol=1e-12, atol=1e-15)


def _workload_like_layers():
    return [
        Conv1D(8, 5, padding="same", activation="relu"),
        MaxPooling1D(2),
        Conv1D(16, 5, padding="same", activation="relu"),
        MaxPooling1D(2),
        Conv1D(12, 3, padding="same", activation="relu"),
        GlobalAveragePooling1D(),
        Dense(8, activation="relu"),
        Dropout(0.2),
        Dense(4),
    ]


def _audio_like_layers():
    return [
        Conv1D(8, 3, strides=3, activation="relu"),
        Conv1D(16, 3, padding="same", activation="relu"),
        MaxPooling1D(3),
        Conv1D(16, 3, padding="same", activation="relu"),
        MaxPooling1D(3),
        GlobalMaxPooling1D(),
        Dense(4),
    ]


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("layers, length", [(_workload_like_layers, 47), (_audio_like_layers, 91)])
def test_reference_networks_fused_equal_plain(layers, length, dtype, rtol):
    fused, plain = _pair(layers, (length, 1), dtype)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((6, length, 1)).astype(dtype)
    X[:2, length // 2:] = 0.0
    Y = np.eye(4, dtype=dtype)[[0, 1, 2, 3, 0, 1]]
    Zf, gf = _run(fused, X, Y, training=True)
    Zp, gp = _run(plain, X, Y, training=True)
    np.testing.assert_allclose(Zf, Zp, rtol=rtol, atol=rtol * np.abs(Zp).max())
    for a, b in zip(gf, gp):
        scale = max(np.abs(b).max(), 1e-30)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale)


def test_parametric_activations_are_not_fused():
    for act in ("prelu", "rrelu"):
        conv = Conv1D(4, 3, padding="same", activation=act)
        net = Sequential([conv, MaxPooling1D(2), Flatten(), Dense(2)])
        net.build((10, 2), np.random.RandomState(0), np.float64)
        assert _sizes(net, training=True) == [1, 1, 1, 1]
        assert net.plan(training=True)[0] == Step(0, 1, "conv")


def test_separate_activation_layer_is_not_fused_and_still_correct():
    def layers():
        return [Conv1D(4, 3, padding="same"), Activation("relu"), MaxPooling1D(2), Flatten(),
                Dense(3)]

    fused, plain = _pair(layers, (12, 2), np.float64)
    X = np.random.default_rng(0).standard_normal((3, 12, 2))
    Y = np.eye(3)
    assert _sizes(fused, training=True) == [1, 1, 1, 1, 1]
    Zf, gf = _run(fused, X, Y, training=True)
    Zp, gp = _run(plain, X, Y, training=True)
    np.testing.assert_allclose(Zf, Zp, rtol=1e-12, atol=1e-15)
    for a, b in zip(gf, gp):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- #
# buffers
# --------------------------------------------------------------------------- #
def test_batch_size_changes_reuse_buffers_correctly():
    net = Sequential(_workload_like_layers())
    net.build((47, 1), np.random.RandomState(0), np.float64)
    ref = Sequential(_workload_like_layers(), fuse=False)
    ref.build((47, 1), np.random.RandomState(0), np.float64)
    rng = np.random.default_rng(0)
    for n in (5, 2, 7, 7, 1):  # shrink, grow, repeat
        X = rng.standard_normal((n, 47, 1))
        np.testing.assert_allclose(net.forward(X), ref.forward(X), rtol=1e-12, atol=1e-15)
        Y = np.eye(4)[rng.integers(0, 4, n)]
        _, g1 = _run(net, X, Y, training=True)
        _, g2 = _run(ref, X, Y, training=True)
        for a, b in zip(g1, g2):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_forward_result_survives_the_next_pass():
    # a network ending in a Conv1D (+ Flatten): its output lives in a reused buffer
    net = Sequential([Conv1D(3, 3, padding="same", activation="relu"), MaxPooling1D(2), Flatten()])
    net.build((8, 1), np.random.RandomState(0), np.float64)
    rng = np.random.default_rng(0)
    X1, X2 = rng.standard_normal((2, 8, 1)), rng.standard_normal((2, 8, 1))
    Y1 = net.forward(X1)
    Y1_copy = Y1.copy()
    net.forward(X2)
    np.testing.assert_array_equal(Y1, Y1_copy)


def test_clear_cache_and_pickle_drop_buffers():
    import pickle

    net = Sequential(_workload_like_layers())
    net.build((47, 1), np.random.RandomState(0), np.float32)
    X = np.random.default_rng(0).standard_normal((4, 47, 1)).astype(np.float32)
    Z = net.forward(X, training=True, rng=np.random.default_rng(0))
    assert len(net._runners[0].buffers) > 0
    blob = pickle.dumps(net)
    assert len(blob) < 60_000  # weights only, no activations
    net.clear_cache()
    assert net._runners == {}
    assert not any(k.startswith("_c_") for layer in net.layers for k in vars(layer))
    np.testing.assert_array_equal(pickle.loads(blob).forward(X), net.forward(X))
    assert Z.dtype == np.float32


@pytest.mark.parametrize("L, C, K, s, padding, d", CONV_CASES)
@pytest.mark.parametrize("activation", ["relu", "tanh", None])
def test_conv_layer_fast_path_equals_plain_ops(L, C, K, s, padding, d, activation):
    """FastConv (strided long signal, or dilated im2col) against
    ops.conv1d_forward/backward + the activation."""
    from sk1dcnn.nn.activations import ACTIVATIONS, DERIVATIVES

    conv = Conv1D(4, K, strides=s, padding=padding, dilation_rate=d, activation=activation)
    conv.build((L, C), np.random.RandomState(0), np.float64)
    layer = FastConv(conv)
    rng = np.random.default_rng(0)
    W, b = conv.params["W"], conv.params["b"]
    b[:] = rng.standard_normal(b.shape)
    name = activation or "identity"
    for n in (3, 2):
        X = rng.standard_normal((n, L, C))
        Zr, cols = ops.conv1d_forward(X, W, b, s, padding, d)
        Ar = ACTIVATIONS[name](Zr)
        A = layer.forward(X, training=True)
        # the strided path sums the same products in another order: equal to rounding
        np.testing.assert_allclose(A, Ar, rtol=1e-12, atol=1e-14)
        dA = rng.standard_normal(A.shape)
        dZr = DERIVATIVES[name](Zr, Ar, dA)
        dXr, dWr, dbr = ops.conv1d_backward(dZr, cols, W, L, s, padding, d)
        dX = layer.backward(dA)
        np.testing.assert_allclose(dX, dXr, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(conv.grads["W"], dWr, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(conv.grads["b"], dbr, rtol=1e-12, atol=1e-14)


def test_network_ending_in_a_fused_pool_returns_a_fresh_array():
    from sk1dcnn.nn.layers import Conv1D, MaxPooling1D
    from sk1dcnn.nn.network import Sequential

    net = Sequential([Conv1D(4, 3, padding="same", activation="relu"), MaxPooling1D(2)])
    net.build((16, 1), np.random.RandomState(0), np.float32)
    rng = np.random.default_rng(0)
    X1 = rng.standard_normal((3, 16, 1)).astype(np.float32)
    Y1 = net.forward(X1)
    kept = Y1.copy()
    net.forward(rng.standard_normal((3, 16, 1)).astype(np.float32))
    np.testing.assert_array_equal(Y1, kept)


def test_strided_same_conv_on_two_lengths_matches_a_fresh_layer():
    """Lengths 10 and 9 share an output length (stride 2) but not their padded cells."""
    from sk1dcnn.nn.layers import Conv1D

    rng = np.random.default_rng(1)
    layer = Conv1D(2, 4, strides=2, padding="same")
    layer.build((10, 1), np.random.RandomState(0), np.float64)
    fast = FastConv(layer)
    fast.forward(rng.standard_normal((2, 10, 1)))
    X9 = rng.standard_normal((2, 9, 1))
    fresh = Conv1D(2, 4, strides=2, padding="same")
    fresh.build((9, 1), np.random.RandomState(0), np.float64)
    np.testing.assert_allclose(fast.forward(X9), FastConv(fresh).forward(X9))
    np.testing.assert_allclose(fast.forward(X9), fresh.forward(X9), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("activation", ["relu", None, "tanh"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_conv_chain_writing_into_the_next_padded_buffer_equals_plain_ops(activation, use_bias):
    """Conv1D -> Conv1D (-> fused conv+pool -> Conv1D): each layer writes its output
    straight into the next one's zero-padded input buffer; the network's output
    and every gradient equal the plain ops chained by hand, over two batch sizes."""
    from sk1dcnn.nn.activations import ACTIVATIONS, DERIVATIVES

    specs = [dict(filters=4, kernel_size=3, strides=3, padding="valid"),
             dict(filters=5, kernel_size=3, padding="same"),
             dict(filters=3, kernel_size=4, padding="same"),
             dict(filters=2, kernel_size=3, padding="causal")]
    convs = [Conv1D(activation=activation, use_bias=use_bias, **kw) for kw in specs]
    layers = convs[:3] + [MaxPooling1D(2)] + convs[3:]
    net = Sequential(layers)
    net.build((31, 2), np.random.RandomState(0), np.float64)
    name = activation or "identity"
    rng = np.random.default_rng(1)
    for n in (3, 5, 2):
        X = rng.standard_normal((n, 31, 2))
        # plain reference, layer by layer
        A, cache = X, []
        for i, (conv, kw) in enumerate(zip(convs, specs)):
            b = conv.params.get("b")
            Z, cols = ops.conv1d_forward(A, conv.params["W"], b, kw.get("strides", 1), kw["padding"])
            Act = ACTIVATIONS[name](Z)
            cache.append((A.shape[1], Z, Act, cols))
            A = Act
            if i == 2:
                A, masks = ops.maxpool1d_forward(A, 2, 2)
                pooled_from = Act.shape[1]
        out = net.forward(X, training=True)
        np.testing.assert_allclose(out, A, rtol=1e-12, atol=1e-14)
        dY = rng.standard_normal(out.shape)
        net.backward(dY)
        dA = dY
        for i in reversed(range(len(convs))):
            L_in, Z, Act, cols = cache[i]
            kw = specs[i]
            dZ = DERIVATIVES[name](Z, Act, dA)
            dX, dW, db = ops.conv1d_backward(dZ, cols, convs[i].params["W"], L_in,
                                             kw.get("strides", 1), kw["padding"])
            np.testing.assert_allclose(convs[i].grads["W"], dW, rtol=1e-10, atol=1e-12)
            if use_bias:
                np.testing.assert_allclose(convs[i].grads["b"], db, rtol=1e-10, atol=1e-12)
            dA = dX
            if i == 3:
                dA = ops.maxpool1d_backward(dA, masks, pooled_from, 2)


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("then", ["relu", "tanh", None])
def test_batchnorm_folded_into_the_convolution_at_predict_equals_plain(use_bias, then):
    """Conv1D -> BatchNormalization (-> Activation) at predict time runs as one
    convolution with the normalization in its kernel and bias: same outputs as the
    layers one by one, after training moved the running statistics."""
    from sk1dcnn.nn.blocks import BatchNormalization

    def layers():
        out = [Conv1D(6, 3, strides=3, padding="valid", use_bias=use_bias), BatchNormalization()]
        if then:
            out.append(Activation(then))
        return out + [Conv1D(4, 3, padding="same", activation="relu"), MaxPooling1D(2),
                      GlobalAveragePooling1D(), Dense(3)]

    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 60, 2)) * 3 + 1
    nets = []
    for fuse in (True, False):
        net = Sequential(layers())
        net.build((60, 2), np.random.RandomState(0), np.float64)
        net.fuse = fuse
        for _ in range(5):  # move the running statistics away from (0, 1)
            Z = net.forward(X, training=True, rng=np.random.default_rng(1))
            net.backward(Z / 10)
            for p, g in zip(net.params(), net.grads()):
                p -= 0.1 * g
        nets.append(net)
    bn = nets[0].layers[1]
    assert np.abs(bn.moving_mean).max() > 0.05
    np.testing.assert_allclose(nets[0].forward(X), nets[1].forward(X), rtol=1e-10, atol=1e-12)
    assert nets[0].plan(training=False)[0] == Step(0, 3 if then == "relu" else 2, "conv_bn")
    with pytest.raises(RuntimeError, match="predict-mode forward pass"):
        nets[0].backward(np.ones((8, 3)))


@pytest.mark.parametrize("K, s, p, padding", [(3, 1, 3, "same"), (3, 1, 4, "valid"),
                                              (2, 1, 2, "causal"), (5, 2, 3, "same"),
                                              (3, 3, 2, "valid"), (4, 1, 4, "same"),
                                              # several groups of phases: p * s < K
                                              (5, 1, 2, "same"), (7, 1, 3, "valid"),
                                              (5, 2, 2, "causal")])
@pytest.mark.parametrize("activation", ["relu", None, "tanh"])
def test_pooling_by_phases_equals_plain(K, s, p, padding, activation, monkeypatch):
    """Conv1D + MaxPooling1D(p) runs as p * q phase products and element-wise
    maxima over p phases in q groups (pooling by phases; the grouped form is
    enabled in training here too); outputs, input gradients and every parameter
    gradient equal the layers run one by one, across batch sizes, with ties
    (zero-padded signals)."""
    monkeypatch.setattr(fast_conv, "GROUPED_PHASES_IN_TRAINING", True)
    def layers():
        return [Conv1D(3, 3, padding="same", activation="relu"),
                Conv1D(6, K, strides=s, padding=padding, activation=activation),
                MaxPooling1D(p),
                Conv1D(4, 3, padding="same", activation="relu"),
                GlobalMaxPooling1D(), Dense(3)]

    fused, plain = _pair(layers, (41, 2), np.float64)
    rng = np.random.default_rng(3)
    for n in (5, 3, 6):
        X = rng.standard_normal((n, 41, 2))
        X[1, 20:] = 0.0
        Y = np.eye(3)[np.arange(n) % 3]
        _assert_runs_agree(fused, plain, X, Y, True, rtol=1e-12, atol=1e-14,
                           grad_rtol=1e-10, grad_atol=1e-13)
        assert fused._runner(1).phase_geometry is not None  # the phase path ran
    # predict mode, then a backward pass that finds the pooling winners itself
    np.testing.assert_allclose(fused.forward(X), plain.forward(X), rtol=1e-12, atol=1e-14)


def _grads_of(net, X, dY):
    net.forward(X, training=True, rng=np.random.default_rng(0))
    net.backward(dY)
    return [g.copy() for g in net.grads()]


def test_two_input_lengths_sharing_pooled_rows_keep_gradients_exact():
    """Lengths 12 and 10 give the same long-layout rows per signal for a k3 conv
    pooled by 3 (by phases) but not the same pooled length: the rows past the
    shorter one must not keep the longer input's gradients."""
    def layers():
        return [Conv1D(3, 3, activation="relu"), MaxPooling1D(3), GlobalAveragePooling1D()]

    fused, plain = _pair(layers, (12, 2), np.float64)
    rng = np.random.default_rng(0)
    for L in (12, 10, 12):
        X = rng.standard_normal((4, L, 2))
        dY = rng.standard_normal((4, 3))
        for a, b in zip(_grads_of(fused, X, dY), _grads_of(plain, X, dY)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        assert fused._runner(0).phase_geometry is not None


def test_toggling_fusion_on_a_live_network_keeps_gradients_exact():
    """Fusing pooling by phases rounds the long layout up to the pool size; turning
    fusion off again on the same network, at another batch size, must not reuse
    the gradient buffer laid out for the other rounding."""
    def layers():
        return [Conv1D(3, 3, padding="same", activation="relu"), MaxPooling1D(3),
                GlobalAveragePooling1D()]

    net, ref = _pair(layers, (11, 2), np.float64)
    rng = np.random.default_rng(0)
    for fuse, n in ((False, 8), (True, 8), (False, 4), (True, 2)):
        net.fuse = fuse
        X = rng.standard_normal((n, 11, 2))
        dY = rng.standard_normal((n, 3))
        for a, b in zip(_grads_of(net, X, dY), _grads_of(ref, X, dY)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_column_sums_equal_numpy_sum(dtype, rtol):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((301, 7)).astype(dtype)
    np.testing.assert_allclose(ops.column_sums(a), a.sum(axis=0), rtol=rtol, atol=rtol)
    strided = rng.standard_normal((40, 3, 5)).astype(dtype)[:, 1]  # rows not contiguous
    np.testing.assert_allclose(ops.column_sums(strided), strided.sum(axis=0), rtol=rtol, atol=rtol)
    assert ops.column_sums(a).dtype == dtype
    # a batch (N, L, C): sums over time per signal (global average pooling), rows strided
    batch = rng.standard_normal((6, 50, 9)).astype(dtype)[:, :46]
    np.testing.assert_allclose(ops.column_sums(batch), batch.sum(axis=1), rtol=rtol, atol=rtol)


def test_blocks_follow_the_network_switch_and_agree_with_their_plain_layers():
    """Sequential(fuse=...) reaches the Conv1D layers inside residual blocks: run
    fast, the block's convolutions go through FastConv; run plain, through
    ops.conv1d_*; both give the same outputs and gradients."""
    from sk1dcnn.nn.blocks import ReSEBlock, ResidualBlock

    def layers():
        return [Conv1D(4, 3, padding="same", activation="relu"), ResidualBlock(6, 3),
                MaxPooling1D(2), ReSEBlock(6, 3, se_ratio=2), GlobalAveragePooling1D(), Dense(3)]

    fused, plain = _pair(layers, (20, 2), np.float64)
    assert fused.layers[1].fuse and not plain.layers[1].fuse
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 20, 2))
    Y = np.eye(3)[[0, 1, 2, 0, 1]]
    Zf, gf = _run(fused, X, Y, training=True)
    assert set(fused.layers[1]._c_runners) == {"conv1", "conv2", "skip"}
    Zp, gp = _run(plain, X, Y, training=True)
    assert "_c_runners" not in vars(plain.layers[1])
    np.testing.assert_allclose(Zf, Zp, rtol=1e-12, atol=1e-15)
    for a, b in zip(gf, gp):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    fused.fuse = False  # switched on a built network: the blocks follow
    assert not fused.layers[3].fuse
    np.testing.assert_allclose(fused.forward(X), plain.forward(X), rtol=1e-12, atol=1e-15)


def test_backward_needs_a_whole_forward_pass():
    net = Sequential(_workload_like_layers())
    net.build((47, 1), np.random.RandomState(0), np.float64)
    X = np.random.default_rng(0).standard_normal((2, 47, 1))
    net.forward(X, upto=3)
    with pytest.raises(RuntimeError, match="needs a forward pass over the whole network"):
        net.backward(np.ones((2, 4)))


@pytest.mark.parametrize("fuse", [True, False])
def test_a_rebuilt_network_runs_its_new_weights(fuse):
    """build() again (another seed) gives new layers inside blocks: the fast path must
    not keep running the old sub-layers' weights."""
    from sk1dcnn.nn.blocks import ResidualBlock

    def layers():
        return [Conv1D(3, 3, padding="same", activation="relu"), ResidualBlock(4, 3),
                GlobalAveragePooling1D(), Dense(2)]

    X = np.random.default_rng(0).standard_normal((3, 12, 1))
    net = Sequential(layers(), fuse=fuse)
    net.build((12, 1), np.random.RandomState(0), np.float64)
    net.forward(X)
    net.build((12, 1), np.random.RandomState(1), np.float64)
    fresh = Sequential(layers(), fuse=fuse)
    fresh.build((12, 1), np.random.RandomState(1), np.float64)
    np.testing.assert_array_equal(net.forward(X), fresh.forward(X))


@pytest.mark.parametrize("activation", FUSABLE_ACTIVATIONS)
@pytest.mark.parametrize("K, s, p", [(5, 1, 2), (3, 1, 3), (3, 3, 2), (4, 2, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_fusing_the_pooling_changes_no_output_bit(activation, K, s, p, training):
    """Max pooling commutes exactly with a per-channel bias and a monotone activation
    (rounding is monotone too), so FastConv.forward_pool, by phases or not, gives the
    very bits of FastConv.forward followed by MaxPooling1D."""
    conv = Conv1D(5, K, strides=s, padding="same", activation=activation)
    conv.build((37, 3), np.random.RandomState(0), np.float64)
    conv.params["b"][:] = np.random.default_rng(1).standard_normal(5)
    pool = MaxPooling1D(p)
    pool.build(conv.output_shape, None, np.float64)
    X = np.random.default_rng(2).standard_normal((4, 37, 3))
    X[1, 20:] = 0.0  # ties
    fused = FastConv(conv)
    fused.phases = p * fast_conv.phase_groups(conv, pool, training) or 1
    np.testing.assert_array_equal(fused.forward_pool(X, pool, training),
                                  pool.forward(FastConv(conv).forward(X, training)))

"""Forward kernels of ``sk1dcnn.nn.ops`` against independent references.

Convolutions are checked against ``scipy.signal.correlate`` / ``np.convolve``
(on explicitly padded, dilated copies built here from the Keras rules) and a
naive Python loop; pooling against hand-worked examples and argmax loops;
im2col/col2im and the convolution backward pass through adjointness.
"""

import itertools
import math

import numpy as np
import pytest
from scipy import signal

from sk1dcnn.nn import ops


# --------------------------------------------------------------------------- #
# Independent references
# --------------------------------------------------------------------------- #
def keras_pads(L, k, s, padding, d):
    """(left, right) zeros from the Keras/TF rules, written from the spec."""
    span = d * (k - 1) + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return d * (k - 1), 0
    out = math.ceil(L / s)
    total = max((out - 1) * s + span - L, 0)
    return total // 2, total - total // 2  # odd zero on the right


def dilate_kernel(w, d):
    """Insert d - 1 zeros between the taps of a 1-D kernel."""
    out = np.zeros(d * (len(w) - 1) + 1, dtype=w.dtype)
    out[::d] = w
    return out


def conv_ref_scipy(X, W, b, s, padding, d):
    """Cross-correlation via scipy.signal.correlate on explicitly padded signals."""
    N, L, C = X.shape
    K, _, F = W.shape
    left, right = keras_pads(L, K, s, padding, d)
    Xp = np.concatenate([np.zeros((N, left, C)), X, np.zeros((N, right, C))], axis=1)
    out = None
    for n in range(N):
        for f in range(F):
            acc = 0.0
            for c in range(C):
                acc = acc + signal.correlate(Xp[n, :, c], dilate_kernel(W[:, c, f], d), mode="valid")
            y = acc[::s] + (0.0 if b is None else b[f])
            if out is None:
                out = np.empty((N, len(y), F))
            out[n, :, f] = y
    return out


def conv_ref_convolve(X, W, b, s, padding, d):
    """Same thing with np.convolve (which flips its kernel) in 'full' mode."""
    N, L, C = X.shape
    K, _, F = W.shape
    left, right = keras_pads(L, K, s, padding, d)
    span = d * (K - 1) + 1
    # full[j] = sum_i x[j - (span - 1) + i] * w[i], so correlation output t on the
    # padded input (x shifted right by `left`) is full[t + span - 1 - left]; Keras
    # never pads more than span - 1 zeros on either side, so the slice stays inside.
    n_out_1 = L + left + right - span + 1
    Y = np.zeros((N, n_out_1, F))
    for n, f, c in itertools.product(range(N), range(F), range(C)):
        full = np.convolve(X[n, :, c], dilate_kernel(W[:, c, f], d)[::-1], mode="full")
        start = span - 1 - left
        Y[n, :, f] += full[start : start + n_out_1]
    Y = Y[:, ::s]
    if b is not None:
        Y = Y + b
    return Y


def conv_ref_loop(X, W, b, s, padding, d):
    """Naive loop over every output: no padding, out-of-range inputs count as zero."""
    N, L, C = X.shape
    K, _, F = W.shape
    left, right = keras_pads(L, K, s, padding, d)
    span = d * (K - 1) + 1
    L_out = (L + left + right - span) // s + 1
    Y = np.zeros((N, L_out, F))
    for n in range(N):
        for t in range(L_out):
            for f in range(F):
                acc = 0.0 if b is None else b[f]
                for k in range(K):
                    i = t * s + k * d - left
                    if 0 <= i < L:
                        for c in range(C):
                            acc += X[n, i, c] * W[k, c, f]
                Y[n, t, f] = acc
    return Y


CONV_CASES = [
    (padding, s, d, K)
    for padding in ("valid", "same", "causal")
    for s in (1, 2, 3)
    for d in (1, 2, 3)
    for K in (1, 2, 3, 4)
]


@pytest.mark.parametrize("padding, s, d, K", CONV_CASES)
def test_conv1d_forward_matches_references(padding, s, d, K):
    rng = np.random.default_rng(1000 * s + 100 * d + K)
    N, L, C, F = 2, 13, 3, 2
    X = rng.standard_normal((N, L, C))
    W = rng.standard_normal((K, C, F))
    b = rng.standard_normal(F)
    Y, cols = ops.conv1d_forward(X, W, b, strides=s, padding=padding, dilation_rate=d)
    ref = conv_ref_scipy(X, W, b, s, padding, d)
    assert Y.shape == ref.shape
    np.testing.assert_allclose(Y, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(Y, conv_ref_convolve(X, W, b, s, padding, d), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(Y, conv_ref_loop(X, W, b, s, padding, d), rtol=1e-12, atol=1e-12)
    assert cols.shape == (N * Y.shape[1], K * C)


@pytest.mark.parametrize("L", [1, 2, 5, 8, 9, 10, 11, 12])
@pytest.mark.parametrize("s", [1, 2, 3])
@pytest.mark.parametrize("K", [1, 2, 3, 4])
def test_same_and_causal_output_length_is_ceil(L, s, K):
    expected = -(-L // s)
    for padding in ("same", "causal"):
        assert ops.conv_output_length(L, K, s, padding, 1) == expected
    X = np.random.default_rng(L).standard_normal((1, L, 2))
    W = np.random.default_rng(K).standard_normal((K, 2, 1))
    Y, _ = ops.conv1d_forward(X, W, None, strides=s, padding="same")
    assert Y.shape == (1, expected, 1)
    np.testing.assert_allclose(Y, conv_ref_loop(X, W, None, s, "same", 1), atol=1e-12)


@pytest.mark.parametrize("K", [1, 2, 3, 4, 5])
def test_same_stride1_splits_zeros_odd_one_right(K):
    # stride 1: (K - 1) // 2 zeros on the left, K // 2 on the right (Keras)
    assert ops.conv_padding(10, K, 1, "same", 1) == ((K - 1) // 2, K // 2)
    # a one-hot kernel at tap k copies x shifted by k - left
    L = 10
    X = np.arange(1.0, L + 1)[None, :, None]
    left = (K - 1) // 2
    for k in range(K):
        W = np.zeros((K, 1, 1))
        W[k, 0, 0] = 1.0
        Y, _ = ops.conv1d_forward(X, W, padding="same")
        idx = np.arange(L) + k - left
        expected = np.where((idx >= 0) & (idx < L), np.clip(idx, 0, L - 1) + 1.0, 0.0)
        np.testing.assert_array_equal(Y[0, :, 0], expected)


def test_same_odd_kernel_equals_numpy_convolve_same():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(17)
    w = rng.standard_normal(5)
    Y, _ = ops.conv1d_forward(x[None, :, None], w[:, None, None], padding="same")
    np.testing.assert_allclose(Y[0, :, 0], np.convolve(x, w[::-1], mode="same"), atol=1e-12)


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("K", [2, 3])
def test_causal_output_depends_only_on_past(d, K):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((1, 12, 2))
    W = rng.standard_normal((K, 2, 3))
    assert ops.conv_padding(12, K, 1, "causal", d) == (d * (K - 1), 0)
    Y0, _ = ops.conv1d_forward(X, W, padding="causal", dilation_rate=d)
    assert Y0.shape[1] == 12
    for t0 in range(12):
        X1 = X.copy()
        X1[0, t0, 0] += 1.0
        Y1, _ = ops.conv1d_forward(X1, W, padding="causal", dilation_rate=d)
        np.testing.assert_array_equal(Y1[0, :t0], Y0[0, :t0])
        # output t0 sees input t0 through the last tap
        np.testing.assert_allclose(Y1[0, t0] - Y0[0, t0], W[K - 1, 0], atol=1e-12)


def test_conv1d_forward_without_bias_and_channel_mismatch():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 8, 2))
    W = rng.standard_normal((3, 2, 4))
    Y, _ = ops.conv1d_forward(X, W)
    np.testing.assert_allclose(Y, conv_ref_loop(X, W, None, 1, "valid", 1), atol=1e-12)
    with pytest.raises(ValueError, match="channels"):
        ops.conv1d_forward(X, rng.standard_normal((3, 3, 4)))
    with pytest.raises(ValueError, match="too short"):
        ops.conv1d_forward(X[:, :2], W)


def test_conv1d_forward_reuses_cols_buffer():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 9, 3))
    W = rng.standard_normal((3, 3, 2))
    buf = np.full(2 * 7 * 3 * 3, np.nan)
    Y, cols = ops.conv1d_forward(X, W, cols_out=buf)
    np.testing.assert_allclose(Y, conv_ref_loop(X, W, None, 1, "valid", 1), atol=1e-12)
    assert np.shares_memory(cols, buf)


# --------------------------------------------------------------------------- #
# conv_output_length against the formula
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "L, K, s, d", list(itertools.product([1, 3, 7, 10, 16, 31], [1, 2, 3, 5], [1, 2, 3], [1, 2, 3]))
)
def test_conv_output_length_formula(L, K, s, d):
    span = d * (K - 1) + 1
    valid = math.floor((L - span) / s) + 1 if L >= span else L - span + 1
    assert ops.conv_output_length(L, K, s, "valid", d) == valid
    assert ops.conv_output_length(L, K, s, "same", d) == math.ceil(L / s)
    assert ops.conv_output_length(L, K, s, "causal", d) == math.ceil(L / s)
    if valid >= 1:
        # consistent with what the forward pass produces
        Y, _ = ops.conv1d_forward(np.ones((1, L, 1)), np.ones((K, 1, 1)), strides=s,
                                  dilation_rate=d)
        assert Y.shape[1] == valid


def test_conv_padding_rejects_unknown_mode():
    with pytest.raises(ValueError, match="full"):
        ops.conv_padding(10, 3, 1, "full")


# --------------------------------------------------------------------------- #
# im2col / col2im
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("K, s, d", [(1, 1, 1), (3, 1, 1), (3, 2, 1), (2, 3, 1), (3, 1, 2), (2, 2, 3)])
def test_im2col_entries_and_col2im_adjoint(K, s, d):
    rng = np.random.default_rng(K * 100 + s * 10 + d)
    N, Lp, C = 2, 14, 3
    span = d * (K - 1) + 1
    out_len = (Lp - span) // s + 1
    Xp = rng.standard_normal((N, Lp, C))
    cols = ops.im2col(Xp, K, s, d, out_len)
    assert cols.shape == (N * out_len, K * C)
    for n, t, k, c in itertools.product(range(N), range(out_len), range(K), range(C)):
        assert cols[n * out_len + t, k * C + c] == Xp[n, t * s + k * d, c]
    # adjointness: <im2col(x), c> == <x, col2im(c)>
    G = rng.standard_normal(cols.shape)
    back = ops.col2im(G, Lp, K, s, d, out_len, C)
    assert back.shape == Xp.shape
    np.testing.assert_allclose(np.vdot(cols, G), np.vdot(Xp, back), rtol=1e-12)
    # and col2im is exactly the transpose of the (linear) im2col map
    M = np.zeros((cols.size, Xp.size))
    for j in range(Xp.size):
        e = np.zeros(Xp.size)
        e[j] = 1.0
        M[:, j] = ops.im2col(e.reshape(Xp.shape), K, s, d, out_len).ravel()
    np.testing.assert_allclose(back.ravel(), M.T @ G.ravel(), atol=1e-12)


@pytest.mark.parametrize("padding, s, d", [("valid", 1, 1), ("same", 2, 1), ("causal", 1, 2),
                                           ("same", 3, 2), ("valid", 2, 3), ("same", 1, 3)])
def test_conv1d_backward_is_adjoint_of_forward(padding, s, d):
    # y = conv(x, W) is bilinear: <y, G> == <x, dX> == <W, dW>; db sums G
    rng = np.random.default_rng(5)
    X = rng.standard_normal((2, 11, 3))
    W = rng.standard_normal((3, 3, 2))
    Y, cols = ops.conv1d_forward(X, W, None, s, padding, d)
    G = rng.standard_normal(Y.shape)
    dX, dW, db = ops.conv1d_backward(G, cols, W, 11, s, padding, d)
    assert dX.shape == X.shape and dW.shape == W.shape
    np.testing.assert_allclose(np.vdot(Y, G), np.vdot(X, dX), rtol=1e-11)
    np.testing.assert_allclose(np.vdot(Y, G), np.vdot(W, dW), rtol=1e-11)
    np.testing.assert_allclose(db, G.sum(axis=(0, 1)), rtol=1e-12)
    none, dW2, _ = ops.conv1d_backward(G, cols, W, 11, s, padding, d, need_dX=False)
    assert none is None
    np.testing.assert_allclose(dW2, dW)


# --------------------------------------------------------------------------- #
# Pooling
# --------------------------------------------------------------------------- #
def pool_ref(x, size, stride, reduce):
    out_len = (len(x) - size) // stride + 1 if len(x) >= size else 0
    return np.array([reduce(x[i * stride : i * stride + size]) for i in range(out_len)])


def test_maxpool_worked_example():
    x = np.array([7, 3, 2, 6, 9, 0, 1, 4], dtype=float)
    Y, _ = ops.maxpool1d_forward(x[None, :, None], 2, 2)
    np.testing.assert_array_equal(Y[0, :, 0], [7, 6, 9, 4])


def test_maxpool_overlapping_windows():
    x = np.array([7, 3, 2, 6, 9, 0, 1, 4], dtype=float)
    # windows [7,3,2] [2,6,9] [9,0,1]; the trailing 4 is dropped ('valid')
    Y, _ = ops.maxpool1d_forward(x[None, :, None], 3, 2)
    np.testing.assert_array_equal(Y[0, :, 0], [7, 9, 9])
    Y, _ = ops.maxpool1d_forward(x[None, :, None], 3, 1)
    np.testing.assert_array_equal(Y[0, :, 0], [7, 6, 9, 9, 9, 4])


def test_avgpool_worked_example():
    x = np.array([7, 3, 2, 6, 9, 0, 1, 4], dtype=float)
    Y = ops.avgpool1d_forward(x[None, :, None], 2, 2)
    np.testing.assert_allclose(Y[0, :, 0], [5, 4, 4.5, 2.5])
    Y = ops.avgpool1d_forward(x[None, :, None], 3, 2)
    np.testing.assert_allclose(Y[0, :, 0], [4, 17 / 3, 10 / 3])


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (3, 1), (2, 3), (4, 4), (1, 1), (5, 2)])
def test_pool_forward_against_loops(size, stride):
    rng = np.random.default_rng(size * 10 + stride)
    X = rng.standard_normal((2, 15, 3))
    Ymax, _ = ops.maxpool1d_forward(X, size, stride)
    Yavg = ops.avgpool1d_forward(X, size, stride)
    assert Ymax.shape[1] == ops.pool_output_length(15, size, stride) == (15 - size) // stride + 1
    for n, c in itertools.product(range(2), range(3)):
        np.testing.assert_array_equal(Ymax[n, :, c], pool_ref(X[n, :, c], size, stride, np.max))
        np.testing.assert_allclose(Yavg[n, :, c], pool_ref(X[n, :, c], size, stride, np.mean),
                                   atol=1e-14)


def test_pool_output_length_too_short():
    assert ops.pool_output_length(2, 3, 1) == 0
    assert ops.pool_output_length(3, 3, 5) == 1


def test_maxpool_backward_first_max_wins_after_relu():
    z = np.array([-1.0, -2.0, 3.0, 3.0, 0.5, -0.5, -4.0, -4.0])
    a = np.maximum(z, 0)  # [0, 0, 3, 3, .5, 0, 0, 0]: ties in windows 0, 1, 3
    Y, masks = ops.maxpool1d_forward(a[None, :, None], 2, 2)
    np.testing.assert_array_equal(Y[0, :, 0], [0, 3, 0.5, 0])
    dX = ops.maxpool1d_backward(np.array([1.0, 2.0, 3.0, 4.0])[None, :, None], masks, 8, 2)
    np.testing.assert_array_equal(dX[0, :, 0], [1, 0, 2, 0, 3, 0, 4, 0])


def test_maxpool_backward_ties_overlapping_windows():
    # constant input, pool 3 stride 1: every window routes to its first element
    x = np.zeros((1, 6, 1))
    Y, masks = ops.maxpool1d_forward(x, 3, 1)
    dX = ops.maxpool1d_backward(np.ones_like(Y), masks, 6, 1)
    np.testing.assert_array_equal(dX[0, :, 0], [1, 1, 1, 1, 0, 0])
    # each window sends exactly one gradient: masks are one-hot over the pool axis
    np.testing.assert_array_equal(masks.sum(axis=0), 1)


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (3, 1), (2, 3), (4, 2)])
def test_maxpool_backward_against_argmax_loop(size, stride):
    rng = np.random.default_rng(size + 7 * stride)
    X = rng.integers(0, 3, size=(3, 14, 2)).astype(float)  # many ties
    Y, masks = ops.maxpool1d_forward(X, size, stride)
    G = rng.standard_normal(Y.shape)
    dX = ops.maxpool1d_backward(G, masks, 14, stride)
    ref = np.zeros_like(X)
    for n, t, c in itertools.product(range(3), range(Y.shape[1]), range(2)):
        win = X[n, t * stride : t * stride + size, c]
        ref[n, t * stride + int(np.argmax(win)), c] += G[n, t, c]  # argmax: first max
    np.testing.assert_allclose(dX, ref, atol=1e-14)


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (3, 1), (2, 3)])
def test_avgpool_backward_is_adjoint(size, stride):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((2, 13, 3))
    Y = ops.avgpool1d_forward(X, size, stride)
    G = rng.standard_normal(Y.shape)
    dX = ops.avgpool1d_backward(G, size, 13, stride)
    assert dX.shape == X.shape
    np.testing.assert_allclose(np.vdot(Y, G), np.vdot(X, dX), rtol=1e-12)


def test_pad1d():
    X = np.arange(6.0).reshape(1, 3, 2)
    P = ops.pad1d(X, 2, 1)
    assert P.shape == (1, 6, 2)
    np.testing.assert_array_equal(P[0, 2:5], X[0])
    assert not P[0, :2].any() and not P[0, 5:].any()
    assert ops.pad1d(X, 0, 0) is X


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv1d_forward_non_contiguous_input(padding):
    # the estimators transpose (N, C, L) -> (N, L, C) at the boundary: a strided view
    rng = np.random.default_rng(4)
    X_cf = rng.standard_normal((2, 3, 12))
    X = X_cf.transpose(0, 2, 1)[:, ::-1]  # non-contiguous, negative time stride
    assert not X.flags.c_contiguous
    W = rng.standard_normal((3, 3, 2))
    Y, _ = ops.conv1d_forward(X, W, None, 2, padding, 1)
    np.testing.assert_allclose(Y, conv_ref_loop(np.ascontiguousarray(X), W, None, 2, padding, 1),
                               atol=1e-12)
    Ym, _ = ops.maxpool1d_forward(X, 3, 2)
    np.testing.assert_array_equal(Ym, ops.maxpool1d_forward(np.ascontiguousarray(X), 3, 2)[0])

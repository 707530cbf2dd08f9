"""Pure, vectorized kernels of the engine.

Every array here is **channels-last**, ``(n_samples, n_timepoints, n_channels)``:
that layout makes the im2col matrix of a convolution one contiguous copy of a
strided window view, ``(N * L_out, K * C)``, so the forward pass, the weight
gradient and the input gradient are each a single BLAS matrix product (measured
3.5-5x faster to copy than channels-first columns). The public estimators
transpose once at the boundary.

The first half holds the plain kernels (``conv1d_forward/backward``, pooling),
which the plain layers of :mod:`sk1dcnn.nn.layers` call; the second half the
buffer-reusing and strided kernels that :mod:`sk1dcnn.nn.fast_conv` calls, each
tested against the plain ones.

Nothing here keeps state, and nothing loops over samples or time steps; the only
Python loops run over kernel taps or pooling offsets (``kernel_size`` /
``pool_size`` iterations of whole-array work).
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = [
    "conv_output_length",
    "conv_padding",
    "check_conv_input",
    "pad1d",
    "im2col",
    "col2im",
    "conv1d_forward",
    "conv1d_backward",
    "pool_output_length",
    "maxpool1d_forward",
    "maxpool1d_backward",
    "avgpool1d_forward",
    "avgpool1d_backward",
    "im2col_into",
    "col2im_into",
    "weight_grad",
    "maxpool1d_forward_into",
    "maxpool1d_backward_into",
    "window_matmul",
    "window_matmul_t",
    "window_matmul_scatter",
    "maxpool_phases_into",
    "column_sums",
]


def conv_padding(length, kernel_size, strides=1, padding="valid", dilation_rate=1):
    """Zeros added (left, right) for a convolution, following Keras.

    'valid' adds none. 'same' pads so that the output has ``ceil(L / strides)``
    steps, splitting the zeros evenly and putting the odd one on the right (for
    ``strides=1`` that is ``(k - 1) / 2`` either side, ``d * (k - 1)`` in all
    with dilation). 'causal' puts ``d * (k - 1)`` zeros on the left only, so that
    output ``t`` sees inputs ``<= t``.
    """
    span = dilation_rate * (kernel_size - 1) + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return span - 1, 0
    if padding == "same":
        out = -(-length // strides)
        total = max((out - 1) * strides + span - length, 0)
        return total // 2, total - total // 2
    raise ValueError(
        f"padding={padding!r} is not one of 'valid', 'same', 'causal'."
    )


def conv_output_length(length, kernel_size, strides=1, padding="valid", dilation_rate=1):
    """Output length of a 1D convolution (may be <= 0 when the input is too short)."""
    left, right = conv_padding(length, kernel_size, strides, padding, dilation_rate)
    span = dilation_rate * (kernel_size - 1) + 1
    padded = length + left + right
    if padded < span:
        return padded - span + 1
    return (padded - span) // strides + 1


def check_conv_input(length, channels, W, strides=1, padding="valid", dilation_rate=1):
    """Output length of a convolution by ``W`` (K, C_in, F) of inputs (length, channels).

    Raises a ValueError naming the mismatch: channels the kernel does not expect,
    or an input too short to give one output step.
    """
    K, C_w, _ = W.shape
    if C_w != channels:
        raise ValueError(f"X has {channels} channels but the kernel expects {C_w}.")
    out_len = conv_output_length(length, K, strides, padding, dilation_rate)
    if out_len <= 0:
        raise ValueError(
            f"input length {length} is too short for kernel_size={K}, "
            f"dilation_rate={dilation_rate}, padding={padding!r}: use padding='same' or "
            f"a smaller kernel_size/dilation_rate."
        )
    return out_len


def pad1d(X, left, right):
    """Zero-pad channels-last ``X`` (N, L, C) along time."""
    if left == 0 and right == 0:
        return X
    N, L, C = X.shape
    out = np.zeros((N, L + left + right, C), dtype=X.dtype)
    out[:, left : left + L] = X
    return out


def _window_view(Xp, kernel_size, strides, dilation_rate, out_len):
    """Read-only strided view (N, L_out, K, C) of padded channels-last input."""
    N, _, C = Xp.shape
    sN, sL, sC = Xp.strides
    return as_strided(
        Xp,
        shape=(N, out_len, kernel_size, C),
        strides=(sN, strides * sL, dilation_rate * sL, sC),
        writeable=False,
    )


def im2col(Xp, kernel_size, strides, dilation_rate, out_len, out=None):
    """Columns (N * L_out, K * C) of the padded input, one contiguous copy.

    ``out`` (a reusable buffer of the right size and dtype) avoids page faults
    from allocating a large fresh array every batch.
    """
    N, _, C = Xp.shape
    view = _window_view(Xp, kernel_size, strides, dilation_rate, out_len)
    shape = (N, out_len, kernel_size, C)
    if out is None:
        out = np.empty(shape, dtype=Xp.dtype)
    else:
        out = out.reshape(shape)
    np.copyto(out, view)
    return out.reshape(N * out_len, kernel_size * C)


def col2im(dcols, padded_len, kernel_size, strides, dilation_rate, out_len, C):
    """Scatter-add column gradients (N * L_out, K * C) back to (N, L_pad, C).

    One strided slice-add per kernel tap: the adjoint of :func:`im2col`.
    """
    N = dcols.shape[0] // out_len
    d4 = dcols.reshape(N, out_len, kernel_size, C)
    dXp = np.zeros((N, padded_len, C), dtype=dcols.dtype)
    stop_span = strides * (out_len - 1) + 1
    for k in range(kernel_size):
        start = k * dilation_rate
        dXp[:, start : start + stop_span : strides] += d4[:, :, k]
    return dXp


def conv1d_forward(X, W, b=None, strides=1, padding="valid", dilation_rate=1, cols_out=None):
    """1D cross-correlation (the deep-learning "convolution"), channels-last.

    Parameters
    ----------
    X : ndarray of shape (N, L, C_in)
    W : ndarray of shape (K, C_in, F)
        Kernel; ``W[k, c, f]`` multiplies input ``x[t * s + k * d, c]``.
    b : ndarray of shape (F,) or None
    strides, padding, dilation_rate : as in Keras ``Conv1D``.
    cols_out : ndarray or None
        Reusable buffer for the im2col matrix.

    Returns
    -------
    Y : ndarray of shape (N, L_out, F)
    cols : ndarray of shape (N * L_out, K * C_in)
        Needed by :func:`conv1d_backward`.
    """
    N, L, C = X.shape
    K, _, F = W.shape
    out_len = check_conv_input(L, C, W, strides, padding, dilation_rate)
    left, right = conv_padding(L, K, strides, padding, dilation_rate)
    Xp = pad1d(X, left, right)
    cols = im2col(Xp, K, strides, dilation_rate, out_len, out=cols_out)
    Y = cols @ W.reshape(K * C, F)
    if b is not None:
        Y += b
    return Y.reshape(N, out_len, F), cols


def conv1d_backward(dY, cols, W, input_len, strides=1, padding="valid", dilation_rate=1,
                    need_dX=True):
    """Gradients of :func:`conv1d_forward`.

    Returns
    -------
    dX : ndarray of shape (N, L, C_in) or None
    dW : ndarray of shape (K, C_in, F)
    db : ndarray of shape (F,)
    """
    N, out_len, F = dY.shape
    K, C, _ = W.shape
    dY2 = dY.reshape(N * out_len, F)
    dW = (cols.T @ dY2).reshape(K, C, F)
    db = dY2.sum(axis=0)
    if not need_dX:
        return None, dW, db
    dcols = dY2 @ W.reshape(K * C, F).T
    left, right = conv_padding(input_len, K, strides, padding, dilation_rate)
    dXp = col2im(dcols, input_len + left + right, K, strides, dilation_rate, out_len, C)
    return dXp[:, left : left + input_len], dW, db


def pool_output_length(length, pool_size, strides):
    """Output length of a 'valid' pooling window (Keras default)."""
    if length < pool_size:
        return 0
    return (length - pool_size) // strides + 1


def _pool_views(X, pool_size, strides, out_len):
    stop = strides * (out_len - 1) + 1
    return [X[:, j : j + stop : strides] for j in range(pool_size)]


def maxpool1d_forward(X, pool_size, strides):
    """Max pooling over time of channels-last ``X``.

    Chains ``np.maximum`` over the ``pool_size`` strided views (about 20x faster
    than ``argmax`` over a window axis) and returns the first-max-wins masks the
    backward pass needs, one boolean array per offset (PyTorch's tie rule; ties
    are common in zero-padded beats and after ReLU).
    """
    out_len = pool_output_length(X.shape[1], pool_size, strides)
    views = _pool_views(X, pool_size, strides, out_len)
    Y = views[0].copy()
    for v in views[1:]:
        np.maximum(Y, v, out=Y)
    masks = np.empty((pool_size,) + Y.shape, dtype=bool)
    taken = np.zeros(Y.shape, dtype=bool)
    for j, v in enumerate(views):
        m = masks[j]
        np.equal(v, Y, out=m)
        m &= ~taken
        taken |= m
    return Y, masks


def maxpool1d_backward(dY, masks, input_len, strides):
    """Route each output gradient to the input position that won the max."""
    pool_size = masks.shape[0]
    N, out_len, C = dY.shape
    dX = np.zeros((N, input_len, C), dtype=dY.dtype)
    stop = strides * (out_len - 1) + 1
    for j in range(pool_size):
        dX[:, j : j + stop : strides] += dY * masks[j]
    return dX


def avgpool1d_forward(X, pool_size, strides):
    """Average pooling over time of channels-last ``X`` ('valid' windows)."""
    out_len = pool_output_length(X.shape[1], pool_size, strides)
    views = _pool_views(X, pool_size, strides, out_len)
    Y = views[0].copy()
    for v in views[1:]:
        Y += v
    Y *= 1.0 / pool_size
    return Y


def avgpool1d_backward(dY, pool_size, input_len, strides):
    """Spread each output gradient evenly over its window."""
    N, out_len, C = dY.shape
    dX = np.zeros((N, input_len, C), dtype=dY.dtype)
    g = dY * (1.0 / pool_size)
    stop = strides * (out_len - 1) + 1
    for j in range(pool_size):
        dX[:, j : j + stop : strides] += g
    return dX


# --------------------------------------------------------------------------
# Buffer-reusing kernels of the fast path (used by sk1dcnn.nn.fast_conv; every
# one is checked against the plain functions above in tests/nn/test_fast_conv.py).
# --------------------------------------------------------------------------
def _tap_range(k, kernel_size, strides, dilation_rate, left, length, out_len):
    """Output steps ``[lo, hi)`` whose tap ``k`` reads inside the unpadded input."""
    off = k * dilation_rate - left  # input index of output step 0 for this tap
    lo = 0 if off >= 0 else -(off // strides) if (-off) % strides == 0 else -off // strides + 1
    hi = min(out_len, (length - 1 - off) // strides + 1) if length - 1 - off >= 0 else 0
    return max(lo, 0), max(hi, 0), off


def im2col_into(X, cols4, strides, dilation_rate, left):
    """im2col straight from the unpadded input into a reusable buffer.

    ``cols4`` (N, L_out, K, C) must be zero wherever a tap reads padding; the
    layers allocate it with ``np.zeros`` once and never write those cells, so
    the zero padding costs no copy of the input. Without padding this is one
    copy of the strided window view, as :func:`im2col`.
    """
    N, L, C = X.shape
    _, out_len, K, _ = cols4.shape
    if left == 0 and (out_len - 1) * strides + (K - 1) * dilation_rate < L:
        view = _window_view(X, K, strides, dilation_rate, out_len)
        np.copyto(cols4, view)
        return cols4
    for k in range(K):
        lo, hi, off = _tap_range(k, K, strides, dilation_rate, left, L, out_len)
        if hi <= lo:
            continue
        start = lo * strides + off
        np.copyto(cols4[:, lo:hi, k, :], X[:, start : start + (hi - lo - 1) * strides + 1 : strides])
    return cols4


def col2im_into(dcols4, dX, strides, dilation_rate, left):
    """Adjoint of :func:`im2col_into`: scatter-add (N, L_out, K, C) into ``dX`` (N, L, C).

    Writes every cell of ``dX`` (the padding's share is dropped), so ``dX`` can
    be a reused buffer. Same sums, in the same tap order, as :func:`col2im`.
    """
    N, L, C = dX.shape
    _, out_len, K, _ = dcols4.shape
    first = True
    for k in range(K):
        lo, hi, off = _tap_range(k, K, strides, dilation_rate, left, L, out_len)
        if hi <= lo:
            continue
        start = lo * strides + off
        dst = dX[:, start : start + (hi - lo - 1) * strides + 1 : strides]
        src = dcols4[:, lo:hi, k, :]
        if first:
            if strides == 1:  # copy the first tap, zero only the cells it misses
                np.copyto(dst, src)
                dX[:, :start] = 0
                dX[:, start + hi - lo :] = 0
            else:
                dX.fill(0)
                dst += src
            first = False
        else:
            dst += src
    if first:
        dX.fill(0)
    return dX


def weight_grad(cols, dY2):
    """``cols.T @ dY2`` (K*C, F), in the GEMM shape BLAS runs well.

    With a thin im2col matrix (few columns, e.g. the first layer on a
    single-channel signal) OpenBLAS runs ``cols.T @ dY2`` on 2 threads up to
    100x slower than the transposed product ``(dY2.T @ cols).T``; with wide
    columns both are fast and the direct form is kept.
    """
    if cols.shape[1] < 64:
        return (dY2.T @ cols).T
    return cols.T @ dY2


def maxpool1d_forward_into(Z, pool_size, strides, out, masks=None):
    """Max pooling of ``Z`` (N, L, C) into ``out`` (N, L_p, C).

    ``masks`` (pool_size, N, L_p, C) bool, when given, receives the
    first-max-wins masks of :func:`maxpool1d_forward` (training only: predict
    needs none). Same values and masks as :func:`maxpool1d_forward` (for a
    window holding NaN the masks may differ: see below). Each offset's mask is
    contiguous, so the logic between masks runs in long loops.
    """
    views = _pool_views(Z, pool_size, strides, out.shape[1])
    return _max_with_masks(views, out, masks)


def _max_with_masks(views, out, masks):
    """``out = max(views)`` element-wise; ``masks[j]`` (optional) = first-max-wins winners."""
    if len(views) == 1:
        np.copyto(out, views[0])
    else:
        np.maximum(views[0], views[1], out=out)
        for v in views[2:]:
            np.maximum(out, v, out=out)
    if masks is None:
        return out, None
    if len(views) == 1:
        masks.fill(True)
        return out, masks
    # m_j = (v_j == max) & ~(m_0 | ... | m_{j-1}); "free", the negation of that
    # union, is built in the last offset's mask: where no earlier offset holds
    # the maximum, the last one does (a window holding NaN excepted, where the
    # plain masks route nothing: its loss is NaN and training stops anyway)
    last = len(views) - 1
    free = masks[last]
    np.equal(views[0], out, out=masks[0])
    np.logical_not(masks[0], out=free)
    for j in range(1, last):
        m = masks[j]
        np.equal(views[j], out, out=m)
        m &= free
        np.greater(free, m, out=free)  # free & ~m, without a temporary
    return out, masks


def maxpool1d_backward_into(dY, masks, strides, dX):
    """Route ``dY`` (N, L_p, C) to the winners into ``dX`` (N, L, C), every cell written.

    ``masks`` as filled by :func:`maxpool1d_forward_into`, (pool_size, N, L_p, C).
    """
    N, out_len, C = dY.shape
    pool_size = masks.shape[0]
    stop = strides * (out_len - 1) + 1
    if strides == pool_size:
        for j in range(pool_size):
            np.multiply(dY, masks[j], out=dX[:, j : j + stop : strides])
        dX[:, pool_size * out_len :] = 0
        return dX
    dX.fill(0)
    for j in range(pool_size):
        dX[:, j : j + stop : strides] += dY * masks[j]
    return dX


# --------------------------------------------------------------------------
# Convolution without im2col. In a C-contiguous channels-last batch
# (N, L, C) the receptive field of output step t, K taps x C channels, is one
# contiguous run of K*C numbers, so the im2col matrix is a strided view whose
# rows overlap (row step s*C < K*C). BLAS refuses overlapping rows, but taking
# every ceil(K/s)-th row gives a matrix whose rows do not overlap: a plain
# strided operand BLAS reads in place. ceil(K/s) matrix products (same FLOPs
# as one) replace the copy of K*L*C numbers; on workload A's layers the
# forward pass ran 1.4-3.7x faster than im2col + one product.
# --------------------------------------------------------------------------
def _n_phases(width, step, n_ph):
    least = -(-width // step)
    if n_ph is None:
        return least
    if n_ph < least:
        raise ValueError(f"n_ph={n_ph} phases of windows {width} wide every {step} overlap; "
                         f"use n_ph >= {least}.")
    return n_ph


def _window_phases(src, width, step, n_rows, n_ph=None):
    """Yield ``(j, n_ph, A_j)``: ``A_j[i]`` is the window of row ``r = j + i * n_ph``.

    Row ``r`` is ``src[r * step : r * step + width]`` of the 1-D contiguous
    ``src``; rows ``j, j + n_ph, ...`` with ``n_ph >= ceil(width / step)``
    (the least by default) do not overlap, so each ``A_j`` is a
    BLAS-compatible strided matrix.
    """
    if src.ndim != 1 or not src.flags.c_contiguous:
        raise ValueError("window_matmul needs a 1-D contiguous source.")
    need = (n_rows - 1) * step + width
    if n_rows > 0 and src.size < need:
        raise ValueError(f"source holds {src.size} values; {n_rows} windows need {need}.")
    n_ph = _n_phases(width, step, n_ph)
    for j in range(min(n_ph, n_rows)):
        m = (n_rows - j + n_ph - 1) // n_ph
        yield j, n_ph, _rows_view(src, j * step, m, width, n_ph * step)


def _rows_view(src, start, n_rows, width, row_step):
    """``(n_rows, width)`` view of 1-D contiguous ``src``, row i at ``start + i * row_step``.

    Built with the ndarray constructor: ``as_strided`` costs ~15 us a call,
    which added up to 4% of an epoch at a few views per layer and batch.
    """
    isz = src.itemsize
    return np.ndarray((n_rows, width), dtype=src.dtype, buffer=src, offset=start * isz,
                      strides=(row_step * isz, isz))


def window_matmul(src, width, step, n_rows, B, out, n_ph=None):
    """``out[r] = src[r*step : r*step + width] @ B`` for ``r < n_rows``, no copy of windows.

    Parameters
    ----------
    src : ndarray, 1-D, C-contiguous
        A batch of padded channels-last signals flattened to one long signal.
    width, step : int
        Window length and distance between consecutive windows, in values.
    n_rows : int
    B : ndarray of shape (width, F)
    out : ndarray of shape (>= n_rows, F), rows contiguous; or a sequence of
        ``n_ph`` arrays, one per phase: ``out[j][i]`` receives row ``j + i * n_ph``
        (row-major outputs in phase order, e.g. for max pooling by ``n_ph``).
        Written in rows ``[0, n_rows)`` only.
    n_ph : int or None
        Number of phases (default: the least, ``ceil(width / step)``).
    """
    per_phase = isinstance(out, (list, tuple)) or getattr(out, "ndim", 2) == 3
    for j, k, A in _window_phases(src, width, step, n_rows, n_ph):
        dst = out[j] if per_phase else out[j::k]
        np.matmul(A, B, out=dst[: A.shape[0]])
    return out


def window_matmul_t(src, width, step, n_rows, G, n_ph=None):
    """``sum_r outer(src[r*step : r*step + width], G[r])``, shape (width, F).

    The weight gradient of :func:`window_matmul` (``G`` holds the output
    gradients, zero on rows that are not outputs; interleaved rows, or one
    array per phase as in :func:`window_matmul`). Each phase's product goes
    through :func:`weight_grad` (the GEMM shape OpenBLAS runs fast).
    """
    per_phase = isinstance(G, (list, tuple)) or G.ndim == 3
    total = None
    for j, k, A in _window_phases(src, width, step, n_rows, n_ph):
        g = (G[j] if per_phase else G[j::k])[: A.shape[0]]
        part = weight_grad(A, g)
        if total is None:
            total = part
        else:
            total += part
    if total is None:
        F = G[0].shape[-1] if per_phase else G.shape[1]
        total = np.zeros((width, F), dtype=np.result_type(src, G[0] if per_phase else G))
    return total


def window_matmul_scatter(G, Bt, width, step, n_rows, dst, scratch=None, n_ph=None,
                          accumulate=True):
    """Adjoint of :func:`window_matmul`: ``dst[r*step : r*step + width] += G[r] @ Bt``.

    ``dst`` is 1-D contiguous and is accumulated into; with
    ``accumulate=False`` it is overwritten instead (every cell written, so it
    needs no zeroing; when the phases tile it exactly, ``n_ph * step ==
    width``, the first phase's product is written in place).
    ``Bt`` is (F, width); ``G`` interleaved rows or one array per phase.
    ``scratch`` (>= ceil(n_rows / n_ph), width) avoids allocating each
    phase's product.
    """
    if dst.ndim != 1 or not dst.flags.c_contiguous:
        raise ValueError("window_matmul_scatter needs a 1-D contiguous target.")
    per_phase = isinstance(G, (list, tuple)) or G.ndim == 3
    n_ph = _n_phases(width, step, n_ph)
    first = 0
    if not accumulate:
        if n_ph * step == width and n_rows > 0:
            m = (n_rows + n_ph - 1) // n_ph
            g = (G[0] if per_phase else G[::n_ph])[:m]
            np.matmul(g, Bt, out=_rows_view(dst, 0, m, width, width))
            dst[m * width:] = 0
            first = 1
        else:
            dst.fill(0)
    for j in range(first, min(n_ph, n_rows)):
        m = (n_rows - j + n_ph - 1) // n_ph
        g = (G[j] if per_phase else G[j::n_ph])[:m]
        D = np.matmul(g, Bt, out=None if scratch is None else scratch[:m])
        tgt = _rows_view(dst, j * step, m, width, n_ph * step)
        tgt += D
    return dst


def maxpool_phases_into(phases, out, masks=None):
    """Element-wise maximum of the phase arrays ``phases`` (p, M, F) into ``out`` (M, F).

    With the outputs of a convolution split by phase (:func:`window_matmul`
    with ``n_ph = p``), max pooling by ``p`` is this maximum over ``p``
    contiguous arrays: long loops instead of strided windows of one channel
    row each (3-4x faster). ``masks`` (p, M, F) bool receives the
    first-max-wins masks of :func:`maxpool1d_forward`.
    """
    return _max_with_masks(list(phases), out, masks)


def column_sums(a):
    """``a.sum(axis=-2)`` as BLAS matrix-vector products: (M, F) -> (F,), (N, L, F) -> (N, F).

    NumPy reduces that axis row by row in loops of F values; ``ones @ a`` ran
    3-9x faster on the bias gradients of the benchmark's layers, and 3-4x
    faster than ``mean(axis=1)`` for global average pooling over (N, L, C).
    """
    return np.ones(a.shape[-2], dtype=a.dtype) @ a


def conv_flops(out_len, kernel_size, in_channels, filters):
    """Multiply-adds x 2 of one convolution forward pass for one sample."""
    return 2 * out_len * kernel_size * in_channels * filters

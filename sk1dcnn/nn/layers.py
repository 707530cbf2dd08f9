"""Layers: thin stateful wrappers over :mod:`sk1dcnn.ops`.

A layer stores its configuration in ``__init__`` (Keras names and defaults),
creates its weights in ``build(input_shape, rng, dtype)``, computes
``forward(X, training, rng) -> Y`` caching what the backward pass needs, and
``backward(dY) -> dX`` filling ``self.grads`` (same keys as ``self.params``).
Sequence tensors are channels-last ``(N, L, C)``; ``input_shape`` excludes the
batch axis: ``(L, C)`` for sequences, ``(D,)`` after Flatten/global pooling.
"""

import numpy as np

from . import ops
from .activations import (
    ACTIVATIONS,
    ALL_ACTIVATIONS,
    DERIVATIVES,
    MONOTONE,
    RRELU_LOWER,
    RRELU_UPPER,
)
from .initializers import INITIALIZERS

__all__ = [
    "Layer",
    "Conv1D",
    "Dense",
    "Activation",
    "Dropout",
    "MaxPooling1D",
    "AveragePooling1D",
    "GlobalMaxPooling1D",
    "GlobalAveragePooling1D",
    "Flatten",
    "LAYERS",
    "TooShortError",
]


class TooShortError(ValueError):
    """The input length runs out inside the network."""


def _check_positive_int(name, value, layer):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}.")
    return int(value)


class Layer:
    """Base class: no parameters, identity shape."""

    #: parameters that carry an L2 penalty (kernels, not biases or slopes)
    penalized = ()

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.input_shape = None
        self.output_shape = None

    # -- configuration -------------------------------------------------
    def get_config(self):
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    # -- lifecycle -----------------------------------------------------
    def build(self, input_shape, rng, dtype):
        self.input_shape = tuple(input_shape)
        self.output_shape = self.compute_output_shape(self.input_shape)
        return self.output_shape

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, X, training=False, rng=None):
        raise NotImplementedError

    def backward(self, dY, need_dX=True):
        raise NotImplementedError

    @property
    def n_params(self):
        return int(sum(p.size for p in self.params.values()))

    def flops(self):
        """Forward multiply-add FLOPs per sample (matrix products only)."""
        return 0

    def _buffer(self, name, shape, dtype, zeros=False):
        """A reusable scratch array of ``shape`` (first axis: the batch).

        Kept across batches as ``_c_buf_<name>`` (dropped by :meth:`clear_cache`
        and never pickled) and grown when a larger batch arrives, so training
        writes into the same memory every batch instead of faulting in fresh
        pages. ``zeros=True`` zero-fills it when (re)allocated only.
        """
        key = "_c_buf_" + name
        buf = self.__dict__.get(key)
        shape = tuple(shape)
        if (buf is None or buf.dtype != dtype or buf.shape[1:] != shape[1:]
                or buf.shape[0] < shape[0]):
            buf = (np.zeros if zeros else np.empty)(shape, dtype=dtype)
            self.__dict__[key] = buf
        return buf[: shape[0]]

    def clear_cache(self):
        """Drop what forward cached for backward (keeps pickles small)."""
        for key in [k for k in self.__dict__ if k.startswith("_c_")]:
            del self.__dict__[key]

    def __getstate__(self):
        state = self.__dict__.copy()
        for key in [k for k in state if k.startswith("_c_")]:
            del state[key]
        state["grads"] = {}
        return state


def _require_sequence(layer, input_shape):
    if len(input_shape) != 2:
        raise ValueError(
            f"{layer!r} needs a sequence input (timepoints, channels) but gets a flat "
            f"vector of shape {input_shape}; put it before Flatten/global pooling."
        )


class Conv1D(Layer):
    """1D convolution layer (Keras ``Conv1D``), optionally with an activation.

    Parameters
    ----------
    filters : int
    kernel_size : int
    strides : int, default=1
    padding : {'valid', 'same', 'causal'}, default='valid'
    dilation_rate : int, default=1
    activation : str or None, default=None
        Fused activation; any name of :data:`sk1dcnn.activations.ALL_ACTIVATIONS`.
    use_bias : bool, default=True
    kernel_initializer : {'glorot_uniform', 'he_uniform'}, default='glorot_uniform'
    """

    penalized = ("W",)
    #: pooling size fused by phases after this layer (see :meth:`prepare_pool`)
    _pool_hint = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation_rate=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform"):
        super().__init__()
        name = "Conv1D"
        self.filters = _check_positive_int("filters", filters, name)
        self.kernel_size = _check_positive_int("kernel_size", kernel_size, name)
        self.strides = _check_positive_int("strides", strides, name)
        self.dilation_rate = _check_positive_int("dilation_rate", dilation_rate, name)
        if padding not in ("valid", "same", "causal"):
            raise ValueError(
                f"Conv1D: padding must be 'valid', 'same' or 'causal', got {padding!r}."
            )
        if self.strides > 1 and self.dilation_rate > 1:
            raise ValueError("Conv1D: strides > 1 together with dilation_rate > 1 is not supported.")
        self.padding = padding
        self.activation = activation
        self.use_bias = bool(use_bias)
        if kernel_initializer not in INITIALIZERS:
            raise ValueError(
                f"Conv1D: unknown kernel_initializer {kernel_initializer!r}; "
                f"use one of {sorted(INITIALIZERS)}."
            )
        self.kernel_initializer = kernel_initializer
        self._act = Activation(activation) if activation not in (None, "identity") else None

    def get_config(self):
        cfg = {"filters": self.filters, "kernel_size": self.kernel_size}
        if self.strides != 1:
            cfg["strides"] = self.strides
        cfg["padding"] = self.padding
        if self.dilation_rate != 1:
            cfg["dilation_rate"] = self.dilation_rate
        if self.activation is not None:
            cfg["activation"] = self.activation
        if not self.use_bias:
            cfg["use_bias"] = False
        return cfg

    def compute_output_shape(self, input_shape):
        _require_sequence(self, input_shape)
        L, _ = input_shape
        out = ops.conv_output_length(L, self.kernel_size, self.strides, self.padding,
                                     self.dilation_rate)
        if out < 1:
            span = self.dilation_rate * (self.kernel_size - 1) + 1
            raise TooShortError(
                f"{self!r} gets length {L} and would output length {out} "
                f"(its receptive field spans {span} steps); use padding='same' or a "
                f"smaller kernel_size/dilation_rate"
            )
        return (out, self.filters)

    def build(self, input_shape, rng, dtype):
        super().build(input_shape, rng, dtype)
        _, C = self.input_shape
        K, F = self.kernel_size, self.filters
        init = INITIALIZERS[self.kernel_initializer]
        self.params = {"W": init((K, C, F), K * C, K * F, rng, dtype)}
        if self.use_bias:
            self.params["b"] = np.zeros(F, dtype=dtype)
        if self._act is not None:
            self._act.build(self.output_shape, rng, dtype)
            for k, v in self._act.params.items():
                self.params["act_" + k] = v
        return self.output_shape

    # -- fast path ---------------------------------------------------------
    # The forward pass writes the padded input (unless the previous layer wrote
    # it there), the matmul output (per phase when pooling by phases) and the
    # pooled output into per-layer buffers reused across batches; bias and ReLU
    # are applied in place or on the way into the next layer's input buffer.

    def can_fuse_pool(self, pool):
        """Can this layer run ``pool`` (the next layer) on its raw matmul output?

        Max pooling commutes with adding a per-channel bias and with any
        non-decreasing activation, so the pooled output is identical and bias
        and activation touch ``pool_size`` times fewer values.
        """
        return (isinstance(pool, MaxPooling1D) and self.activation in MONOTONE | {None}
                and pool.input_shape == self.output_shape)

    def _conv_raw(self, X, W=None):
        """``X`` (N, L, C) -> buffered matmul output (N, L_out, F), no bias.

        Without dilation (the usual case) the batch is laid out as one long
        zero-padded signal and multiplied by the kernel through strided views
        (:func:`~sk1dcnn.ops.window_matmul`: no im2col copy). The result is a
        view of the rows that are outputs; the rows in between (windows that
        straddle two signals) are computed and never read. With dilation the
        im2col matrix is copied into a reused buffer and multiplied once.
        """
        N, L, C = X.shape
        K, F, s = self.kernel_size, self.filters, self.strides
        if W is None:
            W = self.params["W"]
        L_out = self._check_input(L, C, W)
        left, right = ops.conv_padding(L, K, s, self.padding, self.dilation_rate)
        dtype = np.result_type(X.dtype, W.dtype)
        if X.dtype != dtype:
            X = X.astype(dtype)
        self._c_len = L
        self._c_left = left
        if self.dilation_rate != 1:
            # keyed by the input length too: padding cells are only zeroed at allocation,
            # and two lengths can share an output length but not their padded cells
            cols4 = self._buffer(f"cols{L}", (N, L_out, K, C), dtype, zeros=True)
            ops.im2col_into(X, cols4, s, self.dilation_rate, left)
            cols = cols4.reshape(N * L_out, K * C)
            Z = self._buffer("z", (N, L_out, F), dtype)
            np.matmul(cols, W.reshape(K * C, F), out=Z.reshape(N * L_out, F))
            self._c_cols = cols
            self._c_geom = None
            return Z
        left, Lp = self._padded_length(L)
        R = Lp // s
        Xp = self._padded_input(X, left, Lp, dtype)
        n_rows = (N * Lp - K) // s + 1
        Zl = self._buffer("zl", (N, R, F), dtype)
        ops.window_matmul(Xp.reshape(-1), K * C, s * C, n_rows, W.reshape(K * C, F),
                          Zl.reshape(N * R, F))
        self._c_xp = Xp
        self._c_geom = (Lp, R, L_out, n_rows)
        return Zl[:, :L_out]

    def _check_input(self, L, C, W):
        """Output length for inputs of length ``L`` with ``C`` channels, or a ValueError."""
        if W.shape[1] != C:
            raise ValueError(f"X has {C} channels but the kernel expects {W.shape[1]}.")
        K = self.kernel_size
        L_out = ops.conv_output_length(L, K, self.strides, self.padding, self.dilation_rate)
        if L_out <= 0:
            raise ValueError(
                f"input length {L} is too short for kernel_size={K}, "
                f"dilation_rate={self.dilation_rate}, padding={self.padding!r}."
            )
        return L_out

    def _next_input(self, next_layer, N, L, F, dtype, in_place_only=True):
        """The next Conv1D's padded input buffer (N, L, F) to write this layer's
        output into, or None. ``in_place_only``: only when bias and activation run
        in place (other activations keep their input for the backward pass)."""
        if not isinstance(next_layer, Conv1D):
            return None
        if in_place_only and self.activation not in (None, "identity", "relu"):
            return None
        out = next_layer.input_buffer(N, L, dtype)
        return None if out is None or out.shape[2] != F else out

    def _padded_length(self, L):
        """``(left, Lp)``: zeros before each signal and its length in the long layout.

        ``Lp`` is rounded up to a multiple of the stride, so that output row r
        of the long signal starts at input r * s in every signal, and, when a
        max pooling by p is fused by phases (:meth:`forward_pool`), of s * p,
        so that every signal's outputs start at phase 0.
        """
        K, s = self.kernel_size, self.strides
        left, right = ops.conv_padding(L, K, s, self.padding, 1)
        Lp = L + left + right
        Lp += (-Lp) % (s * self._pool_hint)
        return left, Lp

    def _padded_input(self, X, left, Lp, dtype):
        """The input in the long zero-padded layout (N, Lp, C) (``X`` itself if it is)."""
        N, L, C = X.shape
        if left == 0 and Lp == L and X.flags.c_contiguous:
            Xp = X
        else:
            # the padding cells are zeroed at allocation and never written; the
            # previous layer may have written X straight into the interior
            Xp = self._buffer(f"xp{L}_{Lp}", (N, Lp, C), dtype, zeros=True)
            if X is not self.__dict__.get("_c_in_view"):
                Xp[:, left:left + L] = X
        self._c_in_view = None
        return Xp

    def input_buffer(self, N, L, dtype):
        """A view (N, L, C) for the previous layer to write this layer's input into.

        It is the interior of the zero-padded buffer :meth:`_conv_raw` reads,
        so a forward pass that gets this very view as input skips copying it.
        None when the input is read where it is (no padding) or copied anyway
        (dilation).
        """
        if self.dilation_rate != 1 or self.params["W"].dtype != dtype:
            return None
        left, Lp = self._padded_length(L)
        if left == 0 and Lp == L:
            return None
        C = self.params["W"].shape[1]
        Xp = self._buffer(f"xp{L}_{Lp}", (N, Lp, C), dtype, zeros=True)
        self._c_in_view = Xp[:, left:left + L]
        return self._c_in_view

    def _dz_target(self, N, dtype):
        """Where the gradient of the matmul output goes, shape (N, L_out, F).

        On the strided path: the output rows of a long gradient buffer whose
        other rows stay zero (set at allocation, never written), with K - 1
        zero rows in front for the stride-1 input gradient.
        """
        F = self.filters
        if self._c_geom is None:
            view = self._buffer("dz", (N, self._c_cols.shape[0] // N, F), dtype)
        else:
            Lp, R, L_out, _ = self._c_geom
            pre = self.kernel_size - 1 if self.strides == 1 else 0
            # keyed by the row layout: rows that are no output must be zero, and
            # which rows those are depends on L and on R (the pooling hint)
            D = self._buffer(f"dzl{self._c_len}_{R}", (pre + N * R, F), dtype, zeros=True)
            self._c_D = D
            view = D[pre:].reshape(N, R, F)[:, :L_out]
        self._c_dzv = view
        return view

    def _bias_act(self, Z, training, rng, out=None):
        """Bias and activation, in place on the buffered ``Z`` where possible.

        ``out`` (the next layer's input buffer; bias/ReLU/identity only)
        receives the result instead, at no extra pass.
        """
        # NumPy broadcasts a (F,) vector or a scalar over (N, L, F) 2-3x slower
        # than an (L, F) block over N (short inner loops; no SIMD for a scalar
        # operand of maximum), so the bias is tiled and ReLU compares with zeros
        dst = Z if out is None else out
        if self.use_bias:
            np.add(Z, np.tile(self.params["b"], (Z.shape[1], 1)), out=dst)
            Z = dst
        if self._act is None:
            if Z is not dst:
                np.copyto(dst, Z)
            return dst
        if self.activation == "relu":
            np.maximum(Z, np.zeros(Z.shape[1:], Z.dtype), out=dst)
            self._c_A = dst
            return dst
        self._sync_act()
        return self._act.forward(Z, training, rng)

    def _act_backward(self, dY, out=None):
        if self._act is None:
            return dY
        if self.activation == "relu":
            A = self._c_A
            mask = self._buffer("relu_mask", A.shape, bool)
            np.greater(A, 0, out=mask)
            if out is None:
                out = self._buffer("dact", A.shape, dY.dtype)
            return np.multiply(dY, mask, out=out)
        dZ = self._act.backward(dY)
        for k, v in self._act.grads.items():
            self.grads["act_" + k] = v
        return dZ

    def _conv_backward(self, dZ, need_dX, db=None):
        N, L_out, F = dZ.shape
        K, C, s = self.kernel_size, self.params["W"].shape[1], self.strides
        W = self.params["W"]
        target = getattr(self, "_c_dzv", None)
        if target is None or target.shape != dZ.shape or target.dtype != dZ.dtype:
            target = self._dz_target(N, dZ.dtype)
        if dZ is not target:
            np.copyto(target, dZ)
        self._c_dzv = None  # one use per backward pass
        if self._c_geom is None:  # dilated: im2col columns
            cols = self._c_cols
            dZ2 = target.reshape(N * L_out, F)
            self.grads["W"] = ops.weight_grad(cols, dZ2).reshape(K, C, F)
            if self.use_bias:
                self.grads["b"] = ops.column_sums(dZ2) if db is None else db
            if not need_dX:
                return None
            dcols = self._buffer("dcols", (N * L_out, K * C), dZ2.dtype)
            np.matmul(dZ2, W.reshape(K * C, F).T, out=dcols)
            dX = self._buffer("dx", (N, self._c_len, C), dZ2.dtype)
            return ops.col2im_into(dcols.reshape(N, L_out, K, C), dX, s,
                                   self.dilation_rate, self._c_left)
        Lp, R, _, n_rows = self._c_geom
        D = self._c_D
        pre = D.shape[0] - N * R
        G = D[pre:]
        self.grads["W"] = ops.window_matmul_t(self._c_xp.reshape(-1), K * C, s * C, n_rows,
                                              G).reshape(K, C, F)
        if self.use_bias:
            self.grads["b"] = ops.column_sums(G) if db is None else db
        if not need_dX:
            return None
        L, left = self._c_len, self._c_left
        dXp = self._buffer(f"dxp{L}", (N, Lp, C), D.dtype)
        if s == 1:
            # the input gradient is a stride-1 correlation of the zero-padded
            # output gradient with the flipped kernel: products only, no scatter
            Wflip = np.ascontiguousarray(W[::-1].transpose(0, 2, 1)).reshape(K * F, C)
            ops.window_matmul(D.reshape(-1), K * F, F, N * Lp, Wflip, dXp.reshape(N * Lp, C))
        else:
            n_ph = -(-K // s)
            scratch = self._buffer("dscratch", (-(-n_rows // n_ph), K * C), D.dtype)
            ops.window_matmul_scatter(G, W.reshape(K * C, F).T, K * C, s * C, n_rows,
                                      dXp.reshape(-1), scratch, accumulate=False)
        return dXp[:, left:left + L]

    def forward(self, X, training=False, rng=None, next_layer=None):
        """Convolution, bias and activation; with ``next_layer`` (a Conv1D) the
        result is written into that layer's padded input buffer when it can be."""
        self._c_pool = None
        self._c_pp = None
        Z = self._conv_raw(X)
        out = self._next_input(next_layer, *Z.shape, Z.dtype)
        return self._bias_act(Z, training, rng, out=out)

    def backward(self, dY, need_dX=True):
        if getattr(self, "_c_pool", None) is not None:
            raise RuntimeError("backward() after forward_pool(): call backward_pool().")
        N = dY.shape[0]
        out = self._dz_target(N, dY.dtype) if self.activation == "relu" else None
        return self._conv_backward(self._act_backward(dY, out=out), need_dX)

    def forward_folded(self, X, scale, shift, relu=False, next_layer=None):
        """Predict-time convolution followed by ``x * scale + shift`` per channel
        (a folded BatchNormalization) and, with ``relu``, a ReLU.

        The kernel and bias absorb the affine map, so the normalization costs
        nothing; the layer's own parameters are left untouched.
        """
        W = self.params["W"]
        Wf = (W * scale).astype(W.dtype)
        b = shift if not self.use_bias else self.params["b"] * scale + shift
        Z = self._conv_raw(X, W=Wf)
        out = self._next_input(next_layer, *Z.shape, Z.dtype, in_place_only=False)
        dst = Z if out is None else out
        np.add(Z, np.tile(b.astype(Z.dtype), (Z.shape[1], 1)), out=dst)
        if relu:
            np.maximum(dst, np.zeros(dst.shape[1:], dst.dtype), out=dst)
        self._c_pool = None
        return dst

    #: whether training uses pooling by phases when the phases come in several
    #: groups (p * strides < kernel_size); see :meth:`phase_pool_groups`
    _GROUPED_PHASES_IN_TRAINING = False

    def phase_pool_groups(self, pool, training=True):
        """In how many groups :meth:`forward_pool` computes ``pool`` by phases (0: it does not).

        When the pooling windows do not overlap (``strides == pool_size`` = p),
        the convolution's outputs are written one contiguous array per phase,
        ``n_ph = p * q`` phases with ``q = ceil(K / (p * s))`` so that no two
        receptive fields of a phase overlap, and pooling is an element-wise
        maximum over p phases, in q groups. With q > 1 (e.g. kernel 5, pool 2)
        the groups interleave into the pooled rows, and only prediction uses
        it: in training the input gradient would need a scatter-add over the
        gapped phases, slower than the strided path's flipped-kernel product.
        """
        p, s, K = pool.pool_size, self.strides, self.kernel_size
        if self.dilation_rate != 1 or pool.strides != p:
            return 0
        q = -(-K // (p * s))
        if q > 1 and training and not self._GROUPED_PHASES_IN_TRAINING:
            return 0
        return q

    def prepare_pool(self, pool, training=True):
        """Called by the network before a pass that fuses ``pool`` into this layer."""
        q = self.phase_pool_groups(pool, training)
        hint = pool.pool_size * q if q else 1
        if self._pool_hint != hint:
            self._pool_hint = hint

    def _forward_phase_pool(self, X, pool, training, rng, next_layer, q):
        N, L, C = X.shape
        K, F, s, p = self.kernel_size, self.filters, self.strides, pool.pool_size
        n_ph = p * q
        W = self.params["W"]
        L_out = self._check_input(L, C, W)
        Lpool = pool.compute_output_shape((L_out, F))[0]
        self._pool_hint = n_ph
        left, Lp = self._padded_length(L)  # a multiple of s * n_ph
        dtype = np.result_type(X.dtype, W.dtype)
        if X.dtype != dtype:
            X = X.astype(dtype)
        Xp = self._padded_input(X, left, Lp, dtype)
        Rq = Lp // (s * p)  # pooled rows per signal in the long layout, a multiple of q
        n_rows = (N * Lp - K) // s + 1
        M = N * Rq // q  # rows per phase
        # rows past a phase's last window are not written: they hold whatever the
        # buffer held (zeros, or a previous batch's values). They belong to no
        # signal: the pooled rows they reach are never read, and their gradient
        # rows (dPl) are zero, so they add nothing to any gradient
        ph = self._buffer("phases", (n_ph * M, F), dtype, zeros=True).reshape(n_ph, M, F)
        ops.window_matmul(Xp.reshape(-1), K * C, s * C, n_rows, W.reshape(K * C, F), ph,
                          n_ph=n_ph)
        Pl = self._buffer("pooled_long", (N * Rq, F), dtype)
        masks = None
        if training:
            masks = self._buffer("pool_masks", (n_ph * M, F), bool).reshape(n_ph, M, F)
        self._pool_groups(ph, Pl, masks, N, Rq, p, q)
        P = Pl.reshape(N, Rq, F)[:, :Lpool]
        self._c_len, self._c_left, self._c_xp = L, left, Xp
        self._c_pp = (Lp, Rq, n_rows, Lpool, p, q)
        self._c_geom = None
        self._c_pool, self._c_masks, self._c_ph = pool, masks, ph
        out = self._next_input(next_layer, N, Lpool, F, dtype)
        return self._bias_act(P, training, rng, out=out)

    @staticmethod
    def _pool_groups(ph, Pl, masks, N, Rq, p, q):
        """Pooled row ``q * k + c`` of the long layout is the maximum of phases
        ``p * c .. p * c + p - 1`` at row k: one maximum per group, written into
        every q-th pooled row of each signal."""
        F = ph.shape[-1]
        Pl3 = Pl.reshape(N, Rq, F)
        for c in range(q):
            group = [ph[p * c + o].reshape(N, Rq // q, F) for o in range(p)]
            m = None if masks is None else masks[p * c:p * c + p].reshape(p, N, Rq // q, F)
            ops.maxpool_phases_into(group, Pl3[:, c::q], m)

    def _backward_phase_pool(self, dY, need_dX):
        Lp, Rq, n_rows, Lpool, p, q = self._c_pp
        N = dY.shape[0]
        K, C, F, s = self.kernel_size, self.params["W"].shape[1], self.filters, self.strides
        W = self.params["W"]
        n_ph = p * q
        M = N * Rq // q
        # keyed by Rq and Lpool: the rows past Lpool must be zero, and two input
        # lengths can share Rq but not Lpool
        dPl = self._buffer(f"dpooled_long{Rq}_{Lpool}", (N * Rq, F), dY.dtype, zeros=True)
        dP = dPl.reshape(N, Rq, F)[:, :Lpool]  # the other rows stay zero
        if self.activation == "relu":
            self._act_backward(dY, out=dP)
        else:
            np.copyto(dP, self._act_backward(dY))
        if self.use_bias:
            self.grads["b"] = ops.column_sums(dPl)
        masks = self._c_masks
        if masks is None:  # forward ran in predict mode: find the winners now
            masks = self._buffer("pool_masks", (n_ph * M, F), bool).reshape(n_ph, M, F)
            self._pool_groups(self._c_ph, np.empty((N * Rq, F), self._c_ph.dtype), masks,
                              N, Rq, p, q)
        # the phase products are dead once pooled (the masks hold the winners):
        # their buffer takes the gradient (87 MB less on workload B's largest layer)
        dph = self._buffer("phases", (n_ph * M, F), dY.dtype).reshape(n_ph, M, F)
        dPl3 = dPl.reshape(N, Rq, F)
        for c in range(q):
            for o in range(p):
                j = p * c + o
                np.multiply(dPl3[:, c::q], masks[j].reshape(N, Rq // q, F),
                            out=dph[j].reshape(N, Rq // q, F))
        src = self._c_xp.reshape(-1)
        self.grads["W"] = ops.window_matmul_t(src, K * C, s * C, n_rows, dph,
                                              n_ph=n_ph).reshape(K, C, F)
        if not need_dX:
            return None
        L, left = self._c_len, self._c_left
        dXp = self._buffer(f"dxp{L}", (N, Lp, C), dph.dtype)
        scratch = self._buffer("dscratch", (-(-n_rows // n_ph), K * C), dph.dtype)
        ops.window_matmul_scatter(dph, W.reshape(K * C, F).T, K * C, s * C, n_rows,
                                  dXp.reshape(-1), scratch, n_ph=n_ph, accumulate=False)
        return dXp[:, left:left + L]

    def forward_pool(self, X, pool, training=False, rng=None, next_layer=None):
        """``pool.forward(self.forward(X))`` in one pass (see :meth:`can_fuse_pool`).

        Pools the raw matmul output, then adds the bias and applies the
        activation on the pooled, smaller tensor. Same output as the two layers
        in turn; the gradients of :meth:`backward_pool` are those of the two
        layers' backward passes. With ``next_layer`` (a Conv1D) the pooled
        output is written into that layer's padded input buffer.
        """
        q = self.phase_pool_groups(pool, training)
        if q:
            return self._forward_phase_pool(X, pool, training, rng, next_layer, q)
        self._c_pp = None
        Z = self._conv_raw(X)
        N, L_out, F = Z.shape
        Lp = pool.compute_output_shape((L_out, F))[0]
        # only when bias and activation run in place: other activations keep P
        # for their backward pass, and the next layer would overwrite it
        P = self._next_input(next_layer, N, Lp, F, Z.dtype)
        if P is None:
            P = self._buffer("pooled", (N, Lp, F), Z.dtype)
        masks = self._pool_masks(N, pool.pool_size, Lp, F) if training else None
        ops.maxpool1d_forward_into(Z, pool.pool_size, pool.strides, P, masks)
        self._c_pool = pool
        self._c_masks = masks
        self._c_z = Z
        return self._bias_act(P, training, rng)

    def _pool_masks(self, N, pool_size, Lp, F):
        """Reused (pool_size, N, Lp, F) bool buffer: one contiguous mask per offset."""
        return self._buffer("pool_masks", (pool_size * N, Lp, F), bool).reshape(
            pool_size, N, Lp, F)

    def backward_pool(self, dY, need_dX=True):
        """Backward pass of :meth:`forward_pool`: returns the input gradient."""
        if getattr(self, "_c_pp", None) is not None:
            return self._backward_phase_pool(dY, need_dX)
        pool = self._c_pool
        dP = self._act_backward(dY)
        N, Lp, F = dP.shape
        db = ops.column_sums(dP.reshape(N * Lp, F)) if self.use_bias else None
        Z, masks = self._c_z, self._c_masks
        if masks is None:  # forward ran in predict mode: find the winners now
            masks = self._pool_masks(N, pool.pool_size, Lp, F)
            ops.maxpool1d_forward_into(Z, pool.pool_size, pool.strides,
                                       np.empty((N, Lp, F), Z.dtype), masks)
        dZ = self._dz_target(N, dP.dtype)
        ops.maxpool1d_backward_into(dP, masks, pool.strides, dZ)
        return self._conv_backward(dZ, need_dX, db=db)

    def _sync_act(self):
        for k in self._act.params:
            self._act.params[k] = self.params["act_" + k]

    def flops(self):
        L_out, F = self.output_shape
        return ops.conv_flops(L_out, self.kernel_size, self.input_shape[1], F)

    def clear_cache(self):
        super().clear_cache()
        if self._act is not None:
            self._act.clear_cache()


class Dense(Layer):
    """Fully connected layer on flat input (N, D), optionally with an activation."""

    penalized = ("W",)

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform"):
        super().__init__()
        self.units = _check_positive_int("units", units, "Dense")
        self.activation = activation
        self.use_bias = bool(use_bias)
        if kernel_initializer not in INITIALIZERS:
            raise ValueError(
                f"Dense: unknown kernel_initializer {kernel_initializer!r}; "
                f"use one of {sorted(INITIALIZERS)}."
            )
        self.kernel_initializer = kernel_initializer
        self._act = Activation(activation) if activation not in (None, "identity") else None

    def get_config(self):
        cfg = {"units": self.units}
        if self.activation is not None:
            cfg["activation"] = self.activation
        if not self.use_bias:
            cfg["use_bias"] = False
        return cfg

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(
                f"{self!r} needs a flat input but gets shape {input_shape}; add Flatten "
                f"or a global pooling layer before it."
            )
        return (self.units,)

    def build(self, input_shape, rng, dtype):
        super().build(input_shape, rng, dtype)
        (D,) = self.input_shape
        init = INITIALIZERS[self.kernel_initializer]
        self.params = {"W": init((D, self.units), D, self.units, rng, dtype)}
        if self.use_bias:
            self.params["b"] = np.zeros(self.units, dtype=dtype)
        if self._act is not None:
            self._act.build(self.output_shape, rng, dtype)
            for k, v in self._act.params.items():
                self.params["act_" + k] = v
        return self.output_shape

    def forward(self, X, training=False, rng=None):
        self._c_X = X
        Y = X @ self.params["W"]
        if self.use_bias:
            Y += self.params["b"]
        if self._act is not None:
            for k in self._act.params:
                self._act.params[k] = self.params["act_" + k]
            Y = self._act.forward(Y, training, rng)
        return Y

    def backward(self, dY, need_dX=True):
        if self._act is not None:
            dY = self._act.backward(dY)
            for k, v in self._act.grads.items():
                self.grads["act_" + k] = v
        self.grads["W"] = self._c_X.T @ dY
        if self.use_bias:
            self.grads["b"] = dY.sum(axis=0)
        return dY @ self.params["W"].T if need_dX else None

    def flops(self):
        return 2 * self.input_shape[0] * self.units

    def clear_cache(self):
        super().clear_cache()
        if self._act is not None:
            self._act.clear_cache()


class Activation(Layer):
    """Element-wise activation.

    ``prelu`` learns one negative slope per channel (initialised at 0.25, He et
    al. 2015). ``rrelu`` draws a slope uniformly in [1/8, 1/3] per element while
    training and uses the mean slope at predict time (Xu et al. 2015).
    """

    def __init__(self, activation="relu"):
        super().__init__()
        if activation not in ALL_ACTIVATIONS:
            raise ValueError(
                f"Unknown activation {activation!r}; use one of {sorted(ALL_ACTIVATIONS)}."
            )
        self.activation = activation

    def get_config(self):
        return {"activation": self.activation}

    def __repr__(self):
        return f"Activation({self.activation!r})"

    def build(self, input_shape, rng, dtype):
        super().build(input_shape, rng, dtype)
        if self.activation == "prelu":
            self.params = {"alpha": np.full(self.input_shape[-1], 0.25, dtype=dtype)}
        return self.output_shape

    def forward(self, X, training=False, rng=None):
        name = self.activation
        self._c_Z = X
        if name == "prelu":
            A = np.where(X > 0, X, X * self.params["alpha"])
        elif name == "rrelu":
            if training:
                slope = rng.uniform(RRELU_LOWER, RRELU_UPPER, size=X.shape).astype(X.dtype)
            else:
                slope = X.dtype.type((RRELU_LOWER + RRELU_UPPER) / 2)
            self._c_slope = slope
            A = np.where(X > 0, X, X * slope)
        elif name == "relu":
            # into a reused buffer: a fresh array this size is page-faulted in every batch
            A = np.maximum(X, np.zeros(X.shape[1:], X.dtype),
                           out=self._buffer("a", X.shape, X.dtype))
        else:
            A = ACTIVATIONS[name](X)
        self._c_A = A
        return A

    def backward(self, dY, need_dX=True):
        name = self.activation
        Z = self._c_Z
        if name == "prelu":
            pos = Z > 0
            self.grads["alpha"] = np.where(pos, 0, Z * dY).reshape(-1, Z.shape[-1]).sum(axis=0)
            return np.where(pos, dY, dY * self.params["alpha"])
        if name == "rrelu":
            return np.where(Z > 0, dY, dY * self._c_slope)
        if name == "relu":
            A = self._c_A
            mask = np.greater(A, 0, out=self._buffer("mask", A.shape, bool))
            return np.multiply(dY, mask, out=self._buffer("dx", dY.shape, dY.dtype))
        return DERIVATIVES[name](Z, self._c_A, dY)


class Dropout(Layer):
    """Inverted dropout: scales kept units by 1 / (1 - rate) in training, identity at predict."""

    def __init__(self, rate=0.5):
        super().__init__()
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r}.")
        self.rate = float(rate)

    def get_config(self):
        return {"rate": self.rate}

    def forward(self, X, training=False, rng=None):
        if not training or self.rate == 0.0:
            self._c_mask = None
            return X
        keep = 1.0 - self.rate
        mask = rng.random(X.shape, dtype=np.float32) < keep
        self._c_mask = mask * X.dtype.type(1.0 / keep)
        return X * self._c_mask

    def backward(self, dY, need_dX=True):
        return dY if self._c_mask is None else dY * self._c_mask


class _Pool(Layer):
    kind = ""

    def __init__(self, pool_size=2, strides=None):
        super().__init__()
        name = type(self).__name__
        self.pool_size = _check_positive_int("pool_size", pool_size, name)
        self.strides = self.pool_size if strides is None else _check_positive_int(
            "strides", strides, name)

    def get_config(self):
        cfg = {"pool_size": self.pool_size}
        if self.strides != self.pool_size:
            cfg["strides"] = self.strides
        return cfg

    def compute_output_shape(self, input_shape):
        _require_sequence(self, input_shape)
        L, C = input_shape
        out = ops.pool_output_length(L, self.pool_size, self.strides)
        if out < 1:
            raise TooShortError(
                f"{self!r} gets length {L}, shorter than its pool_size, and would output "
                f"length 0; use a smaller pool_size, fewer pooling blocks or pool=None"
            )
        return (out, C)


class MaxPooling1D(_Pool):
    """Max pooling over time, 'valid' windows (Keras ``MaxPooling1D``)."""

    def forward(self, X, training=False, rng=None):
        Y, masks = ops.maxpool1d_forward(X, self.pool_size, self.strides)
        self._c_masks = masks
        self._c_len = X.shape[1]
        return Y

    def backward(self, dY, need_dX=True):
        return ops.maxpool1d_backward(dY, self._c_masks, self._c_len, self.strides)


class AveragePooling1D(_Pool):
    """Average pooling over time, 'valid' windows (Keras ``AveragePooling1D``)."""

    def forward(self, X, training=False, rng=None):
        self._c_len = X.shape[1]
        return ops.avgpool1d_forward(X, self.pool_size, self.strides)

    def backward(self, dY, need_dX=True):
        return ops.avgpool1d_backward(dY, self.pool_size, self._c_len, self.strides)


class GlobalAveragePooling1D(Layer):
    """Mean over time: (N, L, C) -> (N, C)."""

    def compute_output_shape(self, input_shape):
        _require_sequence(self, input_shape)
        return (input_shape[1],)

    def forward(self, X, training=False, rng=None):
        L = X.shape[1]
        self._c_len = L
        S = ops.column_sums(X)  # the sums over time, one BLAS product per signal
        return np.divide(S, L, out=S)

    def backward(self, dY, need_dX=True):
        L = self._c_len
        g = dY * dY.dtype.type(1.0 / L)
        # a contiguous copy: the ReLU gradient below multiplies it by a bool
        # mask, 10% slower when one operand is a broadcast view
        return np.broadcast_to(g[:, None, :], (g.shape[0], L, g.shape[1])).copy()


class GlobalMaxPooling1D(Layer):
    """Max over time: (N, L, C) -> (N, C); the gradient goes to the first maximum."""

    def compute_output_shape(self, input_shape):
        _require_sequence(self, input_shape)
        return (input_shape[1],)

    def forward(self, X, training=False, rng=None):
        idx = X.argmax(axis=1)
        self._c_idx = idx
        self._c_len = X.shape[1]
        return np.take_along_axis(X, idx[:, None, :], axis=1)[:, 0, :]

    def backward(self, dY, need_dX=True):
        N, C = dY.shape
        dX = np.zeros((N, self._c_len, C), dtype=dY.dtype)
        np.put_along_axis(dX, self._c_idx[:, None, :], dY[:, None, :], axis=1)
        return dX


class Flatten(Layer):
    """(N, L, C) -> (N, L * C)."""

    def compute_output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, X, training=False, rng=None):
        self._c_shape = X.shape
        return X.reshape(X.shape[0], -1)

    def backward(self, dY, need_dX=True):
        return dY.reshape(self._c_shape)


LAYERS = {
    cls.__name__: cls
    for cls in (Conv1D, Dense, Activation, Dropout, MaxPooling1D, AveragePooling1D,
                GlobalMaxPooling1D, GlobalAveragePooling1D, Flatten)
}

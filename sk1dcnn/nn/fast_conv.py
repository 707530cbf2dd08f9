"""The fast ways to run a :class:`~sk1dcnn.nn.layers.Conv1D`: same math, fewer copies.

The plain ``Conv1D`` (:mod:`sk1dcnn.nn.layers`) computes its output and gradients
with ``ops.conv1d_forward/backward``: an im2col copy and one matrix product each.
:class:`FastConv` runs the same layer (its weights, its ``grads``) with the
strategies below. ``Sequential(fuse=True)`` (the default) runs every Conv1D
through one; ``fuse=False`` runs the plain layers, and every strategy here is
tested against them (``tests/nn/test_fast_conv.py``).

1. **Strided long signal** (no dilation). The batch is laid out as one long
   zero-padded signal and multiplied by the kernel through strided views
   (:func:`~sk1dcnn.nn.ops.window_matmul`): no im2col copy. The rows in between
   (windows that straddle two signals) are computed and never read.
2. **Dilated im2col**. With dilation, the windows are copied into a reused
   buffer and multiplied once.
3. **Max pooling fused after the convolution** (:func:`can_fuse_pool`). Max
   pooling commutes with a per-channel bias and with any non-decreasing
   activation, so the raw products are pooled first and bias and activation
   touch ``pool_size`` times fewer values.
4. **Pooling by phases** (:func:`phase_groups`). When the pooling windows do
   not overlap, the convolution writes one contiguous array per phase and the
   pooling is an element-wise maximum over phases (no strided mask logic).
5. **BatchNormalization folded into the kernel at predict time**
   (:meth:`FastConv.forward_folded`).

Every forward pass writes into buffers reused across batches (a fresh array
of this size is page-faulted in every batch), and a Conv1D followed by another
writes its output straight into the next one's zero-padded input buffer
(``next_conv=``), at no extra copy. The cached geometry of a pass is a small
named object (:class:`ConvGeometry`, :class:`PhaseGeometry`).
"""

from dataclasses import dataclass

import numpy as np

from . import ops
from .activations import MONOTONE
from .layers import Buffers, MaxPooling1D

__all__ = ["FastConv", "ConvGeometry", "PhaseGeometry", "can_fuse_pool", "phase_groups"]

#: Whether training pools by phases when the phases come in several groups
#: (``pool_size * strides < kernel_size``, e.g. kernel 5 + pool 2). Off: in
#: training the input gradient would need a scatter-add over the gapped phases,
#: measured slower than the strided path's flipped-kernel product.
GROUPED_PHASES_IN_TRAINING = False


def can_fuse_pool(conv, pool):
    """Can ``conv`` run ``pool`` (the next layer) on its raw matrix-product output?

    Max pooling commutes with adding a per-channel bias and with any
    non-decreasing activation, so the pooled output is identical.
    """
    return (isinstance(pool, MaxPooling1D) and conv.activation in MONOTONE | {None}
            and pool.input_shape == conv.output_shape
            and pool.pads(conv.output_shape[0]) == (0, 0))  # no padded windows


def phase_groups(conv, pool, training=True):
    """In how many groups :meth:`FastConv.forward_pool` pools by phases (0: it does not).

    When the pooling windows do not overlap (``strides == pool_size`` = p), the
    convolution's outputs are written one contiguous array per phase,
    ``n_ph = p * q`` phases with ``q = ceil(K / (p * s))`` so that no two
    receptive fields of a phase overlap, and pooling is an element-wise maximum
    over p phases, in q groups. With q > 1 the groups interleave into the pooled
    rows, and only prediction uses it (see :data:`GROUPED_PHASES_IN_TRAINING`).
    """
    p, s, K = pool.pool_size, conv.strides, conv.kernel_size
    if conv.dilation_rate != 1 or pool.strides != p:
        return 0
    q = -(-K // (p * s))
    if q > 1 and training and not GROUPED_PHASES_IN_TRAINING:
        return 0
    return q


@dataclass(frozen=True)
class ConvGeometry:
    """Layout of one convolution pass.

    Attributes
    ----------
    length : int
        Input length of each signal.
    left : int
        Zeros before each signal (the padding's left part).
    out_length : int
        Output length of each signal.
    padded_length : int
        Length of each signal in the long layout (0 on the dilated path), a
        multiple of ``strides * FastConv.phases``.
    rows : int
        Matrix-product rows per signal in the long layout (0 on the dilated path).
    n_rows : int
        Windows computed over the whole long signal (0 on the dilated path).
    """

    length: int
    left: int
    out_length: int
    padded_length: int = 0
    rows: int = 0
    n_rows: int = 0

    @property
    def dilated(self):
        """True on the im2col path (no long layout)."""
        return self.padded_length == 0


@dataclass(frozen=True)
class PhaseGeometry:
    """Layout of a convolution pooled by phases (:meth:`FastConv.forward_pool`).

    Attributes
    ----------
    length, left, padded_length, n_rows : int
        As in :class:`ConvGeometry`.
    pooled_rows : int
        Pooled rows per signal in the long layout, a multiple of ``groups``.
    pooled_length : int
        Pooled output length of each signal.
    pool_size : int
        Phases per group (p).
    groups : int
        Groups of phases (q); ``pool_size * groups`` phases in all.
    """

    length: int
    left: int
    padded_length: int
    n_rows: int
    pooled_rows: int
    pooled_length: int
    pool_size: int
    groups: int

    @property
    def n_phases(self):
        return self.pool_size * self.groups


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


class FastConv:
    """Runs one :class:`~sk1dcnn.nn.layers.Conv1D` with the fast strategies.

    The layer keeps its weights and configuration; this object keeps the
    buffers and what a forward pass leaves for its backward pass. ``forward`` /
    ``backward`` have the layer's signatures (plus ``next_conv``) and fill
    ``layer.grads``, so a caller can use either interchangeably.

    Parameters
    ----------
    layer : Conv1D
        A built layer.

    Attributes
    ----------
    phases : int
        The long layout's per-signal length is rounded up to a multiple of
        ``strides * phases``, so that every signal's outputs start at phase 0
        when a max pooling is fused by phases. Set by the network's plan before
        a pass (a previous layer sizes this one's input buffer with it).
    buffers : Buffers
    """

    def __init__(self, layer):
        self.layer = layer
        self.phases = 1
        self.buffers = Buffers()
        # what a forward pass leaves for its backward pass
        self.geometry = None          # ConvGeometry of the unpooled paths
        self.phase_geometry = None    # PhaseGeometry when pooled by phases
        self.padded_input = None      # long zero-padded input (strided path)
        self.cols = None              # im2col matrix (dilated path)
        self.input_view = None        # the view handed to the previous layer to write into
        self.relu_out = None          # ReLU output (its mask is the gradient's)
        self.dz_view = None           # where the matmul-output gradient goes
        self.dz_long = None           # its long buffer (strided path)
        self.pool = None              # the fused MaxPooling1D, if any
        self.masks = None             # pooling winners
        self.raw = None               # raw matmul output before pooling
        self.phase_products = None    # per-phase matmul outputs

    # -- layout ---------------------------------------------------------------
    def _padded_length(self, L):
        """``(left, Lp)``: zeros before each signal and its length in the long layout."""
        conv = self.layer
        K, s = conv.kernel_size, conv.strides
        left, right = ops.conv_padding(L, K, s, conv.padding, 1)
        Lp = L + left + right
        Lp += (-Lp) % (s * self.phases)
        return left, Lp

    def _padded_input_buffer(self, N, L, Lp, C, dtype):
        return self.buffers.get(("padded_input", L, Lp), (N, Lp, C), dtype, zeros=True)

    def _padded_input(self, X, left, Lp, dtype):
        """The input in the long zero-padded layout (N, Lp, C) (``X`` itself if it is)."""
        N, L, C = X.shape
        if left == 0 and Lp == L and X.flags.c_contiguous:
            Xp = X
        else:
            # the padding cells are zeroed at allocation and never written; the
            # previous layer may have written X straight into the interior
            Xp = self._padded_input_buffer(N, L, Lp, C, dtype)
            if X is not self.input_view:
                Xp[:, left:left + L] = X
        self.input_view = None
        return Xp

    def input_buffer(self, N, L, dtype):
        """A view (N, L, C) for the previous layer to write this layer's input into.

        It is the interior of the zero-padded buffer the next forward pass reads,
        so a forward pass that gets this very view as input skips copying it.
        None when the input is read where it is (no padding) or copied anyway
        (dilation).
        """
        W = self.layer.params["W"]
        if self.layer.dilation_rate != 1 or W.dtype != dtype:
            return None
        left, Lp = self._padded_length(L)
        if left == 0 and Lp == L:
            return None
        Xp = self._padded_input_buffer(N, L, Lp, W.shape[1], dtype)
        self.input_view = Xp[:, left:left + L]
        return self.input_view

    def _next_input(self, next_conv, N, L, F, dtype, in_place_only=True):
        """``next_conv``'s padded input buffer (N, L, F) to write this output into, or None.

        ``in_place_only``: only when bias and activation run in place (other
        activations keep their input for the backward pass).
        """
        if next_conv is None:
            return None
        if in_place_only and self.layer.activation not in (None, "identity", "relu"):
            return None
        out = next_conv.input_buffer(N, L, dtype)
        return None if out is None or out.shape[2] != F else out

    # -- the matrix product ------------------------------------------------------
    def _conv_raw(self, X, W=None):
        """``X`` (N, L, C) -> buffered matmul output (N, L_out, F), no bias."""
        conv = self.layer
        N, L, C = X.shape
        K, F, s, d = conv.kernel_size, conv.filters, conv.strides, conv.dilation_rate
        if W is None:
            W = conv.params["W"]
        L_out = ops.check_conv_input(L, C, W, conv.strides, conv.padding, conv.dilation_rate)
        dtype = np.result_type(X.dtype, W.dtype)
        if X.dtype != dtype:
            X = X.astype(dtype)
        if d != 1:
            left, _ = ops.conv_padding(L, K, s, conv.padding, d)
            # keyed by the input length too: padding cells are only zeroed at allocation,
            # and two lengths can share an output length but not their padded cells
            cols4 = self.buffers.get(("cols", L), (N, L_out, K, C), dtype, zeros=True)
            ops.im2col_into(X, cols4, s, d, left)
            cols = cols4.reshape(N * L_out, K * C)
            Z = self.buffers.get("z", (N, L_out, F), dtype)
            np.matmul(cols, W.reshape(K * C, F), out=Z.reshape(N * L_out, F))
            self.cols = cols
            self.geometry = ConvGeometry(length=L, left=left, out_length=L_out)
            return Z
        left, Lp = self._padded_length(L)
        R = Lp // s
        Xp = self._padded_input(X, left, Lp, dtype)
        n_rows = (N * Lp - K) // s + 1
        Zl = self.buffers.get("z_long", (N, R, F), dtype)
        ops.window_matmul(Xp.reshape(-1), K * C, s * C, n_rows, W.reshape(K * C, F),
                          Zl.reshape(N * R, F))
        self.padded_input = Xp
        self.geometry = ConvGeometry(length=L, left=left, out_length=L_out, padded_length=Lp,
                                     rows=R, n_rows=n_rows)
        return Zl[:, :L_out]

    def _dz_target(self, N, dtype):
        """Where the gradient of the matmul output goes, shape (N, L_out, F).

        On the strided path: the output rows of a long gradient buffer whose
        other rows stay zero (set at allocation, never written), with K - 1
        zero rows in front for the stride-1 input gradient.
        """
        conv, g = self.layer, self.geometry
        F = conv.filters
        if g.dilated:
            view = self.buffers.get("dz", (N, g.out_length, F), dtype)
        else:
            pre = conv.kernel_size - 1 if conv.strides == 1 else 0
            # keyed by the row layout: rows that are no output must be zero, and
            # which rows those are depends on L and on R (the phases)
            D = self.buffers.get(("dz_long", g.length, g.rows), (pre + N * g.rows, F), dtype,
                                 zeros=True)
            self.dz_long = D
            view = D[pre:].reshape(N, g.rows, F)[:, :g.out_length]
        self.dz_view = view
        return view

    # -- bias and activation -------------------------------------------------------
    def _bias_act(self, Z, training, rng, out=None):
        """Bias and activation, in place on the buffered ``Z`` where possible.

        ``out`` (the next layer's input buffer; bias/ReLU/identity only)
        receives the result instead, at no extra pass.
        """
        # NumPy broadcasts a (F,) vector or a scalar over (N, L, F) 2-3x slower
        # than an (L, F) block over N (short inner loops; no SIMD for a scalar
        # operand of maximum), so the bias is tiled and ReLU compares with zeros
        conv = self.layer
        dst = Z if out is None else out
        if conv.use_bias:
            np.add(Z, np.tile(conv.params["b"], (Z.shape[1], 1)), out=dst)
            Z = dst
        if conv._act is None:
            if Z is not dst:
                np.copyto(dst, Z)
            return dst
        if conv.activation == "relu":
            np.maximum(Z, np.zeros(Z.shape[1:], Z.dtype), out=dst)
            self.relu_out = dst
            return dst
        return conv._activate(Z, training, rng)

    def _act_backward(self, dY, out=None):
        conv = self.layer
        if conv.activation == "relu":
            A = self.relu_out
            mask = self.buffers.get("relu_mask", A.shape, bool)
            np.greater(A, 0, out=mask)
            if out is None:
                out = self.buffers.get("dact", A.shape, dY.dtype)
            return np.multiply(dY, mask, out=out)
        return conv._activation_backward(dY)

    # -- plain convolution ------------------------------------------------------------
    def forward(self, X, training=False, rng=None, next_conv=None):
        """Convolution, bias and activation; with ``next_conv`` (the next layer's
        FastConv) the result is written into its padded input buffer when it can be."""
        self.pool = None
        self.phase_geometry = None
        Z = self._conv_raw(X)
        out = self._next_input(next_conv, *Z.shape, Z.dtype)
        return self._bias_act(Z, training, rng, out=out)

    def backward(self, dY, need_dX=True):
        """Gradients of :meth:`forward` into ``layer.grads``; returns dX (or None)."""
        if self.pool is not None:
            raise RuntimeError("backward() after forward_pool(): call backward_pool().")
        out = self._dz_target(dY.shape[0], dY.dtype) if self.layer.activation == "relu" else None
        return self._conv_backward(self._act_backward(dY, out=out), need_dX)

    def _conv_backward(self, dZ, need_dX, db=None):
        conv, g = self.layer, self.geometry
        N, L_out, F = dZ.shape
        W = conv.params["W"]
        K, C, s = conv.kernel_size, W.shape[1], conv.strides
        target = self.dz_view
        if target is None or target.shape != dZ.shape or target.dtype != dZ.dtype:
            target = self._dz_target(N, dZ.dtype)
        if dZ is not target:
            np.copyto(target, dZ)
        self.dz_view = None  # one use per backward pass
        if g.dilated:
            dZ2 = target.reshape(N * L_out, F)
            conv.grads["W"] = ops.weight_grad(self.cols, dZ2).reshape(K, C, F)
            if conv.use_bias:
                conv.grads["b"] = ops.column_sums(dZ2) if db is None else db
            if not need_dX:
                return None
            dcols = self.buffers.get("dcols", (N * L_out, K * C), dZ2.dtype)
            np.matmul(dZ2, W.reshape(K * C, F).T, out=dcols)
            dX = self.buffers.get("dx", (N, g.length, C), dZ2.dtype)
            return ops.col2im_into(dcols.reshape(N, L_out, K, C), dX, s, conv.dilation_rate,
                                   g.left)
        D = self.dz_long
        pre = D.shape[0] - N * g.rows
        G = D[pre:]
        conv.grads["W"] = ops.window_matmul_t(self.padded_input.reshape(-1), K * C, s * C,
                                              g.n_rows, G).reshape(K, C, F)
        if conv.use_bias:
            conv.grads["b"] = ops.column_sums(G) if db is None else db
        if not need_dX:
            return None
        Lp = g.padded_length
        dXp = self.buffers.get(("dx_padded", g.length), (N, Lp, C), D.dtype)
        if s == 1:
            # the input gradient is a stride-1 correlation of the zero-padded
            # output gradient with the flipped kernel: products only, no scatter
            Wflip = np.ascontiguousarray(W[::-1].transpose(0, 2, 1)).reshape(K * F, C)
            ops.window_matmul(D.reshape(-1), K * F, F, N * Lp, Wflip, dXp.reshape(N * Lp, C))
        else:
            n_ph = -(-K // s)
            scratch = self.buffers.get("dx_scratch", (-(-g.n_rows // n_ph), K * C), D.dtype)
            ops.window_matmul_scatter(G, W.reshape(K * C, F).T, K * C, s * C, g.n_rows,
                                      dXp.reshape(-1), scratch, accumulate=False)
        return dXp[:, g.left:g.left + g.length]

    # -- BatchNormalization folded in (predict only) -------------------------------------
    def forward_folded(self, X, scale, shift, relu=False, next_conv=None):
        """Predict-time convolution followed by ``x * scale + shift`` per channel
        (a folded BatchNormalization) and, with ``relu``, a ReLU.

        The kernel and bias absorb the affine map, so the normalization costs
        nothing; the layer's own parameters are left untouched.
        """
        conv = self.layer
        W = conv.params["W"]
        Wf = (W * scale).astype(W.dtype)
        b = shift if not conv.use_bias else conv.params["b"] * scale + shift
        Z = self._conv_raw(X, W=Wf)
        out = self._next_input(next_conv, *Z.shape, Z.dtype, in_place_only=False)
        dst = Z if out is None else out
        np.add(Z, np.tile(b.astype(Z.dtype), (Z.shape[1], 1)), out=dst)
        if relu:
            np.maximum(dst, np.zeros(dst.shape[1:], dst.dtype), out=dst)
        self.pool = None
        return dst

    # -- max pooling fused in ---------------------------------------------------------------
    def forward_pool(self, X, pool, training=False, rng=None, next_conv=None):
        """``pool.forward(conv.forward(X))`` in one pass (see :func:`can_fuse_pool`).

        Pools the raw matmul output, then adds the bias and applies the
        activation on the pooled, smaller tensor. Same output as the two layers
        in turn; the gradients of :meth:`backward_pool` are those of the two
        layers' backward passes. With ``next_conv`` the pooled output is written
        into that layer's padded input buffer.
        """
        q = phase_groups(self.layer, pool, training)
        if q:
            return self._forward_phase_pool(X, pool, training, rng, next_conv, q)
        self.phase_geometry = None
        Z = self._conv_raw(X)
        N, L_out, F = Z.shape
        Lp = pool.compute_output_shape((L_out, F))[0]
        # only when bias and activation run in place: other activations keep P
        # for their backward pass, and the next layer would overwrite it
        P = self._next_input(next_conv, N, Lp, F, Z.dtype)
        if P is None:
            P = self.buffers.get("pooled", (N, Lp, F), Z.dtype)
        masks = self._pool_masks(N, pool.pool_size, Lp, F) if training else None
        ops.maxpool1d_forward_into(Z, pool.pool_size, pool.strides, P, masks)
        self.pool, self.masks, self.raw = pool, masks, Z
        return self._bias_act(P, training, rng)

    def _pool_masks(self, N, pool_size, Lp, F):
        """Reused (pool_size, N, Lp, F) bool buffer: one contiguous mask per offset."""
        return self.buffers.get("pool_masks", (pool_size * N, Lp, F), bool).reshape(
            pool_size, N, Lp, F)

    def backward_pool(self, dY, need_dX=True):
        """Backward pass of :meth:`forward_pool`: returns the input gradient."""
        if self.phase_geometry is not None:
            return self._backward_phase_pool(dY, need_dX)
        pool, conv = self.pool, self.layer
        dP = self._act_backward(dY)
        N, Lp, F = dP.shape
        db = ops.column_sums(dP.reshape(N * Lp, F)) if conv.use_bias else None
        Z, masks = self.raw, self.masks
        if masks is None:  # forward ran in predict mode: find the winners now
            masks = self._pool_masks(N, pool.pool_size, Lp, F)
            ops.maxpool1d_forward_into(Z, pool.pool_size, pool.strides,
                                       np.empty((N, Lp, F), Z.dtype), masks)
        dZ = self._dz_target(N, dP.dtype)
        ops.maxpool1d_backward_into(dP, masks, pool.strides, dZ)
        return self._conv_backward(dZ, need_dX, db=db)

    # -- pooling by phases ----------------------------------------------------------------
    def _phase_buffer(self, n_ph, M, F, dtype):
        return self.buffers.get("phases", (n_ph * M, F), dtype, zeros=True).reshape(n_ph, M, F)

    def _phase_masks(self, n_ph, M, F):
        return self.buffers.get("pool_masks", (n_ph * M, F), bool).reshape(n_ph, M, F)

    def _forward_phase_pool(self, X, pool, training, rng, next_conv, q):
        conv = self.layer
        N, L, C = X.shape
        K, F, s, p = conv.kernel_size, conv.filters, conv.strides, pool.pool_size
        n_ph = p * q
        W = conv.params["W"]
        L_out = ops.check_conv_input(L, C, W, conv.strides, conv.padding, conv.dilation_rate)
        Lpool = pool.compute_output_shape((L_out, F))[0]
        self.phases = n_ph
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
        ph = self._phase_buffer(n_ph, M, F, dtype)
        ops.window_matmul(Xp.reshape(-1), K * C, s * C, n_rows, W.reshape(K * C, F), ph,
                          n_ph=n_ph)
        Pl = self.buffers.get("pooled_long", (N * Rq, F), dtype)
        masks = self._phase_masks(n_ph, M, F) if training else None
        _pool_groups(ph, Pl, masks, N, Rq, p, q)
        P = Pl.reshape(N, Rq, F)[:, :Lpool]
        self.padded_input = Xp
        self.phase_geometry = PhaseGeometry(length=L, left=left, padded_length=Lp,
                                            n_rows=n_rows, pooled_rows=Rq, pooled_length=Lpool,
                                            pool_size=p, groups=q)
        self.geometry = None
        self.pool, self.masks, self.phase_products = pool, masks, ph
        out = self._next_input(next_conv, N, Lpool, F, dtype)
        return self._bias_act(P, training, rng, out=out)

    def _backward_phase_pool(self, dY, need_dX):
        conv, g = self.layer, self.phase_geometry
        N = dY.shape[0]
        W = conv.params["W"]
        K, C, F, s = conv.kernel_size, W.shape[1], conv.filters, conv.strides
        p, q, Rq, n_ph = g.pool_size, g.groups, g.pooled_rows, g.n_phases
        M = N * Rq // q
        # keyed by the pooled rows and length: the rows past the pooled length
        # must be zero, and two input lengths can share the rows but not the length
        dPl = self.buffers.get(("dpooled_long", Rq, g.pooled_length), (N * Rq, F), dY.dtype,
                               zeros=True)
        dP = dPl.reshape(N, Rq, F)[:, :g.pooled_length]  # the other rows stay zero
        if conv.activation == "relu":
            self._act_backward(dY, out=dP)
        else:
            np.copyto(dP, self._act_backward(dY))
        if conv.use_bias:
            conv.grads["b"] = ops.column_sums(dPl)
        masks = self.masks
        if masks is None:  # forward ran in predict mode: find the winners now
            masks = self._phase_masks(n_ph, M, F)
            _pool_groups(self.phase_products, np.empty((N * Rq, F), self.phase_products.dtype),
                         masks, N, Rq, p, q)
        # the phase products are dead once pooled (the masks hold the winners):
        # their buffer takes the gradient (87 MB less on workload B's largest layer)
        dph = self.buffers.get("phases", (n_ph * M, F), dY.dtype).reshape(n_ph, M, F)
        dPl3 = dPl.reshape(N, Rq, F)
        for c in range(q):
            for o in range(p):
                j = p * c + o
                np.multiply(dPl3[:, c::q], masks[j].reshape(N, Rq // q, F),
                            out=dph[j].reshape(N, Rq // q, F))
        src = self.padded_input.reshape(-1)
        conv.grads["W"] = ops.window_matmul_t(src, K * C, s * C, g.n_rows, dph,
                                              n_ph=n_ph).reshape(K, C, F)
        if not need_dX:
            return None
        dXp = self.buffers.get(("dx_padded", g.length), (N, g.padded_length, C), dph.dtype)
        scratch = self.buffers.get("dx_scratch", (-(-g.n_rows // n_ph), K * C), dph.dtype)
        ops.window_matmul_scatter(dph, W.reshape(K * C, F).T, K * C, s * C, g.n_rows,
                                  dXp.reshape(-1), scratch, n_ph=n_ph, accumulate=False)
        return dXp[:, g.left:g.left + g.length]

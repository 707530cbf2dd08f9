"""Layers: thin stateful wrappers over the plain kernels of :mod:`sk1dcnn.nn.ops`.

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
    RRELU_LOWER,
    RRELU_UPPER,
)
from .initializers import INITIALIZERS

__all__ = [
    "Buffers",
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


class Buffers:
    """Scratch arrays reused across batches, by key; the first axis is the batch.

    An array is reallocated when the dtype or the trailing shape changes or a
    larger batch arrives; a smaller batch gets a view of the first rows.
    ``zeros=True`` zero-fills at allocation only: callers rely on cells they
    never write staying zero (the padding of a padded input, the gradient rows
    that are no output). Keys name the content and, where such cells depend on
    it, the geometry (e.g. ``("padded_input", length, padded_length)``).
    """

    def __init__(self):
        self._arrays = {}

    def get(self, key, shape, dtype, zeros=False):
        """The array ``key`` as a view of shape ``shape`` (allocated or grown as needed)."""
        buf = self._arrays.get(key)
        shape = tuple(shape)
        if (buf is None or buf.dtype != dtype or buf.shape[1:] != shape[1:]
                or buf.shape[0] < shape[0]):
            buf = (np.zeros if zeros else np.empty)(shape, dtype=dtype)
            self._arrays[key] = buf
        return buf[: shape[0]]

    def __len__(self):
        return len(self._arrays)


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

        Kept across batches in ``_c_buffers`` (a :class:`Buffers`, dropped by
        :meth:`clear_cache` and never pickled), so training writes into the same
        memory every batch instead of faulting in fresh pages.
        """
        buffers = self.__dict__.get("_c_buffers")
        if buffers is None:
            buffers = self.__dict__["_c_buffers"] = Buffers()
        return buffers.get(name, shape, dtype, zeros)

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


def _check_initializer(name, layer):
    if name not in INITIALIZERS:
        raise ValueError(
            f"{layer}: unknown kernel_initializer {name!r}; use one of {sorted(INITIALIZERS)}."
        )
    return name


def _require_sequence(layer, input_shape):
    if len(input_shape) != 2:
        raise ValueError(
            f"{layer!r} needs a sequence input (timepoints, channels) but gets a flat "
            f"vector of shape {input_shape}; put it before Flatten/global pooling."
        )


class _FusedActivation:
    """What Conv1D and Dense share: a kernel with an optional bias, and an optional
    activation applied to the output.

    The activation is an :class:`Activation` layer held in ``_act``; its
    parameters (prelu's slopes) appear in the owner's ``params`` as
    ``act_<key>``, so that the optimizer and ``get_weights`` see them.
    """

    def _init_activation(self, activation, use_bias, kernel_initializer, name):
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _check_initializer(kernel_initializer, name)
        self.activation = activation
        self._act = Activation(activation) if activation not in (None, "identity") else None

    def _activation_config(self, cfg):
        """``cfg`` with the activation and use_bias where they differ from the defaults."""
        if self.activation is not None:
            cfg["activation"] = self.activation
        if not self.use_bias:
            cfg["use_bias"] = False
        return cfg

    def _build_activation(self, rng, dtype):
        if self._act is not None:
            self._act.build(self.output_shape, rng, dtype)
            for k, v in self._act.params.items():
                self.params["act_" + k] = v

    def _activate(self, Z, training, rng):
        if self._act is None:
            return Z
        for k in self._act.params:  # in case someone replaced the array in self.params
            self._act.params[k] = self.params["act_" + k]
        return self._act.forward(Z, training, rng)

    def _activation_backward(self, dY):
        if self._act is None:
            return dY
        dZ = self._act.backward(dY)
        for k, v in self._act.grads.items():
            self.grads["act_" + k] = v
        return dZ

    def clear_cache(self):
        super().clear_cache()
        if self._act is not None:
            self._act.clear_cache()


class Conv1D(_FusedActivation, Layer):
    """1D convolution layer (Keras ``Conv1D``), optionally with an activation.

    This is the plain layer: its forward and backward passes are
    :func:`~sk1dcnn.nn.ops.conv1d_forward` and
    :func:`~sk1dcnn.nn.ops.conv1d_backward` (an im2col copy and one matrix
    product each), which a reader can step through. Inside a
    ``Sequential(fuse=True)`` network (the default) the same layer runs through
    :class:`sk1dcnn.nn.fast_conv.FastConv` instead, which computes the same
    values without the copies.

    Parameters
    ----------
    filters : int
    kernel_size : int
    strides : int, default=1
    padding : {'valid', 'same', 'causal'}, default='valid'
    dilation_rate : int, default=1
    activation : str or None, default=None
        Fused activation; any name of :data:`sk1dcnn.nn.activations.ALL_ACTIVATIONS`.
    use_bias : bool, default=True
    kernel_initializer : {'glorot_uniform', 'he_uniform'}, default='glorot_uniform'

    Attributes
    ----------
    params : dict
        ``W`` of shape (kernel_size, channels_in, filters), ``b`` of shape (filters,).
    """

    penalized = ("W",)

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
        self._init_activation(activation, use_bias, kernel_initializer, name)

    def get_config(self):
        cfg = {"filters": self.filters, "kernel_size": self.kernel_size}
        if self.strides != 1:
            cfg["strides"] = self.strides
        cfg["padding"] = self.padding
        if self.dilation_rate != 1:
            cfg["dilation_rate"] = self.dilation_rate
        return self._activation_config(cfg)

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
        self._build_activation(rng, dtype)
        return self.output_shape

    def forward(self, X, training=False, rng=None):
        Z, cols = ops.conv1d_forward(X, self.params["W"], self.params.get("b"), self.strides,
                                     self.padding, self.dilation_rate)
        self._c_cols = cols
        self._c_len = X.shape[1]
        return self._activate(Z, training, rng)

    def backward(self, dY, need_dX=True):
        dZ = self._activation_backward(dY)
        dX, dW, db = ops.conv1d_backward(dZ, self._c_cols, self.params["W"], self._c_len,
                                         self.strides, self.padding, self.dilation_rate,
                                         need_dX=need_dX)
        self.grads["W"] = dW
        if self.use_bias:
            self.grads["b"] = db
        return dX

    def flops(self):
        L_out, F = self.output_shape
        return ops.conv_flops(L_out, self.kernel_size, self.input_shape[1], F)

    def __setstate__(self, state):
        state.pop("_pool_hint", None)  # sk1dcnn 0.1 kept the fast path's layout here
        self.__dict__.update(state)


class Dense(_FusedActivation, Layer):
    """Fully connected layer on flat input (N, D), optionally with an activation."""

    penalized = ("W",)

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform"):
        super().__init__()
        self.units = _check_positive_int("units", units, "Dense")
        self._init_activation(activation, use_bias, kernel_initializer, "Dense")

    def get_config(self):
        return self._activation_config({"units": self.units})

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
        self._build_activation(rng, dtype)
        return self.output_shape

    def forward(self, X, training=False, rng=None):
        self._c_X = X
        W = self.params["W"]
        if W.shape[1] == 1 and W.dtype == np.float32:
            # BLAS runs a one-column product as a matrix-vector product, whose rounding of
            # a row depends on how many rows come with it (one float32 ulp: a sample
            # predicted alone and in a batch would differ); einsum's does not. float64
            # keeps BLAS: its differences (1e-16) are below any tolerance.
            Y = np.einsum("nd,du->nu", X, W)
        else:
            Y = X @ W
        if self.use_bias:
            Y += self.params["b"]
        return self._activate(Y, training, rng)

    def backward(self, dY, need_dX=True):
        dY = self._activation_backward(dY)
        self.grads["W"] = self._c_X.T @ dY
        if self.use_bias:
            self.grads["b"] = dY.sum(axis=0)
        return dY @ self.params["W"].T if need_dX else None

    def flops(self):
        return 2 * self.input_shape[0] * self.units


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
    """Pooling over time (shared by max and average pooling).

    ``padding='valid'`` (Keras' default) drops the windows that would run past
    the end, but never shortens a signal below one step: an input shorter than
    ``pool_size`` is pooled as a single window over what there is. ``'same'``
    pads as Keras does, so that the output has ``ceil(L / strides)`` steps; the
    padding never counts (max pooling ignores it, average pooling divides by
    the number of real values in each window).
    """

    padding = "valid"  # layers pickled before 'padding' existed

    def __init__(self, pool_size=2, strides=None, padding="valid"):
        super().__init__()
        name = type(self).__name__
        self.pool_size = _check_positive_int("pool_size", pool_size, name)
        self.strides = self.pool_size if strides is None else _check_positive_int(
            "strides", strides, name)
        if padding not in ("valid", "same"):
            raise ValueError(f"{name}: padding must be 'valid' or 'same', got {padding!r}.")
        self.padding = padding

    def get_config(self):
        cfg = {"pool_size": self.pool_size}
        if self.strides != self.pool_size:
            cfg["strides"] = self.strides
        if self.padding != "valid":
            cfg["padding"] = self.padding
        return cfg

    def pads(self, length):
        """``(left, right)``: the padding of an input of ``length`` steps (see the class)."""
        p, s = self.pool_size, self.strides
        if self.padding == "same":
            return ops.conv_padding(length, p, s, "same")
        return (0, p - length) if length < p else (0, 0)

    def compute_output_shape(self, input_shape):
        _require_sequence(self, input_shape)
        L, C = input_shape
        left, right = self.pads(L)
        return (ops.pool_output_length(L + left + right, self.pool_size, self.strides), C)

    def _padded(self, X, fill):
        """``X`` padded along time with ``fill`` (``X`` itself without padding)."""
        left, right = self.pads(X.shape[1])
        self._c_pads = (left, right)
        if left == 0 and right == 0:
            return X
        N, L, C = X.shape
        Xp = np.full((N, L + left + right, C), fill, dtype=X.dtype)
        Xp[:, left:left + L] = X
        return Xp

    def _crop(self, dXp):
        left, right = self._c_pads
        return dXp if left == 0 and right == 0 else dXp[:, left:dXp.shape[1] - right]


class MaxPooling1D(_Pool):
    """Max pooling over time (Keras ``MaxPooling1D``); see :class:`_Pool` for ``padding``."""

    def forward(self, X, training=False, rng=None):
        Xp = self._padded(X, -np.inf)  # padding never wins
        Y, masks = ops.maxpool1d_forward(Xp, self.pool_size, self.strides)
        self._c_masks = masks
        self._c_len = Xp.shape[1]
        return Y

    def backward(self, dY, need_dX=True):
        return self._crop(ops.maxpool1d_backward(dY, self._c_masks, self._c_len, self.strides))


class AveragePooling1D(_Pool):
    """Average pooling over time (Keras ``AveragePooling1D``); see :class:`_Pool` for ``padding``."""

    def forward(self, X, training=False, rng=None):
        Xp = self._padded(X, 0.0)
        self._c_len = Xp.shape[1]
        Y = ops.avgpool1d_forward(Xp, self.pool_size, self.strides)
        self._c_scale = None
        if Xp is not X:  # the mean of the real values only: rescale by pool_size / count
            ones = self._padded(np.ones((1, X.shape[1], 1), dtype=X.dtype), 0.0)
            count = ops.avgpool1d_forward(ones, self.pool_size, self.strides)
            self._c_scale = (1.0 / count).astype(X.dtype)
            Y *= self._c_scale
        return Y

    def backward(self, dY, need_dX=True):
        if self._c_scale is not None:
            dY = dY * self._c_scale
        return self._crop(ops.avgpool1d_backward(dY, self.pool_size, self._c_len, self.strides))


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

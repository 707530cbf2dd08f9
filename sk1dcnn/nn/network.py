"""Sequential network: an ordered list of layers with flat parameter lists.

The network knows nothing of scikit-learn: it takes channels-last arrays
``(N, L, C)`` and returns the raw outputs of its last layer. It chooses how each
pass runs: every layer on its own (``fuse=False``, the plain reference), or
Conv1D layers through :class:`~sk1dcnn.nn.fast_conv.FastConv`, fused with a
following max pooling or BatchNormalization where that gives the same values
(``fuse=True``, the default).
"""

from typing import NamedTuple

import numpy as np

from .blocks import BLOCKS, BatchNormalization, _Composite
from .fast_conv import FastConv, can_fuse_pool, phase_groups
from .layers import (
    LAYERS,
    Activation,
    AveragePooling1D,
    Conv1D,
    Dense,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    Layer,
    MaxPooling1D,
    TooShortError,
)
from .static import SplitStatic, link_static

#: make_layer's registry: the engine's layers and the blocks of sk1dcnn.nn.blocks
LAYERS = {**LAYERS, **BLOCKS}

__all__ = ["Sequential", "Step", "make_layer"]

#: Layers whose forward pass returns a freshly allocated array; after any other
#: (a FastConv writes into a reused buffer, Flatten and Dropout may pass a view
#: through) Sequential.forward copies its result.
_FRESH_OUTPUT = (Dense, GlobalAveragePooling1D, GlobalMaxPooling1D, MaxPooling1D,
                 AveragePooling1D)


def make_layer(spec):
    """Build a layer from a spec.

    A spec is a :class:`~sk1dcnn.nn.layers.Layer` instance (copied from its config),
    a layer name (``"Flatten"``), a ``(name, kwargs)`` pair, or a dict with the
    name under ``"layer"`` and the Keras arguments beside it, e.g.
    ``{"layer": "Conv1D", "filters": 32, "kernel_size": 5, "padding": "same"}``.
    """
    if isinstance(spec, Layer):
        name, kwargs = type(spec).__name__, dict(spec.get_config())
    elif isinstance(spec, str):
        name, kwargs = spec, {}
    elif isinstance(spec, dict):
        kwargs = dict(spec)
        if "layer" not in kwargs:
            raise ValueError(
                f"Layer spec {spec!r} has no 'layer' key; write e.g. "
                f"{{'layer': 'Conv1D', 'filters': 32, 'kernel_size': 5}}."
            )
        name = kwargs.pop("layer")
    elif isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[1], dict):
        name, kwargs = spec[0], dict(spec[1])
    else:
        raise ValueError(
            f"Cannot read layer spec {spec!r}: give a layer name, a (name, kwargs) pair or "
            f"a dict with a 'layer' key."
        )
    if name not in LAYERS:
        raise ValueError(f"Unknown layer {name!r}; available layers: {sorted(LAYERS)}.")
    try:
        return LAYERS[name](**kwargs)
    except TypeError as exc:
        raise ValueError(f"Bad arguments for {name}: {exc}") from None


class Step(NamedTuple):
    """One step of a pass: ``size`` layers from index ``start``, run as ``kind``.

    Kinds: ``"layer"`` (the layer's own forward/backward), ``"conv"`` (a Conv1D
    through its FastConv), ``"conv_pool"`` (a Conv1D and the MaxPooling1D after it
    in one FastConv pass), ``"conv_bn"`` (predict only: a Conv1D with the
    BatchNormalization after it folded into its kernel, and with ``size == 3`` the
    ReLU after that).
    """

    start: int
    size: int
    kind: str


class Sequential:
    """A stack of layers.

    Parameters
    ----------
    layers : list of Layer
    fuse : bool, default=True
        Run Conv1D layers (top-level and inside blocks) through
        :class:`~sk1dcnn.nn.fast_conv.FastConv`, fusing a following max pooling
        and, at predict time, a following BatchNormalization. ``False`` runs every
        layer's plain forward and backward passes: the reference the fast paths are
        tested against, and the code to read or step through. Both give the same
        values up to rounding. Can be switched on a built network.
    """

    def __init__(self, layers, fuse=True):
        self.layers = list(layers)
        self.input_shape = None
        self.fuse = fuse

    @property
    def fuse(self):
        """bool: run Conv1D layers through FastConv (see the class docstring)."""
        return self._fuse

    @fuse.setter
    def fuse(self, value):
        self._fuse = bool(value)
        for layer in self.layers:
            if isinstance(layer, _Composite):
                layer.fuse = self._fuse
        self._runners = {}
        self._last_steps = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_runners"] = {}
        state["_last_steps"] = None
        return state

    def __setstate__(self, state):
        state.pop("_c_plan", None)  # sk1dcnn 0.1
        state.setdefault("_fuse", state.pop("fuse", True))
        state.setdefault("_runners", {})
        state.setdefault("_last_steps", None)
        self.__dict__.update(state)

    def build(self, input_shape, rng, dtype=np.float32):
        """Create every layer's weights for inputs of shape ``(L, C)``.

        Parameters
        ----------
        input_shape : tuple (n_timepoints, n_channels)
        rng : numpy.random.RandomState
            Draws the initial weights.
        dtype : numpy dtype, default=float32

        Returns
        -------
        tuple
            The output shape (without the batch axis).

        Raises
        ------
        ValueError
            Naming the layer at which the signal length runs out.
        """
        shape = tuple(input_shape)
        self.input_shape = shape
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.build(shape, rng, dtype)
            except TooShortError as exc:
                raise ValueError(
                    f"n_timepoints={input_shape[0]} is too short for this network: "
                    f"layer {i} {exc}."
                ) from None
        link_static(self.layers)  # checks where static features are split and joined
        self.fuse = self._fuse  # blocks built their sub-layers: tell them
        return shape

    @property
    def output_shape(self):
        """Shape of one sample's output (without the batch axis), once built."""
        return self.layers[-1].output_shape

    def _runner(self, i):
        """The FastConv of layer ``i`` (a new one if the layer was replaced)."""
        runner = self._runners.get(i)
        if runner is None or runner.layer is not self.layers[i]:
            runner = self._runners[i] = FastConv(self.layers[i])
        return runner

    def plan(self, n_layers=None, training=True):
        """The steps of a pass over the first ``n_layers`` layers (all by default).

        With ``fuse`` off every layer is its own ``"layer"`` step. With it on, a
        Conv1D followed by a MaxPooling1D it can fuse
        (:func:`~sk1dcnn.nn.fast_conv.can_fuse_pool`) is one ``"conv_pool"`` step;
        at predict time a Conv1D without activation followed by a
        BatchNormalization (and a ReLU Activation) is one ``"conv_bn"`` step; any
        other Conv1D is a ``"conv"`` step.

        Returns
        -------
        list of Step
        """
        layers = self.layers[:n_layers]
        n = len(layers)
        if not self.fuse:
            return [Step(i, 1, "layer") for i in range(n)]
        steps, i = [], 0
        while i < n:
            layer = layers[i]
            nxt = layers[i + 1] if i + 1 < n else None
            if not isinstance(layer, Conv1D):
                steps.append(Step(i, 1, "layer"))
            elif (not training and isinstance(nxt, BatchNormalization)
                    and layer.activation in (None, "identity")):
                relu = (i + 2 < n and isinstance(layers[i + 2], Activation)
                        and layers[i + 2].activation == "relu")
                steps.append(Step(i, 3 if relu else 2, "conv_bn"))
            elif nxt is not None and can_fuse_pool(layer, nxt):
                steps.append(Step(i, 2, "conv_pool"))
            else:
                steps.append(Step(i, 1, "conv"))
            i += steps[-1].size
        return steps

    def _set_phases(self, steps, training):
        """Before a pass: each FastConv's layout (a previous step sizes its input buffer)."""
        for step in steps:
            if step.kind == "conv_pool":
                q = phase_groups(self.layers[step.start], self.layers[step.start + 1], training)
                self._runner(step.start).phases = self.layers[step.start + 1].pool_size * q if q else 1
            elif step.kind in ("conv", "conv_bn"):
                self._runner(step.start).phases = 1

    def forward(self, X, training=False, rng=None, upto=None):
        """Forward pass; ``upto`` stops before layer index ``upto`` (embeddings).

        Parameters
        ----------
        X : ndarray of shape (N, L, C)
        training : bool, default=False
            Batch statistics, dropout and the caches the backward pass needs.
        rng : numpy.random.Generator or None
            Dropout and rrelu draws (training only).
        upto : int or None

        Returns
        -------
        ndarray
            Never aliases a reused buffer: it stays valid after the next pass.
        """
        n = len(self.layers[:upto])
        link_static(self.layers)
        steps = self.plan(n, training)
        self._set_phases(steps, training)
        for k, step in enumerate(steps):
            after = step.start + step.size
            next_conv = (self._runner(after) if k + 1 < len(steps) and steps[k + 1].kind != "layer"
                         else None)
            X = self._forward_step(step, X, training, rng, next_conv)
        self._last_steps = steps if n == len(self.layers) else None
        if steps:
            last = steps[-1]
            if last.kind != "layer" or not isinstance(self.layers[last.start], _FRESH_OUTPUT):
                X = X.copy()
        return X

    def _forward_step(self, step, X, training, rng, next_conv):
        i = step.start
        if step.kind == "layer":
            return self.layers[i].forward(X, training, rng)
        runner = self._runner(i)
        if step.kind == "conv":
            return runner.forward(X, training, rng, next_conv=next_conv)
        if step.kind == "conv_pool":
            return runner.forward_pool(X, self.layers[i + 1], training, rng, next_conv=next_conv)
        scale, shift = self.layers[i + 1].inference_affine(np.float64)
        return runner.forward_folded(X, scale, shift, relu=step.size == 3, next_conv=next_conv)

    def backward(self, dY, need_dX=False):
        """Back-propagate the last forward pass; each layer fills its ``grads``.

        Parameters
        ----------
        dY : ndarray
            Gradient of the loss with respect to the network's output.
        need_dX : bool, default=False
            Also compute the gradient with respect to the input (skipped by default).

        Returns
        -------
        ndarray or None
            The input gradient, with ``need_dX``.
        """
        steps = self._last_steps
        if steps is None:
            raise RuntimeError("backward() needs a forward pass over the whole network first.")
        if any(step.kind == "conv_bn" for step in steps):
            raise RuntimeError("backward() after a predict-mode forward pass (BatchNormalization "
                               "folded into the convolution): run forward(training=True).")
        # No input gradient for the first layer with weights, unless asked: a
        # SplitStatic before it only splits the input.
        first = 1 if self.layers and isinstance(self.layers[0], SplitStatic) else 0
        for step in reversed(steps):
            need = need_dX or step.start > first
            if step.kind == "layer":
                dY = self.layers[step.start].backward(dY, need_dX=need)
            elif step.kind == "conv":
                dY = self._runner(step.start).backward(dY, need_dX=need)
            else:
                dY = self._runner(step.start).backward_pool(dY, need_dX=need)
        return dY

    def params(self):
        """The learnable parameters, layer by layer.

        Returns
        -------
        list of ndarray
            The layers' own arrays (not copies): the optimizers update them in place.
        """
        return [p for layer in self.layers for p in layer.params.values()]

    def grads(self):
        """The gradients of the last :meth:`backward`.

        Returns
        -------
        list of ndarray
            One per entry of :meth:`params`, in the same order and shapes.
        """
        return [layer.grads[k] for layer in self.layers for k in layer.params]

    def penalized(self):
        """Which parameters carry the L2 penalty (kernels, not biases or slopes).

        Returns
        -------
        list of bool
            One per entry of :meth:`params`.
        """
        return [k in layer.penalized for layer in self.layers for k in layer.params]

    def get_weights(self):
        """A snapshot of the network's state, for :meth:`set_weights`.

        Returns
        -------
        list of ndarray
            Copies of the parameters, then of the non-trained state
            (BatchNormalization's running statistics), so that restoring the best
            weights of early stopping restores both.
        """
        return [p.copy() for p in self.params()] + [a.copy() for a in self._state_arrays()]

    def set_weights(self, weights):
        """Copy a snapshot into the network, in place.

        Parameters
        ----------
        weights : list of ndarray
            As returned by :meth:`get_weights` of this network.
        """
        for p, w in zip(self.params() + self._state_arrays(), weights):
            p[...] = w

    def _state_arrays(self):
        out = []
        for layer in self.layers:
            _collect_state(layer, out, set())
        return out

    def clear_cache(self):
        """Drop buffers and what forward cached for backward (keeps pickles small)."""
        self._runners = {}
        self._last_steps = None
        for layer in self.layers:
            layer.clear_cache()

    @property
    def n_params(self):
        """Number of learnable parameters."""
        return int(sum(layer.n_params for layer in self.layers))

    def flops(self):
        """Forward FLOPs per sample of the matrix products (conv and dense).

        Returns
        -------
        int
        """
        return int(sum(layer.flops() for layer in self.layers))

    def summary(self):
        """Table of layers, output shapes and learnable parameter counts.

        Output shapes are printed channels-first, ``(channels, timepoints)``,
        as users give their data; parameter counts are those of the usual
        convention (a Conv1D has ``filters * (kernel_size * channels_in + 1)``).

        Returns
        -------
        str
        """
        rows = [("Layer (type)", "Output shape", "Param #")]
        rows.append(("Input", _fmt_shape(self.input_shape), "0"))
        for i, layer in enumerate(self.layers):
            rows.append((f"{i}: {layer!r}", _fmt_shape(layer.output_shape), f"{layer.n_params:,}"))
        w0 = max(len(r[0]) for r in rows)
        w1 = max(len(r[1]) for r in rows)
        w2 = max(len(r[2]) for r in rows)
        line = "-" * (w0 + w1 + w2 + 4)
        out = [line]
        for j, (a, b, c) in enumerate(rows):
            out.append(f"{a:<{w0}}  {b:<{w1}}  {c:>{w2}}")
            if j == 0:
                out.append(line.replace("-", "="))
        out.append(line)
        out.append(f"Total params: {self.n_params:,}")
        out.append(f"Forward FLOPs per sample: {self.flops():,}")
        return "\n".join(out)


_STATE_NAMES = ("moving_mean", "moving_variance")


def _collect_state(layer, out, seen):
    """Non-trained arrays of a layer and of the layers nested in it, in a fixed order."""
    if id(layer) in seen:
        return
    seen.add(id(layer))
    for name in sorted(vars(layer)):
        value = vars(layer)[name]
        if name in _STATE_NAMES and isinstance(value, np.ndarray):
            out.append(value)
        elif isinstance(value, Layer):
            _collect_state(value, out, seen)
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, Layer):
                    _collect_state(item, out, seen)


def _fmt_shape(shape):
    if shape is None:
        return "?"
    if len(shape) == 2:  # channels-last inside; show (channels, timepoints)
        return f"(None, {shape[1]}, {shape[0]})"
    return "(None, " + ", ".join(str(s) for s in shape) + ")"

"""Sequential network: an ordered list of layers with flat parameter lists.

The network knows nothing of scikit-learn: it takes channels-last arrays
``(N, L, C)`` and returns the raw outputs of its last layer.
"""

import numpy as np

from .blocks import BLOCKS, BatchNormalization
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

#: make_layer's registry: the engine's layers and the blocks of sk1dcnn.blocks
LAYERS = {**LAYERS, **BLOCKS}

__all__ = ["Sequential", "make_layer"]

#: Layers whose forward pass returns a freshly allocated array; after any other
#: (a Conv1D writes into a reused buffer, Flatten and Dropout may pass a view
#: through) Sequential.forward copies its result.
_FRESH_OUTPUT = (Dense, GlobalAveragePooling1D, GlobalMaxPooling1D, MaxPooling1D,
                 AveragePooling1D)


def make_layer(spec):
    """Build a layer from a spec.

    A spec is a :class:`~sk1dcnn.layers.Layer` instance (copied from its config),
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


class Sequential:
    """A stack of layers.

    Parameters
    ----------
    layers : list of Layer
    """

    def __init__(self, layers):
        self.layers = list(layers)
        self.input_shape = None

    def build(self, input_shape, rng, dtype=np.float32):
        """Create every layer's weights for inputs of shape ``(L, C)``.

        Raises ``ValueError`` naming the layer at which the signal length runs out.
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
        return shape

    def check_input_length(self, input_shape):
        """Shape inference only: raises the same error as :meth:`build`."""
        shape = tuple(input_shape)
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.compute_output_shape(shape)
            except TooShortError as exc:
                raise ValueError(
                    f"n_timepoints={input_shape[0]} is too short for this network: "
                    f"layer {i} {exc}."
                ) from None
        return shape

    @property
    def output_shape(self):
        return self.layers[-1].output_shape

    def _plan(self, n_layers, training=True):
        """Steps ``(first_layer_index, n_layers_in_step)`` of a pass over the first layers.

        With ``fuse`` on (the default), a Conv1D followed by a MaxPooling1D it
        can fuse (:meth:`~sk1dcnn.layers.Conv1D.can_fuse_pool`) runs as one step;
        at predict time a Conv1D without activation followed by a
        BatchNormalization (and a ReLU Activation) runs as one convolution with
        the normalization folded into its kernel and bias. ``fuse = False`` runs
        every layer on its own (the plain reference).
        """
        layers = self.layers
        fuse = getattr(self, "fuse", True)
        steps, i = [], 0
        while i < n_layers:
            layer = layers[i]
            if (fuse and not training and i + 1 < n_layers and isinstance(layer, Conv1D)
                    and layer.activation in (None, "identity")
                    and isinstance(layers[i + 1], BatchNormalization)):
                relu = (i + 2 < n_layers and isinstance(layers[i + 2], Activation)
                        and layers[i + 2].activation == "relu")
                steps.append((i, 3 if relu else 2))
                i += 3 if relu else 2
            elif (fuse and i + 1 < n_layers and isinstance(layer, Conv1D)
                    and layer.can_fuse_pool(layers[i + 1])):
                # before the pass: the previous layer sizes this layer's input buffer
                layer.prepare_pool(layers[i + 1], training)
                steps.append((i, 2))
                i += 2
            else:
                steps.append((i, 1))
                i += 1
        return steps

    def forward(self, X, training=False, rng=None, upto=None):
        """Forward pass; ``upto`` stops before layer index ``upto`` (embeddings).

        The result never aliases a layer's reusable buffer: it stays valid
        after the next forward pass.
        """
        n = len(self.layers) if upto is None else len(self.layers[:upto])
        steps = self._plan(n, training)
        for i, size in steps:
            layer = self.layers[i]
            if size > 1 and isinstance(self.layers[i + 1], BatchNormalization):
                nxt = self.layers[i + size] if i + size < n else None
                scale, shift = self.layers[i + 1].inference_affine(np.float64)
                X = layer.forward_folded(X, scale, shift, relu=size == 3, next_layer=nxt)
            elif size == 2:
                nxt = self.layers[i + 2] if i + 2 < n else None
                X = layer.forward_pool(X, self.layers[i + 1], training, rng, next_layer=nxt)
            elif isinstance(layer, Conv1D):
                nxt = self.layers[i + 1] if i + 1 < n else None
                X = layer.forward(X, training, rng, next_layer=nxt)
            else:
                X = layer.forward(X, training, rng)
        self._c_plan = steps
        if steps:
            i, size = steps[-1]
            # a fused step returns the conv layer's reused buffer
            if size > 1 or not isinstance(self.layers[i], _FRESH_OUTPUT):
                X = X.copy()
        return X

    def backward(self, dY):
        """Back-propagate; each layer fills its ``grads``. Skips the input gradient."""
        steps = getattr(self, "_c_plan", None)
        if steps is None or sum(size for _, size in steps) != len(self.layers):
            steps = [(i, 1) for i in range(len(self.layers))]
        if any(size > 1 and isinstance(self.layers[i + 1], BatchNormalization)
               for i, size in steps):
            raise RuntimeError("backward() after a predict-mode forward pass (BatchNormalization "
                               "folded into the convolution): run forward(training=True).")
        for i, size in reversed(steps):
            if size == 2:
                dY = self.layers[i].backward_pool(dY, need_dX=i > 0)
            else:
                dY = self.layers[i].backward(dY, need_dX=i > 0)
        return dY

    def params(self):
        """Flat list of parameter arrays (updated in place by the optimizers)."""
        return [p for layer in self.layers for p in layer.params.values()]

    def grads(self):
        return [layer.grads[k] for layer in self.layers for k in layer.params]

    def penalized(self):
        """Boolean per entry of :meth:`params`: does the L2 penalty apply."""
        return [k in layer.penalized for layer in self.layers for k in layer.params]

    def get_weights(self):
        """Copies of the parameters and of the non-trained state (BatchNormalization's
        running statistics), so that restoring best weights restores both."""
        return [p.copy() for p in self.params()] + [a.copy() for a in self._state_arrays()]

    def set_weights(self, weights):
        for p, w in zip(self.params() + self._state_arrays(), weights):
            p[...] = w

    def _state_arrays(self):
        out = []
        for layer in self.layers:
            _collect_state(layer, out, set())
        return out

    def clear_cache(self):
        self.__dict__.pop("_c_plan", None)
        for layer in self.layers:
            layer.clear_cache()

    @property
    def n_params(self):
        return int(sum(layer.n_params for layer in self.layers))

    def flops(self):
        """Forward FLOPs per sample of the matrix products (conv and dense)."""
        return int(sum(layer.flops() for layer in self.layers))

    def summary(self):
        """Table of layers, output shapes and learnable parameter counts.

        Output shapes are printed channels-first, ``(channels, timepoints)``,
        as users give their data; parameter counts are those of the usual
        convention (a Conv1D has ``filters * (kernel_size * channels_in + 1)``).
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

"""Sequential network: an ordered list of layers with flat parameter lists, and the
blocks whose parts are small Sequential networks (Residual, Concatenate, InceptionModule).

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
    _check_positive_int,
    _require_sequence,
)

#: make_layer's registry: the engine's layers and the blocks of sk1dcnn.nn.blocks
LAYERS = {**LAYERS, **BLOCKS}

__all__ = ["Sequential", "Step", "make_layer", "Residual", "Concatenate", "InceptionModule"]

#: Layers whose forward pass returns a freshly allocated array; after any other
#: (a FastConv writes into a reused buffer, Flatten and Dropout may pass a view
#: through) Sequential.forward copies its result.
_FRESH_OUTPUT = (Dense, GlobalAveragePooling1D, GlobalMaxPooling1D, MaxPooling1D,
                 AveragePooling1D)


def _fresh_output(layer):
    """Does ``layer.forward`` return a new array? (A fused ReLU writes into a reused buffer.)"""
    if isinstance(layer, Dense) and layer.activation == "relu":
        return False
    return isinstance(layer, _FRESH_OUTPUT)


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
                    and layer.activation in (None, "identity")
                    and "_c_collect" not in vars(nxt)):  # not while collecting statistics
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
            if last.kind != "layer" or not _fresh_output(self.layers[last.start]):
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
        for step in reversed(steps):
            need = need_dX or step.start > 0
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

    def batchnorm_layers(self):
        """Every BatchNormalization layer, nested ones included (in a fixed order).

        Returns
        -------
        list of BatchNormalization
        """
        out = []
        for layer in self.layers:
            _collect_layers(layer, BatchNormalization, out, set())
        return out

    def recompute_batchnorm_statistics(self, X, chunk_size=256):
        """Set every BatchNormalization's running statistics to the exact mean and
        (biased) variance of its input over ``X``, in predict mode.

        One pass over ``X`` per layer, in the order the forward pass meets them: each
        pass runs the layers before it with their new statistics and stops at it, so
        that afterwards ``forward(X, training=False)`` equals the training-mode
        forward pass of the whole of ``X`` as one batch (without dropout), to rounding.
        A pass stops at its layer, so the cost is about half a predict pass over ``X``
        per layer.

        Parameters
        ----------
        X : ndarray (N, L, C)
            E.g. the training set.
        chunk_size : int, default=256
            Samples per forward pass (the statistics do not depend on it).

        Returns
        -------
        int
            The number of layers updated.
        """
        bns = self.batchnorm_layers()
        if not bns or len(X) == 0:
            return 0
        done = set()
        acc = {}

        def collect(bn, Z):
            if id(bn) in done:
                return  # final statistics: normalise with them
            if acc.setdefault("layer", bn) is not bn:
                raise RuntimeError("BatchNormalization layers met in a different order.")
            C = Z.shape[-1]
            Zd = Z.reshape(-1, C).astype(np.float64)
            n_b, mean_b = Zd.shape[0], Zd.mean(axis=0)
            m2_b = np.einsum("ij,ij->j", Zd - mean_b, Zd - mean_b)
            if "n" not in acc:
                acc.update(n=n_b, mean=mean_b, m2=m2_b)
            else:  # Chan et al.'s pairwise update of the mean and sum of squares
                n = acc["n"] + n_b
                delta = mean_b - acc["mean"]
                acc["mean"] = acc["mean"] + delta * (n_b / n)
                acc["m2"] = acc["m2"] + m2_b + delta * delta * (acc["n"] * n_b / n)
                acc["n"] = n
            raise _Collected

        for bn in bns:
            bn._c_collect = collect
        try:
            for _ in bns:
                acc.clear()
                for start in range(0, len(X), chunk_size):
                    try:
                        self.forward(X[start:start + chunk_size], training=False)
                    except _Collected:
                        pass
                bn = acc.get("layer")
                if bn is None:  # no pass reached the remaining layers
                    break
                bn.moving_mean[...] = acc["mean"]
                bn.moving_variance[...] = acc["m2"] / acc["n"]
                done.add(id(bn))
        finally:
            for bn in bns:
                vars(bn).pop("_c_collect", None)
            self.clear_cache()
        return len(done)

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
            rows += _nested_rows(layer, f"  {i}.")
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


# --------------------------------------------------------------------------
# Blocks whose parts are small networks written as layer specs: residual
# connections around any stack of layers, parallel branches joined along the
# channels, and the inception module built from the two.
# --------------------------------------------------------------------------
def _spec(spec):
    """A layer spec as a plain dict (a Layer instance becomes its config)."""
    layer = make_layer(spec)  # validates the name and the arguments now
    return {"layer": type(layer).__name__, **layer.get_config()}


def _specs(specs, what, block):
    if isinstance(specs, (str, dict, Layer)) or not isinstance(specs, (list, tuple)):
        raise ValueError(f"{block}: {what} must be a list of layer specs, got {specs!r}.")
    return [_spec(s) for s in specs]


class _Nested(_Composite):
    """A block whose parts are :class:`~sk1dcnn.nn.network.Sequential` networks.

    Subclasses build ``self._nets`` (name -> Sequential or None for the
    identity) in ``build``. Each part runs on the same engine as the
    network around it: its Conv1D layers through FastConv when ``fuse`` is on
    (a max pooling fused after a convolution, a BatchNormalization folded into
    it at predict time), its plain layers otherwise. Parameter keys are
    ``<part>_<index>_<key>`` (e.g. ``body_0_W``, ``branch1_0_W``).
    """

    _nets = {}

    @property
    def fuse(self):
        return self.__dict__.get("_fuse", True)

    @fuse.setter
    def fuse(self, value):
        self.__dict__["_fuse"] = bool(value)
        for net in self._nets.values():
            if net is not None:
                net.fuse = value

    def _build_net(self, specs, input_shape, rng, dtype):
        net = Sequential([make_layer(s) for s in specs], fuse=self.fuse)
        try:
            net.build(input_shape, rng, dtype)
        except ValueError as exc:  # the inner network's "too short" message
            raise TooShortError(f"{type(self).__name__}: {exc}") from None
        return net

    def _sublayers(self):
        return [(f"{name}_{i}", layer) for name, net in self._nets.items() if net is not None
                for i, layer in enumerate(net.layers)]

    def _collect(self):
        """The flat ``params``/``penalized`` over every part (the same arrays)."""
        self._collect_params()

    def _gather_grads(self, names):
        for name in names:
            net = self._nets[name]
            if net is None:
                continue
            for i, layer in enumerate(net.layers):
                for k, v in layer.grads.items():
                    self.grads[f"{name}_{i}_{k}"] = v

    def clear_cache(self):
        Layer.clear_cache(self)
        for net in self._nets.values():
            if net is not None:
                net.clear_cache()

    def summary_rows(self):
        """``[(name, layer)]`` of the parts' layers, for a nested summary."""
        return self._sublayers()


class Residual(_Nested):
    """A residual connection around any stack of layers: ``act(body(X) + shortcut(X))``.

    Parameters
    ----------
    layers : list of layer specs
        The body, e.g. ``[Conv1D(64, 8, 'same'), BN, ReLU, Conv1D(64, 5, 'same'), BN]``.
    shortcut : list of layer specs or None, default=None
        The other path: None is the identity (the body must keep the shape);
        e.g. ``[Conv1D(F, 1), BatchNormalization()]`` projects to the body's width.
    activation : str or None, default='relu'
        After the addition.

    Notes
    -----
    Parameter keys ``body_<i>_<key>`` and ``shortcut_<i>_<key>``, ``i`` the
    layer's index in its list. Used by the ``resnet`` and ``inception_time``
    presets (He et al. 2016; Wang et al. 2017; Ismail Fawaz et al. 2020).
    """

    expand_in_summary = True  # summary() lists the body and the shortcut

    def __init__(self, layers, shortcut=None, activation="relu"):
        super().__init__()
        self.layers = _specs(layers, "layers", "Residual")
        if not self.layers:
            raise ValueError("Residual: layers is empty; give at least one layer spec.")
        self.shortcut = None if shortcut is None else _specs(shortcut, "shortcut", "Residual")
        if activation is not None:
            Activation(activation)  # validates the name
        self.activation = activation

    def get_config(self):
        cfg = {"layers": self.layers}
        if self.shortcut is not None:
            cfg["shortcut"] = self.shortcut
        if self.activation != "relu":
            cfg["activation"] = self.activation
        return cfg

    def __repr__(self):
        short = "identity" if self.shortcut is None else f"{len(self.shortcut)} layers"
        return f"Residual({len(self.layers)} layers, shortcut: {short})"

    def build(self, input_shape, rng, dtype):
        Layer.build(self, input_shape, rng, dtype)  # input_shape only
        _require_sequence(self, self.input_shape)
        body = self._build_net(self.layers, self.input_shape, rng, dtype)
        short = (None if self.shortcut is None
                 else self._build_net(self.shortcut, self.input_shape, rng, dtype))
        out = body.output_shape
        other = self.input_shape if short is None else short.output_shape
        if out != other:
            raise ValueError(
                f"Residual: the body outputs shape {out} (timepoints, channels) but the "
                f"shortcut gives {other}; "
                + ("add a shortcut such as [Conv1D(filters, 1), BatchNormalization()] "
                   "to match the widths." if short is None else "make them match.")
            )
        self._nets = {"body": body, "shortcut": short}
        self._act = Activation(self.activation) if self.activation is not None else None
        if self._act is not None:
            self._act.build(out, rng, dtype)
        self.output_shape = out
        self._collect()
        return out

    def compute_output_shape(self, input_shape):
        return self.output_shape if self.output_shape is not None else tuple(input_shape)

    def forward(self, X, training=False, rng=None):
        H = self._nets["body"].forward(X, training, rng)
        short = self._nets["shortcut"]
        # not in place: the body's last layer may keep its output for its backward pass
        H = H + (X if short is None else short.forward(X, training, rng))
        return H if self._act is None else self._act.forward(H, training, rng)

    def backward(self, dY, need_dX=True):
        d = dY if self._act is None else self._act.backward(dY)
        dX = self._nets["body"].backward(d, need_dX=need_dX)
        short = self._nets["shortcut"]
        dS = d if short is None else short.backward(d, need_dX=need_dX)
        self._gather_grads(("body", "shortcut"))
        if not need_dX:
            return None
        return dX + dS

    def flops(self):
        return int(sum(net.flops() for net in self._nets.values() if net is not None))


class Concatenate(_Nested):
    """Parallel branches on the same input, joined along the channels.

    Parameters
    ----------
    branches : list of lists of layer specs
        Each branch is a stack of layers; an empty list is the identity. Every
        branch must output the same number of timepoints; the output has the
        sum of their channels, in the order of ``branches``.

    Notes
    -----
    Parameter keys ``branch<j>_<i>_<key>``. The inception module is a
    concatenation of convolutions of several kernel sizes and a pooling branch.
    """

    def __init__(self, branches):
        super().__init__()
        if not isinstance(branches, (list, tuple)) or len(branches) == 0:
            raise ValueError(f"Concatenate: branches must be a non-empty list of lists of layer "
                             f"specs, got {branches!r}.")
        self.branches = [_specs(b, f"branch {j}", "Concatenate") for j, b in enumerate(branches)]

    def get_config(self):
        return {"branches": self.branches}

    def __repr__(self):
        return f"Concatenate({len(self.branches)} branches)"

    def build(self, input_shape, rng, dtype):
        Layer.build(self, input_shape, rng, dtype)
        _require_sequence(self, self.input_shape)
        nets = {}
        shapes = []
        for j, specs in enumerate(self.branches):
            net = self._build_net(specs, self.input_shape, rng, dtype) if specs else None
            nets[f"branch{j}"] = net
            shapes.append(self.input_shape if net is None else net.output_shape)
        if len(shapes[0]) != 2 or any(s[0] != shapes[0][0] or len(s) != 2 for s in shapes):
            raise ValueError(f"Concatenate: the branches output shapes {shapes} (timepoints, "
                             f"channels); they must all keep the same number of timepoints.")
        self._nets = nets
        self._widths = [s[1] for s in shapes]
        self.output_shape = (shapes[0][0], sum(self._widths))
        self._collect()
        return self.output_shape

    def compute_output_shape(self, input_shape):
        return self.output_shape

    def forward(self, X, training=False, rng=None):
        outs = [X if net is None else net.forward(X, training, rng) for net in self._nets.values()]
        return np.concatenate(outs, axis=-1)

    def backward(self, dY, need_dX=True):
        dX = None
        start = 0
        for net, width in zip(self._nets.values(), self._widths):
            part = dY[..., start:start + width]
            start += width
            d = part if net is None else net.backward(np.ascontiguousarray(part), need_dX=need_dX)
            if need_dX:
                dX = d if dX is None else dX + d
        self._gather_grads(self._nets)
        return dX

    def flops(self):
        return int(sum(net.flops() for net in self._nets.values() if net is not None))


class InceptionModule(_Nested):
    """Inception module of InceptionTime (Ismail Fawaz et al. 2020), as layer specs.

    ``X -> [bottleneck Conv1D(bottleneck, 1)] -> Conv1D(filters, k) for k in
    kernel_sizes`` next to ``MaxPooling1D(pool_size, strides=1, 'same') ->
    Conv1D(filters, 1)`` on X, concatenated (``len(kernel_sizes) + 1`` times
    ``filters`` channels), then BatchNormalization and ReLU. The convolutions
    are linear, without bias, 'same'-padded (as in the authors' Keras code).

    Parameters
    ----------
    filters : int, default=32
    kernel_sizes : list of int, default=(40, 20, 10)
        The paper's sizes; the authors' code derives them as ``41 - 1`` halved
        twice (even kernels: Keras' 'same' puts the odd zero on the right, as
        :class:`~sk1dcnn.nn.layers.Conv1D` does).
    bottleneck : int or None, default=32
        Channels of the 1x1 bottleneck in front of the wide convolutions, used
        when the input has more than one channel (the authors' code); None: never.
    pool_size : int, default=3

    Notes
    -----
    :meth:`body_specs` returns the specs the module is built from: a user can
    write the same module by hand with :class:`Concatenate`. Parameters, input
    of C channels and no bottleneck: ``sum(k) * C * filters + C * filters +
    2 * 4 * filters``; with the bottleneck, ``C * b + sum(k) * b * filters + ...``.
    """

    def __init__(self, filters=32, kernel_sizes=(40, 20, 10), bottleneck=32, pool_size=3):
        super().__init__()
        name = "InceptionModule"
        self.filters = _check_positive_int("filters", filters, name)
        if not isinstance(kernel_sizes, (list, tuple)) or not kernel_sizes:
            raise ValueError(f"{name}: kernel_sizes must be a non-empty list of positive "
                             f"integers, got {kernel_sizes!r}.")
        self.kernel_sizes = [_check_positive_int("kernel_sizes", k, name) for k in kernel_sizes]
        self.bottleneck = None if bottleneck is None else _check_positive_int(
            "bottleneck", bottleneck, name)
        self.pool_size = _check_positive_int("pool_size", pool_size, name)

    def get_config(self):
        cfg = {"filters": self.filters, "kernel_sizes": list(self.kernel_sizes)}
        if self.bottleneck != 32:
            cfg["bottleneck"] = self.bottleneck
        if self.pool_size != 3:
            cfg["pool_size"] = self.pool_size
        return cfg

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"InceptionModule({args})"

    def body_specs(self, channels_in):
        """The module as layer specs for an input of ``channels_in`` channels."""
        conv = {"layer": "Conv1D", "padding": "same", "use_bias": False}
        wide = [[{**conv, "filters": self.filters, "kernel_size": k}] for k in self.kernel_sizes]
        convs = [{"layer": "Concatenate", "branches": wide}]
        if self.bottleneck is not None and channels_in > 1:
            convs.insert(0, {**conv, "filters": self.bottleneck, "kernel_size": 1})
        pool = [{"layer": "MaxPooling1D", "pool_size": self.pool_size, "strides": 1,
                 "padding": "same"},
                {**conv, "filters": self.filters, "kernel_size": 1}]
        return [{"layer": "Concatenate", "branches": [convs, pool]},
                {"layer": "BatchNormalization"}, {"layer": "Activation", "activation": "relu"}]

    def build(self, input_shape, rng, dtype):
        Layer.build(self, input_shape, rng, dtype)
        _require_sequence(self, self.input_shape)
        body = self._build_net(self.body_specs(self.input_shape[1]), self.input_shape, rng, dtype)
        self._nets = {"body": body}
        self.output_shape = body.output_shape
        self._collect()
        return self.output_shape

    def compute_output_shape(self, input_shape):
        _require_sequence(self, input_shape)
        return (input_shape[0], self.filters * (len(self.kernel_sizes) + 1))

    def forward(self, X, training=False, rng=None):
        return self._nets["body"].forward(X, training, rng)

    def backward(self, dY, need_dX=True):
        dX = self._nets["body"].backward(dY, need_dX=need_dX)
        self._gather_grads(("body",))
        return dX

    def flops(self):
        return self._nets["body"].flops()


#: The blocks made of small networks join make_layer's registry.
LAYERS.update({cls.__name__: cls for cls in (Residual, Concatenate, InceptionModule)})


class _Collected(Exception):
    """Stops a pass of recompute_batchnorm_statistics at the layer it collects for."""


def _collect_layers(layer, cls, out, seen):
    """Instances of ``cls`` in ``layer`` and in the layers and networks nested in it."""
    if id(layer) in seen:
        return
    seen.add(id(layer))
    if isinstance(layer, cls):
        out.append(layer)
    for name in sorted(vars(layer)):
        if name.startswith("_c_"):
            continue
        value = vars(layer)[name]
        items = list(value.values()) if isinstance(value, dict) else value
        if isinstance(items, (Layer, Sequential)):
            items = [items]
        if isinstance(items, (list, tuple)):
            for item in items:
                if isinstance(item, Sequential):
                    for sub in item.layers:
                        _collect_layers(sub, cls, out, seen)
                elif isinstance(item, Layer):
                    _collect_layers(item, cls, out, seen)


_STATE_NAMES = ("moving_mean", "moving_variance")


def _collect_state(layer, out, seen):
    """Non-trained arrays of a layer and of the layers nested in it, in a fixed order."""
    if id(layer) in seen:
        return
    seen.add(id(layer))
    for name in sorted(vars(layer)):
        if name.startswith("_c_"):  # caches and fast-path runners
            continue
        value = vars(layer)[name]
        if name in _STATE_NAMES and isinstance(value, np.ndarray):
            out.append(value)
            continue
        if isinstance(value, dict):  # the sub-layers or sub-networks of a block
            value = list(value.values())
        if isinstance(value, (Layer, Sequential)):
            value = [value]
        if isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, Sequential):
                    for sub in item.layers:
                        _collect_state(sub, out, seen)
                elif isinstance(item, Layer):
                    _collect_state(item, out, seen)


def _nested_rows(layer, prefix):
    """Summary rows of the layers inside a block that lists them (``Residual``)."""
    rows = []
    if not getattr(layer, "expand_in_summary", False):
        return rows
    for name, sub in layer.summary_rows():
        rows.append((f"{prefix}{name}: {sub!r}", _fmt_shape(sub.output_shape),
                     f"{sub.n_params:,}"))
        rows += _nested_rows(sub, "  " + prefix + name + ".")
    return rows


def _fmt_shape(shape):
    if shape is None:
        return "?"
    if len(shape) == 2:  # channels-last inside; show (channels, timepoints)
        return f"(None, {shape[1]}, {shape[0]})"
    return "(None, " + ", ".join(str(s) for s in shape) + ")"

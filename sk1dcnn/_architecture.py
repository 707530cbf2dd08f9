"""From the estimators' flat parameters to the engine's layers.

``filters=(16, 32), kernel_size=5, pool="max", hidden_layer_sizes=(64,)`` and
friends become ``Conv1D -> MaxPooling1D`` blocks, a Flatten or global pooling,
and a dense head; ``architecture=`` (layer specs or a preset name) replaces
all of them. The estimator adds the output Dense layer through
:func:`build_network`. No scikit-learn here: the functions take the
estimator's parameters as a mapping (``est.get_params()``) and read only the
keys they need.
"""

import numbers

import numpy as np

from ._validation import per_block
from .nn.layers import (
    AveragePooling1D, Conv1D, Dense, Dropout, Flatten, GlobalAveragePooling1D,
    GlobalMaxPooling1D, MaxPooling1D)
from .nn.network import Sequential, make_layer
from .nn.static import JoinStatic, SplitStatic
from .presets import get_preset

__all__ = ["RELU_LIKE", "hidden_layers", "with_static", "build_network", "predict_chunk_size"]

#: Activations whose layers start from He initialisation (the rest: Glorot).
RELU_LIKE = {"relu", "relu6", "leaky_relu", "prelu", "rrelu", "elu", "swish", "softplus"}

#: Bytes of activations a prediction chunk may hold (the largest layer's output
#: plus the size its im2col matrix would have, a bound on its buffers that the
#: dilated path reaches): a few MB keeps chunks cache-friendly (measured 2x
#: faster than 512-sample chunks on raw audio).
PREDICT_CHUNK_BYTES = 8 * 2**20
#: ... but never fewer samples than this per chunk (a chunk of 2 long signals
#: made raw-audio inference 2.5x slower: per-chunk overhead and tiny matrix
#: products), unless that breaks the hard cap below.
PREDICT_MIN_CHUNK = 32
#: Hard cap on a chunk's activation bytes (keeps batched predict memory flat).
PREDICT_MAX_CHUNK_BYTES = 256 * 2**20


def hidden_layers(params):
    """Every layer but the output Dense, from the estimator's parameters.

    Parameters
    ----------
    params : mapping
        The estimator's parameters (``est.get_params()``). Read: ``architecture``,
        or ``filters, kernel_size, strides, padding, dilation_rate, activation,
        pool, pool_size, global_pool, hidden_layer_sizes, dropout``.

    Returns
    -------
    list of Layer
        Unbuilt layers.
    """
    architecture = params["architecture"]
    if isinstance(architecture, str):  # a preset name
        return [make_layer(spec) for spec in get_preset(architecture)]
    if architecture is not None:
        if len(architecture) == 0:
            raise ValueError("architecture is an empty list; give at least one layer spec.")
        return [make_layer(spec) for spec in architecture]
    return _conv_blocks(params) + _reduction(params["global_pool"]) + _dense_head(params)


def _conv_blocks(params):
    """``Conv1D`` (and pooling) per entry of ``filters``; the per-block params broadcast."""
    filters = per_block(params["filters"], len(np.atleast_1d(params["filters"])), "filters")
    n = len(filters)
    kernels = per_block(params["kernel_size"], n, "kernel_size")
    strides = per_block(params["strides"], n, "strides")
    dilations = per_block(params["dilation_rate"], n, "dilation_rate")
    init = _initializer(params["activation"])
    layers = []
    for f, k, s, d in zip(filters, kernels, strides, dilations):
        if s > 1 and d > 1:
            raise ValueError(
                "strides > 1 and dilation_rate > 1 in the same conv block are not "
                f"supported (strides={params['strides']!r}, "
                f"dilation_rate={params['dilation_rate']!r})."
            )
        layers.append(Conv1D(f, k, strides=s, padding=params["padding"], dilation_rate=d,
                             activation=params["activation"], kernel_initializer=init))
        if params["pool"] == "max":
            layers.append(MaxPooling1D(params["pool_size"]))
        elif params["pool"] == "avg":
            layers.append(AveragePooling1D(params["pool_size"]))
    return layers


def _reduction(global_pool):
    """From (channels, time) to a vector: global pooling, or Flatten to keep positions."""
    if global_pool == "avg":
        return [GlobalAveragePooling1D()]
    if global_pool == "max":
        return [GlobalMaxPooling1D()]
    return [Flatten()]


def _dense_head(params):
    sizes = params["hidden_layer_sizes"]
    hidden = tuple(np.atleast_1d(sizes)) if sizes is not None else ()
    init = _initializer(params["activation"])
    layers = []
    for h in hidden:
        if not isinstance(h, numbers.Integral) or h < 1:
            raise ValueError(f"hidden_layer_sizes must hold positive integers, got {sizes!r}.")
        layers.append(Dense(int(h), activation=params["activation"], kernel_initializer=init))
        if params["dropout"] > 0:
            layers.append(Dropout(params["dropout"]))
    return layers


def _initializer(activation):
    return "he_uniform" if activation in RELU_LIKE else "glorot_uniform"


#: Layers that turn the sequence into a vector: the static features join after the first.
_VECTORIZING = (Flatten, GlobalAveragePooling1D, GlobalMaxPooling1D)


def with_static(layers, n_static):
    """``layers`` with the static features split off the input and joined after the conv stack.

    A :class:`~sk1dcnn.nn.static.SplitStatic` goes first and a
    :class:`~sk1dcnn.nn.static.JoinStatic` right after the first Flatten or
    global pooling layer, so the dense head sees the convolved signal and the
    static features side by side.

    Raises
    ------
    ValueError
        If no layer turns the sequence into a vector.
    """
    at = next((i for i, layer in enumerate(layers) if isinstance(layer, _VECTORIZING)), None)
    if at is None:
        raise ValueError(
            f"n_static_features={n_static} joins the static features after the layer that "
            "turns the sequence into a vector, but the architecture has none: add a Flatten, "
            "GlobalAveragePooling1D or GlobalMaxPooling1D layer."
        )
    return [SplitStatic(n_static), *layers[: at + 1], JoinStatic(n_static), *layers[at + 1:]]


def build_network(params, input_shape, n_outputs, rng):
    """The hidden layers plus a linear output Dense, built for ``input_shape``.

    Parameters
    ----------
    params : mapping
        The estimator's parameters, as for :func:`hidden_layers` (plus ``dtype``
        and ``n_static_features``: see :func:`with_static`).
    input_shape : (n_timepoints, n_channels)
        The engine's channels-last shape of one sample (static feature columns
        included).
    n_outputs : int
        Units of the output layer (its activation is the loss's canonical link).
    rng : numpy.random.RandomState
        Weight initialisation.

    Returns
    -------
    Sequential

    Raises
    ------
    ValueError
        When the signal is too short for the network: the message names the
        layer where the length runs out.
    """
    layers = hidden_layers(params)
    n_static = params.get("n_static_features", 0)
    if n_static:
        layers = with_static(layers, n_static)
    layers.append(Dense(n_outputs, kernel_initializer="glorot_uniform"))
    net = Sequential(layers)
    net.build(input_shape, rng, np.dtype(params["dtype"]).type)
    return net


def predict_chunk_size(net, itemsize):
    """Samples per forward pass at predict time, from the network's largest buffer.

    Parameters
    ----------
    net : Sequential
        A built network.
    itemsize : int
        Bytes per value (4 for float32).

    Returns
    -------
    int
        At least 1.
    """
    per_sample = 1
    for layer in net.layers:
        size = int(np.prod(layer.output_shape))
        if isinstance(layer, Conv1D):
            size += layer.output_shape[0] * layer.kernel_size * layer.input_shape[1]
        per_sample = max(per_sample, size)
    per_sample *= itemsize
    chunk = max(PREDICT_CHUNK_BYTES // per_sample, PREDICT_MIN_CHUNK)
    return max(1, min(chunk, PREDICT_MAX_CHUNK_BYTES // per_sample))

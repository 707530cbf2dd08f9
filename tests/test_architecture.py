"""Flat estimator parameters -> layers (sk1dcnn._architecture), and the
too-short-signal messages that name the layer where the length runs out."""

import re

import numpy as np
import pytest

from sk1dcnn import CNN1DClassifier, CNN1DRegressor
from sk1dcnn._architecture import (
    PREDICT_CHUNK_BYTES, PREDICT_MAX_CHUNK_BYTES, PREDICT_MIN_CHUNK, build_network,
    hidden_layers, predict_chunk_size)
from sk1dcnn.nn.layers import (
    AveragePooling1D, Conv1D, Dense, Dropout, Flatten, GlobalAveragePooling1D,
    GlobalMaxPooling1D, MaxPooling1D)
from sk1dcnn.presets import get_preset


def params(**kw):
    """The classifier's parameters, defaults overridden by ``kw``."""
    return CNN1DClassifier(**kw).get_params()


def kinds(layers):
    return [type(layer).__name__ for layer in layers]


def test_default_parameters_give_three_conv_blocks_flatten_and_a_dense_head():
    layers = hidden_layers(params())
    assert kinds(layers) == ["Conv1D", "MaxPooling1D"] * 3 + ["Flatten", "Dense"]
    assert [layer.filters for layer in layers if isinstance(layer, Conv1D)] == [16, 32, 64]
    assert all(layer.kernel_size == 5 and layer.padding == "same"
               for layer in layers if isinstance(layer, Conv1D))
    assert layers[-1].units == 64 and layers[-1].activation == "relu"
    # the regressor reads the same parameters
    assert kinds(hidden_layers(CNN1DRegressor().get_params())) == kinds(layers)


def test_per_block_parameters_broadcast_or_go_one_per_block():
    layers = hidden_layers(params(filters=(4, 8), kernel_size=(7, 3), strides=2,
                                  dilation_rate=1, pool=None))
    convs = [layer for layer in layers if isinstance(layer, Conv1D)]
    assert [(c.filters, c.kernel_size, c.strides) for c in convs] == [(4, 7, 2), (8, 3, 2)]
    assert kinds(layers) == ["Conv1D", "Conv1D", "Flatten", "Dense"]
    convs = [layer for layer in hidden_layers(params(filters=6, dilation_rate=(3,)))
             if isinstance(layer, Conv1D)]
    assert [(c.filters, c.dilation_rate) for c in convs] == [(6, 3)]


def test_per_block_parameter_of_the_wrong_length_is_named():
    with pytest.raises(ValueError, match=re.escape(
            "kernel_size=(3, 5) has 2 entries but filters defines 3 conv block(s); "
            "give one int or 3 ints.")):
        hidden_layers(params(filters=(4, 8, 16), kernel_size=(3, 5)))


def test_strides_and_dilation_in_one_block_are_refused():
    with pytest.raises(ValueError, match=re.escape(
            "strides > 1 and dilation_rate > 1 in the same conv block are not supported "
            "(strides=(1, 2), dilation_rate=(2, 2)).")):
        hidden_layers(params(filters=(4, 8), strides=(1, 2), dilation_rate=(2, 2)))


@pytest.mark.parametrize("pool, cls", [("max", MaxPooling1D), ("avg", AveragePooling1D)])
def test_pooling_after_every_block(pool, cls):
    layers = hidden_layers(params(filters=(4, 8), pool=pool, pool_size=3))
    pools = [layer for layer in layers if isinstance(layer, (MaxPooling1D, AveragePooling1D))]
    assert len(pools) == 2 and all(type(p) is cls and p.pool_size == 3 for p in pools)


@pytest.mark.parametrize("global_pool, cls", [(None, Flatten), ("avg", GlobalAveragePooling1D),
                                              ("max", GlobalMaxPooling1D)])
def test_global_pool_or_flatten_before_the_head(global_pool, cls):
    layers = hidden_layers(params(filters=(4,), global_pool=global_pool, hidden_layer_sizes=()))
    assert type(layers[-1]) is cls


def test_dense_head_with_dropout_after_each_layer():
    layers = hidden_layers(params(filters=(4,), hidden_layer_sizes=(8, 5), dropout=0.25))
    assert kinds(layers)[-4:] == ["Dense", "Dropout", "Dense", "Dropout"]
    assert [layer.units for layer in layers if isinstance(layer, Dense)] == [8, 5]
    assert all(layer.rate == 0.25 for layer in layers if isinstance(layer, Dropout))
    assert kinds(hidden_layers(params(filters=(4,), hidden_layer_sizes=None)))[-1] == "Flatten"
    with pytest.raises(ValueError, match=re.escape(
            "hidden_layer_sizes must hold positive integers, got (8, 0).")):
        hidden_layers(params(filters=(4,), hidden_layer_sizes=(8, 0)))


@pytest.mark.parametrize("activation, init", [("relu", "he_uniform"), ("elu", "he_uniform"),
                                              ("tanh", "glorot_uniform"),
                                              ("sigmoid", "glorot_uniform")])
def test_initializer_follows_the_activation(activation, init):
    layers = hidden_layers(params(filters=(4,), activation=activation))
    assert {layer.kernel_initializer for layer in layers
            if isinstance(layer, (Conv1D, Dense))} == {init}


def test_architecture_replaces_the_flat_parameters():
    arch = [{"layer": "Conv1D", "filters": 3, "kernel_size": 7}, "GlobalMaxPooling1D"]
    layers = hidden_layers(params(architecture=arch, filters=(99,)))
    assert kinds(layers) == ["Conv1D", "GlobalMaxPooling1D"]
    assert layers[0].filters == 3
    preset = hidden_layers(params(architecture="sample_level"))
    assert len(preset) == len(get_preset("sample_level"))
    with pytest.raises(ValueError, match="architecture is an empty list"):
        hidden_layers(params(architecture=[]))


def test_build_network_adds_a_linear_output_layer():
    rng = np.random.RandomState(0)
    net = build_network(params(filters=(4,), hidden_layer_sizes=(5,), dtype="float64"),
                        (20, 2), 3, rng)
    out = net.layers[-1]
    assert isinstance(out, Dense) and out.units == 3 and out.activation in (None, "identity")
    assert out.kernel_initializer == "glorot_uniform"
    assert net.output_shape == (3,)
    assert all(p.dtype == np.float64 for p in net.params())
    # the same parameters and seed build the same weights
    again = build_network(params(filters=(4,), hidden_layer_sizes=(5,), dtype="float64"),
                          (20, 2), 3, np.random.RandomState(0))
    for a, b in zip(net.params(), again.params()):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------- too short
def _fit_err(X, y, match, est):
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)
    return est


def test_signal_too_short_names_the_layer():
    X = np.random.default_rng(0).standard_normal((10, 6))
    y = np.arange(10) % 2
    # the default network takes 6 timepoints: 6 -> 3 -> 1 -> 1 (pooling keeps one step)
    est = CNN1DClassifier(max_iter=1).fit(X, y)
    assert est.network_.layers[5].output_shape == (1, 64)
    msg = ("n_timepoints=6 is too short for this network: layer 0 Conv1D(filters=4, "
           "kernel_size=9, padding='valid', activation='relu') gets length 6 and would output "
           "length -2 (its receptive field spans 9 steps); use padding='same' or a smaller "
           "kernel_size/dilation_rate.")
    _fit_err(X, y, re.escape(msg), CNN1DClassifier(filters=(4,), kernel_size=9, padding="valid"))


def test_build_network_says_which_layer_the_length_runs_out_in():
    msg = ("n_timepoints=6 is too short for this network: layer 2 Conv1D(filters=32, "
           "kernel_size=5, padding='valid', activation='relu') gets length 1 and would output "
           "length -3 (its receptive field spans 5 steps); use padding='same' or a smaller "
           "kernel_size/dilation_rate.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        build_network(params(padding="valid"), (6, 1), 1, np.random.RandomState(0))
    # summary() of an unfitted estimator builds the same way, with the same message
    with pytest.raises(ValueError, match=re.escape(msg)):
        CNN1DClassifier(padding="valid").summary(input_shape=(1, 6))


# ------------------------------------------------------ predict chunking
def test_predict_chunk_size_bounds():
    small = build_network(params(filters=(4,), hidden_layer_sizes=()), (16, 1), 2,
                          np.random.RandomState(0))
    # tiny activations: as many samples as fit in PREDICT_CHUNK_BYTES
    conv = small.layers[0]
    per_sample = 4 * max(int(np.prod(conv.output_shape)) + conv.output_shape[0] * 5 * 1,
                         *(int(np.prod(layer.output_shape)) for layer in small.layers[1:]))
    assert predict_chunk_size(small, 4) == PREDICT_CHUNK_BYTES // per_sample
    # big activations: never fewer than PREDICT_MIN_CHUNK samples...
    long = build_network(params(filters=(64,), global_pool="avg", hidden_layer_sizes=()),
                         (20000, 1), 2, np.random.RandomState(0))
    assert predict_chunk_size(long, 4) == PREDICT_MIN_CHUNK
    # ... unless that breaks the hard cap on a chunk's bytes, and at least 1
    huge = build_network(params(filters=(64,), global_pool="avg", hidden_layer_sizes=(),
                                pool=None), (10**6, 1), 2, np.random.RandomState(0))
    per_sample = 4 * (10**6 * 64 + 10**6 * 5 * 1)  # conv output + its im2col matrix
    assert PREDICT_MAX_CHUNK_BYTES // per_sample == 0
    assert predict_chunk_size(huge, 4) == 1
    mid = build_network(params(filters=(64,), global_pool="avg", hidden_layer_sizes=(),
                               pool=None), (200000, 1), 2, np.random.RandomState(0))
    per_sample = 4 * (200000 * 64 + 200000 * 5 * 1)
    assert predict_chunk_size(mid, 4) == PREDICT_MAX_CHUNK_BYTES // per_sample == 4

"""Residual, Concatenate, InceptionModule (sk1dcnn.nn.network) and padded pooling (.layers).

* Gradients by central finite differences in float64 (``_gradcheck.check_layer``),
  in training mode on the fast engine and plain, and in predict mode plain.
* The same block run fast (Conv1D through FastConv, BatchNormalization folded
  at predict time) and plain agree to rounding.
* Pooling with ``padding='same'`` and on inputs shorter than ``pool_size``
  against a direct loop over Keras' windows.
"""

import pickle
import re

import numpy as np
import pytest

from sk1dcnn.nn.blocks import BatchNormalization
from sk1dcnn.nn.layers import AveragePooling1D, Conv1D, MaxPooling1D
from sk1dcnn.nn.network import Concatenate, InceptionModule, Residual, Sequential, make_layer

from _gradcheck import build, check_layer

CONV = {"layer": "Conv1D", "padding": "same"}
RESNET_BODY = [{**CONV, "filters": 3, "kernel_size": 4}, "BatchNormalization",
               {"layer": "Activation", "activation": "relu"},
               {**CONV, "filters": 3, "kernel_size": 3}, "BatchNormalization"]


def _randomize(layer, seed=1):
    """Parameters and BN statistics away from their initial values."""
    rng = np.random.default_rng(seed)
    for p in layer.params.values():
        p += 0.3 * rng.standard_normal(p.shape)
    for net in layer._nets.values():
        if net is None:
            continue
        for bn in _batchnorms(net):
            bn.moving_mean[:] = rng.standard_normal(bn.moving_mean.shape)
            bn.moving_variance[:] = rng.uniform(0.5, 2.0, bn.moving_variance.shape)
    return layer


def _batchnorms(net):
    out = []
    for layer in net.layers:
        if isinstance(layer, BatchNormalization):
            out.append(layer)
        for sub in getattr(layer, "_nets", {}).values():
            if sub is not None:
                out += _batchnorms(sub)
    return out


BLOCKS = {
    "residual_projection": lambda: Residual(RESNET_BODY, shortcut=[
        {"layer": "Conv1D", "filters": 3, "kernel_size": 1}, "BatchNormalization"]),
    "residual_identity": lambda: Residual(
        [{**CONV, "filters": 2, "kernel_size": 3, "activation": "tanh"}], activation="tanh"),
    "residual_bn_shortcut": lambda: Residual(
        [{**CONV, "filters": 2, "kernel_size": 5}], shortcut=["BatchNormalization"],
        activation=None),
    "concatenate": lambda: Concatenate([
        [{**CONV, "filters": 2, "kernel_size": 4}],
        [{"layer": "MaxPooling1D", "pool_size": 3, "strides": 1, "padding": "same"},
         {"layer": "Conv1D", "filters": 3, "kernel_size": 1}],
        []]),  # the identity
    "inception": lambda: InceptionModule(filters=2, kernel_sizes=[6, 3, 2], bottleneck=3),
    "inception_no_bottleneck": lambda: InceptionModule(filters=2, kernel_sizes=[4, 2],
                                                       bottleneck=None),
}


@pytest.mark.parametrize("name", sorted(BLOCKS))
@pytest.mark.parametrize("fuse, training", [(True, True), (False, True), (False, False)],
                         ids=["fast-train", "plain-train", "plain-predict"])
def test_nested_block_gradients(name, fuse, training):
    X = np.random.default_rng(0).standard_normal((3, 9, 2))
    layer = build(BLOCKS[name](), (9, 2))
    layer.fuse = fuse
    _randomize(layer)
    check_layer(layer, X, training)


@pytest.mark.parametrize("name", sorted(BLOCKS))
@pytest.mark.parametrize("training", [True, False])
def test_nested_block_fast_equals_plain(name, training):
    def net(fuse):
        n = Sequential([BLOCKS[name](), make_layer("GlobalAveragePooling1D"),
                        make_layer({"layer": "Dense", "units": 2})], fuse=fuse)
        n.build((11, 2), np.random.RandomState(0), np.float64)
        _randomize(n.layers[0])
        return n

    fast, plain = net(True), net(False)
    assert all(a is not b for a, b in zip(fast.params(), plain.params()))
    X = np.random.default_rng(1).standard_normal((4, 11, 2))
    Zf, Zp = fast.forward(X, training=training), plain.forward(X, training=training)
    np.testing.assert_allclose(Zf, Zp, rtol=1e-12, atol=1e-13)
    if training:
        dZ = np.random.default_rng(2).standard_normal(Zf.shape)
        dXf, dXp = fast.backward(dZ, need_dX=True), plain.backward(dZ, need_dX=True)
        np.testing.assert_allclose(dXf, dXp, rtol=1e-11, atol=1e-13)
        for a, b in zip(fast.grads(), plain.grads()):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


def test_inception_module_is_the_concatenation_of_its_branches():
    """Output = BN(concat(conv_k(bottleneck(X)) for k, conv_1(maxpool(X)))) then ReLU,
    recomputed here from the sub-layers' own weights with the plain layers."""
    m = build(InceptionModule(filters=2, kernel_sizes=[5, 2], bottleneck=3), (8, 4))
    X = np.random.default_rng(0).standard_normal((2, 8, 4))
    body = m._nets["body"]
    cat, bn = body.layers[0], body.layers[1]
    convs, pool = cat._nets["branch0"], cat._nets["branch1"]
    bott, wide = convs.layers[0], convs.layers[1]
    assert (bott.filters, bott.kernel_size, bott.use_bias) == (3, 1, False)
    B = bott.forward(X)
    parts = [net.layers[0].forward(B) for net in wide._nets.values()]
    P = pool.layers[0].forward(X)
    parts.append(pool.layers[1].forward(P))
    expected = np.maximum(bn.forward(np.concatenate(parts, axis=-1)), 0)
    np.testing.assert_allclose(m.forward(X), expected, rtol=1e-12)
    assert [net.layers[0].kernel_size for net in wide._nets.values()] == [5, 2]


def test_inception_module_skips_the_bottleneck_on_one_channel():
    m = build(InceptionModule(filters=2, kernel_sizes=[4, 2], bottleneck=3), (8, 1))
    first = m._nets["body"].layers[0]._nets["branch0"].layers[0]
    assert isinstance(first, Concatenate)
    # 1 channel: (4 + 2) * 1 * 2 wide kernels + 1 * 2 after the pool + BN's 2 * 6
    assert m.n_params == 12 + 2 + 12


def test_residual_shapes_must_match():
    msg = ("Residual: the body outputs shape (9, 3) (timepoints, channels) but the shortcut "
           "gives (9, 2); add a shortcut such as [Conv1D(filters, 1), BatchNormalization()] "
           "to match the widths.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        build(Residual([{**CONV, "filters": 3, "kernel_size": 3}]), (9, 2))


def test_concatenate_branches_must_keep_the_length():
    layer = Concatenate([[{"layer": "Conv1D", "filters": 2, "kernel_size": 3}], []])
    with pytest.raises(ValueError, match=re.escape(
            "Concatenate: the branches output shapes [(7, 2), (9, 2)]")):
        build(layer, (9, 2))


@pytest.mark.parametrize("bad, msg", [
    (lambda: Residual("Conv1D"), "Residual: layers must be a list of layer specs, got 'Conv1D'."),
    (lambda: Residual([]), "Residual: layers is empty"),
    (lambda: Residual([{"layer": "Nope"}]), "Unknown layer 'Nope'"),
    (lambda: Concatenate([]), "Concatenate: branches must be a non-empty list"),
    (lambda: InceptionModule(kernel_sizes=[]), "InceptionModule: kernel_sizes must be"),
])
def test_bad_block_arguments_are_named(bad, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        bad()


def test_nested_blocks_roundtrip_through_specs_and_pickle():
    layers = [BLOCKS["residual_projection"](), BLOCKS["inception"]()]
    for layer in layers:
        again = make_layer(layer)  # a Layer instance is copied from its config
        assert again.get_config() == layer.get_config()
    net = Sequential([make_layer(layer) for layer in layers]
                     + [make_layer("GlobalAveragePooling1D")])
    net.build((10, 2), np.random.RandomState(0), np.float64)
    X = np.random.default_rng(0).standard_normal((3, 10, 2))
    net.forward(X, training=True)
    copy = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(copy.forward(X), net.forward(X))


def test_nested_batchnorm_statistics_are_in_the_weights_snapshot():
    """get_weights carries every BN's running statistics, nested ones included, so the
    best-weights restore of early stopping restores them."""
    net = Sequential([BLOCKS["residual_projection"](), BLOCKS["inception"](),
                      make_layer("GlobalAveragePooling1D")])
    net.build((10, 2), np.random.RandomState(0), np.float64)
    bns = _batchnorms(net)
    assert len(bns) == 3 + 1  # body 2 + shortcut 1, the module's 1
    assert len(net.get_weights()) == len(net.params()) + 2 * len(bns)
    snap = net.get_weights()
    net.forward(np.random.default_rng(0).standard_normal((3, 10, 2)) + 5, training=True)
    assert bns[-1].moving_mean.any()
    net.set_weights(snap)
    assert not any(bn.moving_mean.any() for bn in bns)


# ------------------------------------------------------------------ pooling
def _pool_oracle(X, p, s, padding, kind):
    """Keras' windows written out: 'same' pads (p - 1 ... ) so that there are ceil(L / s)
    windows; 'valid' drops incomplete windows but keeps one when L < p. Padding never
    counts."""
    N, L, C = X.shape
    if padding == "same":
        out = -(-L // s)
        total = max((out - 1) * s + p - L, 0)
        left = total // 2
    else:
        out = max((L - p) // s + 1, 1) if L >= p else 1
        left = 0
    Y = np.empty((N, out, C))
    for t in range(out):
        lo = t * s - left
        window = X[:, max(lo, 0):min(lo + p, L)]
        Y[:, t] = window.max(axis=1) if kind == "max" else window.mean(axis=1)
    return Y


@pytest.mark.parametrize("cls, kind", [(MaxPooling1D, "max"), (AveragePooling1D, "avg")])
@pytest.mark.parametrize("L, p, s, padding", [
    (9, 3, 1, "same"), (10, 3, 2, "same"), (7, 2, 2, "same"), (5, 4, 3, "same"),
    (1, 2, 2, "valid"), (3, 5, 1, "valid"), (2, 3, 3, "same"), (8, 3, 3, "valid")])
def test_padded_pooling_matches_keras_windows_and_gradients(cls, kind, L, p, s, padding):
    X = np.random.default_rng(0).standard_normal((2, L, 3))
    layer = build(cls(p, s, padding=padding), (L, 3))
    Y = check_layer(layer, X)
    np.testing.assert_allclose(Y, _pool_oracle(X, p, s, padding, kind), rtol=1e-12)
    assert layer.output_shape == Y.shape[1:]


def test_pooling_never_shortens_below_one_step():
    net = Sequential([Conv1D(2, 3, padding="same"), MaxPooling1D(4), MaxPooling1D(4),
                      AveragePooling1D(4), make_layer("Flatten")])
    assert net.build((3, 1), np.random.RandomState(0), np.float64) == (2,)
    assert [layer.output_shape[0] for layer in net.layers[1:4]] == [1, 1, 1]


def test_same_padded_pooling_is_not_fused_with_the_convolution():
    net = Sequential([Conv1D(2, 3, padding="same"), MaxPooling1D(3, 1, padding="same"),
                      Conv1D(2, 3, padding="same"), MaxPooling1D(4), make_layer("Flatten")])
    net.build((3, 1), np.random.RandomState(0), np.float64)
    assert [step.kind for step in net.plan(training=True)] == ["conv", "layer", "conv", "layer",
                                                                "layer"]


# ------------------------------------------ BatchNormalization's exact statistics
def _bn_nets():
    from sk1dcnn.presets import fcn, inception_time, resnet
    return {
        "fcn": fcn(filters=(4, 6, 4)),
        "resnet": resnet(filters=(3, 4, 4)),
        "inception_time": inception_time(depth=6, filters=2, kernel_sizes=(6, 3, 2),
                                         bottleneck=2),
        "dense_bn": [{"layer": "Conv1D", "filters": 3, "kernel_size": 3, "activation": "relu"},
                     "Flatten", {"layer": "Dense", "units": 4}, "BatchNormalization"],
    }


@pytest.mark.parametrize("name", sorted(_bn_nets()))
@pytest.mark.parametrize("fuse", [True, False])
def test_recomputed_batchnorm_statistics_make_predict_equal_the_training_pass(name, fuse):
    """After recompute_batchnorm_statistics(X), the predict-mode output on X equals the
    training-mode output of X as one batch (each BN normalised by its input's exact mean
    and variance), whatever the chunks; before, the running averages did not."""
    import copy

    net = Sequential([make_layer(s) for s in _bn_nets()[name]]
                     + [make_layer({"layer": "Dense", "units": 2})], fuse=fuse)
    net.build((20, 1), np.random.RandomState(0), np.float64)
    X = np.random.default_rng(0).standard_normal((30, 20, 1)) * 3 + 1
    for start in range(0, 30, 8):  # a few training batches move the running averages
        net.forward(X[start:start + 8], training=True)
    one_batch = copy.deepcopy(net).forward(X, training=True)
    assert np.abs(net.forward(X) - one_batch).max() > 1e-3
    n_bn = len(net.batchnorm_layers())
    assert net.recompute_batchnorm_statistics(X, chunk_size=7) == n_bn
    np.testing.assert_allclose(net.forward(X), one_batch, rtol=1e-10, atol=1e-12)
    snapshot = [a.copy() for a in net._state_arrays()]
    net.recompute_batchnorm_statistics(X, chunk_size=30)  # one chunk: the same statistics
    for a, b in zip(net._state_arrays(), snapshot):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert not any("_c_collect" in vars(bn) for bn in net.batchnorm_layers())


def test_recompute_without_batchnorm_is_a_no_op():
    net = Sequential([Conv1D(2, 3), make_layer("Flatten")])
    net.build((5, 1), np.random.RandomState(0), np.float64)
    assert net.recompute_batchnorm_statistics(np.ones((3, 5, 1))) == 0

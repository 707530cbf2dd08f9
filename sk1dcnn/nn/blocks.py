"""Normalisation and composite blocks: batch normalization, residual and
squeeze-excitation blocks, usable in layer specs like any other layer.

Each block follows the :class:`~sk1dcnn.nn.layers.Layer` protocol. Composite
blocks are built from the engine's own layers (``Conv1D``, ``Dense``,
``Activation``, ``Dropout``) and expose their sub-layers' parameters in one
flat ``params`` dict with prefixed keys (``"conv1_W"``, ``"bn1_gamma"``, ...):
the dict holds the *same* arrays as the sub-layers, so the optimizers'
in-place updates reach them.

References
----------
* S. Ioffe and C. Szegedy, "Batch normalization", ICML 2015.
* K. He, X. Zhang, S. Ren and J. Sun, "Deep residual learning for image
  recognition", CVPR 2016.
* J. Hu, L. Shen and G. Sun, "Squeeze-and-excitation networks", CVPR 2018.
* T. Kim, J. Lee and J. Nam, "Sample-level CNN architectures for music
  auto-tagging using raw waveforms", ICASSP 2018 (the Res-n and ReSE-n blocks).
"""

import numpy as np

from . import ops
from .fast_conv import FastConv
from .layers import Activation, Conv1D, Dense, Dropout, Layer, _check_positive_int, _require_sequence

__all__ = ["BatchNormalization", "ResidualBlock", "SqueezeExcitation", "ReSEBlock", "BLOCKS"]


class BatchNormalization(Layer):
    """Batch normalization over the last (channel) axis (Keras ``BatchNormalization``).

    Works on sequences ``(N, L, C)`` (statistics over samples and time, one per
    channel) and on flat ``(N, D)`` input (one per feature). While training it
    normalises with the batch mean and (biased) variance and updates the
    running statistics; at predict time it uses the running statistics, as
    Keras does.

    The running statistics are bias-corrected exponential averages (as Adam's
    moments): after ``t`` updates, ``moving = sum_i w_i batch_i`` with weights
    ``w_i`` proportional to ``momentum ** (t - i)`` and summing to one, so the
    initial zeros and ones never leak in (Keras' update
    ``moving = momentum * moving + (1 - momentum) * batch`` still holds 5% of
    the initial variance 1.0 after 300 updates at momentum 0.99, which dominates
    a small true variance). :meth:`~sk1dcnn.nn.network.Sequential.recompute_batchnorm_statistics`
    replaces them with the exact statistics of a data set (the estimators do it
    on the training set at the end of ``fit``).

    Parameters
    ----------
    momentum : float, default=0.99
    epsilon : float, default=1e-3
        Added to the variance before the square root.
    center : bool, default=True
        Learn an offset ``beta``.
    scale : bool, default=True
        Learn a scale ``gamma``.

    Attributes
    ----------
    params : dict
        ``gamma`` (ones) and ``beta`` (zeros), in the network's dtype.
    moving_mean, moving_variance : ndarray of float64
        Running statistics (zeros and ones at build); not trained by the
        optimizer and not part of ``params``.
    n_updates : int
        Training batches seen since build (the bias correction's ``t``).

    Notes
    -----
    The running variance is the biased batch variance, as in Keras (PyTorch
    keeps the unbiased one). Because the running statistics are not
    parameters, the optimizer never touches them; ``Sequential.get_weights``/
    ``set_weights`` copy them along with the parameters, so the best-weights
    restore of ``early_stopping`` restores them too.
    """

    penalized = ()
    #: layers pickled before the bias correction keep Keras' plain update
    n_updates = None

    def __init__(self, momentum=0.99, epsilon=1e-3, center=True, scale=True):
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1), got {momentum!r}.")
        if not epsilon > 0:
            raise ValueError(f"BatchNormalization: epsilon must be > 0, got {epsilon!r}.")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)

    def get_config(self):
        cfg = {}
        if self.momentum != 0.99:
            cfg["momentum"] = self.momentum
        if self.epsilon != 1e-3:
            cfg["epsilon"] = self.epsilon
        if not self.center:
            cfg["center"] = False
        if not self.scale:
            cfg["scale"] = False
        return cfg

    def build(self, input_shape, rng, dtype):
        super().build(input_shape, rng, dtype)
        C = self.input_shape[-1]
        self.params = {}
        if self.scale:
            self.params["gamma"] = np.ones(C, dtype=dtype)
        if self.center:
            self.params["beta"] = np.zeros(C, dtype=dtype)
        self.moving_mean = np.zeros(C, dtype=np.float64)
        self.moving_variance = np.ones(C, dtype=np.float64)
        self.n_updates = 0
        return self.output_shape

    def _gamma(self, dtype):
        g = self.params.get("gamma")
        return np.ones(self.input_shape[-1], dtype=dtype) if g is None else g

    # Per-channel vectors are broadcast as (L, C) tiles over the batch on
    # sequences (NumPy runs (F,)-vector broadcasts over (N, L, F) 2-3x slower),
    # and the sums over samples and time are einsum reductions (no reshaped copy
    # of a strided input).
    @staticmethod
    def _tile(v, X):
        return np.tile(v, (X.shape[1], 1)) if X.ndim == 3 else v

    @staticmethod
    def _subscripts(X):
        return ("nlc->c", "nlc,nlc->c") if X.ndim == 3 else ("nc->c", "nc,nc->c")

    def forward(self, X, training=False, rng=None):
        C = X.shape[-1]
        M = X.size // C
        one, two = self._subscripts(X)
        gamma = self._gamma(X.dtype)
        if training:
            mean = np.einsum(one, X) / X.dtype.type(M)
            # reused buffers: fresh arrays of this size are page-faulted in every batch
            Xc = np.subtract(X, self._tile(mean, X), out=self._buffer("xhat", X.shape, X.dtype))
            var = np.einsum(two, Xc, Xc) / X.dtype.type(M)
            inv_std = (1.0 / np.sqrt(var.astype(np.float64) + self.epsilon)).astype(X.dtype)
            self._update_moving(mean, var)
            Xhat = np.multiply(Xc, self._tile(inv_std, X), out=Xc)
        elif "_c_collect" in vars(self):  # recompute_batchnorm_statistics is collecting
            self._c_collect(self, X)
            inv_std = (1.0 / np.sqrt(self.moving_variance + self.epsilon)).astype(X.dtype)
            Xhat = np.subtract(X, self._tile(self.moving_mean.astype(X.dtype), X),
                               out=self._buffer("xhat", X.shape, X.dtype))
            np.multiply(Xhat, self._tile(inv_std, X), out=Xhat)
        else:
            inv_std = (1.0 / np.sqrt(self.moving_variance + self.epsilon)).astype(X.dtype)
            Xhat = np.subtract(X, self._tile(self.moving_mean.astype(X.dtype), X),
                               out=self._buffer("xhat", X.shape, X.dtype))
            np.multiply(Xhat, self._tile(inv_std, X), out=Xhat)
        Y = np.multiply(Xhat, self._tile(gamma, X), out=self._buffer("y", X.shape, X.dtype))
        if self.center:
            np.add(Y, self._tile(self.params["beta"], X), out=Y)
        self._c_xhat = Xhat
        self._c_inv_std = inv_std
        self._c_training = training
        return Y

    def _update_moving(self, mean, var):
        """Move the running statistics towards this batch's (bias-corrected average)."""
        m = self.momentum
        if self.n_updates is None:  # a layer pickled before the correction: Keras' update
            rate = 1.0 - m
        else:
            self.n_updates += 1
            rate = (1.0 - m) / (1.0 - m ** self.n_updates)
        self.moving_mean += rate * (mean - self.moving_mean)
        self.moving_variance += rate * (var - self.moving_variance)

    def backward(self, dY, need_dX=True):
        C = dY.shape[-1]
        M = dY.size // C
        one, two = self._subscripts(dY)
        Xhat = self._c_xhat
        dbeta = np.einsum(one, dY)
        dgamma = np.einsum(two, dY, Xhat)
        if self.scale:
            self.grads["gamma"] = dgamma
        if self.center:
            self.grads["beta"] = dbeta
        if not need_dX:
            return None
        k = self._tile(self._gamma(dY.dtype) * self._c_inv_std, dY)
        if not self._c_training:  # fixed statistics: an affine map
            return dY * k
        # d/dx of gamma * (x - mean) / std with batch mean and variance (Ioffe & Szegedy 2015)
        dX = np.multiply(Xhat, self._tile(dgamma / dY.dtype.type(M), dY),
                         out=self._buffer("dx", dY.shape, dY.dtype))
        np.subtract(dY, dX, out=dX)
        np.subtract(dX, self._tile(dbeta / dY.dtype.type(M), dY), out=dX)
        np.multiply(dX, k, out=dX)
        return dX

    def inference_affine(self, dtype=np.float64):
        """``(scale, shift)`` with ``BN(x) = x * scale + shift`` at predict time."""
        inv_std = 1.0 / np.sqrt(self.moving_variance + self.epsilon)
        scale = self._gamma(np.float64).astype(np.float64) * inv_std
        shift = -self.moving_mean * scale
        if self.center:
            shift = shift + self.params["beta"]
        return scale.astype(dtype), shift.astype(dtype)


class _Composite(Layer):
    """A layer made of named sub-layers; flat params with ``<name>_<key>`` keys.

    Attributes
    ----------
    fuse : bool, default=True
        Run the Conv1D sub-layers through :class:`~sk1dcnn.nn.fast_conv.FastConv`
        (the plain layers when False). A :class:`~sk1dcnn.nn.network.Sequential`
        sets it from its own ``fuse``.
    """

    _parts = {}  # replaced (never mutated) by build
    fuse = True

    def _run(self, name):
        """What runs sub-layer ``name``: the layer, or its FastConv (see ``fuse``)."""
        layer = self._parts[name]
        if not (self.fuse and isinstance(layer, Conv1D)):
            return layer
        runners = self.__dict__.setdefault("_c_runners", {})  # dropped with the caches
        runner = runners.get(name)
        if runner is None or runner.layer is not layer:  # build() makes new sub-layers
            runner = runners[name] = FastConv(layer)
        return runner

    def _sublayers(self):
        """``[(name, layer)]`` of the built sub-layers, in a fixed order."""
        return [(name, layer) for name, layer in self._parts.items() if layer is not None]

    def _collect_params(self):
        self.params = {}
        penalized = []
        for name, layer in self._sublayers():
            for k, v in layer.params.items():
                self.params[f"{name}_{k}"] = v
                if k in layer.penalized:
                    penalized.append(f"{name}_{k}")
        self.penalized = tuple(penalized)

    def _sync_params(self):
        # set_weights and the optimizers change arrays in place; this only
        # matters if someone replaced an array in self.params.
        for name, layer in self._sublayers():
            for k in layer.params:
                layer.params[k] = self.params[f"{name}_{k}"]

    def _collect_grads(self, layers):
        for name in layers:
            layer = self._parts[name]
            for k, v in layer.grads.items():
                self.grads[f"{name}_{k}"] = v

    def flops(self):
        return int(sum(layer.flops() for _, layer in self._sublayers()))

    def clear_cache(self):
        super().clear_cache()
        for _, layer in self._sublayers():
            layer.clear_cache()

    @property
    def sublayers(self):
        """The built sub-layers, ``{name: layer}`` (read-only view for inspection)."""
        return dict(self._sublayers())


class SqueezeExcitation(_Composite):
    """Squeeze-and-excitation: channel-wise rescaling by a learned gate (Hu et al. 2018).

    ``s = mean_t X[:, t, :]``, ``g = sigmoid(W2 relu(W1 s + b1) + b2)``,
    ``Y = X * g`` broadcast over time. Input and output are ``(N, L, C)``.

    Parameters
    ----------
    ratio : float, default=16
        The hidden layer has ``max(1, round(C / ratio))`` units: Hu et al.'s
        reduction ratio. Kim et al. (2018) *amplify* instead (their "amplifying
        ratio" alpha = 16 gives ``16 * C`` units): write ``ratio=1/16``.
    units : int or None, default=None
        Hidden units, overriding ``ratio``.

    Notes
    -----
    Parameter keys: ``dense1_W, dense1_b`` (C x hidden), ``dense2_W, dense2_b``
    (hidden x C), i.e. ``2 * C * hidden + hidden + C`` parameters.
    """

    def __init__(self, ratio=16, units=None):
        super().__init__()
        if not (isinstance(ratio, (int, float, np.integer, np.floating)) and ratio > 0):
            raise ValueError(f"SqueezeExcitation: ratio must be a positive number, got {ratio!r}.")
        self.ratio = ratio
        self.units = None if units is None else _check_positive_int("units", units, "SqueezeExcitation")

    def get_config(self):
        cfg = {"ratio": self.ratio}
        if self.units is not None:
            cfg["units"] = self.units
        return cfg

    def hidden_units(self, channels):
        if self.units is not None:
            return self.units
        return max(1, int(round(channels / self.ratio)))

    def compute_output_shape(self, input_shape):
        _require_sequence(self, input_shape)
        return tuple(input_shape)

    def build(self, input_shape, rng, dtype):
        super().build(input_shape, rng, dtype)
        C = self.input_shape[1]
        self._parts = {
            "dense1": Dense(self.hidden_units(C), activation="relu"),
            "dense2": Dense(C, activation="sigmoid"),
        }
        shape = (C,)
        for layer in self._parts.values():
            shape = layer.build(shape, rng, dtype)
        self._collect_params()
        return self.output_shape

    def forward(self, X, training=False, rng=None):
        self._sync_params()
        s = ops.column_sums(X)  # the squeeze: means over time
        s = np.divide(s, X.shape[1], out=s)
        g = self._parts["dense2"].forward(self._parts["dense1"].forward(s, training, rng),
                                          training, rng)
        self._c_X = X
        self._c_g = g
        return X * g[:, None, :]

    def backward(self, dY, need_dX=True):
        X, g = self._c_X, self._c_g
        dg = np.einsum("nlc,nlc->nc", dY, X)
        ds = self._parts["dense1"].backward(self._parts["dense2"].backward(dg))
        self._collect_grads(("dense1", "dense2"))
        if not need_dX:
            return None
        dX = dY * g[:, None, :]
        dX += (ds * ds.dtype.type(1.0 / X.shape[1]))[:, None, :]
        return dX

    def flops(self):
        C = self.input_shape[1]
        return 4 * C * self.hidden_units(C)


class ResidualBlock(_Composite):
    """Residual block (Res-n of Kim et al. 2018; He et al. 2016 basic block).

    ``conv(k, 'same') -> BN -> ReLU -> [Dropout] -> conv(k, 'same') -> BN``,
    plus the skip connection, then ReLU. The skip is the identity when the
    input already has ``filters`` channels, else a 1x1 convolution followed by
    batch normalization (as in Kim et al.'s code). Pooling is not part of the
    block: follow it with ``MaxPooling1D(3)`` as in the paper.

    Parameters
    ----------
    filters : int
    kernel_size : int, default=3
    dropout : float, default=0.0
        Dropout between the two convolutions (Kim et al. use 0.2).
    activation : str, default='relu'
    momentum, epsilon : float
        Of the batch normalizations.

    Notes
    -----
    The convolutions have no bias: each is followed by batch normalization,
    whose ``beta`` makes a bias redundant. Parameter keys: ``conv1_W``,
    ``bn1_gamma``, ``bn1_beta``, ``conv2_W``, ``bn2_*`` and, with a projection,
    ``skip_W``, ``skip_bn_*``; ``k*C_in*F + k*F*F + 4F`` parameters
    (``+ C_in*F + 2F`` with the projection).
    """

    _se = False

    def __init__(self, filters, kernel_size=3, dropout=0.0, activation="relu", momentum=0.99,
                 epsilon=1e-3):
        super().__init__()
        name = type(self).__name__
        self.filters = _check_positive_int("filters", filters, name)
        self.kernel_size = _check_positive_int("kernel_size", kernel_size, name)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout!r}.")
        self.dropout = float(dropout)
        Activation(activation)  # validates the name
        self.activation = activation
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def get_config(self):
        cfg = {"filters": self.filters, "kernel_size": self.kernel_size}
        if self.dropout:
            cfg["dropout"] = self.dropout
        if self.activation != "relu":
            cfg["activation"] = self.activation
        if self.momentum != 0.99:
            cfg["momentum"] = self.momentum
        if self.epsilon != 1e-3:
            cfg["epsilon"] = self.epsilon
        return cfg

    def compute_output_shape(self, input_shape):
        _require_sequence(self, input_shape)
        return (input_shape[0], self.filters)

    def _make_se(self):
        return None

    def build(self, input_shape, rng, dtype):
        super().build(input_shape, rng, dtype)
        L, C = self.input_shape
        F, k = self.filters, self.kernel_size
        bn = dict(momentum=self.momentum, epsilon=self.epsilon)
        conv = dict(padding="same", use_bias=False, kernel_initializer="he_uniform")
        project = C != F
        self._parts = {
            "conv1": Conv1D(F, k, **conv),
            "bn1": BatchNormalization(**bn),
            "act1": Activation(self.activation),
            "drop": Dropout(self.dropout) if self.dropout else None,
            "conv2": Conv1D(F, k, **conv),
            "bn2": BatchNormalization(**bn),
            "se": self._make_se(),
            "skip": Conv1D(F, 1, use_bias=False, kernel_initializer="glorot_uniform") if project else None,
            "skip_bn": BatchNormalization(**bn) if project else None,
            "act_out": Activation(self.activation),
        }
        shape = self.input_shape
        for name in ("conv1", "bn1", "act1", "drop", "conv2", "bn2", "se"):
            if self._parts[name] is not None:
                shape = self._parts[name].build(shape, rng, dtype)
        if project:
            self._parts["skip_bn"].build(self._parts["skip"].build(self.input_shape, rng, dtype),
                                         rng, dtype)
        self._parts["act_out"].build(self.output_shape, rng, dtype)
        self._collect_params()
        return self.output_shape

    def _main_path(self):
        return [n for n in ("conv1", "bn1", "act1", "drop", "conv2", "bn2", "se")
                if self._parts[n] is not None]

    def forward(self, X, training=False, rng=None):
        self._sync_params()
        H = X
        for name in self._main_path():
            H = self._run(name).forward(H, training, rng)
        if self._parts["skip"] is not None:
            S = self._parts["skip_bn"].forward(self._run("skip").forward(X, training, rng),
                                               training, rng)
        else:
            S = X
        return self._parts["act_out"].forward(H + S, training, rng)

    def backward(self, dY, need_dX=True):
        d = self._parts["act_out"].backward(dY)
        dH = d
        for name in reversed(self._main_path()):
            dH = self._run(name).backward(dH, need_dX=need_dX or name != "conv1")
        names = self._main_path()
        if self._parts["skip"] is not None:
            dS = self._run("skip").backward(self._parts["skip_bn"].backward(d), need_dX=need_dX)
            names += ["skip", "skip_bn"]
        else:
            dS = d
        self._collect_grads(names)
        if not need_dX:
            return None
        return dH + dS


class ReSEBlock(ResidualBlock):
    """Residual block with squeeze-excitation (ReSE-n of Kim, Lee & Nam, ICASSP 2018).

    ``conv -> BN -> ReLU -> [Dropout] -> conv -> BN -> SE`` plus the skip,
    then ReLU: the SE gate rescales the residual branch before the addition.

    Parameters
    ----------
    filters, kernel_size, dropout, activation, momentum, epsilon
        As :class:`ResidualBlock`.
    se_ratio : float, default=16
        :class:`SqueezeExcitation` ``ratio`` (hidden units ``round(filters / se_ratio)``).
        Kim et al.'s amplifying ratio 16 is ``se_ratio=1/16``; their released
        code for MagnaTagATune uses 0.125, i.e. ``se_ratio=8``.

    Notes
    -----
    Parameter keys add ``se_dense1_W, se_dense1_b, se_dense2_W, se_dense2_b``.
    """

    def __init__(self, filters, kernel_size=3, dropout=0.0, activation="relu", momentum=0.99,
                 epsilon=1e-3, se_ratio=16):
        super().__init__(filters, kernel_size, dropout, activation, momentum, epsilon)
        SqueezeExcitation(se_ratio)  # validates
        self.se_ratio = se_ratio

    def get_config(self):
        cfg = super().get_config()
        if self.se_ratio != 16:
            cfg["se_ratio"] = self.se_ratio
        return cfg

    def _make_se(self):
        return SqueezeExcitation(self.se_ratio)




#: Registry of the layer classes defined here, merged into ``make_layer``'s.
BLOCKS = {cls.__name__: cls for cls in (BatchNormalization, ResidualBlock, SqueezeExcitation, ReSEBlock)}

"""CNN1DClassifier and CNN1DRegressor: scikit-learn estimators over the engine.

This module holds parameters, validation, target encoding and the
scikit-learn protocol. The flat parameters become layers in
:mod:`sk1dcnn._architecture`, the epochs run in :mod:`sk1dcnn._training`,
checkpoints are read and written by :mod:`sk1dcnn._checkpoint`, and the
array math lives in :mod:`sk1dcnn.nn`.
"""

import copy
import functools
import numbers
import os
import warnings
from abc import ABCMeta, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import TransformerTags, check_random_state, compute_sample_weight
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, column_or_1d, check_is_fitted, validate_data

from . import _checkpoint
from ._architecture import build_network, predict_chunk_size
from ._training import OptimizerConfig, TrainingConfig, TrainingState, train
from ._validation import check_signal_ndim, to_channels_last
from .nn.activations import ALL_ACTIVATIONS
from .nn.augment import resolve_augment
from .nn.losses import LOSS_ALIASES, LOSS_FUNCTIONS, OUT_ACTIVATIONS, TARGET_ENCODING
from .nn.schedules import SCHEDULES, schedule_arguments
from .presets import PRESETS

__all__ = ["CNN1DClassifier", "CNN1DRegressor"]

#: Engine loss -> ``out_activation_`` (scikit-learn's names for the canonical links).
_OUT_ACTIVATION_NAMES = {
    "categorical_crossentropy": "softmax",
    "binary_crossentropy": "logistic",
    "exponential": "logistic",
    "squared_error": "identity",
    "hinge": "identity",
    "softmax_squared_error": "softmax",
    "sigmoid_squared_error": "logistic",
}


class _BaseCNN1D(BaseEstimator, metaclass=ABCMeta):
    """Shared machinery of the two estimators. Not public."""

    _parameter_constraints: dict = {
        "filters": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "kernel_size": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "strides": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "padding": [StrOptions({"valid", "same", "causal"})],
        "dilation_rate": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "pool": [StrOptions({"max", "avg"}), None],
        "pool_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "global_pool": [StrOptions({"max", "avg", "auto"}), None],
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ALL_ACTIVATIONS))],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "architecture": [list, StrOptions(set(PRESETS)), None],
        "augment": ["boolean", dict, None],
        "solver": [StrOptions({"sgd", "adam"})],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions(set(SCHEDULES))],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "lr_decay_rate": [Interval(numbers.Real, 0, 1, closed="right")],
        "lr_decay_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left"),
                             Options(numbers.Real, {np.inf})],
        "dtype": [StrOptions({"float32", "float64"}), Options(type, {np.float32, np.float64})],
        "clip_norm": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "checkpoint_path": [str, os.PathLike, None],
        "input_scaling": [StrOptions({"per_series", "global"}), None],
    }

    @abstractmethod
    def __init__(self, filters, kernel_size, strides, padding, dilation_rate, pool, pool_size,
                 global_pool, hidden_layer_sizes, activation, dropout, loss, architecture,
                 augment, solver, alpha, batch_size, learning_rate, learning_rate_init,
                 lr_decay_rate, lr_decay_steps, power_t, max_iter, shuffle, random_state, tol,
                 verbose, warm_start, momentum, nesterovs_momentum, early_stopping,
                 validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, dtype,
                 clip_norm, checkpoint_path):
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding
        self.dilation_rate = dilation_rate
        self.pool = pool
        self.pool_size = pool_size
        self.global_pool = global_pool
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.loss = loss
        self.architecture = architecture
        self.augment = augment
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.lr_decay_rate = lr_decay_rate
        self.lr_decay_steps = lr_decay_steps
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype
        self.clip_norm = clip_norm
        self.checkpoint_path = checkpoint_path

    def __setstate__(self, state):
        # models saved before input_scaling existed fed X as it was
        state = {"input_scaling": None, **state}
        super().__setstate__(state)

    # ------------------------------------------------------------------ tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        # transform() returns embeddings, so scikit-learn sees a transformer too
        tags.transformer_tags = TransformerTags(preserves_dtype=["float64"])
        return tags

    # ------------------------------------------------------------ subclass API
    @abstractmethod
    def _encode_targets(self, y, first_fit, classes=None):
        """Targets as the engine wants them, without touching ``self``.

        Returns
        -------
        dict
            ``"Y"``: encoded targets, float (n_samples, n_outputs);
            ``"loss"``: the engine loss (a key of ``LOSS_FUNCTIONS``);
            ``"attributes"``: the target attributes to publish once the fit
            succeeds (e.g. ``classes_``); ``"multilabel"``: bool.
        """

    @abstractmethod
    def _validation_score(self, Z, y_val, targets):
        """Score (higher is better) of raw outputs ``Z`` against original targets.

        ``targets`` is what :meth:`_encode_targets` returned for this fit.
        """

    # ---------------------------------------------------------------- inputs
    def _dtype(self):
        return np.dtype(self.dtype).type

    def _validate_X_y_fit(self, X, y, first):
        """Step 1 of a fit: checked X and y; later fits must keep the channels and length."""
        X = check_signal_ndim(X)
        X, y = validate_data(
            self, X, y, reset=first, allow_nd=True, multi_output=True,
            dtype=(np.float64, np.float32), y_numeric=isinstance(self, RegressorMixin),
            ensure_all_finite="allow-nan",
        )
        _refuse_nan(X, type(self).__name__)
        if X.ndim == 3 and X.shape[2] == 0:
            raise ValueError(f"X has 0 timepoints (shape {X.shape}); signals must have length >= 1.")
        if X.ndim == 3 and X.shape[1] == 0:
            raise ValueError(f"X has 0 channels (shape {X.shape}); signals need at least 1 channel.")
        if not first:
            shape = (X.shape[1], X.shape[2]) if X.ndim == 3 else (1, X.shape[1])
            if X.ndim != self._fit_ndim or shape != (self.n_channels_in_, self.n_timepoints_in_):
                raise ValueError(
                    f"X has shape {X.shape[1:]} per sample, but {type(self).__name__} was fitted "
                    f"on {(self.n_channels_in_, self.n_timepoints_in_)}; warm_start and "
                    f"partial_fit need the same channels and length."
                )
        return X, y

    def _check_X_predict(self, X):
        check_is_fitted(self)
        X = check_signal_ndim(X)
        if not hasattr(X, "ndim") and not hasattr(X, "tocsr"):
            X = np.asarray(X)
        # sparse X: no reshaping; validate_data refuses it below, as fit does
        ndim = None if hasattr(X, "tocsr") else X.ndim
        if ndim == 3 and self._fit_ndim == 2:
            if X.shape[1] != 1:
                raise ValueError(
                    f"X has {X.shape[1]} channels, but {type(self).__name__} was fitted on "
                    f"single-channel 2D signals (n_samples, {self.n_timepoints_in_})."
                )
            X = X[:, 0, :]
        elif ndim == 2 and self._fit_ndim == 3:
            if self.n_channels_in_ != 1:
                raise ValueError(
                    f"X is 2D (single-channel signals), but {type(self).__name__} was fitted "
                    f"on {self.n_channels_in_} channels: expected 3D X of shape "
                    f"(n_samples, {self.n_channels_in_}, {self.n_timepoints_in_})."
                )
            X = X[:, None, :]
        if ndim is not None and X.ndim == 3 and self._fit_ndim == 3:  # 2D X reshaped too
            if X.shape[1] != self.n_channels_in_:
                raise ValueError(
                    f"X has {X.shape[1]} channels, but {type(self).__name__} is expecting "
                    f"{self.n_channels_in_} channels (fitted on shape (n_samples, "
                    f"{self.n_channels_in_}, {self.n_timepoints_in_}))."
                )
            if X.shape[2] != self.n_timepoints_in_:
                raise ValueError(
                    f"X has {X.shape[2]} timepoints, but {type(self).__name__} is expecting "
                    f"{self.n_timepoints_in_} timepoints (fitted on shape (n_samples, "
                    f"{self.n_channels_in_}, {self.n_timepoints_in_})); crop or pad the signals."
                )
        X = validate_data(self, X, reset=False, allow_nd=True, dtype=(np.float64, np.float32),
                          ensure_all_finite="allow-nan")
        _refuse_nan(X, type(self).__name__)
        return X

    def _scale_input(self, X, stats):
        """``input_scaling`` applied to validated X (the signal part only)."""
        if self.input_scaling is None:
            return X
        k = getattr(self, "n_static_features", 0)  # static features are not scaled
        X3 = X if X.ndim == 3 else X[:, None, :]
        T = X3.shape[2] - k
        sig = X3[:, :, :T].astype(np.float64)
        if self.input_scaling == "per_series":
            mean = sig.mean(axis=2, keepdims=True)
            scale = sig.std(axis=2, keepdims=True)
        else:
            mean, scale = stats[0][None, :, None], stats[1][None, :, None]
        scale = np.where(scale > 1e-12 * np.maximum(1.0, np.abs(mean)), scale, 1.0)
        out = np.concatenate([(sig - mean) / scale, X3[:, :, T:]], axis=2)
        out = out.astype(X.dtype, copy=False)
        return out if X.ndim == 3 else out[:, 0, :]

    def _input_stats(self, X):
        """Per-channel mean and std of the training signals (``input_scaling='global'``)."""
        if self.input_scaling != "global":
            return None
        k = getattr(self, "n_static_features", 0)
        X3 = X if X.ndim == 3 else X[:, None, :]
        sig = X3[:, :, :X3.shape[2] - k].astype(np.float64)
        return sig.mean(axis=(0, 2)), sig.std(axis=(0, 2))

    # ----------------------------------------------------------------- fit
    def _fit(self, X, y, sample_weight=None, incremental=False, classes=None):
        """fit (``incremental=False``) and partial_fit, in the numbered steps below.

        Everything is computed on locals and copies: the fitted attributes are
        assigned only once training succeeded, so a failed fit (bad input,
        divergence) leaves the estimator as it was.
        """
        # 1. validate the input
        first = not (incremental or self.warm_start) or not hasattr(self, "network_")
        X, y = self._validate_X_y_fit(X, y, first)
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                             ensure_non_negative=True)
        augment = resolve_augment(self.augment)
        stats = self._input_stats(X) if first else getattr(self, "_input_stats_", None)
        X = self._scale_input(X, stats)
        # 2. encode the targets
        targets = self._encode_targets(y, first, classes)
        sample_weight = self._weigh_samples(sample_weight, y, targets)
        Xc = to_channels_last(X, self._dtype())
        input_shape = Xc.shape[1:]  # (n_timepoints, n_channels), the engine's layout
        fingerprint = None
        if self.checkpoint_path is not None:
            fingerprint = _checkpoint.fingerprint(self.get_params(), Xc, targets["Y"],
                                                  sample_weight)  # before the split
        # 3. the network and training state: new, resumed from a checkpoint, or continued
        if first:
            net, state, rng, resumed_rng = self._initial_state(input_shape, targets, fingerprint)
        else:
            net, state, rng = self._continued_state(incremental)
            resumed_rng = None
        # 4. how to train
        cfg = self._training_config(targets["loss"], Xc.shape[0], incremental, augment)
        # 5. the validation split (early_stopping)
        Y = targets["Y"]
        validation = None
        if cfg.early_stopping:
            Xc, Y, sample_weight, validation = self._split_validation(
                Xc, Y, y, sample_weight, net, targets, rng)
        if resumed_rng is not None:
            rng = resumed_rng  # the split above drew the same numbers as the first run
        # 6. train (a converged checkpoint runs no epoch, but train() restores its best weights)
        train(net, Xc, Y.astype(Xc.dtype, copy=False), sample_weight, cfg, state, rng,
              validation, self._checkpoint_writer(fingerprint))
        if not incremental:  # BatchNormalization: the training set's exact statistics
            net.recompute_batchnorm_statistics(Xc, predict_chunk_size(net, Xc.dtype.itemsize))
        net.clear_cache()
        # 7. success: publish the fitted attributes
        self._publish(net, state, rng, targets, X.ndim, input_shape, cfg.early_stopping)
        self._input_stats_ = stats
        if (not incremental and not state.converged and not state.interrupted
                and state.epoch_of_fit >= self.max_iter):
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.", ConvergenceWarning)
        return self

    def _weigh_samples(self, sample_weight, y, targets):
        """The weights training uses: ``sample_weight`` (the classifier adds class weights)."""
        return sample_weight

    def _loss_kw(self, engine_loss):
        """Keyword arguments of the engine loss (the classifier's ``exp_beta``)."""
        return {}

    def _initial_state(self, input_shape, targets, fingerprint):
        """A new network and training state, or those of a checkpoint to resume.

        Returns ``(net, state, rng, resumed_rng)``; ``resumed_rng`` is the
        checkpoint's generator, to use once the validation split has drawn
        from ``rng`` as the checkpointed fit did (None when not resuming).
        """
        rs = check_random_state(self.random_state)
        seed_rng = np.random.RandomState(rs.randint(np.iinfo(np.int32).max))
        rng = np.random.default_rng(rs.randint(np.iinfo(np.int32).max))
        net = build_network(self.get_params(), input_shape, targets["Y"].shape[1], seed_rng)
        if self.warm_start and self.checkpoint_path is not None:
            ckpt = _checkpoint.read_checkpoint(
                self.checkpoint_path, fingerprint, early_stopping=self.early_stopping,
                random_state=self.random_state, verbose=self.verbose)
            if ckpt is not None:
                return ckpt["net"], ckpt["state"], rng, ckpt["rng"]
        return net, TrainingState(), rng, None

    def _continued_state(self, incremental):
        """Copies of the fitted network, state and generator (warm_start, partial_fit)."""
        net = copy.deepcopy(self.network_)
        state = copy.deepcopy(self._state)
        if not incremental:
            # warm_start: a new optimizer and a fresh convergence test, as in MLP
            state.optimizer = None
            state.no_improvement_count = 0
            state.best_validation_score = -np.inf
            state.best_weights = None
            state.epoch_of_fit = 0
        state.converged = False
        state.interrupted = False
        return net, state, self._rng

    def _training_config(self, engine_loss, n_samples, incremental, augment):
        batch_size = 32 if self.batch_size == "auto" else self.batch_size
        return TrainingConfig(
            loss=engine_loss, loss_kw=self._loss_kw(engine_loss),
            optimizer_config=OptimizerConfig(
                solver=self.solver, momentum=self.momentum,
                nesterovs_momentum=self.nesterovs_momentum, beta_1=self.beta_1,
                beta_2=self.beta_2, epsilon=self.epsilon),
            alpha=self.alpha, batch_size=min(batch_size, n_samples),
            learning_rate=self.learning_rate, learning_rate_init=self.learning_rate_init,
            schedule_kw={name: getattr(self, name)
                         for name in schedule_arguments(self.learning_rate)},
            max_iter=self.max_iter, shuffle=self.shuffle, tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            early_stopping=self.early_stopping and not incremental, augment=augment,
            verbose=bool(self.verbose), incremental=incremental, clip_norm=self.clip_norm,
        )

    def _split_validation(self, Xc, Y, y, sample_weight, net, targets, rng):
        """Hold out ``validation_fraction`` (stratified when every class allows it).

        Returns the training part of ``Xc, Y, sample_weight`` and the
        ``validation() -> (loss, score)`` callable the training loop calls each epoch.
        """
        n = Xc.shape[0]
        if n < 2:
            raise ValueError(f"early_stopping needs at least 2 samples to hold some out; got {n}.")
        stratify = None
        if isinstance(self, ClassifierMixin) and not targets["multilabel"]:
            y1 = np.asarray(y)
            if y1.ndim == 1:
                _, counts = np.unique(y1, return_counts=True)
                n_val = int(np.ceil(self.validation_fraction * n))
                if counts.min() >= 2 and n_val >= len(counts) and n - n_val >= len(counts):
                    stratify = y1
        tr, va = train_test_split(np.arange(n), test_size=self.validation_fraction,
                                  stratify=stratify,
                                  random_state=int(rng.integers(np.iinfo(np.int32).max)))
        X_val, y_val, Y_val = Xc[va], np.asarray(y)[va], Y[va]
        loss_fn = functools.partial(LOSS_FUNCTIONS[targets["loss"]],
                                    **self._loss_kw(targets["loss"]))
        w_val = np.full(len(va), 1.0 / len(va), dtype=Xc.dtype)

        def validation():
            Z = _forward_in_chunks(net, X_val, clear_cache=False)
            if not np.isfinite(Z).all():  # diverged: the training loop says so
                return np.nan, np.nan
            v_loss, _ = loss_fn(Z, Y_val.astype(Z.dtype, copy=False), w_val)
            return v_loss, self._validation_score(Z, y_val, targets)

        return Xc[tr], Y[tr], sample_weight[tr], validation

    def _checkpoint_writer(self, fingerprint):
        """The ``on_epoch_end`` callback that writes ``checkpoint_path``, or None."""
        if self.checkpoint_path is None:
            return None
        path = self.checkpoint_path

        def write(net, state, rng):
            _checkpoint.write_checkpoint(
                path, {"fingerprint": fingerprint, "net": net, "state": state, "rng": rng})

        return write

    def _publish(self, net, state, rng, targets, fit_ndim, input_shape, early_stopping):
        """Last step of a successful fit: assign every fitted attribute."""
        for name, value in targets["attributes"].items():
            setattr(self, name, value)
        self.network_ = net
        self._state = state
        self._rng = rng
        self._fit_ndim = fit_ndim
        self._engine_loss = targets["loss"]
        self.n_timepoints_in_, self.n_channels_in_ = input_shape
        self.n_outputs_ = targets["Y"].shape[1]
        self.n_layers_ = len(net.layers) + 1
        self.out_activation_ = _OUT_ACTIVATION_NAMES[targets["loss"]]
        self.loss_curve_ = list(state.loss_curve)
        self.loss_ = state.loss_curve[-1] if state.loss_curve else np.nan
        self.best_loss_ = state.best_loss if np.isfinite(state.best_loss) else self.loss_
        self.n_iter_ = state.epoch
        self.t_ = state.t
        self.history_ = [dict(r) for r in state.history]
        if early_stopping:
            self.validation_scores_ = list(state.validation_scores)
            self.best_validation_score_ = state.best_validation_score
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None

    # ------------------------------------------------------------- predict
    def _raw_forward(self, X, upto=None):
        X = self._scale_input(self._check_X_predict(X), getattr(self, "_input_stats_", None))
        Xc = to_channels_last(X, self._dtype())
        return _forward_in_chunks(self.network_, Xc, upto=upto)

    def transform(self, X):
        """Embedding: the output of the last hidden layer (before the output layer).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timepoints) or (n_samples, n_channels, n_timepoints)

        Returns
        -------
        ndarray of shape (n_samples, n_embedding)
            With the flat-parameter architecture, ``n_embedding`` is the last entry
            of ``hidden_layer_sizes`` (or the pooled channel count without a dense head).
        """
        E = self._raw_forward(X, upto=len(self.network_.layers) - 1)
        return E.reshape(E.shape[0], -1).astype(np.float64)

    def fit_transform(self, X, y, **fit_params):
        """Fit, then return the embeddings of ``X`` (see :meth:`transform`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timepoints) or (n_samples, n_channels, n_timepoints)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        **fit_params : dict
            Passed to :meth:`fit` (e.g. ``sample_weight``).

        Returns
        -------
        ndarray of shape (n_samples, n_embedding)
        """
        return self.fit(X, y, **fit_params).transform(X)

    def summary(self, input_shape=None, n_outputs=1):
        """Table of layers, output shapes and learnable parameter counts.

        Parameters
        ----------
        input_shape : (n_channels, n_timepoints) or None
            Needed only before ``fit``; a fitted estimator shows its own network.
        n_outputs : int, default=1
            Output units when summarising an unfitted estimator.

        Returns
        -------
        str
        """
        if input_shape is None:
            check_is_fitted(self, msg=(
                "summary() of an unfitted %(name)s needs input_shape=(n_channels, n_timepoints)."))
            return self.network_.summary()
        C, T = input_shape
        net = build_network(self.get_params(), (T, C), n_outputs, np.random.RandomState(0))
        return net.summary()


def _refuse_nan(X, name):
    """Missing values get a named error that points at the transformer that fills them."""
    if not hasattr(X, "dtype") or not np.isnan(X).any():
        return
    rows = np.isnan(X.reshape(X.shape[0], -1)).any(axis=1)
    raise ValueError(
        f"Input X contains NaN: {int(np.isnan(X).sum())} values in {int(rows.sum())} of "
        f"{X.shape[0]} signals. {name} does not accept missing values. For NaN-padded "
        "unequal lengths or gaps, put sk1dcnn.preprocessing.FillMissing() in front of it "
        "(make_pipeline(FillMissing(), estimator)); see docs/results-ucr.md."
    )


def _forward_in_chunks(net, Xc, upto=None, clear_cache=True):
    """Inference on channels-last ``Xc`` in chunks sized by :func:`predict_chunk_size`."""
    chunk = predict_chunk_size(net, Xc.dtype.itemsize)
    outs = []
    for start in range(0, Xc.shape[0], chunk):
        part = Xc[start:start + chunk]
        if len(part) == 1:
            # NumPy runs a one-row product as a matrix-vector product, which rounds
            # differently from the same row inside a batch (matrix-matrix): a sample
            # predicted alone goes through as a batch of two, for identical outputs
            part = np.concatenate([part, part])
            outs.append(net.forward(part, training=False, upto=upto)[:1])
        else:
            outs.append(net.forward(part, training=False, upto=upto))
    if clear_cache:  # not between epochs: training reuses the buffers
        net.clear_cache()
    if not outs:
        return np.empty((0, net.output_shape[0]))
    return np.concatenate(outs, axis=0) if len(outs) > 1 else outs[0]


def _labels_from_scores(Z, classes, multilabel):
    """Raw outputs -> labels: logit 0 (probability 0.5) splits a single output or
    each multilabel output; otherwise the largest output wins."""
    if multilabel:
        return (Z > 0).astype(int)
    if Z.shape[1] == 1:
        return classes[(Z[:, 0] > 0).astype(int)]
    return classes[np.argmax(Z, axis=1)]


class CNN1DClassifier(ClassifierMixin, _BaseCNN1D):
    """1D convolutional neural network classifier.

    A stack of ``Conv1D -> activation -> pooling`` blocks (one per entry of
    ``filters``), a global pooling (or Flatten), a dense head and an output
    layer, trained by minibatch Adam or SGD on the cross-entropy. Accepts
    binary, multiclass (any label type) and multilabel-indicator targets.

    Parameters
    ----------
    filters : int or tuple of int, default=(16, 32, 64)
        Number of filters of each conv block; its length sets the block count.
    kernel_size : int or tuple of int, default=5
        Kernel length, one int for all blocks or one per block.
    strides : int or tuple of int, default=1
        Convolution stride(s).
    padding : {'valid', 'same', 'causal'}, default='same'
        Keras semantics: 'same' pads ``(kernel_size - 1) / 2`` zeros (times the
        dilation) either side, 'causal' pads on the left only.
    dilation_rate : int or tuple of int, default=1
    pool : {'max', 'avg'} or None, default='max'
        Pooling after every conv block, 'valid' windows of ``pool_size`` with
        stride ``pool_size``.
    pool_size : int, default=2
    global_pool : {'auto', 'avg', 'max'} or None, default='auto'
        Reduction over time before the dense head. None flattens, which keeps
        where things happen in the signal (best on aligned beats: see the
        README's measurements) at the cost of a dense layer that grows with the
        length. 'auto' flattens too, but first average-pools a time axis of 32
        positions or more down to 16-31 positions, so the head stays under
        ~0.1 M parameters on series of any length (on short series such as
        heartbeats it is the plain Flatten). 'avg' or 'max' pool over all of
        time (unaligned signals).
    hidden_layer_sizes : tuple of int, default=(64,)
        Dense layers between the convolutional part and the output layer.
    activation : str, default='relu'
        Hidden activation: 'relu', 'relu6', 'softplus', 'leaky_relu', 'prelu',
        'rrelu', 'elu', 'swish', 'sigmoid', 'tanh' or 'identity'.
    dropout : float, default=0.0
        Dropout rate after each dense hidden layer (inverted, off at predict).
    loss : {'log_loss', 'categorical_crossentropy', 'binary_crossentropy', 'squared_error', 'exponential', 'hinge'}, default='log_loss'
        'log_loss' is softmax cross-entropy for multiclass targets and sigmoid
        (binary) cross-entropy for binary and multilabel targets; the two Keras
        names force one or the other. 'squared_error' is the mean squared error
        between the predicted probabilities and the one-hot targets (half the
        Brier score): softmax outputs for multiclass targets, a sigmoid per output
        for binary and multilabel ones, so ``predict_proba`` returns those
        probabilities; bounded per sample, it is less swayed by mislabelled
        series than log loss but learns more slowly from confident mistakes.
        'exponential' (``exp(-exp_beta * y * z)``) and 'hinge' train one-vs-rest
        margins with targets in {-1, 1}; with 'hinge' there is no
        ``predict_proba`` (as in ``SGDClassifier``).
    architecture : list of layer specs, str or None, default=None
        Escape hatch: the hidden layers written out, e.g.
        ``[{"layer": "Conv1D", "filters": 16, "kernel_size": 7, "activation": "relu"},
        {"layer": "MaxPooling1D", "pool_size": 3, "strides": 2}, "GlobalAveragePooling1D"]``,
        or a preset name of :mod:`sk1dcnn.presets`: 'fcn', 'resnet',
        'inception_time' (the deep time-series classification references, see
        docs/architectures.md), 'sample_level', 'sample_level_res',
        'sample_level_rese' (raw-waveform sample-level CNNs). When given, the flat architecture parameters above are ignored; the
        output layer is always added by the estimator.
    augment : bool, dict or None, default=None
        Label-preserving augmentation of each training batch (never at
        predict): True for ``{"time_shift": 0.1, "amplitude_scale": 0.1, "noise": 0.05}``,
        or a dict with any of those keys (shift as a fraction of the length,
        scale and noise standard deviations).
    solver : {'adam', 'sgd'}, default='adam'
    alpha : float, default=1e-4
        L2 penalty on the kernels (not biases), scaled as in ``MLPClassifier``.
    batch_size : int or 'auto', default='auto'
        'auto' is ``min(32, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive', 'step', 'exponential', 'cosine'}, default='constant'
        Schedule over epochs. 'step' multiplies by ``lr_decay_rate`` every
        ``lr_decay_steps`` epochs; 'exponential' decays smoothly at that pace;
        'cosine' anneals to 0 over ``max_iter``; 'adaptive' divides by 5 when
        the loss (or validation score) stalls for ``n_iter_no_change`` epochs.
    learning_rate_init : float, default=1e-3
    lr_decay_rate : float, default=0.5
    lr_decay_steps : int, default=10
    power_t : float, default=0.5
        Exponent of 'invscaling' (``lr0 / (epoch + 1) ** power_t``).
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
    random_state : int, RandomState instance or None, default=None
        Seeds weight init, shuffling, dropout, augmentation and the validation
        split: the same seed and data give identical weights and predictions.
    tol : float, default=1e-3
        Training stops when the loss (or, with ``early_stopping``, the
        validation score) has not improved by ``tol`` for ``n_iter_no_change``
        epochs. 1e-3 (``MLPClassifier``: 1e-4) stops once the training loss
        is down to about 0.01, where more epochs no longer change the
        held-out accuracy: measured on the UCR development panel, see
        docs/results-ucr.md. ``CNN1DRegressor`` keeps 1e-4.
    verbose : bool, default=False
        Print one line per epoch (loss, validation loss and score, rate, seconds).
    warm_start : bool, default=False
    momentum : float, default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` (stratified), stop when the validation
        accuracy has not improved by ``tol`` for ``n_iter_no_change`` epochs,
        and restore the best weights.
    validation_fraction : float, default=0.1
    beta_1, beta_2, epsilon : float
        Adam's parameters.
    n_iter_no_change : int, default=10
    class_weight : dict, 'balanced' or None, default=None
        Multiplies ``sample_weight`` by the class weights (single-output targets).
    exp_beta : float, default=1.0
        The exponential loss's beta, ``exp(-beta * y * z)`` per output (only with
        ``loss='exponential'``); ``predict_proba`` is ``sigmoid(2 * beta * z)``
        (normalised over classes for multiclass y), the loss's minimiser.
    dtype : {'float32', 'float64'}, default='float32'
        Compute precision; float64 is the slower, exact option.
    clip_norm : float or None, default=None
        Rescale each batch's gradients so their global L2 norm is at most this.
    checkpoint_path : str, path-like or None, default=None
        Write the training state (weights, optimizer, counters, random
        generator) to this file after every epoch, atomically. A later ``fit``
        on the same data and parameters with ``warm_start=True`` and no fitted
        state resumes from the last completed epoch and reaches the same
        weights as an uninterrupted fit. A checkpoint written for other data
        or parameters is ignored with a warning.
    input_scaling : {'global', 'per_series'} or None, default='global'
        Scaling of X inside the estimator, at fit and predict (static
        features, if any, are left as they are). 'global' standardises each
        channel with the mean and standard deviation of the training set, so
        the units of the input do not matter and the amplitude differences
        between signals are kept. 'per_series' z-normalises each signal and
        channel on its own (the UCR archive's normalisation; a constant signal
        becomes zeros): use it when each series' offset and scale are
        nuisances. None feeds X as it is. X must not contain NaN: see
        :class:`sk1dcnn.preprocessing.FillMissing`.

    Attributes
    ----------
    classes_ : ndarray
    network_ : Sequential
    n_features_in_ : int
        As set by scikit-learn's ``validate_data``: ``X.shape[1]`` (timepoints
        for 2D X, channels for 3D X).
    n_channels_in_, n_timepoints_in_ : int
    n_outputs_, n_layers_ : int
    out_activation_ : str
    loss_ : float
    loss_curve_ : list of float
    best_loss_ : float
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs run (accumulates over ``warm_start`` and ``partial_fit``).
    t_ : int
        Training samples seen.
    history_ : list of dict
        One record per epoch: epoch, train_loss, valid_loss, valid_score,
        learning_rate, dur (seconds).
    """

    _parameter_constraints: dict = {
        **_BaseCNN1D._parameter_constraints,
        "loss": [StrOptions({"log_loss", "categorical_crossentropy", "binary_crossentropy",
                             "exponential", "hinge", "squared_error"})],
        "exp_beta": [Interval(numbers.Real, 0, None, closed="neither")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(self, filters=(16, 32, 64), kernel_size=5, strides=1, padding="same",
                 dilation_rate=1, pool="max", pool_size=2, global_pool="auto",
                 hidden_layer_sizes=(64,), activation="relu", dropout=0.0, loss="log_loss",
                 architecture=None, augment=None, *, solver="adam", alpha=1e-4,
                 batch_size="auto", learning_rate="constant", learning_rate_init=1e-3,
                 lr_decay_rate=0.5, lr_decay_steps=10, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-3, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 class_weight=None, dtype="float32", clip_norm=None, checkpoint_path=None,
                 exp_beta=1.0, input_scaling="global"):
        super().__init__(
            filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
            dilation_rate=dilation_rate, pool=pool, pool_size=pool_size,
            global_pool=global_pool, hidden_layer_sizes=hidden_layer_sizes,
            activation=activation, dropout=dropout, loss=loss, architecture=architecture,
            augment=augment, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            lr_decay_rate=lr_decay_rate, lr_decay_steps=lr_decay_steps, power_t=power_t,
            max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, dtype=dtype,
            clip_norm=clip_norm, checkpoint_path=checkpoint_path,
        )
        self.class_weight = class_weight
        self.exp_beta = exp_beta
        self.input_scaling = input_scaling

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    # ---- targets
    def _encode_targets(self, y, first_fit, classes=None):
        target_type = type_of_target(y, input_name="y")
        if target_type not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(
                f"Unknown label type: {target_type!r}. CNN1DClassifier supports binary, "
                f"multiclass and multilabel-indicator targets; use CNN1DRegressor for "
                f"continuous targets."
            )
        multilabel = target_type == "multilabel-indicator"
        y = np.asarray(y)
        if not multilabel and y.ndim == 2:
            y = column_or_1d(y, warn=True)
        if first_fit:
            if multilabel:
                classes_ = np.arange(y.shape[1])
            elif classes is not None:
                classes_ = unique_labels(np.asarray(classes))
            else:
                classes_ = unique_labels(y)
            if len(classes_) < 2 and not multilabel:
                raise ValueError(
                    f"CNN1DClassifier needs samples of at least 2 classes in y; got only one "
                    f"class: {classes_.tolist()[0]!r}."
                )
        else:
            classes_ = self.classes_
            if multilabel != self._multilabel:
                raise ValueError("y changed between multilabel and single-label since the first fit.")
        if multilabel:
            if y.shape[1] != len(classes_):
                raise ValueError(f"y has {y.shape[1]} labels, expected {len(classes_)}.")
            Y = (y > 0).astype(np.float64)
        else:
            unseen = np.setdiff1d(np.unique(y), classes_)
            if len(unseen):
                raise ValueError(
                    f"y contains labels not in classes_ {classes_.tolist()}: {unseen.tolist()}."
                    + (" Pass every class to the first partial_fit call with classes=." if not first_fit else "")
                )
            codes = np.searchsorted(classes_, y)
            if len(classes_) == 2:
                Y = (codes == 1).astype(np.float64)[:, None]
            else:
                Y = np.zeros((len(y), len(classes_)))
                Y[np.arange(len(y)), codes] = 1.0
        engine = self._engine_loss_for(Y.shape[1], multilabel)
        if engine == "categorical_crossentropy" and Y.shape[1] == 1:
            Y = np.hstack([1 - Y, Y])  # binary: expand to two softmax outputs
        if TARGET_ENCODING[engine] == "sign":  # {0, 1} indicators -> {-1, 1}
            Y = 2 * Y - 1
        return {"Y": Y, "loss": engine, "multilabel": multilabel,
                "attributes": {"classes_": classes_, "_multilabel": multilabel,
                               "_exp_beta": float(self.exp_beta)}}

    def _weigh_samples(self, sample_weight, y, targets):
        """``sample_weight`` times the ``class_weight`` of each sample's class."""
        if self.class_weight is None:
            return sample_weight
        if targets["multilabel"]:
            raise ValueError("class_weight is not supported for multilabel targets.")
        return sample_weight * compute_sample_weight(self.class_weight, y)

    def _loss_kw(self, engine_loss):
        if engine_loss == "exponential" and self.exp_beta != 1.0:
            return {"beta": float(self.exp_beta)}
        return {}

    def _engine_loss_for(self, n_columns, multilabel):
        """The engine loss of the ``loss`` parameter for these targets."""
        if self.loss == "squared_error":  # on probabilities: softmax, or sigmoid per output
            if n_columns > 1 and not multilabel:
                return "softmax_squared_error"
            return "sigmoid_squared_error"
        if self.loss == "log_loss":
            if n_columns > 1 and not multilabel:
                return "categorical_crossentropy"
            return "binary_crossentropy"
        if self.loss == "categorical_crossentropy" and multilabel:
            raise ValueError("loss='categorical_crossentropy' needs single-label y; multilabel "
                             "targets use 'binary_crossentropy' (or 'log_loss').")
        return self.loss

    def _validation_score(self, Z, y_val, targets):
        pred = _labels_from_scores(Z, targets["attributes"]["classes_"], targets["multilabel"])
        return float(accuracy_score(y_val, pred))

    # ---- public API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to signals ``X`` and labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timepoints) or (n_samples, n_channels, n_timepoints)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multilabel indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch on the given batch of data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timepoints) or (n_samples, n_channels, n_timepoints)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        classes : array-like of shape (n_classes,), default=None
            Every class that will ever appear; required on the first call
            (not for multilabel y).
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        if not hasattr(self, "network_"):
            if classes is None and type_of_target(y) != "multilabel-indicator":
                raise ValueError("classes must be passed on the first call to partial_fit.")
        elif classes is not None and not np.array_equal(unique_labels(np.asarray(classes)), self.classes_):
            raise ValueError(
                f"`classes={np.asarray(classes).tolist()}` is not the same as on the first call "
                f"to partial_fit ({self.classes_.tolist()})."
            )
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict(self, X):
        """Predict class labels (or a label indicator matrix for multilabel y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timepoints) or (n_samples, n_channels, n_timepoints)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
        """
        return _labels_from_scores(self._raw_forward(X), self.classes_, self._multilabel)

    def _has_proba(self):
        return self.loss != "hinge"

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Class probabilities.

        Not available with ``loss='hinge'``, whose margins are not probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timepoints) or (n_samples, n_channels, n_timepoints)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``. For multilabel y, each column is the
            independent probability of that label. One-vs-rest losses
            ('binary_crossentropy' or 'exponential' on multiclass y) are
            normalised so that each row sums to one.
        """
        Z = self._raw_forward(X).astype(np.float64)
        if self._engine_loss == "exponential":  # minimiser log(p / (1 - p)) / (2 beta)
            Z *= getattr(self, "_exp_beta", 1.0)
        P = OUT_ACTIVATIONS[self._engine_loss](Z)
        if self._multilabel:
            return P
        if P.shape[1] == 1:
            return np.hstack([1 - P, P])
        if self._engine_loss in ("exponential", "binary_crossentropy"):
            # one-vs-rest sigmoids -> normalise, in the log domain so that a row
            # whose sigmoids all underflow to 0 still sums to one
            log_p = -np.logaddexp(0.0, -(2.0 if self._engine_loss == "exponential" else 1.0) * Z)
            P = np.exp(log_p - log_p.max(axis=1, keepdims=True))
            P /= P.sum(axis=1, keepdims=True)
        return P

    @available_if(_has_proba)
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timepoints) or (n_samples, n_channels, n_timepoints)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            ``-inf`` where a probability underflows to 0.
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))


class CNN1DRegressor(RegressorMixin, _BaseCNN1D):
    """1D convolutional neural network regressor (squared error, identity output).

    Same architecture and training parameters as :class:`CNN1DClassifier`;
    ``y`` may be 1D or 2D (multi-output). The targets are not rescaled: like
    ``MLPRegressor``, it learns best on standardized ``y`` (wrap it in
    ``sklearn.compose.TransformedTargetRegressor`` with a ``StandardScaler``).

    Parameters
    ----------
    loss : {'squared_error', 'mean_squared_error'}, default='squared_error'
        Half mean squared error (the two names are the same loss).
    global_pool : {'auto', 'avg', 'max'} or None, default=None
        As in :class:`CNN1DClassifier`, whose default is 'auto'.
    input_scaling : {'global', 'per_series'} or None, default=None
        As in :class:`CNN1DClassifier`, whose default is 'global'.

    See :class:`CNN1DClassifier` for the other parameters and the attributes
    (``classes_`` excepted).
    """

    _parameter_constraints: dict = {
        **_BaseCNN1D._parameter_constraints,
        "loss": [StrOptions({"squared_error", "mean_squared_error"})],
    }

    def __init__(self, filters=(16, 32, 64), kernel_size=5, strides=1, padding="same",
                 dilation_rate=1, pool="max", pool_size=2, global_pool=None,
                 hidden_layer_sizes=(64,), activation="relu", dropout=0.0,
                 loss="squared_error", architecture=None, augment=None, *, solver="adam",
                 alpha=1e-4, batch_size="auto", learning_rate="constant",
                 learning_rate_init=1e-3, lr_decay_rate=0.5, lr_decay_steps=10, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, dtype="float32", clip_norm=None, checkpoint_path=None,
                 input_scaling=None):
        super().__init__(
            filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
            dilation_rate=dilation_rate, pool=pool, pool_size=pool_size,
            global_pool=global_pool, hidden_layer_sizes=hidden_layer_sizes,
            activation=activation, dropout=dropout, loss=loss, architecture=architecture,
            augment=augment, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            lr_decay_rate=lr_decay_rate, lr_decay_steps=lr_decay_steps, power_t=power_t,
            max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, dtype=dtype,
            clip_norm=clip_norm, checkpoint_path=checkpoint_path,
        )
        self.input_scaling = input_scaling

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _encode_targets(self, y, first_fit, classes=None):
        y = np.asarray(y, dtype=np.float64)
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        if not first_fit and Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs, but the model was fitted with {self.n_outputs_}.")
        return {"Y": Y, "loss": LOSS_ALIASES.get(self.loss, self.loss), "multilabel": False,
                "attributes": {"_y_ndim": y.ndim if first_fit else self._y_ndim}}

    def _validation_score(self, Z, y_val, targets):
        y_val = np.asarray(y_val, dtype=np.float64)
        pred = Z.astype(np.float64)
        if y_val.ndim == 1:
            pred = pred[:, 0]
        return float(r2_score(y_val, pred))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to signals ``X`` and real-valued targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timepoints) or (n_samples, n_channels, n_timepoints)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch on the given batch of data.

        The first call builds the network; later calls continue its training
        (same channels, length and number of outputs).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timepoints) or (n_samples, n_channels, n_timepoints)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predict targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timepoints) or (n_samples, n_channels, n_timepoints)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            1D when the network was fitted on 1D ``y``.
        """
        Z = self._raw_forward(X).astype(np.float64)
        return Z[:, 0] if self._y_ndim == 1 else Z

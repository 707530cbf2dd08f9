"""The epoch loop: batches, L2 penalty, schedules, early stopping, history.

Knows nothing of scikit-learn estimators: it trains a
:class:`~sk1dcnn.network.Sequential` on encoded arrays and records what
happened in a :class:`TrainingState`, which the estimator keeps between
``warm_start`` fits and ``partial_fit`` calls.
"""

import contextlib
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .nn.augment import apply_augment
from .nn.losses import LOSS_FUNCTIONS
from .nn.optim import AdamOptimizer, SGDOptimizer
from .nn.schedules import scheduled_rate

__all__ = ["TrainingState", "TrainingConfig", "DivergedError", "make_optimizer", "train"]


class DivergedError(ValueError):
    """The training loss became NaN or infinite."""


@dataclass
class TrainingConfig:
    loss: str
    solver: str = "adam"
    alpha: float = 1e-4
    batch_size: int = 32
    learning_rate: str = "constant"
    learning_rate_init: float = 1e-3
    schedule_kw: dict = field(default_factory=dict)
    max_iter: int = 200
    shuffle: bool = True
    tol: float = 1e-4
    n_iter_no_change: int = 10
    early_stopping: bool = False
    augment: dict = field(default_factory=dict)
    verbose: bool = False
    incremental: bool = False  # partial_fit: one epoch, no convergence test
    clip_norm: float = None  # rescale gradients whose global L2 norm exceeds it


@dataclass
class TrainingState:
    """Everything that survives between calls (warm_start, partial_fit)."""

    optimizer: object = None
    epoch: int = 0
    t: int = 0
    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    best_loss: float = np.inf
    best_validation_score: float = -np.inf
    no_improvement_count: int = 0
    best_weights: list = None
    adaptive_lr: float = None
    history: list = field(default_factory=list)
    interrupted: bool = False
    converged: bool = False
    epoch_of_fit: int = 0  # epochs of the current fit() call (resumable)
    last_epoch_weights: list = None


def make_optimizer(params, solver, learning_rate_init, **kw):
    if solver == "sgd":
        return SGDOptimizer(params, learning_rate_init, kw.get("momentum", 0.9),
                            kw.get("nesterovs_momentum", True))
    return AdamOptimizer(params, learning_rate_init, kw.get("beta_1", 0.9),
                         kw.get("beta_2", 0.999), kw.get("epsilon", 1e-8))


def _batches(n, batch_size):
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def train(net, X, Y, w, cfg, state, rng, validation=None, on_epoch_end=None):
    """Run epochs of minibatch training.

    Parameters
    ----------
    net : Sequential
        Built network, trained in place.
    X : ndarray (N, L, C)
    Y : ndarray (N, K)
        Encoded targets.
    w : ndarray (N,)
        Non-negative sample weights.
    cfg : TrainingConfig
    state : TrainingState
        Updated in place.
    rng : numpy.random.Generator
        Shuffling, dropout, augmentation.
    validation : callable or None
        ``validation() -> (valid_loss, valid_score)`` on held-out data; its
        presence turns on early stopping on the validation score.
    on_epoch_end : callable or None
        ``on_epoch_end(net, state, rng)`` after each completed epoch (checkpoints).

    Raises
    ------
    DivergedError
        When the epoch loss is not finite.
    """
    loss_fn = LOSS_FUNCTIONS[cfg.loss]
    params = net.params()
    penalized = net.penalized()
    if state.optimizer is None:
        state.optimizer = make_optimizer(params, cfg.solver, cfg.learning_rate_init,
                                         **cfg.schedule_kw)
    opt = state.optimizer
    if state.adaptive_lr is None:
        state.adaptive_lr = cfg.learning_rate_init
    # max_iter counts all epochs of a fit, so a resumed fit runs only the rest
    n_epochs = 1 if cfg.incremental else max(cfg.max_iter - state.epoch_of_fit, 0)
    if state.converged and not cfg.incremental:
        n_epochs = 0  # resumed from the checkpoint of a finished fit
    state.last_epoch_weights = None  # restore point of this call only
    w_total = float(w.sum())
    if w_total <= 0:
        raise ValueError("sample_weight sums to zero: there is nothing to fit.")

    with _deferred_sigint() as sigint:
        try:
            for _ in range(n_epochs):
                if _run_epoch(net, X, Y, w, w_total, cfg, state, rng, opt, loss_fn, params,
                              penalized, validation, on_epoch_end, sigint):
                    break
        except KeyboardInterrupt:
            # Outside the main thread no handler can defer Ctrl-C: the interrupted
            # batch may be half applied, so go back to the last completed epoch.
            if state.last_epoch_weights is not None:
                net.set_weights(state.last_epoch_weights)
            state.interrupted = True
        if state.interrupted:
            warnings.warn(
                "Training interrupted by user; keeping the best weights learnt so far "
                f"({state.epoch_of_fit} epoch(s) of this fit completed).", UserWarning)
    if validation is not None and state.best_weights is not None:
        net.set_weights(state.best_weights)
    _check_finite_network(net, X, cfg, state)
    state.last_epoch_weights = None  # not worth keeping in the fitted estimator
    return state


def _check_finite_network(net, X, cfg, state):
    """Each epoch's loss is summed before the batches' updates, so the last
    updates of a diverging fit escape it: check the weights and the outputs on
    a few samples, as the fitted estimator will compute them (a few: on long
    signals a whole batch cost 6% of a one-epoch fit)."""
    if all(np.isfinite(p).all() for p in net.params()) and np.isfinite(
            net.forward(X[:min(cfg.batch_size, 8)], training=False)).all():
        return
    last = state.loss_curve[-1] if state.loss_curve else float("nan")
    raise DivergedError(
        f"Training diverged: the network's weights or outputs became infinite or NaN by "
        f"epoch {state.epoch} (last epoch loss {last:g}). Lower learning_rate_init "
        f"(now {cfg.learning_rate_init:g}), e.g. to {cfg.learning_rate_init / 10:g}, "
        f"set clip_norm, or standardize X and y."
    )


def _run_epoch(net, X, Y, w, w_total, cfg, state, rng, opt, loss_fn, params, penalized,
               validation, on_epoch_end, sigint):
    """One epoch; returns True when training must stop."""
    t0 = time.perf_counter()
    if cfg.learning_rate == "adaptive":
        lr = state.adaptive_lr
    else:
        lr = scheduled_rate(cfg.learning_rate, state.epoch, cfg.learning_rate_init,
                            max_iter=cfg.max_iter, **cfg.schedule_kw)
    opt.learning_rate = lr
    n = X.shape[0]
    order = rng.permutation(n) if cfg.shuffle else None
    acc, seen = 0.0, 0.0
    for sl in _batches(n, cfg.batch_size):
        idx = order[sl] if order is not None else sl
        xb, yb, wb = X[idx], Y[idx], w[idx]
        wsum = float(wb.sum())
        if wsum <= 0:
            continue
        if cfg.augment:
            xb = apply_augment(xb, rng, cfg.augment)
        Z = net.forward(xb, training=True, rng=rng)
        loss, dZ = loss_fn(Z, yb, (wb / wsum).astype(Z.dtype, copy=False))
        net.backward(dZ)
        grads = net.grads()
        if cfg.alpha > 0:
            m = xb.shape[0]
            pen = 0.0
            for i, (p, is_pen) in enumerate(zip(params, penalized)):
                if is_pen:
                    pen += float(np.vdot(p, p))
                    grads[i] = grads[i] + (cfg.alpha / m) * p
            loss += 0.5 * cfg.alpha * pen / m
        if cfg.clip_norm is not None:
            norm = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads)))
            if norm > cfg.clip_norm:
                scale = cfg.clip_norm / norm
                grads = [g * scale for g in grads]
        opt.update_params(params, grads)
        state.t += xb.shape[0]
        acc += loss * wsum
        seen += wsum
        if sigint is not None and sigint["hit"]:
            break  # Ctrl-C: stop cleanly at the end of this batch
    interrupted = sigint is not None and sigint["hit"]
    if interrupted and seen == 0:
        state.interrupted = True
        return True
    epoch_loss = acc / (seen if interrupted else w_total)
    if not np.isfinite(epoch_loss):
        raise DivergedError(
            f"Training diverged: the loss became {epoch_loss} at epoch "
            f"{state.epoch + 1} (learning rate {lr:g}). Lower learning_rate_init "
            f"(now {cfg.learning_rate_init:g}), e.g. to {cfg.learning_rate_init / 10:g}, "
            f"set clip_norm, or standardize X and y."
        )
    state.epoch += 1
    state.epoch_of_fit += 1
    state.loss_curve.append(epoch_loss)
    record = {"epoch": state.epoch, "train_loss": epoch_loss,
              "valid_loss": None, "valid_score": None, "learning_rate": lr}
    if validation is not None:
        v_loss, v_score = validation()
        if not np.isfinite(v_loss):
            raise DivergedError(
                f"Training diverged: the validation loss became {v_loss} at epoch "
                f"{state.epoch} (learning rate {lr:g}). Lower learning_rate_init "
                f"(now {cfg.learning_rate_init:g}), e.g. to {cfg.learning_rate_init / 10:g}, "
                f"set clip_norm, or standardize X and y."
            )
        record["valid_loss"] = v_loss
        record["valid_score"] = v_score
        state.validation_scores.append(v_score)
    record["dur"] = time.perf_counter() - t0
    if interrupted:
        record["partial"] = True
    state.history.append(record)
    if cfg.verbose:
        msg = f"Epoch {state.epoch}: train_loss={epoch_loss:.6f}"
        if validation is not None:
            msg += f", valid_loss={record['valid_loss']:.6f}, valid_score={record['valid_score']:.6f}"
        print(msg + f", lr={lr:.3g}, {record['dur']:.2f} s")
    stop = False
    if cfg.incremental:
        state.best_loss = min(state.best_loss, epoch_loss)
    elif _update_no_improvement(state, cfg, net, epoch_loss, validation is not None):
        if cfg.learning_rate == "adaptive" and state.adaptive_lr > 1e-6:
            state.adaptive_lr /= 5.0
            state.no_improvement_count = 0
            if cfg.verbose:
                print(f"Setting learning rate to {state.adaptive_lr:f}")
        else:
            if cfg.verbose:
                what = "Validation score" if validation is not None else "Training loss"
                print(f"{what} did not improve more than tol={cfg.tol} for "
                      f"{cfg.n_iter_no_change} consecutive epochs. Stopping.")
            state.converged = True
            stop = True
    if interrupted:
        state.interrupted = True
        return True
    if sigint is None:  # no deferred Ctrl-C here: keep a restore point
        state.last_epoch_weights = net.get_weights()
    if on_epoch_end is not None:
        on_epoch_end(net, state, rng)
    return stop


@contextlib.contextmanager
def _deferred_sigint():
    """Turn the first Ctrl-C into a flag the batch loop checks (main thread only).

    A second Ctrl-C interrupts at once, as usual.
    """
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    flag = {"hit": False}
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if flag["hit"]:
            raise KeyboardInterrupt
        flag["hit"] = True

    try:
        signal.signal(signal.SIGINT, handler)
    except (ValueError, OSError):  # e.g. embedded interpreters
        yield None
        return
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _update_no_improvement(state, cfg, net, epoch_loss, early_stopping):
    """sklearn's rule: count epochs without a tol improvement; True = stop."""
    if early_stopping:
        score = state.validation_scores[-1]
        if score < state.best_validation_score + cfg.tol:
            state.no_improvement_count += 1
        else:
            state.no_improvement_count = 0
        if score > state.best_validation_score:
            state.best_validation_score = score
            state.best_weights = net.get_weights()
        state.best_loss = min(state.best_loss, epoch_loss)
    else:
        if epoch_loss > state.best_loss - cfg.tol:
            state.no_improvement_count += 1
        else:
            state.no_improvement_count = 0
        if epoch_loss < state.best_loss:
            state.best_loss = epoch_loss
    return state.no_improvement_count > cfg.n_iter_no_change

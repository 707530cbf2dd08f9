"""The epoch loop: batches, L2 penalty, schedules, early stopping, history.

Knows nothing of scikit-learn estimators: it trains a
:class:`~sk1dcnn.nn.network.Sequential` on encoded arrays and records what
happened in a :class:`TrainingState`, which the estimator keeps between
``warm_start`` fits and ``partial_fit`` calls.

Reading order: :func:`train` runs epochs; :func:`_run_epoch` runs the
minibatches of one epoch through :func:`_train_step` (forward, loss,
backward, penalty, clipping, update), then :func:`_end_epoch` (history
record, verbose line, stopping rule, adaptive rate, checkpoint callback).
"""

import contextlib
import functools
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

__all__ = ["TrainingState", "TrainingConfig", "OptimizerConfig", "DivergedError",
           "diverged_error", "make_optimizer", "train"]


class DivergedError(ValueError):
    """The training loss became NaN or infinite."""


def diverged_error(what, value, epoch, detail, learning_rate_init):
    """The one divergence message: what became ``value`` when, and the fixes.

    Parameters
    ----------
    what : str
        What stopped being finite, e.g. "the loss" or "the validation loss".
    value : object
        What it became (nan, inf, or words such as "infinite or NaN").
    epoch : int
        The epoch it happened in (1-based).
    detail : str
        Context in parentheses, e.g. "learning rate 0.1".
    learning_rate_init : float

    Returns
    -------
    DivergedError
        For the caller to raise.
    """
    return DivergedError(
        f"Training diverged: {what} became {value} at epoch {epoch} ({detail}). Lower "
        f"learning_rate_init (now {learning_rate_init:g}), e.g. to {learning_rate_init / 10:g}, "
        f"set clip_norm, or standardize X and y."
    )


@dataclass
class OptimizerConfig:
    """The solver and its own arguments (scikit-learn's names)."""

    solver: str = "adam"
    momentum: float = 0.9  # sgd
    nesterovs_momentum: bool = True  # sgd
    beta_1: float = 0.9  # adam
    beta_2: float = 0.999  # adam
    epsilon: float = 1e-8  # adam


@dataclass
class TrainingConfig:
    """How to train: read-only for the loop, rebuilt by every fit call."""

    loss: str
    loss_kw: dict = field(default_factory=dict)  # the loss's own arguments (exp_beta)
    optimizer_config: OptimizerConfig = field(default_factory=OptimizerConfig)
    alpha: float = 1e-4
    batch_size: int = 32
    learning_rate: str = "constant"  # the schedule's name
    learning_rate_init: float = 1e-3
    schedule_kw: dict = field(default_factory=dict)  # the schedule's own arguments only
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
    """Everything that survives between calls (warm_start, partial_fit).

    Fitted estimators and checkpoints pickle it: keep its import path and fields.
    """

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


@dataclass
class _Run:
    """What the steps and epoch ends of one :func:`train` call share."""

    net: object
    X: np.ndarray
    Y: np.ndarray
    w: np.ndarray
    cfg: TrainingConfig
    state: TrainingState
    rng: np.random.Generator
    validation: object = None  # callable () -> (valid_loss, valid_score), or None
    on_epoch_end: object = None  # callable (net, state, rng), or None
    sigint: dict = None  # {"hit": bool} while Ctrl-C is deferred, else None

    def __post_init__(self):
        self.loss_fn = LOSS_FUNCTIONS[self.cfg.loss]
        if self.cfg.loss_kw:  # e.g. the exponential loss's beta
            self.loss_fn = functools.partial(self.loss_fn, **self.cfg.loss_kw)
        self.params = self.net.params()
        self.penalized = self.net.penalized()
        self.w_total = float(self.w.sum())


def make_optimizer(params, learning_rate_init, cfg):
    """The optimizer ``cfg.solver`` names, over the flat parameter list ``params``."""
    if cfg.solver == "sgd":
        return SGDOptimizer(params, learning_rate_init, cfg.momentum, cfg.nesterovs_momentum)
    return AdamOptimizer(params, learning_rate_init, cfg.beta_1, cfg.beta_2, cfg.epsilon)


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

    Returns
    -------
    TrainingState
        ``state``.

    Raises
    ------
    DivergedError
        When the epoch loss, the validation loss or the final weights are not finite.
    """
    if state.optimizer is None:
        state.optimizer = make_optimizer(net.params(), cfg.learning_rate_init, cfg.optimizer_config)
    if state.adaptive_lr is None:
        state.adaptive_lr = cfg.learning_rate_init
    # max_iter counts all epochs of a fit, so a resumed fit runs only the rest
    n_epochs = 1 if cfg.incremental else max(cfg.max_iter - state.epoch_of_fit, 0)
    if state.converged and not cfg.incremental:
        n_epochs = 0  # resumed from the checkpoint of a finished fit
    state.last_epoch_weights = None  # restore point of this call only
    if float(w.sum()) <= 0:
        raise ValueError("sample_weight sums to zero: there is nothing to fit.")

    with _deferred_sigint() as sigint:
        run = _Run(net, X, Y, w, cfg, state, rng, validation, on_epoch_end, sigint)
        try:
            for _ in range(n_epochs):
                if _run_epoch(run):
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
    raise diverged_error("the network's weights or outputs", "infinite or NaN", state.epoch,
                         f"last epoch loss {last:g}", cfg.learning_rate_init)


def _epoch_rate(cfg, state):
    """The learning rate of the epoch about to run."""
    if cfg.learning_rate == "adaptive":
        return state.adaptive_lr
    return scheduled_rate(cfg.learning_rate, state.epoch, cfg.learning_rate_init,
                          **cfg.schedule_kw)


def _run_epoch(run):
    """One pass over the data in minibatches; returns True when training must stop."""
    t0 = time.perf_counter()
    cfg, state = run.cfg, run.state
    lr = _epoch_rate(cfg, state)
    state.optimizer.learning_rate = lr
    n = run.X.shape[0]
    order = run.rng.permutation(n) if cfg.shuffle else None
    acc, seen = 0.0, 0.0
    for sl in _batches(n, cfg.batch_size):
        idx = order[sl] if order is not None else sl
        wb = run.w[idx]
        wsum = float(wb.sum())
        if wsum <= 0:
            continue
        loss = _train_step(run, run.X[idx], run.Y[idx], wb, wsum)
        acc += loss * wsum
        seen += wsum
        if run.sigint is not None and run.sigint["hit"]:
            break  # Ctrl-C: stop cleanly at the end of this batch
    interrupted = run.sigint is not None and run.sigint["hit"]
    if interrupted and seen == 0:
        state.interrupted = True
        return True
    # an interrupted epoch's loss is the mean over the batches it ran
    epoch_loss = acc / (seen if interrupted else run.w_total)
    return _end_epoch(run, lr, epoch_loss, t0, interrupted)


def _train_step(run, xb, yb, wb, wsum):
    """One minibatch: forward, loss, backward, L2 penalty, clipping, update.

    ``wsum`` is ``wb.sum()``. Returns the batch's loss (penalty included).
    """
    cfg, net = run.cfg, run.net
    if cfg.augment:
        xb = apply_augment(xb, run.rng, cfg.augment)
    Z = net.forward(xb, training=True, rng=run.rng)
    loss, dZ = run.loss_fn(Z, yb, (wb / wsum).astype(Z.dtype, copy=False))
    net.backward(dZ)
    grads = net.grads()
    m = xb.shape[0]
    if cfg.alpha > 0:
        loss += _add_l2_penalty(grads, run.params, run.penalized, cfg.alpha, m)
    if cfg.clip_norm is not None:
        grads = _clip_gradients(grads, cfg.clip_norm)
    run.state.optimizer.update_params(run.params, grads)
    run.state.t += m
    return loss


def _add_l2_penalty(grads, params, penalized, alpha, m):
    """Add ``alpha / m * p`` to the penalized parameters' gradients (in ``grads``);
    return the penalty ``alpha / 2 * sum(|p|^2) / m`` (scikit-learn's scaling)."""
    pen = 0.0
    for i, (p, is_pen) in enumerate(zip(params, penalized)):
        if is_pen:
            pen += float(np.vdot(p, p))
            grads[i] = grads[i] + (alpha / m) * p
    return 0.5 * alpha * pen / m


def _clip_gradients(grads, clip_norm):
    """Rescale ``grads`` so that their global L2 norm is at most ``clip_norm``."""
    norm = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads)))
    if norm > clip_norm:
        scale = clip_norm / norm
        return [g * scale for g in grads]
    return grads


def _end_epoch(run, lr, epoch_loss, t0, interrupted):
    """Record the epoch, apply the stopping rule, call back; True when training must stop."""
    state, cfg = run.state, run.cfg
    if not np.isfinite(epoch_loss):
        raise diverged_error("the loss", epoch_loss, state.epoch + 1, f"learning rate {lr:g}",
                             cfg.learning_rate_init)
    state.epoch += 1
    state.epoch_of_fit += 1
    state.loss_curve.append(epoch_loss)
    record = {"epoch": state.epoch, "train_loss": epoch_loss,
              "valid_loss": None, "valid_score": None, "learning_rate": lr}
    if run.validation is not None:
        v_loss, v_score = run.validation()
        if not np.isfinite(v_loss):
            raise diverged_error("the validation loss", v_loss, state.epoch,
                                 f"learning rate {lr:g}", cfg.learning_rate_init)
        record["valid_loss"] = v_loss
        record["valid_score"] = v_score
        state.validation_scores.append(v_score)
    record["dur"] = time.perf_counter() - t0
    if interrupted:
        record["partial"] = True
    state.history.append(record)
    if cfg.verbose:
        print(_epoch_line(record))
    stop = _stopping_rule(run, epoch_loss)
    if interrupted:
        state.interrupted = True
        return True
    if run.sigint is None:  # no deferred Ctrl-C here: keep a restore point
        state.last_epoch_weights = run.net.get_weights()
    if run.on_epoch_end is not None:
        run.on_epoch_end(run.net, state, run.rng)
    return stop


def _epoch_line(record):
    """The verbose line of one epoch's history record."""
    msg = f"Epoch {record['epoch']}: train_loss={record['train_loss']:.6f}"
    if record["valid_loss"] is not None:
        msg += f", valid_loss={record['valid_loss']:.6f}, valid_score={record['valid_score']:.6f}"
    return msg + f", lr={record['learning_rate']:.3g}, {record['dur']:.2f} s"


def _stopping_rule(run, epoch_loss):
    """After ``n_iter_no_change`` epochs without progress, divide an adaptive rate
    by 5 (while it is above 1e-6) or stop; True = stop. partial_fit never stops."""
    state, cfg = run.state, run.cfg
    if cfg.incremental:
        state.best_loss = min(state.best_loss, epoch_loss)
        return False
    early_stopping = run.validation is not None
    if not _update_no_improvement(state, cfg, run.net, epoch_loss, early_stopping):
        return False
    if cfg.learning_rate == "adaptive" and state.adaptive_lr > 1e-6:
        state.adaptive_lr /= 5.0
        state.no_improvement_count = 0
        if cfg.verbose:
            print(f"Setting learning rate to {state.adaptive_lr:f}")
        return False
    if cfg.verbose:
        what = "Validation score" if early_stopping else "Training loss"
        print(f"{what} did not improve more than tol={cfg.tol} for "
              f"{cfg.n_iter_no_change} consecutive epochs. Stopping.")
    state.converged = True
    return True


def _update_no_improvement(state, cfg, net, epoch_loss, early_stopping):
    """sklearn's rule: count epochs without a tol improvement; True = stalled.

    With ``early_stopping`` the validation score is monitored and the best
    weights are kept; otherwise the training loss.
    """
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

"""The epoch loop: batches, L2 penalty, schedules, early stopping, history.

Knows nothing of scikit-learn estimators: it trains a
:class:`~sk1dcnn.nn.network.Sequential` on encoded arrays and records what
happened in a :class:`TrainingState`, which the estimator keeps between
``warm_start`` fits and ``partial_fit`` calls.

Reading order: :func:`train` runs epochs; :func:`_run_epoch` runs the
minibatches of one epoch through :func:`_train_step` (forward, loss,
backward, penalty, clipping, update), then :func:`_end_epoch` (history
record, verbose line, stopping rule, adaptive rate, checkpoint callback).

Progress (``verbose``): one line per epoch, ``Epoch 3/200: ..., ETA 1:40``,
and within an epoch that runs longer than a few seconds a batch counter
(:class:`_BatchProgress`): one line rewritten with ``\r`` on a terminal,
a line every ``_LOG_EVERY_S`` seconds otherwise. It only reads the clock:
no random numbers, so a verbose fit is the same fit.
"""

import contextlib
import functools
import signal
import sys
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
    """The training loss became NaN or infinite, or exploded (see ``EXPLODED``)."""


#: An epoch loss this many times the fit's first batch loss (the untrained
#: network's) is divergence too, though finite: Adam at learning_rate_init=1e6
#: reached 6.6e11 on ECG200 and predicted one class with p = 1.0.
EXPLODED = 1e6


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
    verbose: int = 0  # 1: a line per epoch (+ batches of slow epochs); 2: batches from the start
    incremental: bool = False  # partial_fit: one epoch, no convergence test
    clip_norm: float = None  # rescale gradients whose global L2 norm exceeds it
    n_static: int = 0  # trailing static-feature columns: never augmented


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
        self.t_start = _clock()  # for the ETA: this call's epochs so far
        self.epochs_done = 0
        self.first_loss = None  # of this call's first batch, before any update


#: The clock of durations and progress (tests replace it with a fake one).
_clock = time.perf_counter
#: In-epoch progress starts once an epoch has run this long (verbose=1) ...
_SHOW_AFTER_S = 2.0
#: ... and is redrawn at most this often on a terminal,
_REDRAW_EVERY_S = 0.2
#: or written as a new line at most this often elsewhere (logs, notebooks' files).
_LOG_EVERY_S = 10.0


def format_duration(seconds):
    """``0:07``, ``12:34`` or ``1:02:03`` (hours only when needed)."""
    seconds = int(round(max(float(seconds), 0.0)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _is_tty(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class _BatchProgress:
    """The batch counter of one epoch, Keras-style.

    Silent until the epoch has run ``after_s`` seconds; then, on a terminal, one
    line ``  37/94 [=========>..........] 0:12 elapsed, ETA 0:18, loss 0.4321``
    redrawn with ``\r`` (cleared when the epoch ends, before its epoch line);
    elsewhere the same text as a new line every ``_LOG_EVERY_S`` seconds.
    """

    WIDTH = 20

    def __init__(self, n_batches, label, after_s):
        self.n_batches = n_batches
        self.label = label
        self.after_s = after_s
        self.stream = sys.stdout
        self.tty = _is_tty(self.stream)
        self.t0 = _clock()
        self.last = None  # when the last line was drawn
        self.drawn = 0  # length of the line on a terminal

    def update(self, done, loss):
        now = _clock()
        elapsed = now - self.t0
        if elapsed < self.after_s or done >= self.n_batches:
            return
        every = _REDRAW_EVERY_S if self.tty else _LOG_EVERY_S
        if self.last is not None and now - self.last < every:
            return
        self.last = now
        eta = elapsed / done * (self.n_batches - done)
        width = len(str(self.n_batches))
        filled = self.WIDTH * done // self.n_batches
        bar = "=" * filled + (">" if filled < self.WIDTH else "") + "." * (self.WIDTH - filled - 1)
        text = (f"{self.label}, batch {done:>{width}}/{self.n_batches} [{bar}] {format_duration(elapsed)} "
                f"elapsed, ETA {format_duration(eta)}, loss {loss:.4f}")
        if self.tty:
            self.stream.write("\r" + text.ljust(self.drawn))
            self.drawn = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self):
        """Clear the terminal line so that the epoch line replaces it."""
        if self.tty and self.drawn:
            self.stream.write("\r" + " " * self.drawn + "\r")
            self.stream.flush()


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
        When the epoch loss, the validation loss or the final weights are not
        finite, or the epoch loss exceeds ``EXPLODED`` times the first batch's.
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

    # overflow on the way to divergence: the DivergedError below says it once, clearly
    with _deferred_sigint() as sigint, np.errstate(over="ignore", invalid="ignore"):
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
    t0 = _clock()
    cfg, state = run.cfg, run.state
    lr = _epoch_rate(cfg, state)
    state.optimizer.learning_rate = lr
    n = run.X.shape[0]
    order = run.rng.permutation(n) if cfg.shuffle else None
    acc, seen = 0.0, 0.0
    progress = None
    if cfg.verbose:
        progress = _BatchProgress(-(-n // cfg.batch_size), _epoch_label(cfg, state.epoch_of_fit + 1),
                                  0.0 if cfg.verbose >= 2 else _SHOW_AFTER_S)
    for i, sl in enumerate(_batches(n, cfg.batch_size)):
        idx = order[sl] if order is not None else sl
        wb = run.w[idx]
        wsum = float(wb.sum())
        if wsum <= 0:
            continue
        loss = _train_step(run, run.X[idx], run.Y[idx], wb, wsum)
        if run.first_loss is None:
            run.first_loss = loss
        acc += loss * wsum
        seen += wsum
        if progress is not None:
            progress.update(i + 1, acc / seen)
        if run.sigint is not None and run.sigint["hit"]:
            break  # Ctrl-C: stop cleanly at the end of this batch
    if progress is not None:
        progress.close()
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
        if cfg.n_static:  # the signal only; the static features stay as they are
            L = xb.shape[1] - cfg.n_static
            xb = np.concatenate([apply_augment(xb[:, :L], run.rng, cfg.augment), xb[:, L:]], axis=1)
        else:
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
    if run.first_loss is not None and run.first_loss > 0 and epoch_loss > EXPLODED * run.first_loss:
        raise diverged_error("the loss", f"{epoch_loss:.3g}, over {EXPLODED:g} times its first "
                             f"value {run.first_loss:.3g},", state.epoch + 1,
                             f"learning rate {lr:g}", cfg.learning_rate_init)
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
    record["dur"] = _clock() - t0
    if interrupted:
        record["partial"] = True
    state.history.append(record)
    run.epochs_done += 1
    if cfg.verbose:
        print(_epoch_line(record, _epoch_label(cfg, state.epoch_of_fit), _eta(run)))
    stop = _stopping_rule(run, epoch_loss)
    if interrupted:
        state.interrupted = True
        return True
    if run.sigint is None:  # no deferred Ctrl-C here: keep a restore point
        state.last_epoch_weights = run.net.get_weights()
    if run.on_epoch_end is not None:
        run.on_epoch_end(run.net, state, run.rng)
    return stop


def _epoch_label(cfg, epoch_of_fit):
    """``Epoch 3/200`` (this fit's epochs of ``max_iter``); ``Epoch 3`` for partial_fit."""
    if cfg.incremental:
        return f"Epoch {epoch_of_fit}"
    return f"Epoch {epoch_of_fit}/{cfg.max_iter}"


def _eta(run):
    """Time left if every remaining epoch of ``max_iter`` runs (None for partial_fit)."""
    if run.cfg.incremental:
        return None
    remaining = max(run.cfg.max_iter - run.state.epoch_of_fit, 0)
    return (_clock() - run.t_start) / run.epochs_done * remaining


def _epoch_line(record, label, eta=None):
    """The verbose line of one epoch's history record."""
    msg = f"{label}: train_loss={record['train_loss']:.6f}"
    if record["valid_loss"] is not None:
        msg += f", valid_loss={record['valid_loss']:.6f}, valid_score={record['valid_score']:.6f}"
    msg += f", lr={record['learning_rate']:.3g}, {record['dur']:.2f} s"
    return msg if eta is None else msg + f", ETA {format_duration(eta)}"


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

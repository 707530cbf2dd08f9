"""Learning-rate schedules: ``f(epoch, lr0, <its own arguments>) -> lr`` for the epoch about to run.

Each schedule takes only the arguments it uses (:func:`schedule_arguments`
lists them), so a misrouted argument is a TypeError, not silently ignored.

'adaptive' is not a function of the epoch: the training loop divides the rate by
5 each time the monitored loss stalls for ``n_iter_no_change`` epochs, as
scikit-learn's MLP does, and stops once it falls below 1e-6.
"""

import inspect
import math

__all__ = ["SCHEDULES", "schedule_arguments", "scheduled_rate"]


def constant(epoch, lr0):
    """``lr0`` at every epoch."""
    return lr0


def invscaling(epoch, lr0, power_t=0.5):
    """``lr0 / (epoch + 1) ** power_t``."""
    # sklearn applies it per sample seen; per epoch is the CNN convention
    return lr0 / (epoch + 1) ** power_t


def step(epoch, lr0, lr_decay_rate=0.5, lr_decay_steps=10):
    """Multiply by ``lr_decay_rate`` every ``lr_decay_steps`` epochs."""
    return lr0 * lr_decay_rate ** (epoch // lr_decay_steps)


def exponential(epoch, lr0, lr_decay_rate=0.5, lr_decay_steps=10):
    """Smooth decay: ``lr0 * rate ** (epoch / steps)`` (Keras ``ExponentialDecay``)."""
    return lr0 * lr_decay_rate ** (epoch / lr_decay_steps)


def cosine(epoch, lr0, max_iter=200):
    """Cosine annealing to zero over ``max_iter`` epochs (Loshchilov & Hutter 2017)."""
    return 0.5 * lr0 * (1 + math.cos(math.pi * min(epoch, max_iter) / max_iter))


SCHEDULES = {
    "constant": constant,
    "adaptive": constant,
    "invscaling": invscaling,
    "step": step,
    "exponential": exponential,
    "cosine": cosine,
}


def schedule_arguments(name):
    """Names of the arguments schedule ``name`` takes besides ``epoch`` and ``lr0``.

    They are estimator parameters of the same names, e.g. ``('power_t',)`` for
    'invscaling'.
    """
    return tuple(inspect.signature(SCHEDULES[name]).parameters)[2:]


def scheduled_rate(name, epoch, lr0, **schedule_kw):
    """The rate of schedule ``name`` at ``epoch``; ``schedule_kw`` are its own arguments."""
    return SCHEDULES[name](epoch, lr0, **schedule_kw)

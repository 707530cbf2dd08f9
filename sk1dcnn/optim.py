"""Stochastic optimizers over flat parameter lists (scikit-learn's protocol).

``update_params(params, grads)`` changes the arrays in place; the learning rate
is an attribute the training loop sets from a schedule each epoch.
"""

import numpy as np

__all__ = ["SGDOptimizer", "AdamOptimizer"]


class SGDOptimizer:
    """SGD with momentum and optional Nesterov momentum (sklearn's update rule).

    ``v <- momentum * v - lr * g``; the step is ``v`` (heavy ball) or
    ``momentum * v - lr * g`` (Nesterov).
    """

    def __init__(self, params, learning_rate_init=0.1, momentum=0.9, nesterov=True):
        self.learning_rate = float(learning_rate_init)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.velocities = [np.zeros_like(p) for p in params]
        self.t = 0

    def update_params(self, params, grads):
        self.t += 1
        lr, mom = self.learning_rate, self.momentum
        for p, g, v in zip(params, grads, self.velocities):
            v *= mom
            v -= lr * g
            if self.nesterov:
                p += mom * v - lr * g
            else:
                p += v


class AdamOptimizer:
    """Adam (Kingma & Ba 2015) with the bias correction folded into the rate."""

    def __init__(self, params, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.learning_rate = float(learning_rate_init)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.t = 0
        self.ms = [np.zeros_like(p) for p in params]
        self.vs = [np.zeros_like(p) for p in params]

    def update_params(self, params, grads):
        """One Adam step, in place, with two reused scratch arrays per parameter.

        Same operations in the same order as
        ``m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= step m / (sqrt(v) + eps)``,
        so the result is bitwise that of the plain expression, without its
        five temporaries per parameter.
        """
        self.t += 1
        b1, b2 = self.beta_1, self.beta_2
        step = self.learning_rate * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        scratch = self.__dict__.get("_scratch")
        if scratch is None or len(scratch) != len(self.ms) or any(
                a.shape != m.shape or a.dtype != m.dtype for (a, _), m in zip(scratch, self.ms)):
            # step is a NumPy float64: the plain expression computes step * m / ...
            # in float64 before the in-place subtraction; the second scratch
            # array keeps that precision
            scratch = self._scratch = [(np.empty_like(m), np.empty(m.shape, np.result_type(step, m)))
                                       for m in self.ms]
        for p, g, m, v, (s1, s2) in zip(params, grads, self.ms, self.vs, scratch):
            np.multiply(g, 1 - b1, out=s1)
            m *= b1
            m += s1
            np.multiply(g, g, out=s1)
            s1 *= 1 - b2
            v *= b2
            v += s1
            np.sqrt(v, out=s1)
            s1 += self.epsilon
            np.multiply(m, step, out=s2)
            s2 /= s1
            p -= s2

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_scratch", None)  # scratch space, not state
        return state

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
        self.t += 1
        b1, b2 = self.beta_1, self.beta_2
        step = self.learning_rate * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        for p, g, m, v in zip(params, grads, self.ms, self.vs):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            p -= (step * m) / (np.sqrt(v) + self.epsilon)

"""Static (per-example) features beside a signal: split them off the input, join them after the convolutions.

A network input ``(N, T + k, C)`` carries a signal of ``T`` timepoints and, in
its last ``k`` timepoints of channel 0, ``k`` static features (e.g. RR
intervals of a heartbeat); the last ``k`` timepoints of the other channels are
ignored. :class:`SplitStatic`, the first layer, passes the signal ``(N, T, C)``
on; :class:`JoinStatic`, placed after the layer that turns the sequence into a
vector (Flatten or global pooling), appends the static features to that vector:
``(N, D) -> (N, D + k)``, so the dense head sees both.

The two layers find each other through :func:`link_static`, which
:class:`~sk1dcnn.nn.network.Sequential` calls before every forward pass: the
link lives in the per-pass caches (``_c_`` attributes), so pickles and copies
hold no reference between layers.
"""

import numpy as np

from .layers import Layer

__all__ = ["JoinStatic", "SplitStatic", "link_static"]


def _check_k(n_static):
    if isinstance(n_static, (bool, np.bool_)) or not isinstance(n_static, (int, np.integer)) or n_static < 1:
        raise ValueError(f"n_static must be a positive integer, got {n_static!r}.")
    return int(n_static)


class _StaticLayer(Layer):
    """What both static-feature layers hold: the number ``k`` of static features."""

    def __init__(self, n_static):
        super().__init__()
        self.n_static = _check_k(n_static)

    def get_config(self):
        return {"n_static": self.n_static}


class SplitStatic(_StaticLayer):
    """First layer: ``(N, T + k, C) -> (N, T, C)``, keeping ``X[:, T:, 0]`` as the static features.

    Parameters
    ----------
    n_static : int
        Number of static features ``k`` at the end of channel 0.
    """

    def compute_output_shape(self, input_shape):
        L, C = input_shape
        if L - self.n_static < 1:
            raise ValueError(
                f"n_static_features={self.n_static} leaves no timepoint of signal: each "
                f"input has {L} columns; X must have the signal's timepoints, then the "
                f"{self.n_static} static features."
            )
        return (L - self.n_static, C)

    def forward(self, X, training=False, rng=None):
        T = X.shape[1] - self.n_static
        self._c_static = np.ascontiguousarray(X[:, T:, 0])
        self._c_static_grad = None
        self._c_shape = X.shape
        return np.ascontiguousarray(X[:, :T, :])

    @property
    def static(self):
        """The static features ``(N, k)`` of the last forward pass."""
        return self._c_static

    def backward(self, dY, need_dX=True):
        if not need_dX:
            return None
        dX = np.zeros(self._c_shape, dtype=dY.dtype)
        T = dY.shape[1]
        dX[:, :T, :] = dY
        g = self.__dict__.get("_c_static_grad")
        if g is not None:
            dX[:, T:, 0] = g
        return dX


class JoinStatic(_StaticLayer):
    """``(N, D) -> (N, D + k)``: appends the static features that :class:`SplitStatic` split off.

    Parameters
    ----------
    n_static : int
        Number of static features ``k`` (the same as its SplitStatic's).
    """

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(
                f"JoinStatic needs a vector input (after Flatten or global pooling), "
                f"got shape {tuple(input_shape)}."
            )
        return (input_shape[0] + self.n_static,)

    def _split(self):
        split = self.__dict__.get("_c_split")
        if split is None:
            raise RuntimeError("JoinStatic has no SplitStatic: run it inside a Sequential "
                               "whose first layer is a SplitStatic (see link_static).")
        return split

    def forward(self, X, training=False, rng=None):
        static = self._split().static
        if static.shape[0] != X.shape[0]:
            raise RuntimeError(f"JoinStatic got {X.shape[0]} samples but {static.shape[0]} "
                               "static feature rows.")
        return np.concatenate([X, static.astype(X.dtype, copy=False)], axis=1)

    def backward(self, dY, need_dX=True):
        D = dY.shape[1] - self.n_static
        self._split()._c_static_grad = dY[:, D:]
        return dY[:, :D]


def link_static(layers):
    """Point every :class:`JoinStatic` in ``layers`` at the :class:`SplitStatic` before it.

    Parameters
    ----------
    layers : list of Layer

    Raises
    ------
    ValueError
        If a JoinStatic has no SplitStatic before it, or their ``n_static`` differ.
    """
    split = None
    for layer in layers:
        if isinstance(layer, SplitStatic):
            split = layer
        elif isinstance(layer, JoinStatic):
            if split is None:
                raise ValueError("JoinStatic needs a SplitStatic earlier in the network.")
            if split.n_static != layer.n_static:
                raise ValueError(f"JoinStatic(n_static={layer.n_static}) follows "
                                 f"SplitStatic(n_static={split.n_static}).")
            layer.__dict__["_c_split"] = split

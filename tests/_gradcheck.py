"""Finite-difference gradient checks shared by the engine and block tests."""

import numpy as np

EPS = 1e-6
RTOL, ATOL = 1e-6, 1e-8


def numerical_grad(f, x, eps=EPS):
    """Central differences of the scalar f() w.r.t. every entry of x (changed in place)."""
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        fp = f()
        x[i] = old - eps
        fm = f()
        x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


def check_layer(layer, X, training=False, seed=None, rtol=RTOL, atol=ATOL):
    """Compare backward() and layer.grads with finite differences of sum(Y * R)."""
    X = np.array(X, dtype=np.float64)

    def forward():
        rng = None if seed is None else np.random.default_rng(seed)
        return layer.forward(X, training, rng)

    Y = forward()
    R = np.random.default_rng(123).standard_normal(Y.shape)
    dX = np.array(layer.backward(R), copy=True)
    grads = {k: np.array(v, copy=True) for k, v in layer.grads.items()}
    assert set(grads) == set(layer.params), (sorted(grads), sorted(layer.params))

    def loss():
        return float(np.sum(forward() * R))

    assert dX.shape == X.shape
    np.testing.assert_allclose(dX, numerical_grad(loss, X), rtol=rtol, atol=atol,
                               err_msg="input gradient")
    for k, p in layer.params.items():
        assert grads[k].shape == p.shape, k
        np.testing.assert_allclose(grads[k], numerical_grad(loss, p), rtol=rtol, atol=atol,
                                   err_msg=f"gradient of {k}")
    return Y


def build(layer, input_shape, seed=0):
    layer.build(input_shape, np.random.RandomState(seed), np.float64)
    return layer


def randomize_params(layer, seed=1):
    """Non-zero biases and distinct slopes so no gradient is trivially zero."""
    rng = np.random.default_rng(seed)
    for k, p in layer.params.items():
        if k == "b":
            p[...] = rng.standard_normal(p.shape)
        elif k.endswith("alpha"):
            p[...] = rng.uniform(0.05, 0.5, p.shape)
    return layer

"""The two reference workloads of issue 6: data, sk1dcnn layer specs, PyTorch twins.

Both frameworks get the same float32 data (channels-first, as users give it)
and the same networks, BatchNorm after workload B's first convolution included
(Keras conventions in sk1dcnn: momentum 0.99, epsilon 1e-3; PyTorch's twin gets
momentum 0.01 and eps 1e-3, the same update).
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Workload:
    name: str
    title: str
    n_samples: int
    n_timepoints: int
    n_classes: int
    architecture: list
    batch_size: int = 64
    notes: list = field(default_factory=list)

    def make_data(self, seed=0, n_samples=None, n_timepoints=None):
        return make_data(n_samples or self.n_samples, n_timepoints or self.n_timepoints,
                         self.n_classes, seed)


def make_data(n_samples, n_timepoints, n_classes, seed=0):
    """Synthetic labelled signals (N, 1, T) float32: a class-dependent tone in noise.

    One in four signals ends in a run of zeros (as zero-padded heartbeats do),
    so max-pooling meets exact ties, the case the engine's tie rule is built for.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n_samples)
    t = np.arange(n_timepoints, dtype=np.float32) / n_timepoints
    freq = (2.0 + 3.0 * y)[:, None].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, (n_samples, 1)).astype(np.float32)
    X = np.sin(2 * np.pi * freq * t[None, :] + phase)
    X += 0.5 * rng.standard_normal((n_samples, n_timepoints), dtype=np.float32)
    padded = rng.random(n_samples) < 0.25
    cut = int(n_timepoints * 0.8)
    X[padded, cut:] = 0.0
    return np.ascontiguousarray(X[:, None, :], dtype=np.float32), y


def _conv(filters, kernel_size, **kw):
    return dict(layer="Conv1D", filters=filters, kernel_size=kernel_size, activation="relu", **kw)


WORKLOAD_A = Workload(
    name="A",
    title="ECG beats",
    n_samples=8192,
    n_timepoints=187,
    n_classes=5,
    architecture=[
        _conv(32, 5, padding="same"),
        dict(layer="MaxPooling1D", pool_size=2),
        _conv(64, 5, padding="same"),
        dict(layer="MaxPooling1D", pool_size=2),
        _conv(128, 5, padding="same"),
        "GlobalAveragePooling1D",
        dict(layer="Dense", units=64, activation="relu"),
        dict(layer="Dropout", rate=0.2),
        # the output Dense(5) is added by the estimator
    ],
)

WORKLOAD_B = Workload(
    name="B",
    title="raw audio",
    n_samples=512,
    n_timepoints=8000,
    n_classes=10,
    architecture=(
        [dict(layer="Conv1D", filters=64, kernel_size=3, strides=3, padding="valid"),
         "BatchNormalization", dict(layer="Activation", activation="relu")]
        + [spec for _ in range(4)
           for spec in (_conv(128, 3, padding="same"), dict(layer="MaxPooling1D", pool_size=3))]
        + ["GlobalMaxPooling1D"]
        # the output Dense(10) is added by the estimator
    ),
    notes=["BatchNorm after the first convolution in both frameworks; sk1dcnn folds it "
           "into the convolution at predict time."],
)

WORKLOADS = {"A": WORKLOAD_A, "B": WORKLOAD_B}


# --------------------------------------------------------------------- PyTorch
def torch_model(workload):
    """The same network in PyTorch (channels-first, as PyTorch wants it)."""
    import torch.nn as nn

    class GlobalAvg(nn.Module):
        def forward(self, x):
            return x.mean(dim=2)

    class GlobalMax(nn.Module):
        def forward(self, x):
            return x.amax(dim=2)

    if workload.name == "A":
        return nn.Sequential(
            nn.Conv1d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(64, 128, 5, padding=2), nn.ReLU(), GlobalAvg(),
            nn.Linear(128, 64), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(64, workload.n_classes),
        )
    if workload.name == "B":
        layers = [nn.Conv1d(1, 64, 3, stride=3), nn.BatchNorm1d(64, eps=1e-3, momentum=0.01),
                  nn.ReLU()]
        c_in = 64
        for _ in range(4):
            layers += [nn.Conv1d(c_in, 128, 3, padding=1), nn.ReLU(), nn.MaxPool1d(3)]
            c_in = 128
        layers += [GlobalMax(), nn.Linear(128, workload.n_classes)]
        return nn.Sequential(*layers)
    raise ValueError(workload.name)


def copy_weights_to_torch(network, model):
    """Copy a fitted sk1dcnn network's weights into its PyTorch twin.

    Conv1D kernels are (K, C_in, F) in sk1dcnn and (F, C_in, K) in PyTorch;
    Dense weights are (D, U) vs (U, D). Global pooling outputs (N, C) in both.
    """
    import torch
    import torch.nn as nn

    from sk1dcnn.nn.blocks import BatchNormalization
    from sk1dcnn.nn.layers import Conv1D, Dense

    bns = [layer for layer in network.layers if isinstance(layer, BatchNormalization)]
    their_bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    if len(bns) != len(their_bns):
        raise ValueError(f"{len(bns)} BatchNormalization layers vs {len(their_bns)} in PyTorch")
    with torch.no_grad():
        for layer, mod in zip(bns, their_bns):
            mod.weight.copy_(torch.from_numpy(layer.params["gamma"]))
            mod.bias.copy_(torch.from_numpy(layer.params["beta"]))
            mod.running_mean.copy_(torch.from_numpy(layer.moving_mean.astype(np.float32)))
            mod.running_var.copy_(torch.from_numpy(layer.moving_variance.astype(np.float32)))
    ours = [layer for layer in network.layers if isinstance(layer, (Conv1D, Dense))]
    theirs = [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]
    if len(ours) != len(theirs):
        raise ValueError(f"{len(ours)} weighted layers vs {len(theirs)} in PyTorch")
    with torch.no_grad():
        for layer, mod in zip(ours, theirs):
            W = layer.params["W"]
            if isinstance(layer, Conv1D):
                mod.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.transpose(2, 1, 0))))
            else:
                mod.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            mod.bias.copy_(torch.from_numpy(layer.params["b"]))

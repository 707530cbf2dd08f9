"""The benchmark's workloads build through the public API (no PyTorch needed).

Timing lives in ``python -m benchmarks``; this only guards the definitions:
the networks of issue 6 with the FLOP counts given there.
"""

import warnings

import numpy as np
import pytest

from benchmarks.workloads import WORKLOADS
from sk1dcnn import CNN1DClassifier


@pytest.mark.parametrize("name, n_layers, train_mflop", [("A", 9, 17.2), ("B", 13, 773)])
def test_workload_builds_with_the_issue_flops(name, n_layers, train_mflop):
    w = WORKLOADS[name]
    X, _ = w.make_data(seed=0, n_samples=w.n_classes * 2)
    y = np.arange(len(X)) % w.n_classes  # every class present
    assert X.shape == (w.n_classes * 2, 1, w.n_timepoints) and X.dtype == np.float32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = CNN1DClassifier(architecture=w.architecture, batch_size=w.batch_size, max_iter=1,
                              alpha=0.0, random_state=0).fit(X, y)
    net = clf.network_
    assert len(net.layers) == n_layers
    assert net.output_shape == (w.n_classes,)
    assert 3 * net.flops() / 1e6 == pytest.approx(train_mflop, rel=0.01)
    P = clf.predict_proba(X)
    assert P.shape == (len(X), w.n_classes)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-5)

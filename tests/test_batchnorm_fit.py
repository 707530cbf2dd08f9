"""BatchNormalization after fit: predict-time statistics are the training set's own.

Right after ``fit``, ``predict`` on the training data agrees with the training-mode
forward pass of the whole training set (each BN normalising with its input's mean and
variance over the training set), for the reference presets on small data; with Keras'
running averages (momentum 0.99, no bias correction) a short fit left them far off.
"""

import copy

import numpy as np
import pytest
from scipy.special import softmax

from sk1dcnn import CNN1DClassifier
from sk1dcnn._validation import to_channels_last
from sk1dcnn.presets import fcn, inception_time, resnet

SMALL = {
    "fcn": fcn(filters=(4, 6, 4)),
    "resnet": resnet(filters=(3, 4, 4)),
    "inception_time": inception_time(depth=3, filters=2, kernel_sizes=(6, 3, 2), bottleneck=2),
}


def _data():
    rng = np.random.default_rng(0)
    y = np.arange(24) % 3
    t = np.linspace(0, 1, 30)
    X = np.sin(2 * np.pi * (y[:, None] + 1) * t) + 0.3 * rng.standard_normal((24, 30))
    return 0.05 * X + 2.0, y  # small variance, far from the initial statistics (0, 1)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", sorted(SMALL))
def test_predict_on_the_training_set_equals_the_training_mode_pass(name):
    X, y = _data()
    est = CNN1DClassifier(architecture=SMALL[name], max_iter=5, batch_size=8, random_state=0,
                          dtype="float64").fit(X, y)
    net = copy.deepcopy(est.network_)
    Xs = est._scale_input(X, est._input_stats_)  # what the network saw (input_scaling)
    Z = net.forward(to_channels_last(Xs, np.float64), training=True)  # all 24 as one batch
    np.testing.assert_allclose(est.predict_proba(X), softmax(Z, axis=1), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(est.predict(X), est.classes_[Z.argmax(axis=1)])


def test_partial_fit_keeps_the_bias_corrected_running_averages():
    """partial_fit sees one batch of a stream and recomputes nothing. With one whole-data
    batch and a negligible step, the bias-corrected averages after one update are that
    batch's statistics, i.e. the exact ones (Keras' update would give 0.01 of them plus
    0.99 of the initial 0 and 1)."""
    X, y = _data()
    est = CNN1DClassifier(architecture=SMALL["fcn"], batch_size=24, random_state=0,
                          dtype="float64", solver="sgd", learning_rate_init=1e-12, alpha=0.0,
                          input_scaling=None)  # X's own small variance reaches the first BN
    est.partial_fit(X, y, classes=[0, 1, 2])
    bns = est.network_.batchnorm_layers()
    assert [bn.n_updates for bn in bns] == [1, 1, 1]
    running = [(bn.moving_mean.copy(), bn.moving_variance.copy()) for bn in bns]
    exact = copy.deepcopy(est.network_)
    exact.recompute_batchnorm_statistics(to_channels_last(X, np.float64))
    for (mean, var), bn in zip(running, exact.batchnorm_layers()):
        np.testing.assert_allclose(mean, bn.moving_mean, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(var, bn.moving_variance, rtol=1e-6)
    assert running[0][1].max() < 0.5  # the first layer sees a small variance: far from 1.0

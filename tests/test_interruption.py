"""Long fits survive interruption: Ctrl-C and exploding gradients.

(A killed process resumed from its checkpoint: tests/test_checkpoint.py.)
"""

import signal
import sys
import threading
import warnings

import numpy as np
import pytest

import sk1dcnn._training as training
from sk1dcnn import CNN1DClassifier, CNN1DRegressor
from sk1dcnn.datasets import load_ucr

PARAMS = dict(filters=(8, 16), kernel_size=5, hidden_layer_sizes=(16,), learning_rate_init=3e-3,
              random_state=0, tol=0.0)

needs_signals = pytest.mark.skipif(
    sys.platform == "win32" or threading.current_thread() is not threading.main_thread(),
    reason="POSIX signals, handled in the main thread")


@pytest.fixture(scope="module")
def ecg200():
    return load_ucr("ECG200")


def _ctrl_c_after_step(monkeypatch, n_step, n_signals=1):
    """Press Ctrl-C ``n_signals`` times right after training step ``n_step`` (1-based).

    The signal is raised synchronously inside fit, so its handler runs there and
    then: no timer, and nothing can reach the test after fit returns.
    """
    step = training._train_step
    calls = []

    def step_then_ctrl_c(*args):
        loss = step(*args)
        calls.append(1)
        if len(calls) == n_step:
            for _ in range(n_signals):
                signal.raise_signal(signal.SIGINT)
        return loss

    monkeypatch.setattr(training, "_train_step", step_then_ctrl_c)
    return calls


@needs_signals
def test_ctrl_c_stops_after_the_batch_and_keeps_a_usable_model(ecg200, monkeypatch):
    X_train, y_train, X_test, _ = ecg200
    clf = CNN1DClassifier(**PARAMS, max_iter=500, batch_size=8)
    # 100 beats in batches of 8: 13 steps per epoch; step 16 is the third of epoch 2
    calls = _ctrl_c_after_step(monkeypatch, 16)
    with pytest.warns(UserWarning, match=r"Training interrupted by user; keeping the best "
                                         r"weights learnt so far \(2 epoch\(s\) of this fit"):
        clf.fit(X_train, y_train)
    assert len(calls) == 16  # it stopped right after the batch it was in
    assert clf.n_iter_ == 2 and clf.t_ == 100 + 3 * 8
    assert clf.history_[-1].get("partial") is True  # it stopped inside an epoch
    assert "partial" not in clf.history_[0]
    proba = clf.predict_proba(X_test)
    assert np.isfinite(proba).all()
    # the handler is gone: Ctrl-C means KeyboardInterrupt again outside fit
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@needs_signals
def test_a_second_ctrl_c_interrupts_at_once(ecg200, monkeypatch):
    X_train, y_train, X_test, _ = ecg200
    clf = CNN1DClassifier(**PARAMS, max_iter=500, batch_size=8)
    calls = _ctrl_c_after_step(monkeypatch, 16, n_signals=2)
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        clf.fit(X_train, y_train)
    assert len(calls) == 16
    assert clf.n_iter_ == 1 and len(clf.history_) == 1  # the epoch cut short is not recorded
    assert np.isfinite(clf.predict_proba(X_test)).all()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_clip_norm_tames_a_diverging_fit(ecg200):
    X_train, _, X_test, _ = ecg200
    y = X_train.max(axis=1) * 1e3
    params = dict(filters=(8,), hidden_layer_sizes=(8,), max_iter=3, solver="sgd",
                  learning_rate_init=1.0, momentum=0.0, random_state=0)
    with pytest.raises(ValueError, match="Training diverged"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            CNN1DRegressor(**params).fit(X_train, y)
    reg = CNN1DRegressor(**params, clip_norm=1.0).fit(X_train, y)
    assert np.isfinite(reg.predict(X_test)).all()

"""Long fits survive interruption: Ctrl-C, a killed process, exploding gradients."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest

from sk1dcnn import CNN1DClassifier, CNN1DRegressor
from sk1dcnn.datasets import load_ucr

PARAMS = dict(filters=(8, 16), kernel_size=5, hidden_layer_sizes=(16,), learning_rate_init=3e-3,
              random_state=0, tol=0.0)


@pytest.fixture(scope="module")
def ecg200():
    return load_ucr("ECG200")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_after_the_batch_and_keeps_a_usable_model(ecg200):
    X_train, y_train, X_test, _ = ecg200
    X = np.tile(X_train, (20, 1))  # 2000 beats: an epoch lasts long enough to interrupt
    y = np.tile(y_train, 20)
    clf = CNN1DClassifier(**PARAMS, max_iter=500, batch_size=8)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.warns(UserWarning, match="Training interrupted by user"):
            clf.fit(X, y)
    finally:
        timer.cancel()
    assert 1 <= clf.n_iter_ < 500
    assert clf.history_[-1].get("partial") is True  # it stopped inside an epoch
    proba = clf.predict_proba(X_test)
    assert np.isfinite(proba).all()
    # the handler is gone: Ctrl-C means KeyboardInterrupt again outside fit
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_checkpoint_resume_after_kill_matches_uninterrupted_fit(tmp_path, ecg200, capsys):
    """Kill a real process mid-fit, resume with warm_start=True: same weights."""
    ckpt = tmp_path / "fit.ckpt"
    max_iter = 12
    script = textwrap.dedent(f"""
        import numpy as np, time
        from sk1dcnn import CNN1DClassifier
        from sk1dcnn.datasets import load_ucr
        import sk1dcnn._training as tr
        X, y, _, _ = load_ucr("ECG200")
        original = tr._run_epoch
        def slow_epoch(*args, **kwargs):
            out = original(*args, **kwargs)
            time.sleep(0.3)  # leave time to be killed between epochs
            return out
        tr._run_epoch = slow_epoch
        CNN1DClassifier(**{PARAMS!r}, max_iter={max_iter}, early_stopping=True,
                        n_iter_no_change=100, checkpoint_path={str(ckpt)!r}).fit(X, y)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        import pickle
        deadline = time.time() + 120
        epochs = 0
        while time.time() < deadline:
            if ckpt.exists():
                try:
                    epochs = pickle.loads(ckpt.read_bytes())["state"].epoch_of_fit
                except Exception:
                    epochs = 0
                if epochs >= 3:
                    break
            if proc.poll() is not None:
                break
            time.sleep(0.02)
        proc.kill()
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert 3 <= epochs < max_iter, "the process should be killed mid-fit"

    X_train, y_train, X_test, _ = ecg200
    params = dict(**PARAMS, max_iter=max_iter, early_stopping=True, n_iter_no_change=100)
    resumed = CNN1DClassifier(**params, warm_start=True, checkpoint_path=ckpt, verbose=True)
    with warnings.catch_warnings():
        # the checkpoint must be accepted, not ignored as foreign
        warnings.filterwarnings("error", message="Checkpoint .* was written for other data")
        resumed.fit(X_train, y_train)
    out = capsys.readouterr().out
    assert f"Resuming from {str(ckpt)!r} after epoch {epochs}" in out
    assert out.count("Epoch ") == max_iter - epochs  # only the remaining epochs ran
    straight = CNN1DClassifier(**params).fit(X_train, y_train)
    assert resumed.n_iter_ == straight.n_iter_ == max_iter
    for a, b in zip(resumed.network_.params(), straight.network_.params()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(resumed.validation_scores_, straight.validation_scores_)
    np.testing.assert_array_equal(resumed.predict_proba(X_test), straight.predict_proba(X_test))


def test_checkpoint_for_other_data_is_ignored_with_a_warning(tmp_path, ecg200):
    X_train, y_train, _, _ = ecg200
    ckpt = tmp_path / "c.ckpt"
    CNN1DClassifier(**PARAMS, max_iter=2, checkpoint_path=ckpt).fit(X_train, y_train)
    assert ckpt.exists()
    with pytest.warns(UserWarning, match="was written for other data or parameters"):
        CNN1DClassifier(**PARAMS, max_iter=2, warm_start=True,
                        checkpoint_path=ckpt).fit(X_train[:50], y_train[:50])


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


def test_resuming_a_finished_early_stopped_fit_restores_its_best_weights(tmp_path, ecg200):
    X_train, y_train, X_test, _ = ecg200
    params = dict(**PARAMS, max_iter=60, early_stopping=True, n_iter_no_change=2)
    ckpt = tmp_path / "done.ckpt"
    straight = CNN1DClassifier(**params, checkpoint_path=ckpt).fit(X_train, y_train)
    assert straight.n_iter_ < 60  # it stopped early: the checkpoint is of a converged fit
    resumed = CNN1DClassifier(**params, warm_start=True, checkpoint_path=ckpt).fit(X_train, y_train)
    np.testing.assert_array_equal(resumed.predict_proba(X_test), straight.predict_proba(X_test))


def test_resume_with_early_stopping_needs_an_int_random_state(tmp_path, ecg200):
    X_train, y_train, _, _ = ecg200
    ckpt = tmp_path / "r.ckpt"
    params = {**PARAMS, "random_state": None, "max_iter": 2, "early_stopping": True}
    CNN1DClassifier(**params, checkpoint_path=ckpt).fit(X_train, y_train)
    with pytest.warns(UserWarning, match="only reproducible with an int random_state"):
        CNN1DClassifier(**params, warm_start=True, checkpoint_path=ckpt).fit(X_train, y_train)

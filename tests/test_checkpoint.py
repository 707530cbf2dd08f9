"""Checkpoints (sk1dcnn._checkpoint and ``checkpoint_path``): atomic writes,
fingerprints, the warnings of a checkpoint that cannot be resumed, and a
killed fit resumed to the same weights as an uninterrupted one."""

import pickle
import queue
import subprocess
import sys
import textwrap
import threading
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from sk1dcnn import CNN1DClassifier
from sk1dcnn._checkpoint import fingerprint, read_checkpoint, write_checkpoint
from sk1dcnn.datasets import load_ucr

PARAMS = dict(filters=(8, 16), kernel_size=5, hidden_layer_sizes=(16,), learning_rate_init=3e-3,
              random_state=0, tol=0.0)


@pytest.fixture(scope="module")
def ecg200():
    return load_ucr("ECG200")


# ------------------------------------------------------------ the module
def test_write_is_atomic_and_a_failed_write_keeps_the_last_checkpoint(tmp_path):
    path = tmp_path / "a.ckpt"
    write_checkpoint(path, {"state": 1})
    write_checkpoint(str(path), {"state": 2})
    assert pickle.loads(path.read_bytes()) == {"state": 2}
    with pytest.raises(Exception):  # a lambda does not pickle
        write_checkpoint(path, {"state": lambda: 3})
    assert pickle.loads(path.read_bytes()) == {"state": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ckpt"]  # no temporary file left


def test_fingerprint_follows_data_and_parameters_but_not_verbosity_or_paths():
    X, Y, w = np.zeros((4, 5, 1)), np.ones((4, 1)), np.ones(4)
    params = CNN1DClassifier(**PARAMS).get_params()
    ref = fingerprint(params, X, Y, w)
    same = {**params, "verbose": True, "warm_start": True, "checkpoint_path": "elsewhere"}
    assert fingerprint(same, X, Y, w) == ref
    assert fingerprint({**params, "max_iter": 7}, X, Y, w) != ref
    assert fingerprint(params, X + 1, Y, w) != ref
    assert fingerprint(params, X, 1 - Y, w) != ref
    assert fingerprint(params, X, Y, 2 * w) != ref


def test_read_checkpoint(tmp_path, capsys):
    path = tmp_path / "r.ckpt"
    kw = dict(early_stopping=False, random_state=0, verbose=False)
    assert read_checkpoint(path, "fp", **kw) is None  # nothing to resume
    state = SimpleNamespace(epoch_of_fit=4)
    write_checkpoint(path, {"fingerprint": "fp", "state": state})
    assert read_checkpoint(path, "fp", **kw)["state"].epoch_of_fit == 4
    with pytest.warns(UserWarning, match=r"Checkpoint '.*r\.ckpt' was written for other data or "
                                         r"parameters; starting a new fit \(it will be overwritten\)"):
        assert read_checkpoint(path, "other", **kw) is None
    with pytest.warns(UserWarning, match="only reproducible with an int random_state"):
        assert read_checkpoint(path, "fp", **{**kw, "early_stopping": True,
                                              "random_state": None}) is None
    read_checkpoint(path, "fp", **{**kw, "verbose": True})
    assert capsys.readouterr().out == f"Resuming from {str(path)!r} after epoch 4\n"


# ------------------------------------------------------- with the estimator
def _wait_for_line(proc, prefix, timeout):
    """The first line of ``proc``'s stdout that starts with ``prefix``; fails loudly
    when the process ends or ``timeout`` seconds pass first."""
    lines = queue.Queue()

    def read():
        for line in proc.stdout:
            if line.startswith(prefix):
                lines.put(line)
                return
        lines.put(None)  # end of output: the process ended

    threading.Thread(target=read, daemon=True).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        pytest.fail(f"no {prefix!r} line from the fitting process within {timeout} s")
    if line is None:
        pytest.fail(f"the fitting process ended (code {proc.wait()}) before printing {prefix!r}")
    return line


def test_checkpoint_resume_after_kill_matches_uninterrupted_fit(tmp_path, ecg200, capsys):
    """Kill a real process mid-fit, resume with warm_start=True: same weights.

    The process reports on a pipe once the checkpoint of epoch ``kill_after``
    is on disk, then waits to be killed: the kill lands at a known epoch.
    """
    ckpt = tmp_path / "fit.ckpt"
    max_iter, kill_after = 12, 3
    script = textwrap.dedent(f"""
        import time
        import sk1dcnn._checkpoint as checkpoint
        from sk1dcnn import CNN1DClassifier
        from sk1dcnn.datasets import load_ucr
        X, y, _, _ = load_ucr("ECG200")
        write = checkpoint.write_checkpoint
        def write_then_report(path, payload):
            write(path, payload)
            if payload["state"].epoch_of_fit == {kill_after}:
                print("checkpointed", {kill_after}, flush=True)
                time.sleep(600)  # until killed
        checkpoint.write_checkpoint = write_then_report
        CNN1DClassifier(**{PARAMS!r}, max_iter={max_iter}, early_stopping=True,
                        n_iter_no_change=100, checkpoint_path={str(ckpt)!r}).fit(X, y)
    """)
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                stderr=err, text=True)
        try:
            _wait_for_line(proc, "checkpointed", timeout=300)
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
    epochs = pickle.loads(ckpt.read_bytes())["state"].epoch_of_fit
    assert epochs == kill_after < max_iter, "the process should be killed mid-fit"

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


def test_checkpoint_is_written_after_every_epoch(tmp_path, ecg200, monkeypatch):
    import sk1dcnn._checkpoint as checkpoint

    X_train, y_train, _, _ = ecg200
    written = []
    write = checkpoint.write_checkpoint

    def spy(path, payload):
        write(path, payload)
        written.append((path, payload["state"].epoch_of_fit, sorted(payload)))

    monkeypatch.setattr(checkpoint, "write_checkpoint", spy)
    ckpt = tmp_path / "e.ckpt"
    CNN1DClassifier(**PARAMS, max_iter=3, checkpoint_path=ckpt).fit(X_train, y_train)
    assert written == [(ckpt, e, ["fingerprint", "net", "rng", "state"]) for e in (1, 2, 3)]


def test_checkpoint_for_other_data_is_ignored_with_a_warning(tmp_path, ecg200):
    X_train, y_train, _, _ = ecg200
    ckpt = tmp_path / "c.ckpt"
    CNN1DClassifier(**PARAMS, max_iter=2, checkpoint_path=ckpt).fit(X_train, y_train)
    assert ckpt.exists()
    with pytest.warns(UserWarning, match="was written for other data or parameters"):
        CNN1DClassifier(**PARAMS, max_iter=2, warm_start=True,
                        checkpoint_path=ckpt).fit(X_train[:50], y_train[:50])


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

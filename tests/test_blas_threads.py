"""n_threads: the BLAS threads each fit / predict call sets, adapts and restores.

No timing here: the load probe is replaced by a stub that reports the load we
choose, and the thread count is read with threadpoolctl inside the training
step and the forward pass.
"""

import re

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_info, threadpool_limits

from sk1dcnn import CNN1DClassifier, CNN1DRegressor, _training, estimators, parallel
from sk1dcnn.parallel import BlasThreadPolicy, blas_threads, threads_for_load

pytestmark = pytest.mark.skipif(
    not any(i["user_api"] == "blas" for i in threadpool_info()), reason="no BLAS library")

SMALL = dict(filters=(4,), hidden_layer_sizes=(8,), batch_size=32, random_state=0)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 24))
    return X, (X[:, :12].sum(axis=1) > 0).astype(int)


@pytest.fixture
def load(monkeypatch):
    """Four cores; ``load.values`` is what the probe reports, call after call
    (the last value repeats)."""

    class Load:
        values = [0.0]
        calls = 0

        def others(self):
            v = self.values[min(self.calls, len(self.values) - 1)]
            self.calls += 1
            return v

    stub = Load()
    monkeypatch.setattr(parallel, "_PROBE", stub)
    monkeypatch.setattr(parallel.joblib, "cpu_count", lambda: 4)
    return stub


@pytest.fixture
def seen(monkeypatch):
    """BLAS threads in use at every training step and every forward pass of a prediction."""
    record = {"train": [], "predict": []}
    train_step, forward = _training._train_step, estimators._forward_in_chunks

    def recording_step(*args, **kwargs):
        record["train"].append(blas_threads())
        return train_step(*args, **kwargs)

    def recording_forward(*args, **kwargs):
        record["predict"].append(blas_threads())
        return forward(*args, **kwargs)

    monkeypatch.setattr(_training, "_train_step", recording_step)
    monkeypatch.setattr(estimators, "_forward_in_chunks", recording_forward)
    return record


@pytest.mark.parametrize("others, expected", [(0.0, 3), (1.0, 3), (1.3, 2), (2.6, 1), (9.0, 1)])
def test_adaptive_threads_inside_fit_and_predict_follow_the_load_and_are_restored(
        data, load, seen, others, expected):
    X, y = data
    load.values = [others]
    with threadpool_limits(3, user_api="blas"):
        clf = CNN1DClassifier(max_iter=2, **SMALL).fit(X, y)
        assert blas_threads() == 3
        clf.predict_proba(X)
        clf.transform(X)
        assert blas_threads() == 3
    assert seen["train"] == [expected] * 4  # 2 epochs x 2 batches
    assert seen["predict"] == [expected] * 2


def test_the_threads_are_rechecked_after_every_epoch(data, load, seen):
    X, y = data
    load.values = [0.0, 3.5, 0.0]  # at the start, after epoch 1, after epoch 2...
    with threadpool_limits(2, user_api="blas"):
        CNN1DRegressor(max_iter=3, tol=0.0, **SMALL).fit(X, y.astype(float))
        assert blas_threads() == 2
    assert seen["train"] == [2, 2, 1, 1, 2, 2]


def test_adaptive_threads_never_exceed_an_enclosing_limit(data, load, seen):
    X, y = data
    with threadpool_limits(1, user_api="blas"):
        CNN1DClassifier(max_iter=1, **SMALL).fit(X, y).predict(X)
    assert seen["train"] == [1, 1] and seen["predict"] == [1]


def test_an_int_sets_exactly_that_many_threads_whatever_the_load(data, load, seen):
    X, y = data
    load.values = [9.0]
    with threadpool_limits(1, user_api="blas"):
        clf = CNN1DClassifier(max_iter=1, n_threads=2, **SMALL).fit(X, y)
        clf.predict(X)
        assert blas_threads() == 1
    assert seen["train"] == [2, 2] and seen["predict"] == [2]
    assert load.calls == 0  # a fixed count never probes the machine


def test_threads_are_restored_when_the_fit_fails(data, load):
    X, y = data
    with threadpool_limits(2, user_api="blas"):
        with pytest.raises(ValueError, match="diverged"), np.errstate(all="ignore"):
            CNN1DRegressor(max_iter=2, n_threads=1, learning_rate_init=1e12, **SMALL).fit(
                X * 1e6, y * 1e6)
        assert blas_threads() == 2


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2"])
def test_n_threads_is_validated_with_a_clear_error(data, bad):
    X, y = data
    msg = (f"The 'n_threads' parameter of CNN1DClassifier must be an int in the range "
           f"[1, inf) or None. Got {bad!r} instead.")
    with pytest.raises(InvalidParameterError, match=re.escape(msg)):
        CNN1DClassifier(n_threads=bad).fit(X, y)


@pytest.mark.parametrize("bad", [0, 1.5, True])
def test_the_policy_rejects_a_bad_count(bad):
    with pytest.raises(ValueError, match=re.escape(
            f"n_threads must be None or a positive integer, got {bad!r}.")):
        BlasThreadPolicy(bad)


def test_n_threads_round_trips_and_does_not_change_a_float64_fit_or_predictions(data):
    X, y = data
    a = CNN1DClassifier(max_iter=2, n_threads=1, dtype="float64", **SMALL).fit(X, y)
    b = CNN1DClassifier(max_iter=2, n_threads=2, dtype="float64", **SMALL).fit(X, y)
    assert a.get_params()["n_threads"] == 1
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    np.testing.assert_array_equal(b.set_params(n_threads=1).predict_proba(X),
                                  b.set_params(n_threads=2).predict_proba(X))


@pytest.mark.parametrize("max_threads, others, cores, expected", [
    (2, 0.0, 2, 2), (2, 0.24, 2, 2), (2, 0.26, 2, 1), (2, 1.0, 2, 1), (2, 5.0, 2, 1),
    (8, 0.0, 8, 8), (8, 2.5, 8, 5), (4, 0.0, 8, 4), (2, None, 2, 2), (1, 0.0, 2, 1)])
def test_threads_for_load(max_threads, others, cores, expected):
    assert threads_for_load(max_threads, others, cores=cores) == expected


def test_the_probe_uses_cpu_time_between_samples_and_running_threads_when_stale(monkeypatch):
    clock = {"t": 100.0}
    ticks = {"busy": 1000, "own": 500}
    monkeypatch.setattr(parallel.time, "monotonic", lambda: clock["t"])
    monkeypatch.setattr(parallel, "_cpu_ticks", lambda: (ticks["busy"], ticks["own"]))
    monkeypatch.setattr(parallel, "_others_running_now", lambda: 3)
    probe = parallel._LoadProbe()
    assert probe.others() == 3.0  # no earlier sample: the threads running now
    clock["t"] += 0.5
    ticks["busy"] += 90 * parallel._CLK_TCK // 100  # 0.9 s of CPU, of which 0.2 s ours
    ticks["own"] += 20 * parallel._CLK_TCK // 100
    assert probe.others() == pytest.approx(0.7 / 0.5)
    clock["t"] += parallel.PROBE_INTERVAL / 2  # too soon: the last estimate stands
    ticks["busy"] += 1000
    assert probe.others() == pytest.approx(1.4)
    clock["t"] += parallel.STALE_SAMPLE + 1  # stale sample: the threads running now again
    assert probe.others() == 3.0


def test_without_proc_the_pool_keeps_its_size(monkeypatch):
    def missing():
        raise OSError("no /proc here")

    monkeypatch.setattr(parallel, "_cpu_ticks", missing)
    probe = parallel._LoadProbe()
    assert probe.others() is None
    monkeypatch.setattr(parallel, "_PROBE", probe)
    with threadpool_limits(2, user_api="blas"):
        with BlasThreadPolicy() as policy:
            assert policy.threads == 2 == blas_threads()


def test_the_real_probe_reads_this_machine():
    if not parallel._PROBE.available:
        pytest.skip("no /proc")
    assert parallel._LoadProbe().others() >= 0.0

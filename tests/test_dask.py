"""Distributed hyper-parameter search on a real Dask cluster (processes on 127.0.0.1)
gives the same cross-validation results as the local-process search."""

import os
import time
import warnings

import joblib
import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
pytest.importorskip("dask")

from sklearn.model_selection import GridSearchCV, StratifiedKFold  # noqa: E402

from sk1dcnn import CNN1DClassifier  # noqa: E402
from sk1dcnn.datasets import load_ucr  # noqa: E402
from sk1dcnn.parallel import (  # noqa: E402
    blas_limit_plugin,
    blas_threads,
    blas_threads_per_worker,
    dask_backend,
    limit_blas_threads,
)

N_WORKERS = 2
GRID = {"learning_rate_init": [3e-3, 1e-2], "kernel_size": [3, 7]}
SCORING = {"accuracy": "accuracy", "log_loss": "neg_log_loss"}


def _search(n_jobs=None):
    est = CNN1DClassifier(filters=(4,), hidden_layer_sizes=(8,), max_iter=4, batch_size=16,
                          random_state=0)
    return GridSearchCV(est, GRID, cv=StratifiedKFold(3), scoring=SCORING, refit="accuracy",
                        n_jobs=n_jobs)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_blas_rule_and_context_manager():
    assert blas_threads_per_worker(2, cores=2) == 1
    assert blas_threads_per_worker(2, cores=16) == 8
    assert blas_threads_per_worker(32, cores=16) == 1
    assert blas_threads_per_worker(1) == joblib.cpu_count()
    with pytest.raises(ValueError, match="positive"):
        blas_threads_per_worker(0)
    before = blas_threads()
    with limit_blas_threads(1):
        assert blas_threads() in (None, 1)
    assert blas_threads() == before


def test_grid_search_on_dask_equals_local_processes():
    X, y, _, _ = load_ucr("ECG200")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = _search(n_jobs=N_WORKERS).fit(X, y)  # loky: joblib caps BLAS itself

    cluster = distributed.LocalCluster(n_workers=N_WORKERS, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       silence_logs=40)
    pids = []
    try:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        # the plugin really sets the workers' BLAS pools (Dask's nanny starts them at 1)
        with distributed.Client(cluster) as setup_client:
            setup_client.register_plugin(blas_limit_plugin(2))
            assert set(setup_client.run(blas_threads).values()) <= {2, None}
        # connect by address, as `--scheduler tcp://HOST:PORT` does
        with dask_backend(cluster.scheduler_address) as client:
            workers = client.scheduler_info()["workers"]
            assert len(workers) == N_WORKERS
            pids = list(client.run(os.getpid).values())
            assert os.getpid() not in pids  # real worker processes
            # the rule: 2 workers x 1 thread on this machine's cores
            expected = blas_threads_per_worker(N_WORKERS)
            assert set(client.run(blas_threads).values()) <= {expected, None}
            # ... in the threads that run the tasks too
            assert set(client.gather(client.map(lambda i: blas_threads(), range(4),
                                                pure=False))) <= {expected, None}
            with distributed.get_task_stream(client) as ts:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    remote = _search(n_jobs=N_WORKERS).fit(X, y)
            assert len(ts.data) > 0  # the fits ran on the cluster
            assert {t["worker"] for t in ts.data} <= set(workers)
    finally:
        cluster.close()

    for key in ("mean_test_accuracy", "mean_test_log_loss", "split0_test_log_loss"):
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key],
                                      err_msg=key)
    assert remote.best_params_ == local.best_params_
    np.testing.assert_array_equal(remote.predict_proba(X), local.predict_proba(X))
    # the cluster is gone: its worker processes have exited
    deadline = time.monotonic() + 10
    while any(_pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_pid_alive(p) for p in pids)
    assert cluster.status.name == "closed"

"""Parallel hyper-parameter search without oversubscribing the cores.

The rule
--------
**workers x BLAS threads per worker <= cores.** A grid search runs one fit per
worker process; each fit's matrix products run on the BLAS thread pool of its
process (OpenBLAS, MKL, ...), which by default starts one thread per core. Two
workers on two cores would then run four busy threads on two cores, and a
16-worker Dask cluster on a 16-core node 256: the fits get *slower*, not
faster, from the time-slicing and cache thrashing. So give each worker
``cores // workers`` BLAS threads (at least 1):

* local processes (``GridSearchCV(n_jobs=k)``, joblib's ``loky`` backend):
  joblib already does this for its workers;
* a Dask cluster: register :func:`blas_limit_plugin` on the client (or use
  :func:`dask_backend`, which does it), with ``n_workers x threads_per_worker``
  as the workers of the rule, per machine. (A Dask nanny starts its workers
  with ``OMP_NUM_THREADS=1`` & co., which never oversubscribes but leaves cores
  idle when a machine has fewer concurrent tasks than cores; the plugin sets
  the rule's number instead.)
* in your own process (e.g. a script next to a running search):
  ``with limit_blas_threads(n): ...``.

The network trains in small minibatches, so one BLAS thread per fit and one fit
per core is usually the fastest use of a machine for a search.
"""

import contextlib
import os

import joblib
from threadpoolctl import threadpool_info, threadpool_limits

__all__ = [
    "blas_threads_per_worker",
    "limit_blas_threads",
    "blas_limit_plugin",
    "dask_backend",
    "blas_threads",
]

#: Environment variables read by BLAS / OpenMP libraries that a worker's child
#: processes start afterwards.
_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def blas_threads_per_worker(n_workers, cores=None):
    """BLAS threads each of ``n_workers`` concurrent workers may use:
    ``max(1, cores // n_workers)`` so that workers x threads <= cores.

    Parameters
    ----------
    n_workers : int
        Concurrent fits on the machine (processes x threads per process).
    cores : int or None, default=None
        Cores of the machine; None counts the cores this process may use
        (``joblib.cpu_count()``: CPU affinity and cgroup quotas included).

    Returns
    -------
    int
    """
    if int(n_workers) < 1:
        raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}.")
    cores = joblib.cpu_count() if cores is None else int(cores)
    return max(1, cores // int(n_workers))


@contextlib.contextmanager
def limit_blas_threads(n):
    """Cap the BLAS thread pools of this process at ``n`` threads inside the block.

    Follow the rule workers x BLAS threads <= cores: with ``k`` processes
    sharing a machine each should use ``blas_threads_per_worker(k)``.

    Parameters
    ----------
    n : int
        Maximum BLAS threads (>= 1).

    Examples
    --------
    >>> from sk1dcnn.parallel import limit_blas_threads, blas_threads
    >>> with limit_blas_threads(1):
    ...     assert blas_threads() in (None, 1)
    """
    if int(n) < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}.")
    with threadpool_limits(limits=int(n), user_api="blas"):
        yield


def blas_threads():
    """The largest BLAS thread-pool size in this process (None without a BLAS)."""
    sizes = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
    return max(sizes) if sizes else None


# ----------------------------------------------------------------- Dask
_PLUGIN_CLASS = None


def _plugin_class():
    """The WorkerPlugin subclass, defined on first use so that importing this
    module does not import ``distributed``."""
    global _PLUGIN_CLASS
    if _PLUGIN_CLASS is None:
        from distributed.diagnostics.plugin import WorkerPlugin

        class BlasThreadLimit(WorkerPlugin):
            """Dask worker plugin: cap the worker process's BLAS threads at ``n``.

            Applied when the worker starts (and to workers that join later);
            also sets ``OMP_NUM_THREADS`` & co. for processes the worker spawns.
            """

            name = "sk1dcnn-blas-thread-limit"  # registering again replaces it

            def __init__(self, n):
                self.n = int(n)

            def setup(self, worker=None):
                for var in _THREAD_ENV:
                    os.environ[var] = str(self.n)
                # OpenBLAS/MKL pools are process-wide: the limit reaches the
                # worker's task threads too
                self._limiter = threadpool_limits(limits=self.n, user_api="blas")

            def teardown(self, worker=None):
                limiter = getattr(self, "_limiter", None)
                if limiter is not None:
                    limiter.restore_original_limits()

        BlasThreadLimit.__module__ = __name__
        BlasThreadLimit.__qualname__ = "BlasThreadLimit"
        _PLUGIN_CLASS = BlasThreadLimit
    return _PLUGIN_CLASS


def __getattr__(name):  # lets pickle find sk1dcnn.parallel.BlasThreadLimit on the workers
    if name == "BlasThreadLimit":
        return _plugin_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def blas_limit_plugin(n):
    """A ``distributed`` worker plugin capping each worker's BLAS threads at ``n``.

    ``client.register_plugin(blas_limit_plugin(n))``; pick ``n`` by the rule
    workers x BLAS threads <= cores (:func:`blas_threads_per_worker`).
    """
    if int(n) < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}.")
    return _plugin_class()(n)


def _worker_blas_threads(client):
    """BLAS threads for the cluster's workers by the rule, machine by machine:
    ``cores // (concurrent tasks on that machine)``, the smallest over machines."""
    try:
        workers = client.scheduler_info(n_workers=-1)["workers"]  # all of them (distributed >= 2025)
    except TypeError:
        workers = client.scheduler_info()["workers"]
    cores = client.run(joblib.cpu_count)  # {worker address: cores of its machine}
    tasks, host_cores = {}, {}
    for addr, w in workers.items():
        host = w.get("host") or addr
        tasks[host] = tasks.get(host, 0) + int(w.get("nthreads", 1))
        host_cores[host] = cores.get(addr, host_cores.get(host))
    return min((blas_threads_per_worker(tasks[h], host_cores[h]) for h in tasks), default=1)


@contextlib.contextmanager
def dask_backend(scheduler, blas_threads=None):
    """Run scikit-learn's joblib parallelism (``GridSearchCV(n_jobs=...)``) on a
    Dask cluster.

    Connects a ``distributed.Client`` to ``scheduler`` (``"tcp://HOST:PORT"``,
    or a ``LocalCluster``/``Client``), caps every worker's BLAS threads by the
    rule workers x BLAS threads <= cores (or at ``blas_threads``), and enters
    ``joblib.parallel_backend("dask")``. A client created here is closed on exit.

    Yields
    ------
    distributed.Client
    """
    from distributed import Client

    own = not isinstance(scheduler, Client)
    client = Client(scheduler) if own else scheduler
    try:
        n = _worker_blas_threads(client) if blas_threads is None else int(blas_threads)
        client.register_plugin(blas_limit_plugin(n))
        with joblib.parallel_backend("dask"):
            yield client
    finally:
        if own:
            client.close()

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

Busy machines
-------------
OpenBLAS's threads wait for each other by spinning. When another process
takes one of the cores, a product split over all cores waits for its
descheduled half, and a fit made of many small products can get 10-50x
slower, not 2x. The estimators' ``n_threads=None`` (the default) therefore
chooses the BLAS threads of every ``fit``, ``partial_fit`` and prediction call
with :class:`BlasThreadPolicy`: as many as the BLAS pool has (at most the
cores) while the machine is otherwise idle, and one core fewer for each core
other processes keep busy, down to 1. It looks at the machine when the call
starts and again after every epoch (Linux; elsewhere it keeps the pool's size),
and puts the pool back as it was when the call returns.
"""

import contextlib
import math
import os
import time

import joblib
from threadpoolctl import ThreadpoolController, threadpool_info, threadpool_limits

__all__ = [
    "BlasThreadPolicy",
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


# ------------------------------------------------------- busy machines
#: Other processes' load (cores' worth) from which a core counts as taken: a
#: niced job (nice 5 weighs a third of a normal one) next to two BLAS threads
#: gets about 0.3 of a core and already makes them wait for each other.
BUSY_CORE_THRESHOLD = 0.25
#: Re-probe the machine at most this often (seconds); in between, the last
#: estimate stands (a probe reads /proc: about 0.1 ms).
PROBE_INTERVAL = 0.1
#: A CPU-time sample older than this (seconds) is stale: probe the processes
#: running at this instant instead.
STALE_SAMPLE = 5.0
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_ticks():
    """(CPU ticks all processes spent busy, ticks this process spent), from /proc."""
    with open("/proc/stat", "rb") as fh:
        v = [int(x) for x in fh.readline().split()[1:9]]
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]  # user nice system irq softirq steal
    with open("/proc/self/stat", "rb") as fh:
        own = fh.read()
    fields = own[own.rindex(b")") + 2:].split()  # after "pid (comm) "
    return busy, int(fields[11]) + int(fields[12])  # utime + stime, all threads


def _others_running_now():
    """Threads of other processes that are running or runnable at this instant."""
    with open("/proc/loadavg") as fh:
        running = int(fh.read().split()[3].split("/")[0])
    own = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:  # the thread ended meanwhile
            continue
        own += stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] == b"R"
    return max(running - own, 0)


class _LoadProbe:
    """How many cores' worth of CPU other processes are using.

    Between two samples at least :data:`PROBE_INTERVAL` apart, it is the CPU
    time all processes spent busy minus this process's own, per second (a
    spinning BLAS thread of ours counts as ours); at the first call, or after
    :data:`STALE_SAMPLE` seconds without one, the number of other processes'
    threads running at that instant. None where /proc is missing.
    """

    def __init__(self):
        self.sample = None  # (time, busy ticks, own ticks)
        self.last = None  # the last estimate
        self.available = True

    def others(self):
        if not self.available:
            return None
        now = time.monotonic()
        prev = self.sample
        if prev is not None and now - prev[0] < PROBE_INTERVAL and self.last is not None:
            return self.last
        try:
            busy, own = _cpu_ticks()
            if prev is not None and now - prev[0] <= STALE_SAMPLE:
                self.last = max((busy - prev[1]) - (own - prev[2]), 0) / _CLK_TCK / (now - prev[0])
            else:
                self.last = float(_others_running_now())
        except (OSError, ValueError, IndexError):
            self.available = False
            return None
        self.sample = (now, busy, own)
        return self.last


_PROBE = _LoadProbe()
_CONTROLLER = None


def _blas_controller():
    """The BLAS libraries of this process (threadpoolctl), found once: ~1 ms."""
    global _CONTROLLER
    if _CONTROLLER is None or not _CONTROLLER.lib_controllers:
        _CONTROLLER = ThreadpoolController().select(user_api="blas")
    return _CONTROLLER


def threads_for_load(max_threads, others, cores=None):
    """BLAS threads to use when other processes keep ``others`` cores busy.

    One thread fewer than ``cores`` for every core taken (a core counts as taken
    from :data:`BUSY_CORE_THRESHOLD` of one), within ``[1, max_threads]``;
    ``max_threads`` when ``others`` is None (load unknown).

    Examples
    --------
    >>> threads_for_load(2, 0.1, cores=2), threads_for_load(2, 0.3, cores=2)
    (2, 1)
    >>> threads_for_load(8, 2.5, cores=8)
    5
    """
    if others is None:
        return max_threads
    cores = joblib.cpu_count() if cores is None else int(cores)
    taken = max(math.ceil(others - BUSY_CORE_THRESHOLD), 0)
    return max(1, min(int(max_threads), cores - taken))


class BlasThreadPolicy:
    """Context manager: the BLAS threads of one ``fit`` or prediction call.

    ``n_threads=None`` adapts to the machine (see "Busy machines" above): on
    entry, and at every :meth:`recheck` (the estimators call it after each
    epoch), it sets the BLAS pools to :func:`threads_for_load` of the
    machine's current load, never above the size they had on entry (so an
    enclosing :func:`limit_blas_threads` or a joblib worker's limit holds).
    An int sets exactly that many threads. On exit the pools get their
    previous sizes back.

    Parameters
    ----------
    n_threads : int >= 1 or None

    Attributes
    ----------
    threads : int or None
        The threads in use (None without a BLAS library).
    """

    def __init__(self, n_threads=None):
        if n_threads is not None and (isinstance(n_threads, bool) or int(n_threads) != n_threads
                                      or n_threads < 1):
            raise ValueError(f"n_threads must be None or a positive integer, got {n_threads!r}.")
        self.n_threads = None if n_threads is None else int(n_threads)
        self.threads = None
        self._libs = []
        self._original = []

    def __enter__(self):
        self._libs = list(_blas_controller().lib_controllers)
        self._original = [lib.get_num_threads() for lib in self._libs]
        self._max = max(self._original, default=1)
        self._set(self.n_threads or self._adapted())
        return self

    def _adapted(self):
        # a pool of one (a joblib worker, an enclosing limit) needs no look at the machine
        return 1 if self._max <= 1 else threads_for_load(self._max, _PROBE.others())

    def recheck(self):
        """Adapt the threads to the load now (``n_threads=None`` only)."""
        if self.n_threads is None and self._libs:
            n = self._adapted()
            if n != self.threads:
                self._set(n)

    def on_epoch_end(self, callback=None):
        """An ``on_epoch_end(net, state, rng)`` that rechecks, then calls ``callback``."""

        def after_epoch(net, state, rng):
            self.recheck()
            if callback is not None:
                callback(net, state, rng)

        return after_epoch

    def _set(self, n):
        for lib in self._libs:
            lib.set_num_threads(n)  # a call into the library: ~1 us
        self.threads = n if self._libs else None

    def __exit__(self, *exc):
        for lib, n in zip(self._libs, self._original):
            lib.set_num_threads(n)
        self.threads = None
        return False


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

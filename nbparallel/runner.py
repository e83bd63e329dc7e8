"""The only module that talks to joblib: submit chunk tasks, yield outcomes as they finish.

Tasks are fed to ``joblib.Parallel(return_as="generator_unordered")`` lazily, a
few ahead of the workers (``pre_dispatch``).  :meth:`Run.stop` ends the feed: the
chunks already running finish and are reported, nothing new starts, and the
worker pool stays warm for the next call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from joblib import Parallel, delayed

from .worker import ChunkOutcome, ChunkTask, run_chunk

__all__ = ["Run", "shutdown", "warm", "worker_pids"]


class Run:
    """One execution of chunk tasks on a joblib backend.

    Parameters
    ----------
    func : callable
        The user's function.
    tasks : iterable of ChunkTask
        Consumed lazily, so :meth:`stop` takes effect before the next chunk
        is sent.
    n_jobs : int
        Number of workers.
    backend : str
        A joblib backend name (``"loky"`` or ``"threading"``).
    """

    def __init__(
        self,
        func: Callable[..., Any],
        tasks: Iterable[ChunkTask],
        *,
        n_jobs: int,
        backend: str,
    ) -> None:
        self.func = func
        self.tasks = tasks
        self.n_jobs = n_jobs
        self.backend = backend
        self._stopped = threading.Event()

    def _feed(self) -> Iterator[Any]:
        call = delayed(run_chunk)
        for task in self.tasks:
            if self._stopped.is_set():
                return
            yield call(self.func, task)

    def stop(self) -> None:
        """Send no further chunks; running ones finish and are still reported."""
        self._stopped.set()

    def outcomes(self) -> Iterator[ChunkOutcome]:
        """Yield each chunk's outcome as soon as it finishes (any order)."""
        if self.backend == "dask":
            # joblib's dask backend: the chunks run on the cluster of the
            # current Client; arguments larger than 1 kB (the function and
            # what it closes over, each chunk) are scattered once, not sent
            # again with every task.
            from joblib import parallel_config

            with parallel_config(backend="dask", client=dask_client()):
                parallel = Parallel(
                    n_jobs=self.n_jobs,
                    return_as="generator_unordered",
                    batch_size=1,
                    pre_dispatch="2*n_jobs",
                )
                yield from parallel(self._feed())
            return
        parallel = Parallel(
            n_jobs=self.n_jobs,
            backend=self.backend,
            return_as="generator_unordered",
            batch_size=1,
            pre_dispatch="2*n_jobs",
        )
        yield from parallel(self._feed())


def dask_client() -> Any:
    """The dask.distributed Client to run on: the current one, or one at ``config(dask_address=...)``.

    Raises
    ------
    ImportError
        Without dask.distributed, naming the extra to install.
    RuntimeError
        When there is no Client and no address, saying how to start one.
    """
    try:
        from distributed import Client, get_client
    except ImportError as err:
        raise ImportError("backend='dask' needs dask.distributed: pip install 'nbparallel[dask]'") from err
    from .config import get_config

    address = get_config().dask_address
    try:
        client = get_client()
        if address is None or client.scheduler.address == address:
            return client
    except ValueError:
        client = None
    if address is not None:
        return Client(address, set_as_default=False)
    raise RuntimeError(
        "backend='dask' needs a dask.distributed Client and there is none: start one first, e.g.\n"
        "    from dask.distributed import Client\n"
        "    client = Client()                      # a local cluster\n"
        "    client = Client('tcp://scheduler:8786')  # an existing cluster\n"
        "or point nbparallel at a scheduler: nbp.config(dask_address='tcp://scheduler:8786')"
    )


def dask_cores() -> int:
    """Threads across the workers of the dask cluster (at least 1)."""
    return max(1, sum(dask_client().nthreads().values()))


def _pool() -> Any:
    """joblib's reusable loky executor, if one is alive (``None`` otherwise)."""
    from joblib.externals.loky import reusable_executor

    return getattr(reusable_executor, "_executor", None)


def worker_pids() -> list[int]:
    """Process ids of the live loky workers (empty when no pool is running).

    Examples
    --------
    >>> isinstance(worker_pids(), list)
    True
    """
    pool = _pool()
    if pool is None or pool._flags.shutdown:
        return []
    return sorted(p.pid for p in list(getattr(pool, "_processes", {}).values()) if p.is_alive())


def shutdown() -> None:
    """Stop the worker processes now (they otherwise idle out after 5 minutes).

    The next parallel call starts a new pool.

    Examples
    --------
    >>> import nbparallel as nbp
    >>> nbp.shutdown()
    >>> nbp.runner.worker_pids()
    []
    """
    pool = _pool()
    if pool is not None:
        pool.shutdown(wait=True, kill_workers=True)


def _noop(x: int) -> int:
    from .worker import prepare_worker

    prepare_worker()
    __import__("nbparallel.ksearch").ksearch.preload()  # numpy/scikit-learn imported while warming
    return x


def warm(n_jobs: int | None = None, *, wait: bool = False) -> threading.Thread:
    """Start the worker pool in a background thread so the first call pays no start-up.

    Parameters
    ----------
    n_jobs : int, optional
        Workers to start (default: the configured default, all cores).
    wait : bool, default=False
        Block until the workers are up.

    Returns
    -------
    threading.Thread
        The warm-up thread (already finished when ``wait=True``).

    Examples
    --------
    >>> import nbparallel as nbp
    >>> _ = nbp.warm(1, wait=True)
    """
    from .config import effective_n_jobs

    n = effective_n_jobs(n_jobs)

    def _start() -> None:
        try:
            Parallel(n_jobs=n, backend="loky")(delayed(_noop)(i) for i in range(n))
        except Exception:  # warming is an optimisation: never an error for the user
            pass

    thread = threading.Thread(target=_start, name="nbparallel-warmup", daemon=True)
    thread.start()
    if wait:
        thread.join()
    return thread

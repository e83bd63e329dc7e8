"""Where chunks run: worker processes (loky), threads, a dask cluster.

Each backend is a class with capability flags (:class:`~.base.Backend`),
registered by name; nothing outside this package compares backend names.
"""

from __future__ import annotations

import gc
import os
import sys
import threading

# Registration order is the order that messages and help list the backends in.
# isort: off
from . import local, threads, dask  # noqa: F401 - registers the backends

# isort: on
from ..data.shared import remove_process_folder
from ..settings import effective_n_jobs
from .base import BACKENDS, Backend, describe_backends, get_backend, register_backend, started_backends

__all__ = [
    "BACKENDS",
    "Backend",
    "describe_backends",
    "get_backend",
    "register_backend",
    "warm",
    "shutdown",
    "close",
    "worker_pids",
]


def worker_pids() -> list[int]:
    """Process ids of the live local worker processes (empty when no pool is running).

    Examples
    --------
    >>> isinstance(worker_pids(), list)
    True
    """
    return get_backend("loky").worker_pids()


def shutdown() -> None:
    """Stop the worker processes now (they otherwise idle out after 5 minutes).

    The next parallel call starts a new pool.

    Examples
    --------
    >>> import nbparallel as nbp
    >>> nbp.shutdown()
    >>> nbp.backends.worker_pids()
    []
    """
    for backend in started_backends():
        backend.shutdown()


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
    >>> _ = nbp.warm(2, wait=True)
    """
    n = effective_n_jobs(n_jobs)

    def _start() -> None:
        try:
            get_backend("loky").warm(n)
        except Exception:  # warming is an optimisation: never an error for the user
            pass

    thread = threading.Thread(target=_start, name="nbparallel-warmup", daemon=True)
    thread.start()
    if wait:
        thread.join()
    return thread


#: Seconds :func:`close` waits for the resource trackers to exit.
TRACKERS_WAIT = 2.0

_TRACKERS = (
    "multiprocessing.resource_tracker",
    "loky.backend.resource_tracker",
    "joblib.externals.loky.backend.resource_tracker",
)


def close() -> None:
    """Stop everything nbparallel started beside this process, before it exits (a kernel's shutdown).

    The workers stop, this process's shared folder goes, and the resource
    trackers (multiprocessing's and loky's) are let go: they ignore
    ``SIGTERM``, so a kernel that signals its children until they are gone
    would otherwise wait seconds and be killed.  Each tracker exits once no
    process holds its pipe; anything still registered with it is cleaned up
    then.  A later call starts them all again.

    Examples
    --------
    >>> import nbparallel as nbp
    >>> nbp.backends.close()
    >>> nbp.backends.worker_pids()
    []
    """
    shutdown()
    if _semaphores_left():  # the pool's queues wait in a reference cycle: their semaphores go with them
        gc.collect()
    remove_process_folder()
    waiting = [threading.Thread(target=_reap, args=(pid,), daemon=True) for pid in _let_trackers_go()]
    for thread in waiting:
        thread.start()
    for thread in waiting:
        thread.join(TRACKERS_WAIT)


def _let_trackers_go() -> list[int]:
    """Close this process's end of each running resource tracker's pipe; their process ids."""
    pids = []
    for name in _TRACKERS:
        tracker = getattr(sys.modules.get(name), "_resource_tracker", None)
        lock = getattr(tracker, "_lock", None)
        if tracker is None or lock is None:
            continue
        with lock:
            fd, pid = getattr(tracker, "_fd", None), getattr(tracker, "_pid", None)
            if fd is None or pid is None:
                continue
            # What is still registered later (a finalizer at exit) goes nowhere, instead of
            # starting a new tracker that would ignore the kernel's SIGTERM all over again.
            tracker._fd, tracker._pid = os.open(os.devnull, os.O_WRONLY), None
        os.close(fd)
        pids.append(pid)
    return pids


def _semaphores_left() -> bool:
    """Whether loky's named semaphores of this process are still in ``/dev/shm``."""
    try:
        return any(name.startswith(f"sem.loky-{os.getpid()}-") for name in os.listdir("/dev/shm"))
    except OSError:
        return False


def _reap(pid: int) -> None:
    """Wait for a tracker to exit (a process left unreaped would look alive to the kernel)."""
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass

"""Where chunks run: worker processes (loky), threads, a dask cluster.

Each backend is a class with capability flags (:class:`~.base.Backend`),
registered by name; nothing outside this package compares backend names.
"""

from __future__ import annotations

import threading

# Registration order is the order that messages and help list the backends in.
# isort: off
from . import local, threads, dask  # noqa: F401 - registers the backends

# isort: on
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

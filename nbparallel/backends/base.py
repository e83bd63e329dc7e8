"""What every backend offers, as capability flags, and the registry of backends.

Code outside :mod:`nbparallel.backends` never compares backend names: it asks a
backend what it can do (``processes``, ``can_interrupt``, ``shares_memory``,
``can_kill_workers``, ``can_release``, ``serial_seeds``) and calls its methods.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, ClassVar

from ..settings import effective_n_jobs
from ..worker.board import Board, Row
from ..worker.task import ChunkOutcome, ChunkTask

__all__ = [
    "Backend",
    "BACKENDS",
    "register_backend",
    "get_backend",
    "describe_backends",
    "started_backends",
    "before_exit",
    "abandon_all",
]


class Backend(ABC):
    """Where chunks run.  One instance per kind, made on first use and kept."""

    name: ClassVar[str]
    description: ClassVar[str]
    #: Workers run on this machine (so they share its cores).
    local: ClassVar[bool] = True
    #: Chunks run in other processes: the function and the data are pickled.
    processes: ClassVar[bool] = False
    #: A running chunk can be interrupted (cancel, timeout) without ending its worker.
    can_interrupt: ClassVar[bool] = False
    #: Workers share this machine's memory: large arrays go through memory-mapped files.
    shares_memory: ClassVar[bool] = False
    #: A chunk that ignores its interrupt can have its worker killed.
    can_kill_workers: ClassVar[bool] = False
    #: A chunk that ignores its interrupt can be released: its future ends, its worker lives on.
    can_release: ClassVar[bool] = False
    #: Seeded items run one at a time (threads share ``random``'s and NumPy's generators).
    serial_seeds: ClassVar[bool] = False

    #: Deliberate kills so far: chunks of other jobs lost to one run again.
    kills: int = 0

    @property
    def board(self) -> Board | None:
        """The control board its chunks report to (``None``: cooperative control only)."""
        return None

    def workers(self, n_jobs: int | None) -> int:
        """How many workers ``n_jobs`` (joblib meaning) means here."""
        return effective_n_jobs(n_jobs)

    def for_workers(self, n_workers: int) -> Backend:
        """The backend that runs a job of ``n_workers`` (a single process worker runs in-process)."""
        return self

    def prepare(self, func: Any, label: str) -> Any:
        """What each chunk carries as the function (by default the function itself)."""
        return func

    @abstractmethod
    def submit(self, func: Any, task: ChunkTask, n_workers: int) -> Future[ChunkOutcome]:
        """Start one chunk; its future gives the :class:`~nbparallel.worker.task.ChunkOutcome`."""

    def received(self, result: Any) -> ChunkOutcome:
        """The :class:`~nbparallel.worker.task.ChunkOutcome` in what a submitted chunk's future gave."""
        return result

    def prefetch(self, n_workers: int) -> int:
        """Chunks of one job in flight at once."""
        return n_workers

    def interrupt(self, row: Row, flags: int) -> None:
        """Interrupt the running chunk of ``row`` (its flags are set already)."""
        return None  # a backend without this capability does nothing

    def kill(self, pid: int) -> None:
        """End a worker whose chunk ignores its interrupt (``can_kill_workers`` only)."""
        return None  # a backend without this capability does nothing

    def release_chunk(self, row: Row) -> None:
        """Give up on the chunk of ``row``, which ignored its interrupt (``can_release`` only).

        Its future ends with an error that :meth:`lost_worker` recognises.
        """
        return None  # a backend without this capability does nothing

    def lost_worker(self, error: BaseException) -> str | None:
        """If ``error`` (from a chunk's future) means its worker died: why, in words."""
        return None

    def worker_pids(self) -> list[int]:
        """Process ids of this backend's live worker processes on this machine."""
        return []

    def warm(self, n_workers: int) -> None:
        """Start the workers now (called in a background thread)."""
        return None  # a backend without this capability does nothing

    def shutdown(self) -> None:
        """Stop the workers."""
        return None  # a backend without this capability does nothing

    def abandon(self) -> None:
        """Stop the workers at once, without waiting for running chunks (interpreter exit)."""
        return None  # a backend without this capability does nothing


BACKENDS: dict[str, type[Backend]] = {}
_instances: dict[str, Backend] = {}
_instances_lock = threading.RLock()


def register_backend(cls: type[Backend]) -> type[Backend]:
    """Make a backend class available by its ``name`` (a class decorator)."""
    BACKENDS[cls.name] = cls
    return cls


def get_backend(name: str) -> Backend:
    """The backend called ``name``; a ``ValueError`` lists the choices for an unknown one.

    Examples
    --------
    >>> get_backend("threading").processes
    False
    """
    cls = BACKENDS.get(name)
    if cls is None:
        raise ValueError(f"unknown backend {name!r}; choose one of: {describe_backends()}")
    backend = _instances.get(name)
    if backend is None:
        # One instance per kind, even when threads ask at once (the warm-up threads of the
        # import and of %load_ext, and the cell): a second instance would own a pool of its
        # own (loky keeps its reusable executor per thread), or none.
        with _instances_lock:
            backend = _instances.get(name)
            if backend is None:
                backend = _instances[name] = cls()
    return backend


def describe_backends() -> str:
    """Every backend with what it is for, from the registry (for error messages and help)."""
    return ", ".join(f"{name!r} ({cls.description})" for name, cls in BACKENDS.items())


def started_backends() -> list[Backend]:
    """The backends made so far in this process."""
    return list(_instances.values())


_exit_guards: list[Callable[[], bool]] = []


def before_exit(guard: Callable[[], bool]) -> None:
    """Call ``guard()`` at interpreter exit before the workers are stopped.

    The runtime, a layer up, cancels its jobs there; a guard that returns
    ``False`` keeps the workers running (a foreground call still waits on them).
    """
    _exit_guards.append(guard)


def abandon_all() -> None:
    """At interpreter exit: run the guards, then stop every backend's workers, waiting on nothing.

    Runs before the thread pools' own exit hooks (see
    :meth:`~nbparallel.backends.local.LocalProcesses.executor`), which would
    wait for every running chunk.
    """
    stop = True
    for guard in list(_exit_guards):
        try:
            stop = guard() and stop
        except Exception:  # exiting: the workers are stopped below all the same
            pass
    if not stop:
        return
    for backend in started_backends():
        try:
            backend.abandon()
        except Exception:  # exiting: nothing more to do about it
            pass

"""Threads of the kernel process: for I/O-bound or GIL-releasing work, and single-worker runs."""

from __future__ import annotations

import ctypes
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from ..worker.board import Board, Row
from ..worker.control import flag_exception
from ..worker.run import run_chunk
from ..worker.task import ChunkOutcome, ChunkTask
from .base import Backend, register_backend

__all__ = ["Threads", "raise_in_thread"]


def raise_in_thread(tid: int, exc: type[BaseException]) -> bool:
    """Raise ``exc`` in the thread ``tid`` of this process at its next Python instruction.

    A thread inside a C call (a sleep, a lock, native code) sees it only when
    that call returns to the interpreter.

    Returns
    -------
    bool
        Whether a thread with that id was found.
    """
    return ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), ctypes.py_object(exc)) == 1


@register_backend
class Threads(Backend):
    """A thread pool in this process; interrupted by asynchronous exceptions."""

    name = "threading"
    description = "threads in the kernel process (I/O-bound or GIL-releasing code)"
    can_interrupt = True
    serial_seeds = True

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._size = 0
        self._lock = threading.Lock()
        self._board = Board.in_memory()

    @property
    def board(self) -> Board:
        return self._board

    def _executor(self, n_workers: int) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None or self._size < n_workers:
                old, self._size = self._pool, max(n_workers, self._size)
                self._pool = ThreadPoolExecutor(self._size, thread_name_prefix="nbpool-thread")
                if old is not None:
                    old.shutdown(wait=False)
            return self._pool

    def submit(self, func: object, task: ChunkTask, n_workers: int) -> Future[ChunkOutcome]:
        return self._executor(n_workers).submit(run_chunk, func, task)

    def interrupt(self, row: Row, flags: int) -> None:
        exc = flag_exception(flags)
        if exc is not None and row.pid == os.getpid():
            raise_in_thread(row.tid, exc)

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool, self._size = self._pool, None, 0
        if pool is not None:
            pool.shutdown(wait=True)

"""The worker side of stopping chunks: flag checks, the interrupt handler, process set-up.

The kernel flags a chunk's row on the control board (:mod:`.board`), then
interrupts it: ``SIGUSR1`` to a worker process, whose handler raises only while a
chunk whose row is flagged runs in its main thread, or an asynchronous exception
in a worker thread.  Chunks also look at their flags between items.  Workers are
not killed for this, so the pool stays warm and other jobs on it are untouched.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

from .board import CANCEL, TIMEOUT, Board

__all__ = ["ChunkCancelled", "ChunkTimedOut", "Running", "check", "prepare_worker", "flag_exception", "in_worker"]

_MAIN_THREAD = threading.main_thread().ident  # read per chunk: kept, and read again in a forked child


def _forked() -> None:
    global _MAIN_THREAD
    _MAIN_THREAD = threading.main_thread().ident


os.register_at_fork(after_in_child=_forked)


class ChunkCancelled(BaseException):
    """Raised inside a worker to stop a chunk of a cancelled job.

    A ``BaseException`` (like ``KeyboardInterrupt``) so ``except Exception`` in
    user code does not swallow it.
    """


class ChunkTimedOut(BaseException):
    """Raised inside a worker to stop a chunk that ran past the job's timeout."""


def flag_exception(flags: int) -> type[BaseException] | None:
    """The exception that stops a chunk whose row has ``flags`` (``None``: keep going)."""
    if flags & CANCEL:
        return ChunkCancelled
    if flags & TIMEOUT:
        return ChunkTimedOut
    return None


def check(board: Board, slot: int) -> None:
    """Raise if the chunk of row ``slot`` was cancelled or timed out."""
    flags = board.flags(slot)
    if not flags:  # the usual case: looked at between items
        return
    exc = flag_exception(flags)
    if exc is not None:
        raise exc()


_process_current: tuple[Board, int] | None = None  # the main thread's running chunk, for the handler


def _on_signal(signum: int, frame: Any) -> None:
    current = _process_current
    if current is not None:
        check(*current)


_worker = False  # this process is one of nbparallel's workers


def in_worker() -> bool:
    """Whether this process is one of nbparallel's worker processes.

    A parallel call made here (a ``pmap`` inside a chunk, or inside a joblib
    task on the nbparallel backend) runs in this process, as joblib runs its
    nested calls, instead of starting a pool of its own in every worker.

    Examples
    --------
    >>> in_worker()
    False
    """
    return _worker


def prepare_worker(parent: int | None = None) -> None:
    """Set up a worker process as it starts (loky's ``initializer``).

    Deaf to the kernel's ``SIGINT`` from the first moment (a kernel interrupt
    signals its whole process group; the kernel cancels the job instead and the
    pool stays warm), ``SIGUSR1`` interrupts the running chunk, and the worker
    exits within a second or two once its kernel is gone (killed, crashed).

    The pool starts its workers with ``SIGINT`` blocked (see
    :mod:`nbparallel.backends.local`), so an interrupt that arrives before this
    runs waits, pending; ignoring the signal here discards it, and only then is
    it unblocked.
    """
    global _worker
    _worker = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGUSR1, _on_signal)
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), name="nbparallel-orphan-watch", daemon=True).start()


def _exit_with(parent: int) -> None:
    # Signals for the process reach the main thread only (the chunk's interrupt).
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGINT})
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


class Running:
    """Marks a chunk as running on its board row for the block (and as the interrupt target)."""

    def __init__(self, board: Board | None, slot: int) -> None:
        self.board = board if slot >= 0 else None
        self.slot = slot
        self.main = threading.get_ident() == _MAIN_THREAD  # where the process's signals arrive

    def __enter__(self) -> None:
        global _process_current
        if self.board is not None:
            self.board.begin(self.slot)
            if self.main:
                _process_current = (self.board, self.slot)

    def __exit__(self, *exc: object) -> None:
        global _process_current
        if self.board is not None:
            if self.main:
                _process_current = None
            self.board.end(self.slot)

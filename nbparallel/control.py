"""Stopping chunks from the kernel: cancel and per-chunk timeouts.

A job's control folder holds a ``CANCEL`` file once the job is cancelled, a
``TIMEOUT-<chunk>`` file for a chunk that ran out of time, and one ``run-...``
marker per running chunk naming the process and thread running it (its mtime is
when the chunk started).  The kernel reads the markers to interrupt exactly those
chunks: SIGUSR1 to a worker process (whose handler raises only while a chunk of
that job runs and a flag for it exists), or an asynchronous exception in a worker
thread.  Chunks also look at the flags between items.  Workers are not killed for
this, so the pool stays warm and other jobs on it are untouched.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

from typing_extensions import Self

__all__ = [
    "ChunkCancelled",
    "ChunkTimedOut",
    "CancelToken",
    "Running",
    "prepare_worker",
    "interrupt",
    "check",
]


class ChunkCancelled(BaseException):
    """Raised inside a worker to stop a chunk of a cancelled job.

    A ``BaseException`` (like ``KeyboardInterrupt``) so ``except Exception`` in
    user code does not swallow it.
    """


class ChunkTimedOut(BaseException):
    """Raised inside a worker to stop a chunk that ran past the job's timeout."""


@dataclass(frozen=True)
class RunningChunk:
    index: int
    pid: int
    tid: int
    started: float  # time.time() when the chunk started


@dataclass(frozen=True)
class CancelToken:
    """Picklable handle on a job's control folder."""

    folder: str

    @property
    def cancel_file(self) -> str:
        return os.path.join(self.folder, "CANCEL")

    def timeout_file(self, index: int) -> str:
        return os.path.join(self.folder, f"TIMEOUT-{index}")

    def cancelled(self) -> bool:
        return os.path.exists(self.cancel_file)

    def timed_out(self, index: int) -> bool:
        return os.path.exists(self.timeout_file(index))

    def flag(self, path: str) -> None:
        try:
            with open(path, "w"):
                pass
        except OSError:  # the job finished and removed its folder meanwhile
            pass

    def marker(self, index: int) -> str:
        return os.path.join(self.folder, f"run-{index}-{os.getpid()}-{threading.get_ident()}")

    def marker_for(self, chunk: RunningChunk) -> str:
        return os.path.join(self.folder, f"run-{chunk.index}-{chunk.pid}-{chunk.tid}")

    def running(self) -> list[RunningChunk]:
        """Every chunk of this job running now."""
        out = []
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return []
        for entry in entries:
            if entry.name.startswith("run-"):
                _, index, pid, tid = entry.name.split("-")
                try:
                    started = entry.stat().st_mtime
                except FileNotFoundError:  # finished meanwhile
                    continue
                out.append(RunningChunk(int(index), int(pid), int(tid), started))
        return out


_current = threading.local()  # (token, index) of the chunk running in this thread
_process_current: tuple[CancelToken, int] | None = None  # same, for the signal handler


def check(token: CancelToken, index: int) -> None:
    """Raise if the chunk ``index`` of ``token``'s job was cancelled or timed out."""
    if token.cancelled():
        raise ChunkCancelled()
    if token.timed_out(index):
        raise ChunkTimedOut()


def _on_signal(signum: int, frame: Any) -> None:
    current = _process_current
    if current is not None:
        check(*current)


def _install_signal_handler() -> None:
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGUSR1) is not _on_signal:
        signal.signal(signal.SIGUSR1, _on_signal)


def prepare_worker() -> None:
    """Set up a worker process: the interrupt handler, and deaf to the kernel's SIGINT.

    Interrupting a kernel signals its whole process group, workers included; a
    worker must not die of it (the kernel cancels the job instead, and the pool
    stays warm).  Only applies inside a child process's main thread, never in
    the kernel itself.
    """
    import multiprocessing

    if threading.current_thread() is threading.main_thread() and multiprocessing.parent_process() is not None:
        _install_signal_handler()
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


class Running:
    """Marks a chunk as running (marker file, interrupt target) for the block."""

    def __init__(self, token: CancelToken | None, index: int) -> None:
        self.token = token
        self.index = index
        self.path: str | None = None
        self.main = threading.current_thread() is threading.main_thread()

    def __enter__(self) -> Self:
        global _process_current
        if self.token is not None:
            _install_signal_handler()
            self.path = self.token.marker(self.index)
            with open(self.path, "w"):
                pass
            _current.chunk = (self.token, self.index)
            if self.main:
                _process_current = (self.token, self.index)
        return self

    def __exit__(self, *exc: object) -> None:
        global _process_current
        if self.token is not None:
            if self.main:
                _process_current = None
            _current.chunk = None
            try:
                os.remove(self.path)  # type: ignore[arg-type]
            except OSError:
                pass


def interrupt(chunk: RunningChunk, *, threads: bool, exc: type[BaseException] = ChunkCancelled) -> bool:
    """Interrupt one running chunk (after its flag file exists); False if it is gone.

    Worker processes get SIGUSR1; worker threads (``threads=True``) get an
    asynchronous ``exc``.
    """
    try:
        if threads:
            if chunk.pid == os.getpid():
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(chunk.tid), ctypes.py_object(exc))
        else:
            os.kill(chunk.pid, signal.SIGUSR1)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def age(chunk: RunningChunk) -> float:
    """Seconds the chunk has been running."""
    return time.time() - chunk.started

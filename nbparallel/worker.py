"""What runs inside a worker: call the function on one chunk and package the outcome.

Nothing here raises back to joblib: a failing chunk returns a :class:`ChunkOutcome`
carrying the exception, the item that failed, the worker traceback as text and
the output the chunk printed.  joblib therefore never aborts the pool for a user
error, and finished chunks are never thrown away.
"""

from __future__ import annotations

import io
import linecache
import os
import pickle
import reprlib
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, TextIO

__all__ = [
    "ChunkTask", "ChunkOutcome", "CancelToken", "ChunkCancelled", "RemoteTraceback",
    "WorkerError", "run_chunk", "render_traceback", "interrupt_running",
]


@dataclass(frozen=True)
class ChunkTask:
    """One unit of work: chunk ``index`` covering items ``start:stop``.

    ``mode`` is ``"items"`` (call ``func`` per item, ``pmap``) or ``"chunk"``
    (call ``func`` once on the chunk, ``pmap_chunks``).  With ``star`` the
    payload is a tuple of aligned chunks passed as separate arguments.
    """

    index: int
    start: int
    stop: int
    payload: Any
    mode: str = "items"
    star: bool = False
    control: CancelToken | None = None


@dataclass
class ChunkOutcome:
    """What a worker sends back for one chunk."""

    index: int
    start: int
    stop: int
    value: Any = None
    error: BaseException | None = None
    error_item: int | None = None
    error_item_repr: str | None = None
    frames: list[tuple[str, int, str]] = field(default_factory=list)
    exc_only: str = ""
    output: str = ""
    elapsed: float = 0.0
    cancelled: bool = False
    pid: int = field(default_factory=os.getpid)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled


class RemoteTraceback(Exception):
    """Carries the worker's traceback text; set as ``__cause__`` of re-raised errors."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return "\n\n" + self.text.rstrip()


class WorkerError(RuntimeError):
    """Stand-in for a worker exception that could not be sent back (unpicklable)."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(type_name, message)  # both in args, so it pickles
        self.type_name = type_name
        self.message = message

    def __str__(self) -> str:
        return f"{self.type_name}: {self.message} (the original exception could not be pickled)"


# --- cancellation -------------------------------------------------------------------
# A job's control folder holds a CANCEL file once the job is cancelled, and one
# marker file per running chunk naming the process and thread running it.  The
# kernel reads the markers to interrupt exactly those chunks: SIGUSR1 to a worker
# process (whose handler raises ChunkCancelled only while a chunk of a cancelled
# job runs), or an asynchronous exception in a worker thread.  Chunks also look
# at the CANCEL file between items.  Workers are never killed for a cancel, so the
# pool stays warm and other jobs on it are untouched.


class ChunkCancelled(BaseException):
    """Raised inside a worker to stop a chunk of a cancelled job.

    A ``BaseException`` (like ``KeyboardInterrupt``) so ``except Exception`` in
    user code does not swallow it.
    """


@dataclass(frozen=True)
class CancelToken:
    """Picklable handle on a job's control folder."""

    folder: str

    @property
    def cancel_file(self) -> str:
        return os.path.join(self.folder, "CANCEL")

    def cancelled(self) -> bool:
        return os.path.exists(self.cancel_file)

    def marker(self, index: int) -> str:
        return os.path.join(self.folder, f"run-{index}-{os.getpid()}-{threading.get_ident()}")

    def running(self) -> list[tuple[int, int, int]]:
        """``(chunk, pid, thread id)`` of every chunk running now."""
        out = []
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        for name in names:
            if name.startswith("run-"):
                _, index, pid, tid = name.split("-")
                out.append((int(index), int(pid), int(tid)))
        return out


_current = threading.local()  # the token of the chunk running in this thread
_process_token: CancelToken | None = None  # same, for the signal handler (main thread)
_CHECK_EVERY = 0.2  # seconds between looks at the CANCEL file inside a chunk


def _on_cancel_signal(signum: int, frame: Any) -> None:
    token = _process_token
    if token is not None and token.cancelled():
        raise ChunkCancelled()


def _install_signal_handler() -> None:
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGUSR1) is not _on_cancel_signal:
            signal.signal(signal.SIGUSR1, _on_cancel_signal)


def prepare_worker() -> None:
    """Set up a worker process: cancel handler, and deaf to the kernel's SIGINT.

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


class _Running:
    """Marks a chunk as running (marker file, handler target) for the block."""

    def __init__(self, token: CancelToken | None, index: int) -> None:
        self.token = token
        self.index = index
        self.path: str | None = None

    def __enter__(self) -> _Running:
        global _process_token
        if self.token is not None:
            _install_signal_handler()
            self.path = self.token.marker(self.index)
            with open(self.path, "w"):
                pass
            _current.token = self.token
            if threading.current_thread() is threading.main_thread():
                _process_token = self.token
        return self

    def __exit__(self, *exc: object) -> None:
        global _process_token
        if self.token is not None:
            if threading.current_thread() is threading.main_thread():
                _process_token = None
            _current.token = None
            try:
                os.remove(self.path)  # type: ignore[arg-type]
            except OSError:
                pass


# --- output capture --------------------------------------------------------------
# sys.stdout/sys.stderr are replaced once per process by a proxy that writes to a
# per-thread buffer while a chunk runs and to the original stream otherwise.  The
# proxy is per thread so that the threading backend keeps each chunk's output
# apart and never swallows output of the kernel's own thread.

_local = threading.local()
_install_lock = threading.Lock()


class _ThreadRoutedStream(io.TextIOBase):
    def __init__(self, original: TextIO) -> None:
        self._original = original

    def _target(self) -> TextIO:
        buffer = getattr(_local, "buffer", None)
        return buffer if buffer is not None else self._original

    def write(self, text: str) -> int:  # type: ignore[override]
        return self._target().write(text)

    def flush(self) -> None:
        target = self._target()
        if hasattr(target, "flush"):
            target.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return getattr(_local, "buffer", None) is None and self._original.isatty()

    def fileno(self) -> int:
        return self._original.fileno()

    def __getattr__(self, name: str) -> Any:  # encoding, errors, ... of the original
        return getattr(self._original, name)


def _install_routing() -> None:
    with _install_lock:
        if not isinstance(sys.stdout, _ThreadRoutedStream):
            sys.stdout = _ThreadRoutedStream(sys.stdout)
        if not isinstance(sys.stderr, _ThreadRoutedStream):
            sys.stderr = _ThreadRoutedStream(sys.stderr)


class _Capture:
    """Route this thread's stdout and stderr into one buffer for the block."""

    def __enter__(self) -> io.StringIO:
        _install_routing()
        self._previous = getattr(_local, "buffer", None)
        _local.buffer = io.StringIO()
        return _local.buffer

    def __exit__(self, *exc: object) -> None:
        _local.buffer = self._previous


# --- running a chunk -------------------------------------------------------------

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = 6


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return WorkerError(type(exc).__name__, str(exc))


def _remote_frames(exc: BaseException) -> list[tuple[str, int, str]]:
    """(file, line, function) of each frame, from user code down to the raise.

    Source lines are looked up later, in the kernel: code typed into a notebook
    cell is in the kernel's ``linecache`` but not in the worker's.
    """
    tb = exc.__traceback__
    if tb is not None and tb.tb_frame.f_code is run_chunk.__code__:
        tb = tb.tb_next  # this module's own frame
    summary = traceback.extract_tb(tb, limit=None) if tb is not None else []
    return [(f.filename, f.lineno or 0, f.name) for f in summary]


def render_traceback(frames: list[tuple[str, int, str]], exc_only: str) -> str:
    """Format a worker traceback with source lines from this process's ``linecache``.

    Examples
    --------
    >>> print(render_traceback([], "ValueError: bad"))
    Traceback (most recent call last):
    ValueError: bad
    """
    lines = ["Traceback (most recent call last):\n"]
    for filename, lineno, name in frames:
        lines.append(f'  File "{filename}", line {lineno}, in {name}\n')
        source = linecache.getline(filename, lineno).strip()
        if source:
            lines.append(f"    {source}\n")
    return "".join(lines) + exc_only


def run_chunk(func: Callable[..., Any], task: ChunkTask) -> ChunkOutcome:
    """Run ``func`` on one chunk inside a worker and return its outcome.

    Parameters
    ----------
    func : callable
        The user's function.
    task : ChunkTask
        The chunk and how to call ``func`` on it.

    Returns
    -------
    ChunkOutcome
        The value, or the exception with the failing item and traceback frames; the
        chunk's printed output in both cases.

    Examples
    --------
    >>> run_chunk(abs, ChunkTask(0, 0, 2, [-1, -2])).value
    [1, 2]
    """
    prepare_worker()
    outcome = ChunkOutcome(task.index, task.start, task.stop)
    token = task.control
    if token is not None and token.cancelled():
        outcome.cancelled = True  # queued before the cancel: never started
        return outcome
    position = task.start
    item: Any = None
    began = time.perf_counter()
    with _Capture() as buffer:
        try:
            with _Running(token, task.index):
                if task.mode == "chunk":
                    outcome.value = func(*task.payload) if task.star else func(task.payload)
                else:
                    values = []
                    items = zip(*task.payload) if task.star else task.payload
                    next_check = time.monotonic() + _CHECK_EVERY
                    for position, item in enumerate(items, start=task.start):  # noqa: B007
                        values.append(func(*item) if task.star else func(item))
                        if token is not None and time.monotonic() > next_check:
                            if token.cancelled():
                                raise ChunkCancelled()
                            next_check = time.monotonic() + _CHECK_EVERY
                    outcome.value = values
        except ChunkCancelled:
            outcome.cancelled = True
        except Exception as exc:  # noqa: BLE001 - every error goes back to the caller
            outcome.error = _picklable(exc)
            outcome.frames = _remote_frames(exc)
            outcome.exc_only = "".join(traceback.format_exception_only(type(exc), exc))
            if task.mode == "items":
                outcome.error_item = position
                outcome.error_item_repr = _repr.repr(item)
    outcome.output = buffer.getvalue()
    outcome.elapsed = time.perf_counter() - began
    if outcome.cancelled:
        outcome.value = None
    return outcome


def interrupt_running(token: CancelToken, *, threads: bool) -> list[int]:
    """Interrupt every running chunk of a cancelled job; return the chunk indices.

    Worker processes get SIGUSR1; worker threads (``threads=True``) get an
    asynchronous :class:`ChunkCancelled`.  Call after the CANCEL file exists.
    """
    import ctypes

    hit = []
    for index, pid, tid in token.running():
        try:
            if threads:
                if pid == os.getpid():
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(
                        ctypes.c_ulong(tid), ctypes.py_object(ChunkCancelled)
                    )
            else:
                os.kill(pid, signal.SIGUSR1)
            hit.append(index)
        except (ProcessLookupError, PermissionError):
            pass
    return hit

"""What runs inside a worker: call the function on one chunk and package the outcome.

Nothing here raises back to joblib: a failing chunk returns a :class:`ChunkOutcome`
carrying the exception, the item that failed, the worker traceback as text and
the output the chunk printed.  joblib therefore never aborts the pool for a user
error, and finished chunks are never thrown away.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import reprlib
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from .control import CancelToken, ChunkCancelled, ChunkTimedOut, Running, check, prepare_worker
from .tracebacks import Frame, remote_frames

__all__ = [
    "ChunkTask",
    "ChunkOutcome",
    "ChunkTimeout",
    "RemoteTraceback",
    "WorkerError",
    "UnpicklableResult",
    "run_chunk",
    "seed_item",
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
    seed: int | None = None
    serialize: bool = False  # pickle the value in the worker (process backends)
    share_folder: str | None = None  # large array results are left here (pmap_chunks on loky)


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
    frames: list[Frame] = field(default_factory=list)
    exc_only: str = ""
    output: str = ""
    elapsed: float = 0.0
    cancelled: bool = False
    pid: int = field(default_factory=os.getpid)
    value_bytes: bytes | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled

    def load(self) -> None:
        """Unpickle a value the worker pickled itself (in the kernel)."""
        if self.value_bytes is not None:
            import cloudpickle

            data, self.value_bytes = self.value_bytes, None
            try:
                self.value = cloudpickle.loads(data)
            except Exception as exc:
                self.error = UnpicklableResult(
                    f"the result of chunk {self.index} (items {self.start}-{self.stop - 1}) "
                    f"could not be unpickled in the kernel: {type(exc).__name__}: {exc}"
                )
                self.exc_only = f"UnpicklableResult: {self.error}\n"


class RemoteTraceback(Exception):
    """Carries the worker's traceback text; set as ``__cause__`` of re-raised errors."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return "\n\n" + self.text.rstrip()


class ChunkTimeout(TimeoutError):
    """A chunk ran longer than the job's ``timeout`` and was stopped."""


class UnpicklableResult(TypeError):
    """A chunk's result could not be sent back from its worker."""


def seed_item(seed: int, index: int) -> None:
    """Seed Python's ``random`` and NumPy's global generator for item ``index``.

    The stream is ``np.random.SeedSequence(seed, spawn_key=(index,))``: the same
    for an item wherever and in whatever order it runs. Call it before each item
    to reproduce a seeded ``pmap`` sequentially.

    Examples
    --------
    >>> import random
    >>> seed_item(7, 3); a = random.random()
    >>> seed_item(7, 3); a == random.random()
    True
    """
    import random

    import numpy as np

    state = np.random.SeedSequence(seed, spawn_key=(int(index),)).generate_state(4)
    random.seed(int.from_bytes(state.tobytes(), "little"))
    np.random.seed(state[:2])


class WorkerError(RuntimeError):
    """Stand-in for a worker exception that could not be sent back (unpicklable)."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(type_name, message)  # both in args, so it pickles
        self.type_name = type_name
        self.message = message

    def __str__(self) -> str:
        return f"{self.type_name}: {self.message} (the original exception could not be pickled)"


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

    def write(self, text: str) -> int:
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

_SEEDED_IN_PROCESS = threading.Lock()
_NO_LOCK = contextlib.nullcontext()
_CHECK_EVERY = 0.2  # seconds between looks at the cancel/timeout flags inside a chunk

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
            with Running(token, task.index):
                # Threads share random's and NumPy's global generators: seeded
                # items in this process run one at a time to stay reproducible.
                seeded = _SEEDED_IN_PROCESS if task.seed is not None and not task.serialize else _NO_LOCK
                if task.mode == "chunk":
                    with seeded:
                        if task.seed is not None:
                            seed_item(task.seed, task.start)
                        outcome.value = func(*task.payload) if task.star else func(task.payload)
                else:
                    values = []
                    items = zip(*task.payload) if task.star else task.payload
                    next_check = time.monotonic() + _CHECK_EVERY
                    for position, item in enumerate(items, start=task.start):
                        with seeded:
                            if task.seed is not None:
                                seed_item(task.seed, position)
                            values.append(func(*item) if task.star else func(item))
                        if token is not None and time.monotonic() > next_check:
                            check(token, task.index)
                            next_check = time.monotonic() + _CHECK_EVERY
                    outcome.value = values
        except ChunkCancelled:
            outcome.cancelled = True
        except ChunkTimedOut:
            outcome.error = ChunkTimeout(
                f"chunk {task.index} (items {task.start}-{task.stop - 1}) ran longer than the "
                "job's timeout and was stopped"
            )
            outcome.exc_only = f"ChunkTimeout: {outcome.error}\n"
            if task.mode == "items":
                outcome.error_item = position
                outcome.error_item_repr = _repr.repr(item)
        except Exception as exc:
            outcome.error = _picklable(exc)
            outcome.frames = remote_frames(exc)
            outcome.exc_only = "".join(traceback.format_exception_only(type(exc), exc))
            if task.mode == "items":
                outcome.error_item = position
                outcome.error_item_repr = _repr.repr(item)
    outcome.output = buffer.getvalue()
    outcome.elapsed = time.perf_counter() - began
    if not outcome.ok:
        outcome.value = None
        return outcome
    if task.share_folder is not None and task.mode == "chunk":
        from .data.shared import to_shared

        try:
            outcome.value = to_shared(outcome.value, task.share_folder)
        except OSError:  # shared memory full: send it the ordinary way
            pass
    if task.serialize:
        _serialize_value(outcome)
    return outcome


def _serialize_value(outcome: ChunkOutcome) -> None:
    """Pickle the value here, so a result that cannot be pickled is reported by chunk."""
    import cloudpickle

    try:
        outcome.value_bytes = cloudpickle.dumps(outcome.value)
    except Exception as exc:
        outcome.error = UnpicklableResult(
            f"the result of chunk {outcome.index} (items {outcome.start}-{outcome.stop - 1}) cannot be "
            f"sent back from the worker: {type(exc).__name__}: {exc}. Return plain data "
            "(numbers, arrays, lists, dicts) instead of objects such as open files, locks or generators"
        )
        outcome.exc_only = f"UnpicklableResult: {outcome.error}\n"
    outcome.value = None

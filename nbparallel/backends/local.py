"""Worker processes on this machine: loky's reusable executor, used directly.

One pool per kernel, started once (``warm()``, ``%load_ext``) and kept warm for
5 minutes of idleness.  A call submits its chunks to it: no ``joblib.Parallel``,
no folder, no thread per call.  Workers ignore ``SIGINT`` from the moment they
start and exit when the kernel that owns them is gone.  BLAS/OpenMP threads
inside each worker are capped at ``cores // workers``, as joblib does.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from ..worker.board import Board, Row
from ..worker.control import prepare_worker
from ..worker.run import run_chunk
from ..worker.task import ChunkOutcome, ChunkTask
from ..worker.transit import Shipped
from .base import Backend, abandon_all, get_backend, register_backend
from .memmaps import register_memmap_reducer
from .shipping import pack

__all__ = ["LocalProcesses", "IDLE_TIMEOUT"]

#: Seconds an idle worker waits for work before it exits.
IDLE_TIMEOUT = 300

_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def _death_cause(error: BaseException) -> str:
    text = str(error)
    if "SIGKILL" in text or "-9" in text:
        return "it was killed (SIGKILL): most likely the out-of-memory killer; use smaller chunks or fewer workers"
    if "SIGSEGV" in text or "-11" in text:
        return "it crashed in native code (SIGSEGV)"
    if "exit code" in text:
        return f"it exited unexpectedly (os._exit or a crash): {text.splitlines()[-1] if text else ''}"
    return f"{type(error).__name__}: {text}"


@register_backend
class LocalProcesses(Backend):
    """loky worker processes (the default)."""

    name = "loky"
    description = "worker processes (default; CPU-bound Python code)"
    processes = True
    can_interrupt = True
    shares_memory = True
    can_kill_workers = True

    def __init__(self) -> None:
        register_memmap_reducer()  # large shared inputs travel as file references
        self._executor: Any = None
        self._lock = threading.Lock()
        self._board: Board | None = None

    @property
    def board(self) -> Board:
        with self._lock:
            if self._board is None or not os.path.exists(self._board.path or ""):
                self._board = _new_board()
            return self._board

    def for_workers(self, n_workers: int) -> Backend:
        return self if n_workers > 1 else get_backend("threading")

    def prepare(self, func: Any, label: str) -> Any:
        return pack(func, label=label, share=True)

    def executor(self, n_workers: int) -> Any:
        """The pool, started or grown to ``n_workers`` if needed (never shrunk: that would respawn)."""
        ex = self._executor
        if ex is not None and not ex._flags.broken and not ex._flags.shutdown and ex._max_workers >= n_workers:
            return ex
        with self._lock:
            ex = self._executor
            if ex is None or ex._flags.broken or ex._flags.shutdown or ex._max_workers < n_workers:
                from joblib import cpu_count
                from loky import get_reusable_executor

                size = max(n_workers, ex._max_workers if ex is not None and not ex._flags.broken else 0)
                inner = str(max(1, cpu_count() // size))
                ex = self._executor = get_reusable_executor(
                    max_workers=size,
                    timeout=IDLE_TIMEOUT,
                    initializer=_start_worker,
                    initargs=(os.getpid(), _wanted_at_start()),
                    env=dict.fromkeys(_THREAD_VARS, inner),
                )
            return ex

    def submit(self, func: Any, task: ChunkTask, n_workers: int) -> Future[ChunkOutcome]:
        # loky keeps a chunk's arguments until the callbacks of its future have returned, and the
        # job ends inside them: the chunk goes in a box emptied first, so its slices of a shared
        # copy (mapped memory) are not held a moment after the job's result is out.
        if task.timed and task.payload is not None:  # its transfer is timed when loky pickles it
            # The task is this submission's own copy (the attempt made it): wrapped in place, as
            # dataclasses.replace would cost more than the rest of the timeline's recording.
            object.__setattr__(task, "payload", Shipped(task.payload, _loky_dumps))
        box = [task]
        future: Future[ChunkOutcome] = self.executor(n_workers).submit(_run_boxed, func, box)
        future.add_done_callback(lambda _f: box.clear())
        if not _exit_hook:
            _abandon_at_exit()  # after loky's own hook, which it registers on its first submit
        return future

    def prefetch(self, n_workers: int) -> int:
        ex = self._executor
        pool = ex._max_workers if ex is not None else n_workers
        return 2 * n_workers if pool <= n_workers else n_workers  # a bigger pool: only our share

    def interrupt(self, row: Row, flags: int) -> None:
        try:
            os.kill(row.pid, signal.SIGUSR1)
        except (ProcessLookupError, PermissionError):
            pass

    def kill(self, pid: int) -> None:
        if pid in self.worker_pids():
            self.kills += 1
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def lost_worker(self, error: BaseException) -> str | None:
        from loky.process_executor import BrokenProcessPool

        return _death_cause(error) if isinstance(error, BrokenProcessPool) else None

    def worker_pids(self) -> list[int]:
        ex = self._executor
        if ex is None or ex._flags.shutdown:
            return []
        return sorted(p.pid for p in list(getattr(ex, "_processes", {}).values()) if p.is_alive())

    def warm(self, n_workers: int) -> None:
        ex = self.executor(n_workers)
        self.board  # noqa: B018 -- made now (its folder, the janitor), not by the first call
        setup = tuple(step for step, _trigger in WARM_UP)
        for future in [ex.submit(_ready, setup) for _ in range(n_workers)]:
            future.result()

    def shutdown(self) -> None:
        with self._lock:
            ex, self._executor = self._executor, None
        if ex is not None:
            ex.shutdown(wait=True, kill_workers=True)

    def abandon(self) -> None:
        with self._lock:
            ex, self._executor = self._executor, None
        if ex is not None:
            ex.shutdown(wait=False, kill_workers=True)


_exit_hook = False


def _abandon_at_exit() -> None:
    """At exit, cancel running jobs and kill the workers before loky's hook waits for their chunks.

    Thread-pool exit hooks run before :mod:`atexit`'s, last registered first;
    loky registers its own on the pool's first submit, so this one, registered
    just after, runs before it.
    """
    global _exit_hook
    if _exit_hook:
        return
    register = getattr(threading, "_register_atexit", None)
    try:
        if register is None:
            raise RuntimeError("no thread exit hooks")
        register(abandon_all)
    except RuntimeError:  # already shutting down, or another Python: the ordinary hook
        import atexit

        atexit.register(abandon_all)
    _exit_hook = True


def _new_board() -> Board:
    """A board in this process's folder; on disk when shared memory has no room for it."""
    import atexit

    from ..data.shared import new_folder, process_folder, remove_folder

    try:
        return Board.in_file(process_folder())
    except OSError:
        folder = new_folder(disk=True)
        atexit.register(remove_folder, folder)
        return Board.in_file(folder)


_dumpers = threading.local()  # a pickler per thread (loky's feeder), reused: making one costs more than the data


def _loky_dumps(obj: Any) -> bytes:
    """Pickle as loky does (shared arrays travel as references to their file)."""
    state = getattr(_dumpers, "state", None)
    if state is None:
        from loky.backend.reduction import _LokyPickler

        buffer = io.BytesIO()
        state = _dumpers.state = (buffer, _LokyPickler(buffer))
    buffer, pickler = state
    try:
        pickler.dump(obj)
        data = buffer.getvalue()
    finally:
        pickler.clear_memo()
        if hasattr(pickler, "globals_ref"):  # cloudpickle: no globals shared between two chunks' pickles
            pickler.globals_ref = {}
        if buffer.tell() > _KEEP_BUFFER:  # a large payload: do not keep its buffer
            _dumpers.state = None
        buffer.seek(0)
        buffer.truncate()
    return data


#: Pickle buffers up to this size are kept for the next chunk.
_KEEP_BUFFER = 1 * 2**20


def _run_boxed(func: Any, box: list[ChunkTask]) -> ChunkOutcome:
    """In a worker: run the chunk sent in ``box`` (see :meth:`LocalProcesses.submit`)."""
    return run_chunk(func, box[0])


#: Called in every worker when the pool is warmed (say, imports a later call needs), each with
#: the module whose import in this process makes every new pool run it as its workers start.
WARM_UP: list[tuple[Callable[[], None], str | None]] = []


def _wanted_at_start() -> tuple[Callable[[], None], ...]:
    """The warm-up steps a new pool runs as it starts: those whose module this process imported.

    A script that imported scikit-learn gets workers that have imported it too
    before they run their first chunk, as a kernel after ``%load_ext`` does.
    """
    return tuple(step for step, trigger in WARM_UP if trigger is not None and trigger in sys.modules)


def _start_worker(parent: int, setup: tuple[Callable[[], None], ...]) -> None:
    """In a new worker (loky's ``initializer``): set it up, then run the warm-up steps asked for."""
    prepare_worker(parent)
    try:
        _ready(setup)
    except Exception:  # an optimisation only: the chunk that needs it will say what is wrong
        logging.getLogger("nbparallel").warning("a worker's warm-up step failed", exc_info=True)


_warmed: set[Callable[[], None]] = set()  # in a worker: the steps it has run


def _ready(setup: tuple[Callable[[], None], ...]) -> int:
    for step in setup:
        if step not in _warmed:
            step()
            _warmed.add(step)
    return os.getpid()

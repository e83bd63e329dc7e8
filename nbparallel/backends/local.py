"""Worker processes on this machine: a loky process pool of nbparallel's own, used directly.

One pool per kernel, started once (``warm()``, ``%load_ext``) and kept warm for
5 minutes of idleness (:mod:`.idle`).  It is an executor of its own, not loky's process-wide
reusable one: other code in the process that uses ``loky.get_reusable_executor``
neither shuts it down nor is shut down by it.  A call submits its chunks to it:
no ``joblib.Parallel``, no folder, no thread per call.  Workers are started
with ``SIGINT`` blocked and ignore it from their first instruction on, and exit
when the kernel that owns them is gone.  BLAS/OpenMP threads inside each worker
are capped at ``cores // workers``, as joblib does.  A call made inside a worker
runs there, in-process (see :func:`~nbparallel.worker.control.in_worker`).
"""

from __future__ import annotations

import copyreg
import io
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from loky.backend import reduction as loky_reduction
from loky.process_executor import ProcessPoolExecutor

from ..data.janitor import claim_semaphores
from ..worker.board import Board, Row
from ..worker.control import in_worker
from ..worker.run import run_message
from ..worker.start import LIGHT_IMPORT, ready, start_worker
from ..worker.task import ChunkOutcome, ChunkTask
from ..worker.transit import arrived_outcome, chunk_message
from .base import Backend, abandon_all, get_backend, register_backend
from .idle import IdleStop
from .memmaps import register_memmap_reducer
from .shipping import pack
from .warmup import WARM_UP, Wanted, asked_by_imports, want_warm_up, want_warm_up_after

__all__ = ["LocalProcesses", "IDLE_TIMEOUT", "WARM_UP", "want_warm_up", "want_warm_up_after", "asked_by_imports"]

#: Seconds a pool without work is kept before it is stopped (its workers exit).
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
        self._idle: IdleStop | None = None  # stops the pool once idle (workers wait without a timeout)
        self._lock = threading.Lock()
        self._board: Board | None = None

    @property
    def board(self) -> Board:
        board = self._board
        if board is not None and os.access(board.path or "", os.F_OK):  # not removed by a clean-up script
            return board
        with self._lock:
            if self._board is None or not os.access(self._board.path or "", os.F_OK):
                self._board = _new_board()
            return self._board

    def workers(self, n_jobs: int | None) -> int:
        return 1 if in_worker() else super().workers(n_jobs)  # a nested call runs where it is

    def for_workers(self, n_workers: int) -> Backend:
        return self if n_workers > 1 and not in_worker() else get_backend("threading")

    def prepare(self, func: Any, label: str) -> Any:
        asked_by_imports()  # a module imported since the last call may ask for a warm-up
        return pack(func, label=label, share=True)

    def executor(self, n_workers: int) -> Any:
        """The pool, started or grown to ``n_workers`` if needed (never shrunk: that would respawn)."""
        ex = self._executor
        if ex is not None and not ex._flags.broken and not ex._flags.shutdown and ex._max_workers >= n_workers:
            return ex
        asked_by_imports()  # before the workers start: they run what it asks for as they start
        self.board  # noqa: B018 -- its folder starts the janitor, which must hear of the pool's semaphores
        with self._lock:
            ex = self._executor
            if ex is None or ex._flags.broken or ex._flags.shutdown or ex._max_workers < n_workers:
                from joblib import cpu_count

                size = max(n_workers, ex._max_workers if ex is not None and not ex._flags.broken else 0)
                inner = str(max(1, cpu_count() // size))
                old, ex = (
                    ex,
                    _Pool(
                        max_workers=size,
                        timeout=None,  # a worker waiting with one reads each chunk through a selector
                        initializer=start_worker,
                        initargs=(os.getpid(), Wanted()),
                        env={**dict.fromkeys(_THREAD_VARS, inner), LIGHT_IMPORT: "1"},
                    ),
                )
                self._executor = ex
                self._watch(ex)
                if old is not None and not old._flags.shutdown:
                    old.shutdown(wait=True)  # a smaller pool: its running chunks end first
            return ex

    def _watch(self, ex: Any) -> None:
        """Stop ``ex`` once it has had no work for :data:`IDLE_TIMEOUT` seconds (under the lock)."""
        if self._idle is not None:
            self._idle.end()

        def stop() -> None:
            with self._lock:
                if self._executor is not ex:  # replaced or shut down meanwhile
                    return
                self._executor, self._idle = None, None
            _stop_pool(ex, wait=True, kill=False)  # a chunk submitted just before still runs

        self._idle = IdleStop(ex, IDLE_TIMEOUT, stop)

    def submit(self, func: Any, task: ChunkTask, n_workers: int) -> Future[ChunkOutcome]:
        # One message a chunk, plain data pickled here (worker.transit.chunk_message): shared
        # arrays are references to their file in it.  A payload that is not surely small goes
        # beside it, pickled by loky's feeder as it is sent; loky keeps a chunk's arguments until
        # the callbacks of its future have returned, and the job ends inside them: that payload
        # goes in a box emptied first, so its slices of a shared copy (mapped memory) are not
        # held a moment after the job's result is out.
        message, beside = chunk_message(func, task, _loky_dumps)
        box = [beside]
        args: tuple[Any, ...] = (message,) if beside is None else (message, box)
        ex = self.executor(n_workers)
        try:
            future: Future[ChunkOutcome] = ex.submit(run_message, *args)
        except RuntimeError:
            if self._executor is ex:  # not stopped for idleness meanwhile: a real failure
                raise
            future = self.executor(n_workers).submit(run_message, *args)
        idle = self._idle
        if idle is not None:
            idle.used = time.monotonic()
        if beside is not None:
            future.add_done_callback(lambda _f: box.clear())
        if not _exit_hook:
            _abandon_at_exit()  # after loky's own hook, which it registers on its first submit
        return future

    def received(self, result: Any) -> ChunkOutcome:
        return arrived_outcome(result)

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
        if in_worker():
            return  # a worker's calls run in it: no pool of its own
        ex = self.executor(n_workers)
        self.board  # noqa: B018 -- made now (its folder, the janitor), not by the first call
        setup = tuple(WARM_UP)
        for future in [ex.submit(ready, setup) for _ in range(n_workers)]:
            future.result()

    def warm_up(self, step: Callable[[], None]) -> None:
        """Run ``step`` in the running pool's workers, in the background (none running: nothing to do)."""
        ex = self._executor
        if ex is None or ex._flags.broken or ex._flags.shutdown:
            return
        try:
            for _ in range(ex._max_workers):
                ex.submit(ready, (step,))
        except RuntimeError:  # shut down meanwhile: the next pool runs it as its workers start
            pass

    def shutdown(self) -> None:
        self._let_go(wait=True)

    def abandon(self) -> None:
        self._let_go(wait=False)

    def _let_go(self, *, wait: bool) -> None:
        """Stop the pool and its idle stop; the next call starts a new pool."""
        with self._lock:
            ex, self._executor = self._executor, None
            idle, self._idle = self._idle, None
        if idle is not None:
            idle.end()
        if ex is not None:
            _stop_pool(ex, wait=wait)

    def pool_threads(self) -> list[threading.Thread]:
        """The kernel-side threads of nbparallel's own that live as long as the pool (its idle stop)."""
        idle = self._idle
        return [idle.thread] if idle is not None else []


#: Seconds to wait for a stopped pool's queue threads to end.
FEEDER_WAIT = 5.0

_kept_queues: list[Any] = []  # the queues of pools abandoned at exit (see _stop_pool)


def _stop_pool(ex: Any, *, wait: bool, kill: bool = True) -> None:
    """Stop a pool, killing its workers (``kill=False``: once their chunks end); its queues' locks are released here.

    A queue's last reference is held by its feeder thread, a daemon thread that
    ends a moment after the pool: its semaphores would be unlinked there, and at
    interpreter exit (or once :func:`nbparallel.backends.close` let the resource
    trackers go) their unregistering can be cut off: the tracker says "leaked".  So the queues
    are held here: with ``wait``, until their feeder threads have ended, then
    dropped in this thread; without (at exit), until multiprocessing's exit
    finalizers release their locks in the main thread.
    """
    queues = [q for q in (ex._call_queue, ex._result_queue) if q is not None]
    ex.shutdown(wait=wait, kill_workers=kill)
    if not wait:
        _kept_queues.extend(queues)
        return
    for queue in queues:
        thread = getattr(queue, "_thread", None)
        if thread is not None:
            thread.join(FEEDER_WAIT)


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
    if state is None or not _same_reductions(state[2]):  # a pickler copies them when it is made
        buffer = io.BytesIO()
        state = _dumpers.state = (buffer, loky_reduction._LokyPickler(buffer), _reductions())
    buffer, pickler, _ = state
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


def _reductions() -> tuple[dict[Any, Any], dict[Any, Any]]:
    """The reductions registered now (``copyreg``'s and loky's): what a loky pickler copies when it is made."""
    return dict(copyreg.dispatch_table), dict(loky_reduction._dispatch_table)


def _same_reductions(made: tuple[dict[Any, Any], dict[Any, Any]]) -> bool:
    """No reduction was registered (or replaced) since ``made``: a kept pickler still pickles as a new one would."""
    return copyreg.dispatch_table == made[0] and loky_reduction._dispatch_table == made[1]


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Block ``SIGINT`` in this thread for the block: processes started in it inherit the mask.

    A kernel interrupt signals the whole process group, workers that are still
    starting included.  A worker started with the signal blocked keeps it
    pending until its initializer ignores it (which discards it), so it never
    dies of one; this thread gets an interrupt sent meanwhile when the block ends.
    """
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class _Pool(ProcessPoolExecutor):
    """nbparallel's own loky pool (never loky's process-wide reusable executor)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        claim_semaphores()  # its queues' locks

    def _adjust_process_count(self) -> None:
        # Every spawn goes through here: the first submit, the growth of the pool, and the
        # replacement of a worker that idled out or was killed (from loky's manager thread).
        # A spawn may start multiprocessing's resource tracker, which unblocks SIGINT in the
        # spawning thread once it has started (Python < 3.12): so it is started before the block.
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
        with _sigint_blocked():
            super()._adjust_process_count()
        claim_semaphores()  # the new workers' exit locks: the janitor's to remove if this process is killed

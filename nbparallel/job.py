"""``Job``: one parallel call, its state, its outcomes and its result.

Every job runs its chunks in a thread of its own (``nbparallel-job-N``), so the
caller is never blocked unless it chose to wait.  Outcomes go onto a queue that a
*display pump* reads to drive the progress display and show worker output:

* foreground calls pump in the caller's thread while they wait (so output lands
  in the cell that is running, and Ctrl-C / a kernel interrupt cancels the job);
* background jobs pump in a thread of their own (``nbparallel-display-N``) into
  their widget, whose output area belongs to the cell that started the job.

Every chunk outcome is kept on the job: a failure, a cancel or an interrupt never
throws away chunks that finished.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import itertools
import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from .progress import NoProgress, ProgressSink, ProgressState, WidgetProgress, make_progress
from .runner import Run
from .worker import CancelToken, ChunkOutcome, ChunkTask, RemoteTraceback, interrupt_running, render_traceback

__all__ = ["Job", "ChunkFailure", "JobCancelled", "WorkerDied", "STATUSES", "jobs"]

STATUSES = ("pending", "running", "done", "failed", "cancelled")

#: How many failures are described in full in an error; the rest are counted.
TRACEBACK_LIMIT = 3

#: Seconds a cancelled chunk gets to stop after its interrupt before its worker is killed.
KILL_AFTER = 1.5

_ids = itertools.count(1)
_recent: collections.deque[Job] = collections.deque(maxlen=200)


class _Kills:
    """Counts worker kills nbparallel made, so other jobs hit by them resubmit."""

    generation = 0
    lock = threading.Lock()

    @classmethod
    def bump(cls) -> None:
        with cls.lock:
            cls.generation += 1


def jobs() -> list[Job]:
    """The jobs started in this process (most recent last, up to 200).

    Examples
    --------
    >>> isinstance(jobs(), list)
    True
    """
    return list(_recent)


@dataclass(frozen=True)
class ChunkFailure:
    """A failed chunk: where, what, the worker traceback and what it printed."""

    index: int
    start: int
    stop: int
    item: int | None
    item_repr: str | None
    exception: BaseException
    traceback: str
    output: str

    def describe(self, n_chunks: int) -> str:
        where = f"chunk {self.index} of {n_chunks} (items {self.start}-{self.stop - 1})"
        if self.item is not None:
            return f"item {self.item} ({self.item_repr}) in {where}"
        return where


class JobCancelled(Exception):
    """The result of a cancelled job was asked for."""


class WorkerDied(RuntimeError):
    """A worker process ended while it ran a chunk (killed, crashed, or out of memory)."""


def _pool_broken_errors() -> tuple[type[BaseException], ...]:
    from joblib.externals.loky.process_executor import BrokenProcessPool as LokyBroken

    return (LokyBroken, concurrent.futures.BrokenExecutor)


def _label_output(outcome: ChunkOutcome) -> str:
    return "".join(f"[chunk {outcome.index}] {line}\n" for line in outcome.output.splitlines())


class Job:
    """A parallel call over chunks: state, progress, outcomes and result.

    Made by :func:`~nbparallel.pmap` and :func:`~nbparallel.pmap_chunks`
    (``background=True`` returns it at once). Displaying a job in a notebook
    shows its progress widget.

    Attributes
    ----------
    status : {"pending", "running", "done", "failed", "cancelled"}
    n_done, n_total : int
        Chunks finished (successfully, failed or cancelled) and chunks in all.
    errors : list of ChunkFailure
        Failed chunks, in chunk order.
    output : str
        What the chunks printed, labelled by chunk, in chunk order.
    elapsed, eta : float
        Seconds since start; seconds left at the current rate (``None`` before
        the first chunk finishes).
    """

    def __init__(
        self,
        func: Callable[..., Any],
        tasks: Sequence[ChunkTask],
        finalize: Callable[[list[Any]], Any],
        *,
        n_jobs: int,
        backend: str,
        n_items: int,
        progress: bool | str | None = False,
        background: bool = False,
        label: str = "nbparallel",
    ) -> None:
        self.id = next(_ids)
        self.func = func
        self._control = CancelToken(tempfile.mkdtemp(prefix="nbparallel-job-"))
        self.tasks = [dataclasses.replace(t, control=self._control) for t in tasks]
        self.finalize = finalize
        self.n_jobs = n_jobs
        self.backend = backend
        self.n_items = n_items
        self.label = label
        self.background = background
        self._progress_mode = progress
        self._sink: ProgressSink = NoProgress()
        self._outcomes: dict[int, ChunkOutcome] = {}
        self._status = "pending"
        self._result: Any = None
        self._error: BaseException | None = None
        self._cancel_requested = False
        self._run: Run | None = None
        self._events: queue.Queue[ChunkOutcome | None] = queue.Queue()
        self._finished = threading.Event()
        self._future: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._callbacks: list[Callable[[Job], Any]] = []
        self._hooks: list[Callable[[Job], Any]] = []  # internal, run before waiters wake
        self._hooks_ran = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pump_thread: threading.Thread | None = None
        self._killer: threading.Timer | None = None
        self._shown_in_cell: int | None = None
        self._held: dict[int, ChunkOutcome] = {}
        self._next_shown = 0
        self.started_at: float | None = None
        self.finished_at: float | None = None
        _recent.append(self)

    # -- state ---------------------------------------------------------------------
    @property
    def status(self) -> str:
        """One of ``pending``, ``running``, ``done``, ``failed``, ``cancelled``."""
        return self._status

    @property
    def n_total(self) -> int:
        return len(self.tasks)

    @property
    def n_done(self) -> int:
        return len(self._outcomes)

    @property
    def done_items(self) -> int:
        return sum(o.stop - o.start for o in list(self._outcomes.values()) if not o.cancelled)

    @property
    def elapsed(self) -> float:
        """Seconds since the job started (until it finished)."""
        if self.started_at is None:
            return 0.0
        return (self.finished_at or time.perf_counter()) - self.started_at

    @property
    def eta(self) -> float | None:
        """Estimated seconds left, from the item rate so far."""
        return self._state().eta if not self.done() else 0.0

    @property
    def errors(self) -> list[ChunkFailure]:
        """Failed chunks in chunk order."""
        return [
            ChunkFailure(
                o.index, o.start, o.stop, o.error_item, o.error_item_repr,
                o.error, render_traceback(o.frames, o.exc_only), o.output,
            )
            for _, o in sorted(self._outcomes.items())
            if o.error is not None
        ]

    @property
    def output(self) -> str:
        """Everything the chunks printed, each line labelled with its chunk."""
        return "".join(_label_output(o) for _, o in sorted(self._outcomes.items()) if o.output)

    @property
    def widget(self) -> Any:
        """The progress widget, or ``None`` outside a kernel or with ``progress=False``."""
        return self._sink.widget if isinstance(self._sink, WidgetProgress) else None

    def done(self) -> bool:
        """Whether the job has finished (done, failed or cancelled)."""
        return self._finished.is_set()

    def _state(self) -> ProgressState:
        outcomes = list(self._outcomes.values())
        return ProgressState(
            status=self._status,
            done_items=sum(o.stop - o.start for o in outcomes if not o.cancelled),
            total_items=self.n_items,
            done_chunks=len(outcomes),
            total_chunks=len(self.tasks),
            failed_chunks=sum(o.error is not None for o in outcomes),
            elapsed=self.elapsed,
        )

    # -- starting and waiting ----------------------------------------------------------
    def start(self) -> Job:
        """Start the job's thread and (in the caller's thread) its display."""
        with self._lock:
            if self._status != "pending":
                raise RuntimeError(f"job {self.id} already {self._status}")
            self._status = "running"
        echo = None if self.background else sys.stdout.write
        self._sink = make_progress(
            self._progress_mode, total_items=self.n_items, total_chunks=len(self.tasks),
            desc=self.label, background=self.background, on_cancel=self.cancel, echo=echo,
        )
        self._shown_in_cell = _execution_count() if isinstance(self._sink, WidgetProgress) and self._sink.shown else None
        self.started_at = time.perf_counter()
        self._thread = threading.Thread(target=self._execute, name=f"nbparallel-job-{self.id}", daemon=True)
        self._thread.start()
        if self.background:
            self._pump_thread = threading.Thread(
                target=self._pump_until_done, name=f"nbparallel-display-{self.id}", daemon=True
            )
            self._pump_thread.start()
        return self

    def wait(self) -> None:
        """Wait in this thread, driving the display; an interrupt cancels the job.

        A ``KeyboardInterrupt`` (Ctrl-C, or the kernel's interrupt button) stops
        the running chunks, keeps the finished ones on the job, and is re-raised
        once the workers are free again.
        """
        try:
            self._pump_until_done()
        except KeyboardInterrupt:
            self.cancel()
            self._finished.wait(10 * KILL_AFTER)
            self._drain()
            raise

    def _pump_until_done(self) -> None:
        while not self._pump(0.1):
            pass

    def _drain(self) -> None:
        while True:
            try:
                self._handle(self._events.get_nowait())
            except queue.Empty:
                return

    def _pump(self, timeout: float) -> bool:
        """Show what arrived within ``timeout``; True once the job has finished."""
        try:
            event = self._events.get(timeout=timeout)
        except queue.Empty:
            self._sink.update(self._state())
            return False
        finished = self._handle(event)
        while not finished:
            try:
                finished = self._handle(self._events.get_nowait())
            except queue.Empty:
                break
        if not finished:
            self._sink.update(self._state())
        return finished

    def _handle(self, event: ChunkOutcome | None) -> bool:
        # Worker output is shown in chunk order (a chunk's output waits for the
        # chunks before it), so what a cell shows does not depend on scheduling.
        if event is None:
            for index in sorted(self._held):
                self._show_output(self._held.pop(index))
            self._sink.close(self._state())
            return True
        self._held[event.index] = event
        while self._next_shown in self._held:
            self._show_output(self._held.pop(self._next_shown))
            self._next_shown += 1
        return False

    def _show_output(self, outcome: ChunkOutcome) -> None:
        if outcome.output:
            self._sink.output(outcome.index, _label_output(outcome))

    # -- the job's thread ----------------------------------------------------------------
    def _execute(self) -> None:
        broken = _pool_broken_errors()
        resubmits = 0
        try:
            while True:
                remaining = [t for t in self.tasks if t.index not in self._outcomes]
                if not remaining or self._cancel_requested:
                    break
                generation = _Kills.generation
                self._run = Run(self.func, remaining, n_jobs=self.n_jobs, backend=self.backend)
                try:
                    for outcome in self._run.outcomes():
                        self._outcomes[outcome.index] = outcome
                        if outcome.error is not None or self._cancel_requested:
                            self._run.stop()  # fail fast: running chunks finish, no new ones start
                        self._events.put(outcome)
                    break
                except broken as exc:
                    if self._cancel_requested:
                        break
                    if _Kills.generation != generation and resubmits < 3:
                        resubmits += 1  # another job's cancel killed a shared worker: run ours again
                        continue
                    self._error = self._worker_died(exc)
                    break
        except BaseException as exc:  # noqa: BLE001 - kept for result(), never lost in a thread
            self._error = exc
        finally:
            self._finish()

    def _worker_died(self, exc: BaseException) -> WorkerDied:
        running = sorted({index for index, pid, _ in self._control.running() if not _alive(pid)})
        which = f"chunk(s) {running}" if running else "a chunk"
        err = WorkerDied(
            f"a worker process died while running {which} of job {self.id} "
            f"(killed by a signal, crashed in native code, or out of memory). "
            f"{self.n_done} of {self.n_total} chunks had finished; their results are kept on the job"
        )
        err.__cause__ = exc
        return err

    def _finish(self) -> None:
        if self._killer is not None:
            self._killer.cancel()
        self.finished_at = time.perf_counter()
        try:
            if self._error is None and self.errors:
                self._error = self._build_error()
            if self._error is not None:
                self._status = "failed"
            elif self._cancel_requested or any(o.cancelled for o in self._outcomes.values()) or len(self._outcomes) < len(self.tasks):
                self._status = "cancelled"
            else:
                try:
                    values = [self._outcomes[i].value for i in range(len(self.tasks))]
                    self._result = self.finalize(values)
                    self._status = "done"
                except Exception as exc:  # merging failed: keep the parts, report why
                    self._error = exc
                    self._status = "failed"
        finally:
            shutil.rmtree(self._control.folder, ignore_errors=True)
            with self._lock:
                hooks, self._hooks_ran = list(self._hooks), True
            for hook in hooks:  # run before anyone waiting on the job wakes up
                _call_safely(hook, self)
            with self._lock:
                self._finished.set()
                callbacks = list(self._callbacks)
            self._events.put(None)
            self._future.set_result(None)
            for callback in callbacks:
                _call_safely(callback, self)

    def _build_error(self) -> BaseException:
        failures = self.errors
        first = failures[0]
        exc = first.exception
        if not getattr(exc, "_nbparallel_noted", False):
            note = f"nbparallel: {first.describe(self.n_total)} failed"
            if len(failures) > 1:
                note += f"; {len(failures) - 1} more chunk(s) failed too:"
                for other in failures[1:TRACEBACK_LIMIT]:
                    note += f"\n  - {other.describe(self.n_total)}: {type(other.exception).__name__}: {other.exception}"
                if len(failures) > TRACEBACK_LIMIT:
                    note += f"\n  ... {len(failures) - TRACEBACK_LIMIT} more"
            if first.output:
                note += "\n--- output of that chunk ---\n" + first.output.rstrip()
            try:
                exc.add_note(note)
                exc._nbparallel_noted = True  # type: ignore[attr-defined]
            except AttributeError:  # exceptions with __slots__ cannot take attributes
                pass
            exc.__cause__ = RemoteTraceback(first.traceback)
        return exc

    # -- control -----------------------------------------------------------------------
    def cancel(self) -> bool:
        """Stop the job: running chunks are interrupted, queued ones never start.

        Chunks that finished stay on the job. Worker processes are interrupted,
        not killed, so the pool stays warm; a chunk stuck in native code that
        ignores the interrupt for :data:`KILL_AFTER` seconds has its worker
        killed (other jobs on that worker are re-run transparently).

        Returns
        -------
        bool
            ``False`` if the job had already finished.
        """
        if self.done():
            return False
        self._cancel_requested = True
        try:
            with open(self._control.cancel_file, "w"):
                pass
        except OSError:
            pass
        if self._run is not None:
            self._run.stop()
        interrupt_running(self._control, threads=self.backend == "threading")
        if self.backend == "loky" and self._killer is None:
            self._killer = threading.Timer(KILL_AFTER, self._kill_stuck)
            self._killer.name = f"nbparallel-cancel-{self.id}"
            self._killer.daemon = True
            self._killer.start()
        return True

    def _kill_stuck(self) -> None:
        if self.done():
            return
        stuck = [(i, pid) for i, pid, _ in self._control.running() if pid != os.getpid()]
        if stuck:
            _Kills.bump()
        for _, pid in stuck:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _add_hook(self, fn: Callable[[Job], Any]) -> None:
        """Run ``fn(job)`` when the job ends, before ``result()`` returns to anyone."""
        with self._lock:
            if not self._hooks_ran:
                self._hooks.append(fn)
                return
        _call_safely(fn, self)

    def add_done_callback(self, fn: Callable[[Job], Any]) -> None:
        """Call ``fn(job)`` when the job finishes (at once if it has)."""
        with self._lock:
            if not self.done():
                self._callbacks.append(fn)
                return
        _call_safely(fn, self)

    def result(self, timeout: float | None = None) -> Any:
        """The merged result; raises the chunk's error if the job failed.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait; ``TimeoutError`` when the job is still running then.

        Raises
        ------
        JobCancelled
            If the job was cancelled.
        TimeoutError
            If ``timeout`` passed first.
        """
        if not self._finished.wait(timeout):
            raise TimeoutError(
                f"job {self.id} still {self._status} after {timeout} s ({self.n_done}/{self.n_total} chunks)"
            )
        pump = self._pump_thread
        if pump is not None and pump is not threading.current_thread():
            pump.join(5.0)  # the display shows the final state before the result is handed out
        if self._error is not None:
            raise self._error
        if self._status == "cancelled":
            raise JobCancelled(
                f"job {self.id} was cancelled after {sum(o.ok for o in self._outcomes.values())} of "
                f"{self.n_total} chunks finished; their outcomes are kept on the job"
            )
        return self._result

    def __await__(self) -> Generator[Any, None, Any]:
        async def _wait() -> Any:
            await asyncio.wrap_future(self._future)
            return self.result()

        return _wait().__await__()

    # -- display -----------------------------------------------------------------------
    def __repr__(self) -> str:
        return (
            f"<nbparallel.Job {self.id} {self.label} {self._status}: {self.n_done}/{self.n_total} chunks, "
            f"{self.n_items} items, {self.elapsed:.1f}s>"
        )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self.widget is None:
            print(repr(self))
        elif self._shown_in_cell is None or self._shown_in_cell != _execution_count():
            display(self.widget)  # another view of the same live widget
        # else: the cell that started the job shows its widget already


def _execution_count() -> int | None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return None
    shell = get_ipython()
    return getattr(shell, "execution_count", None) if shell is not None else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return True


def _call_safely(fn: Callable[[Job], Any], job: Job) -> None:
    try:
        fn(job)
    except Exception as exc:  # a callback's bug must not break the job
        print(f"nbparallel: done-callback {fn!r} of job {job.id} raised {exc!r}", file=sys.stderr)

"""``Job``: one parallel call, its state, its outcomes and its result.

Every job runs its chunks in a thread of its own (``nbparallel-job-N``), so the
caller is never blocked unless it chose to wait.  Outcomes go onto a queue that a
*display pump* reads to drive the progress display and show worker output, and
on each tick the pump also enforces per-chunk timeouts:

* foreground calls pump in the caller's thread while they wait (so output lands
  in the cell that is running, and Ctrl-C / a kernel interrupt cancels the job);
* background jobs pump in a thread of their own (``nbparallel-display-N``) into
  their widget, whose output area belongs to the cell that started the job.

Nothing is lost: every chunk outcome is kept on the job, finished chunks survive
failures, cancels, interrupts and crashed workers (``partial_result``), and
``retry_failed`` runs only what is missing.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import itertools
import logging
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from .control import CancelToken, interrupt
from .data.shared import FOLDER_PREFIX as SHARED_PREFIX
from .data.shared import materialize, remove_folder, shared_root
from .display import DisplayMixin, execution_count, label_output
from .errors import ChunkFailure, JobCancelled, annotate, failure_of
from .execution import KILL_AFTER, ExecutionMixin
from .progress import NoProgress, ProgressSink, ProgressState, WidgetProgress, make_progress
from .runner import Run
from .tracebacks import user_frames
from .worker import ChunkOutcome, ChunkTask

__all__ = ["Job", "PartialResult", "STATUSES", "jobs", "last_job"]

log = logging.getLogger("nbparallel")

STATUSES = ("pending", "running", "done", "failed", "cancelled")


_ids = itertools.count(1)
_recent: collections.deque[Job] = collections.deque(maxlen=200)


_FOLDER_PREFIX = "nbparallel-job-"
_swept = False


def _sweep_stale_folders() -> None:
    """Once per process: remove control folders left by processes that died mid-job
    (a kernel restarted or killed while a job ran)."""
    global _swept
    if _swept:
        return
    _swept = True
    for root, prefix in ((tempfile.gettempdir(), _FOLDER_PREFIX), (shared_root(), SHARED_PREFIX)):
        try:
            names = os.listdir(root)
        except OSError:
            continue
        for name in names:
            if not name.startswith(prefix):
                continue
            pid_text = name[len(prefix) :].split("-", 1)[0]
            if pid_text.isdigit() and not _pid_alive(int(pid_text)):
                shutil.rmtree(os.path.join(root, name), ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def jobs() -> list[Job]:
    """The jobs started in this process (most recent last, up to 200).

    Examples
    --------
    >>> isinstance(jobs(), list)
    True
    """
    return list(_recent)


def last_job() -> Job | None:
    """The most recently created job: the way back to a failed foreground call.

    Examples
    --------
    >>> import nbparallel as nbp
    >>> _ = nbp.pmap(abs, [-1], progress=False)
    >>> nbp.last_job().status
    'done'
    """
    return _recent[-1] if _recent else None


@dataclass(frozen=True)
class PartialResult:
    """What finished chunks computed, and which items that covers.

    Attributes
    ----------
    value : object
        The finished chunks' results merged as the full result would be
        (for ``pmap``: the results of the covered items, in order).
    items : list of (int, int)
        ``[start, stop)`` item ranges the value covers.
    missing : list of (int, int)
        Item ranges still missing (failed, cancelled or never run).
    """

    value: Any
    items: list[tuple[int, int]]
    missing: list[tuple[int, int]]

    @property
    def complete(self) -> bool:
        return not self.missing


def _ranges(bounds: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, stop in sorted(bounds):
        if out and out[-1][1] == start:
            out[-1] = (out[-1][0], stop)
        elif stop > start:
            out.append((start, stop))
    return out


class Job(DisplayMixin, ExecutionMixin):
    """A parallel call over chunks: state, progress, outcomes and result.

    Made by :func:`~nbparallel.pmap` and :func:`~nbparallel.pmap_chunks`
    (``background=True`` returns it at once). Displaying a job in a notebook
    shows its progress widget.

    Attributes
    ----------
    status : {"pending", "running", "done", "failed", "cancelled"}
    n_done, n_total : int
        Chunks finished (successfully, failed or cancelled) and chunks in all.
    n_retries : int
        How many times a failing chunk was run again (``retries=``).
    n_cached : int
        Chunks read from the cache instead of computed (``cache=``).
    errors : list of ChunkFailure
        Failed chunks, in chunk order.
    output : str
        What the chunks printed, labelled by chunk, in chunk order.
    elapsed, eta : float
        Seconds since start; seconds left at the current rate.

    Examples
    --------
    >>> import nbparallel as nbp
    >>> job = nbp.pmap(abs, [-1, -2, -3], background=True, progress=False)
    >>> job.result(), job.status, job.n_done == job.n_total
    ([1, 2, 3], 'done', True)
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
        retries: int = 0,
        retry_delay: float = 0.0,
        timeout: float | None = None,
        cache: Any = None,
        seed: int | None = None,
        shared_folder: str | None = None,
    ) -> None:
        self.id = next(_ids)
        self.shared_folder = shared_folder
        if shared_folder is not None:  # freed with the job at the latest (or at exit)
            weakref.finalize(self, remove_folder, shared_folder)
        self.func = func
        self.tasks = list(tasks)
        self.finalize = finalize
        self.n_jobs = n_jobs
        self.backend = backend
        self.n_items = n_items
        self.label = label
        self.background = background
        self.retries = retries
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.cache_location = cache
        self.seed = seed
        self.n_retries = 0
        self.n_cached = 0
        self._progress_mode = progress
        self._sink: ProgressSink = NoProgress()
        self._outcomes: dict[int, ChunkOutcome] = {}
        self._attempts: dict[int, int] = collections.defaultdict(int)
        self._status = "pending"
        self._result: Any = None
        self._error: BaseException | None = None
        self._cancel_requested = False
        self._cancel_event = threading.Event()
        self._run: Run | None = None
        self._control: CancelToken | None = None
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
        self._timeout_flagged: dict[int, float] = {}
        self._killed_for_timeout: set[int] = set()
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
    def n_ok(self) -> int:
        """Chunks that finished successfully."""
        return sum(o.ok for o in list(self._outcomes.values()))

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
        return [failure_of(o, self.func) for _, o in sorted(self._outcomes.items()) if o.error is not None]

    @property
    def output(self) -> str:
        """Everything the chunks printed, each line labelled with its chunk."""
        return "".join(label_output(o) for _, o in sorted(self._outcomes.items()) if o.output)

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
            done_chunks=sum(not o.cancelled for o in outcomes),  # interrupted chunks did not finish
            total_chunks=len(self.tasks),
            failed_chunks=sum(o.error is not None for o in outcomes),
            elapsed=self.elapsed,
        )

    def partial_result(self) -> PartialResult:
        """The merged results of the chunks that finished, and which items they cover.

        Returns
        -------
        PartialResult
            ``value`` (merged like the full result), ``items`` and ``missing``
            item ranges.

        Examples
        --------
        >>> import nbparallel as nbp
        >>> job = nbp.pmap(lambda x: 10 // x, [5, 2, 0, 1], chunks=4, n_jobs=1,
        ...                background=True, progress=False)
        >>> part = (job._finished.wait(), job.partial_result())[1]
        >>> part.value, part.items, part.missing
        ([2, 5], [(0, 2)], [(2, 4)])
        """
        ok = [o for _, o in sorted(self._outcomes.items()) if o.ok]
        if self._status == "done":
            return PartialResult(self._result, _ranges([(t.start, t.stop) for t in self.tasks]), [])
        value = self.finalize(materialize([o.value for o in ok], consume=False)) if ok else None
        items = _ranges([(o.start, o.stop) for o in ok])
        covered = {o.index for o in ok}
        missing = _ranges([(t.start, t.stop) for t in self.tasks if t.index not in covered])
        return PartialResult(value, items, missing)

    # -- starting and waiting ----------------------------------------------------------
    def start(self) -> Job:
        """Start the job's thread and (in the caller's thread) its display."""
        with self._lock:
            if self._status != "pending":
                raise RuntimeError(f"job {self.id} already {self._status}")
            self._status = "running"
        echo = None if self.background else _write_stdout
        _sweep_stale_folders()
        self._control = CancelToken(tempfile.mkdtemp(prefix=f"{_FOLDER_PREFIX}{os.getpid()}-"))
        self._sink = make_progress(
            self._progress_mode,
            total_items=self.n_items,
            total_chunks=len(self.tasks),
            desc=self.label,
            background=self.background,
            on_cancel=self.cancel,
            echo=echo,
        )
        shown = isinstance(self._sink, WidgetProgress) and self._sink.shown
        self._shown_in_cell = execution_count() if shown else None
        self.started_at = time.perf_counter()
        self.finished_at = None
        log.info(
            "job %s (%s) started: %d items in %d chunks on %d %s worker(s)",
            self.id,
            self.label,
            self.n_items,
            len(self.tasks),
            self.n_jobs,
            self.backend,
        )
        self._thread = threading.Thread(target=self._execute, name=f"nbparallel-job-{self.id}", daemon=True)
        self._thread.start()
        if self.background:
            self._pump_thread = threading.Thread(
                target=self._pump_until_done, name=f"nbparallel-display-{self.id}", daemon=True
            )
            self._pump_thread.start()
        return self

    # -- the job's thread ----------------------------------------------------------------
    def _finish(self) -> None:
        if self._killer is not None:
            self._killer.cancel()
        self.finished_at = time.perf_counter()
        try:
            failures = self.errors if self._error is None else []
            if failures:
                self._error = annotate(failures, self.n_total, self)
            if self._error is not None:
                self._status = "failed"
            elif (
                self._cancel_requested
                or len(self._outcomes) < len(self.tasks)
                or any(o.cancelled for o in self._outcomes.values())
            ):
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
            if self._control is not None:
                shutil.rmtree(self._control.folder, ignore_errors=True)
            if self._status == "done":
                remove_folder(self.shared_folder)  # kept otherwise: partial_result/retry_failed need it
            log.info(
                "job %s (%s) %s in %.2f s: %d/%d chunks ok, %d retries, %d from cache",
                self.id,
                self.label,
                self._status,
                self.elapsed,
                self.n_ok,
                self.n_total,
                self.n_retries,
                self.n_cached,
            )
            with self._lock:
                hooks, self._hooks_ran = list(self._hooks), True
            for hook in hooks:  # run before anyone waiting on the job wakes up
                _call_safely(hook, self)
            with self._lock:
                self._finished.set()
                callbacks = list(self._callbacks)
            self._events.put(None)
            for callback in callbacks:
                _call_safely(callback, self)
            if not self._future.done():  # ``await job`` returns after the done-callbacks ran
                self._future.set_result(None)

    # -- control -----------------------------------------------------------------------
    def cancel(self) -> bool:
        """Stop the job: running chunks are interrupted, queued ones never start.

        Chunks that finished stay on the job. Worker processes are interrupted,
        not killed, so the pool stays warm; a chunk stuck in native code that
        ignores the interrupt for :data:`KILL_AFTER` seconds has its worker
        killed (other jobs' chunks on that worker are re-run).

        Returns
        -------
        bool
            ``False`` if the job had already finished.
        """
        if self.done() or self._status == "pending":
            return False
        self._cancel_requested = True
        self._cancel_event.set()
        control = self._control
        if control is not None:
            control.flag(control.cancel_file)
            if self.backend != "dask":  # dask workers see the flag between items
                for chunk in control.running():
                    interrupt(chunk, threads=self.backend == "threading")
        if self._run is not None:
            self._run.stop()
        log.info("job %s: cancel requested", self.id)
        if self.backend == "loky" and self._killer is None:
            self._killer = threading.Timer(KILL_AFTER, self._kill_stuck)
            self._killer.name = f"nbparallel-cancel-{self.id}"
            self._killer.daemon = True
            self._killer.start()
        return True

    @user_frames
    def retry_failed(self, func: Callable[..., Any] | None = None, *, background: bool = False) -> Any:
        """Run only the chunks that failed, were cancelled or never ran, and finish the job.

        Parameters
        ----------
        func : callable, optional
            A fixed function to use from now on (say, after editing it in the
            notebook); by default the job's own.
        background : bool, default=False
            Return the restarted job at once instead of waiting.

        Returns
        -------
        object or Job
            The full result (or the job with ``background=True``).

        Examples
        --------
        >>> import nbparallel as nbp
        >>> try:
        ...     nbp.pmap(lambda x: 10 // x, [5, 0, 2], chunks=3, n_jobs=1, progress=False)
        ... except ZeroDivisionError as err:
        ...     job = err.job
        >>> job.retry_failed(lambda x: 10 // x if x else None)
        [2, None, 5]
        """
        if not self.done():
            raise RuntimeError(f"job {self.id} is still {self._status}; wait for it or cancel it first")
        if self._status == "done":
            return self if background else self._result
        if func is not None:
            self.func = func
            self.label = getattr(func, "__name__", self.label)
        for index in [i for i, o in self._outcomes.items() if not o.ok]:
            del self._outcomes[index]
        self._attempts.clear()
        self._held.clear()
        self._next_shown = 0
        self._timeout_flagged.clear()
        self._killed_for_timeout.clear()
        self._error = None
        self._result = None
        self._cancel_requested = False
        self._cancel_event.clear()
        self._killer = None
        self._run = None
        self._events = queue.Queue()
        self._finished.clear()
        self._future = concurrent.futures.Future()
        self._hooks_ran = False
        self._status = "pending"
        self.background = background
        for outcome in sorted(self._outcomes.values(), key=lambda o: o.index):
            self._events.put(outcome)  # the kept chunks count towards the new display
        self.start()
        if background:
            return self
        self.wait()
        return self.result()

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

    @user_frames
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
                f"job {self.id} was cancelled after {self.n_ok} of {self.n_total} chunks finished; "
                "job.partial_result() has them, job.retry_failed() runs the rest"
            )
        return self._result

    def __await__(self) -> Generator[Any, None, Any]:
        async def _wait() -> Any:
            await asyncio.wrap_future(self._future)
            return self.result()

        return _wait().__await__()

    def __reduce__(self) -> tuple[Any, ...]:
        # A job holds threads and locks; pickling one (say, with an exception that
        # carries it as ``exc.job``) gives its description instead.
        return (str, (f"{self!r} (detached: jobs live in the process that ran them)",))

    # -- display -----------------------------------------------------------------------
    def __repr__(self) -> str:
        return (
            f"<nbparallel.Job {self.id} {self.label} {self._status}: {self.n_done}/{self.n_total} chunks, "
            f"{self.n_items} items, {self.elapsed:.1f}s>"
        )


def _write_stdout(text: str) -> None:
    sys.stdout.write(text)


def _call_safely(fn: Callable[[Job], Any], job: Job) -> None:
    try:
        fn(job)
    except Exception as exc:  # a callback's bug must not break the job
        print(f"nbparallel: done-callback {fn!r} of job {job.id} raised {exc!r}", file=sys.stderr)

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
import dataclasses
import itertools
import logging
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

from .cache import ChunkCache
from .control import CancelToken, ChunkTimedOut, age, interrupt
from .errors import ChunkFailure, JobCancelled, WorkerDied, annotate, failure_of
from .progress import NoProgress, ProgressSink, ProgressState, WidgetProgress, make_progress
from .runner import Run
from .worker import ChunkOutcome, ChunkTask, ChunkTimeout

__all__ = ["Job", "PartialResult", "STATUSES", "jobs", "last_job"]

log = logging.getLogger("nbparallel")

STATUSES = ("pending", "running", "done", "failed", "cancelled")

#: Seconds a chunk gets to stop after its interrupt (cancel or timeout) before its worker is killed.
KILL_AFTER = 1.5

#: How often a job re-runs chunks lost to a worker that another job's cancel killed.
MAX_RESUBMITS = 3

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
    ) -> None:
        self.id = next(_ids)
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
        return [failure_of(o) for _, o in sorted(self._outcomes.items()) if o.error is not None]

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
        value = self.finalize([o.value for o in ok]) if ok else None
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
        echo = None if self.background else sys.stdout.write
        self._control = CancelToken(tempfile.mkdtemp(prefix="nbparallel-job-"))
        self._sink = make_progress(
            self._progress_mode, total_items=self.n_items, total_chunks=len(self.tasks),
            desc=self.label, background=self.background, on_cancel=self.cancel, echo=echo,
        )
        shown = isinstance(self._sink, WidgetProgress) and self._sink.shown
        self._shown_in_cell = _execution_count() if shown else None
        self.started_at = time.perf_counter()
        self.finished_at = None
        log.info("job %s (%s) started: %d items in %d chunks on %d %s worker(s)",
                 self.id, self.label, self.n_items, len(self.tasks), self.n_jobs, self.backend)
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
        """Show what arrived within ``timeout``, enforce timeouts; True once finished."""
        if self.timeout is not None:
            self._watch_timeouts()
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

    def _watch_timeouts(self) -> None:
        """Interrupt chunks running past ``timeout``; kill those that ignore it."""
        control = self._control
        if control is None or self.done():
            return
        threads = self.backend == "threading"
        for chunk in control.running():
            if chunk.index in self._outcomes:
                continue
            flagged = self._timeout_flagged.get(chunk.index)
            if flagged is None and age(chunk) > self.timeout:  # type: ignore[operator]
                self._timeout_flagged[chunk.index] = time.monotonic()
                control.flag(control.timeout_file(chunk.index))
                interrupt(chunk, threads=threads, exc=ChunkTimedOut)
                log.warning("job %s: chunk %d ran past the %s s timeout; stopping it", self.id, chunk.index, self.timeout)
            elif flagged is not None and not threads and time.monotonic() - flagged > KILL_AFTER:
                self._killed_for_timeout.add(chunk.index)
                _Kills.bump()
                try:
                    os.kill(chunk.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    # -- the job's thread ----------------------------------------------------------------
    def _execute(self) -> None:
        try:
            cache = self._open_cache()
            keys = self._read_cache(cache) if cache is not None else {}
            resubmits = 0
            while not self._cancel_requested:
                remaining = [t for t in self.tasks if t.index not in self._outcomes]
                if not remaining:
                    break
                lost = self._run_round(remaining, cache, keys)
                if lost:
                    resubmits += 1
                    if resubmits > MAX_RESUBMITS:
                        self._error = WorkerDied(f"the worker pool broke {resubmits} times while job {self.id} ran")
                        break
                    continue
                if not self._schedule_retries():
                    break
        except BaseException as exc:  # noqa: BLE001 - kept for result(), never lost in a thread
            self._error = exc
        finally:
            self._finish()

    def _open_cache(self) -> ChunkCache | None:
        if self.cache_location is None:
            return None
        mode = self.tasks[0].mode if self.tasks else "items"
        return ChunkCache(self.cache_location, self.func, (mode, self.seed))

    def _read_cache(self, cache: ChunkCache) -> dict[int, str]:
        keys = {}
        for task in self.tasks:
            if task.index in self._outcomes:
                continue
            keys[task.index] = key = cache.key(task.payload)
            hit, value = cache.get(key)
            if hit:
                outcome = ChunkOutcome(task.index, task.start, task.stop, value=value)
                self._outcomes[task.index] = outcome
                self.n_cached += 1
                self._events.put(outcome)
        if self.n_cached:
            log.info("job %s: %d of %d chunks read from the cache", self.id, self.n_cached, len(self.tasks))
        return keys

    def _final_failure(self, outcome: ChunkOutcome) -> bool:
        return outcome.error is not None and self._attempts[outcome.index] >= self.retries

    def _run_round(self, remaining: list[ChunkTask], cache: ChunkCache | None, keys: dict[int, str]) -> bool:
        """Run ``remaining``; True when chunks were lost to a broken pool and must run again."""
        serialize = self.backend != "threading"
        tasks = [dataclasses.replace(t, control=self._control, seed=self.seed, serialize=serialize) for t in remaining]
        generation = _Kills.generation
        self._run = Run(self.func, tasks, n_jobs=self.n_jobs, backend=self.backend)
        if self._cancel_requested:
            return False
        try:
            for outcome in self._run.outcomes():
                self._record(outcome, cache, keys)
        except _pool_broken_errors() as exc:
            if self._cancel_requested:
                return False
            return self._after_broken_pool(exc, generation)
        except Exception as exc:  # the task could not be sent: say which chunk
            if not self._blame_unpicklable_input(remaining, exc):
                raise
        return False

    def _record(self, outcome: ChunkOutcome, cache: ChunkCache | None, keys: dict[int, str]) -> None:
        outcome.load()
        outcome.attempts = self._attempts[outcome.index] + 1
        self._outcomes[outcome.index] = outcome
        if outcome.ok and cache is not None and outcome.index in keys:
            cache.put(keys[outcome.index], outcome.value)
        if outcome.error is not None:
            log.warning("job %s: chunk %d failed (attempt %d): %s: %s", self.id, outcome.index,
                        outcome.attempts, type(outcome.error).__name__, outcome.error)
        if self._final_failure(outcome) or self._cancel_requested:
            assert self._run is not None
            self._run.stop()  # fail fast: running chunks finish, no new ones start
        self._events.put(outcome)

    def _after_broken_pool(self, exc: BaseException, generation: int) -> bool:
        """The pool broke (a worker died); joblib then stops every worker.

        Chunks of ours that nbparallel killed for a timeout become timeout
        failures.  If nbparallel itself killed a worker (a cancel or a timeout,
        of this job or another), the other chunks that were running are
        collateral and run again.  Otherwise a worker crashed or was killed from
        outside while they ran: they become ``WorkerDied`` failures naming the
        likely cause (and may be retried).  Returns True to run again.
        """
        control = self._control
        assert control is not None
        running = [c for c in control.running() if c.index not in self._outcomes]
        for chunk in running:
            try:
                os.remove(control.marker_for(chunk))
            except OSError:
                pass
        ours_killed = [c for c in running if c.index in self._killed_for_timeout]
        for chunk in ours_killed:
            task = self.tasks[chunk.index]
            self._fail(task, ChunkTimeout(
                f"chunk {chunk.index} (items {task.start}-{task.stop - 1}) ran longer than the "
                f"{self.timeout} s timeout, ignored the interrupt, and its worker was killed"
            ))
        others = [c for c in running if c.index not in self._killed_for_timeout]
        if _Kills.generation != generation or not others:
            if others:
                log.info("job %s: chunks %s lost their worker to a deliberate kill; running them again",
                         self.id, sorted(c.index for c in others))
            return True
        which = sorted(c.index for c in others)
        for chunk in others:
            task = self.tasks[chunk.index]
            self._fail(task, WorkerDied(
                f"a worker process died while chunk(s) {which} of job {self.id} were running "
                f"(this one: chunk {chunk.index}, items {task.start}-{task.stop - 1}): {_death_cause(exc)}. "
                "If it is not one of these chunks, a chunk of another job running at the same time crashed it"
            ))
        return False

    def _fail(self, task: ChunkTask, error: BaseException) -> None:
        """Record a failure the worker could not report itself."""
        outcome = ChunkOutcome(task.index, task.start, task.stop, error=error,
                               exc_only=f"{type(error).__name__}: {error}\n")
        self._record(outcome, None, {})

    def _blame_unpicklable_input(self, remaining: list[ChunkTask], exc: Exception) -> bool:
        import cloudpickle

        try:
            cloudpickle.dumps(self.func)
        except Exception as err:  # noqa: BLE001
            raise TypeError(f"the function {self.label!r} cannot be sent to the workers: {err}") from exc
        for task in remaining:
            if task.index in self._outcomes:
                continue
            try:
                cloudpickle.dumps(task.payload)
            except Exception as err:  # noqa: BLE001
                self._fail(task, TypeError(
                    f"the data of chunk {task.index} (items {task.start}-{task.stop - 1}) cannot be sent "
                    f"to the workers: {type(err).__name__}: {err}"
                ))
                return True
        return False

    def _schedule_retries(self) -> bool:
        """Forget failed outcomes that have retries left; True if any will run again."""
        retry = [i for i, o in self._outcomes.items() if o.error is not None and self._attempts[i] < self.retries]
        if not retry:
            return False
        for index in retry:
            del self._outcomes[index]
            self._attempts[index] += 1
            self.n_retries += 1
            if self._control is not None:
                try:
                    os.remove(self._control.timeout_file(index))
                except OSError:
                    pass
            self._timeout_flagged.pop(index, None)
            self._killed_for_timeout.discard(index)
        log.warning("job %s: retrying chunk(s) %s", self.id, sorted(retry))
        if self.retry_delay:
            self._cancel_event.wait(self.retry_delay)
        return not self._cancel_requested

    def _finish(self) -> None:
        if self._killer is not None:
            self._killer.cancel()
        self.finished_at = time.perf_counter()
        try:
            if self._error is None and self.errors:
                self._error = annotate(self.errors, self.n_total, self)
            if self._error is not None:
                self._status = "failed"
            elif self._cancel_requested or len(self._outcomes) < len(self.tasks) or any(
                o.cancelled for o in self._outcomes.values()
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
            log.info("job %s (%s) %s in %.2f s: %d/%d chunks ok, %d retries, %d from cache", self.id, self.label,
                     self._status, self.elapsed, self.n_ok, self.n_total, self.n_retries, self.n_cached)
            with self._lock:
                hooks, self._hooks_ran = list(self._hooks), True
            for hook in hooks:  # run before anyone waiting on the job wakes up
                _call_safely(hook, self)
            with self._lock:
                self._finished.set()
                callbacks = list(self._callbacks)
            self._events.put(None)
            if not self._future.done():
                self._future.set_result(None)
            for callback in callbacks:
                _call_safely(callback, self)

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

    def _kill_stuck(self) -> None:
        if self.done() or self._control is None:
            return
        stuck = [c.pid for c in self._control.running() if c.pid != os.getpid()]
        if stuck:
            _Kills.bump()
        for pid in stuck:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

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

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self.widget is None:
            print(repr(self))
        elif self._shown_in_cell is None or self._shown_in_cell != _execution_count():
            display(self.widget)  # another view of the same live widget
        # else: the cell that started the job shows its widget already


def _death_cause(exc: BaseException) -> str:
    text = str(exc)
    if "SIGKILL" in text or "-9" in text:
        return "it was killed (SIGKILL): most likely the out-of-memory killer; use smaller chunks or fewer workers"
    if "SIGSEGV" in text or "-11" in text:
        return "it crashed in native code (SIGSEGV)"
    if "exit codes" in text:
        return f"it exited unexpectedly (os._exit or a crash): {text.splitlines()[-1] if text else ''}"
    return f"{type(exc).__name__}: {text}"


def _execution_count() -> int | None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return None
    shell = get_ipython()
    return getattr(shell, "execution_count", None) if shell is not None else None


def _call_safely(fn: Callable[[Job], Any], job: Job) -> None:
    try:
        fn(job)
    except Exception as exc:  # a callback's bug must not break the job
        print(f"nbparallel: done-callback {fn!r} of job {job.id} raised {exc!r}", file=sys.stderr)

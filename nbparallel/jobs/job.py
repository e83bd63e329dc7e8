"""``Job``: the handle of one parallel call — status, result, cancel, what finished.

A job plans nothing and runs nothing itself.  It keeps what survives its runs:
its options, its chunks and the outcome of each chunk.  Each run is an
:class:`~.execution.Execution` (``retry_failed`` starts a new one), which owns
that run's status, result, error, notes and timing; the
:mod:`~.supervisor` enforces timeouts and stops stuck chunks, and displays
observe the job through :meth:`Job.subscribe`.  Whether it is done has one
source of truth, the ``finished`` future of its current execution.  No other
module reads or writes a job's private fields (``make lint`` checks it).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..data.shared import remove_folder
from ..errors import ChunkFailure, Failed, JobCancelled
from ..insights.report import report_of
from ..insights.timeline import timeline_of
from ..tracebacks import user_frames, user_stacklevel
from ..worker.task import ChunkOutcome, ChunkTask
from . import registry, runtime, supervisor
from .execution import Execution, call_safely
from .partial import PartialResult, counts_of, partial_of
from .retry import retry
from .state import failure_of, label_output, state_of
from .watchers import Watchers

if TYPE_CHECKING:
    from ..backends.base import Backend
    from ..options import RunOptions

__all__ = ["Job", "PartialResult", "STATUSES"]  # PartialResult: from .partial

log = logging.getLogger("nbparallel")

STATUSES = ("pending", "running", "done", "failed", "cancelled")

_ids = itertools.count(1)


class Job:
    """A parallel call over chunks: status, progress, outcomes and result.

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

    Examples
    --------
    >>> import nbparallel as nbp
    >>> job = nbp.pmap(abs, [-1, -2, -3], background=True, progress=False)
    >>> job.result(), job.status, job.n_done == job.n_total
    ([1, 2, 3], 'done', True)
    """

    #: Reads its input lazily and hands results out as they finish (``imap``, ``pmap`` over an iterator).
    is_stream: bool = False
    #: The caller's option that sets items per chunk (what the report's advice names).
    size_option: str = "chunk_size"

    def __init__(
        self,
        func: Callable[..., Any],
        tasks: Sequence[ChunkTask],
        finalize: Callable[[list[Any]], Any],
        *,
        options: RunOptions,
        backend: Backend,
        n_workers: int,
        n_items: int,
        label: str,
        shared_folder: str | None = None,
        wrap: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None,
    ) -> None:
        self.id = next(_ids)
        self.wrap = wrap  # user's function -> what workers run (see ``plan``)
        self.func = self.runnable(func)
        self.tasks = list(tasks)
        #: The user's function runs per item as given: its cost per item is remembered (see ``pace``).
        self.learns_pace = wrap is None and bool(self.tasks) and self.tasks[0].mode == "items"
        self.finalize = finalize
        self.options = options
        self.backend = backend
        self.n_jobs = n_workers
        self.n_items = n_items
        self.label = label
        self.shared_folder = shared_folder
        if shared_folder is not None:  # freed with the job at the latest
            weakref.finalize(self, remove_folder, shared_folder)
        self.n_retries = 0  # over all runs
        self.n_cached = 0
        self._outcomes: dict[int, ChunkOutcome] = {}  # by chunk; a chunk that runs again gets a new one
        #: errors="collect": the items that raised, as Failed records (its executions add them)
        self.failed_items: list[Failed] = []
        self._execution: Execution | None = None  # the current (or last) run
        self.watchers = Watchers()  # observers, success hooks, done-callbacks
        self._lock = threading.Lock()  # held only while an execution is made (_begin)
        self.display: Any = None  # what shows the job (the runtime sets it before the job starts)
        self.recorder: Any = None  # its timeline's records (nbparallel.insights.timeline makes them)
        registry.register(self)

    def runnable(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """What the workers run for the user's ``func`` (the job's ``wrap`` around it, if any)."""
        return self.wrap(func) if self.wrap is not None else func

    @property
    def execution(self) -> Execution | None:
        """The current run (the last one once the job ended); ``None`` before the job starts."""
        return self._execution

    @property
    def status(self) -> str:
        """One of ``pending``, ``running``, ``done``, ``failed``, ``cancelled``."""
        execution = self._execution
        if execution is None:
            return "pending"
        return execution.status if execution.finished.done() else "running"

    def done(self) -> bool:
        """Whether the job has finished (done, failed or cancelled)."""
        execution = self._execution
        return execution is not None and execution.finished.done()

    @property
    def cancel_requested(self) -> bool:
        """Whether the current run was asked to stop (``cancel()``, an interrupt, the Cancel button)."""
        execution = self._execution
        return execution is not None and execution.cancel_requested

    @property
    def total_items(self) -> int | None:
        """Items in all, ``None`` while unknown (a stream over an input without a length)."""
        return self.n_items

    def counts(self) -> tuple[int, int, int, int]:
        """Items done, chunks done, chunks failed, items failed (for the progress display)."""
        return counts_of(list(self._outcomes.values()), len(self.failed_items))

    def keep_outcome(self, outcome: ChunkOutcome) -> None:
        """Keep a chunk's outcome on the job (its execution calls this once; a stream keeps only failures)."""
        self._outcomes[outcome.index] = outcome

    @property
    def n_total(self) -> int:
        """Chunks in all."""
        return len(self.tasks)

    @property
    def n_done(self) -> int:
        """Chunks that ended (successfully, failed or cancelled)."""
        return len(self._outcomes)

    @property
    def n_ok(self) -> int:
        """Chunks that finished successfully."""
        return sum(o.ok for o in list(self._outcomes.values()))

    @property
    def outcomes(self) -> dict[int, ChunkOutcome]:
        """The outcome of each chunk that ended, by chunk index (a copy)."""
        return dict(self._outcomes)

    @property
    def elapsed(self) -> float:
        """Seconds since the job started (until it finished)."""
        execution = self._execution
        if execution is None:
            return 0.0
        return (execution.finished_at or time.perf_counter()) - execution.started_at

    @property
    def eta(self) -> float | None:
        """Estimated seconds left, from the item rate so far."""
        return state_of(self).eta if not self.done() else 0.0

    @property
    def errors(self) -> list[ChunkFailure | Failed]:
        """Failed chunks in chunk order, then (``errors="collect"``) the failed items in item order."""
        chunks = [failure_of(o, self.func) for _, o in sorted(self._outcomes.items()) if o.error is not None]
        return [*chunks, *sorted(self.failed_items, key=lambda f: f.index)]

    @property
    def output(self) -> str:
        """Everything the chunks printed, each line labelled with its chunk."""
        return "".join(label_output(o) for _, o in sorted(self._outcomes.items()) if o.output)

    @property
    def widget(self) -> Any:
        """The progress widget, or ``None`` outside a kernel or with ``progress=False``."""
        return getattr(self.display, "widget", None)

    def partial_result(self) -> PartialResult:
        """The merged results of the chunks that finished, and which items they cover.

        Returns
        -------
        PartialResult
            ``value`` (merged like the full result), ``items`` and ``missing`` item ranges.

        Examples
        --------
        >>> import nbparallel as nbp
        >>> job = nbp.pmap(lambda x: 10 // x, [5, 2, 0, 1], chunks=4, n_jobs=1,
        ...                background=True, progress=False)
        >>> part = (job.wait(), job.partial_result())[1]
        >>> part.value, part.items, part.missing
        ([2, 5], [(0, 2)], [(2, 4)])
        """
        execution = self._execution
        if execution is not None and self.status == "done":
            return PartialResult(execution.result, [(0, self.n_items)] if self.n_items else [], [])
        return partial_of(self.tasks, self._outcomes, self.finalize)

    def timeline(self) -> Any:
        """Where the time went: a pandas ``DataFrame`` with a row per chunk run (``insights/timeline.py``)."""
        return timeline_of(self)

    def report(self) -> Any:
        """A :class:`~nbparallel.Report`: wall time, speed-up, each worker's use, advice, ``.plot()``."""
        return report_of(self)

    def subscribe(self, observer: Callable[[ChunkOutcome | None], Any]) -> None:
        """Call ``observer(outcome)`` for each chunk that ends, and ``observer(None)`` at the end."""
        self.watchers.subscribe(observer)

    def start(self, tasks: Sequence[ChunkTask] | None = None) -> Job:
        """Start an execution of ``tasks`` (default: all chunks); returns at once."""
        self._begin(list(self.tasks if tasks is None else tasks))
        return self

    def _begin(self, todo: Iterable[ChunkTask], gate: Callable[[], bool] | None = None) -> Execution:
        """A new execution of ``todo`` (a list, or a stream's lazy iterator); chunks that run again lose their old outcome."""
        with self._lock:
            if self._execution is not None and not self._execution.finished.done():
                raise RuntimeError(f"job {self.id} is already running")
            if self._execution is not None and isinstance(todo, list):
                for task in todo:
                    self._outcomes.pop(task.index, None)
            execution = self._execution = Execution(self)
        execution.begin(todo, gate)
        return execution

    def cancel(self) -> bool:
        """Stop the job: running chunks are interrupted, queued ones never start.

        Chunks that finished stay on the job. Worker processes are interrupted,
        not killed, so the pool stays warm; a chunk stuck in native code that
        ignores the interrupt for 1.5 seconds has its worker killed (other
        jobs' chunks on that worker run again).

        Returns
        -------
        bool
            ``False`` if the job was not running.
        """
        if not self.stop_execution():
            return False
        supervisor.watch(self)  # interrupts the running ones; kills the stuck
        log.info("job %s: cancel requested", self.id)
        return True

    def stop_execution(self) -> bool:
        """Flag the chunks in flight and send no more (``False``: nothing was running)."""
        execution = self._execution
        return execution is not None and execution.cancel()

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
        return retry(self, func, background=background)

    def sibling(self, tasks: list[ChunkTask], finalize: Callable[[list[Any]], Any], *, label: str) -> Job:
        """A new job of this one's function, options and backend over ``tasks`` (one item each)."""
        options, backend, n = self.options, self.backend, self.n_jobs
        return Job(
            self.func, tasks, finalize, options=options, backend=backend, n_workers=n, n_items=len(tasks), label=label
        )

    def add_done_callback(self, fn: Callable[[Job], Any]) -> None:
        """Call ``fn(job)`` when the job finishes (at once if it has)."""
        if not self.watchers.add_done_callback(fn, self.done):
            call_safely(fn, self)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the job has finished (``False`` if ``timeout`` seconds passed first)."""
        execution = self._execution
        if execution is None:
            return False
        return execution.finished.wait(timeout)

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
        if not self.wait(timeout):
            raise TimeoutError(
                f"job {self.id} still {self.status} after {timeout} s ({self.n_done}/{self.n_total} chunks)"
            )
        display = self.display
        if display is not None and hasattr(display, "join"):
            display.join(5.0)  # the display shows the final state before the result is handed out
        execution = self._execution
        assert execution is not None  # wait() returned True
        if execution.error is not None:
            raise execution.error
        for category, note in execution.take_notes():
            warnings.warn(note, category, stacklevel=user_stacklevel())
        if execution.status == "cancelled":
            raise JobCancelled(
                f"job {self.id} was cancelled after {self.n_ok} of {self.n_total} chunks finished; "
                "job.partial_result() has them, job.retry_failed() runs the rest"
            )
        return execution.result

    def __await__(self) -> Generator[Any, None, Any]:
        async def _wait() -> Any:
            execution = self._execution
            if execution is not None:
                await asyncio.wrap_future(execution.settled)  # after the done-callbacks ran
            return self.result()

        return _wait().__await__()

    def __reduce__(self) -> tuple[Any, ...]:
        # A job holds futures and locks: pickled (say, as an exception's ``job``), it gives its description.
        return (str, (f"{self!r} (detached: jobs live in the process that ran them)",))

    def __repr__(self) -> str:
        return (
            f"<nbparallel.Job {self.id} {self.label} {self.status}: {self.n_done}/{self.n_total} chunks, "
            f"{self.n_items} items, {self.elapsed:.1f}s>"
        )

    def _ipython_display_(self) -> None:
        runtime.show(self)

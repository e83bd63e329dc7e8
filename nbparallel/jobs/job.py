"""``Job``: the handle of one parallel call — status, result, cancel, what finished.

A job plans nothing and runs nothing itself: each execution is an
:class:`~.attempt.Attempt` (``retry_failed`` starts a new one), the
:mod:`~.supervisor` enforces timeouts and stops stuck chunks, and displays
observe the job through :meth:`Job.subscribe`.  Whether it is done has one
source of truth, the ``finished`` future of its current execution.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Generator, Sequence
from concurrent import futures
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from ..data.shared import remove_folder
from ..errors import ChunkFailure, Failed, JobCancelled
from ..tracebacks import user_frames, user_stacklevel
from ..worker.task import ChunkOutcome, ChunkTask
from . import lifecycle, registry, runtime, supervisor
from .lifecycle import call_safely
from .partial import PartialResult, counts_of, partial_of
from .report import report_of
from .retry import retry
from .state import failure_of, label_output, state_of
from .timeline import timeline_of

if TYPE_CHECKING:
    from ..backends.base import Backend
    from ..options import RunOptions
    from .protocol import Running

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
        self.n_retries = 0
        self.n_cached = 0
        self.cancel_requested = False
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._outcomes: dict[int, ChunkOutcome] = {}
        self._failed_items: list[Failed] = []  # errors="collect": items that raised, in their place
        self._killed_for_timeout: set[int] = set()
        self._attempt: Running | None = None
        self._finished: Future[None] | None = None
        self._settled: Future[None] = Future()  # resolved once the done-callbacks ran (for ``await``)
        self._status = "pending"
        self._result: Any = None
        self._error: BaseException | None = None
        self._observers: list[Callable[[ChunkOutcome | None], Any]] = []
        self._callbacks: list[Callable[[Job], Any]] = []
        self._hooks: list[Callable[[Any], Any]] = []
        self._cache: Any = None
        self._cache_keys: dict[int, str] = {}
        self._lock = threading.RLock()
        self._display: Any = None
        self._notes: list[tuple[type[Warning], str]] = []  # warnings for whoever reads the result
        registry.register(self)

    def runnable(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """What the workers run for the user's ``func`` (the job's ``wrap`` around it, if any)."""
        return self.wrap(func) if self.wrap is not None else func

    @property
    def status(self) -> str:
        """One of ``pending``, ``running``, ``done``, ``failed``, ``cancelled``."""
        if self._finished is None:
            return "pending"
        return self._status if self._finished.done() else "running"

    def done(self) -> bool:
        """Whether the job has finished (done, failed or cancelled)."""
        return self._finished is not None and self._finished.done()

    @property
    def total_items(self) -> int | None:
        """Items in all, ``None`` while unknown (a stream over an input without a length)."""
        return self.n_items

    def _counts(self) -> tuple[int, int, int, int]:
        """Items done, chunks done, chunks failed, items failed (for the progress display)."""
        return counts_of(list(self._outcomes.values()), len(self._failed_items))

    def _keep(self, outcome: ChunkOutcome) -> None:
        """Keep a chunk's outcome on the job (a stream keeps only its failures)."""
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
        if self.started_at is None:
            return 0.0
        return (self.finished_at or time.perf_counter()) - self.started_at

    @property
    def eta(self) -> float | None:
        """Estimated seconds left, from the item rate so far."""
        return state_of(self).eta if not self.done() else 0.0

    @property
    def errors(self) -> list[ChunkFailure | Failed]:
        """Failed chunks in chunk order, then (``errors="collect"``) the failed items in item order."""
        chunks = [failure_of(o, self.func) for _, o in sorted(self._outcomes.items()) if o.error is not None]
        return [*chunks, *sorted(self._failed_items, key=lambda f: f.index)]

    @property
    def output(self) -> str:
        """Everything the chunks printed, each line labelled with its chunk."""
        return "".join(label_output(o) for _, o in sorted(self._outcomes.items()) if o.output)

    @property
    def widget(self) -> Any:
        """The progress widget, or ``None`` outside a kernel or with ``progress=False``."""
        return getattr(self._display, "widget", None)

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
        if self.status == "done":
            return PartialResult(self._result, [(0, self.n_items)] if self.n_items else [], [])
        return partial_of(self.tasks, self._outcomes, self.finalize)

    def timeline(self) -> Any:
        """Where the time went: a pandas ``DataFrame`` with a row per chunk run (``jobs/timeline.py``)."""
        return timeline_of(self)

    def report(self) -> Any:
        """A :class:`~nbparallel.Report`: wall time, speed-up, each worker's use, advice, ``.plot()``."""
        return report_of(self)

    def subscribe(self, observer: Callable[[ChunkOutcome | None], Any]) -> None:
        """Call ``observer(outcome)`` for each chunk that ends, and ``observer(None)`` at the end."""
        with self._lock:
            self._observers.append(observer)

    def _notify(self, event: ChunkOutcome | None) -> None:
        for observer in list(self._observers):
            observer(event)

    def start(self, tasks: Sequence[ChunkTask] | None = None) -> Job:
        """Start an execution of ``tasks`` (default: all chunks); returns at once."""
        lifecycle.begin(self, list(self.tasks if tasks is None else tasks))
        return self

    def _record(self, outcome: ChunkOutcome) -> None:
        """A chunk ended for good in this execution (called once per chunk and attempt)."""
        lifecycle.record(self, outcome)

    def _retrying(self, outcome: ChunkOutcome) -> None:
        """A chunk failed and runs again (``retries``)."""
        lifecycle.retrying(self, outcome)

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
        if not self._stop_attempt():
            return False
        supervisor.watch(self)  # interrupts the running ones; kills the stuck
        log.info("job %s: cancel requested", self.id)
        return True

    def _stop_attempt(self) -> bool:
        """Flag the chunks in flight and send no more (``False``: nothing was running)."""
        attempt = self._attempt
        if attempt is None or self.done():
            return False
        self.cancel_requested = True
        attempt.cancel()
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
        return retry(self, func, background=background)

    def _sibling(self, tasks: list[ChunkTask], finalize: Callable[[list[Any]], Any], *, label: str) -> Job:
        """A new job of this one's function, options and backend over ``tasks`` (one item each)."""
        options, backend, n = self.options, self.backend, self.n_jobs
        return Job(
            self.func, tasks, finalize, options=options, backend=backend, n_workers=n, n_items=len(tasks), label=label
        )

    def _on_success(self, fn: Callable[[Any], Any]) -> None:
        """Call ``fn(result)`` when the job ends done, before ``result()`` returns to anyone."""
        self._hooks.append(fn)

    def add_done_callback(self, fn: Callable[[Job], Any]) -> None:
        """Call ``fn(job)`` when the job finishes (at once if it has)."""
        with self._lock:
            if not self.done():
                self._callbacks.append(fn)
                return
        call_safely(fn, self)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the job has finished (``False`` if ``timeout`` seconds passed first)."""
        finished = self._finished
        return finished is not None and (finished.done() or not futures.wait([finished], timeout).not_done)

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
        display = self._display
        if display is not None and hasattr(display, "join"):
            display.join(5.0)  # the display shows the final state before the result is handed out
        if self._error is not None:
            raise self._error
        notes, self._notes = self._notes, []
        for category, note in notes:
            warnings.warn(note, category, stacklevel=user_stacklevel())
        if self._status == "cancelled":
            raise JobCancelled(
                f"job {self.id} was cancelled after {self.n_ok} of {self.n_total} chunks finished; "
                "job.partial_result() has them, job.retry_failed() runs the rest"
            )
        return self._result

    def __await__(self) -> Generator[Any, None, Any]:
        async def _wait() -> Any:
            if self._finished is not None:
                await asyncio.wrap_future(self._settled)  # after the done-callbacks ran
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

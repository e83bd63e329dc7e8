"""One execution of a job: the single owner of a run's state.

A :class:`~.job.Job` is the handle; each time it runs (``start``, and again for
every ``retry_failed``) it makes a new :class:`Execution`, which owns what that
run decides: its status, result or error, the notes for whoever reads the
result, its timing, whether a cancel was asked for, and which chunks the
supervisor killed for their timeout.  Nothing of a finished execution is
reset: a retry is a new execution over the chunks still missing, and the job
keeps only what survives runs, the outcome of each chunk.

An outcome is recorded once per chunk and execution (:meth:`Execution.record`,
under the execution's lock); :meth:`Execution.conclude` then decides how the
run ended, exactly once.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from ..cache import ChunkCache
from ..data import pace
from ..data.merge import collect_notes
from ..data.shared import holds_inputs, remove_folder
from ..errors import Failed, SplitGroupWarning, annotate, exception_text
from ..insights import timeline
from ..tracebacks import render_traceback
from ..worker.setup import new_call
from ..worker.task import ChunkOutcome, ChunkTask
from . import supervisor
from .attempt import Attempt
from .state import failure_of
from .watchers import Latch

if TYPE_CHECKING:
    from .protocol import JobLike

__all__ = ["Execution", "call_safely", "release_inputs"]

log = logging.getLogger("nbparallel")


class Execution:
    """One run of ``job``'s chunks (made by :meth:`Job.start <nbparallel.Job.start>`).

    Attributes
    ----------
    finished : Latch
        Set once the run has concluded (the one source of truth for "done").
    settled : Future
        Resolved after the job's done-callbacks ran (what ``await job`` waits for).
    status : {"running", "done", "failed", "cancelled"}
    result, error
        The merged result (``done``) or the exception the job raises (``failed``).
    started_at, finished_at : float or None
        ``time.perf_counter()`` at the start and the end of the run.
    attempt : Attempt or None
        What submits the chunks and collects their outcomes.
    """

    def __init__(self, job: JobLike) -> None:
        self.job = job
        self.finished = Latch()
        self._settled: Future[None] | None = None  # made when someone waits for it (few do)
        self._has_settled = False
        self.status = "running"
        self.result: Any = None
        self.error: BaseException | None = None
        self.started_at = time.perf_counter()
        self.finished_at: float | None = None
        self.cancel_requested = False
        self.attempt: Attempt | None = None
        self.cache: ChunkCache | None = None
        self.cache_keys: dict[int, str] = {}
        self._notes: list[tuple[type[Warning], str]] = []
        self._timed_out: set[int] = set()
        self._recorded: set[int] = set()
        self._lock = threading.Lock()

    # -- starting ----------------------------------------------------------------------
    def begin(self, todo: Iterable[ChunkTask], gate: Callable[[], bool] | None = None) -> None:
        """Start running ``todo``: cache look-ups and packing here, in the caller's thread.

        ``todo`` is a list, or a lazy iterator of chunks (a stream; ``gate`` says
        when the stream's consumer has room for more).
        """
        job = self.job
        new_call()  # per-worker setups in this process look at their code again
        timeline.begin(job)  # the wall-clock span, for the timeline (``elapsed`` keeps perf_counter)
        try:
            if job.options.cache is not None and isinstance(todo, list):
                self.cache = ChunkCache(job.options.cache, job.func, (todo[0].mode if todo else "", job.options.seed))
                todo = self._read_cache(todo)
            func = job.backend.prepare(job.func, job.label)
            attempt = Attempt(job, self, todo, job.backend, job.n_jobs, func, self.conclude, gate=gate)
            with self._lock:  # a cancel from now on reaches the attempt; one before it is read below
                self.attempt = attempt
        except BaseException as exc:  # nothing ran: the run ends failed, with the cause (cancelled: Ctrl-C)
            if isinstance(exc, KeyboardInterrupt):
                self.cancel_requested = True
            else:
                self.error = exc
            self.conclude()
            raise
        if log.isEnabledFor(logging.INFO):  # its arguments cost more than the rest of a small call's start
            log.info(
                "job %s (%s) started: %s items in %s chunks on %d %s worker(s)",
                job.id,
                job.label,
                job.total_items if job.total_items is not None else "a stream of",
                len(todo) if isinstance(todo, list) else "growing",
                job.n_jobs,
                job.backend.name,
            )
        try:
            if job.options.timeout is not None:
                supervisor.watch(job)
            attempt.start()
            if self.cancel_requested:  # cancelled while it was being prepared (packing, cache look-ups)
                attempt.cancel()
        except KeyboardInterrupt:  # Ctrl-C while sending: a cancel (what was sent is stopped too)
            self.cancel()
            raise
        except BaseException as exc:  # starting failed part way: what was sent ends, then the run fails
            self.error = exc
            attempt.stop()
            raise

    def _read_cache(self, tasks: list[ChunkTask]) -> list[ChunkTask]:
        assert self.cache is not None
        hits, self.cache_keys = self.cache.lookup(tasks)
        for outcome in hits:
            self.record(outcome)
        self.job.n_cached += len(hits)
        if hits:
            log.info("job %s: %d of %d chunks read from the cache", self.job.id, len(hits), len(self.job.tasks))
        found = {o.index for o in hits}
        return [t for t in tasks if t.index not in found]

    # -- control -----------------------------------------------------------------------
    def cancel(self) -> bool:
        """Flag the chunks in flight and send no more (``False``: the run has ended).

        A run still being prepared (its function packed, its cache read) is
        cancelled as soon as its attempt starts: what it sent is flagged at once.
        """
        with self._lock:
            if self.finished.done():
                return False
            self.cancel_requested = True
            attempt = self.attempt
        if attempt is not None:
            attempt.cancel()
        return True

    def kill_for_timeout(self, chunk: int) -> None:
        """The supervisor kills ``chunk``'s worker because it ignored its timeout."""
        with self._lock:
            self._timed_out.add(chunk)

    def killed_for_timeout(self, chunk: int) -> bool:
        """Whether ``chunk`` lost its worker to its own timeout (not to a crash); asked once per loss.

        The answer is taken: a retry of the chunk that loses its worker later lost it to something else.
        """
        with self._lock:
            if chunk not in self._timed_out:
                return False
            self._timed_out.discard(chunk)
            return True

    # -- chunks ending -----------------------------------------------------------------
    def record(self, outcome: ChunkOutcome) -> None:
        """A chunk ended for good in this run: keep it, cache it, tell the observers (once per chunk)."""
        job = self.job
        with self._lock:
            if outcome.index in self._recorded:
                raise RuntimeError(f"job {job.id}: chunk {outcome.index} was recorded twice in one execution")
            self._recorded.add(outcome.index)
        timeline.note(job, outcome)
        if outcome.n_failed and outcome.ok:
            outcome = dataclasses.replace(outcome, value=self._render_failed(outcome.value))
        job.keep_outcome(outcome)
        if outcome.ok and not outcome.n_failed and self.cache is not None and outcome.index in self.cache_keys:
            self.cache.put(self.cache_keys[outcome.index], outcome.value)
        if outcome.error is not None:
            log.warning(
                "job %s: chunk %d failed (attempt %d): %s: %s",
                job.id,
                outcome.index,
                outcome.attempts,
                type(outcome.error).__name__,
                exception_text(outcome.error),  # text, not the exception: a kept log record must not keep the job
            )
        job.watchers.notify(outcome)

    def _render_failed(self, values: list[Any]) -> list[Any]:
        """Failed records get their traceback with source lines (this process knows the notebook's code)."""
        rendered = list(values)
        for i, value in enumerate(values):
            if isinstance(value, Failed):
                exc_only = "".join(traceback.format_exception_only(type(value.exception), value.exception))
                text = render_traceback(value.frames, exc_only, self.job.func)
                rendered[i] = value = dataclasses.replace(value, traceback=text)
                self.job.failed_items.append(value)
        return rendered

    def retrying(self, outcome: ChunkOutcome) -> None:
        """A chunk failed and will run again."""
        job = self.job
        job.n_retries += 1
        timeline.note(job, outcome, retried=True)
        log.warning(
            "job %s: chunk %d failed (attempt %d): %s: %s; retrying chunk(s) [%d]",
            job.id,
            outcome.index,
            outcome.attempts,
            type(outcome.error).__name__,
            exception_text(outcome.error),
            outcome.index,
        )

    # -- the end -------------------------------------------------------------------------
    def conclude(self) -> None:
        """The run is over: decide the status, merge, run hooks, resolve ``finished`` (once)."""
        job = self.job
        with self._lock:
            if self.finished_at is not None:
                return
            self.finished_at = time.perf_counter()
        timeline.end(job)
        outcomes = job.outcomes
        failures = []
        cancelled = False
        for outcome in outcomes.values():
            if outcome.error is not None:
                failures.append(outcome)
            cancelled = cancelled or outcome.cancelled
        if self.error is None and failures:
            failures.sort(key=_chunk_index)
            self.error = annotate([failure_of(o, job.func) for o in failures], job.n_total, job)
        failed_items = job.failed_items
        if self.error is not None:
            status = "failed"
        elif self.cancel_requested or cancelled or len(outcomes) < len(job.tasks):
            status = "cancelled"
        else:
            try:
                with collect_notes() as notes:
                    self.result = job.finalize([outcomes[i].value for i in range(len(job.tasks))])
                if notes:  # warned by result(), in the caller's thread
                    self._notes = [(SplitGroupWarning, note) for note in notes]
                status = "done"
            except Exception as exc:  # merging failed: keep the parts, report why
                self.error, status = exc, "failed"
        if status == "done" and failed_items:
            total = job.total_items
            self._notes.append(
                (
                    UserWarning,
                    f"nbparallel: {len(failed_items)} of {total if total is not None else 'the'} items of job "
                    f"{job.id} failed and are nbparallel.Failed records in the results (job.errors lists them)",
                )
            )
        self.status = status
        if status == "done" and not failed_items:
            self._learn_pace(outcomes)
            release_inputs(job)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "job %s (%s) %s in %.2f s: %d/%d chunks ok, %d retries, %d from cache",
                job.id,
                job.label,
                status,
                self.finished_at - self.started_at,
                job.n_ok,
                job.n_total,
                job.n_retries,
                job.n_cached,
            )
        if status == "done":
            job.watchers.succeeded(self.result, job.id)  # before anyone waiting on the job wakes up
        job.watchers.notify(None)
        callbacks = job.watchers.resolve(self.finished)
        if not callbacks:
            self._settle()
            return
        # Not here: this is the thread that delivers the backend's results, and a callback may
        # wait on nbparallel (a retry, another call), which would then wait on itself.
        threading.Thread(
            target=self._call_back, args=(callbacks,), name=f"nbparallel-done-{job.id}", daemon=True
        ).start()

    def _call_back(self, callbacks: list[Callable[[Any], Any]]) -> None:
        try:
            for callback in callbacks:
                call_safely(callback, self.job)
        finally:
            self._settle()

    @property
    def settled(self) -> Future[None]:
        """Resolved after the job's done-callbacks ran (what ``await job`` waits for)."""
        with self._lock:
            if self._settled is None:
                self._settled = Future()
                # Running: an awaiter that gives up (asyncio.wait_for) cannot cancel it for the others.
                self._settled.set_running_or_notify_cancel()
                if self._has_settled:
                    self._settled.set_result(None)
            return self._settled

    def _settle(self) -> None:
        with self._lock:
            self._has_settled = True
            settled = self._settled
        if settled is not None:
            settled.set_result(None)

    def take_notes(self) -> list[tuple[type[Warning], str]]:
        """The warnings for whoever reads the result, handed out once."""
        with self._lock:
            notes, self._notes = self._notes, []
        return notes

    def _learn_pace(self, outcomes: dict[int, ChunkOutcome]) -> None:
        """Remember what an item of a plain ``pmap``'s function cost (see :mod:`.pace`)."""
        job = self.job
        if not job.learns_pace or job.n_cached:
            return
        seconds, items = 0.0, 0
        for outcome in outcomes.values():
            seconds += outcome.elapsed
            items += outcome.stop - outcome.start
        pace.remember(job.func, seconds, items)


def _chunk_index(outcome: ChunkOutcome) -> int:
    return outcome.index


def call_safely(fn: Callable[[Any], Any], job: JobLike) -> None:
    try:
        fn(job)
    except Exception as exc:  # a callback's bug must not break the job
        print(f"nbparallel: done-callback {fn!r} of job {job.id} raised {exc!r}", file=sys.stderr)


def release_inputs(job: JobLike) -> None:
    """Drop a job's inputs once nothing can run again (done, and no Failed item left to retry).

    The chunks' slices of the shared copy would otherwise keep its deleted file
    mapped; ``partial_result`` and ``retry_failed`` need them until then.
    """
    job.tasks = [t.but(payload=None) for t in job.tasks]
    if job.shared_folder is not None:
        inputs = holds_inputs(job.shared_folder)
        remove_folder(job.shared_folder)
        if inputs:  # slices of the copy may sit in reference cycles (futures, callbacks) for a while
            gc.collect()

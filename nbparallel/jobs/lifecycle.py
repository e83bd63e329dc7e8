"""A job's lifecycle: starting an execution, recording chunks, deciding how it ended.

The :class:`~.job.Job` handle delegates here, so it stays a handle: what it
shows and what the user can do with it.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from ..data.merge import collect_notes
from ..data.shared import holds_inputs, remove_folder
from ..errors import Failed, SplitGroupWarning, annotate, exception_text
from ..tracebacks import render_traceback
from ..worker.task import ChunkOutcome, ChunkTask
from . import pace, supervisor, timeline
from .attempt import Attempt
from .cache import ChunkCache
from .state import failure_of

if TYPE_CHECKING:
    from .protocol import JobLike

__all__ = ["begin", "record", "retrying", "conclude", "call_safely", "release_inputs"]

log = logging.getLogger("nbparallel")


def begin(job: JobLike, todo: Iterable[ChunkTask], gate: Callable[[], bool] | None = None) -> None:
    """Start an execution of ``todo``: cache look-ups and packing here, in the caller's thread.

    ``todo`` is a list, or a lazy iterator of chunks (a stream; ``gate`` says
    when the stream's consumer has room for more).
    """
    from ..worker.setup import new_call

    new_call()  # per-worker setups in this process look at their code again
    with job._lock:
        if job._finished is not None and not job._finished.done():
            raise RuntimeError(f"job {job.id} is already running")
        job._finished, job._settled = Future(), Future()
        job._finished.set_running_or_notify_cancel()
        job.cancel_requested = False
        job._killed_for_timeout = set()
        job.started_at, job.finished_at = time.perf_counter(), None
    timeline.begin(job)  # the wall-clock span, for the timeline (``elapsed`` keeps perf_counter)
    try:
        if job.options.cache is not None and isinstance(todo, list):
            job._cache = ChunkCache(job.options.cache, job.func, (todo[0].mode if todo else "", job.options.seed))
            todo = _read_cache(job, todo)
        func = job.backend.prepare(job.func, job.label)
        attempt = job._attempt = Attempt(job, todo, job.backend, job.n_jobs, func, gate=gate)
    except BaseException as exc:  # nothing ran: the job ends failed, with the cause
        job._error = exc
        conclude(job)
        raise
    log.info(
        "job %s (%s) started: %s items in %s chunks on %d %s worker(s)",
        job.id,
        job.label,
        job.total_items if job.total_items is not None else "a stream of",
        len(todo) if isinstance(todo, list) else "growing",
        job.n_jobs,
        job.backend.name,
    )
    attempt.finished.add_done_callback(lambda _f: conclude(job))
    try:
        if job.options.timeout is not None:
            supervisor.watch(job)
        attempt.start()
    except BaseException as exc:  # starting failed part way: what was sent ends, then the job fails
        job._error = exc
        attempt.stop()
        raise


def _read_cache(job: JobLike, tasks: list[ChunkTask]) -> list[ChunkTask]:
    hits, job._cache_keys = job._cache.lookup(tasks)
    for outcome in hits:
        record(job, outcome)
    job.n_cached += len(hits)
    if hits:
        log.info("job %s: %d of %d chunks read from the cache", job.id, len(hits), len(job.tasks))
    return [t for t in tasks if t.index not in {o.index for o in hits}]


def record(job: JobLike, outcome: ChunkOutcome) -> None:
    """A chunk ended for good in this execution: keep it, cache it, tell the observers."""
    timeline.note(job, outcome)
    if outcome.n_failed and outcome.ok:
        _render_failed(job, outcome.value)
    job._keep(outcome)
    if outcome.ok and not outcome.n_failed and job._cache is not None and outcome.index in job._cache_keys:
        job._cache.put(job._cache_keys[outcome.index], outcome.value)
    if outcome.error is not None:
        log.warning(
            "job %s: chunk %d failed (attempt %d): %s: %s",
            job.id,
            outcome.index,
            outcome.attempts,
            type(outcome.error).__name__,
            exception_text(outcome.error),  # text, not the exception: a kept log record must not keep the job
        )
    job._notify(outcome)


def _render_failed(job: JobLike, values: list[Any]) -> None:
    """Failed records get their traceback with source lines (this process knows the notebook's code)."""
    for i, value in enumerate(values):
        if isinstance(value, Failed):
            exc_only = "".join(traceback.format_exception_only(type(value.exception), value.exception))
            text = render_traceback(value.frames, exc_only, job.func)
            values[i] = value = dataclasses.replace(value, traceback=text)
            job._failed_items.append(value)


def retrying(job: JobLike, outcome: ChunkOutcome) -> None:
    """A chunk failed and will run again."""
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


def conclude(job: JobLike) -> None:
    """The execution is over: decide the status, merge, run hooks, resolve ``finished``."""
    job.finished_at = time.perf_counter()
    timeline.end(job)
    failures = [o for _, o in sorted(job._outcomes.items()) if o.error is not None]
    if job._error is None and failures:
        job._error = annotate([failure_of(o, job.func) for o in failures], job.n_total, job)
    if job._error is not None:
        job._status = "failed"
    elif (
        job.cancel_requested or len(job._outcomes) < len(job.tasks) or any(o.cancelled for o in job._outcomes.values())
    ):
        job._status = "cancelled"
    else:
        try:
            with collect_notes() as notes:
                job._result = job.finalize([job._outcomes[i].value for i in range(len(job.tasks))])
            job._notes = [(SplitGroupWarning, note) for note in notes]  # warned by result(), in the caller's thread
            job._status = "done"
        except Exception as exc:  # merging failed: keep the parts, report why
            job._error, job._status = exc, "failed"
    if job._status == "done" and job._failed_items:
        total = job.total_items
        job._notes.append(
            (
                UserWarning,
                f"nbparallel: {len(job._failed_items)} of {total if total is not None else 'the'} items of job "
                f"{job.id} failed and are nbparallel.Failed records in the results (job.errors lists them)",
            )
        )
    if job._status == "done" and not job._failed_items:
        _learn_pace(job)
        release_inputs(job)
    log.info(
        "job %s (%s) %s in %.2f s: %d/%d chunks ok, %d retries, %d from cache",
        job.id,
        job.label,
        job._status,
        job.elapsed,
        job.n_ok,
        job.n_total,
        job.n_retries,
        job.n_cached,
    )
    if job._status == "done":
        for hook in list(job._hooks):  # before anyone waiting on the job wakes up
            try:
                hook(job._result)
            except Exception as exc:  # a hook's bug must not break the job
                print(f"nbparallel: hook {hook!r} of job {job.id} raised {exc!r}", file=sys.stderr)
    job._notify(None)
    assert job._finished is not None
    with job._lock:
        job._finished.set_result(None)
        callbacks = list(job._callbacks)
    for callback in callbacks:
        call_safely(callback, job)
    job._settled.set_result(None)


def _learn_pace(job: JobLike) -> None:
    """Remember what an item of a plain ``pmap``'s function cost (see :mod:`.pace`)."""
    if not job.learns_pace or job.n_cached:
        return
    outcomes = job._outcomes.values()
    pace.remember(job.func, sum(o.elapsed for o in outcomes), sum(o.stop - o.start for o in outcomes))


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

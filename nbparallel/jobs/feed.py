"""A job whose chunks are handed to it one at a time, with no total known in advance.

Some front ends do not own their loop: joblib's ``Parallel`` decides when each
batch is dispatched (from the caller's thread, then from the callbacks of
finished batches) and waits for the results in its own way.  A
:class:`FeedJob` is the runtime's side of such a call:

* :meth:`FeedJob.put` hands over one chunk and returns a
  :class:`~concurrent.futures.Future` of the chunk's value (``func(payload)``),
  which fails with the worker's own exception, or with
  :class:`~nbparallel.JobCancelled` when the job is cancelled first;
* :meth:`FeedJob.close` says no more chunks will come; the job then ends once
  the chunks handed over have ended.

Everything else comes from the runtime as for any job: chunks run on the job's
backend with the pool kept warm, worker output is captured per chunk, the job
can be cancelled (Cancel button, ``job.cancel()``, an interrupt), and a
display observes it.  Like a stream (:mod:`~.stream`), the job keeps counters
and failures, not the values: those go to the futures.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

from ..errors import JobCancelled, RemoteTraceback
from ..worker.task import ChunkOutcome, ChunkTask
from .counted import CountedJob
from .job import Job
from .partial import PartialResult
from .state import failure_of

__all__ = ["FeedJob"]


def _nothing(parts: list[Any]) -> None:
    return None


class FeedJob(CountedJob):
    """A job fed chunk by chunk by its caller (see the module).

    Examples
    --------
    >>> from nbparallel.backends import get_backend
    >>> from nbparallel.options import RunOptions
    >>> job = FeedJob(sum, options=RunOptions(progress=False).resolved(), backend=get_backend("threading"),
    ...               n_workers=2, label="sum").start()
    >>> futures = [job.put([1, 2], 2), job.put([3], 1)]
    >>> job.close(); [f.result() for f in futures], job.result(), job.status
    ([3, 3], None, 'done')
    """

    #: joblib's ``Parallel`` sizes its batches (the chunks here) with ``batch_size``.
    size_option = "batch_size"

    def __init__(self, func: Callable[..., Any], *, total: Callable[[], int | None] | None = None, **kwargs: Any):
        super().__init__(func, [], _nothing, n_items=0, **kwargs)
        self._total = total
        self._pending: collections.deque[ChunkTask] = collections.deque()
        self._claimed = 0  # chunks the attempt's gate let through and has not taken yet
        self._closed = False
        self._futures: dict[int, Future[Any]] = {}
        self._feed_lock = threading.Lock()
        self.subscribe(self._settle)

    # -- the caller's side -------------------------------------------------------------
    def put(self, payload: Any, n_items: int) -> Future[Any]:
        """Hand over one chunk: ``func(payload)`` runs on a worker; ``n_items`` counts for progress.

        Returns
        -------
        Future
            The chunk's value, or its exception (the worker's own type).
        """
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()
        with self._feed_lock:
            ended = self.done() or self._closed
            if not ended:
                index, start = self._n_chunks, self.n_items
                self._n_chunks += 1
                self.n_items = start + n_items
                self._futures[index] = future
                self._pending.append(ChunkTask(index, start, start + n_items, payload, "chunk"))
        if ended:
            future.set_exception(self._why_ended())
            return future
        self._kick()  # sent now, from the caller's thread
        return future

    def close(self) -> None:
        """No more chunks: the job ends once those handed over have ended."""
        with self._feed_lock:
            self._closed = True
        self._kick()  # reads the end of the feed

    # -- the attempt's side --------------------------------------------------------------
    def _gate(self) -> bool:
        """May the attempt read the next chunk? (Called under its lock, once per read.)"""
        with self._feed_lock:
            if self._closed:
                return True  # the next read gives a chunk, or the end
            if len(self._pending) > self._claimed:
                self._claimed += 1
                return True
            return False

    def _feed(self) -> Iterator[ChunkTask]:
        while True:
            with self._feed_lock:
                if not self._pending:
                    return  # only once closed (the gate let no read through otherwise)
                self._claimed = max(0, self._claimed - 1)
                task = self._pending.popleft()
            yield task

    def start(self, tasks: Any = None) -> Job:
        if tasks is not None:
            raise TypeError("a feed job is fed by its caller (put); it cannot start with given chunks")
        self._begin(self._feed(), gate=self._gate)
        return self

    # -- a chunk ended -------------------------------------------------------------------
    def _settle(self, outcome: ChunkOutcome | None) -> None:
        """Resolve the chunk's future (an observer of the job); at the end, every future left."""
        if outcome is None:
            with self._feed_lock:
                left, self._futures = list(self._futures.values()), {}
                self._pending.clear()
            for waiting in left:
                if not waiting.done():
                    waiting.set_exception(self._why_ended())
            return
        with self._feed_lock:
            future: Future[Any] | None = self._futures.pop(outcome.index, None)
        if future is None or future.done():
            return
        if outcome.error is not None:
            error = outcome.error
            failure = failure_of(outcome, self.func)
            if '  File "' in failure.traceback and error.__cause__ is None:
                error.__cause__ = RemoteTraceback(failure.traceback)
            future.set_exception(error)
        elif outcome.cancelled:
            future.set_exception(self._why_ended())
        else:
            future.set_result(outcome.value)

    def _why_ended(self) -> BaseException:
        return JobCancelled(
            f"job {self.id} ({self.label}) was cancelled after {self.n_ok} of {self.n_total} batches finished"
            if self.cancel_requested or self.status == "cancelled"
            else f"job {self.id} ({self.label}) has ended ({self.status}): it takes no more batches"
        )

    # -- a handle that keeps counters, not values ----------------------------------------
    @property
    def total_items(self) -> int | None:
        total = self._total() if self._total is not None else None
        if total is None and (self._closed or self.done()):
            return self.n_items
        return total

    def keep_outcome(self, outcome: ChunkOutcome) -> None:
        self._count(outcome)
        if not outcome.ok:
            super().keep_outcome(outcome)

    def partial_result(self) -> PartialResult:
        raise TypeError(f"job {self.id} handed each batch's result to its caller ({self.label}); none are kept")

    def retry_failed(self, func: Callable[..., Any] | None = None, *, background: bool = False) -> Any:
        raise TypeError(f"job {self.id} was fed by its caller ({self.label}), which decides what runs again")

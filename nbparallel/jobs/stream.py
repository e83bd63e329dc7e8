"""A job over a lazily read input: chunks sized from measured item cost, results handed out as they finish.

* :class:`ChunkSizer` starts with one item per chunk and grows chunks (at most
  doubling) while items are cheap, aiming at :data:`TARGET_SECONDS` per chunk.
* :func:`chunk_source` reads the input lazily into :class:`ChunkTask` s; the
  job's :class:`~.attempt.Attempt` pulls from it only when a chunk may be sent.
* :class:`StreamJob` keeps counters, not outcomes (only failures are kept),
  unless it was made for ``pmap`` over an iterator (``keep=True``: the results
  are the call's result, the input is still never held).
* :class:`Stream` is the iterator ``imap`` returns: a bounded reorder buffer
  (``ordered=True``) or chunks as they finish; the gate holds the reading back
  while :data:`BUFFERED_PER_WORKER` chunks per worker are read and not yet
  consumed, so memory does not grow with the input.  Breaking out of the loop,
  ``close()`` and garbage collection cancel the rest.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import JobInterrupted
from ..worker.task import ChunkOutcome, ChunkTask
from .counted import CountedJob
from .job import Job
from .partial import PartialResult

if TYPE_CHECKING:
    from .runtime import Viewer

__all__ = ["ChunkSizer", "chunk_source", "StreamJob", "Stream", "TARGET_SECONDS", "MAX_CHUNK"]

#: Seconds of work a streamed chunk aims at (measured per item in the workers).
TARGET_SECONDS = 0.1

#: Most items in one streamed chunk (bounds the memory of chunks in flight).
MAX_CHUNK = 8192

#: Chunks per worker that may be read and not yet consumed (in flight or waiting in the reorder buffer).
BUFFERED_PER_WORKER = 4


class ChunkSizer:
    """Chunk sizes from measured item cost: start at one item, grow while items are cheap.

    Examples
    --------
    >>> s = ChunkSizer()
    >>> s.next_size()
    1
    >>> s.observe(0.001, 1); s.next_size()  # 1 ms an item: grow, at most doubling
    2
    >>> s.observe(0.5, 1); s.next_size()  # 0.5 s an item: one at a time
    1
    """

    def __init__(self, fixed: int | None = None, *, target: float = TARGET_SECONDS, cap: int = MAX_CHUNK) -> None:
        self.fixed = fixed
        self.target = target
        self.cap = cap
        self._size = 1
        self._lock = threading.Lock()

    def next_size(self) -> int:
        return self.fixed if self.fixed is not None else self._size

    def observe(self, elapsed: float, n_items: int) -> None:
        """A chunk of ``n_items`` items ran for ``elapsed`` seconds in its worker."""
        if n_items <= 0:
            return
        per_item = elapsed / n_items
        want = self.cap if per_item <= 0 else int(self.target / per_item)
        with self._lock:
            self._size = max(1, min(want, 2 * self._size, self.cap))


def chunk_source(
    datas: tuple[Any, ...], *, sizer: ChunkSizer, task: Callable[[int, int, Any], ChunkTask]
) -> Iterator[ChunkTask]:
    """Read ``datas`` (zipped like ``map`` when several) lazily into chunks of ``sizer``'s sizes.

    When the input raises part way through a chunk, the items read before the
    error still make a chunk; the error is raised on the next read, so no item
    that was read is lost.

    Examples
    --------
    >>> def broken():
    ...     yield from (1, 2, 3)
    ...     raise OSError("disk gone")
    >>> chunks = chunk_source((broken(),), sizer=ChunkSizer(2), task=lambda i, a, p: (i, a, p))
    >>> next(chunks), next(chunks)
    ((0, 0, [1, 2]), (1, 2, [3]))
    >>> next(chunks)
    Traceback (most recent call last):
    OSError: disk gone
    """
    star = len(datas) > 1
    items: Iterator[Any] = zip(*datas) if star else iter(datas[0])
    start = 0
    failed: BaseException | None = None
    for index in itertools.count():
        piece: list[Any] = []
        try:
            piece.extend(itertools.islice(items, sizer.next_size()))
        except Exception as exc:  # read what came before it first
            if not piece:
                raise
            failed = exc
        if not piece:
            return
        payload = tuple(list(column) for column in zip(*piece, strict=True)) if star else piece
        yield task(index, start, payload)
        start += len(piece)
        if failed is not None:
            raise failed


class StreamJob(CountedJob):
    """A job whose chunks are read from its input as they are needed (see the module)."""

    is_stream = True

    def __init__(
        self,
        func: Callable[..., Any],
        datas: tuple[Any, ...],
        finalize: Callable[[list[Any]], Any],
        *,
        length: int | None,
        keep: bool,
        ordered: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(func, [], finalize, n_items=0, **kwargs)
        self.length = length
        self.keep = keep
        self.ordered = ordered
        options = self.options
        self.sizer = ChunkSizer(options.chunk_size)
        star = len(datas) > 1

        def task(index: int, start: int, payload: Any) -> ChunkTask:
            return self._read(
                ChunkTask(
                    index,
                    start,
                    start + len(payload[0] if star else payload),
                    payload,
                    "items",
                    star,
                    seed=options.seed,
                    timeout=options.timeout,
                    collect=options.errors == "collect",
                )
            )

        self._source = chunk_source(datas, sizer=self.sizer, task=task)
        self.inbox: queue.SimpleQueue[ChunkOutcome | None] = queue.SimpleQueue()
        self._outstanding = 0  # chunks read and not yet consumed
        self._limit = BUFFERED_PER_WORKER * max(1, self.n_jobs)
        self._iterated = False
        if not keep:
            self.subscribe(self.inbox.put)

    # -- reading ---------------------------------------------------------------------
    def _read(self, task: ChunkTask) -> ChunkTask:
        """A chunk was read from the input (called by the chunk source)."""
        with self._counter_lock:
            self._n_chunks += 1
            self.n_items = task.stop
            if not self.keep:
                self._outstanding += 1
        if self.keep:  # bounds only: what partial_result reports
            self.tasks.append(ChunkTask(task.index, task.start, task.stop, None, task.mode, task.star))
        return task

    def _room(self) -> bool:
        return self.keep or self._outstanding < self._limit

    def consumed(self) -> None:
        """The loop took one chunk's results: room for one more."""
        with self._counter_lock:
            self._outstanding -= 1
        self._kick()

    # -- a handle that keeps counters, not outcomes ----------------------------------
    @property
    def total_items(self) -> int | None:
        if self.done() and self.status == "done":
            return self.n_items
        return self.length

    def keep_outcome(self, outcome: ChunkOutcome) -> None:
        with self._counter_lock:  # the input raised while this chunk was read: it counts as one, failed
            self._n_chunks = max(self._n_chunks, outcome.index + 1)
        self._count(outcome)
        self.sizer.observe(outcome.elapsed, outcome.stop - outcome.start)
        if self.keep or not outcome.ok:
            super().keep_outcome(outcome)

    def start(self, tasks: Any = None) -> Job:
        if tasks is not None:
            raise TypeError("a stream reads its own input; it cannot start with given chunks")
        self._begin(self._source, gate=self._room)
        return self

    def partial_result(self) -> PartialResult:
        if not self.keep:
            raise TypeError(
                f"job {self.id} is a stream (imap): its results were handed to the loop as they finished and "
                "are not kept; collect them in the loop"
            )
        return super().partial_result()

    def retry_failed(self, func: Callable[..., Any] | None = None, *, background: bool = False) -> Any:
        raise TypeError(
            f"job {self.id} read its input from an iterator once and did not keep it, so nothing can run "
            "again; the failures (job.errors, or the Failed records with errors='collect') name the items"
        )

    def __iter__(self) -> Iterator[Any]:
        return self.stream()

    def stream(self, display: Viewer | None = None) -> Stream:
        """The iterator over the results (once per job)."""
        if self.keep:
            raise TypeError("this job collects its results into a list: use job.result()")
        with self._counter_lock:
            if self._iterated:
                raise RuntimeError(f"job {self.id}'s results are already being iterated (one loop per stream)")
            self._iterated = True
        return Stream(self, display)


class Stream:
    """The iterator of a stream's results (what :func:`~nbparallel.imap` returns).

    ``close()`` (also on breaking out of a ``for`` loop and on garbage
    collection) cancels the rest of the job.
    """

    def __init__(self, job: StreamJob, display: Viewer | None) -> None:
        self.job = job
        self._display = display
        self._ordered = job.ordered
        self._buffer: dict[int, ChunkOutcome] = {}
        self._ready: list[ChunkOutcome] = []
        self._next = 0
        self._current: Iterator[Any] = iter(())
        self._ended = False
        self._closed = False

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> Any:
        for value in self._current:
            return value
        try:
            while True:
                outcome = self._take()
                if outcome is not None:
                    values = self._open(outcome)
                    if values is not None:
                        self._current = iter(values)
                        for value in self._current:
                            return value
                    continue
                if self._ended or self._closed:
                    self._finish()
                    raise StopIteration
                self._wait()
        except KeyboardInterrupt:
            self._interrupted()
            raise AssertionError("unreachable") from None

    def _take(self) -> ChunkOutcome | None:
        if self._ordered:
            outcome = self._buffer.pop(self._next, None)
            if outcome is not None:
                self._next += 1
            return outcome
        return self._ready.pop(0) if self._ready else None

    def _open(self, outcome: ChunkOutcome) -> list[Any] | None:
        """The values of a chunk taken from the buffer; raises the job's error for a failed chunk.

        In input order the error comes after the results before it, as ``map``
        raises; unordered, after every chunk that finished (the job's end raises it).
        """
        self.job.consumed()
        if outcome.error is not None:
            if not self._ordered:
                return None
            self._finish()
            self.job.result()  # raises the annotated error (the job has ended: fail fast)
        if outcome.cancelled or outcome.value is None:
            return None
        values, outcome.value = outcome.value, None  # handed out: the stream keeps nothing
        return values

    def _wait(self) -> None:
        display = self._display
        try:
            event = self.job.inbox.get(timeout=0.1 if display is not None else None)
        except queue.Empty:
            if display is not None:
                display.pump(0.0)
            return
        if display is not None:
            display.pump(0.0)
        if event is None:
            self._ended = True
        elif self._ordered:
            self._buffer[event.index] = event
        else:
            self._ready.append(event)

    def _finish(self) -> None:
        """The job ended (or the loop left): show the rest, raise its error if it failed."""
        job = self.job
        job.wait()
        if self._display is not None:
            self._display.run()
            self._display = None
        if job.status == "failed" and not self._closed:
            job.result()

    def _interrupted(self) -> None:
        from .runtime import stop_waiting

        stop_waiting(self.job, self._display)
        self._closed = True
        raise JobInterrupted(
            f"job {self.job.id} ({self.job.label}) interrupted after {self.job.counts()[0]} items; the rest is cancelled"
        ) from None

    def close(self) -> None:
        """Stop: cancel what is running and what was not read yet (results not taken are dropped)."""
        if self._closed:
            return
        self._closed = True
        self._buffer.clear()
        self._ready.clear()
        self._current = iter(())
        job = self.job
        if not job.done():
            job.cancel()
        display, self._display = self._display, None
        if display is not None:  # a foreground display shows how it ended
            from .supervisor import KILL_AFTER

            job.wait(10 * KILL_AFTER)
            display.drain()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # never raise from a finalizer (interpreter shutdown)
            pass

"""One execution of a job's chunks on a backend: submit, collect outcomes, retry, resubmit.

An :class:`Attempt` keeps a few chunks in flight per worker and is driven by the
chunks' futures: each finished chunk records its outcome on the job and submits
the next one, so a call needs no thread of its own.  ``retry_failed`` makes a
new attempt over the chunks still missing; nothing is reset by hand.

The tasks are a list, or a lazy iterator of chunks (a stream, see
:mod:`~nbparallel.jobs.stream`): it is read only when a chunk may be sent, and
a ``gate`` (the stream's consumer) can hold reading back until it has taken
the results already delivered; :meth:`Attempt.kick` then sends more.
"""

from __future__ import annotations

import _thread
import collections
import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Future
from typing import TYPE_CHECKING, Any

from ..errors import ChunkTimeout, UnpicklableResult, WorkerDied
from ..insights import timeline
from ..worker.board import CANCEL
from ..worker.task import ChunkOutcome, ChunkTask

if TYPE_CHECKING:
    from ..backends.base import Backend
    from .protocol import JobLike, Run

__all__ = ["Attempt", "MAX_RESUBMITS"]

log = logging.getLogger("nbparallel")

#: How often a chunk runs again after losing its worker to someone else's deliberate kill.
MAX_RESUBMITS = 3


#: What an ended flight holds instead of its chunk (nothing reads it again).
_ENDED = ChunkTask(-1, 0, 0, None)


@dataclasses.dataclass
class _InFlight:
    task: ChunkTask
    slot: int
    kills: int  # the backend's deliberate kills when it was submitted
    queued: float = 0.0  # time.time() when it was submitted (0: its timeline is not recorded)


class Attempt:
    """Run ``tasks`` of ``job`` on ``backend`` with ``n_workers`` workers.

    ``on_finished()`` is called once, when every chunk has its outcome, or
    once the attempt was stopped and the chunks in flight have ended.
    """

    def __init__(
        self,
        job: JobLike,
        execution: Run,
        tasks: Iterable[ChunkTask],
        backend: Backend,
        n_workers: int,
        func: Any,
        on_finished: Callable[[], None],
        *,
        gate: Callable[[], bool] | None = None,
    ) -> None:
        self.job = job
        self.execution = execution  # where outcomes are recorded
        self.backend = backend
        self.n_workers = n_workers
        self.func = func
        self._on_finished: Callable[[], None] | None = on_finished  # called once (then None)
        lazy = type(tasks) is not list and isinstance(tasks, Iterator)  # a list: no ABC check per call
        self._queue: collections.deque[ChunkTask] = collections.deque(() if lazy else tasks)
        self._source: Iterator[ChunkTask] | None = tasks if lazy else None  # type: ignore[assignment]
        self._source_lock = threading.Lock()  # the source is read by one thread at a time, outside _lock
        self._pulling = 0
        self._gate = gate
        self._fail_fast = job.options.errors == "raise"
        self._in_flight: dict[int, _InFlight] = {}
        self._tries: dict[int, int] = {}
        self._resubmits: dict[int, int] = {}
        self._lock = _thread.RLock()  # threading.RLock() is a Python call that makes this one
        self._stopping = False
        self._window = backend.prefetch(n_workers)
        self.board = backend.board  # one board for the whole attempt, even if the backend makes a new one
        self._waiting: dict[int, tuple[ChunkTask, threading.Timer]] = {}  # retries after a delay
        self._standing: dict[int, ChunkOutcome] = {}  # a failure whose retry is not sent yet: it stands if none is

    # -- control ---------------------------------------------------------------------
    def start(self) -> None:
        self._fill()

    def stop(self) -> None:
        """Submit nothing more; chunks in flight end (and are still recorded)."""
        with self._lock:
            self._stopping = True
            waiting, self._waiting = self._waiting, {}
            standing, self._standing = self._standing, {}
        for _task, timer in waiting.values():
            timer.cancel()
        for outcome in standing.values():
            self.execution.record(outcome)  # its retry will not come: the failure stands
        self._maybe_finish()

    def cancel(self) -> None:
        """Flag the chunks in flight (a queued one sees it when it starts) and send no more."""
        if self.board is not None:
            for _chunk, slot in self.in_flight():
                self.board.flag(slot, CANCEL)
        self.stop()

    def kick(self) -> None:
        """Send more chunks if there is room (the stream's consumer took some results)."""
        self._fill()

    def in_flight(self) -> list[tuple[int, int]]:
        """``(chunk, board row)`` of the chunks submitted and not yet ended."""
        with self._lock:
            return [(i, f.slot) for i, f in self._in_flight.items()]

    # -- submitting --------------------------------------------------------------------
    def _fill(self) -> None:
        board = self.board
        timed = timeline.recording()
        while True:
            task = self._take()
            if task is None:
                break
            with self._lock:
                if self._stopping:
                    break
                slot = board.acquire(self.job.id, task.index) if board is not None else -1
                flight = self._in_flight[task.index] = _InFlight(
                    task, slot, self.backend.kills, time.time() if timed else 0.0
                )
                self._standing.pop(task.index, None)  # its retry is sent: the retry's outcome is recorded
            sent = task.but(
                board=board if slot >= 0 else None,
                slot=slot,
                serialize=self.backend.processes,
                serial_seeds=self.backend.serial_seeds,
                timed=timed,
            )
            try:
                future = self.backend.submit(self.func, sent, self.n_workers)
            except Exception as exc:  # the chunk could not be sent (say, unpicklable data)
                self._ended(flight, self._not_sent(task, exc))
                continue
            future.add_done_callback(functools.partial(self._on_done, flight))
        self._maybe_finish()

    def _take(self) -> ChunkTask | None:
        """The next chunk to send: a retry first, then the next one of the source; ``None``: not now."""
        with self._lock:
            if self._stopping or len(self._in_flight) + self._pulling >= self._window:
                return None
            if self._queue:
                return self._queue.popleft()
            if self._source is None or (self._gate is not None and not self._gate()):
                return None
            self._pulling += 1
        task = None
        try:
            with self._source_lock:
                source = self._source
                task = next(source, None) if source is not None else None
                if task is None:
                    self._source = None  # read to the end
        except Exception as exc:  # the input itself raised: the job fails with it
            self._source = None
            self._input_failed(exc)
        finally:
            with self._lock:
                self._pulling -= 1
        return task

    def _input_failed(self, exc: BaseException) -> None:
        index = self.job.n_total
        outcome = ChunkOutcome(index, 0, 0)
        outcome.error, outcome.exc_only = exc, f"{type(exc).__name__}: {exc}\n"
        exc.add_note(f"nbparallel: reading the input of job {self.job.id} raised this (in the kernel)")
        self.execution.record(outcome)  # the source is over; the chunks read before it still run (not stop())

    def _not_sent(self, task: ChunkTask, exc: BaseException) -> ChunkOutcome:
        outcome = ChunkOutcome(task.index, task.start, task.stop)
        if isinstance(exc, ConnectionError):  # the backend lost its cluster (a dask Client closed): in its words
            outcome.fail(ConnectionError(f"chunk {task.index} (items {task.start}-{task.stop - 1}) did not run: {exc}"))
            return outcome
        if isinstance(exc, OSError):  # the pool could not start (say, /dev/shm full): not the data's fault
            outcome.fail(
                OSError(
                    exc.errno,
                    f"chunk {task.index} could not be sent: the {self.backend.name} workers could not be "
                    f"started or reached: {exc.strerror or exc}",
                )
            )
            return outcome
        outcome.fail(
            TypeError(
                f"the data of chunk {task.index} (items {task.start}-{task.stop - 1}) cannot be sent "
                f"to the workers: {type(exc).__name__}: {exc}"
            )
        )
        return outcome

    # -- a chunk ended ---------------------------------------------------------------
    def _on_done(self, flight: _InFlight, future: Future[ChunkOutcome]) -> None:
        # No local holds the chunk's task: the job may end inside _ended below, and its data
        # (slices of a shared copy) must not outlive that for as long as this frame does.
        try:
            result = future.result()
        except CancelledError:
            outcome = ChunkOutcome(flight.task.index, flight.task.start, flight.task.stop, cancelled=True)
        except BaseException as exc:
            board = self.board  # its row still tells whether the chunk had started (released below)
            was_running = board is not None and board.is_running(flight.slot)
            cause = self.backend.lost_worker(exc)
            if cause is None:
                outcome = self._not_sent(flight.task, exc)
            else:
                lost = self._lost_worker(flight, cause, was_running)
                if lost is None:
                    return
                outcome = lost
        else:
            try:
                outcome = self.backend.received(result)
            except Exception as exc:  # what the worker sent cannot be rebuilt here (not the chunk's data)
                outcome = ChunkOutcome(flight.task.index, flight.task.start, flight.task.stop)
                outcome.fail(
                    UnpicklableResult(
                        f"the outcome of chunk {flight.task.index} (items {flight.task.start}-"
                        f"{flight.task.stop - 1}) cannot be read in the kernel: {type(exc).__name__}: {exc}"
                    )
                )
        self._ended(flight, outcome)

    def _lost_worker(self, flight: _InFlight, cause: str, was_running: bool) -> ChunkOutcome | None:
        """A worker died; the outcome to record, or ``None`` when the chunk runs again."""
        task = flight.task
        outcome = ChunkOutcome(task.index, task.start, task.stop)
        if self.execution.cancel_requested:  # killed because it ignored the cancel
            outcome.cancelled = True
            return outcome
        if self.execution.killed_for_timeout(task.index):
            ending = "its worker was killed" if self.backend.can_kill_workers else "its task was released"
            outcome.fail(
                ChunkTimeout.of_chunk(
                    task.index, task.start, task.stop, self.job.options.timeout, f"ignored the interrupt, so {ending}"
                )
            )
            return outcome
        innocent = not was_running or self.backend.kills != flight.kills
        if innocent and self._resubmits.get(task.index, 0) < MAX_RESUBMITS and not self._stopping:
            self._resubmits[task.index] = self._resubmits.get(task.index, 0) + 1
            log.info("job %s: chunk %d lost its worker (%s); running it again", self.job.id, task.index, cause)
            with self._lock:
                self._release(flight)
                self._queue.appendleft(task)
            # Not from this thread: it may be the broken pool's own, which a new pool shuts down.
            threading.Thread(target=self._fill, name=f"nbparallel-resubmit-{self.job.id}", daemon=True).start()
            return None
        running = sorted(i for i, f in self.in_flight())
        outcome.fail(
            WorkerDied(
                f"a worker process died while chunk(s) {running} of job {self.job.id} were running "
                f"(this one: chunk {task.index}, items {task.start}-{task.stop - 1}): {cause}. "
                "If it is not one of these chunks, a chunk of another job running at the same time crashed it"
            )
        )
        return outcome

    def _release(self, flight: _InFlight) -> None:
        if self._in_flight.get(flight.task.index) is flight:
            del self._in_flight[flight.task.index]
            if self.board is not None:
                self.board.release(flight.slot)

    def _ended(self, flight: _InFlight, outcome: ChunkOutcome) -> None:
        outcome.load()
        if flight.queued:
            outcome.queued, outcome.returned = flight.queued, time.time()
        task = flight.task
        with self._lock:
            self._release(flight)
            # The future's callback keeps the flight alive a while: not the chunk (nor its data) with it.
            flight.task = _ENDED
            outcome.attempts = self._tries[task.index] = self._tries.get(task.index, 0) + 1
            retry = outcome.error is not None and outcome.attempts <= self.job.options.retries and not self._stopping
            timer = None
            if retry:  # decided and queued at once: a stop() from now on records the failure
                self.execution.retrying(outcome)
                timer = self._later(task, outcome)
        if retry:
            if timer is None:
                self._fill()
            else:
                timer.start()
            return
        del task  # its data: not held while the job ends (in _fill) and its caller wakes up
        self.execution.record(outcome)
        if (outcome.error is not None and self._fail_fast) or outcome.cancelled:
            self.stop()  # fail fast: running chunks end, no new ones start
        else:
            self._fill()

    def _later(self, task: ChunkTask, outcome: ChunkOutcome) -> threading.Timer | None:
        """Queue ``task`` to run again (under the lock); the timer to start for the job's ``retry_delay``."""
        self._standing[task.index] = outcome
        delay = self.job.options.retry_delay
        if not delay:
            self._queue.appendleft(task)
            return None
        timer = threading.Timer(delay, self._again, args=(task.index,))
        timer.name, timer.daemon = f"nbparallel-retry-{self.job.id}", True
        self._waiting[task.index] = (task, timer)
        return timer

    def _again(self, index: int) -> None:
        with self._lock:
            entry = self._waiting.pop(index, None)
            if entry is None:
                return
            self._queue.appendleft(entry[0])
        self._fill()

    def _maybe_finish(self) -> None:
        with self._lock:
            done = (
                not self._in_flight
                and not self._waiting
                and not self._pulling
                and (self._stopping or (not self._queue and self._source is None))
            )
            if not done or self._on_finished is None:
                return
            on_finished, self._on_finished = self._on_finished, None
        on_finished()

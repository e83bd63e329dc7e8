"""How a job runs its chunks: rounds on the runner, cache, retries, timeouts, broken pools.

Mixed into :class:`~nbparallel.job.Job`; runs in the job's own thread (except
``_watch_timeouts``, which the display pump calls, and ``_kill_stuck``, a timer).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from .control import CancelToken, ChunkTimedOut, age, interrupt
from .data.cache import ChunkCache
from .errors import WorkerDied, check_func_sendable
from .runner import Run
from .worker import ChunkOutcome, ChunkTask, ChunkTimeout

__all__ = ["ExecutionMixin", "KILL_AFTER", "MAX_RESUBMITS"]

log = logging.getLogger("nbparallel")

#: Seconds a chunk gets to stop after its interrupt (cancel or timeout) before its worker is killed.
KILL_AFTER = 1.5

#: How often a job re-runs chunks lost to a worker that another job's cancel killed.
MAX_RESUBMITS = 3


class _Kills:
    """Counts worker kills nbparallel made, so other jobs hit by them resubmit."""

    generation = 0
    lock = threading.Lock()

    @classmethod
    def bump(cls) -> None:
        with cls.lock:
            cls.generation += 1


def _pool_broken_errors() -> tuple[type[BaseException], ...]:
    from joblib.externals.loky.process_executor import BrokenProcessPool as LokyBroken

    return (LokyBroken, concurrent.futures.BrokenExecutor)


def _death_cause(exc: BaseException) -> str:
    text = str(exc)
    if "SIGKILL" in text or "-9" in text:
        return "it was killed (SIGKILL): most likely the out-of-memory killer; use smaller chunks or fewer workers"
    if "SIGSEGV" in text or "-11" in text:
        return "it crashed in native code (SIGSEGV)"
    if "exit codes" in text:
        return f"it exited unexpectedly (os._exit or a crash): {text.splitlines()[-1] if text else ''}"
    return f"{type(exc).__name__}: {text}"


class ExecutionMixin:
    """Execution methods of :class:`~nbparallel.job.Job` (state lives there)."""

    # The Job's state these methods use (declared here for the type checker).
    _outcomes: dict[int, ChunkOutcome]
    _attempts: dict[int, int]
    tasks: list[ChunkTask]
    id: int
    func: Callable[..., Any]
    label: str
    backend: str
    n_jobs: int
    retries: int
    retry_delay: float
    timeout: float | None
    seed: int | None
    cache_location: Any
    n_cached: int
    n_retries: int
    _error: BaseException | None
    _run: Run | None
    _control: CancelToken | None
    _events: queue.Queue[ChunkOutcome | None]
    _cancel_event: threading.Event
    _cancel_requested: bool
    _timeout_flagged: dict[int, float]
    _killed_for_timeout: set[int]
    done: Callable[[], bool]
    _finish: Callable[[], None]

    def _watch_timeouts(self) -> None:
        """Interrupt chunks running past ``timeout``; kill those that ignore it."""
        control = self._control
        if control is None or self.done():
            return
        threads = self.backend == "threading"
        signals = self.backend != "dask"  # dask workers: flag files only (checked between items)
        for chunk in control.running():
            if chunk.index in self._outcomes:
                continue
            flagged = self._timeout_flagged.get(chunk.index)
            if flagged is None and self.timeout is not None and age(chunk) > self.timeout:
                self._timeout_flagged[chunk.index] = time.monotonic()
                control.flag(control.timeout_file(chunk.index))
                if signals:
                    interrupt(chunk, threads=threads, exc=ChunkTimedOut)
                log.warning(
                    "job %s: chunk %d ran past the %s s timeout; stopping it", self.id, chunk.index, self.timeout
                )
            elif flagged is not None and self.backend == "loky" and time.monotonic() - flagged > KILL_AFTER:
                self._killed_for_timeout.add(chunk.index)
                _Kills.bump()
                try:
                    os.kill(chunk.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

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
        except BaseException as exc:
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
            log.warning(
                "job %s: chunk %d failed (attempt %d): %s: %s",
                self.id,
                outcome.index,
                outcome.attempts,
                type(outcome.error).__name__,
                outcome.error,
            )
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
            self._fail(
                task,
                ChunkTimeout(
                    f"chunk {chunk.index} (items {task.start}-{task.stop - 1}) ran longer than the "
                    f"{self.timeout} s timeout, ignored the interrupt, and its worker was killed"
                ),
            )
        others = [c for c in running if c.index not in self._killed_for_timeout]
        if _Kills.generation != generation or not others:
            if others:
                log.info(
                    "job %s: chunks %s lost their worker to a deliberate kill; running them again",
                    self.id,
                    sorted(c.index for c in others),
                )
            return True
        which = sorted(c.index for c in others)
        for chunk in others:
            task = self.tasks[chunk.index]
            self._fail(
                task,
                WorkerDied(
                    f"a worker process died while chunk(s) {which} of job {self.id} were running "
                    f"(this one: chunk {chunk.index}, items {task.start}-{task.stop - 1}): {_death_cause(exc)}. "
                    "If it is not one of these chunks, a chunk of another job running at the same time crashed it"
                ),
            )
        return False

    def _fail(self, task: ChunkTask, error: BaseException) -> None:
        """Record a failure the worker could not report itself."""
        outcome = ChunkOutcome(
            task.index, task.start, task.stop, error=error, exc_only=f"{type(error).__name__}: {error}\n"
        )
        self._record(outcome, None, {})

    def _blame_unpicklable_input(self, remaining: list[ChunkTask], exc: Exception) -> bool:
        import cloudpickle

        check_func_sendable(self.func, self.label)  # e.g. a function given to retry_failed
        for task in remaining:
            if task.index in self._outcomes:
                continue
            try:
                cloudpickle.dumps(task.payload)
            except Exception as err:
                self._fail(
                    task,
                    TypeError(
                        f"the data of chunk {task.index} (items {task.start}-{task.stop - 1}) cannot be sent "
                        f"to the workers: {type(err).__name__}: {err}"
                    ),
                )
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

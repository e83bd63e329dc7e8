"""A job that counts its chunks as they come and go instead of keeping each outcome.

A stream (:mod:`~.stream`) and a job fed by its caller (:mod:`~.feed`) do not
know their chunks in advance and hand the values on rather than keep them, so
their progress is counters: chunks made (``n_total``), chunks ended, chunks
that ended well, and the items of the chunks that were not cancelled.
"""

from __future__ import annotations

import threading
from typing import Any

from ..worker.task import ChunkOutcome
from .job import Job

__all__ = ["CountedJob"]


class CountedJob(Job):
    """A :class:`~.job.Job` whose counts are kept as counters (the base of streams and fed jobs).

    A subclass adds one to ``_n_chunks`` (under ``_counter_lock``) for each chunk
    it makes and calls :meth:`_count` for each chunk that ends.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counter_lock = threading.Lock()
        self._n_chunks = 0
        self._done = [0, 0, 0]  # items, chunks, ok chunks

    @property
    def n_total(self) -> int:
        return self._n_chunks

    @property
    def n_done(self) -> int:
        return self._done[1]

    @property
    def n_ok(self) -> int:
        return self._done[2]

    def _kick(self) -> None:
        """Let the current run read more chunks (new ones were made, or results were taken)."""
        execution = self.execution
        if execution is not None and execution.attempt is not None:
            execution.attempt.kick()

    def _count(self, outcome: ChunkOutcome) -> None:
        with self._counter_lock:
            if not outcome.cancelled:
                self._done[0] += outcome.stop - outcome.start
            self._done[1] += 1
            self._done[2] += outcome.ok

    def _cancelled(self) -> int:
        return sum(o.cancelled for o in list(self.outcomes.values()))

    def counts(self) -> tuple[int, int, int, int]:
        failed = sum(o.error is not None for o in list(self.outcomes.values()))
        return self._done[0], self._done[1] - self._cancelled(), failed, len(self.failed_items)

"""What a job looks like from outside: a snapshot of its progress, and its output labelled by chunk.

Displays draw these; the job owns them, so a display never computes a job's facts itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ChunkFailure
from ..tracebacks import render_traceback
from ..worker.task import ChunkOutcome

if TYPE_CHECKING:
    from .protocol import JobLike

__all__ = ["ProgressState", "state_of", "label_output", "failure_of"]


@dataclass(frozen=True)
class ProgressState:
    """A snapshot of a job for display."""

    status: str
    done_items: int
    total_items: int | None  # None: a stream whose length is unknown
    done_chunks: int
    total_chunks: int
    failed_chunks: int
    elapsed: float
    failed_items: int = 0  # errors="collect": items that became Failed records

    @property
    def rate(self) -> float:
        """Items per second so far."""
        return self.done_items / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate (``None`` before the first chunk)."""
        if self.done_items == 0 or self.rate == 0 or self.total_items is None:
            return None
        return (self.total_items - self.done_items) / self.rate


def state_of(job: JobLike) -> ProgressState:
    """A snapshot of a :class:`~nbparallel.Job` for display."""
    done_items, done_chunks, failed_chunks, failed_items = job.counts()
    return ProgressState(
        status=job.status,
        done_items=done_items,
        total_items=job.total_items,
        done_chunks=done_chunks,
        total_chunks=job.n_total,
        failed_chunks=failed_chunks,
        elapsed=job.elapsed,
        failed_items=failed_items,
    )


def label_output(outcome: ChunkOutcome) -> str:
    """A chunk's printed output, each line labelled ``[chunk i]``."""
    return "".join(f"[chunk {outcome.index}] {line}\n" for line in outcome.output.splitlines())


def failure_of(outcome: ChunkOutcome, func: Callable[..., Any]) -> ChunkFailure:
    """The record of a failed chunk, its traceback rendered with ``func``'s source lines."""
    o, error = outcome, outcome.error
    assert error is not None
    text = render_traceback(o.frames, o.exc_only, func)
    return ChunkFailure(o.index, o.start, o.stop, o.error_item, o.error_item_repr, error, text, o.output, o.attempts)

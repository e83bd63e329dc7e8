"""``Job``: one parallel call, its state, its outcomes and its result.

A foreground call runs :meth:`Job.run` in the caller's thread and returns the
result; nothing else differs.  Every chunk outcome is kept in the job, so a
failure or an interrupt never throws away chunks that finished.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .progress import ProgressSink
from .runner import Run
from .worker import ChunkOutcome, ChunkTask, RemoteTraceback, render_traceback

__all__ = ["Job", "ChunkFailure", "STATUSES"]

STATUSES = ("pending", "running", "done", "failed", "cancelled")

#: How many failures are described in full in an error; the rest are counted.
TRACEBACK_LIMIT = 3


@dataclass(frozen=True)
class ChunkFailure:
    """A failed chunk: where, what, the worker traceback and what it printed."""

    index: int
    start: int
    stop: int
    item: int | None
    item_repr: str | None
    exception: BaseException
    traceback: str
    output: str

    def describe(self, n_chunks: int) -> str:
        where = f"chunk {self.index} of {n_chunks} (items {self.start}-{self.stop - 1})"
        if self.item is not None:
            return f"item {self.item} ({self.item_repr}) in {where}"
        return where


class Job:
    """A parallel call over chunks: state, progress, outcomes and result.

    Jobs are made by :func:`~nbparallel.pmap` and :func:`~nbparallel.pmap_chunks`;
    they are not meant to be built by hand.

    Attributes
    ----------
    status : {"pending", "running", "done", "failed", "cancelled"}
    n_done, n_total : int
        Chunks finished (successfully or not) and chunks in all.
    errors : list of ChunkFailure
        Failed chunks, in chunk order.
    output : str
        What the chunks printed, labelled by chunk, in chunk order.
    """

    def __init__(
        self,
        func: Callable[..., Any],
        tasks: Sequence[ChunkTask],
        finalize: Callable[[list[Any]], Any],
        *,
        n_jobs: int,
        backend: str,
        progress: ProgressSink,
        n_items: int,
        echo_output: bool = True,
        label: str = "nbparallel",
    ) -> None:
        self.func = func
        self.tasks = list(tasks)
        self.finalize = finalize
        self.n_jobs = n_jobs
        self.backend = backend
        self.n_items = n_items
        self.label = label
        self._progress = progress
        self._echo = echo_output
        self._outcomes: dict[int, ChunkOutcome] = {}
        self._status = "pending"
        self._result: Any = None
        self._error: BaseException | None = None
        self._cancel_requested = False
        self._run: Run | None = None
        self._finished = threading.Event()
        self._lock = threading.Lock()
        self.started_at: float | None = None
        self.finished_at: float | None = None

    # -- state ---------------------------------------------------------------------
    @property
    def status(self) -> str:
        """One of ``pending``, ``running``, ``done``, ``failed``, ``cancelled``."""
        return self._status

    @property
    def n_total(self) -> int:
        return len(self.tasks)

    @property
    def n_done(self) -> int:
        return len(self._outcomes)

    @property
    def elapsed(self) -> float:
        """Seconds since the job started (until it finished)."""
        if self.started_at is None:
            return 0.0
        return (self.finished_at or time.perf_counter()) - self.started_at

    @property
    def errors(self) -> list[ChunkFailure]:
        """Failed chunks in chunk order."""
        return [
            ChunkFailure(
                o.index, o.start, o.stop, o.error_item, o.error_item_repr,
                o.error, render_traceback(o.frames, o.exc_only), o.output,
            )
            for _, o in sorted(self._outcomes.items())
            if o.error is not None
        ]

    @property
    def output(self) -> str:
        """Everything the chunks printed, each block labelled with its chunk."""
        return "".join(
            _label_output(o) for _, o in sorted(self._outcomes.items()) if o.output
        )

    def done(self) -> bool:
        """Whether the job has finished (done, failed or cancelled)."""
        return self._finished.is_set()

    # -- running -------------------------------------------------------------------
    def run(self) -> None:
        """Execute every chunk in the calling thread, then finish the job.

        A ``KeyboardInterrupt`` (kernel interrupt) cancels the job: joblib stops
        the workers, finished chunks stay in the job, and the interrupt is
        re-raised.
        """
        with self._lock:
            if self._status != "pending":
                raise RuntimeError(f"job already {self._status}")
            self._status = "running"
            self._run = Run(self.func, self.tasks, n_jobs=self.n_jobs, backend=self.backend)
        self.started_at = time.perf_counter()
        done_items = 0
        failed = 0
        try:
            for outcome in self._run.outcomes():
                self._outcomes[outcome.index] = outcome
                done_items += outcome.stop - outcome.start
                if outcome.error is not None:
                    failed += 1
                    self._run.stop()  # fail fast: running chunks finish, no new ones
                if self._echo and outcome.output:
                    sys.stdout.write(_label_output(outcome))
                self._progress.update(done_items, len(self._outcomes), failed)
                if self._cancel_requested:
                    self._run.stop()
        except KeyboardInterrupt:
            self._cancel_requested = True
            self._finish()
            raise
        self._finish()

    def _finish(self) -> None:
        self.finished_at = time.perf_counter()
        try:
            if self.errors:
                self._error = self._build_error()
                self._status = "failed"
            elif self._cancel_requested or len(self._outcomes) < len(self.tasks):
                self._status = "cancelled"
            else:
                try:
                    values = [self._outcomes[i].value for i in range(len(self.tasks))]
                    self._result = self.finalize(values)
                    self._status = "done"
                except Exception as exc:  # merging failed: keep the parts, report why
                    self._error = exc
                    self._status = "failed"
        finally:
            self._progress.close(self._status)
            self._finished.set()

    def _build_error(self) -> BaseException:
        failures = self.errors
        first = failures[0]
        exc = first.exception
        if not getattr(exc, "_nbparallel_noted", False):
            note = f"nbparallel: {first.describe(self.n_total)} failed"
            if len(failures) > 1:
                note += f"; {len(failures) - 1} more chunk(s) failed too:"
                for other in failures[1:TRACEBACK_LIMIT]:
                    note += f"\n  - {other.describe(self.n_total)}: {type(other.exception).__name__}: {other.exception}"
                if len(failures) > TRACEBACK_LIMIT:
                    note += f"\n  ... {len(failures) - TRACEBACK_LIMIT} more"
            if first.output:
                note += "\n--- output of that chunk ---\n" + first.output.rstrip()
            try:
                exc.add_note(note)
                exc._nbparallel_noted = True  # type: ignore[attr-defined]
            except AttributeError:  # exceptions with __slots__ cannot take attributes
                pass
            exc.__cause__ = RemoteTraceback(first.traceback)
        return exc

    def cancel(self) -> bool:
        """Ask the job to stop: no new chunk starts; finished chunks are kept.

        Returns
        -------
        bool
            ``False`` if the job had already finished.
        """
        if self.done():
            return False
        self._cancel_requested = True
        if self._run is not None:
            self._run.stop()
        return True

    def result(self, timeout: float | None = None) -> Any:
        """The merged result; raises the chunk's error if the job failed.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait; ``TimeoutError`` when the job is still running then.
        """
        if not self._finished.wait(timeout):
            raise TimeoutError(f"job still {self._status} after {timeout} s ({self.n_done}/{self.n_total} chunks)")
        if self._error is not None:
            raise self._error
        if self._status == "cancelled":
            raise JobCancelled(
                f"the job was cancelled after {self.n_done} of {self.n_total} chunks; "
                "their outcomes are kept on the job"
            )
        return self._result

    def __repr__(self) -> str:
        return (
            f"<nbparallel.Job {self.label} {self._status}: {self.n_done}/{self.n_total} chunks, "
            f"{self.n_items} items, {self.elapsed:.1f}s>"
        )


class JobCancelled(Exception):
    """The result of a cancelled job was asked for."""


def _label_output(outcome: ChunkOutcome) -> str:
    text = outcome.output if outcome.output.endswith("\n") else outcome.output + "\n"
    return "".join(f"[chunk {outcome.index}] {line}\n" for line in text.splitlines())

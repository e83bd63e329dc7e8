"""The display pump of a job: progress updates, worker output in chunk order, timeouts.

Foreground calls pump in the caller's thread while they wait (so output lands in
the cell that is running, and Ctrl-C / a kernel interrupt cancels the job);
background jobs pump in a thread of their own (``nbparallel-display-N``) into
their widget, whose output area belongs to the cell that started the job.
Mixed into :class:`~nbparallel.job.Job`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import JobInterrupted
from .execution import KILL_AFTER
from .progress import ProgressState
from .worker import ChunkOutcome

__all__ = ["DisplayMixin", "label_output", "execution_count"]


def label_output(outcome: ChunkOutcome) -> str:
    return "".join(f"[chunk {outcome.index}] {line}\n" for line in outcome.output.splitlines())


def execution_count() -> int | None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return None
    shell = get_ipython()
    return getattr(shell, "execution_count", None) if shell is not None else None


class DisplayMixin:
    """Display pump methods of :class:`~nbparallel.job.Job` (state lives there)."""

    _events: queue.Queue[ChunkOutcome | None]
    _held: dict[int, ChunkOutcome]
    _next_shown: int
    _sink: Any
    timeout: float | None
    # The Job's state and methods these use (declared here for the type checker).
    id: int
    label: str
    widget: Any
    _finished: threading.Event
    _shown_in_cell: int | None
    cancel: Callable[[], bool]
    _state: Callable[[], ProgressState]
    _watch_timeouts: Callable[[], None]

    if TYPE_CHECKING:

        @property
        def n_ok(self) -> int: ...

        @property
        def n_total(self) -> int: ...

    def wait(self) -> None:
        """Wait in this thread, driving the display; an interrupt cancels the job.

        A ``KeyboardInterrupt`` (Ctrl-C, or the kernel's interrupt button) stops
        the running chunks, keeps the finished ones on the job, and is re-raised
        once the workers are free again.
        """
        try:
            self._pump_until_done()
        except KeyboardInterrupt:
            self.cancel()
            self._finished.wait(10 * KILL_AFTER)
            self._drain()
            raise JobInterrupted(
                f"job {self.id} ({self.label}) interrupted: {self.n_ok} of {self.n_total} chunks finished and "
                "are kept. nbparallel.last_job().partial_result() has them; .retry_failed() runs the rest"
            ) from None

    def _pump_until_done(self) -> None:
        while not self._pump(0.1):
            pass

    def _drain(self) -> None:
        while True:
            try:
                self._handle(self._events.get_nowait())
            except queue.Empty:
                return

    def _pump(self, timeout: float) -> bool:
        """Show what arrived within ``timeout``, enforce timeouts; True once finished."""
        if self.timeout is not None:
            self._watch_timeouts()
        try:
            event = self._events.get(timeout=timeout)
        except queue.Empty:
            self._sink.update(self._state())
            return False
        finished = self._handle(event)
        while not finished:
            try:
                finished = self._handle(self._events.get_nowait())
            except queue.Empty:
                break
        if not finished:
            self._sink.update(self._state())
        return finished

    def _handle(self, event: ChunkOutcome | None) -> bool:
        # Worker output is shown in chunk order (a chunk's output waits for the
        # chunks before it), so what a cell shows does not depend on scheduling.
        if event is None:
            for index in sorted(self._held):
                self._show_output(self._held.pop(index))
            self._sink.close(self._state())
            return True
        self._held[event.index] = event
        while self._next_shown in self._held:
            self._show_output(self._held.pop(self._next_shown))
            self._next_shown += 1
        return False

    def _show_output(self, outcome: ChunkOutcome) -> None:
        if outcome.output:
            self._sink.output(outcome.index, label_output(outcome))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self.widget is None:
            print(repr(self))
        elif self._shown_in_cell is None or self._shown_in_cell != execution_count():
            display(self.widget)  # another view of the same live widget
        # else: the cell that started the job shows its widget already

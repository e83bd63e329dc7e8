"""Showing a job: progress updates and worker output in chunk order, as chunks end.

:func:`follow` is the one code path of foreground and background calls.  A
foreground call shows its job in the caller's thread while it waits: worker
output goes to the cell's stdout (ordinary stream output, kept in the saved
notebook), a progress bar appears after about a second, and an interrupt
cancels the job.  A background job with a display gets a thread of its own that
draws into its widget; the widget's output area belongs to the cell that
started the job.  The display observes the job (:meth:`~nbparallel.Job.subscribe`);
it never drives it.
"""

from __future__ import annotations

import contextvars
import queue
import sys
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from ..jobs.state import label_output, state_of
from ..worker.task import ChunkOutcome
from .progress import ProgressSink, make_progress, show_after

if TYPE_CHECKING:
    from ..jobs.protocol import JobLike

__all__ = ["LAYER", "NotebookDisplay", "execution_count", "Display"]

#: Seconds between two redraws while nothing ends.
TICK = 0.1


def execution_count() -> int | None:
    """The running cell's number in IPython (``None`` elsewhere)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return None
    shell = get_ipython()
    return getattr(shell, "execution_count", None) if shell is not None else None


def _write_stdout(text: str) -> None:
    sys.stdout.write(text)


class Display:
    """Shows one job: a progress sink fed from the job's events, output in chunk order."""

    def __init__(self, job: JobLike, *, background: bool) -> None:
        self.job = job
        self.background = background
        self.events: queue.SimpleQueue[ChunkOutcome | None] = queue.SimpleQueue()
        self.sink: ProgressSink | None = None
        self.shown_in_cell: int | None = None
        self.thread: threading.Thread | None = None
        self._held: dict[int, ChunkOutcome] = {}
        self._next = 0
        self._since = time.monotonic()
        mode = job.options.progress
        self._quiet = mode is False
        self._delay = show_after(mode, background)
        # Held until the job's end event arrives (wakes run()): a lock, as waiting on it costs no
        # Python code (an Event's wait does, in the caller's thread of every call).
        self._ended = threading.Lock()
        self._ended.acquire()
        self._shown_end = False  # the end was shown: a state, read by every caller, never consumed
        job.subscribe(self._on_event)
        if self._delay == 0 and not self._quiet:
            self._make_sink()

    def _on_event(self, event: ChunkOutcome | None) -> None:
        self.events.put(event)
        if event is None and self._ended.locked():  # once: a retry's end may come again
            self._ended.release()

    @property
    def widget(self) -> Any:
        return getattr(self.sink, "widget", None)

    def _make_sink(self) -> ProgressSink:
        if self.sink is None:
            ref = weakref.ref(self.job)  # the Cancel button must not keep a finished job alive

            def cancel() -> None:
                job = ref()
                if job is not None:
                    job.cancel()

            self.sink = make_progress(
                self.job.options.progress,
                total_items=self.job.total_items,
                total_chunks=self.job.n_total,
                desc=self.job.label,
                background=self.background,
                on_cancel=cancel,
            )
            add_details = getattr(self.sink, "add_details", None)
            if add_details is not None:  # the widget: with a collapsed live view of the workers
                from .details import DetailsView

                add_details(DetailsView(self.job))
            if getattr(self.sink, "shown", False):
                self.shown_in_cell = execution_count()
        return self.sink

    def _update(self) -> None:
        if self._quiet:
            return
        if self.sink is None and time.monotonic() - self._since < self._delay:
            return
        self._make_sink().update(state_of(self.job))

    @property
    def ended(self) -> bool:
        """Whether the job's end has been shown (every later call is a no-op that says so)."""
        return self._shown_end

    def pump(self, timeout: float) -> bool:
        """Show what arrived within ``timeout``; ``True`` once the job has ended (now or before)."""
        if self._shown_end:
            return True
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            self._update()
            return False
        self._handle(event)
        return self.drain()

    def run(self) -> None:
        """Show the job until it has ended: every ``TICK`` seconds, and at once when it ends.

        Not woken by each chunk's event: each wake-up would take the GIL from
        the thread that records the chunks and sends the next ones (the pool's
        own, or joblib's dispatching), many times a second.  Returns at once
        when the end was already shown (by :meth:`pump` or :meth:`drain`).
        """
        while not self.drain():
            self._ended.acquire(timeout=TICK)  # kept once taken: the end is in the queue, and drained next

    def drain(self) -> bool:
        """Show everything that has arrived; ``True`` once the job has ended (now or before)."""
        events = self.events
        while not self._shown_end:
            if events.empty():  # asked first: an exception raised and caught per call costs more
                self._update()
                return False
            try:
                event = events.get_nowait()
            except queue.Empty:  # another thread drained it meanwhile
                continue
            self._handle(event)
        return True

    def _handle(self, event: ChunkOutcome | None) -> None:
        # Worker output is shown in chunk order (a chunk's output waits for the
        # chunks before it), so what a cell shows does not depend on scheduling.
        if event is None:
            for index in sorted(self._held):
                self._show_output(self._held.pop(index))
            if self.sink is not None:
                self.sink.close(state_of(self.job))
            self._shown_end = True
            return
        self._held[event.index] = event
        while self._next in self._held:
            self._show_output(self._held.pop(self._next))
            self._next += 1

    def _show_output(self, outcome: ChunkOutcome) -> None:
        if not outcome.output:
            return
        text = label_output(outcome)
        if not self.background:
            _write_stdout(text)  # foreground: ordinary cell output, saved with the notebook
        elif self.sink is not None:
            self.sink.output(outcome.index, text)

    def start_thread(self) -> None:
        # In the caller's context: a kernel sends what the thread shows to the cell that started it.
        context = contextvars.copy_context()
        self.thread = threading.Thread(
            target=context.run, args=(self.run,), name=f"nbparallel-display-{self.job.id}", daemon=True
        )
        self.thread.start()

    def join(self, timeout: float) -> None:
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)


class NotebookDisplay:
    """The display layer as the runtime sees it (:class:`~nbparallel.jobs.runtime.DisplayLayer`)."""

    def view(self, job: JobLike, *, background: bool) -> Display | None:
        """A :class:`Display` for ``job``; none for a background job with ``progress=False``."""
        if background and job.options.progress is False:
            return None  # nothing to show: no thread at all
        return Display(job, background=background)

    def show(self, job: JobLike) -> None:
        """Display a job in a notebook: its live widget (once per cell), or its repr."""
        from IPython.display import display

        display_ = job.display
        widget = job.widget
        if widget is None:
            print(repr(job))
        elif not isinstance(display_, Display) or display_.shown_in_cell != execution_count():
            display(widget)  # another view of the same live widget


#: The one display layer of the process.
LAYER = NotebookDisplay()

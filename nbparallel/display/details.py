"""The "details" section of a job's widget: what each worker runs now, for how long, its CPU and memory.

Collapsed under the progress bar, it redraws at most every :data:`EVERY`
seconds while the job runs: one line per worker with its current chunk, how
long that chunk has run, and the worker's CPU% and RSS (with psutil; without
it those cells show a dash), then the slowest chunk so far.  The facts come
from the job (:func:`~nbparallel.insights.timeline.running_of`, its recorder); the
view holds the job weakly, so it never keeps a finished job alive.
"""

from __future__ import annotations

import html
import os
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..insights.timeline import ChunkRecord, recorder_of, running_of

if TYPE_CHECKING:
    from ..jobs.protocol import JobLike

__all__ = ["DetailsView", "ProcessProbe", "render_details", "EVERY"]

#: Seconds between two redraws of the details.
EVERY = 0.5


class ProcessProbe:
    """CPU% and RSS of processes by pid, with psutil (``None`` without psutil or for a gone process).

    Examples
    --------
    >>> import os
    >>> cpu, rss = ProcessProbe().sample(os.getpid())
    >>> rss is None or rss > 0
    True
    """

    def __init__(self) -> None:
        try:
            import psutil
        except ImportError:  # the view works without it, with dashes for CPU and memory
            psutil = None
        self._psutil = psutil
        self._procs: dict[int, Any] = {}

    def sample(self, pid: int) -> tuple[float | None, int | None]:
        """``(cpu_percent, rss_bytes)`` of ``pid``; CPU% is since the previous sample (``None`` at the first)."""
        if self._psutil is None or pid <= 0:
            return None, None
        proc = self._procs.get(pid)
        first = proc is None
        try:
            if proc is None:
                proc = self._procs[pid] = self._psutil.Process(pid)
            cpu = proc.cpu_percent(None)
            rss = int(proc.memory_info().rss)
        except self._psutil.Error:
            self._procs.pop(pid, None)
            return None, None
        return (None if first else float(cpu)), rss


def _cell(text: str) -> str:
    return f"<td style='text-align:left;padding:0 10px 0 0'>{text}</td>"


def render_details(
    running: list[tuple[str, int, int, float]],
    idle: list[tuple[str, int]],
    slowest: ChunkRecord | None,
    now: float,
    probe: Callable[[int], tuple[float | None, int | None]],
) -> str:
    """The details as HTML: a row per worker (running first, then idle), and the slowest chunk so far.

    Examples
    --------
    >>> text = render_details([("pid 7", 0, 3, 10.0)], [], None, 12.5, lambda pid: (None, None))
    >>> "chunk 3" in text and "2.5 s" in text
    True
    """
    rows = ["<tr>" + "".join(_cell(f"<b>{h}</b>") for h in ("worker", "now", "running for", "CPU", "RSS")) + "</tr>"]
    for worker, pid, chunk, started in running:
        cpu, rss = probe(pid)
        rows.append(
            "<tr>"
            + _cell(html.escape(worker))
            + _cell(f"chunk {chunk}")
            + _cell(f"{max(now - started, 0.0):.1f} s")
            + _cell("-" if cpu is None else f"{cpu:.0f}%")
            + _cell("-" if rss is None else f"{rss / 2**20:.0f} MiB")
            + "</tr>"
        )
    for worker, pid in idle:
        cpu, rss = probe(pid)
        rows.append(
            "<tr>"
            + _cell(html.escape(worker))
            + _cell("idle")
            + _cell("")
            + _cell("-" if cpu is None else f"{cpu:.0f}%")
            + _cell("-" if rss is None else f"{rss / 2**20:.0f} MiB")
            + "</tr>"
        )
    if slowest is None:
        tail = "slowest chunk so far: none finished yet"
    else:
        tail = (
            f"slowest chunk so far: chunk {slowest.chunk} (items {slowest.start_item}-{slowest.stop_item - 1}), "
            f"{slowest.compute_s:.2f} s on {html.escape(slowest.worker or '-')}"
        )
    return f"<table class='nbparallel-details-table'>{''.join(rows)}</table><div>{tail}</div>"


class DetailsView:
    """A collapsed accordion titled "details" under a job's progress widget, redrawn live.

    Parameters
    ----------
    job : Job
        The job to show (held weakly).
    clock : callable, default=time.time
        Wall clock (the chunks' start times are ``time.time()``); injected in tests.
    every : float, default=EVERY
        Seconds between redraws.
    """

    def __init__(self, job: JobLike, *, clock: Callable[[], float] = time.time, every: float = EVERY) -> None:
        import ipywidgets as w

        self._job = weakref.ref(job)
        self._clock = clock
        self._every = every
        self._last = float("-inf")
        self._probe = ProcessProbe()
        self.html = w.HTML(value="<div>starting</div>")
        self.widget = w.Accordion(children=[self.html], selected_index=None)
        self.widget.set_title(0, "details")
        self.widget.add_class("nbparallel-details")

    def refresh(self, *, force: bool = False) -> None:
        """Redraw if :data:`EVERY` seconds passed (or ``force``)."""
        now = self._clock()
        if not force and now - self._last < self._every:
            return
        self._last = now
        job = self._job()
        if job is None:
            return
        running = running_of(job)
        busy = {pid for _w, pid, _c, _s in running}
        idle = []
        if job.backend.processes and not job.done():
            idle = [(f"pid {pid}", pid) for pid in job.backend.worker_pids() if pid not in busy]
        elif not job.backend.processes and not running and not job.done():
            idle = [("kernel process", os.getpid())]
        value = render_details(running, idle, recorder_of(job).slowest(), now, self._probe.sample)
        if value != self.html.value:
            self.html.value = value

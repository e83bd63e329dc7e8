"""The runtime's one entry point: every front end hands its job here.

A front end (``pmap``, ``imap``, ``pmap_groups``, the ``%%parallel`` magic, the
joblib backend, the pandas methods) builds a :class:`~.job.Job` from its tasks and
calls :func:`run`: the runtime starts it, routes its worker output and progress to
the display, waits for it unless it runs in the background, and turns an
interrupt into a cancel that keeps what finished.  Cancel, timeouts, retries
and output routing are the same for every front end, because there is one path.

The runtime does not import the display: the display layer, which sits above
it, installs itself with :func:`install_display` (``nbparallel/__init__`` does
it once).  Without one, jobs run and are waited for all the same, silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import JobInterrupted
from ..worker.task import ChunkTask
from .supervisor import KILL_AFTER

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .protocol import JobLike

    class Streaming(JobLike, Protocol):
        def stream(self, display: Viewer | None = None) -> Iterator[Any]: ...


__all__ = ["Viewer", "DisplayLayer", "install_display", "run", "run_fed", "open_stream", "show", "stop_waiting"]

#: Seconds between two looks at a foreground job shown by no display (Ctrl-C is seen this often).
POLL = 0.1


class Viewer(Protocol):
    """What a display does for one job (made by :meth:`DisplayLayer.view`)."""

    def run(self) -> None:
        """Show the job until it has ended (in the caller's thread)."""

    def pump(self, timeout: float) -> bool:
        """Show what arrived within ``timeout``; ``True`` once the job has ended."""

    def drain(self) -> bool:
        """Show everything that has arrived (after an interrupt); ``True`` once the job has ended."""

    def start_thread(self) -> None:
        """Show a background job from a thread of its own."""

    def join(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s) until a background display showed the end."""


class DisplayLayer(Protocol):
    """The display, as the runtime sees it."""

    def view(self, job: JobLike, *, background: bool) -> Viewer | None:
        """A viewer for ``job`` (``None``: nothing to show, no thread either)."""

    def show(self, job: JobLike) -> None:
        """Show a job as a notebook cell's value (its live widget, or its repr)."""


_display: DisplayLayer | None = None


def install_display(layer: DisplayLayer) -> None:
    """Let ``layer`` show every job from now on (the display layer calls this once)."""
    global _display
    _display = layer


def _view(job: JobLike, background: bool) -> Viewer | None:
    viewer = _display.view(job, background=background) if _display is not None else None
    job.display = viewer
    return viewer


def run(job: JobLike, tasks: Sequence[ChunkTask] | None = None, *, background: bool) -> Any:
    """Start ``job`` (or only its ``tasks``) and show it; wait for the result unless ``background``.

    Parameters
    ----------
    job : Job
        What a front end planned (nothing runs yet).
    tasks : sequence of ChunkTask, optional
        Run only these chunks (a retry); default: all of the job's.
    background : bool
        Return the started job at once instead of its result.

    Returns
    -------
    object or Job
        ``job.result()``, or the job when ``background``.

    Raises
    ------
    JobInterrupted
        A kernel interrupt (or Ctrl-C) while waiting: the job is cancelled, what
        finished is kept on it.

    Examples
    --------
    >>> from nbparallel.api import plan
    >>> from nbparallel.options import RunOptions
    >>> job = plan(abs, ([-1, -2],), RunOptions(progress=False), mode="items", finalize=lambda parts: sum(parts, []))
    >>> run(job, background=False)
    [1, 2]
    """
    viewer = _view(job, background)
    try:
        job.start(tasks)  # packing the function and sending the first chunks can take a while
        if background:
            if viewer is not None:
                viewer.start_thread()
            return job
        if viewer is not None:
            viewer.run()
        else:
            while not job.wait(POLL):
                pass
    except KeyboardInterrupt:
        stop_waiting(job, viewer)
        raise JobInterrupted(
            f"job {job.id} ({job.label}) interrupted: {job.n_ok} of {job.n_total} chunks finished and are kept. "
            "nbparallel.last_job().partial_result() has them; .retry_failed() runs the rest"
        ) from None
    return job.result()


def stop_waiting(job: JobLike, viewer: Viewer | None) -> None:
    """The caller was interrupted while waiting on ``job``: cancel it and show how it ended."""
    job.cancel()
    job.wait(10 * KILL_AFTER)
    if viewer is not None:
        viewer.drain()


def run_fed(job: JobLike) -> Viewer | None:
    """Start a job that its caller feeds and waits on in a loop of its own (joblib's ``Parallel``).

    The job is shown as a foreground call is (after about a second; worker
    output in the cell's stream), from a thread of the display, because the
    caller's thread is busy in its own loop.  The caller ends the job (say,
    :meth:`~.feed.FeedJob.close`), then joins the returned viewer.

    Examples
    --------
    >>> from nbparallel.backends import get_backend
    >>> from nbparallel.jobs.feed import FeedJob
    >>> from nbparallel.options import RunOptions
    >>> job = FeedJob(sum, options=RunOptions(progress=False).resolved(), backend=get_backend("threading"),
    ...               n_workers=2, label="sum")
    >>> viewer = run_fed(job)
    >>> total = job.put([1, 2, 3], 3)
    >>> job.close(); viewer.join(5) if viewer is not None else None
    >>> total.result(), job.status
    (6, 'done')
    """
    viewer = _view(job, False)
    job.start()
    if viewer is not None:
        viewer.start_thread()
    return viewer


def open_stream(job: Streaming) -> Iterator[Any]:
    """Start a stream in the foreground: its results are read by the caller's loop, which shows them."""
    viewer = _view(job, False) if job.options.progress is not False else None
    job.start()
    return job.stream(viewer)


def show(job: JobLike) -> None:
    """Show ``job`` as a cell's value through the display (its repr without one)."""
    if _display is None:
        print(repr(job))
    else:
        _display.show(job)

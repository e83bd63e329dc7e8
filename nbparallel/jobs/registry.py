"""The jobs of this process, for inspection: ``jobs()`` and ``last_job()``.

The registry holds jobs weakly, so a job the user dropped frees its inputs,
results and shared-memory copies; only the most recent job is held, so
``last_job()`` finds a foreground call's job (say, to ``retry_failed`` it).
"""

from __future__ import annotations

import collections
import logging
import threading
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .job import Job

__all__ = ["register", "jobs", "last_job", "abandon_all"]

log = logging.getLogger("nbparallel")

_lock = threading.Lock()
_recent: collections.deque[weakref.ref[Job]] = collections.deque(maxlen=200)
_last: Job | None = None


def register(job: Job) -> None:
    """Record a new job (held weakly; the latest one strongly)."""
    global _last
    with _lock:
        _recent.append(weakref.ref(job))
        _last = job


def jobs() -> list[Job]:
    """The jobs of this process that are still alive (most recent last, up to 200).

    Returns
    -------
    list of Job

    Examples
    --------
    >>> isinstance(jobs(), list)
    True
    """
    with _lock:
        refs = list(_recent)
    return [job for job in (ref() for ref in refs) if job is not None]


def last_job() -> Job | None:
    """The most recently created job: the way back to a failed foreground call.

    Returns
    -------
    Job or None

    Examples
    --------
    >>> import nbparallel as nbp
    >>> _ = nbp.pmap(abs, [-1], progress=False)
    >>> nbp.last_job().status
    'done'
    """
    return _last


def abandon_all() -> None:
    """At interpreter exit: cancel the running jobs and stop the workers, waiting on nothing.

    Nobody will read the results of background jobs and streams still running,
    so the worker processes are killed instead of being waited for (loky's own
    exit hook would wait for every running chunk).  A foreground call still
    running is in a thread of the program, joined after this hook: then
    nothing is stopped.  Runs before the thread pools' exit
    hooks (see :meth:`~nbparallel.backends.local.LocalProcesses.executor`).
    """
    from ..backends.base import started_backends
    from ..worker.board import CANCEL
    from .stream import StreamJob

    waited_for = False
    for job in jobs():
        attempt = job._attempt
        if attempt is None or job.done():
            continue
        if not job.options.background and not isinstance(job, StreamJob):
            # a foreground call in a thread of the program that is still running (the
            # threads are joined after this hook): it reads the result, so let it finish
            waited_for = True
            continue
        try:
            job.cancel_requested = True
            if attempt.board is not None:
                for _chunk, slot in attempt.in_flight():
                    attempt.board.flag(slot, CANCEL)
            attempt.stop()
        except Exception:  # exiting: the workers are stopped below all the same
            log.debug("job %s: cancel at exit failed", job.id, exc_info=True)
    if waited_for:
        return
    for backend in started_backends():
        try:
            backend.abandon()
        except Exception:  # exiting: nothing more to do about it
            pass

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

from ..backends.base import before_exit

if TYPE_CHECKING:
    from .protocol import JobLike

__all__ = ["register", "alive", "last", "cancel_at_exit"]

log = logging.getLogger("nbparallel")

_lock = threading.Lock()
_recent: collections.deque[weakref.ref[JobLike]] = collections.deque(maxlen=200)
_last: JobLike | None = None


def register(job: JobLike) -> None:
    """Record a new job (held weakly; the latest one strongly)."""
    global _last
    with _lock:
        _recent.append(weakref.ref(job))
        _last = job


def alive() -> list[JobLike]:
    """The jobs still alive, most recent last (:func:`nbparallel.jobs` hands them out)."""
    with _lock:
        refs = list(_recent)
    return [job for job in (ref() for ref in refs) if job is not None]


def last() -> JobLike | None:
    """The most recently created job (:func:`nbparallel.last_job` hands it out)."""
    return _last


def cancel_at_exit() -> bool:
    """At interpreter exit: cancel the running jobs; ``True`` when their workers may be stopped.

    Nobody will read the results of background jobs and streams still running,
    so their workers are killed instead of being waited for (loky's own exit
    hook would wait for every running chunk).  A foreground call still running
    is in a thread of the program, joined after this hook: then nothing is
    stopped.  The backends call this first (:func:`~nbparallel.backends.base.before_exit`).
    """
    waited_for = False
    for job in alive():
        if job.execution is None or job.done():
            continue
        if not job.options.background and not job.is_stream:
            # a foreground call in a thread of the program that is still running (the
            # threads are joined after this hook): it reads the result, so let it finish
            waited_for = True
            continue
        try:
            job.stop_execution()
        except Exception:  # exiting: the workers are stopped all the same
            log.debug("job %s: cancel at exit failed", job.id, exc_info=True)
    return not waited_for


before_exit(cancel_at_exit)

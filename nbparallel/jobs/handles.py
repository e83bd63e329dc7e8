"""The jobs of this process, for the user: :func:`jobs` and :func:`last_job`.

The registry (:mod:`.registry`, below the handle) keeps them; these hand them out as
:class:`~.job.Job` s.
"""

from __future__ import annotations

from . import registry
from .job import Job

__all__ = ["jobs", "last_job"]


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
    return [job for job in registry.alive() if isinstance(job, Job)]


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
    job = registry.last()
    return job if isinstance(job, Job) else None

"""What ``%nbparallel`` shows and does: configuration, workers, jobs, cancel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

from ..backends import worker_pids
from ..jobs.handles import jobs
from ..jobs.job import Job
from ..settings import Settings, get_config

__all__ = ["status_report", "parse_config_pairs", "cancel_job"]

_CONFIG_KEYS = tuple(f.name for f in fields(Settings))  # whatever config() takes


def _parse_value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        return text


def parse_config_pairs(pairs: Sequence[str]) -> dict[str, Any]:
    """``["n_jobs=2", "backend=threading"]`` -> ``{"n_jobs": 2, "backend": "threading"}``.

    Examples
    --------
    >>> parse_config_pairs(["n_jobs=2", "progress=false", "backend=loky"])
    {'n_jobs': 2, 'progress': False, 'backend': 'loky'}
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in _CONFIG_KEYS:
            raise ValueError(
                f"cannot read {pair!r}: write KEY=VALUE with KEY one of {', '.join(_CONFIG_KEYS)}, "
                "e.g. %nbparallel config n_jobs=2 backend=threading"
            )
        out[key] = _parse_value(value)
    return out


def _job_line(job: Job) -> str:
    return f"  job {job.id:<4} {job.label:<20} {job.status:<10} {job.n_done}/{job.n_total} chunks  {job.elapsed:6.1f}s"


def status_report(section: str | None = None) -> str:
    """A plain-text summary: configuration, workers alive, and jobs.

    Parameters
    ----------
    section : {"config", "jobs"}, optional
        Only that part.

    Returns
    -------
    str

    Examples
    --------
    >>> print(status_report(section="config").splitlines()[0])
    nbparallel configuration:
    """
    parts = []
    if section in (None, "config"):
        cfg = get_config()
        parts.append(
            "nbparallel configuration:\n" + "\n".join(f"  {key} = {getattr(cfg, key)!r}" for key in _CONFIG_KEYS)
        )
    if section is None:
        pids = worker_pids()
        parts.append(f"workers alive: {len(pids)}" + (f" (pids {', '.join(map(str, pids))})" if pids else ""))
    if section in (None, "jobs"):
        all_jobs = jobs()
        running = [j for j in all_jobs if not j.done()]
        lines = [f"jobs: {len(running)} running, {len(all_jobs) - len(running)} finished"]
        lines += [_job_line(j) for j in all_jobs[-20:]]
        parts.append("\n".join(lines))
    return "\n".join(parts)


def cancel_job(name: str, namespace: Mapping[str, Any]) -> str:
    """Cancel the job held by variable ``name`` in ``namespace``, or the job with that id.

    Returns
    -------
    str
        What happened, for display.
    """
    job = namespace.get(name)
    if not isinstance(job, Job):
        match = [j for j in jobs() if str(j.id) == name]
        if not match:
            raise ValueError(
                f"no job called {name!r}: give a variable that holds a job, or a job id from %nbparallel jobs"
            )
        job = match[0]
    if job.cancel():
        return f"job {job.id} cancelling: running chunks are being stopped, finished ones are kept"
    return f"job {job.id} had already finished ({job.status})"

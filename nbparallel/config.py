"""Process-wide defaults for ``n_jobs``, ``backend`` and ``progress``.

``config`` is both a setter and a context manager::

    nbp.config(n_jobs=2)                 # from now on
    with nbp.config(backend="threading"):  # only inside the block
        ...
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass, fields, replace
from types import TracebackType
from typing import Any

#: Accepted values of ``progress``.
PROGRESS_MODES = (None, True, False, "auto", "widget", "tqdm")


@dataclass(frozen=True)
class Settings:
    """The defaults in force; read with :func:`get_config`."""

    n_jobs: int | None = None
    backend: str = "loky"
    progress: bool | str | None = "auto"
    dask_address: str | None = None


_lock = threading.Lock()
_settings = Settings()


def get_config() -> Settings:
    """Return the defaults currently in force.

    Returns
    -------
    Settings
        Frozen dataclass with ``n_jobs``, ``backend`` and ``progress``.

    Examples
    --------
    >>> from nbparallel import get_config
    >>> get_config().backend
    'loky'
    """
    return _settings


def validate_backend(backend: str) -> str:
    """Return ``backend`` if it is known, else raise a ``ValueError`` listing the choices."""
    from .backends import get_backend

    return get_backend(backend).name


def validate_n_jobs(n_jobs: int | None) -> int | None:
    """Check ``n_jobs`` follows joblib's meaning (``None``, ``-1``, ``-2``..., or ``>= 1``)."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
        raise ValueError(
            f"n_jobs must be a non-zero int or None, got {n_jobs!r}; use -1 for all "
            "cores, a positive number for that many workers, or None for the default"
        )
    return n_jobs


def validate_progress(progress: bool | str | None) -> bool | str | None:
    """Check ``progress`` is one of :data:`PROGRESS_MODES`."""
    if progress not in PROGRESS_MODES:
        raise ValueError(f"progress must be one of {PROGRESS_MODES!r}, got {progress!r}")
    return progress


def effective_n_jobs(n_jobs: int | None = None) -> int:
    """Resolve ``n_jobs`` (joblib meaning) to a number of workers.

    Parameters
    ----------
    n_jobs : int or None, default=None
        ``None`` takes the configured default (all cores unless changed with
        :func:`config`); ``-1`` is all cores, ``-2`` all but one, and so on.

    Returns
    -------
    int
        Number of workers, at least 1.

    Examples
    --------
    >>> from nbparallel.config import effective_n_jobs
    >>> effective_n_jobs(1)
    1
    """
    n = validate_n_jobs(n_jobs if n_jobs is not None else _settings.n_jobs)
    if n is None:
        n = -1
    if n < 0:
        n = max(1, cpu_count() + 1 + n)
    return n


@functools.cache
def cpu_count() -> int:
    """Usable cores (joblib's count: cgroup and affinity aware), read once per process."""
    import joblib

    return int(joblib.cpu_count())


class config:
    """Set defaults for ``n_jobs``, ``backend`` and ``progress``.

    Called on its own it changes the defaults from now on; used in a ``with``
    block it changes them only inside the block and restores them after.

    Parameters
    ----------
    n_jobs : int or None, optional
        Number of workers, joblib meaning (``-1`` all cores).
    backend : {"loky", "threading", "dask"}, optional
        Where work runs.
    progress : bool or {"auto", "widget", "tqdm"}, optional
        Progress display. ``"auto"`` shows a widget in a kernel, a text bar
        elsewhere, and nothing for work that ends within about a second.
    dask_address : str, optional
        Scheduler address for ``backend="dask"`` when no Client is current
        (e.g. ``"tcp://127.0.0.1:8786"``).

    Examples
    --------
    >>> import nbparallel as nbp
    >>> with nbp.config(n_jobs=1, progress=False):
    ...     nbp.get_config().n_jobs
    1
    >>> nbp.get_config().n_jobs is None
    True
    """

    _unset: Any = object()

    def __init__(
        self,
        *,
        n_jobs: int | None = _unset,
        backend: str = _unset,
        progress: bool | str | None = _unset,
        dask_address: str | None = _unset,
    ) -> None:
        global _settings
        changes: dict[str, Any] = {}
        if n_jobs is not config._unset:
            changes["n_jobs"] = validate_n_jobs(n_jobs)
        if backend is not config._unset:
            changes["backend"] = validate_backend(backend)
        if progress is not config._unset:
            changes["progress"] = validate_progress(progress)
        if dask_address is not config._unset:
            if dask_address is not None and not isinstance(dask_address, str):
                raise ValueError(
                    f"dask_address must be a scheduler address such as 'tcp://host:8786', got {dask_address!r}"
                )
            changes["dask_address"] = dask_address
        with _lock:
            self._previous = _settings
            _settings = replace(_settings, **changes)

    def __enter__(self) -> Settings:
        return _settings

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        global _settings
        with _lock:
            _settings = self._previous

    def __repr__(self) -> str:
        now = ", ".join(f"{f.name}={getattr(_settings, f.name)!r}" for f in fields(Settings))
        return f"nbparallel.config({now})"


def _env_default() -> None:
    """Honour ``NBPARALLEL_N_JOBS`` so CI or a shared machine can cap workers."""
    global _settings
    value = os.environ.get("NBPARALLEL_N_JOBS")
    if value:
        _settings = replace(_settings, n_jobs=validate_n_jobs(int(value)))


_env_default()

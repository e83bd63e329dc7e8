"""The process-wide defaults in force (``n_jobs``, ``backend``, ``progress``) and what ``n_jobs`` means.

This module owns the settings; :class:`nbparallel.config` (one layer up, where
the backends are known) validates changes and makes them through :func:`swap`.
"""

from __future__ import annotations

import functools
import numbers
import operator
import os
import threading
from dataclasses import dataclass, replace
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


def whole_number(value: object) -> int | None:
    """``value`` as an ``int`` if it is a whole number of any kind (``np.int64`` too), else ``None``.

    ``bool`` is not a number of workers, chunks or seeds: ``None`` too.

    Examples
    --------
    >>> import numpy as np
    >>> whole_number(np.int64(3)), whole_number(True), whole_number(2.0)
    (3, None, None)
    """
    if type(value) is int:  # the usual case, without the ABC check below
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return operator.index(value)
    return None


def validate_n_jobs(n_jobs: int | None) -> int | None:
    """Check ``n_jobs`` follows joblib's meaning (``None``, ``-1``, ``-2``..., or ``>= 1``); return it as an ``int``.

    Examples
    --------
    >>> import numpy as np
    >>> validate_n_jobs(np.int64(2))
    2
    """
    if n_jobs is None:
        return None
    number = whole_number(n_jobs)
    if number is None or number == 0:
        raise ValueError(
            f"n_jobs must be a non-zero int or None, got {n_jobs!r}; use -1 for all "
            "cores, a positive number for that many workers, or None for the default"
        )
    return number


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
    >>> from nbparallel.settings import effective_n_jobs
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


def change(**changes: Any) -> Settings:
    """Put ``changes`` in force; returns the settings they replace (for :class:`nbparallel.config`)."""
    global _settings
    with _lock:
        previous = _settings
        _settings = replace(previous, **changes)
    return previous


def swap(settings: Settings) -> None:
    """Put ``settings`` back in force (a ``config`` block ends)."""
    global _settings
    with _lock:
        _settings = settings


def in_kernel() -> bool:
    """Whether this code runs inside a Jupyter kernel (where widgets can show).

    Examples
    --------
    >>> in_kernel()
    False
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _env_default() -> None:
    """Honour ``NBPARALLEL_N_JOBS`` so CI or a shared machine can cap workers."""
    global _settings
    value = os.environ.get("NBPARALLEL_N_JOBS")
    if value:
        _settings = replace(_settings, n_jobs=validate_n_jobs(int(value)))


_env_default()

"""``config``: set the defaults for ``n_jobs``, ``backend`` and ``progress``, validated.

``config`` is both a setter and a context manager::

    nbp.config(n_jobs=2)                 # from now on
    with nbp.config(backend="threading"):  # only inside the block
        ...

The settings themselves live in :mod:`nbparallel.settings`, below the backends;
this module sits above them, so it can check a backend's name.
"""

from __future__ import annotations

from dataclasses import fields
from types import TracebackType
from typing import Any

from .backends import get_backend
from .settings import Settings, change, get_config, swap, validate_n_jobs, validate_progress

__all__ = ["config", "validate_backend"]


def validate_backend(backend: str) -> str:
    """Return ``backend`` if it is known, else raise a ``ValueError`` listing the choices."""
    return get_backend(backend).name


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
        self._previous = change(**changes)

    def __enter__(self) -> Settings:
        return get_config()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        swap(self._previous)

    def __repr__(self) -> str:
        now = ", ".join(f"{f.name}={getattr(get_config(), f.name)!r}" for f in fields(Settings))
        return f"nbparallel.config({now})"

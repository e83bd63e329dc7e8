"""Register ``df.parallel`` and ``s.parallel`` when pandas is imported, without importing it.

``import nbparallel`` must stay fast and work without pandas: if pandas is
already imported the accessors are registered at once, otherwise right after
its import (:func:`nbparallel.frontends.on_import.when_imported`).  This
module imports nothing of pandas.
"""

from __future__ import annotations

from ..on_import import when_imported

__all__ = ["install"]


def _register() -> None:
    from .accessor import register

    register()


def install() -> None:
    """Register the accessors now if pandas is imported, else when it is."""
    when_imported("pandas", _register)

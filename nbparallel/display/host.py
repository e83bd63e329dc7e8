"""Where a progress widget goes: into the view of the background call that started its job, if any.

A background call (:func:`nbparallel.background`) shows one view at once; the
widgets of the joblib calls it makes are put inside it instead of being
displayed on their own.  The view sets :data:`HOST` in the call's thread (the
display threads of its jobs copy that context), and
:meth:`~nbparallel.display.progress.WidgetProgress.show` looks it up.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Protocol

__all__ = ["HOST", "Host"]


class Host(Protocol):
    """A view that hosts the progress widgets of its calls."""

    def add(self, widget: Any) -> None:
        """Show ``widget`` inside the view."""


#: The view hosting the progress widgets started in this context (``None``: display them on their own).
HOST: ContextVar[Host | None] = ContextVar("nbparallel_display_host", default=None)

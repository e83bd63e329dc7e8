"""The widget of a background call (:func:`nbparallel.background`): what runs, its state, Cancel.

Shown in the starting cell as soon as the call starts, before its first joblib
call: a line with the callable's name, its state and a Cancel button, then the
progress widgets of its joblib calls (the latest :data:`KEEP`) as they start.
It is redrawn when the call starts a joblib call, is cancelled and ends; the
joblib calls' widgets count their own progress.  The view holds the call
weakly, so it never keeps a finished call alive.
"""

from __future__ import annotations

import contextlib
import html
import threading
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..settings import get_config, in_kernel
from .follow import execution_count
from .host import HOST
from .progress import BAR_STYLES
from .reach import let_front_end_route

if TYPE_CHECKING:
    from ..frontends.background import BackgroundCall

__all__ = ["CallView", "make_call_view", "describe_call", "KEEP"]

#: How many joblib calls' widgets the view keeps (the latest).
KEEP = 3


def describe_call(call: BackgroundCall) -> str:
    """The state line of a background call, e.g. ``running on a kernel thread · 1 joblib call so far``.

    Examples
    --------
    >>> import nbparallel as nbp
    >>> call = nbp.background(sum, [1, 2])
    >>> call.result()
    3
    >>> describe_call(call).startswith("done in ")
    True
    """
    status = call.status
    calls = len(call.jobs)
    counted = f"{calls} joblib call{'s' if calls != 1 else ''}"
    if status == "running":
        return f"running on a kernel thread · joblib calls without n_jobs use {call.n_jobs} workers · {counted} so far"
    if status == "cancelling":
        return (
            "cancel requested: its joblib calls and workers stopped, but the call is inside code Python cannot "
            "interrupt (a sleep, a lock, a C function); it stops when that returns"
        )
    if status == "failed":
        error = call.error
        text = f"{type(error).__name__}: {error}"
        return f"failed after {call.elapsed:.1f} s · {html.escape(text[:200])}"
    return (
        f"{status} after {call.elapsed:.1f} s · {counted}"
        if status == "cancelled"
        else (f"done in {call.elapsed:.1f} s · {counted}")
    )


class CallView:
    """The widget of one background call (made by :func:`make_call_view`, displayed at once).

    Parameters
    ----------
    call : BackgroundCall
        The call to show (held weakly).
    """

    def __init__(self, call: BackgroundCall) -> None:
        import ipywidgets as w

        self._call = weakref.ref(call)
        self._lock = threading.Lock()
        self.title = w.HTML(value=f"<b>{html.escape(call.label)}</b>", layout=w.Layout(margin="0 8px 0 0"))
        self.text = w.HTML(value=describe_call(call), layout=w.Layout(flex="1 1 auto"))
        self.button = w.Button(
            description="Cancel",
            icon="stop",
            tooltip="End this background call: its joblib calls, their workers and its own code stop",
            layout=w.Layout(width="auto", margin="0 0 0 8px"),
        )
        self.button.on_click(lambda _button: self._cancel())
        let_front_end_route(self.button)
        self.calls = w.VBox([])
        self.widget = w.VBox(
            [w.HBox([self.title, self.text, self.button], layout=w.Layout(align_items="center")), self.calls],
            layout=w.Layout(width="100%"),
        )
        self.widget.add_class("nbparallel-background")
        self.shown_in_cell: int | None = None
        self.show()

    def _cancel(self) -> None:
        call = self._call()
        if call is not None:
            call.cancel()

    @contextlib.contextmanager
    def hosting(self) -> Iterator[CallView]:
        """Within the block (in the call's thread), joblib calls show their widgets inside this view."""
        token = HOST.set(self)
        try:
            yield self
        finally:
            HOST.reset(token)

    def add(self, widget: Any) -> None:
        """Show a joblib call's widget inside the view (the latest :data:`KEEP`)."""
        with self._lock:
            self.calls.children = (*self.calls.children, widget)[-KEEP:]
        self.update()

    def update(self) -> None:
        """Redraw the state line, and end the button once the call has ended."""
        call = self._call()
        if call is None:
            return
        with self._lock:
            self.text.value = describe_call(call)
            status = call.status
            if status != "running" and not self.button.disabled:
                self.button.disabled = True
                self.button.description = status
                self.button.button_style = BAR_STYLES.get(status, "")

    def show(self) -> None:
        """Display the view in the running cell (once per cell)."""
        cell = execution_count()
        if self.shown_in_cell is not None and self.shown_in_cell == cell:
            return
        from IPython.display import display

        self.shown_in_cell = cell
        display(self.widget)


def make_call_view(call: BackgroundCall) -> CallView | None:
    """A :class:`CallView` in a kernel with ipywidgets (``None`` elsewhere or with ``progress=False``)."""
    if get_config().progress is False or not in_kernel():
        return None
    try:
        return CallView(call)
    except ImportError:  # no ipywidgets: the handle shows its repr
        return None

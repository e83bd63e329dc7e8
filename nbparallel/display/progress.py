"""Progress display: one factory picks the front end.

* In a Jupyter kernel with ipywidgets: a widget — a bar, a line of text (chunks
  done/total, items/s, elapsed, ETA, failures), a Cancel button, and an output
  area for what the workers print (hidden while empty).
* Elsewhere (a terminal, a script): a tqdm text bar on stderr.
* ``progress=False``: nothing.

Sinks are driven by the job's display pump (see :mod:`nbparallel.display.follow`), never by
joblib internals.  The clock is injectable so tests compare exact states.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from typing import Any, Protocol

from ..jobs.state import ProgressState
from ..settings import in_kernel
from .host import HOST
from .reach import STOP_HINT, STOP_TIP, busy_clicks_reach, let_front_end_route

__all__ = [
    "ProgressState",
    "ProgressSink",
    "make_progress",
    "in_kernel",
    "SHOW_AFTER",
    "show_after",
    "WidgetProgress",
    "TextProgress",
]

#: Seconds before an ``"auto"`` display appears for foreground work; quicker work shows nothing.
SHOW_AFTER = 1.0

#: Bar colours (ipywidgets ``bar_style``) by final status.
BAR_STYLES = {"running": "", "pending": "", "done": "success", "failed": "danger", "cancelled": "danger"}


def _clock_text(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def describe(state: ProgressState) -> str:
    """One line of text for the state, e.g. ``chunks 3/8 · 120 items/s · 0:04 elapsed · ETA 0:07``.

    Examples
    --------
    >>> describe(ProgressState("running", 50, 100, 2, 8, 0, 5.0))
    'chunks 2/8 · 10.0 items/s · 0:05 elapsed · ETA 0:05'
    >>> describe(ProgressState("running", 1200, None, 9, 11, 0, 2.0, failed_items=3))
    '1,200 items · 600 items/s · 0:02 elapsed · 3 items failed'
    """
    rate = state.rate
    rate_text = f"{rate:,.0f}" if rate >= 100 else f"{rate:.1f}"
    parts = [
        f"chunks {state.done_chunks}/{state.total_chunks}"
        if state.total_items is not None
        else f"{state.done_items:,} items",
        f"{rate_text} items/s",
        f"{_clock_text(state.elapsed)} elapsed",
    ]
    if state.total_items is None:
        if state.status != "running":
            parts.append(state.status)
    elif state.status == "running":
        parts.append(f"ETA {_clock_text(state.eta)}")
    else:
        parts.append(state.status)
    if state.failed_chunks:
        parts.append(f"{state.failed_chunks} failed")
    if state.failed_items:
        parts.append(f"{state.failed_items} items failed")
    return " · ".join(parts)


class ProgressSink(Protocol):
    def update(self, state: ProgressState) -> None: ...

    def output(self, chunk: int, text: str) -> None: ...

    def close(self, state: ProgressState) -> None: ...


class NoProgress:
    """Shows nothing (worker output is still kept on the job)."""

    def update(self, state: ProgressState) -> None:
        pass

    def output(self, chunk: int, text: str) -> None:
        pass

    def close(self, state: ProgressState) -> None:
        pass


class TextProgress:
    """A tqdm text bar on stderr counting items, with chunk and failure counts."""

    def __init__(self, total_items: int | None, total_chunks: int, *, desc: str, delay: float) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=total_items,
            desc=desc,
            unit="item",
            delay=delay,
            file=sys.stderr,
            dynamic_ncols=True,
            leave=True,
        )
        self._last: tuple[int, int, int] | None = None

    def update(self, state: ProgressState) -> None:
        seen = (state.done_items, state.done_chunks, state.failed_chunks + state.failed_items)
        if seen == self._last:
            return  # nothing new: no redraw (tqdm redraws on every call)
        self._last = seen
        postfix = f"chunks {state.done_chunks}/{state.total_chunks}" if state.total_items is not None else ""
        if state.failed_chunks:
            postfix += f", {state.failed_chunks} failed"
        if state.failed_items:
            postfix += f", {state.failed_items} items failed"
        self.bar.set_postfix_str(postfix, refresh=False)
        self.bar.update(state.done_items - self.bar.n)  # honours tqdm's ``delay``

    def output(self, chunk: int, text: str) -> None:
        self.bar.write(text, file=sys.stdout, end="")

    def close(self, state: ProgressState) -> None:
        self.update(state)
        if state.status != "done":
            self.bar.set_description_str(f"{self.bar.desc} [{state.status}]", refresh=False)
        self.bar.close()


class WidgetProgress:
    """The ipywidgets display: bar + text + Cancel button, and an output area.

    Parameters
    ----------
    total_items, total_chunks : int
        What the bar counts up to.
    desc : str
        Label in front of the bar.
    on_cancel : callable, optional
        Called when the Cancel button is clicked.
    show_after : float, default=0
        Seconds after creation before the widget is displayed (``0``: at once).
    clock : callable, default=time.monotonic
        Time source (injected in tests).
    display : callable, optional
        How to display the widget (``IPython.display.display`` by default).
    busy : bool, default=False
        The kernel's main shell is busy with this call until it ends (a
        foreground call): where the front end cannot deliver a click meanwhile
        (:mod:`.reach`), the button says how to stop the call instead.
    """

    def __init__(
        self,
        total_items: int | None,
        total_chunks: int,
        *,
        desc: str = "nbparallel",
        on_cancel: Callable[[], Any] | None = None,
        show_after: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        display: Callable[[Any], Any] | None = None,
        busy: bool = False,
    ) -> None:
        import ipywidgets as w

        self._clock = clock
        self._created = clock()
        self._show_after = show_after
        self._display = display
        self.shown = False
        self.label = w.HTML(value=f"<b>{desc}</b>", layout=w.Layout(width="auto", margin="0 8px 0 0"))
        self.bar = w.FloatProgress(
            value=0,
            min=0,
            max=max(total_items or 1, 1),
            bar_style="",
            layout=w.Layout(flex="1 1 auto", width="auto", min_width="120px"),
        )
        self.button = w.Button(layout=w.Layout(width="auto", margin="0 0 0 8px"))
        self._hint = busy and not busy_clicks_reach()  # a click could not reach the kernel: say how to stop
        self._offer_cancel(not self._hint)
        self.text = w.HTML(value=f"chunks 0/{total_chunks} · starting")
        self.out = w.Output(layout=w.Layout(display="none", max_height="240px", overflow="auto"))
        self.widget = w.VBox(
            [w.HBox([self.label, self.bar, self.button], layout=w.Layout(align_items="center")), self.text, self.out],
            layout=w.Layout(width="100%"),
        )
        self.widget.add_class("nbparallel-progress")
        if on_cancel is not None:
            self.button.on_click(lambda _button: on_cancel())
        self.details: Any = None  # a collapsed live details view (display.details), when a job gives one
        if show_after <= 0:
            self.show()

    def _offer_cancel(self, reachable: bool) -> None:
        """A Cancel button, or (``reachable=False``) a disabled one that says how to stop the call."""
        button = self.button
        if reachable:
            button.description, button.icon, button.disabled = "Cancel", "stop", False
            button.tooltip = "Stop this job; finished chunks are kept"
        else:
            button.description, button.icon, button.disabled = STOP_HINT, "", True
            button.tooltip = STOP_TIP
        let_front_end_route(button)  # its click goes where the front end sends it, not behind the busy cell

    def add_details(self, details: Any) -> None:
        """Put a details view (``.widget``, ``.refresh(force=)``) under the bar, redrawn with it."""
        self.details = details
        self.widget.children = (*self.widget.children, details.widget)

    def show(self) -> None:
        """Display the widget (once), inside the background call's view that hosts it if any."""
        if self.shown:
            return
        self.shown = True
        host = HOST.get()
        if host is not None:
            host.add(self.widget)
        elif self._display is not None:
            self._display(self.widget)
        else:
            from IPython.display import display

            display(self.widget)

    def _maybe_show(self) -> None:
        if not self.shown and self._clock() - self._created >= self._show_after:
            self.show()

    def update(self, state: ProgressState) -> None:
        self._maybe_show()
        if self._hint and state.status == "running" and busy_clicks_reach():
            self._hint = False  # the front end opened its comm subshell since: a click reaches the kernel now
            self._offer_cancel(True)
        if state.total_items is None:  # no total: a full bar while running, the text counts
            self.bar.max = max(state.done_items, 1)
            self.bar.bar_style = "info" if not (state.failed_chunks or state.failed_items) else "warning"
        elif self.bar.max != max(state.total_items, 1):  # a total learnt late (a joblib call's input read)
            self.bar.max = max(state.total_items, 1)
            self.bar.bar_style = "" if not (state.failed_chunks or state.failed_items) else "warning"
        self.bar.value = state.done_items
        self.text.value = describe(state)
        if self.details is not None:
            self.details.refresh(force=state.status != "running")
        if state.failed_chunks or state.failed_items:
            self.bar.bar_style = "warning"  # amber

    def output(self, chunk: int, text: str) -> None:
        self.show()  # output is worth showing even for quick work
        self.out.layout.display = None
        self.out.append_stdout(text)

    def close(self, state: ProgressState) -> None:
        self.update(state)
        self.bar.bar_style = BAR_STYLES.get(state.status, "")
        if state.status == "done" and state.failed_items:
            self.bar.bar_style = "warning"  # amber: done, with items kept as Failed records
        self.button.disabled = True
        if state.status != "done":
            self.button.description = state.status


def show_after(mode: Any, background: bool) -> float:
    """Seconds a job's display waits before it appears: 0 for background work or a display asked for.

    Examples
    --------
    >>> show_after("auto", background=False), show_after(True, background=False), show_after(None, background=True)
    (1.0, 0.0, 0.0)
    """
    return 0.0 if (background or mode in (True, "widget", "tqdm")) else SHOW_AFTER


def make_progress(
    mode: bool | str | None,
    *,
    total_items: int | None,
    total_chunks: int,
    desc: str = "nbparallel",
    background: bool = False,
    on_cancel: Callable[[], Any] | None = None,
) -> ProgressSink:
    """Pick the progress front end.

    Parameters
    ----------
    mode : bool, {"auto", "widget", "tqdm"} or None
        ``False`` shows nothing; ``"widget"`` / ``"tqdm"`` force one; ``True``,
        ``"auto"`` or ``None`` pick the widget in a kernel and tqdm elsewhere.
        With ``"auto"``/``None`` foreground work shows nothing for its first
        :data:`SHOW_AFTER` seconds.
    total_items, total_chunks : int
        What the display counts up to (``total_items=None``: unknown, a stream).
    desc : str, default="nbparallel"
        Label.
    background : bool, default=False
        Background jobs show their display at once.
    on_cancel : callable, optional
        Wired to the widget's Cancel button.

    Returns
    -------
    ProgressSink

    Examples
    --------
    >>> sink = make_progress(False, total_items=10, total_chunks=2)
    >>> type(sink).__name__
    'NoProgress'
    """
    if mode is False:
        return NoProgress()
    delay = show_after(mode, background)
    want_widget = mode == "widget" or (mode != "tqdm" and in_kernel())
    if want_widget:
        busy = not background and HOST.get() is None  # a background call's joblib calls leave the kernel free
        try:
            return WidgetProgress(
                total_items, total_chunks, desc=desc, on_cancel=on_cancel, show_after=delay, busy=busy
            )
        except ImportError:
            warnings.warn("ipywidgets is not installed: showing a text progress bar instead", stacklevel=3)
    return TextProgress(total_items, total_chunks, desc=desc, delay=delay)

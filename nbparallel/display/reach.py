"""Whether a widget's click reaches a kernel that is busy with the call the widget shows.

A foreground call keeps the kernel's main shell busy until it returns, so a
click sent to the main shell waits behind it.  Kernels with subshells (JEP 91,
ipykernel 7) handle messages sent to a subshell in a thread of their own while
the main shell runs a cell, and JupyterLab and Notebook 7.4+ send widget
messages over one subshell per comm target by default (``commsOverSubshells``).
So a Cancel click can stop a busy call, if two things hold:

* The kernel lets the front end's choice stand.  ipykernel 7.4 sends a comm's
  incoming messages to the subshell the kernel last *published* on it from (so
  an async cell awaiting a widget's answer gets it); a widget built by the busy
  cell has published from the main shell, so its clicks would wait there.
  :func:`let_front_end_route` forgets that for the Cancel button, which the
  kernel never awaits an answer from.
* The front end uses subshells for comms: :func:`busy_clicks_reach` tells,
  from the kernel's list of subshells (the front end opens one when the first
  widget of a comm target appears).

Where they do not hold (a front end without subshells, or with
``commsOverSubshells`` disabled), the button says how to stop the call
(:data:`STOP_HINT`) instead of offering a click that would wait.
"""

from __future__ import annotations

from typing import Any

__all__ = ["STOP_HINT", "STOP_TIP", "busy_clicks_reach", "let_front_end_route"]

#: What a foreground call's button says where a click cannot reach the busy kernel.
STOP_HINT = "Stop: ■ or I,I"

#: Its tooltip.
STOP_TIP = (
    "The kernel is busy with this call and this front end cannot deliver a click to it: "
    "interrupt the kernel (■ in the toolbar, I,I in command mode, Ctrl-C in a terminal). "
    "The call stops and the finished chunks are kept."
)


def _kernel() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    shell = get_ipython()
    return getattr(shell, "kernel", None) if shell is not None else None


def busy_clicks_reach() -> bool:
    """Whether a widget click can reach this kernel while its main shell runs a cell.

    ``True`` when the kernel has subshells (ipykernel 7+) and the front end has
    opened one (JupyterLab and Notebook 7.4+ do for widget messages, by default).
    ``False`` outside a kernel.

    Examples
    --------
    >>> busy_clicks_reach()  # not in a kernel
    False
    """
    kernel = _kernel()
    thread = getattr(kernel, "shell_channel_thread", None)
    manager = getattr(thread, "manager", None)
    if manager is None:
        return False
    try:
        return bool(manager.list_subshell())
    except Exception:  # an ipykernel whose subshell manager differs: do not promise
        return False


def let_front_end_route(widget: Any) -> None:
    """Send ``widget``'s incoming messages where the front end addressed them (its subshell).

    Call it after the kernel changed the widget (each change publishes, and
    ipykernel 7.4 then routes the widget's messages to the publishing shell).
    Without a kernel, or with a kernel that does not reroute, it does nothing.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> button = SimpleNamespace(comm=SimpleNamespace(_reply_subshell_id=None))
    >>> let_front_end_route(button); hasattr(button.comm, "_reply_subshell_id")
    False
    """
    comm = getattr(widget, "comm", None)
    state = getattr(comm, "__dict__", None)
    if state is not None:
        state.pop("_reply_subshell_id", None)

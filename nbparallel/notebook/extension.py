"""nbparallel in a kernel: ``%load_ext nbparallel``, and what ``import nbparallel`` does in one.

The magics are registered, the workers stop as soon as the kernel is asked to
exit, and after each cell the warm-ups that the cell's imports ask for start
(the k-search's, once ``sklearn.cluster`` is imported).
"""

from __future__ import annotations

from typing import Any

from ..backends import close, warm
from ..backends.warmup import asked_by_imports

__all__ = ["load_ipython_extension", "started_in_kernel"]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nbparallel``: register ``%%parallel`` and ``%nbparallel``, warm the workers.

    Parameters
    ----------
    ipython : IPython.core.interactiveshell.InteractiveShell
        The shell loading the extension.

    Examples
    --------
    >>> from IPython.testing.globalipapp import get_ipython
    >>> load_ipython_extension(get_ipython())  # doctest: +SKIP
    """
    from .magics import ParallelMagics

    ipython.register_magics(ParallelMagics)
    _close_with(ipython)
    _watch_cells(ipython)
    warm()


def started_in_kernel(ipython: Any) -> None:
    """``import nbparallel`` in a Jupyter kernel: stop with it, warm after cells, start the workers now.

    The first import starts the workers in the background, so the first
    ``pmap`` does not wait for them, and the kernel's shutdown stops them.

    Parameters
    ----------
    ipython : IPython.core.interactiveshell.InteractiveShell
        The kernel's shell.
    """
    _close_with(ipython)
    _watch_cells(ipython)
    warm()


_closing = False


def _close_with(ipython: Any) -> None:
    """Stop the workers and the resource trackers as soon as ``ipython`` is asked to exit.

    ipykernel sets the shell's ``exit_now`` on a shutdown or restart request,
    then signals the children of its process group until they are gone: done
    first, that finds nothing left (see :func:`nbparallel.backends.close`).
    """
    global _closing
    observe = getattr(ipython, "observe", None)
    if _closing or observe is None:
        return

    def _on_exit(change: dict[str, object]) -> None:
        if change.get("new"):
            close()

    observe(_on_exit, names="exit_now")
    _closing = True


_watching = False


def _watch_cells(ipython: Any) -> None:
    """After each cell, start the warm-ups that the cell's imports ask for (see :func:`nbparallel.backends.warmup.want_warm_up_after`)."""
    global _watching
    events = getattr(ipython, "events", None)
    if _watching or events is None:
        return
    events.register("post_run_cell", lambda *_: asked_by_imports())
    _watching = True

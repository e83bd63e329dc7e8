"""Warm-up steps for the workers: what each new worker runs as it starts, asked for by front ends.

Nothing is asked for until a front end is reached for (the k-search when
``nbparallel.choose_k`` is first looked up, or once the process has imported
``sklearn.cluster``), so an idle worker holds only what every call needs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from ..worker.control import in_worker
from .base import get_backend

__all__ = ["WARM_UP", "want_warm_up", "want_warm_up_after", "asked_by_imports", "Wanted"]

#: Warm-up steps asked for in this process (say, the imports of the k-search): every worker
#: runs them as it starts, and ``warm()`` runs them in the pool's workers.  Nothing is here until
#: a front end asks (:func:`want_warm_up`), so an idle worker holds only what every call needs.
WARM_UP: list[Callable[[], None]] = []


def want_warm_up(step: Callable[[], None]) -> None:
    """Ask every worker to run ``step`` once: those running now (in the background) and those to come.

    A front end calls it when it is first reached for (the k-search when
    ``nbparallel.choose_k`` is first looked up), so its heavy imports cost
    memory in the workers only once the user is about to need them.

    Parameters
    ----------
    step : callable
        A function of no arguments, importable by name in the workers.

    Examples
    --------
    >>> import os
    >>> want_warm_up(os.getpid)
    >>> os.getpid in WARM_UP
    True
    >>> WARM_UP.remove(os.getpid)
    """
    if step in WARM_UP:
        return
    WARM_UP.append(step)
    backend = get_backend("loky")  # the local processes (nbparallel.backends.local)
    if hasattr(backend, "warm_up") and not in_worker():
        backend.warm_up(step)


#: Modules whose import in this process asks for a warm-up: name -> the function that asks
#: (it calls :func:`want_warm_up`), dropped once called.  See :func:`want_warm_up_after`.
_ASKED_BY: dict[str, Callable[[], None]] = {}


def want_warm_up_after(module: str, ask: Callable[[], None]) -> None:
    """Call ``ask`` once ``module`` is imported in this process (say, the k-search's warm-up after ``sklearn.cluster``).

    It is checked when the pool starts (so its workers warm up as they start),
    when a call is prepared, and by :func:`asked_by_imports` (a kernel calls it
    after each cell): a process that imported the module is about to need the
    warm-up, one that did not pays nothing for it.

    Parameters
    ----------
    module : str
        A module name, as in :data:`sys.modules`.
    ask : callable
        A function of no arguments, called once, in this process.

    Examples
    --------
    >>> asked = []
    >>> want_warm_up_after("os", lambda: asked.append("os"))  # imported already: asked now
    >>> asked
    ['os']
    """
    _ASKED_BY[module] = ask
    if module in sys.modules:
        asked_by_imports()


def asked_by_imports() -> None:
    """Call the ``ask`` of each module of :func:`want_warm_up_after` imported by now, once each."""
    if not _ASKED_BY:  # every ask was made (a call's usual case)
        return
    for name in list(_ASKED_BY):  # a copy (asks are popped); no comprehension: this runs per call
        if name not in sys.modules:
            continue
        ask = _ASKED_BY.pop(name, None)
        if ask is None or in_worker():
            continue
        try:
            ask()
        except Exception:  # warming is an optimisation: never an error for the user
            logging.getLogger("nbparallel").warning("a warm-up asked after %s failed", name, exc_info=True)


class Wanted:
    """The warm-up steps asked for when a worker is spawned: loky pickles the initializer's
    arguments at each spawn, so a worker that replaces an idle one runs the steps asked since."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (tuple, (tuple(WARM_UP),))

"""How one of nbparallel's workers starts: a light import of the package, its set-up, its warm-up steps.

A worker needs only :mod:`nbparallel.worker` to run chunks (about 3 MiB over
NumPy), not the API, the runtime and the display that a kernel imports with
``import nbparallel`` (about 15 MiB more, in every worker).  The pool starts
its workers with :data:`LIGHT_IMPORT` in their environment: there, the package
imports only what a chunk needs, and its public names load on first use (a
``pmap`` called inside a chunk, say).  :func:`start_worker` takes the variable
out of the worker's environment at once, so processes the user's code starts
from a worker import nbparallel as usual.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from .control import prepare_worker

__all__ = ["LIGHT_IMPORT", "start_worker", "ready"]

#: Set (to ``"1"``) in the environment of the pool's workers as they are spawned; read by
#: ``nbparallel/__init__.py`` as the package is imported there (before :func:`start_worker` runs).
LIGHT_IMPORT = "NBPARALLEL_LIGHT_IMPORT"


def start_worker(parent: int, setup: tuple[Callable[[], None], ...]) -> None:
    """In a new worker (loky's ``initializer``): set it up, then run the warm-up steps asked for.

    Parameters
    ----------
    parent : int
        The process id of the kernel that owns the pool (the worker exits when it is gone).
    setup : tuple of callable
        The warm-up steps asked for in the kernel so far (see
        :func:`nbparallel.backends.warmup.want_warm_up`).
    """
    os.environ.pop(LIGHT_IMPORT, None)  # read already; not passed on to the user's own processes
    prepare_worker(parent)
    try:
        ready(setup)
    except Exception:  # an optimisation only: the chunk that needs it will say what is wrong
        logging.getLogger("nbparallel").warning("a worker's warm-up step failed", exc_info=True)


_warmed: set[Callable[[], None]] = set()  # the steps this worker has run


def ready(setup: tuple[Callable[[], None], ...]) -> int:
    """In a worker: run the steps of ``setup`` it has not run yet; its process id.

    Parameters
    ----------
    setup : tuple of callable
        Functions of no arguments.

    Returns
    -------
    int
        This process's id (the kernel counts the workers that are ready).

    Examples
    --------
    >>> ready((os.getpid,)) == os.getpid()
    True
    """
    for step in setup:
        if step not in _warmed:
            step()
            _warmed.add(step)
    return os.getpid()

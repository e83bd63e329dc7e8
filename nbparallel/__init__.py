"""nbparallel: parallel notebook compute on joblib/loky.

>>> import nbparallel as nbp
>>> nbp.pmap(abs, [-1, -2, 3], n_jobs=1, progress=False)
[1, 2, 3]
"""

from __future__ import annotations

import logging as _logging
import sys as _sys
from typing import TYPE_CHECKING

# The import block is in sections (``isort: split`` keeps each one sorted on its own).
# -- the plain API ------------------------------------------------------------------
from .api import pmap, pmap_chunks
from .groups import pmap_groups
from .streaming import imap
from .worker.setup import per_worker

# isort: split
# -- joblib (scikit-learn's n_jobs), background calls, notebook cells -----------------
from .frontends.background import background
from .notebook.cell import run_cell

# isort: split
# -- configuration and the pool -----------------------------------------------------
from .backends import shutdown, warm
from .config import config
from .options import RunOptions
from .settings import get_config, in_kernel

# isort: split
# -- jobs and errors ----------------------------------------------------------------
from .errors import (
    ChunkFailure,
    ChunkTimeout,
    Failed,
    JobCancelled,
    JobInterrupted,
    RemoteTraceback,
    SplitGroupWarning,
    UnpicklableResult,
    WorkerDied,
    WorkerError,
)
from .insights.report import Report
from .insights.timeline import record_timelines
from .jobs.handles import jobs, last_job
from .jobs.job import Job, PartialResult
from .worker.run import seed_item

# isort: split
# -- building blocks ----------------------------------------------------------------
from .data.merge import merge
from .data.partition import partition

# isort: split
# -- wiring: the layers above the runtime hand themselves to it (below) ----------------
from .backends import close as _close_backends
from .backends.warmup import asked_by_imports as _asked_by_imports
from .backends.warmup import want_warm_up_after as _want_warm_up_after
from .display.call_view import make_call_view as _make_call_view
from .display.follow import LAYER as _display_layer
from .frontends.background import install_view as _install_call_view
from .frontends.frames import hook as _pandas_hook
from .frontends.joblib_backend import register as _register_joblib_backend
from .jobs import runtime as _runtime

__version__ = "0.1.0"

# A library logs, the application decides where it goes (job start/finish,
# failures, retries, timeouts): logging.getLogger("nbparallel").
_logging.getLogger("nbparallel").addHandler(_logging.NullHandler())

# The runtime shows every job through the display layer, which sits above it
# and so is handed to it here, once (see nbparallel.jobs.runtime).
_runtime.install_display(_display_layer)
_install_call_view(_make_call_view)  # and every background call's widget (nbp.background)

# joblib.parallel_config(backend="nbparallel") sends joblib's Parallel calls
# (scikit-learn's n_jobs) to nbparallel's pool.
_register_joblib_backend()

# df.parallel and s.parallel: registered now if pandas is imported, else when it is.
_pandas_hook.install()

__all__ = [
    # plain API
    "pmap",
    "pmap_chunks",
    "pmap_groups",
    "imap",
    "per_worker",
    # joblib and background calls
    "background",
    # notebook cells
    "run_cell",
    # choosing k
    "elbow_search",
    "silhouette_search",
    "choose_k",
    "KSearchResult",
    # configuration
    "config",
    "get_config",
    "RunOptions",
    "shutdown",
    "warm",
    "load_ipython_extension",
    # jobs and errors
    "Job",
    "JobCancelled",
    "JobInterrupted",
    "WorkerDied",
    "ChunkTimeout",
    "UnpicklableResult",
    "PartialResult",
    "jobs",
    "last_job",
    "Report",
    "record_timelines",
    "seed_item",
    "ChunkFailure",
    "Failed",
    "RemoteTraceback",
    "SplitGroupWarning",
    "WorkerError",
    # building blocks
    "partition",
    "merge",
    "__version__",
    # pandas (loaded on first use; pandas is imported then, not before)
    "pandarallel",
    "groupby_apply",
]

_LAZY = {"pandarallel", "groupby_apply"}
_KSEARCH = {"choose_k", "elbow_search", "silhouette_search", "KSearchResult"}

if TYPE_CHECKING:
    # -- choosing the number of clusters (loaded on first use) ----------------------
    from .ksearch import KSearchResult, choose_k, elbow_search, silhouette_search


def __getattr__(name: str) -> object:
    """Names that load on first use.

    ``pandarallel`` and ``groupby_apply`` import pandas.  The k-search
    (``choose_k``, ...) asks the workers to import scikit-learn when it is
    first looked up, or once the process has imported ``sklearn.cluster``
    (see :func:`nbparallel.backends.warmup.want_warm_up`), so workers of a
    kernel that never clusters stay light.
    """
    if name in _LAZY:
        from .frontends import frames

        return getattr(frames, name)
    if name in _KSEARCH:
        from . import ksearch

        value = globals()[name] = getattr(ksearch, name)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext nbparallel``: register ``%%parallel`` and ``%nbparallel``, warm the workers.

    Parameters
    ----------
    ipython : IPython.core.interactiveshell.InteractiveShell
        The shell loading the extension.
    """
    from .notebook.magics import ParallelMagics

    ipython.register_magics(ParallelMagics)  # type: ignore[attr-defined]
    _close_with(ipython)
    _watch_cells(ipython)
    warm()


def _close_with(ipython: object) -> None:
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
            _close_backends()

    observe(_on_exit, names="exit_now")
    _closing = True


_closing = False


def _reach_for_ksearch() -> None:
    """Ask the workers to import the k-search's modules (scikit-learn): importing it asks."""
    from . import ksearch  # noqa: F401 -- see nbparallel.ksearch: want_warm_up(preload)


def _watch_cells(ipython: object) -> None:
    """After each cell, start the warm-ups that the cell's imports ask for (see :func:`_reach_for_ksearch`)."""
    global _watching
    events = getattr(ipython, "events", None)
    if _watching or events is None:
        return
    events.register("post_run_cell", lambda *_: _asked_by_imports())
    _watching = True


_watching = False

# A process that imported scikit-learn's clustering is about to cluster: the workers import the
# k-search then (in the background, and as they start), not during the first choose_k.  One that
# imported only other parts of scikit-learn keeps light workers.
_want_warm_up_after("sklearn.cluster", _reach_for_ksearch)


# Inside a Jupyter kernel the first import starts the workers in the background,
# so the first pmap does not wait for them, and the kernel's shutdown stops them.
# A kernel has imported IPython already; a worker has not, and need not (about 10 MiB each).
if "IPython" in _sys.modules and in_kernel():
    from IPython import get_ipython as _get_ipython

    _close_with(_get_ipython())
    _watch_cells(_get_ipython())
    warm()

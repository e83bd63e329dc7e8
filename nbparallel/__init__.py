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
# -- what a chunk may use in a worker too: errors, per-worker set-up, seeding -----------
# (a worker imports these and what running chunks needs; the rest loads there on first use)
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
from .worker.run import seed_item
from .worker.setup import per_worker

# isort: split
# -- wiring of every process ------------------------------------------------------------
from . import light_import as _light_import
from .frontends.frames import hook as _pandas_hook

__version__ = "0.1.0"

# A library logs, the application decides where it goes (job start/finish,
# failures, retries, timeouts): logging.getLogger("nbparallel").
if not _logging.getLogger("nbparallel").handlers:  # once: a worker imports this module again (light_import)
    _logging.getLogger("nbparallel").addHandler(_logging.NullHandler())

# df.parallel and s.parallel: registered now if pandas is imported, else when it is.
_pandas_hook.install()


def _reach_for_ksearch() -> None:
    """Ask the workers to import the k-search's modules (scikit-learn): importing it asks."""
    from . import ksearch  # noqa: F401 -- see nbparallel.ksearch: want_warm_up(preload)


#: One of nbparallel's own workers, starting: it imports only what running chunks needs, and
#: the names imported below load on first use (see nbparallel.light_import and __getattr__).
_light = _light_import.light()

if not _light:
    # -- the plain API ------------------------------------------------------------------
    from .api import pmap, pmap_chunks
    from .groups import pmap_groups
    from .streaming import imap

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
    # -- jobs ---------------------------------------------------------------------------
    from .insights.report import Report
    from .insights.timeline import record_timelines
    from .jobs.handles import jobs, last_job
    from .jobs.job import Job, PartialResult

    # isort: split
    # -- Jupyter ------------------------------------------------------------------------
    from .notebook.extension import load_ipython_extension
    from .notebook.extension import started_in_kernel as _started_in_kernel

    # isort: split
    # -- building blocks ----------------------------------------------------------------
    from .data.merge import merge
    from .data.partition import partition

    # isort: split
    # -- wiring: the layers above the runtime hand themselves to it (below) ----------------
    from .backends.warmup import want_warm_up_after as _want_warm_up_after
    from .display.call_view import make_call_view as _make_call_view
    from .display.follow import LAYER as _display_layer
    from .frontends.background import install_view as _install_call_view
    from .frontends.joblib_backend import register as _register_joblib_backend
    from .jobs import runtime as _runtime

    # The runtime shows every job through the display layer, which sits above it
    # and so is handed to it here, once (see nbparallel.jobs.runtime).
    _runtime.install_display(_display_layer)
    _install_call_view(_make_call_view)  # and every background call's widget (nbp.background)

    # joblib.parallel_config(backend="nbparallel") sends joblib's Parallel calls
    # (scikit-learn's n_jobs) to nbparallel's pool.
    _register_joblib_backend()

    # A process that imported scikit-learn's clustering is about to cluster: the workers import
    # the k-search then (in the background, and as they start), not during the first choose_k.
    # One that imported only other parts of scikit-learn keeps light workers.
    _want_warm_up_after("sklearn.cluster", _reach_for_ksearch)

    # Inside a Jupyter kernel the first import starts the workers in the background, and the
    # kernel's shutdown stops them.  A kernel has imported IPython already; a worker has not,
    # and need not (about 10 MiB each).
    if "IPython" in _sys.modules and in_kernel():
        from IPython import get_ipython as _get_ipython

        _started_in_kernel(_get_ipython())
else:
    _light_import.start(_sys.modules[__name__])

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
    kernel that never clusters stay light.  In a worker, every name loads on
    first use (a ``pmap`` inside a chunk, say): the package is imported
    again, as a kernel imports it.
    """
    if name in _LAZY:
        from .frontends import frames

        return getattr(frames, name)
    if name in _KSEARCH:
        from . import ksearch

        value = globals()[name] = getattr(ksearch, name)
        return value
    if _light_import.wants_loading(_sys.modules[__name__], name):
        _light_import.load_all(_sys.modules[__name__])  # or wait for the thread loading it
        if name in globals():  # a submodule a kernel's import imports too (nbp.backends) is bound now
            return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's names; in a worker also those that load on first use."""
    later = set() if _light_import.loaded() else set(__all__) - _LAZY - _KSEARCH
    return sorted(set(globals()) | later)

"""nbparallel: parallel notebook compute on joblib/loky.

>>> import nbparallel as nbp
>>> nbp.pmap(abs, [-1, -2, 3], n_jobs=1, progress=False)
[1, 2, 3]
"""

from __future__ import annotations

import copyreg as _copyreg
import importlib as _importlib
import importlib.util as _importlib_util
import logging as _logging
import os as _os
import sys as _sys
import threading as _threading
import types as _types
from typing import TYPE_CHECKING, Any

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
from .frontends.frames import hook as _pandas_hook
from .frontends.on_import import when_imported as _when_imported
from .worker.start import LIGHT_IMPORT as _LIGHT_IMPORT

__version__ = "0.1.0"

# A library logs, the application decides where it goes (job start/finish,
# failures, retries, timeouts): logging.getLogger("nbparallel").
if not _logging.getLogger("nbparallel").handlers:  # once: a worker imports this module again (_load_all)
    _logging.getLogger("nbparallel").addHandler(_logging.NullHandler())

# df.parallel and s.parallel: registered now if pandas is imported, else when it is.
_pandas_hook.install()


def _register_joblib_backend_lazily() -> None:
    """In a worker: joblib's "nbparallel" backend, without importing it until joblib makes one."""
    from joblib import register_parallel_backend

    def make(**kwargs: Any) -> object:
        from .frontends.joblib_backend import NbparallelBackend

        return NbparallelBackend(**kwargs)

    register_parallel_backend("nbparallel", make)


class _DisplayOnFirstUse:
    """In a worker: the display, imported when a job is first shown (see nbparallel.jobs.runtime)."""

    def view(self, job: Any, *, background: bool) -> Any:
        from .display.follow import LAYER

        return LAYER.view(job, background=background)

    def show(self, job: Any) -> None:
        from .display.follow import LAYER

        LAYER.show(job)


def _display_on_first_use() -> None:
    _sys.modules[f"{__name__}.jobs.runtime"].install_display(_DisplayOnFirstUse())


class _LightPackage(_types.ModuleType):
    """In a worker: the package, whose public names a submodule's import does not overwrite.

    In a kernel ``nbparallel.config`` is the function-like class, bound after
    the submodule of that name was imported.  In a worker the submodule may be
    imported first (cloudpickle imports the submodules a chunk's function
    names), and the name must still load on first use.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, _types.ModuleType) and name in globals().get("__all__", ()):
            return
        super().__setattr__(name, value)


def _pickle_package(package: _types.ModuleType) -> tuple[Any, tuple[str]]:
    """By name, as cloudpickle pickles a module (a chunk's result may name the package)."""
    return _importlib.import_module, (package.__name__,)


def _reach_for_ksearch() -> None:
    """Ask the workers to import the k-search's modules (scikit-learn): importing it asks."""
    from . import ksearch  # noqa: F401 -- see nbparallel.ksearch: want_warm_up(preload)


#: One of nbparallel's own workers, starting: it imports only what running chunks needs, and the
#: names imported below load on first use (see nbparallel.worker.start and __getattr__).
_light = _os.environ.get(_LIGHT_IMPORT) == "1"
#: ... and stays so marked when the package is imported again there (_load_all): a thread that
#: reaches for a name meanwhile waits for it.
_started_light = _light or bool(globals().get("_started_light"))

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
    # A chunk may ask joblib for the "nbparallel" backend without touching nbparallel's names:
    # registered as soon as joblib is imported here, loaded when it is first used.
    _when_imported("joblib", _register_joblib_backend_lazily)
    # A job run here without them (through a submodule, df.parallel, joblib) shows as in a kernel.
    _when_imported("nbparallel.jobs.runtime", _display_on_first_use)
    # A submodule named as a public name (nbparallel.config, nbparallel.jobs) does not hide it.
    _sys.modules[__name__].__class__ = _LightPackage
    _copyreg.pickle(_LightPackage, _pickle_package)

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
    if _started_light and (name in __all__ or _is_submodule(name)):
        _load_all()  # or wait for the thread loading it
        if name in globals():  # a submodule a kernel's import imports too (nbp.backends) is bound now
            return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _is_submodule(name: str) -> bool:
    return (
        name.isidentifier() and not name.startswith("_") and _importlib_util.find_spec(f"{__name__}.{name}") is not None
    )


def __dir__() -> list[str]:
    """The module's names; in a worker also those that load on first use."""
    later = set(__all__) - _LAZY - _KSEARCH if _started_light else set()
    return sorted(set(globals()) | later)


if "_loading" not in globals():  # one lock, kept when the package is imported again
    _loading = _threading.Lock()


def _load_all() -> None:
    """In a worker: import the whole package now (its names, the joblib backend, the display)."""
    global _light
    with _loading:
        if _light:  # not loaded by another thread meanwhile
            _os.environ.pop(_LIGHT_IMPORT, None)
            try:
                _importlib.reload(_sys.modules[__name__])
            except BaseException:  # the chunk's timeout or cancel, say, raised mid-import: again on next use
                _light = True
                raise
            _sys.modules[__name__].__class__ = _types.ModuleType  # every name is bound now

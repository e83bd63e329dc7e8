"""``import nbparallel`` in one of nbparallel's own workers: what running chunks needs, the rest on first use.

A worker needs only :mod:`nbparallel.worker` (about 3 MiB over NumPy), not
the API, the runtime and the display a kernel imports (about 15 MiB more, in
every worker).  The pool spawns its workers with
:data:`~nbparallel.worker.start.LIGHT_IMPORT` set, and there the package's
``__init__`` imports only the names a chunk may use (errors, ``seed_item``,
``per_worker``) and calls :func:`start`.  Any other public name, or submodule
reached as an attribute, imports the whole package on first use
(:func:`load_all`: the package is imported again, as in a kernel), so a chunk
may do in a worker whatever it does in the kernel:

- threads of a chunk that reach for a name while it loads wait for it;
- a chunk stopped while the package loads (its timeout, a cancel) leaves it to
  load again on next use;
- a submodule imported first (cloudpickle imports the submodules a notebook
  function names: ``nbparallel.config``, ``nbparallel.jobs``) does not hide
  the public name so called;
- joblib's ``"nbparallel"`` backend is registered once joblib is imported,
  and a job run without the public names (``df.parallel``, a submodule's
  ``pmap``) still shows its progress.
"""

from __future__ import annotations

import copyreg
import importlib
import importlib.util
import os
import sys
import threading
import types
from typing import Any

from .frontends.on_import import when_imported
from .worker.start import LIGHT_IMPORT

__all__ = ["light", "start", "loaded", "wants_loading", "load_all"]

#: "light" (a worker of nbparallel's, spawned with the variable set: read once, before it goes),
#: "loading" (the package is being imported again, by :func:`load_all`), or "loaded".
_state = "light" if os.environ.get(LIGHT_IMPORT) == "1" else "loaded"
_lock = threading.RLock()  # the thread loading may look a name up meanwhile: it is not waited for


class _LightPackage(types.ModuleType):
    """The package until it is loaded: a submodule's import does not overwrite a public name."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in self.__dict__.get("__all__", ()):
            return
        super().__setattr__(name, value)


def _pickle_package(package: types.ModuleType) -> tuple[Any, tuple[str]]:
    """By name, as cloudpickle pickles a module (a chunk's result may name the package)."""
    return importlib.import_module, (package.__name__,)


def _register_joblib_backend() -> None:
    """joblib's "nbparallel" backend, not imported until joblib makes one."""
    from joblib import register_parallel_backend

    def make(**kwargs: Any) -> object:
        from .frontends.joblib_backend import NbparallelBackend

        return NbparallelBackend(**kwargs)

    register_parallel_backend("nbparallel", make)


class _DisplayOnFirstUse:
    """The display, imported when a job is first shown (see :mod:`nbparallel.jobs.runtime`)."""

    def view(self, job: Any, *, background: bool) -> Any:
        from .display.follow import LAYER

        return LAYER.view(job, background=background)

    def show(self, job: Any) -> None:
        from .display.follow import LAYER

        LAYER.show(job)


def _display_on_first_use() -> None:
    sys.modules[f"{__package__}.jobs.runtime"].install_display(_DisplayOnFirstUse())


def start(package: types.ModuleType) -> None:
    """In a worker, as the package is imported: what loads on first use, and how.

    Parameters
    ----------
    package : module
        The ``nbparallel`` package, being imported.
    """
    when_imported("joblib", _register_joblib_backend)
    when_imported(f"{package.__name__}.jobs.runtime", _display_on_first_use)
    package.__class__ = _LightPackage
    copyreg.pickle(_LightPackage, _pickle_package)


def light() -> bool:
    """Whether the package imports only what running chunks needs (a worker, before :func:`load_all`).

    Examples
    --------
    >>> light()  # not one of nbparallel's workers
    False
    """
    return _state == "light"


def loaded() -> bool:
    """Whether the whole package is imported (always, outside nbparallel's workers).

    Examples
    --------
    >>> loaded()
    True
    """
    return _state == "loaded"


def wants_loading(package: types.ModuleType, name: str) -> bool:
    """Whether looking up ``name`` on the package needs the whole package: a public name or a submodule."""
    if _state == "loaded":
        return False
    if name in package.__dict__.get("__all__", ()):
        return True
    return (
        name.isidentifier()
        and not name.startswith("_")
        and importlib.util.find_spec(f"{package.__name__}.{name}") is not None
    )


def load_all(package: types.ModuleType) -> None:
    """Import the whole package now, as a kernel does (or wait for the thread doing it).

    Parameters
    ----------
    package : module
        The ``nbparallel`` package.
    """
    global _state
    with _lock:
        if _state != "light":  # loaded meanwhile by another thread, or being loaded by this one
            return
        _state = "loading"
        os.environ.pop(LIGHT_IMPORT, None)  # passed on to no process the user's code starts
        try:
            importlib.reload(package)  # imported again, as in a kernel (light() is False now)
        except BaseException:  # a chunk's timeout or cancel, say, mid-import: loaded again on next use
            _state = "light"
            raise
        package.__class__ = types.ModuleType  # every name is bound now
        _state = "loaded"

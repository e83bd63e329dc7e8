"""Run a registration when a module is imported, without importing it.

``import nbparallel`` must stay fast and must not import pandas or joblib for
the user: a registration that needs one of them (the ``df.parallel``
accessors; the joblib backend in a worker) runs at once if the module is
imported already, else right after its import, from a finder that waits on
:data:`sys.meta_path`.  A registration that fails never breaks the user's import.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

__all__ = ["when_imported"]


def when_imported(name: str, then: Callable[[], None]) -> None:
    """Call ``then`` once ``name`` is imported: now if it is (fully), else right after its import.

    Parameters
    ----------
    name : str
        A module's full name, as in :data:`sys.modules` (``"pandas"``, ``"nbparallel.jobs.runtime"``).
    then : callable
        A function of no arguments; an exception it raises is logged, never raised.

    Examples
    --------
    >>> seen = []
    >>> when_imported("json", lambda: seen.append("json"))
    >>> import json
    >>> seen
    ['json']
    """
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    if module is not None and not getattr(spec, "_initializing", False):
        _call(name, then)
    elif not any(isinstance(f, _Finder) and f.name == name and f.then is then for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder(name, then))


def _call(name: str, then: Callable[[], None]) -> None:
    try:
        then()
    except Exception:  # never break the user's import
        logging.getLogger("nbparallel").warning("registering after %s's import failed", name, exc_info=True)


class _Loader(importlib.abc.Loader):
    """The module's own loader, then the registration."""

    def __init__(self, loader: Any, finder: _Finder) -> None:
        self.loader, self.finder = loader, finder

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        module: types.ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        self.loader.exec_module(module)
        sys.meta_path[:] = [f for f in sys.meta_path if f is not self.finder]  # imported: done waiting
        _call(self.finder.name, self.finder.then)

    def __getattr__(self, name: str) -> Any:  # the rest as the module's own loader (its files, its source)
        return getattr(self.loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    """Waits for one module's import; finds it with the other finders and wraps its loader.

    It waits until the module is imported, not only looked for: a library that
    asks whether pandas is installed (``importlib.util.find_spec``, as polars
    does) gets a spec it never loads.
    """

    def __init__(self, name: str, then: Callable[[], None]) -> None:
        self.name, self.then = name, then
        self._finding = threading.local()  # this finder's own find_spec below goes past it

    def find_spec(self, fullname: str, path: Any, target: types.ModuleType | None = None) -> Any:
        if fullname != self.name or fullname in sys.modules or getattr(self._finding, "now", False):
            return None
        self._finding.now = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._finding.now = False
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, self)
        return spec

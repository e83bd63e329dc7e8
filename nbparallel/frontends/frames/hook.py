"""Register ``df.parallel`` and ``s.parallel`` when pandas is imported, without importing it.

``import nbparallel`` must stay fast and work without pandas: if pandas is
already imported the accessors are registered at once; otherwise a finder
waits on :data:`sys.meta_path` for pandas' import and registers them right
after it.  This module imports nothing of pandas.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

__all__ = ["install"]


def _register() -> None:
    try:
        from .accessor import register

        register()
    except Exception:  # never break the user's ``import pandas``
        pass


class _Loader(importlib.abc.Loader):
    """pandas' own loader, then the registration."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        module: types.ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        self.loader.exec_module(module)
        _register()


class _PandasFinder(importlib.abc.MetaPathFinder):
    """Waits for ``import pandas``; finds it with the other finders and wraps its loader."""

    def find_spec(self, fullname: str, path: Any, target: types.ModuleType | None = None) -> Any:
        if fullname != "pandas":
            return None
        _uninstall()
        spec = importlib.util.find_spec("pandas")
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


def _uninstall() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _PandasFinder)]


def install() -> None:
    """Register the accessors now if pandas is imported, else when it is."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and hasattr(pandas, "api"):
        _register()
    elif not any(isinstance(f, _PandasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PandasFinder())

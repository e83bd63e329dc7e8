"""What every pandas method of this front end shares: running a chunk job, naming the failing row.

A method plans one job of whole chunks (each worker runs pandas' own method on
its chunk) through :func:`nbparallel.api.plan` and hands it to the runtime
(:func:`nbparallel.jobs.runtime.run`), like every other front end.
"""

from __future__ import annotations

import functools
import reprlib
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ...api import plan
from ...jobs import runtime
from ...options import RunOptions

__all__ = ["run_chunks", "is_plain_function", "Noted", "Counted", "share_numeric"]

_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40


def run_chunks(
    worker: Callable[..., Any],
    datas: tuple[Any, ...],
    options: RunOptions,
    finalize: Callable[[list[Any]], Any],
    bounds: Callable[[int], list[tuple[int, int]]] | None = None,
) -> Any:
    """Run ``worker`` on row chunks of ``datas`` (aligned inputs) and merge with ``finalize``.

    Returns the merged result, or the started :class:`~nbparallel.Job` when
    ``options.background``.
    """
    job = plan(worker, datas, options, mode="chunk", finalize=finalize, bounds=bounds)
    return runtime.run(job, background=options.background)


def is_plain_function(func: Any) -> bool:
    """Whether ``func`` is the user's own Python code (safe to wrap without changing pandas' dispatch).

    Strings, ufuncs, builtins and lists or dicts of functions take other paths
    in pandas; they are passed through untouched.
    """
    inner = func.func if isinstance(func, functools.partial) else func
    return isinstance(inner, (types.FunctionType, types.MethodType)) or (
        callable(inner)
        and not isinstance(inner, (type, np.ufunc, types.BuiltinFunctionType))
        and hasattr(inner, "__code__")
    )


def _add_note(exc: BaseException, note: str) -> None:
    notes = getattr(exc, "__notes__", [])
    if note not in notes:
        exc.add_note(note)


class Noted:
    """``func`` whose exceptions say where they happened: ``where(first_argument)`` names it."""

    def __init__(self, func: Callable[..., Any], what: str, where: Callable[[Any], Any]) -> None:
        self.func = func
        self.what = what
        self.where = where
        functools.update_wrapper(self, func, updated=())

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.func(x, *args, **kwargs)
        except Exception as exc:
            _add_note(exc, f"raised in {self.what} {self.where(x)!r}")
            raise


class Counted:
    """``func`` called once per value, in order: its exceptions name the value's row label."""

    def __init__(self, func: Callable[..., Any], labels: Sequence[Any]) -> None:
        self.func = func
        self.labels = labels
        self.count = 0
        functools.update_wrapper(self, func, updated=())

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        i = self.count
        self.count += 1
        try:
            return self.func(x, *args, **kwargs)
        except Exception as exc:
            label = self.labels[i] if i < len(self.labels) else "?"
            _add_note(exc, f"raised in row {label!r} (value {_repr.repr(x)})")
            raise


def share_numeric(df: Any) -> tuple[Any, Any] | None:
    """A frame of one numeric NumPy dtype as ``(values, index_frame)`` to rebuild it from, else ``None``.

    ``values`` is the frame's 2-D array (a view): large ones travel to the
    workers through one shared-memory file (see :func:`nbparallel.api.plan`)
    instead of a pickle per chunk.  ``index_frame`` is the frame without its
    columns, cut into chunks along with it.
    """
    if df.shape[1] == 0 or len(df) == 0:
        return None
    dtypes = set(df.dtypes)
    if len(dtypes) != 1:
        return None
    (dtype,) = dtypes
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biuf":
        return None
    return df.to_numpy(), df.iloc[:, :0]


def rebuild(values: Any, index_frame: Any, columns: Any) -> Any:
    """The chunk of a frame sent by :func:`share_numeric`, in a worker."""
    import pandas as pd

    return pd.DataFrame(values, index=index_frame.index, columns=columns, copy=False)

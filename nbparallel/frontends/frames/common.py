"""What every pandas method of this front end shares: running a chunk job, naming the failing row.

A method plans one job of whole chunks (each worker runs pandas' own method on
its chunk) through :func:`nbparallel.api.plan` and hands it to the runtime
(:func:`nbparallel.jobs.runtime.run`), like every other front end.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import os
import reprlib
import types
import uuid
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ...api import plan
from ...jobs import runtime
from ...options import RunOptions

__all__ = ["run_chunks", "is_plain_function", "Noted", "Counted", "note_where", "share_numeric", "NumericRows"]

_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40


def run_chunks(
    worker: Callable[..., Any],
    datas: tuple[Any, ...],
    options: RunOptions,
    finalize: Callable[[list[Any]], Any],
    bounds: Callable[[int], list[tuple[int, int]]] | None = None,
    folder: str | None = None,
) -> Any:
    """Run ``worker`` on row chunks of ``datas`` (aligned inputs) and merge with ``finalize``.

    ``folder`` (from :func:`share_numeric`) is removed once the job succeeded,
    or with the job at the latest (a failed job may still be retried).
    Returns the merged result, or the started :class:`~nbparallel.Job` when
    ``options.background``.
    """
    from ...data.shared import remove_folder

    try:
        func = getattr(worker, "func", None)
        if callable(func):  # retry_failed(fixed_func) remakes the worker around the fixed function
            wrap = functools.partial(_remake, worker)
            job = plan(func, datas, options, mode="chunk", finalize=finalize, bounds=bounds, wrap=wrap)
        else:  # a dict or Series to map by: nothing to wrap
            job = plan(worker, datas, options, mode="chunk", finalize=finalize, bounds=bounds)
    except BaseException:
        remove_folder(folder)
        raise
    if folder is None:
        return runtime.run(job, background=options.background)
    weakref.finalize(job, remove_folder, folder)
    result = runtime.run(job, background=options.background)
    if not options.background:
        remove_folder(folder)  # done: nothing will read it again
    return result


def _remake(worker: Any, func: Callable[..., Any]) -> Any:
    """``worker`` (a front end's chunk callable) around another user function."""
    new = copy.copy(worker)
    new.func = func
    return new


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


def note_where(exc: Exception, rerun: Callable[[], Any]) -> None:
    """Add to ``exc`` the note naming where it was raised, from ``rerun``: the chunk run again, noted.

    A cheap function runs unwrapped (a wrapper costs a Python call per row or
    value); only a failing chunk runs again with :class:`Noted` or
    :class:`Counted` around it, up to the failure, printing nothing the second time.
    """
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            rerun()
    except type(exc) as again:
        for note in getattr(again, "__notes__", [])[:1]:
            exc.add_note(note)
    except Exception:  # it failed otherwise this time: say nothing rather than something wrong
        pass


class NumericRows:
    """A DataFrame or Series of one numeric NumPy dtype, written once row-major into shared memory.

    Chunks travel as ``range`` objects (a few bytes) and each worker maps its
    rows of the file; the kernel never holds a second copy of the data.
    """

    def __init__(self, path: str, columns: Any, name: Any = None) -> None:
        self.path, self.columns, self.name = path, columns, name

    def frame(self, rows: range, index_frame: Any) -> Any:
        """In a worker: rows ``rows`` as a DataFrame, or a Series (``index_frame`` carries their index)."""
        import pandas as pd

        # a plain ndarray view of the map (no copy): pandas reads a np.memmap subclass element by
        # element through the subclass, and Series.map over 250,000 ints took 0.11 s instead of 0.06 s
        values = np.asarray(np.load(self.path, mmap_mode="c")[rows.start : rows.stop])
        if self.columns is None:
            return pd.Series(values, index=index_frame.index, name=self.name, copy=False)
        return pd.DataFrame(values, index=index_frame.index, columns=self.columns, copy=False)


#: DataFrames and Series of one numeric dtype at least this large (bytes) go through shared memory.
SHARE_FRAMES_ABOVE = 2**20

#: Rows written to shared memory at a time (bytes): the kernel's transient copy.
WRITE_BATCH = 4 * 2**20


def _write_rows(values: np.ndarray, path: str, row_bytes: int) -> None:
    """Save ``values`` as a C-order ``.npy`` with plain writes, a batch of rows at a time."""
    with open(path, "wb") as fh:  # plain writes: a full /dev/shm is an OSError, never SIGBUS
        header = {"descr": np.lib.format.dtype_to_descr(values.dtype), "fortran_order": False, "shape": values.shape}
        np.lib.format.write_array_header_1_0(fh, header)
        step = max(1, WRITE_BATCH // row_bytes)
        for a in range(0, len(values), step):
            np.ascontiguousarray(values[a : a + step]).tofile(fh)


def share_numeric(data: Any) -> tuple[tuple[Any, ...], NumericRows | None, str | None]:
    """The inputs to plan for ``data``: ``(range(n), index_frame)`` and a :class:`NumericRows`, or ``(data,)``.

    A large DataFrame or Series of one numeric dtype (at least
    :data:`SHARE_FRAMES_ABOVE` bytes) is written into a new shared folder (the
    third value: remove it when the job is over) in batches of rows, so the
    kernel's extra memory stays at one batch; anything else, or no room, gives
    ``((data,), None, None)``.
    """
    import pandas as pd

    from ...data.shared import check_room, new_folder, remove_folder

    series = isinstance(data, pd.Series)
    dtypes = {data.dtype} if series else set(data.dtypes)
    if len(dtypes) != 1 or data.size == 0:
        return (data,), None, None
    (dtype,) = dtypes
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biuf" or data.size * dtype.itemsize < SHARE_FRAMES_ABOVE:
        return (data,), None, None
    values = data.to_numpy()  # a view of the one block (transposed for a frame), not a copy
    row_bytes = values.itemsize * (1 if series else values.shape[1])
    for disk in (False, True):
        try:
            folder = new_folder(values.nbytes, disk=disk)
        except OSError:
            continue
        path = os.path.join(folder, f"input-frame-{uuid.uuid4().hex}.npy")
        try:
            check_room(folder, values.nbytes)
            _write_rows(values, path, row_bytes)
        except OSError:
            remove_folder(folder)
            continue
        if series:
            return (range(len(data)), pd.DataFrame(index=data.index)), NumericRows(path, None, data.name), folder
        return (range(len(data)), data.iloc[:, :0]), NumericRows(path, data.columns), folder
    return (data,), None, None

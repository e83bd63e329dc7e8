"""What every pandas method of this front end shares: running a chunk job, naming the failing row.

A method plans one job of whole chunks (each worker runs pandas' own method on
its chunk) through :func:`nbparallel.api.plan` and hands it to the runtime
(:func:`nbparallel.jobs.runtime.run`), like every other front end.
"""

from __future__ import annotations

import errno
import functools
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

__all__ = ["run_chunks", "is_plain_function", "Noted", "Counted", "share_numeric", "NumericRows"]

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


class NumericRows:
    """A frame of one numeric NumPy dtype, written once row-major into shared memory.

    Chunks travel as ``range`` objects (a few bytes) and each worker maps its
    rows of the file; the kernel never holds a second copy of the frame.
    """

    def __init__(self, path: str, columns: Any) -> None:
        self.path, self.columns = path, columns

    def frame(self, rows: range, index_frame: Any) -> Any:
        """In a worker: rows ``rows`` as a DataFrame (``index_frame`` carries their index)."""
        import pandas as pd

        values = np.load(self.path, mmap_mode="c")[rows.start : rows.stop]
        return pd.DataFrame(values, index=index_frame.index, columns=self.columns, copy=False)


#: Rows written to shared memory at a time (bytes): the kernel's transient copy.
WRITE_BATCH = 32 * 2**20


def share_numeric(df: Any) -> tuple[tuple[Any, ...], NumericRows | None, str | None]:
    """The inputs to plan for ``df``: ``(range(n), index_frame)`` and a :class:`NumericRows`, or ``(df,)``.

    A large frame of one numeric dtype (at least ``SHARE_ABOVE`` bytes) is
    written into a new shared folder (the third value: remove it when the job
    is over) in batches of rows, so the kernel's extra memory stays at one
    batch; any other frame, or no room, gives ``((df,), None, None)``.
    """
    from ...data.shared import SHARE_ABOVE, free_bytes, new_folder, remove_folder

    dtypes = set(df.dtypes)
    if df.shape[1] == 0 or len(dtypes) != 1:
        return (df,), None, None
    (dtype,) = dtypes
    if (
        not isinstance(dtype, np.dtype)
        or dtype.kind not in "biuf"
        or df.shape[0] * df.shape[1] * dtype.itemsize < SHARE_ABOVE
    ):
        return (df,), None, None
    values = df.to_numpy()  # a view of the frame's one block (transposed), not a copy
    for disk in (False, True):
        try:
            folder = new_folder(values.nbytes, disk=disk)
        except OSError:
            continue
        path = os.path.join(folder, f"input-frame-{uuid.uuid4().hex}.npy")
        try:
            if free_bytes(folder) < values.nbytes + 4096:
                raise OSError(errno.ENOSPC, "no room")
            with open(path, "wb") as fh:  # plain writes: a full /dev/shm is an OSError, never SIGBUS
                header = {
                    "descr": np.lib.format.dtype_to_descr(values.dtype),
                    "fortran_order": False,
                    "shape": values.shape,
                }
                np.lib.format.write_array_header_1_0(fh, header)
                step = max(1, WRITE_BATCH // max(1, values.shape[1] * values.itemsize))
                for a in range(0, len(values), step):
                    np.ascontiguousarray(values[a : a + step]).tofile(fh)
        except OSError:
            remove_folder(folder)
            continue
        return (range(len(df)), df.iloc[:, :0]), NumericRows(path, df.columns), folder
    return (df,), None, None

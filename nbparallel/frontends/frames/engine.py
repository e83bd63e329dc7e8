"""Row-wise, column-wise and element-wise pandas methods, chunk by chunk on the workers.

Each worker runs pandas' own method (``chunk.apply(f, axis=1)``,
``chunk.map(f)``, ...) on a chunk of rows, so results follow pandas' rules, and
the chunk results are joined by :mod:`.merging`.  Row-wise ``apply`` runs its
rows through :func:`.rows.apply_rows`: pandas' apply with a leaner row loop.  A frame of one numeric dtype
goes to the workers as one 2-D array, which :func:`nbparallel.api.plan` shares
through shared memory when it is large; other frames are pickled chunk by
chunk (each row once).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...data.merge import merge
from ...data.partition import chunk_bounds
from ...data.shared import RESULT_ABOVE, SharedArray, materialize
from ...options import RunOptions
from .common import Counted, Noted, NumericRows, is_plain_function, note_where, run_chunks, share_numeric
from .compat import as_mapped
from .merging import MIXED, Inference, concat_columns, concat_rows, pointwise
from .rows import apply_rows

__all__ = ["apply_frame", "map_frame", "apply_series", "map_series", "AXES"]

#: ``axis`` values pandas accepts, by meaning.
AXES: dict[Any, int] = {0: 0, "index": 0, "rows": 0, 1: 1, "columns": 1}


def _name(func: Any, method: str) -> str:
    return f"{method}({getattr(func, '__name__', type(func).__name__)})"


_NO_NAME = object()


def _compact(result: Any, chunk: Any, name: Any) -> Any:
    """In a worker: a Series result indexed like its chunk, of a NumPy dtype, goes back as its bare values.

    Large values then come back through shared memory and are joined into one
    pre-allocated array (see :func:`nbparallel.merge`): the kernel never holds
    the chunks' results and the joined one at once.
    """
    if (
        isinstance(result, pd.Series)
        and isinstance(result.dtype, np.dtype)
        and result.dtype.kind in "biufcmM"
        and (result.name is name or result.name == name)
        and result.index.equals(chunk.index)
    ):
        return result.to_numpy()
    return result


def _join_values(parts: list[Any], cuts: list[tuple[int, int]], index: pd.Index, name: Any, how: Inference) -> Any:
    """Join chunk results, some of them bare values (:func:`_compact`), into pandas' result."""
    if parts and all(isinstance(p, (np.ndarray, SharedArray)) for p in parts) and len({p.dtype for p in parts}) == 1:
        return pd.Series(merge(parts), index=index, name=name, copy=False)
    parts = materialize(parts)
    series = [
        pd.Series(p, index=index[a:b], name=name, copy=False) if isinstance(p, np.ndarray) else p
        for p, (a, b) in zip(parts, cuts, strict=True)
    ]
    return concat_rows(series, how)


class _Cuts:
    """The row chunks of a job: ``4 * n_workers`` even chunks, as ``pmap_chunks`` makes.

    When the results are large, fewer chunks, so that each chunk's values (8
    bytes a row, say) reach ``RESULT_ABOVE`` and come back through shared
    memory: the kernel then never holds the chunks' results besides the joined one.
    Always a multiple of ``n_workers``: 7 even chunks on 2 workers leave one
    worker a fourth chunk while the other idles (1,000,000 rows: 3.5 s, 6 chunks: 3.0 s).

    Examples
    --------
    >>> _Cuts(1_000_000)(2)  # 8 MB of results: 6 chunks of at least 1 MiB each, 3 per worker
    [(0, 166667), (166667, 333334), (333334, 500001), (500001, 666668), (666668, 833334), (833334, 1000000)]
    """

    def __init__(self, n: int) -> None:
        self.n, self.cuts = n, [(0, n)]

    def __call__(self, n_workers: int) -> list[tuple[int, int]]:
        k = 4 * n_workers
        total = 8 * self.n
        if total >= RESULT_ABOVE * n_workers:
            fewer = min(k, total // (RESULT_ABOVE + 1))
            k = max(n_workers, fewer - fewer % n_workers)  # as many chunks per worker: none waits on a last one
        self.cuts = chunk_bounds(self.n, k)
        return self.cuts


class _RowApply:
    """In a worker: ``chunk.apply(func, axis=1, ...)`` (pandas' own, with :func:`.rows.apply_rows`' row loop); a failing row is named."""

    def __init__(self, func: Any, shared: NumericRows | None, kwargs: dict[str, Any]) -> None:
        self.func, self.shared, self.kwargs = func, shared, kwargs
        self.__name__ = _name(func, "apply")

    def __call__(self, chunk: Any, index_frame: Any = None) -> Any:
        if self.shared is not None:
            chunk = self.shared.frame(chunk, index_frame)
        try:  # the function itself: a wrapper would cost a call per row
            result = apply_rows(chunk, self.func, self.kwargs)
        except Exception as exc:
            if is_plain_function(self.func):
                raw, func = self.kwargs.get("raw"), self.func
                noted = Counted(func, chunk.index) if raw else Noted(func, "row", lambda r: r.name)
                note_where(exc, lambda: chunk.apply(noted, axis=1, **self.kwargs))
            raise
        return _compact(result, chunk, None)


class _ColumnApply:
    """In a worker: ``apply(func, axis=0)`` on a list of one-column frames; a failing column is named."""

    def __init__(self, func: Any, kwargs: dict[str, Any]) -> None:
        self.func, self.kwargs = func, kwargs
        self.__name__ = _name(func, "apply")

    def __call__(self, columns: list[pd.DataFrame]) -> Any:
        chunk = pd.concat(columns, axis=1) if len(columns) > 1 else columns[0]
        func = self.func
        if is_plain_function(func):
            func = Counted(func, chunk.columns) if self.kwargs.get("raw") else Noted(func, "column", lambda c: c.name)
        return chunk.apply(func, axis=0, **self.kwargs)


def apply_frame(df: pd.DataFrame, func: Any, axis: Any, kwargs: dict[str, Any], options: RunOptions) -> Any:
    """``df.apply(func, axis=axis, **kwargs)`` in parallel (rows or columns in chunks).

    Examples
    --------
    >>> from nbparallel.options import RunOptions
    >>> df = pd.DataFrame({"a": [1, 2, 3]})
    >>> apply_frame(df, lambda r: r.a * 2, 1, {}, RunOptions(n_jobs=2, progress=False)).tolist()
    [2, 4, 6]
    """
    if axis not in AXES:
        raise ValueError(f"No axis named {axis!r} for object type DataFrame; choose one of {list(AXES)}")
    if AXES[axis] == 0:
        return _apply_columns(df, func, kwargs, options)
    datas, shared, folder = share_numeric(df)
    cuts = _Cuts(len(df))

    def finalize(parts: list[Any]) -> Any:
        merged = _join_values(parts, cuts.cuts, df.index, None, "objects")
        return df.apply(func, axis=1, **kwargs) if merged is MIXED else merged

    return run_chunks(_RowApply(func, shared, kwargs), datas, options, finalize, cuts, folder)


def _apply_columns(df: pd.DataFrame, func: Any, kwargs: dict[str, Any], options: RunOptions) -> Any:
    n = df.shape[1]
    if n == 0:  # nothing to split: one chunk of the empty frame, as pandas sees it
        columns: list[pd.DataFrame] = [df]
    else:
        columns = [df.iloc[:, j : j + 1] for j in range(n)]  # slices: views, not copies

    def finalize(parts: list[Any]) -> Any:
        merged = concat_columns(parts)
        return df.apply(func, axis=0, **kwargs) if merged is MIXED else merged

    def bounds(n_workers: int) -> list[tuple[int, int]]:
        return chunk_bounds(len(columns), 4 * n_workers)

    return run_chunks(_ColumnApply(func, kwargs), (columns,), options, finalize, bounds)


class _CellLabels:
    """``(row, column)`` of the i-th value ``DataFrame.map`` visits (column by column)."""

    def __init__(self, index: pd.Index, columns: pd.Index) -> None:
        self.index, self.columns = index, columns

    def __len__(self) -> int:
        return len(self.index) * len(self.columns)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        n = len(self.index)
        return self.index[i % n], self.columns[i // n]


class _ElementMap:
    """In a worker: ``chunk.map(func, ...)`` (Series or DataFrame) or ``Series.apply``; a failing value is named."""

    def __init__(self, func: Any, method: str, shared: NumericRows | None, kwargs: dict[str, Any], name: Any = _NO_NAME) -> None:  # fmt: skip
        self.func, self.method, self.shared, self.kwargs, self.name = func, method, shared, kwargs, name
        self.__name__ = _name(func, method)

    def _labels(self, chunk: Any) -> Any:
        if self.kwargs.get("na_action") == "ignore":
            keep = chunk.notna().to_numpy()
            if isinstance(chunk, pd.DataFrame):
                return None  # the order of visits is not simply the cells
            return chunk.index[keep]
        if isinstance(chunk, pd.DataFrame):
            return _CellLabels(chunk.index, chunk.columns)
        return chunk.index

    def __call__(self, chunk: Any, index_frame: Any = None) -> Any:
        if self.shared is not None:
            chunk = self.shared.frame(chunk, index_frame)
        try:  # the function itself: a wrapper would double the cost of a cheap one
            result = getattr(chunk, self.method)(self.func, **self.kwargs)
        except Exception as exc:
            self._locate(chunk, exc)
            raise
        return result if self.name is _NO_NAME else _compact(result, chunk, self.name)

    def _locate(self, chunk: Any, exc: Exception) -> None:
        """Name the value that raised ``exc``: the chunk runs again, counting, up to the failure."""
        if not is_plain_function(self.func) or self.kwargs.get("by_row", "compat") is False:
            return
        labels = self._labels(chunk)
        func = Noted(self.func, "value", lambda x: x) if labels is None else Counted(self.func, labels)
        note_where(exc, lambda: getattr(chunk, self.method)(func, **self.kwargs))


def map_frame(df: pd.DataFrame, func: Any, kwargs: dict[str, Any], options: RunOptions) -> Any:
    """``df.map(func, **kwargs)`` in parallel (element-wise, chunks of rows).

    Examples
    --------
    >>> from nbparallel.options import RunOptions
    >>> map_frame(pd.DataFrame({"a": [1, 2]}), str, {}, RunOptions(n_jobs=2, progress=False)).a.tolist()
    ['1', '2']
    """
    datas, shared, folder = share_numeric(as_mapped(df))
    worker = _ElementMap(func, "map", shared, kwargs)
    return run_chunks(worker, datas, options, lambda parts: concat_rows(parts, "construct"), folder=folder)


def _run_series(s: pd.Series, method: str, func: Any, kwargs: dict[str, Any], options: RunOptions) -> Any:
    cuts = _Cuts(len(s))

    def finalize(parts: list[Any]) -> Any:
        merged = _join_values(parts, cuts.cuts, s.index, s.name, pointwise(s))
        return getattr(s, method)(func, **kwargs) if merged is MIXED else merged

    # value by value (map, or apply of a function by row): each chunk sees the values the whole would
    by_value = method == "map" or (
        callable(func) and not isinstance(func, np.ufunc) and kwargs.get("by_row", "compat") is not False
    )
    datas, shared, folder = share_numeric(as_mapped(s) if by_value else s)
    return run_chunks(_ElementMap(func, method, shared, kwargs, s.name), datas, options, finalize, cuts, folder)


def apply_series(s: pd.Series, func: Any, kwargs: dict[str, Any], options: RunOptions) -> Any:
    """``s.apply(func, **kwargs)`` in parallel (chunks of values).

    Examples
    --------
    >>> from nbparallel.options import RunOptions
    >>> apply_series(pd.Series([1, 2]), lambda x: -x, {}, RunOptions(n_jobs=2, progress=False)).tolist()
    [-1, -2]
    """
    return _run_series(s, "apply", func, kwargs, options)


def map_series(s: pd.Series, arg: Any, kwargs: dict[str, Any], options: RunOptions) -> Any:
    """``s.map(arg, **kwargs)`` in parallel; ``arg`` a function, a dict or a Series.

    Examples
    --------
    >>> from nbparallel.options import RunOptions
    >>> map_series(pd.Series([1, 2]), {1: "a"}, {}, RunOptions(n_jobs=2, progress=False)).tolist()
    ['a', nan]
    """
    return _run_series(s, "map", arg, kwargs, options)


def preload() -> None:
    """Import and run once, in this process, what a worker runs of the pandas front end (pandas too).

    Workers import nothing of pandas until the user reaches for the pandas
    drop-in: ``pandarallel.initialize()`` asks every worker to run this
    (:func:`~nbparallel.backends.warmup.want_warm_up`), those running now in
    the background and those started later as they start, so the first
    ``parallel_apply`` does not wait for each worker's import of pandas and of
    this module (about 0.3 s on the development machine).  A worker reaches
    it by name, which imports this module.

    Examples
    --------
    >>> preload()
    """
    pd.Series([0.0]).map(abs)  # pandas' own lazy imports for a map (its first one costs more)

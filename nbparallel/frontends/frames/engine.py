"""Row-wise, column-wise and element-wise pandas methods, chunk by chunk on the workers.

Each worker runs pandas' own method (``chunk.apply(f, axis=1)``,
``chunk.map(f)``, ...) on a chunk of rows, so results follow pandas' rules, and
the chunk results are joined by :mod:`.merging`.  A frame of one numeric dtype
goes to the workers as one 2-D array, which :func:`nbparallel.api.plan` shares
through shared memory when it is large; other frames are pickled chunk by
chunk (each row once).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from ...data.partition import chunk_bounds
from ...options import RunOptions
from .common import Counted, Noted, NumericRows, is_plain_function, run_chunks, share_numeric
from .merging import MIXED, concat_columns, concat_rows, concat_series

__all__ = ["apply_frame", "map_frame", "apply_series", "map_series", "AXES"]

#: ``axis`` values pandas accepts, by meaning.
AXES: dict[Any, int] = {0: 0, "index": 0, "rows": 0, 1: 1, "columns": 1}


def _name(func: Any, method: str) -> str:
    return f"{method}({getattr(func, '__name__', type(func).__name__)})"


class _RowApply:
    """In a worker: ``chunk.apply(func, axis=1, ...)``; a failing row is named."""

    def __init__(self, func: Any, shared: NumericRows | None, kwargs: dict[str, Any]) -> None:
        self.func, self.shared, self.kwargs = func, shared, kwargs
        self.__name__ = _name(func, "apply")

    def __call__(self, chunk: Any, index_frame: Any = None) -> Any:
        if self.shared is not None:
            chunk = self.shared.frame(chunk, index_frame)
        func = self.func
        if is_plain_function(func):
            func = Counted(func, chunk.index) if self.kwargs.get("raw") else Noted(func, "row", lambda r: r.name)
        return chunk.apply(func, axis=1, **self.kwargs)


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
    """``df.apply(func, axis=axis, **kwargs)`` in parallel (rows or columns in chunks)."""
    if axis not in AXES:
        raise ValueError(f"No axis named {axis!r} for object type DataFrame; choose one of {list(AXES)}")
    if AXES[axis] == 0:
        return _apply_columns(df, func, kwargs, options)
    datas, shared, folder = share_numeric(df)

    def finalize(parts: list[Any]) -> Any:
        merged = concat_rows(parts, "objects")
        return df.apply(func, axis=1, **kwargs) if merged is MIXED else merged

    return run_chunks(_RowApply(func, shared, kwargs), datas, options, finalize, folder=folder)


def _apply_columns(df: pd.DataFrame, func: Any, kwargs: dict[str, Any], options: RunOptions) -> Any:
    n = df.shape[1]
    if n == 0:  # nothing to split: one chunk of the empty frame, as pandas sees it
        columns: list[pd.DataFrame] = [df]
    else:
        columns = [df.iloc[:, [j]] for j in range(n)]

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

    def __init__(self, func: Any, method: str, shared: NumericRows | None, kwargs: dict[str, Any]) -> None:
        self.func, self.method, self.shared, self.kwargs = func, method, shared, kwargs
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
        func = self.func
        if is_plain_function(func) and self.kwargs.get("by_row", "compat") is not False:
            labels = self._labels(chunk)
            func = Noted(func, "value", lambda x: x) if labels is None else Counted(func, labels)
        return getattr(chunk, self.method)(func, **self.kwargs)


def map_frame(df: pd.DataFrame, func: Any, kwargs: dict[str, Any], options: RunOptions) -> Any:
    """``df.map(func, **kwargs)`` in parallel (element-wise, chunks of rows)."""
    datas, shared, folder = share_numeric(df)
    worker = _ElementMap(func, "map", shared, kwargs)
    return run_chunks(worker, datas, options, lambda parts: concat_rows(parts, "construct"), folder=folder)


def _series_finalize(s: pd.Series, method: str, func: Any, kwargs: dict[str, Any]) -> Callable[[list[Any]], Any]:
    def finalize(parts: list[Any]) -> Any:
        if all(isinstance(p, pd.Series) for p in parts):
            return concat_series(parts)
        merged = concat_rows(parts, "construct")
        return getattr(s, method)(func, **kwargs) if merged is MIXED else merged

    return finalize


def apply_series(s: pd.Series, func: Any, kwargs: dict[str, Any], options: RunOptions) -> Any:
    """``s.apply(func, **kwargs)`` in parallel (chunks of values)."""
    worker = _ElementMap(func, "apply", None, kwargs)
    return run_chunks(worker, (s,), options, _series_finalize(s, "apply", func, kwargs))


def map_series(s: pd.Series, arg: Any, kwargs: dict[str, Any], options: RunOptions) -> Any:
    """``s.map(arg, **kwargs)`` in parallel; ``arg`` a function, a dict or a Series."""
    worker = _ElementMap(arg, "map", None, kwargs)
    return run_chunks(worker, (s,), options, _series_finalize(s, "map", arg, kwargs))

"""``groupby(...).apply`` and ``groupby(...).rolling(...)/expanding(...).apply`` over chunks of whole groups.

The rows are laid out group after group, in the order pandas gives the groups
(``ngroup``), and cut only between groups, largest chunks first.  Each worker
groups its chunk by the same keys (sent along as one key per row, so any kind
of key works: columns, arrays, index levels, functions) and:

* for ``apply``: calls the function on each group exactly as pandas does
  (the group's ``name`` set, keys excluded) and sends back the groups' results;
  the kernel puts them together with pandas' own rules for the whole groupby
  (scalars, Series, frames, group keys, ``group_keys``, ``as_index``);
* for the window methods: runs pandas' own ``rolling``/``expanding`` ``apply``
  on its groups; the chunks' results are joined in group order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ...data.groups import apply_empty_groups, group_bounds
from ...options import RunOptions
from .common import Noted, is_plain_function, run_chunks
from .compat import group_ids, includes_groups, keep_key_categories
from .merging import concat_rows

__all__ = ["groupby_apply", "grouped_window_apply", "Layout"]


def _key_values(grouping: Any) -> Any:
    """One key per row of a pandas ``Grouping``; categorical keys keep all their categories."""
    values = grouping.grouping_vector
    categories = getattr(grouping, "_orig_cats", None)
    if isinstance(values, pd.Categorical) and categories is not None and len(categories) != len(values.categories):
        values = values.set_categories(categories)  # observed=True drops the unused ones from the vector
    return values


class Layout:
    """Where the rows of each group of a pandas grouper go (groups in pandas' order)."""

    def __init__(self, grouper: Any, keys: Any, level: Any, by_indices: bool = False) -> None:
        if by_indices:  # the window methods' order, pandas' ``grouper.indices`` (pandas 2: not ngroup's order)
            parts = list(grouper.indices.values())
            self.order = np.concatenate(parts) if parts else np.zeros(0, dtype=np.intp)
            self.sizes = np.array([len(p) for p in parts], dtype=np.int64)
        else:
            ids = group_ids(grouper)
            kept = np.flatnonzero(ids >= 0)  # -1: a missing key dropped by ``dropna``
            self.order = kept[np.argsort(ids[kept], kind="stable")]
            self.sizes = np.bincount(ids[kept], minlength=grouper.ngroups) if len(kept) else np.zeros(0, np.int64)
        self.names = [g.name for g in grouper.groupings]
        self.dtypes = [level.dtype for level in grouper.levels]  # the whole input's key levels
        by = keys if keys is not None else level
        self.single = len(grouper.groupings) == 1 and not isinstance(by, list)
        self.keys = [pd.Series(pd.Index(_key_values(g)).take(self.order)) for g in grouper.groupings]

    def rows(self, data: Any) -> Any:
        """``data``'s rows group after group: ``data`` itself (no copy) when they already are."""
        if len(self.order) == len(data) and np.array_equal(self.order, np.arange(len(data))):
            return data
        return data.take(self.order)

    def bounds(self, n_workers: int) -> list[tuple[int, int]]:
        return group_bounds(self.sizes, n_workers)


class _WorkerLayout:
    """The small part of a :class:`Layout` a worker needs (not the row order)."""

    def __init__(self, layout: Layout) -> None:
        self.names, self.single, self.dtypes = layout.names, layout.single, layout.dtypes

    def by(self, keys: tuple[Any, ...]) -> Any:
        """In a worker: the keys of a chunk, as ``groupby`` takes them (one key per row)."""
        index = [pd.Index(k.array, name=n) for k, n in zip(keys, self.names, strict=True)]
        return index[0] if self.single else index


class _WithArguments:
    def __init__(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.func, self.args, self.kwargs = func, args, kwargs
        self.__name__ = getattr(func, "__name__", type(func).__name__)

    def __call__(self, group: Any) -> Any:
        return self.func(group, *self.args, **self.kwargs)


class _GroupApply:
    """In a worker: each group's result, and whether one was not indexed like its group."""

    def __init__(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], layout: Layout) -> None:
        self.func, self.args, self.kwargs, self.layout = func, args, kwargs, _WorkerLayout(layout)
        self.__name__ = f"groupby.apply({getattr(func, '__name__', type(func).__name__)})"

    def __call__(self, rows: Any, *keys: Any) -> tuple[list[Any], bool]:
        func: Callable[..., Any] = self.func
        if self.args or self.kwargs:  # as pandas does: f(group) = func(group, *args, **kwargs)
            func = _WithArguments(self.func, self.args, self.kwargs)
        if is_plain_function(self.func):
            func = Noted(func, "group", lambda g: g.name)
        groups = rows.groupby(self.layout.by(keys), sort=False, dropna=False, observed=True)
        values, mutated = groups._grouper.apply_groupwise(func, groups._obj_with_exclusions)
        return values, mutated


def _check(func: Any) -> None:
    if not callable(func):
        raise TypeError(f"apply func should be callable, not {func!r}; for a named method call it directly")


def _with_empty_groups(gb: Any, data: Any, values: list[Any], sizes: np.ndarray, func: Callable[..., Any]) -> tuple[list[Any], bool]:  # fmt: skip
    """``values`` (the groups with rows, in order) with the results of the groups without rows put in place.

    ``observed=False`` on a categorical key (pandas 2.2's default) makes a group
    of every category; those absent from the data have no rows, so no worker
    saw them: ``func`` runs on them here, on an empty frame, as pandas does.
    """
    empty = np.flatnonzero(sizes == 0)
    if not len(empty):
        return values, False
    extra, mutated = apply_empty_groups(gb._grouper, data, func, empty.tolist())
    by_group = dict(zip(empty.tolist(), extra, strict=True))
    rest = iter(values)
    return [by_group[j] if j in by_group else next(rest) for j in range(len(sizes))], mutated


def groupby_apply(gb: Any, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], options: RunOptions) -> Any:
    """``gb.apply(func, *args, **kwargs)`` in parallel, for a pandas ``DataFrameGroupBy`` or ``SeriesGroupBy``.

    Examples
    --------
    >>> from nbparallel.options import RunOptions
    >>> df = pd.DataFrame({"k": ["a", "b", "a"], "x": [1, 2, 3]})
    >>> groupby_apply(df.groupby("k"), len, (), {}, RunOptions(n_jobs=2, progress=False)).to_dict()
    {'a': 2, 'b': 1}
    """
    data = gb._selected_obj if includes_groups(gb, kwargs) else gb._obj_with_exclusions
    _check(func)
    layout = Layout(gb._grouper, gb.keys, gb.level)
    rows = layout.rows(data)

    def finalize(parts: list[tuple[list[Any], bool]]) -> Any:
        values = [v for part, _ in parts for v in part]
        f = _WithArguments(func, args, kwargs) if args or kwargs else func
        values, mutated = _with_empty_groups(gb, data, values, layout.sizes, f)
        mutated = mutated or any(m for _, m in parts)
        return gb._wrap_applied_output(data, values, not_indexed_same=mutated, is_transform=False)

    return run_chunks(_GroupApply(func, args, kwargs, layout), (rows, *layout.keys), options, finalize, layout.bounds)


class _WindowApply:
    """In a worker: ``chunk.groupby(keys).rolling(...)`` (or ``expanding``) ``.apply(func, ...)``."""

    def __init__(self, kind: str, attributes: dict[str, Any], func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], layout: Layout, as_index: bool) -> None:  # fmt: skip
        self.kind, self.attributes, self.func, self.args, self.kwargs = kind, attributes, func, args, kwargs
        self.layout, self.as_index = _WorkerLayout(layout), as_index
        self.__name__ = f"{kind}.apply({getattr(func, '__name__', type(func).__name__)})"

    def __call__(self, rows: Any, *keys: Any) -> Any:
        grouping: dict[str, Any] = {"sort": False, "dropna": False, "observed": True}
        if isinstance(rows, pd.DataFrame):  # a selected Series (groupby(k).rolling(3)["v"]) takes no as_index
            grouping["as_index"] = self.as_index
        groups = rows.groupby(self.layout.by(keys), **grouping)
        window = getattr(groups, self.kind)(**self.attributes)
        result = keep_key_categories(window.apply(self.func, *self.args, **self.kwargs), self.layout.dtypes)
        parts = list(groups._grouper.indices.values())  # the rows in the order pandas gave them back
        order = np.concatenate(parts) if parts else np.zeros(0, dtype=np.intp)
        if np.array_equal(order, np.arange(len(order))):
            return result
        return result.take(np.argsort(order))  # the chunk's order, which is the whole input's window order


def grouped_window_apply(window: Any, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], options: RunOptions) -> Any:  # fmt: skip
    """``window.apply(func, *args, **kwargs)`` in parallel for ``groupby(...).rolling(...)`` or ``.expanding(...)``.

    Examples
    --------
    >>> from nbparallel.options import RunOptions
    >>> df = pd.DataFrame({"k": ["a", "b", "a"], "x": [1.0, 2.0, 3.0]})
    >>> out = grouped_window_apply(df.groupby("k").expanding(), sum, (), {}, RunOptions(n_jobs=2, progress=False))
    >>> out.x.tolist()
    [1.0, 4.0, 2.0]
    """
    kind = "rolling" if "window" in window._attributes else "expanding"
    grouper = window._grouper
    layout = Layout(grouper, None, None, by_indices=True)
    layout.single = len(grouper.groupings) == 1
    attributes = {a: getattr(window, a) for a in window._attributes if a != "_grouper"}
    if attributes.get("step", 0) is None:  # GroupBy.rolling takes no step
        del attributes["step"]
    obj = window.obj if window._selection is None else window.obj[window._selection]  # ["v"]: that column only
    rows = layout.rows(obj)
    worker = _WindowApply(kind, attributes, func, args, kwargs, layout, window._as_index)
    return run_chunks(worker, (rows, *layout.keys), options, concat_rows, layout.bounds)

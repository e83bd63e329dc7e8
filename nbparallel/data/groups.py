"""Group-aware chunks: rows reordered so that every group is contiguous, and chunks that
never split a group.

Groups are laid out largest first, so with the default of several chunks per
worker the big groups start early and the small ones fill the gaps at the end
(the same idea as guided chunking).  :func:`group_layout` works for pandas and
polars DataFrames, with ``by`` a column name, a list of names, or an array of
keys aligned with the rows.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["GroupLayout", "group_layout", "group_bounds", "group_ids", "apply_empty_groups"]


@dataclass(frozen=True)
class GroupLayout:
    """Where each group's rows go.

    Attributes
    ----------
    order : ndarray
        Row positions of the input in their new order: group by group, largest group first,
        rows of a group in input order.
    sizes : ndarray
        Rows per group, in the new order.
    ranks : ndarray
        For each group in the new order, its position in the order ``groupby`` itself uses.
    """

    order: np.ndarray
    sizes: np.ndarray
    ranks: np.ndarray

    @property
    def n_groups(self) -> int:
        return len(self.sizes)


def _codes(data: Any, by: Any) -> np.ndarray:
    """Group number of every row, numbered in the order the library's own ``groupby`` uses."""
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        keys = by if isinstance(by, (str, list, tuple)) else np.asarray(by)
        codes: np.ndarray = data.groupby(keys, sort=True, dropna=False).ngroup().to_numpy()
        return codes
    if module == "polars":
        import polars as pl

        if data.height == 0:  # no rows, no groups (polars 1.0 panics joining on a column of dtype Null)
            return np.zeros(0, dtype=np.int64)

        names = [by] if isinstance(by, str) else list(by) if isinstance(by, (list, tuple)) else None
        frame = data.select(names) if names is not None else pl.DataFrame({"__key": np.asarray(by)})
        # group numbers in order of first appearance (polars' ``maintain_order=True``)
        first = frame.with_row_index("__row").group_by(frame.columns, maintain_order=True).agg(pl.col("__row").first())
        lookup = first.with_row_index("__group").drop("__row")
        # missing keys match each other: polars >= 1.24 names it nulls_equal, before that join_nulls
        name = "nulls_equal" if "nulls_equal" in inspect.signature(pl.DataFrame.join).parameters else "join_nulls"
        nulls: dict[str, Any] = {name: True}
        joined = frame.with_row_index("__row").join(lookup, on=frame.columns, how="left", **nulls)
        return joined.sort("__row")["__group"].to_numpy()
    raise TypeError(
        f"grouping needs a pandas or polars DataFrame, got {type(data).__name__}; "
        "for other data, compute the groups yourself and use pmap over them"
    )


def group_layout(data: Any, by: Any) -> GroupLayout:
    """Reorder rows so groups are contiguous, largest group first.

    Parameters
    ----------
    data : pandas.DataFrame or polars.DataFrame
        The rows.
    by : str, list of str, or array-like
        Column name(s), or one key per row.

    Returns
    -------
    GroupLayout

    Examples
    --------
    >>> import pandas as pd
    >>> layout = group_layout(pd.DataFrame({"k": ["b", "a", "b", "c", "b"]}), "k")
    >>> layout.order.tolist(), layout.sizes.tolist(), layout.ranks.tolist()
    ([0, 2, 4, 1, 3], [3, 1, 1], [1, 0, 2])
    """
    codes = _codes(data, by)
    counts = np.bincount(codes) if len(codes) else np.zeros(0, dtype=np.int64)
    ranks = np.argsort(-counts, kind="stable")  # largest first; ties in groupby order
    position = np.empty_like(ranks)
    position[ranks] = np.arange(len(ranks))
    order = np.argsort(position[codes], kind="stable")  # rows of a group keep their input order
    return GroupLayout(order, counts[ranks], ranks)


def group_bounds(sizes: Sequence[int] | np.ndarray, n_workers: int) -> list[tuple[int, int]]:
    """Cut rows laid out group by group into chunks that shrink as the work runs out, only between groups.

    As for ``pmap``'s default chunks (guided self-scheduling), a chunk closes once
    it holds about ``remaining rows / (2 * n_workers)`` rows, and never fewer than
    ``rows / (16 * n_workers)``: the big groups at the front go out in big
    chunks, and the last chunks are small, so no worker is left with a long
    chunk while the others idle.  A group larger than that is a chunk of its own.

    Examples
    --------
    >>> group_bounds([50, 20, 10, 10, 5, 5], 2)
    [(0, 50), (50, 70), (70, 80), (80, 90), (90, 95), (95, 100)]
    """
    total = int(np.sum(sizes))
    if total == 0:
        return [(0, 0)]
    workers = max(1, n_workers)
    floor = total / (16 * workers)
    out: list[tuple[int, int]] = []
    start = stop = 0
    for size in sizes:
        stop += int(size)
        if stop - start >= max((total - start) / (2 * workers), floor):
            out.append((start, stop))
            start = stop
    if stop > start:
        out.append((start, stop))
    return out


def group_ids(grouper: Any) -> np.ndarray:
    """The group number of each row (``-1``: a missing key dropped), from a pandas ``BaseGrouper``.

    The numbers index ``grouper.result_index``, the groups ``apply`` visits: on
    pandas 2.2 with a categorical key (``observed=False``) that is every
    category, where ``ngroup()`` numbers only those present. pandas 3 has
    ``grouper.ids``; pandas 2 has it as the first of ``grouper.group_info``.

    Examples
    --------
    >>> import pandas as pd
    >>> gb = pd.DataFrame({"k": ["b", "a", None, "b"]}).groupby("k")
    >>> group_ids(gb._grouper).tolist()
    [1, 0, -1, 1]
    """
    ids = grouper.ids if hasattr(grouper, "ids") else grouper.group_info[0]
    return np.asarray(ids)


def _indexed_like(result: Any, group: Any) -> bool:
    """Whether ``result`` keeps ``group``'s rows, by the rule of pandas' own group-wise apply."""
    if getattr(result, "ndim", None) == 1 and hasattr(result, "index"):  # a Series
        return group.ndim == 1 and result.index.equals(group.index)
    return getattr(result, "ndim", None) == 2 and hasattr(result, "index") and result.index.equals(group.index)


def apply_empty_groups(grouper: Any, obj: Any, func: Any, missing: Sequence[int]) -> tuple[list[Any], bool]:
    """``func`` on each group of ``missing`` (numbers into ``grouper.result_index``), which has no rows.

    pandas 2.2 groups by every category of a categorical key by default
    (``observed=False``) and hands ``func`` an empty frame for each category
    absent from the data, named by it; pandas 3 (``observed=True``) has none.
    Returns ``(results, mutated)`` as pandas' group-wise apply does: whether
    some result is not indexed like its group.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"k": pd.Categorical(["a"], categories=["a", "b"]), "x": [1]})
    >>> apply_empty_groups(df.groupby("k", observed=False)._grouper, df, lambda g: (g.name, len(g)), [1])
    ([('b', 0)], True)
    """
    empty = obj.iloc[:0]
    names = grouper.result_index
    results = []
    for j in missing:
        group = empty.copy()
        object.__setattr__(group, "name", names[j])
        results.append(func(group))
    return results, not all(_indexed_like(r, empty) for r in results)


def include_groups_parameter(gb: Any) -> inspect.Parameter | None:
    """The ``include_groups`` parameter of ``gb.apply`` (or of the ``apply`` it hands its arguments to).

    Its default is ``True`` on pandas 2.2 (the grouping columns are handed to the
    function, deprecated) and ``False`` on pandas 3; ``None`` where pandas has no
    such parameter.  Found by the signature, not the version number.

    Examples
    --------
    >>> import pandas as pd
    >>> include_groups_parameter(pd.DataFrame({"k": [1]}).groupby("k")).default in (True, False)
    True
    """
    applies = (vars(cls)["apply"] for cls in type(gb).__mro__ if "apply" in vars(cls))
    return next(filter(None, (inspect.signature(a).parameters.get("include_groups") for a in applies)), None)


def applied_object(gb: Any) -> Any:
    """What ``gb.apply(func)`` hands ``func`` its groups of, by this pandas' default (see above)."""
    parameter = include_groups_parameter(gb)
    return gb._selected_obj if parameter is None or parameter.default is True else gb._obj_with_exclusions

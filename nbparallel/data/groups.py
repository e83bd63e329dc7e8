"""Group-aware chunks: rows reordered so that every group is contiguous, and chunks that
never split a group.

Groups are laid out largest first, so with the default of several chunks per
worker the big groups start early and the small ones fill the gaps at the end
(the same idea as guided chunking).  :func:`group_layout` works for pandas and
polars DataFrames, with ``by`` a column name, a list of names, or an array of
keys aligned with the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["GroupLayout", "group_layout", "group_bounds"]


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

        names = [by] if isinstance(by, str) else list(by) if isinstance(by, (list, tuple)) else None
        frame = data.select(names) if names is not None else pl.DataFrame({"__key": np.asarray(by)})
        # group numbers in order of first appearance (polars' ``maintain_order=True``)
        first = frame.with_row_index("__row").group_by(frame.columns, maintain_order=True).agg(pl.col("__row").first())
        lookup = first.with_row_index("__group").drop("__row")
        joined = frame.with_row_index("__row").join(lookup, on=frame.columns, how="left", nulls_equal=True)
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


def group_bounds(sizes: Sequence[int] | np.ndarray, n_chunks: int) -> list[tuple[int, int]]:
    """Cut rows laid out group by group into at most ``n_chunks`` chunks, only between groups.

    A chunk closes once it holds about ``rows / n_chunks`` rows; a group larger
    than that is a chunk of its own.

    Examples
    --------
    >>> group_bounds([5, 3, 2, 1, 1], 3)
    [(0, 5), (5, 10), (10, 12)]
    """
    total = int(np.sum(sizes))
    if total == 0:
        return [(0, 0)]
    target = total / max(1, n_chunks)
    out: list[tuple[int, int]] = []
    start = stop = 0
    for size in sizes:
        stop += int(size)
        if stop - start >= target and len(out) < n_chunks - 1:
            out.append((start, stop))
            start = stop
    if stop > start:
        out.append((start, stop))
    return out

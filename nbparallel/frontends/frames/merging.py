"""Joining the chunks' pandas results into what pandas gives on the whole input.

``pd.concat`` of the chunks' results equals pandas' own result when every chunk
inferred the same dtypes and columns.  When they differ (one chunk met only
integers, another a ``None``; rows returning Series with other keys), pandas
would have inferred once over all the values: the values are joined as objects
and inferred again, the way pandas infers them.  Results of different kinds
(one chunk a Series, another a DataFrame) cannot be joined: :data:`MIXED` says so
and the caller computes them the way pandas would.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MIXED", "pointwise", "concat_rows", "concat_series", "concat_frames", "concat_columns"]


class _Mixed:
    def __repr__(self) -> str:
        return "MIXED"


#: Returned when chunk results are of different kinds (the caller falls back).
MIXED: Any = _Mixed()


#: How values joined from chunks are inferred: ``"construct"``, ``"objects"``, or a function of an object array.
Inference = str | Callable[[np.ndarray], Any]


def pointwise(source: Any) -> Inference:
    """How pandas infers the results of ``source.map``/``apply``: an extension array (``Int64``,
    ``boolean``, ``string``...) casts them its own way (``boolean`` mapped to ints gives ``Int64``);
    numpy-backed and categorical data as ``Series(list)`` does."""
    array = source.array
    cast = getattr(array, "_cast_pointwise_result", None)
    if isinstance(source.dtype, (np.dtype, pd.CategoricalDtype)) or cast is None:
        return "construct"
    return cast


def _infer(values: list[Any], how: Inference) -> Any:
    """Infer a dtype for Python objects as pandas does: ``"construct"`` (``Series(list)``,
    as ``map`` and row results do), ``"objects"`` (``infer_objects``, as expanded rows do),
    or the input's own cast (:func:`pointwise`)."""
    if callable(how):
        objects = np.empty(len(values), dtype=object)
        objects[:] = values
        return how(objects)
    if how == "objects":
        return pd.Series(values, dtype=object).infer_objects().array
    return pd.Series(values).array


def _joined_index(parts: Sequence[Any]) -> pd.Index:
    first = parts[0].index
    return first.append([p.index for p in parts[1:]]) if len(parts) > 1 else first


def concat_series(parts: Sequence[Any], how: Inference = "construct") -> Any:
    """Join Series: ``pd.concat`` when their dtypes agree, else the values inferred once.

    Examples
    --------
    >>> concat_series([pd.Series([1, 2]), pd.Series([None], index=[2])]).tolist()
    [1.0, 2.0, nan]
    """
    parts = list(parts)
    if len(parts) == 1:
        return parts[0]
    if len({p.dtype for p in parts}) == 1:
        return pd.concat(parts)
    values = [v for p in parts for v in p.astype(object).tolist()]
    return pd.Series(_infer(values, how), index=_joined_index(parts), name=parts[0].name)


def concat_frames(parts: Sequence[Any], how: Inference = "construct") -> Any:
    """Join DataFrames by rows: per column as :func:`concat_series` does.

    Chunks with different columns (rows returning Series with other keys) are
    aligned on the union of the columns, sorted as pandas sorts it, and
    inferred with ``infer_objects``.
    """
    parts = list(parts)
    if len(parts) == 1:
        return parts[0]
    columns = parts[0].columns
    if not all(p.columns.equals(columns) for p in parts):
        union = functools.reduce(lambda a, b: a.union(b), (p.columns for p in parts))
        merged = pd.concat([p.reindex(columns=union).astype(object) for p in parts])
        return merged.infer_objects()
    merged = pd.concat(parts)
    if columns.has_duplicates:
        return merged
    for j in range(len(columns)):
        if len({p.dtypes.iloc[j] for p in parts}) > 1:
            column = concat_series([p.iloc[:, j] for p in parts], how)
            merged.isetitem(j, column.array)
    return merged


def concat_rows(parts: Sequence[Any], how: Inference = "construct") -> Any:
    """Join row chunks' results, Series or DataFrames; :data:`MIXED` when they are of both kinds.

    Examples
    --------
    >>> concat_rows([pd.Series([1]), pd.DataFrame({"a": [2]})])
    MIXED
    """
    parts = list(parts)
    if all(isinstance(p, pd.DataFrame) for p in parts):
        return concat_frames(parts, how)
    if all(isinstance(p, pd.Series) for p in parts):
        return concat_series(parts, how)
    return MIXED


def concat_columns(parts: Sequence[Any]) -> Any:
    """Join the results of column chunks (``apply`` with ``axis=0``)."""
    parts = list(parts)
    if all(isinstance(p, pd.Series) for p in parts):
        return concat_series(parts)  # one value per column, indexed by the column names
    if all(isinstance(p, pd.DataFrame) for p in parts):
        index = parts[0].index
        if all(p.index.equals(index) for p in parts):
            return pd.concat(parts, axis=1)
        return MIXED
    return MIXED

"""What differs between the pandas lines this front end supports (2.2 and 3.x), found by feature.

Each function asks the installed pandas what it has (a class, an attribute, a
parameter) instead of reading its version number, so a pandas that backports
or renames something is met by what it does.  ``tests/test_pandas_frontend.py``
compares every method with the installed pandas' own (``make test`` on pandas 3,
``make test-oldest`` on the oldest pandas declared).
"""

from __future__ import annotations

import functools
from typing import Any

import pandas as pd

from ...data.groups import group_ids, include_groups_parameter

__all__ = ["window_and_groupby_classes", "group_ids", "includes_groups", "as_mapped"]


def window_and_groupby_classes() -> dict[str, type]:
    """pandas' groupby and window classes, found by what they are: the type of the object each call returns.

    ``pandas.api.typing`` names them from pandas 2.1 on, ``RollingGroupBy`` and
    ``ExpandingGroupBy`` only from 3.0, and the private modules behind them
    moved between versions: the type of a tiny ``df.groupby("k").rolling(1)``
    is the class on every version.

    Returns
    -------
    dict
        ``Rolling``, ``DataFrameGroupBy``, ``SeriesGroupBy``, ``RollingGroupBy``,
        ``ExpandingGroupBy`` -> the class of this pandas.

    Examples
    --------
    >>> classes = window_and_groupby_classes()
    >>> isinstance(pd.DataFrame({"k": [1]}).groupby("k").expanding(), classes["ExpandingGroupBy"])
    True
    """
    frame = pd.DataFrame({"k": [0], "x": [0.0]})
    grouped = frame.groupby("k")
    return {
        "Rolling": type(frame.x.rolling(1)),
        "DataFrameGroupBy": type(grouped),
        "SeriesGroupBy": type(grouped.x),
        "RollingGroupBy": type(grouped.rolling(1)),
        "ExpandingGroupBy": type(grouped.expanding()),
    }


@functools.cache
def _maps_through_numpy() -> bool:
    """Whether this pandas maps a nullable array through ``to_numpy()`` (pandas 2.2), not value by value (3)."""
    return pd.Series(pd.array([1, None], dtype="Int64")).map(type).iloc[0] is float


def as_mapped(data: Any) -> Any:
    """``data`` (a Series or DataFrame) with each nullable column as the values ``map`` hands a function.

    pandas 2.2 maps a nullable array through its ``to_numpy()``: ints with a
    missing value become floats (``1.0``, ``nan``), ints without one stay ints,
    so a chunk without the missing value would see other values than the whole
    column does.  Such columns are converted once, whole, before the split; on
    a pandas that hands over the values themselves, ``data`` is returned as is.

    Examples
    --------
    >>> s = pd.Series([1, None], dtype="Int64")
    >>> as_mapped(s)[:1].map(repr).tolist() == s.map(repr)[:1].tolist()  # a chunk, as the whole maps it
    True
    """
    if not _maps_through_numpy():
        return data
    if isinstance(data, pd.Series):
        array = data.array
        if isinstance(array, pd.arrays.IntegerArray) and array.isna().any():
            return pd.Series(array.to_numpy(), index=data.index, name=data.name)
        return data
    columns = [j for j in range(data.shape[1]) if isinstance(data.iloc[:, j].array, pd.arrays.IntegerArray)]
    columns = [j for j in columns if data.iloc[:, j].isna().any()]
    if not columns:
        return data
    data = data.copy(deep=False)
    for j in columns:
        data.isetitem(j, as_mapped(data.iloc[:, j]))
    return data


def includes_groups(gb: Any, kwargs: dict[str, Any]) -> bool:
    """Whether ``gb.apply(func, **kwargs)`` hands ``func`` the grouping columns too, as the installed pandas does.

    Takes ``include_groups`` out of ``kwargs`` when this pandas' ``apply`` (or
    the one it hands its arguments to, ``GroupBy.apply`` for a ``SeriesGroupBy``)
    has that parameter: its default is ``True`` on pandas 2.2 (deprecated there)
    and ``False`` on pandas 3, which refuses ``True``.  Without it, ``kwargs``
    go to ``func`` untouched and the groups are what ``gb`` selected.

    Raises
    ------
    ValueError
        ``include_groups=True`` where pandas refuses it.

    Examples
    --------
    >>> gb = pd.DataFrame({"k": [1], "x": [2]}).groupby("k")
    >>> includes_groups(gb, {"include_groups": False})
    False
    """
    parameter = include_groups_parameter(gb)
    if parameter is None:
        return True
    include = bool(kwargs.pop("include_groups", parameter.default))
    if include and parameter.default is False:
        raise ValueError("include_groups=True is no longer allowed.")  # pandas 3's own message
    return include


def keep_key_categories(result: Any, dtypes: list[Any]) -> Any:
    """``result`` with its leading (key) index levels of ``dtypes``, the whole input's, where they are categorical.

    A worker groups its chunk with ``sort=False``; pandas 2 then keeps only the
    chunk's categories, in the order met, so the chunks' levels would differ
    from each other and from the whole input's (pandas 3 keeps them as they are).

    Examples
    --------
    >>> dtype = pd.CategoricalDtype(["a", "b"])
    >>> key = pd.Index(pd.Categorical(["b", "b"], dtype=dtype))
    >>> out = pd.DataFrame({"x": [1.0, 2.0]}).groupby(key, sort=False, observed=True).expanding().sum()
    >>> list(keep_key_categories(out, [dtype]).index.levels[0].categories)
    ['a', 'b']
    """
    index = result.index
    if not isinstance(index, pd.MultiIndex):
        return result
    for i, dtype in enumerate(dtypes[: index.nlevels - 1]):
        if isinstance(dtype, pd.CategoricalDtype) and index.levels[i].dtype != dtype:
            index = index.set_levels(index.levels[i].astype(dtype), level=i)
    return result.set_axis(index, axis=0) if index is not result.index else result

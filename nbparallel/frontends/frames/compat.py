"""What differs between the pandas lines this front end supports (2.2 and 3.x), found by feature.

Each function asks the installed pandas what it has (a class, an attribute, a
parameter) instead of reading its version number, so a pandas that backports
or renames something is met by what it does.  ``tests/test_pandas_frontend.py``
compares every method with the installed pandas' own (``make test`` on pandas 3,
``make test-oldest`` on the oldest pandas declared).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...data.groups import include_groups_parameter

__all__ = ["window_and_groupby_classes", "group_ids", "includes_groups"]


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


def group_ids(grouper: Any) -> np.ndarray:
    """The group number of each row (``-1``: a missing key dropped), from a pandas ``BaseGrouper``.

    pandas 3 has ``grouper.ids``; pandas 2 has it as the first of ``grouper.group_info``.

    Examples
    --------
    >>> gb = pd.DataFrame({"k": ["b", "a", None, "b"]}).groupby("k")
    >>> group_ids(gb._grouper).tolist()
    [1, 0, -1, 1]
    """
    ids = grouper.ids if hasattr(grouper, "ids") else grouper.group_info[0]
    return np.asarray(ids)


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

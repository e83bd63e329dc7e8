"""Putting chunk results back together."""

from __future__ import annotations

import functools
import itertools
import operator
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import numpy as np

from .shared import SharedArray, concat_shared, materialize

__all__ = ["merge", "MERGE_MODES"]

MergeHow: TypeAlias = str | Callable[[list[Any]], Any]


def _pandas_kind(part: Any) -> str | None:
    pd = sys.modules.get("pandas")
    if pd is None:
        return None
    if isinstance(part, pd.DataFrame):
        return "DataFrame"
    if isinstance(part, pd.Series):
        return "Series"
    return None


def _kind_name(part: Any) -> str:
    if isinstance(part, np.ndarray):
        return "ndarray" if part.ndim else "0-d ndarray"
    return _pandas_kind(part) or type(part).__name__


def _concat_pandas(parts: list[Any]) -> Any:
    import pandas as pd

    return pd.concat(parts)


# What "auto"/"concat" knows how to join, by kind name.  The error message for
# anything else is generated from these keys.
_CONCAT: dict[str, Callable[[list[Any]], Any]] = {
    "ndarray": lambda parts: np.concatenate(parts, axis=0),
    "list": lambda parts: list(itertools.chain.from_iterable(parts)),
    "tuple": lambda parts: tuple(itertools.chain.from_iterable(parts)),
    "DataFrame": _concat_pandas,
    "Series": _concat_pandas,
}


def _describe_groups(parts: Sequence[Any]) -> str:
    groups: dict[str, list[int]] = {}
    for i, part in enumerate(parts):
        groups.setdefault(_kind_name(part), []).append(i)

    def ranges(idx: list[int]) -> str:
        out, start = [], idx[0]
        for prev, cur in itertools.pairwise([*idx, -1]):
            if cur != prev + 1:
                out.append(str(start) if start == prev else f"{start}-{prev}")
                start = cur
        return ", ".join(out)

    return "; ".join(f"chunk{'s' if len(i) > 1 else ''} {ranges(i)} returned {name}" for name, i in groups.items())


def _concat(parts: list[Any]) -> Any:
    kinds = {_kind_name(p) for p in parts}
    if len(kinds) > 1:
        raise TypeError(
            "cannot concatenate chunk results of mixed kinds: "
            + _describe_groups(parts)
            + ". Make every chunk return the same kind, or pass merge='list' to keep them apart"
        )
    (kind,) = kinds
    if kind not in _CONCAT:
        raise TypeError(
            f"chunk results are {kind}, which 'auto' cannot concatenate (it joins "
            + ", ".join(_CONCAT)
            + "). Pass merge='sum' to add them up, merge='list' to keep one result per "
            "chunk, or a function that takes the list of chunk results"
        )
    return _CONCAT[kind](parts)


def _sum(parts: list[Any]) -> Any:
    return functools.reduce(operator.add, parts)


#: Merge modes by name; ``merge`` also takes any callable.
MERGE_MODES: dict[str, Callable[[list[Any]], Any]] = {
    "auto": _concat,
    "concat": _concat,
    "sum": _sum,
    "list": list,
}


def merge(parts: Sequence[Any], how: MergeHow = "auto") -> Any:
    """Combine chunk results into one object of the parts' kind.

    Parameters
    ----------
    parts : sequence
        One result per chunk, in chunk order.
    how : {"auto", "concat", "sum", "list"} or callable, default="auto"
        ``"auto"``/``"concat"`` concatenate ndarrays (axis 0), lists, tuples,
        DataFrames and Series (``pd.concat``, index kept); ``"sum"`` adds the
        parts with ``+``; ``"list"`` returns the parts as a list; a callable
        is called with the list of parts.

    Returns
    -------
    object
        The merged result.

    Raises
    ------
    TypeError
        For parts of mixed kinds (naming the chunks of each kind) or kinds
        that cannot be concatenated.
    ValueError
        For an unknown ``how`` or no parts at all.

    Examples
    --------
    >>> import numpy as np
    >>> merge([np.arange(2), np.arange(2, 4)]).tolist()
    [0, 1, 2, 3]
    >>> merge([1, 2, 3], how="sum")
    6
    """
    parts = list(parts)
    if any(isinstance(p, SharedArray) for p in parts):  # large arrays left in shared memory by workers
        if how in ("auto", "concat") and all(isinstance(p, SharedArray) for p in parts):
            return concat_shared(parts)
        parts = materialize(parts)
    if callable(how):
        return how(parts)
    if how not in MERGE_MODES:
        raise ValueError(f"unknown merge {how!r}; choose one of {', '.join(map(repr, MERGE_MODES))} or pass a callable")
    if not parts:
        if how == "list":
            return []
        raise ValueError(f"merge(how={how!r}) needs at least one part; there were none")
    return MERGE_MODES[how](parts)

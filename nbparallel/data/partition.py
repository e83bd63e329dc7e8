"""Splitting data into chunks.

Chunk sizes follow :func:`numpy.array_split`: with ``n`` items in ``k`` chunks the
first ``n % k`` chunks hold one item more than the others.  Arrays are split on
axis 0 and chunks are views; pandas objects are split by row position with their
index kept.  pandas is never imported here: a DataFrame is recognised only if the
user's code already imported pandas.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["partition", "chunk_bounds", "guided_bounds", "supported_kinds", "kind_of"]


@dataclass(frozen=True)
class _Kind:
    name: str
    matches: Callable[[Any], bool]
    take: Callable[[Any, int, int], Any]


def _is_pandas(obj: Any, cls_name: str) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(obj, getattr(pd, cls_name))


def _is_array(obj: Any) -> bool:
    return isinstance(obj, np.ndarray) and obj.ndim >= 1


# The dispatch table.  Order matters (a DataFrame is checked before generic
# sequences).  Error messages list these names, so they cannot drift.
_KINDS: tuple[_Kind, ...] = (
    _Kind("numpy.ndarray (1-D or more, split on axis 0)", _is_array, lambda d, a, b: d[a:b]),
    _Kind("pandas.DataFrame", lambda d: _is_pandas(d, "DataFrame"), lambda d, a, b: d.iloc[a:b]),
    _Kind("pandas.Series", lambda d: _is_pandas(d, "Series"), lambda d, a, b: d.iloc[a:b]),
    _Kind("list", lambda d: isinstance(d, list), lambda d, a, b: d[a:b]),
    _Kind("tuple", lambda d: isinstance(d, tuple), lambda d, a, b: d[a:b]),
    _Kind("range", lambda d: isinstance(d, range), lambda d, a, b: d[a:b]),
)


def supported_kinds() -> list[str]:
    """Names of the input kinds :func:`partition` can split.

    Returns
    -------
    list of str

    Examples
    --------
    >>> "list" in supported_kinds()
    True
    """
    return [k.name for k in _KINDS]


def kind_of(data: Any) -> _Kind:
    """Return the kind entry for ``data`` or raise ``TypeError`` naming the kinds."""
    for kind in _KINDS:
        if kind.matches(data):
            return kind
    what = type(data).__name__
    hint = ""
    if isinstance(data, np.ndarray):
        what = "0-d numpy array"
    elif hasattr(data, "__iter__") and not hasattr(data, "__len__"):
        hint = "; it has no length: materialise it first, e.g. list(data)"
    elif isinstance(data, (set, frozenset, dict)):
        hint = "; it has no order to split by: pass sorted(data) or list(data.items())"
    raise TypeError(f"cannot split an object of type {what}{hint}. Supported kinds: " + ", ".join(supported_kinds()))


def chunk_bounds(n_items: int, n_chunks: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of each chunk, sizes as ``np.array_split`` gives.

    More chunks than items gives one chunk per item (never an empty chunk);
    zero items give one empty chunk so the input's kind survives a round trip.

    Parameters
    ----------
    n_items : int
        Length of the data.
    n_chunks : int
        Wanted number of chunks, at least 1.

    Returns
    -------
    list of (int, int)

    Examples
    --------
    >>> chunk_bounds(10, 3)
    [(0, 4), (4, 7), (7, 10)]
    """
    if isinstance(n_chunks, bool) or not isinstance(n_chunks, (int, np.integer)) or n_chunks < 1:
        raise ValueError(f"n_chunks must be a positive int, got {n_chunks!r}")
    if n_items == 0:
        return [(0, 0)]
    k = min(int(n_chunks), n_items)
    size, extra = divmod(n_items, k)
    bounds, start = [], 0
    for i in range(k):
        stop = start + size + (1 if i < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


def guided_bounds(n_items: int, n_workers: int, *, min_size: int | None = None) -> list[tuple[int, int]]:
    """Chunk bounds that shrink as work runs out (guided self-scheduling).

    Each chunk takes about ``remaining / (2 * n_workers)`` items, so early chunks
    are large (little per-call overhead for cheap items) and late chunks small
    (no worker sits idle while another finishes a big last chunk when item costs
    are uneven).  ``min_size`` bounds the tail; by default it is
    ``n_items // (32 * n_workers)``, at least 1.

    Parameters
    ----------
    n_items : int
        Number of items.
    n_workers : int
        Number of workers the chunks will be shared by.
    min_size : int, optional
        Smallest chunk (except perhaps the very last).

    Returns
    -------
    list of (int, int)
        Contiguous bounds covering ``range(n_items)`` in order.

    Examples
    --------
    >>> guided_bounds(20, 2)
    [(0, 5), (5, 9), (9, 12), (12, 14), (14, 16), (16, 17), (17, 18), (18, 19), (19, 20)]
    """
    if n_items == 0:
        return [(0, 0)]
    n_workers = max(1, int(n_workers))
    if min_size is None:
        min_size = max(1, n_items // (32 * n_workers))
    bounds, start = [], 0
    while start < n_items:
        remaining = n_items - start
        size = max(min_size, -(-remaining // (2 * n_workers)))
        stop = min(n_items, start + size)
        bounds.append((start, stop))
        start = stop
    return bounds


def length_of(data: Any) -> int:
    """Length along the split axis (rows for arrays and DataFrames)."""
    kind_of(data)
    return len(data)


def aligned_length(datas: Sequence[Any]) -> int:
    """Common length of several inputs split in lockstep, or a ``ValueError``."""
    if len(datas) == 0:
        raise ValueError("aligned partition needs at least one input")
    lengths = [length_of(d) for d in datas]
    if len(set(lengths)) > 1:
        described = ", ".join(f"input {i}: {n}" for i, n in enumerate(lengths))
        raise ValueError(
            f"aligned inputs must have the same length, got {described}; "
            "trim or pad them to one length before splitting"
        )
    return lengths[0]


def partition(data: Any, n_chunks: int, *, aligned: bool = False) -> list[Any]:
    """Split ``data`` into ``n_chunks`` contiguous chunks, sizes as ``np.array_split``.

    Parameters
    ----------
    data : ndarray, list, tuple, range, pandas.DataFrame or pandas.Series
        What to split. Arrays are split on axis 0 and chunks are views (no
        copies); pandas objects are split by row position, index kept. With
        ``aligned=True``, a sequence of such inputs of equal length.
    n_chunks : int
        Number of chunks. More chunks than items gives one item per chunk,
        never an empty chunk.
    aligned : bool, default=False
        Split several inputs in lockstep; each chunk is then a tuple with one
        piece of every input.

    Returns
    -------
    list
        Chunks of the input's kind (tuples of chunks when ``aligned``).

    Raises
    ------
    TypeError
        For inputs that cannot be split (scalars, ``None``, sets, dicts,
        generators), naming the supported kinds.
    ValueError
        For ``n_chunks < 1`` or aligned inputs of different lengths.

    Examples
    --------
    >>> import numpy as np
    >>> [c.tolist() for c in partition(np.arange(5), 2)]
    [[0, 1, 2], [3, 4]]
    >>> partition(([1, 2, 3], ("a", "b", "c")), 2, aligned=True)
    [([1, 2], ('a', 'b')), ([3], ('c',))]
    """
    if aligned:
        datas = list(data)
        n = aligned_length(datas)
        kinds = [kind_of(d) for d in datas]
        return [tuple(k.take(d, a, b) for k, d in zip(kinds, datas)) for a, b in chunk_bounds(n, n_chunks)]
    kind = kind_of(data)
    return [kind.take(data, a, b) for a, b in chunk_bounds(len(data), n_chunks)]

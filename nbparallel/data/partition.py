"""Splitting data into chunks.

Chunk sizes follow :func:`numpy.array_split`: with ``n`` items in ``k`` chunks the
first ``n % k`` chunks hold one item more than the others.  Which kinds of data
split, and how, is :mod:`nbparallel.data.kinds`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .kinds import kind_of, supported_kinds

__all__ = [
    "partition",
    "chunk_bounds",
    "guided_bounds",
    "length_of",
    "aligned_length",
    "length_mismatch",
    "supported_kinds",
    "kind_of",
]


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
    """Length along the split axis (rows for arrays, DataFrames, tables and sparse matrices)."""
    return kind_of(data).length(data)


def aligned_length(datas: Sequence[Any]) -> int:
    """Common length of several inputs split in lockstep, or a ``ValueError``."""
    if len(datas) == 0:
        raise ValueError("aligned partition needs at least one input")
    lengths = [length_of(d) for d in datas]
    if len(set(lengths)) > 1:
        raise length_mismatch(lengths)
    return lengths[0]


def length_mismatch(lengths: Sequence[object]) -> ValueError:
    """The error of aligned inputs whose lengths differ (a length may be a phrase: ``"more than 2"``).

    Examples
    --------
    >>> length_mismatch([3, 2])
    ValueError('aligned inputs must have the same length, got input 0: 3, input 1: 2; trim or pad them to one length before splitting')
    """
    described = ", ".join(f"input {i}: {n}" for i, n in enumerate(lengths))
    return ValueError(
        f"aligned inputs must have the same length, got {described}; trim or pad them to one length before splitting"
    )


def partition(data: Any, n_chunks: int, *, aligned: bool = False) -> list[Any]:
    """Split ``data`` into ``n_chunks`` contiguous chunks, sizes as ``np.array_split``.

    Parameters
    ----------
    data : array-like, DataFrame, Series, Arrow table or array, sparse matrix, list, tuple or range
        What to split, by row. numpy arrays are split on axis 0 and chunks are
        views; pandas objects are split by row position, index kept; polars
        and pyarrow objects are sliced without copying; scipy.sparse CSR, CSC
        and COO matrices and arrays are split into row blocks of the same
        format (see :func:`~nbparallel.data.kinds.supported_kinds`). With ``aligned=True``, a sequence
        of such inputs of equal length, which may be of different kinds.
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
    >>> import scipy.sparse as sp
    >>> [c.shape for c in partition(sp.eye_array(5, format="csr"), 2)]
    [(3, 5), (2, 5)]
    """
    if aligned:
        datas = list(data)
        n = aligned_length(datas)
        kinds = [kind_of(d) for d in datas]
        return [tuple(k.take(d, a, b) for k, d in zip(kinds, datas)) for a, b in chunk_bounds(n, n_chunks)]
    kind = kind_of(data)
    return [kind.take(data, a, b) for a, b in chunk_bounds(kind.length(data), n_chunks)]

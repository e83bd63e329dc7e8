"""Putting chunk results back together.

``merge(parts)`` joins chunk results of one kind into one object of that kind.
Optional libraries (pandas, polars, pyarrow, scipy.sparse) are recognised only
when the user's code already imported them and are never imported here.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import operator
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import numpy as np

from ..errors import SplitGroupWarning
from ..tracebacks import user_stacklevel
from .shared import SharedArray, concat_shared, materialize

__all__ = ["merge", "check_merge", "MERGE_MODES"]

MergeHow: TypeAlias = str | Callable[[list[Any]], Any]


# Kind names of the optional libraries' types, checked only when the library is
# already imported.  pandas keeps its short names (they appear in messages).
_OPTIONAL_KINDS: tuple[tuple[str, str, str], ...] = (
    ("pandas", "DataFrame", "DataFrame"),
    ("pandas", "Series", "Series"),
    ("polars", "DataFrame", "polars.DataFrame"),
    ("polars", "Series", "polars.Series"),
    ("pyarrow", "Table", "pyarrow.Table"),
    ("pyarrow", "RecordBatch", "pyarrow.RecordBatch"),
    ("pyarrow", "ChunkedArray", "pyarrow.ChunkedArray"),
    ("pyarrow", "Array", "pyarrow.Array"),
)


def _optional_kind(part: Any) -> str | None:
    for module, cls_name, kind in _OPTIONAL_KINDS:
        mod = sys.modules.get(module)
        if mod is not None and isinstance(part, getattr(mod, cls_name)):
            return kind
    sparse = sys.modules.get("scipy.sparse")
    if sparse is not None and sparse.issparse(part):
        return "scipy.sparse"
    return None


def _kind_name(part: Any) -> str:
    if isinstance(part, np.ndarray):
        return "ndarray" if part.ndim else "0-d ndarray"
    return _optional_kind(part) or type(part).__name__


def _categories(dtypes: list[Any]) -> Any:
    """The categories of all ``dtypes`` together, as the whole input would have given them.

    Unordered: sorted when every part's are (``astype("category")`` sorts), else in order of
    first appearance.  Ordered categoricals with different categories have no order to join.
    """
    import pandas as pd

    if any(d.ordered for d in dtypes):
        listed = "; ".join(f"chunk {i}: {list(d.categories)[:5]}" for i, d in enumerate(dtypes))
        raise TypeError(
            "cannot join chunk results that are ordered categoricals with different categories "
            f"({listed}): the order of the whole result's categories is unknown. Give every chunk the same "
            "categories, e.g. .astype(pd.CategoricalDtype(categories, ordered=True))"
        )
    union = dtypes[0].categories
    for d in dtypes[1:]:
        union = union.append(d.categories[~d.categories.isin(union)])
    if all(d.categories.is_monotonic_increasing for d in dtypes):
        with contextlib.suppress(TypeError):
            union = union.sort_values()
    return pd.CategoricalDtype(union, ordered=False)


def _same_categories(parts: list[Any]) -> list[Any]:
    """``parts`` with each categorical column (or Series) recast to the categories of all parts.

    ``pd.concat`` turns categoricals with different categories into plain values,
    while ``f(data)`` has one categorical over all rows.
    """
    import pandas as pd

    dtypes = [[p.dtype] if isinstance(p, pd.Series) else list(p.dtypes) for p in parts]  # no column copied
    if len({len(d) for d in dtypes}) != 1:
        return parts
    recast: dict[int, Any] = {}
    for j, column in enumerate(zip(*dtypes, strict=True)):
        if all(isinstance(d, pd.CategoricalDtype) for d in column) and len(set(column)) > 1:
            recast[j] = _categories(list(column))
    if not recast:
        return parts
    out = []
    for p in parts:
        if isinstance(p, pd.Series):
            out.append(p.astype(recast[0]))
            continue
        p = p.copy(deep=False)
        for j, dtype in recast.items():
            p.isetitem(j, p.iloc[:, j].astype(dtype))
        out.append(p)
    return out


def _concat_pandas(parts: list[Any], source: Any = None) -> Any:
    import pandas as pd

    merged = pd.concat(_same_categories(parts))
    if len(parts) > 1 and not merged.index.is_unique and all(p.index.is_unique for p in parts):
        # every chunk's result has unique labels, the merged one repeats some: the
        # chunks computed per-group results for parts of the same groups
        repeated = merged.index[merged.index.duplicated()].unique()
        index = getattr(source, "index", None)
        if isinstance(index, pd.Index) and not index.is_unique:
            # labels the input already repeats are expected to repeat (row-wise work on it)
            repeated = repeated[~repeated.isin(index[index.duplicated()])]
            if not len(repeated):
                return merged
        repeated = repeated[:3].tolist()
        _note(
            f"the merged chunk results repeat index labels that no single chunk repeats ({repeated}...): "
            "a group was probably split across chunks, so a groupby ran on parts of a group and the "
            "halves were concatenated. Keep groups whole: %%parallel --split DF --by KEY, or "
            "nbp.pmap_groups(func, df, by)"
        )
    return merged


_notes = threading.local()


class _Collecting:
    """The block of :func:`collect_notes` (a class: it runs for every job that ends)."""

    def __enter__(self) -> list[str]:
        self.previous = getattr(_notes, "items", None)
        items: list[str] = []
        _notes.items = items
        return items

    def __exit__(self, *exc: object) -> None:
        _notes.items = self.previous


def collect_notes() -> _Collecting:
    """Collect what merging has to warn about, instead of warning in this thread.

    A job merges in whichever thread finished its last chunk; the job warns in the
    caller's thread when its result is read (:meth:`nbparallel.Job.result`).

    Examples
    --------
    >>> with collect_notes() as notes:
    ...     _note("split")
    >>> notes
    ['split']
    """
    return _Collecting()


def _note(message: str) -> None:
    items = getattr(_notes, "items", None)
    if items is None:
        warnings.warn(SplitGroupWarning(message), stacklevel=user_stacklevel())
    else:
        items.append(message)


def _concat_polars(parts: list[Any]) -> Any:
    import polars as pl

    return pl.concat(parts)  # no rechunk: the parts' buffers are kept as chunks


def _concat_tables(parts: list[Any]) -> Any:
    import pyarrow as pa

    return pa.concat_tables(parts)  # zero-copy: the parts become the table's chunks


def _concat_batches(parts: list[Any]) -> Any:
    import pyarrow as pa

    if hasattr(pa, "concat_batches"):  # pyarrow >= 19
        return pa.concat_batches(parts)
    table = pa.Table.from_batches(parts).combine_chunks()
    batches = table.to_batches()
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=parts[0].schema)


def _concat_arrays(parts: list[Any]) -> Any:
    import pyarrow as pa

    return pa.concat_arrays(parts)


def _concat_chunked(parts: list[Any]) -> Any:
    import pyarrow as pa

    return pa.chunked_array([c for p in parts for c in p.chunks], type=parts[0].type)


def _vstack_sparse(parts: list[Any]) -> Any:
    import scipy.sparse as sp

    return sp.vstack(parts, format=parts[0].format)


# What "auto"/"concat" knows how to join, by kind name.  The error message for
# anything else is generated from these keys.
def _concat_ndarrays(parts: list[Any]) -> Any:
    if any(isinstance(p, np.ma.MaskedArray) for p in parts):  # np.concatenate drops the mask
        return np.ma.concatenate(parts, axis=0)
    return np.concatenate(parts, axis=0)


_CONCAT: dict[str, Callable[[list[Any]], Any]] = {
    "ndarray": _concat_ndarrays,
    "list": lambda parts: list(itertools.chain.from_iterable(parts)),
    "tuple": lambda parts: tuple(itertools.chain.from_iterable(parts)),
    "DataFrame": _concat_pandas,
    "Series": _concat_pandas,
    "polars.DataFrame": _concat_polars,
    "polars.Series": _concat_polars,
    "pyarrow.Table": _concat_tables,
    "pyarrow.RecordBatch": _concat_batches,
    "pyarrow.Array": _concat_arrays,
    "pyarrow.ChunkedArray": _concat_chunked,
    "scipy.sparse": _vstack_sparse,
}


def _describe_groups(parts: Sequence[Any]) -> str:
    groups: dict[str, list[int]] = {}
    for i, part in enumerate(parts):
        groups.setdefault(_kind_name(part), []).append(i)

    def ranges(idx: list[int]) -> str:
        runs: list[list[int]] = []  # [first, last] of each run of consecutive indices
        for i in idx:
            if runs and i == runs[-1][1] + 1:
                runs[-1][1] = i
            else:
                runs.append([i, i])
        return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)

    return "; ".join(f"chunk{'s' if len(i) > 1 else ''} {ranges(i)} returned {name}" for name, i in groups.items())


def _concat(parts: list[Any], source: Any = None) -> Any:
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
    if kind in ("DataFrame", "Series"):
        return _concat_pandas(parts, source)
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


def check_merge(how: MergeHow) -> MergeHow:
    """``how`` itself if it is a merge mode or a callable; else a ValueError listing the modes.

    Examples
    --------
    >>> check_merge("sum")
    'sum'
    """
    if not callable(how) and how not in MERGE_MODES:
        raise ValueError(f"unknown merge {how!r}; choose one of {', '.join(map(repr, MERGE_MODES))} or pass a callable")
    return how


def merge(parts: Sequence[Any], how: MergeHow = "auto", *, source: Any = None) -> Any:
    """Combine chunk results into one object of the parts' kind.

    Parameters
    ----------
    parts : sequence
        One result per chunk, in chunk order.
    how : {"auto", "concat", "sum", "list"} or callable, default="auto"
        ``"auto"``/``"concat"`` join parts of one kind into that kind:

        - ndarrays: ``numpy.concatenate`` on axis 0; lists and tuples:
          chained;
        - pandas DataFrames and Series: ``pd.concat``, index kept;
        - polars DataFrames and Series: ``pl.concat`` (no rechunk);
        - pyarrow Tables: ``pa.concat_tables`` and ChunkedArrays: their chunks
          chained, both without copying; Arrays: ``pa.concat_arrays`` and
          RecordBatches: one RecordBatch (``pa.concat_batches``), both copies,
          as these kinds are one contiguous piece;
        - scipy.sparse matrices and arrays: ``scipy.sparse.vstack`` in the
          first part's format (CSR stays CSR, ``sparray`` stays ``sparray``).

        ``"sum"`` adds the parts with ``+``; ``"list"`` returns the parts as a
        list; a callable is called with the list of parts.

        Masked arrays stay masked (``numpy.ma.concatenate``); pandas
        categoricals whose categories differ between parts are joined with
        the categories of all parts (sorted when every part's are), as
        ``f(data)`` would give them.
    source : object, optional
        The data that was split into the parts.  A pandas result that repeats
        index labels no single part repeats warns that a group was split
        across chunks (:class:`~nbparallel.SplitGroupWarning`), unless the
        source's index already repeats those labels (row-wise work on it).

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
    >>> import scipy.sparse as sp
    >>> m = merge([sp.eye_array(2, format="csr"), sp.eye_array(2, format="csr")])
    >>> m.format, m.shape
    ('csr', (4, 2))
    """
    how = check_merge(how)  # before the shared results below are used up
    parts = list(parts)
    if any(isinstance(p, SharedArray) for p in parts):  # large arrays left in shared memory by workers
        if how in ("auto", "concat") and all(isinstance(p, SharedArray) for p in parts):
            return concat_shared(parts)
        parts = materialize(parts)
    if callable(how):
        return how(parts)
    if not parts:
        if how == "list":
            return []
        raise ValueError(f"merge(how={how!r}) needs at least one part; there were none")
    if how in ("auto", "concat"):
        return _concat(parts, source)
    return MERGE_MODES[how](parts)

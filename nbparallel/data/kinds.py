"""The kinds of data nbparallel splits and how: one entry per kind, in a dispatch table.

Every kind is split by row (axis 0):

* numpy arrays: chunks are views;
* pandas DataFrame/Series: ``.iloc`` row slices, index kept;
* polars DataFrame/Series: ``slice``, zero-copy;
* pyarrow Table/RecordBatch/Array/ChunkedArray: ``slice``, zero-copy.  A sliced
  pyarrow object normally pickles its parent's whole buffers, so chunks sent to
  loky workers are pickled through Arrow IPC instead, which writes only the
  chunk's rows (see :func:`compact_arrow_pickling`);
* scipy.sparse CSR matrices/arrays: row blocks whose ``data`` and ``indices`` are
  views of the input's; CSC and COO: row blocks (copies of the block's entries);
* list, tuple, range: slices.

No optional library is imported here: a pandas, polars, pyarrow or scipy.sparse
object is recognised only if the user's code already imported that library
(checked in :data:`sys.modules`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["supported_kinds", "kind_of", "compact_arrow_pickling"]


@dataclass(frozen=True)
class _Kind:
    """One splittable kind: how to recognise it, measure it and cut rows ``a:b`` from it."""

    name: str
    matches: Callable[[Any], bool]
    take: Callable[[Any, int, int], Any]
    #: Number of rows (``len`` does not work for sparse matrices).
    length: Callable[[Any], int] = len
    #: Why ``pmap`` (one call per item) refuses this kind, or ``None`` when
    #: iterating it yields its rows or values.
    pmap_refusal: str | None = None


def _module(name: str) -> Any:
    """The module if the user's code already imported it, else ``None`` (never imports)."""
    return sys.modules.get(name)


def _is_instance(module: str, cls_name: str) -> Callable[[Any], bool]:
    def matches(obj: Any) -> bool:
        mod = _module(module)
        return mod is not None and isinstance(obj, getattr(mod, cls_name))

    return matches


def _is_array(obj: Any) -> bool:
    return isinstance(obj, np.ndarray) and obj.ndim >= 1


# --- scipy.sparse ------------------------------------------------------------------


def _sparse_format(obj: Any) -> str | None:
    sparse = _module("scipy.sparse")
    if sparse is None or not sparse.issparse(obj) or obj.ndim != 2:
        return None
    return str(obj.format)


def _take_csr(m: Any, a: int, b: int) -> Any:
    # Rows a:b of a CSR matrix are one contiguous run of data/indices: views, and
    # a small rebased indptr.  The constructor would copy views of much larger
    # arrays ("pruning"), so the block is an empty matrix given the three arrays.
    lo, hi = int(m.indptr[a]), int(m.indptr[b])
    block = type(m)((b - a, m.shape[1]), dtype=m.dtype)
    block.data, block.indices = m.data[lo:hi], m.indices[lo:hi]
    block.indptr = m.indptr[a : b + 1] - m.indptr[a]
    # Rows of a matrix with sorted indices (and no duplicates) have them too.
    block.has_sorted_indices = m.has_sorted_indices
    block.has_canonical_format = m.has_canonical_format
    return block


def _take_coo(m: Any, a: int, b: int) -> Any:
    row, col = m.row, m.col
    if m.has_canonical_format:  # sorted by row: the block is one run of entries
        lo, hi = (int(i) for i in np.searchsorted(row, [a, b]))
        sel: Any = slice(lo, hi)
    else:
        sel = np.flatnonzero((row >= a) & (row < b))
    return type(m)((m.data[sel], (row[sel] - a, col[sel])), shape=(b - a, m.shape[1]))


def _sparse_rows(m: Any) -> int:
    return int(m.shape[0])


# --- pyarrow -------------------------------------------------------------------------


def _arrow_from_ipc(payload: bytes, what: str) -> Any:
    """Rebuild a pyarrow object written by :func:`_arrow_reduce` (runs in the worker)."""
    import pyarrow as pa

    table = pa.ipc.open_stream(payload).read_all()
    if what == "Table":
        return table
    if what == "RecordBatch":
        return (
            table.combine_chunks().to_batches()[0] if table.num_rows else pa.RecordBatch.from_pylist([], table.schema)
        )
    column = table.column(0)
    if what == "ChunkedArray":
        return column
    return column.combine_chunks()  # an Array


def _arrow_reduce(obj: Any) -> Any:
    """Pickle a sliced pyarrow object by its rows only (Arrow IPC), other ones as usual."""
    import pyarrow as pa

    if obj.get_total_buffer_size() <= 2 * obj.nbytes + 4096:  # not a small slice of big buffers
        return obj.__reduce__()
    if isinstance(obj, pa.Table):
        what, table = "Table", obj
    elif isinstance(obj, pa.RecordBatch):
        what, table = "RecordBatch", pa.Table.from_batches([obj])
    elif isinstance(obj, pa.ChunkedArray):
        what, table = "ChunkedArray", pa.table({"v": obj})
    else:
        what, table = "Array", pa.table({"v": obj})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return _arrow_from_ipc, (sink.getvalue().to_pybytes(), what)


_COMPACT_TYPES: set[type] = set()


def compact_arrow_pickling(cls: type) -> bool:
    """Make loky pickle slices of the pyarrow class ``cls`` by their rows only.

    A pyarrow slice is zero-copy, but pickling it writes the parent's whole
    buffers, so every chunk of a big table would carry the whole table to its
    worker.  This registers, in loky's own pickler only (not ``copyreg``), a
    reducer that writes a slice through Arrow IPC, which keeps just its rows.
    Objects that are not small slices of larger buffers pickle as usual.
    :func:`nbparallel.partition` calls it for the pyarrow kinds it splits.

    Parameters
    ----------
    cls : type
        A pyarrow class: ``pyarrow.Table``, ``pyarrow.RecordBatch``,
        ``pyarrow.ChunkedArray`` or a concrete ``pyarrow.Array`` subclass.

    Returns
    -------
    bool
        Whether loky's pickler now uses the compact reducer for ``cls``
        (``False`` if this loky has no reducer registry).

    Examples
    --------
    >>> import pyarrow as pa
    >>> from loky.backend.reduction import dumps
    >>> big = pa.table({"x": list(range(100_000))})
    >>> compact_arrow_pickling(pa.Table)
    True
    >>> len(dumps(big.slice(0, 10))) < 10_000
    True
    """
    if cls in _COMPACT_TYPES:
        return True
    try:
        from loky.backend.reduction import register
    except ImportError:  # pragma: no cover - an older or newer loky without the registry
        return False
    register(cls, _arrow_reduce)
    _COMPACT_TYPES.add(cls)
    return True


def _take_arrow(d: Any, a: int, b: int) -> Any:
    compact_arrow_pickling(type(d))
    return d.slice(a, b - a)


# --- the dispatch table ---------------------------------------------------------------

_ROWS_HINT = "Use pmap_chunks(func, {var}) to process blocks of rows, or pmap(func, {rows}) for one call per row"

# The dispatch table.  Order matters (a DataFrame is checked before generic
# sequences).  Error messages list these names, so they cannot drift.
_KINDS: tuple[_Kind, ...] = (
    _Kind("numpy.ndarray (1-D or more, split on axis 0)", _is_array, lambda d, a, b: d[a:b]),
    _Kind(
        "pandas.DataFrame",
        _is_instance("pandas", "DataFrame"),
        lambda d, a, b: d.iloc[a:b],
        pmap_refusal="pmap over a DataFrame is ambiguous: iterating a DataFrame yields its column "
        "labels. " + _ROWS_HINT.format(var="df", rows="list(df.itertuples())"),
    ),
    _Kind("pandas.Series", _is_instance("pandas", "Series"), lambda d, a, b: d.iloc[a:b]),
    _Kind(
        "polars.DataFrame",
        _is_instance("polars", "DataFrame"),
        lambda d, a, b: d.slice(a, b - a),
        pmap_refusal="pmap over a polars DataFrame is ambiguous: iterating it yields its columns. "
        + _ROWS_HINT.format(var="df", rows="df.iter_rows(named=True)"),
    ),
    _Kind("polars.Series", _is_instance("polars", "Series"), lambda d, a, b: d.slice(a, b - a)),
    _Kind(
        "pyarrow.Table",
        _is_instance("pyarrow", "Table"),
        _take_arrow,
        pmap_refusal="pmap over a pyarrow Table is ambiguous: iterating it yields its columns. "
        + _ROWS_HINT.format(var="table", rows="table.to_pylist()"),
    ),
    _Kind(
        "pyarrow.RecordBatch",
        _is_instance("pyarrow", "RecordBatch"),
        _take_arrow,
        pmap_refusal="pmap over a pyarrow RecordBatch is ambiguous: iterating it yields its columns. "
        + _ROWS_HINT.format(var="batch", rows="batch.to_pylist()"),
    ),
    _Kind("pyarrow.Array", _is_instance("pyarrow", "Array"), _take_arrow),
    _Kind("pyarrow.ChunkedArray", _is_instance("pyarrow", "ChunkedArray"), _take_arrow),
    _Kind("scipy.sparse CSR (row blocks)", lambda d: _sparse_format(d) == "csr", _take_csr, _sparse_rows),
    _Kind("scipy.sparse CSC (row blocks)", lambda d: _sparse_format(d) == "csc", lambda d, a, b: d[a:b], _sparse_rows),
    _Kind(
        "scipy.sparse COO (row blocks)",
        lambda d: _sparse_format(d) == "coo",
        _take_coo,
        _sparse_rows,
        pmap_refusal="pmap over a COO sparse matrix: COO has no row access to iterate. "
        "Use pmap_chunks(func, m) to process blocks of rows, or pmap(func, m.tocsr()) for one call per row",
    ),
    _Kind("list", lambda d: isinstance(d, list), lambda d, a, b: d[a:b]),
    _Kind("tuple", lambda d: isinstance(d, tuple), lambda d, a, b: d[a:b]),
    _Kind("range", lambda d: isinstance(d, range), lambda d, a, b: d[a:b]),
)


_PLAIN = {kind_type: kind for kind in _KINDS for kind_type in (list, tuple, range) if kind.name == kind_type.__name__}


def supported_kinds() -> list[str]:
    """Names of the input kinds :func:`nbparallel.partition` can split.

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
    kind = _PLAIN.get(type(data))  # the Python sequences, without asking every other kind first
    if kind is not None:
        return kind
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
    elif _module("scipy.sparse") is not None and _module("scipy.sparse").issparse(data):
        if data.ndim != 2:
            hint = f"; only 2-D sparse matrices are split (this one is {data.ndim}-D): reshape it to 2-D first"
        else:
            hint = f"; sparse {data.format.upper()} is not split by row: convert it first, e.g. data.tocsr()"
    raise TypeError(f"cannot split an object of type {what}{hint}. Supported kinds: " + ", ".join(supported_kinds()))

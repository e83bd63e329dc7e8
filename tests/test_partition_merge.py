"""partition/merge: array_split sizes, views, kinds kept, round trips, clear errors."""

from __future__ import annotations

import itertools
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import nbparallel as nbp
from nbparallel import merge, partition
from nbparallel.data.partition import chunk_bounds, guided_bounds, supported_kinds

sizes = st.integers(min_value=0, max_value=60)
n_chunks = st.integers(min_value=1, max_value=80)


@given(n=sizes, k=n_chunks)
def test_chunk_sizes_match_array_split(n, k):
    expected = [len(p) for p in np.array_split(np.arange(n), k) if len(p)] or [0]
    assert [len(c) for c in partition(np.arange(n), k)] == expected


@given(n=st.integers(1, 60), k=n_chunks)
def test_no_empty_chunks(n, k):
    chunks = partition(list(range(n)), k)
    assert len(chunks) == min(n, k)
    assert all(len(c) > 0 for c in chunks)


def _as_kind(kind, values):
    if kind == "ndarray":
        return np.asarray(values, dtype=float).reshape(-1, 1) * np.ones((1, 3))
    if kind == "list":
        return list(values)
    if kind == "tuple":
        return tuple(values)
    if kind == "DataFrame":
        return pd.DataFrame({"a": values, "b": [str(v) for v in values]}, index=[f"r{v}" for v in range(len(values))])
    if kind == "Series":
        return pd.Series(values, index=np.arange(len(values)) * 10, dtype=float)
    raise AssertionError(kind)


def _equal(a, b):
    if isinstance(a, (pd.DataFrame, pd.Series)):
        return a.equals(b) and a.index.equals(b.index)
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and np.array_equal(a, b)
    return a == b and type(a) is type(b)


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(["ndarray", "list", "tuple", "DataFrame", "Series"]),
    values=st.lists(st.integers(-1000, 1000), min_size=0, max_size=40),
    k=n_chunks,
)
def test_round_trip(kind, values, k):
    data = _as_kind(kind, values)
    assert _equal(merge(partition(data, k)), data)


def test_range_chunks_are_ranges():
    chunks = partition(range(10), 3)
    assert chunks == [range(4), range(4, 7), range(7, 10)]
    assert merge([list(c) for c in chunks]) == list(range(10))


def test_array_chunks_are_views():
    data = np.arange(100.0).reshape(50, 2)
    for chunk in partition(data, 7):
        assert np.shares_memory(chunk, data)
        assert not chunk.flags.owndata


def test_dataframe_rows_and_index_kept():
    df = pd.DataFrame({"x": range(10)}, index=list("abcdefghij"))
    chunks = partition(df, 3)
    assert [list(c.index) for c in chunks] == [list("abcd"), list("efg"), list("hij")]


def test_aligned_split_in_lockstep():
    a, b = np.arange(7), list("abcdefg")
    chunks = partition((a, b), 3, aligned=True)
    assert [(x.tolist(), y) for x, y in chunks] == [
        ([0, 1, 2], ["a", "b", "c"]),
        ([3, 4], ["d", "e"]),
        ([5, 6], ["f", "g"]),
    ]


def test_aligned_lengths_must_match():
    with pytest.raises(ValueError, match=r"same length, got input 0: 3, input 1: 2"):
        partition(([1, 2, 3], [1, 2]), 2, aligned=True)


@pytest.mark.parametrize(
    "bad, hint",
    [
        (5, "int"),
        (None, "NoneType"),
        ({1, 2}, "no order"),
        ({"a": 1}, "no order"),
        ((x for x in range(3)), "no length"),
        (np.float64(1.0), "float64"),
        (np.array(3), "0-d numpy array"),
    ],
)
def test_unsupported_inputs_name_the_supported_kinds(bad, hint):
    with pytest.raises(TypeError) as info:
        partition(bad, 2)
    message = str(info.value)
    assert hint in message
    for kind in supported_kinds():
        assert kind in message


@pytest.mark.parametrize("k", [0, -1, 1.5, None])
def test_bad_chunk_count(k):
    with pytest.raises(ValueError, match="n_chunks must be a positive int"):
        partition([1, 2, 3], k)


def test_guided_bounds_cover_everything_and_shrink():
    bounds = guided_bounds(1000, 4)
    assert bounds[0][0] == 0 and bounds[-1][1] == 1000
    assert all(a == prev_b for (_, prev_b), (a, _) in itertools.pairwise(bounds))
    sizes = [b - a for a, b in bounds]
    assert sizes == sorted(sizes, reverse=True)
    assert len(bounds) > 4 * 2  # many more chunks than workers


def test_chunk_bounds_empty_data_gives_one_empty_chunk():
    assert chunk_bounds(0, 5) == [(0, 0)]
    assert partition([], 3) == [[]]


def test_merge_modes():
    assert merge([1, 2, 3], "sum") == 6
    assert np.array_equal(merge([np.ones(2), np.ones(2)], "sum"), [2.0, 2.0])
    assert merge([[1], [2]], "list") == [[1], [2]]
    assert merge([[1], [2, 3]], lambda parts: sum(map(len, parts))) == 3
    s = merge([pd.Series([1], index=[5]), pd.Series([2], index=[7])])
    assert list(s.index) == [5, 7]


def test_merge_mixed_kinds_names_chunks():
    parts = [np.ones(1), np.ones(1), [1], np.ones(1), [2], [3]]
    with pytest.raises(TypeError) as info:
        merge(parts)
    assert "chunks 0-1, 3 returned ndarray; chunks 2, 4-5 returned list" in str(info.value)


def test_merge_scalars_explains_what_to_do():
    with pytest.raises(TypeError, match=r"chunk results are int.*merge='sum'.*merge='list'"):
        merge([1, 2])


def test_merge_unknown_mode_lists_choices():
    with pytest.raises(ValueError, match=r"unknown merge 'glue'; choose one of 'auto', 'concat', 'sum', 'list'"):
        merge([[1]], "glue")


# --- polars, pyarrow, scipy.sparse ------------------------------------------------------

NEW_KINDS = [
    "polars.DataFrame",
    "polars.Series",
    "pyarrow.Table",
    "pyarrow.RecordBatch",
    "pyarrow.Array",
    "pyarrow.ChunkedArray",
    "csr_matrix",
    "csr_array",
    "csc_matrix",
    "csc_array",
    "coo_matrix",
    "coo_array",
]


def _as_new_kind(kind, values):
    floats = [float(v) for v in values]
    if kind == "polars.DataFrame":
        return pl.DataFrame({"a": values, "b": [str(v) for v in values]}, schema={"a": pl.Int64, "b": pl.String})
    if kind == "polars.Series":
        return pl.Series("v", floats, dtype=pl.Float64)
    if kind == "pyarrow.Table":
        return pa.table({"a": pa.array(values, pa.int64()), "b": pa.array([str(v) for v in values], pa.string())})
    if kind == "pyarrow.RecordBatch":
        return pa.RecordBatch.from_pydict({"a": pa.array(values, pa.int64())})
    if kind == "pyarrow.Array":
        return pa.array([None if v % 7 == 0 else str(v) for v in values], pa.string())
    if kind == "pyarrow.ChunkedArray":
        half = len(values) // 2
        return pa.chunked_array([pa.array(values[:half], pa.int64()), pa.array(values[half:], pa.int64())])
    # sparse: row i holds v at column |v| % 4 and nothing else when v is even
    dense = np.zeros((len(values), 4))
    for i, v in enumerate(values):
        dense[i, abs(v) % 4] = v if v % 2 else 0.0
    return getattr(sp, kind)(dense)  # e.g. sp.csr_matrix(dense), sp.coo_array(dense)


def _same(a, b):
    if isinstance(a, (pl.DataFrame, pl.Series)):
        return type(a) is type(b) and a.equals(b)
    if isinstance(a, (pa.Table, pa.RecordBatch, pa.Array, pa.ChunkedArray)):
        return type(a) is type(b) and a.equals(b)
    if sp.issparse(a):
        return type(a) is type(b) and a.format == b.format and a.shape == b.shape and (a != b).nnz == 0
    raise AssertionError(type(a))


@settings(max_examples=25, deadline=None)
@given(
    kind=st.sampled_from(NEW_KINDS),
    values=st.lists(st.integers(-1000, 1000), min_size=0, max_size=40),
    k=n_chunks,
)
def test_round_trip_new_kinds(kind, values, k):
    data = _as_new_kind(kind, values)
    chunks = partition(data, k)
    expected = [len(p) for p in np.array_split(np.arange(len(values)), k) if len(p)] or [0]
    assert [c.shape[0] if sp.issparse(c) else len(c) for c in chunks] == expected
    assert all(type(c) is type(data) for c in chunks)
    assert _same(merge(chunks), data)


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 29), st.integers(0, 5), st.integers(-9, 9)), max_size=40),
    k=n_chunks,
)
def test_round_trip_unsorted_coo_with_duplicates(rows, k):
    # COO entries in any order, duplicates allowed: the blocks still sum to the input.
    r, c, v = (np.array(x, dtype=int) for x in zip(*rows)) if rows else (np.array([], int),) * 3
    data = sp.coo_matrix((v.astype(float), (r, c)), shape=(30, 6))
    assert not data.has_canonical_format
    merged = merge(partition(data, k))
    assert merged.format == "coo" and np.array_equal(merged.toarray(), data.toarray())


def test_polars_and_arrow_chunks_share_the_input_buffers():
    df = pl.DataFrame({"x": np.arange(1000)})
    first = partition(df, 4)[1]
    assert first["x"].to_numpy()[0] == 250
    # polars slices are views: same buffer address
    assert df["x"].to_numpy().ctypes.data + 250 * 8 == first["x"].to_numpy().ctypes.data
    table = pa.table({"x": np.arange(1000)})
    chunk = partition(table, 4)[1]
    assert chunk.column(0).chunk(0).buffers()[1].address == table.column(0).chunk(0).buffers()[1].address


def test_csr_blocks_are_views_of_the_input():
    m = sp.random(200, 50, density=0.1, format="csr", random_state=0)
    for block in partition(m, 5):
        assert np.shares_memory(block.data, m.data)
        assert np.shares_memory(block.indices, m.indices)
    for fmt in ("csc", "coo"):
        assert all(b.format == fmt for b in partition(m.asformat(fmt), 5))


def test_arrow_chunks_are_sent_by_their_rows_only():
    from loky.backend.reduction import dumps

    table = pa.table({"x": np.arange(1_000_000), "s": pa.array([str(i) for i in range(1_000_000)])})
    whole = len(pickle.dumps(table))
    chunks = partition(table, 100)
    sent = [dumps(c) for c in chunks]
    assert sum(map(len, sent)) < 1.5 * whole  # not 100 copies of the table
    assert pickle.loads(sent[37]).equals(chunks[37])
    for data in (table.to_batches()[0], table.column("s"), table.column("s").chunk(0)):
        chunk = partition(data, 100)[99]
        assert len(dumps(chunk)) < whole / 20
        assert pickle.loads(dumps(chunk)).equals(chunk)


def test_aligned_inputs_of_mixed_kinds():
    df = pl.DataFrame({"a": range(7)})
    y = np.arange(7) * 10
    m = sp.csr_matrix(np.eye(7))
    chunks = partition((df, y, m, pa.array(range(7))), 3, aligned=True)
    assert [len(c[0]) for c in chunks] == [3, 2, 2]
    assert [c[1].tolist() for c in chunks] == [[0, 10, 20], [30, 40], [50, 60]]
    assert [c[2].shape for c in chunks] == [(3, 7), (2, 7), (2, 7)]
    assert chunks[2][3].to_pylist() == [5, 6]
    with pytest.raises(ValueError, match="input 0: 7, input 1: 6"):
        partition((df, y[:6]), 2, aligned=True)


def test_sparse_formats_that_are_not_split_say_how_to_convert():
    with pytest.raises(TypeError, match=r"sparse LIL is not split by row: convert it first, e\.g\. data\.tocsr\(\)"):
        partition(sp.lil_matrix((4, 4)), 2)


def test_merge_new_kinds_mixed_with_others_names_them():
    with pytest.raises(TypeError, match=r"chunk 0 returned polars\.DataFrame; chunk 1 returned pyarrow\.Table"):
        merge([pl.DataFrame({"a": [1]}), pa.table({"a": [1]})])


def test_optional_libraries_are_not_imported_for_other_data():
    code = (
        "import sys, numpy as np, nbparallel as nbp\n"
        "nbp.merge(nbp.partition(np.arange(9), 3)); nbp.merge(nbp.partition([1, 2, 3], 2))\n"
        "try:\n    nbp.partition({1}, 2)\nexcept TypeError:\n    pass\n"
        "print(sorted(m for m in ('pandas', 'polars', 'pyarrow', 'scipy.sparse') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


# --- through the workers -------------------------------------------------------------


def _scale_rows(data):
    """A row-wise function for every new kind: doubles the numbers."""
    if isinstance(data, pl.DataFrame):
        return data.with_columns(pl.col("a") * 2)
    if isinstance(data, pa.Table):
        return data.set_column(0, "a", pc.multiply(data.column("a"), 2))
    return data * 2


@pytest.mark.parametrize(
    "kind", ["polars.DataFrame", "polars.Series", "pyarrow.Table", "csr_array", "csc_matrix", "coo_array"]
)
def test_pmap_chunks_equals_the_sequential_result(kind):
    data = _as_new_kind(kind, list(range(-50, 51)))
    expected = _scale_rows(data)
    got = nbp.pmap_chunks(_scale_rows, data, n_jobs=2, chunks=5, progress=False)
    assert _same(got, expected)


def test_pmap_chunks_with_a_polars_frame_and_a_numpy_array():
    df = pl.DataFrame({"a": np.arange(40)})
    y = np.arange(40) * 0.5
    got = nbp.pmap_chunks(lambda d, w: d.with_columns(pl.Series("y", w)), df, y, n_jobs=2, chunks=4, progress=False)
    assert got.equals(df.with_columns(pl.Series("y", y)))


def test_pmap_iterates_values_of_series_and_rows_of_csr():
    s = pl.Series("v", [1, -2, 3, -4])
    assert nbp.pmap(abs, s, n_jobs=2, progress=False) == [1, 2, 3, 4]
    m = sp.csr_matrix(np.arange(12).reshape(4, 3))
    assert nbp.pmap(lambda row: int(row.sum()), m, n_jobs=2, progress=False) == [3, 12, 21, 30]


@pytest.mark.parametrize(
    "data, hint",
    [
        (pl.DataFrame({"a": [1, 2]}), r"pmap over a polars DataFrame is ambiguous.*pmap_chunks\(func, df\).*iter_rows"),
        (pa.table({"a": [1, 2]}), r"pmap over a pyarrow Table is ambiguous.*table\.to_pylist\(\)"),
        (sp.coo_array(np.eye(2)), r"COO has no row access.*m\.tocsr\(\)"),
        (pd.DataFrame({"a": [1, 2]}), r"pmap over a DataFrame is ambiguous.*itertuples"),
    ],
)
def test_pmap_refuses_tables_with_a_helpful_message(data, hint):
    with pytest.raises(TypeError, match=hint):
        nbp.pmap(len, data, n_jobs=1, progress=False)

"""partition/merge: array_split sizes, views, kinds kept, round trips, clear errors."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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

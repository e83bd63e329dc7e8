"""``pmap_chunks(f, data)`` against ``f(data)`` for row-wise ``f``, over every kind of data, options and call history."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nbparallel as nbp
from tests.differential.common import (
    CHUNK_KINDS,
    build,
    diff_settings,
    double,
    fails_on_long_chunks,
    ident,
    lengths,
    outcome,
    run_options,
    same,
    seeds,
    to_category,
    to_ordered_category,
)

NUMERIC = tuple(k for k in CHUNK_KINDS if any(t in k for t in ("int", "float", "complex", "2d", "masked")))


def _check(func, kind, n, seed, options):
    want = outcome(lambda: func(build(kind, n, seed)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning about the user's data it does not have is a defect
        got = outcome(lambda: nbp.pmap_chunks(func, build(kind, n, seed), **options))
    same(got, want)


@diff_settings()
@given(kind=st.sampled_from(CHUNK_KINDS), n=lengths, seed=seeds, options=run_options())
def test_identity_gives_the_data_back(kind, n, seed, options):
    _check(ident, kind, n, seed, options)


@diff_settings()
@given(kind=st.sampled_from(NUMERIC), n=lengths, seed=seeds, options=run_options())
def test_arithmetic_equals_the_whole_call(kind, n, seed, options):
    _check(double, kind, n, seed, options)


@diff_settings()
@given(
    history=st.lists(st.tuples(st.sampled_from(CHUNK_KINDS), lengths, seeds, run_options()), max_size=3),
    kind=st.sampled_from(CHUNK_KINDS),
    n=lengths,
    seed=seeds,
    options=run_options(),
)
def test_results_do_not_depend_on_earlier_calls(history, kind, n, seed, options):
    for args in history:  # the same function, before, with other data and other options
        _check(ident, *args)
    _check(ident, kind, n, seed, options)


@diff_settings()
@given(n=st.integers(0, 12), options=run_options())
def test_a_failing_chunk_raises_what_the_function_raises(n, options):
    """``f`` fails on chunks longer than 3 rows: the call's error is one that ``f`` raises on such a chunk."""
    data = list(range(n))
    got = outcome(lambda: nbp.pmap_chunks(fails_on_long_chunks, data, **options))
    if isinstance(got, list):
        assert got == data
    else:
        assert got in [outcome(lambda size=size: fails_on_long_chunks(data[:size])) for size in range(4, n + 1)]


def test_range_chunks_say_they_cannot_be_merged():
    """``f(range)`` is a range; ranges do not concatenate: a clear error, never another answer."""
    with pytest.raises(TypeError, match="chunk results are range, which 'auto' cannot concatenate"):
        nbp.pmap_chunks(ident, range(10), n_jobs=2, progress=False)


def test_a_large_masked_array_keeps_its_mask_through_shared_memory():
    """Inputs over 16 MiB and results over 1 MiB go through shared memory, which holds no mask."""
    data = np.ma.masked_array(np.arange(3_000_000, dtype=float), mask=np.arange(3_000_000) % 3 == 0)
    same(nbp.pmap_chunks(double, data, n_jobs=2, progress=False), double(data))


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_categories_made_per_chunk_are_those_of_the_whole(n_jobs):
    """Each chunk has only its own categories; ``pd.concat`` would turn them into plain strings."""
    s = pd.Series(list("dcbaabcdzz"), index=[0, 1, 0, 1, 2, 3, 2, 3, 4, 4])
    same(nbp.pmap_chunks(to_category, s, chunks=4, n_jobs=n_jobs, progress=False), to_category(s))
    frame = pd.DataFrame({"k": s, "v": range(10)})
    same(nbp.pmap_chunks(to_category, frame, chunks=3, n_jobs=n_jobs, progress=False), to_category(frame))


def test_ordered_categories_made_per_chunk_raise_a_clear_error():
    """The order of the whole result's categories is unknown: an error, never another answer."""
    s = pd.Series(list("aabbccdd"))
    with pytest.raises(TypeError, match="ordered categoricals with different categories"):
        nbp.pmap_chunks(to_ordered_category, s, chunks=2, n_jobs=2, progress=False)

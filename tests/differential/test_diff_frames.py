"""The pandas accessor (``df.parallel.*``) and the pandarallel drop-in against pandas' own methods."""

from __future__ import annotations

import re
import warnings

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbparallel import pandarallel
from tests.differential.common import (
    INDEXES,
    SERIES_DTYPES,
    build,
    column_summary,
    diff_settings,
    element_text,
    element_twice,
    lengths,
    outcome,
    row_pick,
    row_total,
    same,
    seeds,
    window_sum,
)

N_JOBS = st.sampled_from([1, 2])


@pytest.fixture(scope="module", autouse=True)
def drop_in():
    pandarallel.initialize(nb_workers=2, progress_bar=False, verbose=0)


def _strict(call, reference=None):
    """``call``'s outcome, a warning raised as an error unless pandas' own ``reference`` call gives it too
    (pandas 2.2 on numpy 1.24 warns ``invalid value encountered in cast`` where it casts categories)."""
    given = set()
    if reference is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcome(reference)
        given = {(w.category, str(w.message)) for w in caught}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning pandas would not give
        for category, message in given:
            warnings.filterwarnings("ignore", message=re.escape(message), category=category)
        return outcome(call)


@diff_settings()
@given(
    func=st.sampled_from([row_total, row_pick]),
    index=st.sampled_from(INDEXES),
    n=lengths,
    seed=seeds,
    n_jobs=N_JOBS,
)
def test_rows_equal_pandas(func, index, n, seed, n_jobs):
    df = build(f"frame:{index}", n, seed)
    want = outcome(lambda: df.apply(func, axis=1))
    same(_strict(lambda: df.parallel.apply(func, axis=1, n_jobs=n_jobs, progress=False)), want)
    same(_strict(lambda: df.parallel_apply(func, axis=1)), want)


@diff_settings()
@given(index=st.sampled_from(INDEXES), n=lengths, seed=seeds, n_jobs=N_JOBS)
def test_columns_and_elements_equal_pandas(index, n, seed, n_jobs):
    df = build(f"frame:{index}", n, seed)
    same(
        _strict(
            lambda: df.parallel.apply(column_summary, n_jobs=n_jobs, progress=False), lambda: df.apply(column_summary)
        ),
        outcome(lambda: df.apply(column_summary)),
    )
    want = outcome(lambda: df.map(element_text))
    same(_strict(lambda: df.parallel.map(element_text, n_jobs=n_jobs, progress=False)), want)
    same(_strict(lambda: df.parallel_map(element_text)), want)


@diff_settings()
@given(
    dtype=st.sampled_from(SERIES_DTYPES),
    index=st.sampled_from(INDEXES),
    n=lengths,
    seed=seeds,
    n_jobs=N_JOBS,
)
def test_series_equal_pandas(dtype, index, n, seed, n_jobs):
    s = build(f"series:{dtype}@{index}", n, seed)
    for func in (element_twice, element_text):
        want = outcome(lambda func=func: s.apply(func))
        same(_strict(lambda func=func: s.parallel.apply(func, n_jobs=n_jobs, progress=False)), want)
        same(_strict(lambda func=func: s.parallel_apply(func)), want)
        want = outcome(lambda func=func: s.map(func))
        same(_strict(lambda func=func: s.parallel.map(func, n_jobs=n_jobs, progress=False)), want)
        same(_strict(lambda func=func: s.parallel_map(func)), want)
    mapping = {v: f"m{i}" for i, v in enumerate(s.dropna().unique()[:2])}
    same(_strict(lambda: s.parallel_map(mapping)), outcome(lambda: s.map(mapping)))


SELECTIONS = (None, "f", ["f"], ["f", "i"])


def _select(window, selection):
    return window if selection is None else window[selection]


@diff_settings()
@given(
    selection=st.sampled_from(SELECTIONS),
    window=st.sampled_from([1, 2, 3, 5]),
    center=st.booleans(),
    index=st.sampled_from(["range", "dup", "str"]),
    n=lengths,
    seed=seeds,
)
def test_rolling_equals_pandas(selection, window, center, index, n, seed):
    """A frame with a string column: without a selection pandas raises DataError, and so must the drop-in."""
    df = build(f"frame:{index}", n, seed)[["f", "i", "s"]]
    rolling = lambda: _select(df.rolling(window, center=center, min_periods=1), selection)  # noqa: E731
    want = outcome(lambda: rolling().apply(window_sum, raw=True))
    same(_strict(lambda: rolling().parallel_apply(window_sum, raw=True)), want)


@diff_settings()
@given(
    selection=st.sampled_from(SELECTIONS),
    kind=st.sampled_from(["rolling", "expanding"]),
    key=st.sampled_from(["s", "c"]),
    n=lengths,
    seed=seeds,
)
def test_grouped_windows_equal_pandas(selection, kind, key, n, seed):
    df = build("frame:range", n, seed)[["f", "i", "s", "c"]]
    make = lambda: _select(  # noqa: E731
        df.groupby(key, observed=True).rolling(2) if kind == "rolling" else df.groupby(key, observed=True).expanding(),
        selection,
    )
    want = outcome(lambda: make().apply(window_sum, raw=True))
    same(_strict(lambda: make().parallel_apply(window_sum, raw=True)), want)


@diff_settings()
@given(key=st.sampled_from(["s", ["s", "c"]]), index=st.sampled_from(INDEXES), n=lengths, seed=seeds)
def test_groupby_apply_equals_pandas(key, index, n, seed):
    df = build(f"frame:{index}", n, seed)
    for func in (len, column_summary):
        want = outcome(lambda func=func: df.groupby(key, observed=True)["f"].apply(func))
        same(_strict(lambda func=func: df.groupby(key, observed=True)["f"].parallel_apply(func)), want)
    want = outcome(lambda: df.groupby(key, observed=True).apply(row_pick_first))
    same(_strict(lambda: df.groupby(key, observed=True).parallel_apply(row_pick_first)), want)


def row_pick_first(g):
    return g[["i", "f"]].head(1)


@pytest.mark.parametrize("dtype", ["boolean", "Int64", "Float64", "string"])
def test_extension_values_are_inferred_as_pandas_infers_them(dtype):
    """A chunk of only missing values keeps the input's dtype, the others get another one: pandas infers
    once over all values with the input array's own cast (``boolean`` doubled gives ``Int64``)."""
    values = {"boolean": [False, None], "Int64": [1, None], "Float64": [1.5, None], "string": ["a", None]}[dtype]
    s = pd.Series(values * 4, dtype=dtype)
    for func in (element_twice, element_text):
        same(
            _strict(lambda func=func: s.parallel.apply(func, n_jobs=2, progress=False)),
            outcome(lambda func=func: s.apply(func)),
        )
        same(_strict(lambda func=func: s.parallel_map(func)), outcome(lambda func=func: s.map(func)))

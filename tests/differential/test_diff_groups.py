"""``pmap_groups`` against ``groupby.apply`` (pandas) and ``group_by(...).map_groups`` (polars)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nbparallel as nbp
from nbparallel.worker.run import seed_item
from tests.differential.common import (
    GROUP_FUNCS,
    INDEXES,
    Raised,
    build,
    diff_settings,
    group_draw,
    lengths,
    outcome,
    polars_head,
    polars_sum,
    run_options,
    same,
    seeds,
)

#: Keys as users pass them: a column, two columns, a column with missing keys, a categorical column, an array.
KEYS = ("s", ["s", "c"], "k_nan", "c", "array", "arrays")


def _frame(n, seed, index):
    df = build(f"frame:{index}", n, seed)
    df["k_nan"] = np.where(np.arange(n) % 4 == 1, np.nan, df["i"] % 3)
    return df


def _by(df, key):
    if key == "arrays":
        return [(df["i"] % 3).to_numpy(), (df["i"] % 2).to_numpy()]
    return (df["i"] % 3).to_numpy() if key == "array" else key


def _options(options):
    return {k: v for k, v in options.items() if k not in ("chunks", "chunk_size")}  # groups decide the chunks


@diff_settings()
@given(
    func=st.sampled_from(GROUP_FUNCS),
    key=st.sampled_from(KEYS),
    index=st.sampled_from(INDEXES),
    n=lengths,
    seed=seeds,
    options=run_options(),
)
def test_pandas_groups_equal_groupby_apply(func, key, index, n, seed, options):
    df = _frame(n, seed, index)
    want = outcome(lambda: df.groupby(_by(df, key)).apply(func))
    same(outcome(lambda: nbp.pmap_groups(func, df, _by(df, key), **_options(options))), want)


@diff_settings()
@given(key=st.sampled_from(KEYS), n=lengths, seed=seeds, options=run_options())
def test_pandas_groups_with_merge_list_equal_the_groups_in_order(key, n, seed, options):
    df = _frame(n, seed, "range")
    want = [len(g) for _, g in df.groupby(_by(df, key))]
    same(nbp.pmap_groups(len, df, _by(df, key), merge="list", **_options(options)), want)


@diff_settings()
@given(key=st.sampled_from(KEYS), n=lengths, seed=seeds, random_seed=seeds, options=run_options())
def test_seeded_groups_draw_per_group_whatever_the_workers(key, n, seed, random_seed, options):
    """Group ``i`` (in pandas' order) draws from ``seed_item(seed, i)``: the same for any ``n_jobs`` and chunks."""
    df = _frame(n, seed, "range")
    numbers = iter(range(n + 1))

    def seeded(g):
        seed_item(random_seed, next(numbers))
        return group_draw(g)

    want = outcome(lambda: df.groupby(_by(df, key)).apply(seeded))
    same(outcome(lambda: nbp.pmap_groups(group_draw, df, _by(df, key), seed=random_seed, **_options(options))), want)


@diff_settings()
@given(key=st.sampled_from(["s", ["s", "i"]]), n=lengths, seed=seeds, options=run_options())
def test_polars_groups_equal_map_groups(key, n, seed, options):
    df = build("polars:frame", n, seed)
    names = [key] if isinstance(key, str) else key  # polars 1.0's map_groups takes names, not a list of them
    want = df.group_by(*names, maintain_order=True).map_groups(polars_head) if n else df.clear()
    same(nbp.pmap_groups(polars_head, df, key, **_options(options)), want)
    same(
        nbp.pmap_groups(polars_sum, df, key, merge="list", **_options(options)),
        [polars_sum(g) for _, g in df.group_by(*names, maintain_order=True)],
    )


def test_polars_groups_returning_scalars_raise_what_polars_raises():
    """polars' ``map_groups`` needs a DataFrame from each group: the same error type, with a message that says why.

    polars 1.0 panics there instead (``PanicException``, which ``except Exception`` does not catch): no error
    to copy, so ``pmap_groups`` raises the ``ComputeError`` later versions raise.
    """
    df = build("polars:frame", 10, 0)
    try:
        df.group_by("s", maintain_order=True).map_groups(polars_sum)
    except BaseException as exc:  # polars 1.0's panic too
        want = type(exc) if isinstance(exc, Exception) else pl.exceptions.ComputeError
    else:
        want = None
    got = outcome(lambda: nbp.pmap_groups(polars_sum, df, "s", n_jobs=2, progress=False))
    assert isinstance(got, Raised) and got.type is want is pl.exceptions.ComputeError
    assert "returned float" in got.message and "merge='list'" in got.message


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_series_per_group_with_a_duplicate_index(n_jobs):
    """The cases of issue 32: a Series per group, n_jobs 1 and 2, a duplicate index."""
    df = pd.DataFrame({"k": list("aabbc"), "f": [1.0, 2, 3, 4, 5], "i": [1, 2, 3, 4, 5]}, index=[0, 0, 1, 1, 2])
    for func in GROUP_FUNCS:
        same(nbp.pmap_groups(func, df, "k", n_jobs=n_jobs, progress=False), df.groupby("k").apply(func))


def test_keys_mixing_column_names_and_arrays_raise_a_clear_error():
    """pandas takes them; pmap_groups says what to pass instead of failing deep inside numpy."""
    df = _frame(6, 0, "range")
    with pytest.raises(TypeError, match="by mixes column names and arrays"):
        nbp.pmap_groups(len, df, ["s", (df["i"] % 2).to_numpy()], n_jobs=2, progress=False)

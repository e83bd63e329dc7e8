"""Group-aware splitting: pmap_groups, %%parallel --by, and the warning for split groups."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import nbparallel as nbp
from nbparallel.data.groups import group_bounds, group_layout


@pytest.fixture(scope="module")
def df():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"k": rng.integers(0, 10, 1000), "j": rng.integers(0, 3, 1000), "x": rng.normal(size=1000)})


@pytest.mark.parametrize(
    "func",
    [
        lambda g: g.x.mean(),  # a scalar per group: a Series indexed by key
        lambda g: g.nlargest(2, "x"),  # a DataFrame per group: keys prepended
        lambda g: pd.Series({"lo": g.x.min(), "hi": g.x.max()}),  # a Series per group: a DataFrame
    ],
)
@pytest.mark.parametrize("by", ["k", ["k", "j"]])
def test_pmap_groups_equals_groupby_apply(df, func, by):
    got = nbp.pmap_groups(func, df, by, n_jobs=2, progress=False)
    pd.testing.assert_frame_equal(pd.DataFrame(got), pd.DataFrame(df.groupby(by).apply(func)))


def test_pmap_groups_with_keys_aligned_with_the_rows(df):
    keys = (df.x > 0).to_numpy()
    got = nbp.pmap_groups(lambda g: len(g), df, keys, n_jobs=2, progress=False)
    pd.testing.assert_series_equal(got, df.groupby(keys).apply(lambda g: len(g)))


def test_pmap_groups_on_polars_equals_group_by_map_groups(df):
    pl = pytest.importorskip("polars")
    frame = pl.from_pandas(df)

    def summary(g):
        return g.select(pl.col("k").first(), pl.col("x").mean())

    got = nbp.pmap_groups(summary, frame, "k", n_jobs=2, progress=False)
    assert got.equals(frame.group_by("k", maintain_order=True).map_groups(summary))


@pytest.mark.parametrize("how", ["list", "sum", sorted])
def test_pmap_groups_merges_the_groups_results_in_key_order(df, how):
    def size(g):
        return len(g) * 100 + g.name  # each group knows its key, as in groupby.apply

    per_group = df.groupby("k").apply(size).tolist()  # sorted keys
    expected = {"list": per_group, "sum": sum(per_group)}.get(how) if isinstance(how, str) else sorted(per_group)
    assert nbp.pmap_groups(size, df, "k", merge=how, n_jobs=2, progress=False) == expected


def test_pmap_groups_leaves_out_missing_keys_as_groupby_does():
    data = pd.DataFrame({"k": [1.0, np.nan, 2.0, 1.0, np.nan, 3.0] * 20, "x": range(120)})
    expected = data.groupby("k").apply(lambda g: g.x.sum())
    assert nbp.pmap_groups(lambda g: g.x.sum(), data, "k", merge="list", n_jobs=2, progress=False) == expected.tolist()
    pd.testing.assert_series_equal(nbp.pmap_groups(lambda g: g.x.sum(), data, "k", n_jobs=2, progress=False), expected)


def test_pmap_groups_collects_failing_groups_and_retries_only_them(df):
    def fragile(g):
        if g.name in (3, 7):
            raise ValueError(f"group {g.name}")
        return g.x.sum()

    with pytest.raises(ValueError) as info:
        nbp.pmap_groups(fragile, df, "k", n_jobs=2, progress=False, errors="collect")
    job = info.value.job
    assert job.n_done == job.n_total and len(job.errors) == 2  # every other chunk ran; both failures listed
    fixed = job.retry_failed(lambda g: g.x.sum())
    pd.testing.assert_series_equal(fixed, df.groupby("k").apply(lambda g: g.x.sum()))


def test_pmap_groups_refuses_an_unknown_merge(df):
    with pytest.raises(ValueError, match="unknown merge 'stack'"):
        nbp.pmap_groups(len, df, "k", merge="stack", progress=False)


def test_groups_are_whole_and_big_ones_go_first():
    data = pd.DataFrame({"k": [3] * 50 + [1] * 5 + [2] * 20 + [1] * 5})
    layout = group_layout(data, "k")
    assert layout.sizes.tolist() == [50, 20, 10]  # largest group first
    bounds = group_bounds(layout.sizes, 4)
    assert all(a in (0, 50, 70) and b in (50, 70, 80) for a, b in bounds)  # cut only between groups
    rows = [b - a for a, b in group_bounds([10] * 100, 2)]
    assert rows[0] >= 4 * rows[-1] and rows == sorted(rows, reverse=True)  # chunks shrink as work runs out


def test_a_split_group_warns_and_by_gives_the_whole_data_result(shell, df):
    shell.user_ns["df"] = df
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shell.run_cell_magic(
            "parallel", "--split df --out stats -n 2 --no-progress", "stats = df.groupby('k').x.mean()"
        )
    assert len(shell.user_ns["stats"]) > 10  # the trap: halves of groups, concatenated
    assert any(issubclass(w.category, nbp.SplitGroupWarning) and "--by" in str(w.message) for w in caught)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shell.run_cell_magic(
            "parallel",
            "--split df --by k --out stats,twice -n 2 --no-progress",
            "stats = df.groupby('k').x.mean()\ntwice = df.x * 2",
        )
    pd.testing.assert_series_equal(shell.user_ns["stats"], df.groupby("k").x.mean())
    pd.testing.assert_series_equal(shell.user_ns["twice"], df.x * 2)  # row-wise: back in input order
    assert not [w for w in caught if issubclass(w.category, nbp.SplitGroupWarning)]


def test_row_wise_concatenation_does_not_warn(df):
    with warnings.catch_warnings():
        warnings.simplefilter("error", nbp.SplitGroupWarning)
        got = nbp.pmap_chunks(lambda c: c.x * 2, df, n_jobs=2, progress=False)
    pd.testing.assert_series_equal(got, df.x * 2)


def test_grouping_something_that_is_not_a_table_says_what_to_do():
    with pytest.raises(TypeError, match="needs a pandas or polars DataFrame"):
        nbp.pmap_groups(len, [1, 2, 3], "k", progress=False)

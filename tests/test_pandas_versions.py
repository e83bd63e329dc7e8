"""What differs between pandas 2.2 and 3: the drop-in follows the installed pandas, checked against it.

``make test`` runs these on pandas 3, ``make test-oldest`` on pandas 2.2; every expectation is
pandas' own result (or error) on the same call, so the same test holds on both.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from nbparallel import pandarallel
from nbparallel.frontends.frames.compat import window_and_groupby_classes
from tests.helpers import same


@pytest.fixture(scope="module", autouse=True)
def drop_in():
    pandarallel.initialize(nb_workers=2, verbose=0)


def _frame():
    rng = np.random.default_rng(3)
    return pd.DataFrame({"k": rng.choice(["a", "b", "c"], 40), "j": rng.integers(0, 2, 40), "x": rng.normal(size=40)})


def test_the_classes_found_are_pandas_own_where_pandas_names_them():
    typing = getattr(pd.api, "typing", None)
    found = window_and_groupby_classes()
    named = {name: getattr(typing, name) for name in found if hasattr(typing, name)}
    assert named, "pandas.api.typing names none of them"
    for name, cls in named.items():
        assert found[name] is cls, name


def test_every_drop_in_method_is_on_the_object_the_user_gets():
    df = _frame()
    for obj in (df, df.x, df.x.rolling(2), df.groupby("k"), df.groupby("k").x, df.groupby("k").rolling(2),
                df.groupby("k").expanding()):  # fmt: skip
        assert callable(obj.parallel_apply), type(obj)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("kwargs", [{}, {"include_groups": False}, {"include_groups": True}])
@pytest.mark.parametrize("by", ["k", ["k", "j"], "series"])
def test_groupby_apply_hands_func_what_pandas_does(by, kwargs):
    df = _frame()
    if by == "series":  # a SeriesGroupBy hands its arguments on to GroupBy.apply, which takes include_groups
        gb, f = (lambda: df.groupby("k").x), (lambda s, include_groups=None: f"{include_groups}:{len(s)}")
    else:
        gb, f = (lambda: df.groupby(by)), (lambda g: ",".join(g.columns) + f":{len(g)}")
    try:
        expected = gb().apply(f, **kwargs)
    except ValueError as exc:  # pandas 3 refuses include_groups=True
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            gb().parallel_apply(f, **kwargs)
        return
    same(gb().parallel_apply(f, **kwargs), expected)


@pytest.mark.parametrize("sort", [True, False])
def test_grouped_windows_with_several_keys_come_back_in_pandas_order(sort):
    df = _frame().assign(y=lambda d: d.x * 2)
    for make in (lambda g: g.rolling(3), lambda g: g.expanding()):
        w = make(df.groupby(["k", "j"], sort=sort))
        same(w.parallel_apply(np.sum, raw=True), make(df.groupby(["k", "j"], sort=sort)).apply(np.sum, raw=True))


def test_categorical_keys_of_grouped_windows_keep_pandas_categories():
    df = _frame()
    df["k"] = pd.Categorical(df.k, categories=["c", "zz", "a", "b"])
    for sort in (True, False):
        w = df[["k", "x"]].groupby("k", observed=True, sort=sort).rolling(2)
        same(w.parallel_apply(np.sum, raw=True), w.apply(np.sum, raw=True))


def _nullable(n=40):
    """Nullable ints with one missing value: most chunks of it have none."""
    return pd.Series([None if i == 3 else i for i in range(n)], dtype="Int64", name="v")


@pytest.mark.parametrize("method", ["parallel_map", "parallel_apply"])
def test_nullable_ints_reach_func_as_pandas_hands_them_over(method):
    """pandas 2.2 maps a nullable array through ``to_numpy()`` (ints with a missing value: floats), pandas 3
    hands over the values themselves: each chunk must see what the whole array would."""
    s = _nullable()
    same(getattr(s, method)(repr), getattr(s, method.removeprefix("parallel_"))(repr))
    df = pd.DataFrame({"v": s, "w": np.arange(40)})
    same(df.parallel_map(repr), df.map(repr))


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
@pytest.mark.parametrize("by", ["c", ["c", "k"]])
@pytest.mark.parametrize("merge", ["auto", "list"])
def test_categorical_keys_give_the_groups_pandas_gives(by, merge):
    """pandas 2.2 groups by every category by default (``observed=False``), pandas 3 by those present."""
    import nbparallel as nbp

    df = _frame()
    df["c"] = pd.Categorical(df["k"].map({"a": "x", "b": "y", "c": "y"}), categories=["w", "x", "y", "z"])

    def size(g):
        return pd.Series({"rows": len(g), "name": str(g.name)})

    got = nbp.pmap_groups(size, df, by, merge=merge, n_jobs=2, progress=False)
    if merge == "list":
        assert [(r["rows"], r["name"]) for r in got] == [(len(g), str(name)) for name, g in df.groupby(by)]
    else:
        same(got, df.groupby(by).apply(size))

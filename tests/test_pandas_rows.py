"""The lean row loop of ``apply(axis=1)`` (:mod:`nbparallel.frontends.frames.rows`) against pandas' own.

Every frame and function here runs twice in this process, once through
``df.apply(func, axis=1, **kwargs)`` and once through ``apply_rows``; the
results (or the exceptions) must be the same, and what the function saw of
each row (its name, index, dtype, values, what it kept) too.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest

import nbparallel as nbp
from nbparallel.frontends.frames import rows
from nbparallel.frontends.frames.rows import apply_rows


def same(got, expected):
    assert type(got) is type(expected), (type(got), type(expected))
    if (
        isinstance(expected, pd.Series)
        and expected.dtype == object
        and any(isinstance(v, (list, dict)) for v in expected)
    ):
        # lists holding NaN are unequal even to themselves: compare them as text
        assert [repr(v) for v in got] == [repr(v) for v in expected]
        got, expected = got.map(repr), expected.map(repr)
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
    else:
        pd.testing.assert_series_equal(got, expected, check_exact=True)
    assert got.equals(expected)


def _frames() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(1)
    n = 12
    floats = pd.DataFrame({"a": np.arange(n, dtype=float), "b": rng.normal(size=n)})
    labels = pd.Index([f"r{i}" for i in range(n)], name="row")
    return {
        "floats": floats,
        "floats-from-array": pd.DataFrame(np.ascontiguousarray(floats.to_numpy()), columns=["a", "b"]),
        "ints-named": pd.DataFrame(
            rng.integers(0, 9, (n, 3)), index=labels, columns=pd.Index(["a", "b", "c"], name="col")
        ),
        "int32": pd.DataFrame(rng.integers(0, 9, (n, 2)).astype(np.int32), columns=["a", "b"]),
        "bools": pd.DataFrame({"a": rng.random(n) > 0.5, "b": rng.random(n) > 0.5}),
        "complex": pd.DataFrame({"a": rng.normal(size=n) + 1j, "b": rng.normal(size=n)}),
        "int-and-float": pd.DataFrame({"a": np.arange(n), "b": rng.normal(size=n)}, index=labels),
        "mixed-str": pd.DataFrame({"a": np.arange(n), "b": rng.normal(size=n), "c": [f"s{i}" for i in range(n)]}),
        "objects": pd.DataFrame({"a": [f"x{i}" for i in range(n)], "b": [i for i in range(n)]}, dtype=object),
        "nullable-Int64": pd.DataFrame(
            {"a": pd.array(range(n), dtype="Int64"), "b": pd.array([None, *range(n - 1)], dtype="Int64")}
        ),
        "strings": pd.DataFrame({"a": [f"x{i}" for i in range(n)], "b": ["y"] * n}),
        "categorical": pd.DataFrame({"a": pd.Categorical(["p", "q"] * (n // 2)), "b": np.arange(n)}),
        "datetimes": pd.DataFrame(
            {"a": pd.date_range("2024-01-01", periods=n), "b": pd.date_range("2025-01-01", periods=n)}
        ),
        "datetime-tz": pd.DataFrame({"a": pd.date_range("2024-01-01", periods=n, tz="UTC"), "b": np.arange(n)}),
        "multiindex-rows": floats.set_axis(
            pd.MultiIndex.from_arrays([np.arange(n) % 3, np.arange(n)], names=["g", "i"])
        ),
        "multiindex-columns": floats.set_axis(pd.MultiIndex.from_tuples([("x", "a"), ("x", "b")]), axis=1),
        "duplicate-columns": floats.set_axis(["a", "a"], axis=1),
        "duplicate-rows": floats.set_axis(np.arange(n) % 4),
        "every-other-row": floats.iloc[::2],
        "one-row": floats.iloc[:1],
        "no-rows": floats.iloc[:0],
        "no-columns": floats.iloc[:, :0],
        "nan": floats.where(floats.a % 3 != 0),
    }


FRAMES = _frames()


def _first(row):
    return row.iloc[0]


def _inspect(row):
    return f"{row.name!r}|{list(row.index)}|{row.index.name}|{row.dtype}|{len(row)}"


def _name(row):
    return row.name


def _itself(row):
    return row


def _doubled(row):
    return row * 2


def _new_series(row):
    return pd.Series({"first": row.iloc[0], "n": len(row)})


def _renamed(row):
    row.name = "changed"
    return row.iloc[0]


def _set_first(row):
    row.iloc[0] = row.iloc[-1]
    return row.sum()


def _array(row):
    return row.to_numpy()


def _list(row):
    return [row.iloc[0], len(row)]


def _dict(row):
    return {"x": row.iloc[0]}


def _none_or_value(row):
    return None if zlib.crc32(str(row.name).encode()) % 2 else row.iloc[0]


def _args(row, a, b=0):
    return len(row) + a + b


def _raises(row):
    if str(row.name).endswith("3"):
        raise KeyError(f"no {row.name}")
    return 1


FUNCS = {
    "first": (_first, {}),
    "inspect": (_inspect, {}),
    "name": (_name, {}),
    "itself": (_itself, {}),
    "doubled": (_doubled, {}),
    "new-series": (_new_series, {}),
    "renamed": (_renamed, {}),
    "set-first": (_set_first, {}),
    "array": (_array, {}),
    "list": (_list, {}),
    "list-expand": (_list, {"result_type": "expand"}),
    "list-reduce": (_list, {"result_type": "reduce"}),
    "itself-reduce": (_itself, {"result_type": "reduce"}),
    "broadcast": (_first, {"result_type": "broadcast"}),
    "dict": (_dict, {}),
    "none-or-value": (_none_or_value, {}),
    "args-kwargs": (_args, {"args": (1,), "b": 2}),
    "raw": (lambda v: v[0], {"raw": True}),
    "raises": (_raises, {}),
    "builtin": (len, {}),
    "numpy-sum": (np.sum, {}),
    "ufunc": (np.sqrt, {}),
    "string": ("sum", {}),
    "list-of-funcs": ([np.sum, np.max], {}),
}


def _outcome(call):
    try:
        return call(), None
    except Exception as exc:
        return None, (type(exc), str(exc))


@pytest.mark.parametrize("frame", FRAMES)
@pytest.mark.parametrize("func", FUNCS)
def test_apply_rows_equals_pandas(frame, func):
    df = FRAMES[frame]
    f, kwargs = FUNCS[func]
    expected, expected_error = _outcome(lambda: df.apply(f, axis=1, **kwargs))
    got, error = _outcome(lambda: apply_rows(df, f, dict(kwargs)))
    assert error == expected_error
    if expected_error is None:
        same(got, expected)


@pytest.mark.parametrize("frame", FRAMES)
def test_rows_seen_and_kept_by_the_function_are_pandas_rows(frame):
    df = FRAMES[frame]

    def record(seen):
        def f(row):
            seen.append((row, row.name, row.index, row.dtype, row.to_numpy(copy=True), type(row)))
            return 0

        return f

    theirs: list = []
    ours: list = []
    df.apply(record(theirs), axis=1)
    apply_rows(df, record(ours), {})
    assert len(ours) == len(theirs)
    for (row, name, index, dtype, values, kind), (row2, name2, index2, dtype2, values2, kind2) in zip(ours, theirs):
        assert (name, dtype, kind) == (name2, dtype2, kind2)
        pd.testing.assert_index_equal(index, index2, exact=True)
        np.testing.assert_array_equal(values, values2)
        pd.testing.assert_series_equal(row, row2)  # the kept row, as it is after the loop
    assert len({id(r[0]) for r in ours}) == len({id(r[0]) for r in theirs})  # one Series for every row, as pandas


@pytest.mark.parametrize("frame", ["floats", "int-and-float", "objects"])
def test_kept_rows_and_the_frame_stay_as_pandas_leaves_them(frame):
    df = FRAMES[frame]
    copy = df.copy()

    def keep(kept):
        def f(row):
            kept.append((row, row.copy(deep=False), row[row.index[:1]], row.iloc[::-1]))
            return 0

        return f

    theirs: list = []
    ours: list = []
    df.apply(keep(theirs), axis=1)
    apply_rows(df, keep(ours), {})
    for a, b in zip(ours, theirs, strict=True):
        for x, y in zip(a, b, strict=True):
            pd.testing.assert_series_equal(x, y)
    same(df, copy)  # the frame is untouched


def test_the_lean_loop_runs_for_numpy_rows_and_pandas_loop_for_the_others(monkeypatch):
    from pandas.core.apply import FrameColumnApply

    # pandas 3 only: pandas 2's loop also sets mode.chained_assignment around the rows, and runs as it is
    assert rows.LEAN is (int(pd.__version__.split(".")[0]) >= 3)

    def refuse(self):
        raise AssertionError("pandas' own row generator")

    monkeypatch.setattr(FrameColumnApply, "series_generator", property(refuse))
    lean = ("floats", "ints-named", "int-and-float", "mixed-str", "objects", "multiindex-rows")
    for name in lean if rows.LEAN else ():
        apply_rows(FRAMES[name], _first, {})
    for name in ("nullable-Int64", "datetimes", *(() if rows.LEAN else lean)):
        with pytest.raises(AssertionError, match="pandas' own"):
            apply_rows(FRAMES[name], _first, {})


def test_other_engines_and_subclasses_take_pandas_apply(monkeypatch):
    class Sub(pd.DataFrame):
        @property
        def _constructor(self):
            return Sub

    sub = Sub(FRAMES["floats"])
    same(apply_rows(sub, _first, {}), sub.apply(_first, axis=1))
    same(apply_rows(FRAMES["floats"], _first, {"by_row": False}), FRAMES["floats"].apply(_first, axis=1, by_row=False))
    monkeypatch.setattr(rows, "LEAN", False)
    same(apply_rows(FRAMES["floats"], _inspect, {}), FRAMES["floats"].apply(_inspect, axis=1))


@pytest.mark.parametrize("func", ["inspect", "itself", "set-first", "renamed", "args-kwargs", "none-or-value"])
def test_parallel_apply_through_shared_memory_equals_pandas(monkeypatch, func):
    from nbparallel.frontends.frames import common

    monkeypatch.setattr(common, "SHARE_FRAMES_ABOVE", 0)  # the path of large numeric frames
    f, kwargs = FUNCS[func]
    df = pd.DataFrame(np.arange(200.0).reshape(100, 2), columns=["a", "b"], index=[f"r{i}" for i in range(100)])
    expected, expected_error = _outcome(lambda: df.apply(f, axis=1, **kwargs))
    got, error = _outcome(lambda: df.parallel.apply(f, axis=1, n_jobs=2, progress=False, **kwargs))
    assert error == expected_error
    if expected_error is None:
        same(got, expected)


def test_the_drop_in_runs_the_bench_function_as_pandas(monkeypatch):
    from nbparallel import pandarallel
    from nbparallel.frontends.frames import common

    monkeypatch.setattr(common, "SHARE_FRAMES_ABOVE", 0)
    pandarallel.initialize(nb_workers=2, verbose=0)
    df = pd.DataFrame({"a": np.arange(1000.0), "b": np.random.default_rng(0).normal(size=1000)})
    same(df.parallel_apply(lambda row: row["a"], axis=1), df.apply(lambda row: row["a"], axis=1))
    assert nbp.__name__ == "nbparallel"

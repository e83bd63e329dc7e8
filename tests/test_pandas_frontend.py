"""The pandas front end: every method against pandas' own result on the same input (``.equals``)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
import zlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nbparallel as nbp
from nbparallel import pandarallel
from tests.helpers import child_env, same


@pytest.fixture(scope="module", autouse=True)
def drop_in():
    pandarallel.initialize(nb_workers=2, verbose=0)


def _frames():
    rng = np.random.default_rng(0)
    n = 60
    mixed = pd.DataFrame(
        {"a": rng.integers(0, 10, n), "b": rng.normal(size=n), "c": [f"s{i % 7}" for i in range(n)]},
        index=pd.Index([f"r{i}" for i in range(n)], name="row"),
    )
    numeric = pd.DataFrame(rng.normal(size=(n, 3)), columns=["x", "y", "z"])
    dup = mixed.set_axis(np.arange(n) % 5, axis=0)
    multi = mixed.set_axis(pd.MultiIndex.from_arrays([np.arange(n) % 3, np.arange(n)]), axis=0)
    return {
        "mixed": mixed,
        "numeric": numeric,
        "dup-index": dup,
        "multiindex": multi,
        "empty": mixed.iloc[:0],
        "one": mixed.iloc[:1],
    }


FRAMES = _frames()


def _h(label):
    """A hash of a row label that is the same in every process (``hash`` of a str is not)."""
    return zlib.crc32(str(label).encode())


ROW_FUNCS = {
    "int": (lambda r: int(r.iloc[0]) * 2, {}),
    "float": (lambda r: float(r.iloc[0]) / 3, {}),
    "none-in-some-chunks": (lambda r: None if _h(r.name) % 4 == 0 else 1, {}),
    "int-then-str": (lambda r: 1 if str(r.name) < "r3" else "x", {}),
    "str": (lambda r: str(r.iloc[0]), {}),
    "series": (lambda r: pd.Series({"first": r.iloc[0], "len": len(r)}), {}),
    "series-other-keys": (lambda r: pd.Series({f"k{_h(r.name) % 3}": 1.5}), {}),
    "list-expand": (lambda r: [r.iloc[0], 2], {"result_type": "expand"}),
    "list-reduce": (lambda r: [r.iloc[0], 2], {"result_type": "reduce"}),
    "broadcast": (lambda r: r.iloc[0], {"result_type": "broadcast"}),
    "args-kwargs": (lambda r, a, b=0: len(r) + a + b, {"args": (1,), "b": 2}),
    "raw": (lambda v: v[0], {"raw": True}),
}


@pytest.mark.parametrize("frame", FRAMES)
@pytest.mark.parametrize("func", ROW_FUNCS)
def test_parallel_apply_rows_equals_pandas(frame, func):
    df, (f, kwargs) = FRAMES[frame], ROW_FUNCS[func]
    try:
        expected = df.apply(f, axis=1, **kwargs)
    except Exception as exc:  # pandas refuses it: so must we, with the same type
        with pytest.raises(type(exc)):
            df.parallel_apply(f, axis=1, **kwargs)
        return
    same(df.parallel_apply(f, axis=1, **kwargs), expected)


COLUMN_FUNCS = {
    "scalar": lambda c: c.iloc[0] if len(c) else None,
    "series": lambda c: c.iloc[:3],
    "len": len,
}


@pytest.mark.parametrize("frame", ["mixed", "numeric", "empty"])
@pytest.mark.parametrize("func", COLUMN_FUNCS)
def test_parallel_apply_columns_equals_pandas(frame, func):
    df, f = FRAMES[frame], COLUMN_FUNCS[func]
    same(df.parallel_apply(f), df.apply(f))
    same(df.parallel.apply(f, axis="index", n_jobs=2, progress=False), df.apply(f, axis="index"))


ELEMENT_FUNCS = {
    "double": lambda x: x * 2,
    "none-sometimes": lambda x: None if str(x).endswith("3") else x,
    "str": str,
    "type-name": lambda x: type(x).__name__,
}


@pytest.mark.parametrize("frame", ["mixed", "numeric", "empty"])
@pytest.mark.parametrize("func", ELEMENT_FUNCS)
def test_parallel_applymap_and_map_equal_pandas(frame, func):
    df, f = FRAMES[frame], ELEMENT_FUNCS[func]
    expected = df.map(f)
    same(df.parallel_applymap(f), expected)
    same(df.parallel_map(f), expected)
    same(df.parallel.map(f, n_jobs=2, progress=False), expected)


SERIES = {
    "int": pd.Series(np.arange(50), name="n"),
    "float-nan": pd.Series([1.5, np.nan] * 25, index=pd.date_range("2024", periods=50, freq="h")),
    "str": pd.Series([f"w{i}" for i in range(50)], name="s"),
    "empty": pd.Series([], dtype="float64"),
}


@pytest.mark.parametrize("series", SERIES)
@pytest.mark.parametrize("func", ELEMENT_FUNCS)
def test_series_parallel_apply_and_map_equal_pandas(series, func):
    s, f = SERIES[series], ELEMENT_FUNCS[func]
    same(s.parallel_map(f), s.map(f))
    same(s.parallel_apply(f), s.apply(f))
    same(s.parallel.map(f, n_jobs=2, progress=False), s.map(f))
    same(s.parallel.apply(f, n_jobs=2, progress=False), s.apply(f))
    same(s.parallel_map(f, na_action="ignore"), s.map(f, na_action="ignore"))


def test_series_map_with_a_dict_a_series_and_a_series_result():
    s = pd.Series([1, 2, 3, 4] * 10)
    same(s.parallel_map({1: "one", 2: "two"}), s.map({1: "one", 2: "two"}))
    lookup = pd.Series([10.0, 20.0], index=[1, 3])
    same(s.parallel_map(lookup), s.map(lookup))
    f = lambda x: pd.Series({"x": x, "sq": x * x})  # noqa: E731
    same(s.parallel_apply(f), s.apply(f))
    same(
        s.parallel_apply(lambda x, a, b=0: x + a + b, args=(1,), b=2),
        s.apply(lambda x, a, b=0: x + a + b, args=(1,), b=2),
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(st.integers(-5, 5), max_size=40),
    kinds=st.lists(st.sampled_from(["int", "float", "none", "str", "bool"]), min_size=1, max_size=4),
)
def test_series_map_dtypes_equal_pandas_whatever_each_chunk_infers(values, kinds):
    s = pd.Series(values, dtype="int64")
    casts = {"int": int, "float": float, "none": lambda x: None, "str": str, "bool": bool}

    def f(x):
        return casts[kinds[x % len(kinds)]](x)

    same(s.parallel.map(f, n_jobs=2, progress=False), s.map(f))
    df = pd.DataFrame({"v": s})
    same(df.parallel.apply(lambda r: f(r.v), axis=1, n_jobs=2, progress=False), df.apply(lambda r: f(r.v), axis=1))


# --- rolling ------------------------------------------------------------------------------

ROLLINGS = {
    "window-3": {"window": 3},
    "window-7-center": {"window": 7, "center": True},
    "min-periods": {"window": 5, "min_periods": 2},
    "step": {"window": 4, "step": 3},
    "window-1": {"window": 1},
    "time-3s": {"window": "3s"},
    "time-5s-closed-both": {"window": "5s", "closed": "both"},
}


@pytest.mark.parametrize("rolling", ROLLINGS)
@pytest.mark.parametrize("raw", [False, True])
def test_rolling_parallel_apply_is_right_across_chunk_borders(rolling, raw):
    rng = np.random.default_rng(1)
    index = pd.DatetimeIndex(np.cumsum(rng.integers(1, 3, 300)) * 10**9)
    s = pd.Series(rng.normal(size=300), index=index, name="v")
    f = lambda w: w[0] - w[-1] if len(w) else 0.0  # noqa: E731 - sensitive to every window's ends
    g = (lambda w: w.iloc[0] - w.iloc[-1]) if not raw else f
    same(s.rolling(**ROLLINGS[rolling]).parallel_apply(g, raw=raw), s.rolling(**ROLLINGS[rolling]).apply(g, raw=raw))
    df = pd.DataFrame({"a": s, "b": s * 2})
    same(df.rolling(**ROLLINGS[rolling]).parallel_apply(g, raw=raw), df.rolling(**ROLLINGS[rolling]).apply(g, raw=raw))


def test_rolling_on_a_short_or_empty_series():
    for s in (pd.Series([1.0, 2.0]), pd.Series([], dtype=float)):
        same(
            s.rolling(3, min_periods=1).parallel_apply(np.sum, raw=True),
            s.rolling(3, min_periods=1).apply(np.sum, raw=True),
        )


# --- groupby ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gdf():
    rng = np.random.default_rng(2)
    n = 400
    k = rng.choice(["a", "b", "c", "d", None], n)
    return pd.DataFrame(
        {"k": k, "j": rng.integers(0, 3, n), "x": rng.normal(size=n), "y": rng.integers(0, 100, n)},
        index=pd.Index(rng.permutation(n) + 1000, name="id"),
    )


GROUP_FUNCS = {
    "scalar": lambda g: g.x.sum(),
    "int-or-none": lambda g: None if g.name in ("b", ("b", 1)) else len(g),
    "series-same-keys": lambda g: pd.Series({"lo": g.x.min(), "n": len(g)}),
    "frame-filter": lambda g: g.nlargest(2, "x"),
    "frame-transform": lambda g: g[["x", "y"]] * 2,
    "name": lambda g: str(g.name),
}

GROUPINGS = {
    "one-key": ("k", {}),
    "list-one-key": (["k"], {}),
    "two-keys": (["k", "j"], {}),
    "unsorted": ("k", {"sort": False}),
    "dropna-false": (["k", "j"], {"dropna": False}),
    "group-keys-false": ("k", {"group_keys": False}),
    "as-index-false": ("k", {"as_index": False}),
}


@pytest.mark.parametrize("grouping", GROUPINGS)
@pytest.mark.parametrize("func", GROUP_FUNCS)
def test_groupby_parallel_apply_equals_pandas(gdf, grouping, func):
    by, kwargs = GROUPINGS[grouping]
    f = GROUP_FUNCS[func]
    expected = gdf.groupby(by, **kwargs).apply(f)
    same(gdf.groupby(by, **kwargs).parallel_apply(f), expected)
    same(gdf.groupby(by, **kwargs).pipe(nbp.groupby_apply, f, n_jobs=2, progress=False), expected)


def test_groupby_by_array_level_and_selection(gdf):
    keys = (gdf.x > 0).to_numpy()
    same(gdf.groupby(keys).parallel_apply(lambda g: g.y.max()), gdf.groupby(keys).apply(lambda g: g.y.max()))
    lvl = gdf.set_index("j", append=True)
    same(lvl.groupby(level="j").parallel_apply(len), lvl.groupby(level="j").apply(len))
    f = lambda s: s.max() - s.min()  # noqa: E731
    same(gdf.groupby("k")["x"].parallel_apply(f), gdf.groupby("k")["x"].apply(f))
    same(gdf.groupby("k")[["x"]].parallel_apply(lambda g: g.sum()), gdf.groupby("k")[["x"]].apply(lambda g: g.sum()))
    same(
        gdf.groupby("k").parallel_apply(lambda g, a, b=0: len(g) + a + b, 1, b=2),
        gdf.groupby("k").apply(lambda g, a, b=0: len(g) + a + b, 1, b=2),
    )


def test_groupby_on_an_empty_frame(gdf):
    empty = gdf.iloc[:0]
    same(empty.groupby("k").parallel_apply(lambda g: g.x.sum()), empty.groupby("k").apply(lambda g: g.x.sum()))


WINDOWS = {
    "rolling-3": lambda g: g.rolling(3),
    "rolling-2-min1": lambda g: g.rolling(2, min_periods=1),
    "expanding": lambda g: g.expanding(),
    "expanding-min3": lambda g: g.expanding(min_periods=3),
}


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("by", ["k", ["k", "j"]])
def test_groupby_rolling_and_expanding_parallel_apply_equal_pandas(gdf, window, by):
    make = WINDOWS[window]
    f = lambda w: w.max() - w.min()  # noqa: E731
    frame = gdf[["k", "j", "x", "y"]]
    same(make(frame.groupby(by)).parallel_apply(f, raw=True), make(frame.groupby(by)).apply(f, raw=True))
    same(
        make(frame.groupby(by, sort=False)).parallel_apply(f, raw=True),
        make(frame.groupby(by, sort=False)).apply(f, raw=True),
    )


# --- errors, jobs, options --------------------------------------------------------------------


def test_an_exception_keeps_its_type_and_names_the_row():
    df = pd.DataFrame({"a": range(20)}, index=[f"r{i}" for i in range(20)])
    with pytest.raises(ZeroDivisionError) as info:
        df.parallel_apply(lambda r: 1 / (int(r.a) - 13), axis=1)
    assert "raised in row 'r13'" in "\n".join(info.value.__notes__)
    with pytest.raises(ZeroDivisionError) as info:
        df.a.parallel_map(lambda x: 1 / (int(x) - 7))
    assert "raised in row 'r7' (value 7)" in "\n".join(info.value.__notes__)


def printing_until_zero(row):
    print("row", row.name)
    return 10 // int(row.a)


def test_a_failing_chunk_prints_its_rows_once(capsys):
    """The failing row is named by running its chunk again; that second run prints nothing."""
    df = pd.DataFrame({"a": [*range(1, 40), 0]})
    with pytest.raises(ZeroDivisionError) as info:
        df.parallel.apply(printing_until_zero, axis=1, n_jobs=1, progress=False)
    assert "raised in row 39" in "\n".join(info.value.__notes__)
    out = capsys.readouterr().out
    assert out.count("row 38\n") == 1
    assert out.count("row 39\n") == 1


def test_an_exception_names_the_group(gdf):
    def f(g):
        if g.name == "c":
            raise KeyError("no c here")
        return 1

    with pytest.raises(KeyError) as info:
        gdf.groupby("k").parallel_apply(f)
    assert "raised in group 'c'" in "\n".join(info.value.__notes__)


def test_accessor_takes_run_options_and_runs_in_the_background():
    df = FRAMES["mixed"]
    job = df.parallel.apply(lambda r: r.a + 1, axis=1, n_jobs=2, progress=False, background=True, retries=1, timeout=60)
    assert isinstance(job, nbp.Job)
    same(job.result(), df.apply(lambda r: r.a + 1, axis=1))
    with pytest.raises(ValueError, match="errors must be one of"):
        df.parallel.apply(len, errors="ignore")
    with pytest.raises(ValueError, match="by_row=False"):
        df.a.parallel.apply(len, by_row=False)


def test_initialize_prints_like_pandarallel_and_accepts_use_memory_fs(capsys):
    pandarallel.initialize(nb_workers=2, progress_bar=False, verbose=2, use_memory_fs=True)
    out = capsys.readouterr().out
    assert "will run on 2 workers" in out and "use_memory_fs" in out
    pandarallel.initialize(nb_workers=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_importing_nbparallel_does_not_import_pandas_and_the_accessor_appears_with_it():
    script = (
        "import sys, nbparallel\n"
        "assert 'pandas' not in sys.modules\n"
        "import pandas as pd\n"
        "print(pd.DataFrame({'a': [1, 2]}).parallel.map(lambda x: x + 1, n_jobs=1, progress=False).a.tolist())\n"
        "nbparallel.shutdown()\n"
    )
    assert _printed(script) == "[2, 3]"


def _printed(script: str) -> str:
    """What a fresh Python running ``script`` prints (it must succeed)."""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=child_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_accessor_appears_when_a_library_looked_for_pandas_before_it_was_imported():
    script = (
        "import importlib.util, sys, nbparallel\n"
        "importlib.util.find_spec('pandas')  # as 'import polars' does: is pandas installed? (not imported)\n"
        "assert 'pandas' not in sys.modules\n"
        "import pandas as pd\n"
        "print(pd.DataFrame({'a': [1, 2]}).parallel.map(lambda x: x + 1, n_jobs=1, progress=False).a.tolist())\n"
        "nbparallel.shutdown()\n"
    )
    assert _printed(script) == "[2, 3]"


def test_the_drop_in_warms_the_pandas_front_end_in_every_worker_and_nothing_else_does():
    # Workers import pandas once the user reaches for the pandas drop-in, not before (an idle
    # worker holds only what the user uses), so a later first call does not pay for it.
    script = (
        "import os, sys, time, nbparallel as nbp\n"
        "from nbparallel import pandarallel\n"
        "def loaded(_):\n"
        "    time.sleep(0.02)\n"
        "    return os.getpid(), 'nbparallel.frontends.frames.engine' in sys.modules\n"
        "def workers():\n"
        "    seen = dict(nbp.pmap(loaded, range(40), chunks=40, n_jobs=2, progress=False))\n"
        "    return len(seen), sorted(set(seen.values()))\n"
        "nbp.warm(2, wait=True)\n"
        "import pandas\n"
        "print(workers())\n"
        "pandarallel.initialize(nb_workers=2, verbose=0)\n"
        "nbp.warm(2, wait=True)\n"
        "print(workers())\n"
        "nbp.shutdown()\n"
    )
    assert _printed(script).splitlines() == ["(2, [False])", "(2, [True])"]


def test_pandas_imported_after_nbparallel_still_lists_its_own_files():
    script = (
        "import importlib.resources, nbparallel\n"
        "import pandas\n"
        "print(sorted(p.name for p in importlib.resources.files('pandas').iterdir() if p.name == '__init__.py'))\n"
    )
    assert _printed(script) == "['__init__.py']"


def test_a_large_numeric_frame_goes_through_shared_memory_and_leaves_nothing_behind():
    df = pd.DataFrame(np.random.default_rng(3).random((8192, 260)))  # > 16 MiB of float64
    before = {f for f in os.listdir("/dev/shm") if f.startswith(f"nbparallel-shm-{os.getpid()}-")}
    same(df.parallel_apply(np.sum, axis=1, raw=True), df.apply(np.sum, axis=1, raw=True))
    same(df.iloc[:300].parallel_applymap(lambda x: x > 0.5), df.iloc[:300].map(lambda x: x > 0.5))
    s = pd.Series(np.arange(300_000, dtype="int64"), index=np.arange(300_000) * 2, name="n")  # 2.4 MB
    same(s.parallel_map(lambda x: x % 7), s.map(lambda x: x % 7))
    same(s.parallel_apply(lambda x: None if x % 3 else x), s.apply(lambda x: None if x % 3 else x))
    after = {f for f in os.listdir("/dev/shm") if f.startswith(f"nbparallel-shm-{os.getpid()}-")}
    assert after <= before


def test_progress_bar_shows_a_text_bar_outside_a_notebook(capfd):
    pandarallel.initialize(nb_workers=2, progress_bar=True, verbose=0)
    try:
        df = pd.DataFrame({"a": range(40)})
        same(df.parallel_apply(lambda r: r.a + 1, axis=1), df.apply(lambda r: r.a + 1, axis=1))
    finally:
        pandarallel.initialize(nb_workers=2, verbose=0)
    assert "40/40" in capfd.readouterr().err


def test_errors_collect_then_retry_failed_with_a_fixed_function():
    df = pd.DataFrame({"a": range(40)})

    def fragile(row):
        if row.a == 17:
            raise ValueError("bad")
        return row.a * 2

    job = df.parallel.apply(fragile, axis=1, n_jobs=2, progress=False, background=True, errors="collect")
    with pytest.raises(ValueError):
        job.result()
    fixed = job.retry_failed(lambda row: row.a * 2)
    same(fixed.result() if isinstance(fixed, nbp.Job) else fixed, df.apply(lambda r: r.a * 2, axis=1))


@pytest.mark.parametrize("func", ["int", "none-in-some-chunks", "series", "broadcast", "raw"])
def test_the_shared_memory_path_gives_pandas_results_too(monkeypatch, func):
    from nbparallel.frontends.frames import common

    monkeypatch.setattr(common, "SHARE_FRAMES_ABOVE", 1)  # every numeric frame and Series goes through it
    df, (f, kwargs) = FRAMES["numeric"], ROW_FUNCS[func]
    same(df.parallel_apply(f, axis=1, **kwargs), df.apply(f, axis=1, **kwargs))
    same(df.parallel_map(lambda x: round(x, 1)), df.map(lambda x: round(x, 1)))
    s = SERIES["float-nan"]
    same(s.parallel_map(lambda x: x > 1), s.map(lambda x: x > 1))


def test_groupby_categorical_and_datetime_keys(gdf):
    df = gdf.assign(
        cat=pd.Categorical(gdf.k, categories=["d", "c", "b", "a", "zz"]),
        day=pd.Timestamp("2024-01-01") + pd.to_timedelta(gdf.j, unit="D"),
    )
    for by in ("cat", ["day", "cat"], "day"):
        f = lambda g: g.x.mean()  # noqa: E731
        # observed=True: pandas 3's default (pandas 2's is observed=False, below)
        same(df.groupby(by, observed=True).parallel_apply(f), df.groupby(by, observed=True).apply(f))
        w = df[[*([by] if isinstance(by, str) else by), "x"]].groupby(by, observed=True)
        same(w.rolling(2).parallel_apply(np.sum, raw=True), w.rolling(2).apply(np.sum, raw=True))
    for by in ("cat", ["cat", "day"]):  # every category, "zz" without rows too: func runs on an empty frame
        for f in (len, lambda g: g.x.mean(), lambda g: g.head(1)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # pandas 2.2: include_groups
                same(df.groupby(by, observed=False).parallel_apply(f), df.groupby(by, observed=False).apply(f))


@pytest.mark.parametrize(
    "kwargs", [{"window": "4s", "on": "t"}, {"window": 5, "on": "t"}, {"window": "3s", "on": "t", "center": True}]
)
def test_rolling_on_a_time_column(kwargs):
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"t": pd.to_datetime(np.cumsum(rng.integers(1, 3, 300)), unit="s"), "v": rng.normal(size=300)})
    f = lambda w: w[0] - w[-1]  # noqa: E731
    same(df.rolling(**kwargs).parallel_apply(f, raw=True), df.rolling(**kwargs).apply(f, raw=True))


def test_groupby_on_rows_already_in_group_order(gdf):
    ordered = gdf.sort_values("j", kind="stable")
    f = lambda g: g.x.sum()  # noqa: E731
    same(ordered.groupby("j").parallel_apply(f), ordered.groupby("j").apply(f))
    same(
        ordered[["j", "x"]].groupby("j").expanding().parallel_apply(np.sum, raw=True),
        ordered[["j", "x"]].groupby("j").expanding().apply(np.sum, raw=True),
    )

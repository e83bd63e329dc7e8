"""What the differential tests share: the functions they run, the data they generate, and strict equality.

The functions live here, at module level, so worker processes import them by
name.  Data is built from a kind name, a length and a seed, so hypothesis shrinks
a failing example to the smallest length and the simplest kind.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import scipy.sparse as sp
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

PROFILES = ("quick", "thorough")
_COMMON: dict[str, Any] = {
    "deadline": None,  # a call's time depends on the machine's load, not on the example
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    "print_blob": True,
}


def register_profiles() -> None:
    """``quick`` (``make test``): few derandomized examples; ``thorough`` (``make fuzz``): many random ones."""
    settings.register_profile("quick", max_examples=8, derandomize=True, database=None, **_COMMON)
    settings.register_profile("thorough", max_examples=300, **_COMMON)


register_profiles()  # here too: a worker that imports a test module (for its functions) builds its decorators


def diff_settings(quick: int | None = None, **overrides: Any) -> settings:
    """The settings of the profile chosen with ``--hypothesis-profile`` (``quick`` when none of ours was).

    ``quick`` lowers the number of examples of the quick profile for a test whose calls are slow.
    """
    name = settings.get_current_profile_name()
    name = name if name in PROFILES else "quick"
    if name == "quick" and quick is not None:
        overrides.setdefault("max_examples", quick)
    return settings(settings.get_profile(name), **overrides)


# --- functions the workers run ----------------------------------------------------------------------


def tag(x: Any) -> str:
    """Any item, as text that shows its type and value (compares the items a worker saw with the loop's)."""
    return f"{type(x).__name__}:{x!r}"


def poly(x: int) -> int:
    return x * x - 3 * x + 1


def fails_on_sevens(x: int) -> int:
    """Raises ``ValueError`` naming the item on items ``x % 7 == 3``."""
    if x % 7 == 3:
        raise ValueError(f"bad item {x!r}")
    return x + 1


def draws(x: int) -> float:
    """Uses both global generators: a seeded call must give what the seeded loop gives."""
    return x + random.random() + float(np.random.random())


def costs(x: tuple[int, float]) -> int:
    """Sleeps ``x[1]`` seconds: calls of other costs teach the runtime other things about this function."""
    time.sleep(x[1])
    return x[0] * 2


def ident(chunk: Any) -> Any:
    """Row-wise: the chunk itself.  ``pmap_chunks(ident, data)`` must give back ``data``."""
    return chunk


def double(chunk: Any) -> Any:
    return chunk * 2


def fails_on_long_chunks(chunk: Any) -> Any:
    if len(chunk) > 3:
        raise ValueError(f"chunk of {len(chunk)} rows is too long")
    return chunk


# --- outcomes: a value or an error, compared strictly -----------------------------------------------


@dataclass(frozen=True)
class Raised:
    """An error as the differential tests compare it: its type and its message (the chunk/item note aside)."""

    type: type
    message: str

    @classmethod
    def of(cls, exc: BaseException) -> Raised:
        return cls(type(exc), str(exc))


def outcome(call: Callable[[], Any]) -> Any:
    """``call()``'s value, or the :class:`Raised` it raised."""
    try:
        return call()
    except Exception as exc:
        return Raised.of(exc)


def same(got: Any, want: Any) -> None:
    """Assert ``got`` is ``want``: the same kind, dtype, index, mask and values (errors: type and message)."""
    assert type(got) is type(want), f"{type(got).__name__} instead of {type(want).__name__}: {got!r} vs {want!r}"
    if isinstance(want, Raised):
        assert got == want, f"{got} instead of {want}"
    elif isinstance(want, pd.DataFrame):
        assert got.equals(want), f"\n{got}\ninstead of\n{want}"
        # index classes compared as pandas' own tests do (RangeIndex ~ Index of ints)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    elif isinstance(want, pd.Series):
        assert got.equals(want), f"\n{got}\ninstead of\n{want}"
        pd.testing.assert_series_equal(got, want, check_exact=True)
    elif isinstance(want, np.ma.MaskedArray):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(np.ma.getmaskarray(got), np.ma.getmaskarray(want))
        np.testing.assert_array_equal(got.compressed(), want.compressed())
    elif isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and got.shape == want.shape, (
            f"{got.dtype}{got.shape} vs {want.dtype}{want.shape}"
        )
        np.testing.assert_array_equal(got, want)
    elif isinstance(want, (pl.DataFrame, pl.Series)):
        assert got.equals(want), f"\n{got}\ninstead of\n{want}"
        assert got.dtypes == want.dtypes if isinstance(want, pl.DataFrame) else got.dtype == want.dtype
    elif isinstance(want, (pa.Table, pa.RecordBatch, pa.Array, pa.ChunkedArray)):
        assert got.type == want.type if hasattr(want, "type") else got.schema == want.schema
        assert got.equals(want), f"{got} instead of {want}"
    elif sp.issparse(want):
        assert got.format == want.format and got.shape == want.shape and got.dtype == want.dtype
        assert (got != want).nnz == 0
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), f"{len(got)} items instead of {len(want)}: {got!r} vs {want!r}"
        for g, w in zip(got, want, strict=True):
            same(g, w)
    elif isinstance(want, float) and np.isnan(want):
        assert np.isnan(got)
    else:
        assert got == want, f"{got!r} instead of {want!r}"


# --- data ---------------------------------------------------------------------------------------------

_NDARRAY_DTYPES = ("int8", "int64", "uint16", "float32", "float64", "complex128", "bool", "M8[ns]", "m8[ms]", "U5", "O")


def _ndarray(dtype: str, n: int, rng: np.random.Generator) -> np.ndarray:
    ints = rng.integers(-50, 50, n)
    if dtype in ("U5", "O"):
        return np.array([f"s{i}" for i in ints], dtype=dtype)
    if dtype == "bool":
        return ints > 0
    if dtype == "uint16":
        return np.abs(ints).astype(dtype)
    if dtype.startswith(("M8", "m8")):
        return ints.astype(dtype)
    values = rng.normal(size=n).astype(dtype)
    if dtype == "complex128":
        values = values + 1j * rng.normal(size=n)
    if dtype.startswith("float") and n:
        values[rng.random(n) < 0.2] = np.nan
    return values if dtype.startswith(("float", "complex")) else ints.astype(dtype)


def _index(kind: str, n: int, rng: np.random.Generator) -> pd.Index:
    if kind == "range":
        return pd.RangeIndex(n)
    if kind == "dup":  # as after pd.concat of frames that each had a RangeIndex
        return pd.Index(rng.integers(0, 3, n))
    if kind == "multi":
        return pd.MultiIndex.from_arrays([rng.choice(["x", "y"], n), rng.integers(0, 4, n)], names=["l", "m"])
    if kind == "categorical":
        return pd.CategoricalIndex(rng.choice(["p", "q", "r"], n))
    return pd.Index([f"r{i}" for i in range(n)], name="name")


INDEXES = ("range", "dup", "multi", "categorical", "str")
SERIES_DTYPES = ("int64", "float64", "Int64", "string", "category", "boolean", "datetime64[ns, UTC]", "str")


def _series(dtype: str, n: int, rng: np.random.Generator, index: pd.Index) -> pd.Series:
    ints = rng.integers(-5, 5, n)
    if dtype == "Int64":
        values: Any = pd.array([None if i == 0 else int(i) for i in ints], dtype="Int64")
    elif dtype == "boolean":
        values = pd.array([None if i == 0 else bool(i > 0) for i in ints], dtype="boolean")
    elif dtype in ("string", "str", "category"):
        values = pd.array([f"c{abs(i) % 3}" for i in ints], dtype="string" if dtype == "string" else None)
        if dtype == "category":
            values = pd.Categorical(values)
    elif dtype.startswith("datetime"):
        values = pd.to_datetime(ints, unit="D", utc=True)
    else:
        values = _ndarray(dtype, n, rng)
    return pd.Series(values, index=index, name="v")


def _frame(n: int, rng: np.random.Generator, index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": rng.integers(-5, 5, n),
            "f": _ndarray("float64", n, rng),
            "s": [f"t{i}" for i in rng.integers(0, 3, n)],
            "c": pd.Categorical(rng.choice(["lo", "hi"], n), categories=["lo", "hi"]),
            "e": pd.array(rng.integers(0, 3, n), dtype="Int64"),
        },
        index=index,
    )


def build(kind: str, n: int, seed: int) -> Any:
    """Data of ``kind`` (a name from :data:`CHUNK_KINDS` or :data:`ITEM_KINDS`) with ``n`` rows."""
    rng = np.random.default_rng(seed)
    head, _, rest = kind.partition(":")
    if head in ("list", "tuple", "iterator"):
        values = rng.integers(-20, 20, n).tolist()
        return {"list": list, "tuple": tuple, "iterator": iter}[head](values)
    if head == "range":
        return range(n)
    if head == "ndarray":
        return _ndarray(rest, n, rng)
    if head == "ndarray2d":
        return rng.normal(size=(n, 3))
    if head == "structured":
        out = np.zeros(n, dtype=[("a", "i4"), ("b", "f8")])
        out["a"], out["b"] = rng.integers(0, 9, n), rng.normal(size=n)
        return out
    if head == "masked":
        return np.ma.masked_array(_ndarray(rest or "float64", n, rng), mask=rng.random(n) < 0.3)
    if head == "series":
        dtype, _, index = rest.partition("@")
        return _series(dtype, n, rng, _index(index or "range", n, rng))
    if head == "frame":
        return _frame(n, rng, _index(rest or "range", n, rng))
    if head == "polars":
        frame = pl.DataFrame({"i": rng.integers(-5, 5, n), "s": [f"t{i}" for i in rng.integers(0, 3, n)]})
        return frame if rest == "frame" else frame["i"]
    if head == "arrow":
        table = pa.table({"i": rng.integers(-5, 5, n), "s": [f"t{i}" for i in rng.integers(0, 3, n)]})
        return {
            "table": table,
            "batch": table.to_batches()[0] if n else pa.RecordBatch.from_pylist([], schema=table.schema),
            "array": table.column("i").combine_chunks(),
            "chunked": table.column("i"),
        }[rest]
    if head == "sparse":
        return sp.random_array((n, 4), density=0.4, format=rest, rng=rng)
    raise ValueError(kind)


#: Kinds ``pmap_chunks`` splits and merges back (``range`` splits but does not merge: a clear TypeError).
CHUNK_KINDS = (
    "list",
    "tuple",
    *(f"ndarray:{d}" for d in _NDARRAY_DTYPES),
    "ndarray2d",
    "structured",
    "masked",
    "masked:int64",
    *(f"series:{d}@{i}" for d in SERIES_DTYPES for i in ("range", "dup")),
    *(f"series:float64@{i}" for i in INDEXES),
    *(f"frame:{i}" for i in INDEXES),
    "polars:frame",
    "polars:series",
    "arrow:table",
    "arrow:batch",
    "arrow:array",
    "arrow:chunked",
    "sparse:csr",
    "sparse:csc",
    "sparse:coo",
)

#: Kinds ``pmap`` iterates item by item (frames and tables are refused: iterating them yields columns).
ITEM_KINDS = (
    "list",
    "tuple",
    "iterator",
    "range",
    *(f"ndarray:{d}" for d in _NDARRAY_DTYPES),
    "ndarray2d",
    "structured",
    "masked",
    *(f"series:{d}@{i}" for d in ("int64", "Int64", "category", "string") for i in ("range", "dup")),
    "polars:series",
    "arrow:array",
    "arrow:chunked",
    "sparse:csr",
)

#: 0, 1, fewer rows than the 2 workers' chunks, and many.
lengths = st.sampled_from([0, 1, 2, 3, 5, 17, 40])
seeds = st.integers(0, 2**32 - 1)

#: How a call is split: the default, a number of chunks, or a chunk size.
chunking = st.one_of(
    st.just({}),
    st.builds(lambda k: {"chunks": k}, st.integers(1, 8)),
    st.builds(lambda s: {"chunk_size": s}, st.integers(1, 6)),
)


@st.composite
def run_options(draw: Any, backends: tuple[str, ...] = ("loky", "threading")) -> dict[str, Any]:
    """Options that must not change a result: workers, backend, chunking, a generous timeout."""
    options: dict[str, Any] = {"n_jobs": draw(st.sampled_from([1, 2])), "backend": draw(st.sampled_from(backends))}
    options.update(draw(chunking))
    if draw(st.booleans()):
        options["timeout"] = 60.0
    return {**options, "progress": False}


# --- per-group functions (pmap_groups, groupby.parallel_apply) -----------------------------------------


def group_sum(g: pd.DataFrame) -> float:
    return float(g["f"].sum())


def group_stats(g: pd.DataFrame) -> pd.Series:
    """A Series with the same labels for every group: pandas makes a frame of them."""
    return pd.Series({"total": g["i"].sum(), "rows": len(g)})


def group_scaled(g: pd.DataFrame) -> pd.Series:
    """A Series indexed like its group: pandas stacks them under the group keys."""
    return g["f"] * 2


def group_head(g: pd.DataFrame) -> pd.DataFrame:
    return g.head(2)


def group_draw(g: Any) -> float:
    return float(np.random.random()) + random.random() + len(g)


def polars_head(g: pl.DataFrame) -> pl.DataFrame:
    return g.head(1)


def polars_sum(g: pl.DataFrame) -> float:
    return float(g["i"].sum())


GROUP_FUNCS = (group_sum, group_stats, group_scaled, group_head, len)


# --- pandas functions (accessor and drop-in) -----------------------------------------------------------


def row_total(r: pd.Series) -> Any:
    return r["i"] * 2 + (0 if pd.isna(r["e"]) else r["e"])


def row_pick(r: pd.Series) -> pd.Series:
    return r[["i", "s"]]


def column_summary(c: pd.Series) -> Any:
    return c.astype(str).str.len().sum()


def element_text(x: Any) -> str:
    return f"<{x}>"


def element_twice(x: Any) -> Any:
    return x if isinstance(x, str) else x * 2


def window_sum(values: np.ndarray) -> float:
    return float(np.nansum(values))


def nested_children(x: int) -> int:
    """In a worker: a ``pmap`` inside, then how many processes this worker started (0: it ran there)."""
    import psutil

    import nbparallel as nbp

    nbp.pmap(poly, range(4), n_jobs=2, progress=False)
    return len(psutil.Process().children(recursive=True))


def slow_or_fast(x: float) -> float:
    time.sleep(x)
    return x


class Scaled:
    """A callable instance holding data (what the cost table must not keep alive)."""

    def __init__(self, payload: np.ndarray) -> None:
        self.payload = payload

    def __call__(self, x: int) -> int:
        return x + len(self.payload)


def count_args(*args: Any) -> int:
    return len(args)


def to_category(chunk: Any) -> Any:
    """Row-wise, but the categories come from the values: each chunk has only its own."""
    return chunk.astype("category")


def to_ordered_category(chunk: Any) -> Any:
    return chunk.astype(pd.CategoricalDtype(sorted(set(chunk)), ordered=True))

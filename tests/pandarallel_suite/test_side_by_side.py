"""The drop-in and pandarallel 1.6.5 itself on the same inputs: their results ``.equals`` each other.

pandarallel imports only on pandas 2; ``make test-oldest`` installs it there, and this module
skips elsewhere.  Each case runs once after pandarallel's ``initialize`` and once after the
drop-in's, which set the same ``parallel_*`` methods on pandas' classes (this folder's
conftest puts back the methods that were there before).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nbparallel import pandarallel as drop_in
from tests.helpers import same

real = pytest.importorskip("pandarallel", reason="pandarallel is not installed here (make test-oldest installs it)")


def _frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"a": rng.integers(1, 8, n), "b": rng.random(n), "c": rng.integers(1, 10, n)})
    df.index = [i / 10 for i in df.index]  # float labels, as pandarallel's own tests use
    return df


def _complex(group: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame([[group.b.mean(), group.b.min()]], columns=["b_mean", "b_min"])


#: name -> the call, with ``p`` the method's prefix: ``""`` for pandas' own, ``"parallel_"`` for the parallel one.
CASES = {
    "apply-axis-0": lambda d, p: getattr(d, p + "apply")(lambda x: max(x) - min(x)),
    "apply-axis-0-no-reduce": lambda d, p: getattr(d, p + "apply")(lambda x: x),
    "apply-axis-1": lambda d, p: getattr(d, p + "apply")(lambda r: math.sin(r.a**2) + r.b, axis=1),
    "apply-axis-1-no-reduce": lambda d, p: getattr(d[["a", "c"]], p + "apply")(lambda r: r**2, axis=1),
    "apply-axis-1-series": lambda d, p: getattr(d, p + "apply")(
        lambda r: pd.Series({"s": r.a + r.c, "p": r.b}), axis=1
    ),
    "applymap": lambda d, p: getattr(d, p + "applymap")(lambda x: math.sin(x**2) - math.cos(x**2)),
    "series-map": lambda d, p: getattr(d.b, p + "map")(lambda x: math.log10(math.sqrt(math.exp(x**2)))),
    "series-apply-args": lambda d, p: getattr(d.b, p + "apply")(
        lambda x, power, bias=0: x**power + bias, args=(2,), bias=3
    ),
    "series-rolling": lambda d, p: getattr(d.c.rolling(4), p + "apply")(
        lambda x: x.iloc[0] + x.iloc[3] ** 2, raw=False
    ),
    "groupby-apply": lambda d, p: getattr(d.groupby("a"), p + "apply")(lambda g: g.b.mean()),
    "groupby-apply-two-keys": lambda d, p: getattr(d.groupby(["a", "c"]), p + "apply")(lambda g: g.b.sum()),
    "groupby-apply-frame": lambda d, p: getattr(d.groupby("a"), p + "apply")(_complex),
    "groupby-rolling": lambda d, p: getattr(d.groupby("a").b.rolling(4), p + "apply")(
        lambda x: x.iloc[0] - x.iloc[3], raw=False
    ),
    "groupby-expanding": lambda d, p: getattr(d.groupby("a").b.expanding(), p + "apply")(lambda x: x.sum(), raw=False),
    "empty-apply": lambda d, p: getattr(d.iloc[:0], p + "apply")(lambda x: max(x) - min(x)),
}

#: (case, rows) -> where pandarallel 1.6.5 itself does not give pandas' result (measured 2026-12-07 on
#: pandas 2.2.0); the drop-in gives pandas' result there, and the test checks that pandarallel still does not.
PANDARALLEL_DIFFERS = {
    ("series-rolling", 300): "raises ZeroDivisionError in its progress bars (progress_bar=False too)",
    ("groupby-rolling", 1): "drops the name of the group key's index level",
    ("groupby-rolling", 300): "drops the name of the group key's index level",
    ("groupby-expanding", 1): "drops the name of the group key's index level",
    ("groupby-expanding", 300): "drops the name of the group key's index level",
    ("empty-apply", 1): "raises ZeroDivisionError in its progress bars on an empty frame",
    ("empty-apply", 300): "raises ZeroDivisionError in its progress bars on an empty frame",
}


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
@pytest.mark.parametrize("n", [1, 300])
@pytest.mark.parametrize("case", CASES)
def test_the_drop_in_equals_pandarallel_and_pandas(case, n):
    df = _frame(n)
    expected = CASES[case](df, "")
    real.pandarallel.initialize(nb_workers=2, progress_bar=False, verbose=0)
    try:
        theirs = CASES[case](df, "parallel_")
    except Exception as exc:
        theirs = exc
    drop_in.initialize(nb_workers=2, progress_bar=False, verbose=0)
    ours = CASES[case](df, "parallel_")
    same(ours, expected)
    if (case, n) in PANDARALLEL_DIFFERS:
        with pytest.raises((AssertionError, AttributeError)):
            same(theirs, expected)
    else:
        same(ours, theirs)

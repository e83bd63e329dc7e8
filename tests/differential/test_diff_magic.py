"""``%%parallel --split data --out out`` through a real InteractiveShell against the same cell run as is."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st
from IPython.utils.capture import capture_output

from tests.differential.common import INDEXES, build, diff_settings, lengths, outcome, same, seeds

#: Cells whose result is the same whether they run on the whole data or per chunk and merged, by the kinds they take.
BODIES = {
    "out = [tag(x) for x in data]": ("list", "ndarray:int64", "ndarray:M8[ns]", "masked"),
    "out = data * 2": ("ndarray:float64", "masked", "ndarray2d", *(f"series:float64@{i}" for i in INDEXES)),
    "out = data.apply(row_total, axis=1)": tuple(f"frame:{i}" for i in INDEXES),
    "out = data.astype('category')": ("series:str@range", "series:str@dup"),
    "out = [fails_on_sevens(x) for x in data]": ("list",),
}
CASES = [(body, kind) for body, kinds in BODIES.items() for kind in kinds]


@pytest.fixture(scope="module")
def ip(shell):
    assert shell.run_cell("from tests.differential.common import tag, row_total, fails_on_sevens").success
    return shell


def _run(ip, body, data, line=None):
    ip.user_ns.pop("out", None)
    ip.user_ns["data"] = data
    with capture_output(), warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning the cell itself does not give
        if line is None:
            result = ip.run_cell(body)
            if not result.success:
                raise result.error_in_exec
        else:
            ip.run_cell_magic("parallel", line, body)
    return ip.user_ns["out"]


@diff_settings()
@given(
    case=st.sampled_from(CASES),
    n=lengths,
    seed=seeds,
    n_jobs=st.sampled_from([1, 2]),
    chunks=st.sampled_from(["", "--chunks 3", "--chunk-size 2"]),
)
def test_the_magic_equals_the_cell(ip, case, n, seed, n_jobs, chunks):
    body, kind = case
    want = outcome(lambda: _run(ip, body, build(kind, n, seed)))
    got = outcome(
        lambda: _run(ip, body, build(kind, n, seed), f"--split data --out out -n {n_jobs} {chunks} --no-progress")
    )
    same(got, want)

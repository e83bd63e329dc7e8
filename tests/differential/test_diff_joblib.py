"""``joblib.Parallel`` on the nbparallel backend against ``joblib.Parallel`` on loky."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from joblib import Parallel, delayed, parallel_config

from tests.differential.common import (
    ITEM_KINDS,
    Raised,
    build,
    diff_settings,
    fails_on_sevens,
    lengths,
    outcome,
    same,
    seeds,
    tag,
)

REFERENCE = {"backend": "loky", "n_jobs": 2}


@pytest.fixture(autouse=True)
def joblib_loky():
    """joblib's own loky workers (the reference) stop at the end of each test, before its leak check.

    Within a test they stay warm; joblib restarts them after an error, so they cannot outlive the test.
    """
    from joblib.externals.loky import get_reusable_executor

    yield
    get_reusable_executor().shutdown(wait=True)


def _parallel(func, data, return_as, batch_size, **options):
    return outcome(
        lambda: list(Parallel(return_as=return_as, batch_size=batch_size, **options)(delayed(func)(x) for x in data))
    )


@diff_settings(quick=6)
@given(
    kind=st.sampled_from([k for k in ITEM_KINDS if k != "iterator"]),
    n=lengths,
    seed=seeds,
    n_jobs=st.sampled_from([1, 2, -1]),
    return_as=st.sampled_from(["list", "generator"]),
    batch_size=st.sampled_from(["auto", 1, 3]),
)
def test_results_equal_joblib_on_loky(kind, n, seed, n_jobs, return_as, batch_size):
    want = _parallel(tag, build(kind, n, seed), "list", "auto", **REFERENCE)
    with parallel_config(backend="nbparallel"):
        got = _parallel(tag, build(kind, n, seed), return_as, batch_size, n_jobs=n_jobs)
    same(got, want)


@diff_settings(quick=4)  # joblib restarts its loky workers after each error: seconds per example
@given(
    data=st.lists(st.integers(-30, 30), max_size=30),
    n_jobs=st.sampled_from([1, 2]),
    batch_size=st.sampled_from(["auto", 1, 3]),
)
def test_errors_equal_joblib_on_loky(data, n_jobs, batch_size):
    """Both raise the error of a failing item, by type and message (which one depends on timing for both)."""
    errors = [e for e in (outcome(lambda x=x: fails_on_sevens(x)) for x in data) if isinstance(e, Raised)]
    want = _parallel(fails_on_sevens, data, "list", "auto", **REFERENCE)
    with parallel_config(backend="nbparallel"):
        got = _parallel(fails_on_sevens, data, "list", batch_size, n_jobs=n_jobs)
    if errors:
        assert want in errors and got in errors, (got, want, errors)
    else:
        same(got, want)

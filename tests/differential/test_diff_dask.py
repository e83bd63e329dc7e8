"""The dask backend on a real LocalCluster (2 worker processes on 127.0.0.1) against the loops and pandas."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import nbparallel as nbp
from tests.differential.common import (
    CHUNK_KINDS,
    GROUP_FUNCS,
    ITEM_KINDS,
    build,
    chunking,
    diff_settings,
    ident,
    lengths,
    outcome,
    same,
    seeds,
    tag,
)

pytest.importorskip("distributed", reason="the dask extra is not installed")


@pytest.fixture(scope="module")
def client():
    from tests.helpers import local_cluster

    with local_cluster() as c:
        yield c


@diff_settings(quick=6)
@given(kind=st.sampled_from(ITEM_KINDS), n=lengths, seed=seeds, options=chunking)
def test_pmap_on_dask_equals_the_loop(client, kind, n, seed, options):
    want = outcome(lambda: [tag(x) for x in build(kind, n, seed)])
    same(outcome(lambda: nbp.pmap(tag, build(kind, n, seed), backend="dask", progress=False, **options)), want)


@diff_settings(quick=6)
@given(kind=st.sampled_from(CHUNK_KINDS), n=lengths, seed=seeds, options=chunking)
def test_pmap_chunks_on_dask_gives_the_data_back(client, kind, n, seed, options):
    want = outcome(lambda: ident(build(kind, n, seed)))
    same(outcome(lambda: nbp.pmap_chunks(ident, build(kind, n, seed), backend="dask", progress=False, **options)), want)


@diff_settings(quick=4)
@given(func=st.sampled_from(GROUP_FUNCS), n=lengths, seed=seeds)
def test_pmap_groups_on_dask_equals_groupby_apply(client, func, n, seed):
    df = build("frame:dup", n, seed)
    want = outcome(lambda: df.groupby("s").apply(func))
    same(outcome(lambda: nbp.pmap_groups(func, df, "s", backend="dask", progress=False)), want)

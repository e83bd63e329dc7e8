"""The same API on a real dask.distributed LocalCluster (2 worker processes on 127.0.0.1)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import nbparallel as nbp
from tests.helpers import fail_noisily, local_cluster

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")


@pytest.fixture(scope="module")
def client():
    with local_cluster() as c:  # dask's scratch space in a folder of its own, removed afterwards
        yield c


def test_no_client_says_how_to_start_one():
    from distributed import get_client

    try:
        get_client()
        pytest.skip("a client is already running")
    except ValueError:
        pass
    with pytest.raises(RuntimeError, match=r"(?s)needs a dask.distributed Client.*Client\(\)"):
        nbp.pmap(abs, [1], backend="dask")


def test_the_cluster_binds_to_loopback(client):
    assert client.scheduler.address.startswith("tcp://127.0.0.1:")
    assert all(addr.startswith("tcp://127.0.0.1:") for addr in client.nthreads())


def test_pmap_and_pmap_chunks_equal_loky(client):
    data = list(range(37))
    assert nbp.pmap(lambda x: x * x, data, backend="dask", progress=False) == nbp.pmap(
        lambda x: x * x, data, progress=False
    )
    arr = np.arange(1000.0)
    np.testing.assert_array_equal(nbp.pmap_chunks(lambda c: c * 2, arr, backend="dask", progress=False), arr * 2)
    with nbp.config(backend="dask"):
        assert nbp.pmap_chunks(sum, data, merge="sum", progress=False) == sum(data)


def test_worker_output_and_errors_keep_finished_results(client, capsys):
    error = fail_noisily("dask")
    assert error.job.partial_result().value[:4] == [0, 1, 2, 3]
    assert "[chunk 0] seen 0" in capsys.readouterr().out


def test_retries_and_seeds_on_dask(client, tmp_path):
    import random

    marker = tmp_path / "tried"

    def flaky(x):
        if x == 2 and not marker.exists():
            marker.touch()
            raise ConnectionError("first try fails")
        return random.random()

    got = nbp.pmap(flaky, range(4), chunks=4, retries=1, seed=9, backend="dask", progress=False)
    assert nbp.last_job().n_retries == 1
    assert got == nbp.pmap(lambda x: random.random(), range(4), seed=9, progress=False)


def test_cancel_stops_queued_and_running_item_loops(client):
    def step(x):
        time.sleep(0.1)
        return x

    job = nbp.pmap(step, range(400), chunks=4, n_jobs=2, backend="dask", background=True, progress=False)
    time.sleep(1.0)
    asked = time.monotonic()
    job.cancel()
    job.wait(20)
    assert time.monotonic() - asked < 2.0
    assert job.status == "cancelled"
    assert nbp.pmap(abs, [-1], backend="dask", progress=False) == [1]


def test_magic_body_runs_on_dask(client):
    ns = {"xs": list(range(20)), "offset": 7}
    nbp.run_cell("ys = [x + offset for x in xs]", ns, split=["xs"], out=["ys"], backend="dask", progress=False)
    assert ns["ys"] == [x + 7 for x in range(20)]


def test_choose_k_on_dask_equals_loky(client):
    X, _ = make_blobs(n_samples=600, centers=4, cluster_std=0.5, random_state=3)
    on_dask = nbp.choose_k(X, k=range(2, 8), backend="dask", progress=False)
    local = nbp.choose_k(X, k=range(2, 8), progress=False)
    assert on_dask.picks == local.picks and on_dask.best_k == 4
    np.testing.assert_allclose(on_dask.scores["inertia"], local.scores["inertia"])


def test_importing_nbparallel_does_not_import_dask():
    import subprocess
    import sys

    code = "import sys, nbparallel; nbparallel.pmap(abs, [-1], n_jobs=1, progress=False); print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_imap_on_dask(client):
    assert list(nbp.imap(lambda x: x + 1, iter(range(50)), backend="dask", progress=False)) == list(range(1, 51))

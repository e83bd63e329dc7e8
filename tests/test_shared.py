"""Large arrays travel through shared memory: right results, nothing left behind, nothing lost."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import nbparallel as nbp
from nbparallel.data.shared import SHARE_ABOVE, shared_root
from tests.helpers import child_env


def mine():
    prefix = f"nbparallel-shm-{os.getpid()}-"
    return [n for n in os.listdir(shared_root()) if n.startswith(prefix)]


@pytest.fixture
def big():
    return np.arange(SHARE_ABOVE // 8 + 1000, dtype=np.float64)  # just over the sharing threshold


def test_large_input_and_output_round_trip(big):
    out = nbp.pmap_chunks(lambda c: c * 2, big, n_jobs=2, progress=False)
    assert isinstance(out, np.ndarray) and not isinstance(out, np.memmap)
    np.testing.assert_array_equal(out, big * 2)
    job = nbp.last_job()
    assert job.shared_folder is not None  # chunks were slices of one shared copy
    assert not mine()  # the shared folder went with the finished job
    assert job.tasks[0].payload is None  # and nothing keeps its deleted file mapped


def test_in_place_changes_stay_in_the_worker(big):
    def triple_in_place(c):
        c *= 3
        return c

    before = big.copy()
    out = nbp.pmap_chunks(triple_in_place, big, n_jobs=2, progress=False)
    np.testing.assert_array_equal(out, before * 3)
    np.testing.assert_array_equal(big, before)  # like a process boundary always did


def test_in_place_changes_to_a_users_writable_memmap_stay_in_the_worker(tmp_path):
    path = tmp_path / "x.dat"
    mine = np.memmap(path, dtype=np.float64, mode="w+", shape=(100_000,))
    mine[:] = 1.0
    out = nbp.pmap_chunks(lambda c: np.multiply(c, 3, out=c), mine, n_jobs=2, progress=False)
    np.testing.assert_array_equal(out, 3.0)
    np.testing.assert_array_equal(mine, 1.0)  # sent by reference, but copy-on-write: the file is untouched
    del mine


def test_other_merges_and_rows_of_a_shared_array(big):
    assert nbp.pmap_chunks(np.sum, big, merge="sum", n_jobs=2, progress=False) == big.sum()
    parts = nbp.pmap_chunks(lambda c: c[:2].copy(), big, merge="list", chunks=3, n_jobs=2, progress=False)
    assert [p.tolist() for p in parts] == [c[:2].tolist() for c in np.array_split(big, 3)]
    rows = big[: (len(big) // 1000) * 1000].reshape(-1, 1000)
    sums = nbp.pmap(lambda r: float(r.sum()), rows, n_jobs=2, progress=False)
    assert sums == [float(r.sum()) for r in rows]


def test_a_failed_job_keeps_shared_results_for_partial_and_retry(big):
    def fails_late(c):
        if c[0] >= big[len(big) // 2]:
            raise ValueError("second half not ready")
        return c + 1

    with pytest.raises(ValueError) as info:
        nbp.pmap_chunks(fails_late, big, chunks=4, n_jobs=2, progress=False)
    job = info.value.job
    assert mine()  # kept: the finished chunks live there
    part = job.partial_result()
    half = part.items[0][1]
    np.testing.assert_array_equal(part.value, big[:half] + 1)
    full = job.retry_failed(lambda c: c + 1)
    np.testing.assert_array_equal(full, big + 1)
    assert not mine()


def test_chunks_of_a_shared_input_travel_as_file_references_not_bytes():
    from loky.backend.reduction import dumps

    from nbparallel.api import plan

    big = np.arange(3 * 2**21, dtype=np.float64)  # 48 MiB: written once to shared memory
    job = plan(np.sum, (big,), nbp.RunOptions(n_jobs=2, chunks=4), mode="chunk", finalize=list)
    sent = [len(dumps(t.payload)) for t in job.tasks]
    assert max(sent) < 10_000  # each 12 MiB chunk is sent as a reference to the shared copy
    assert nbp.pmap_chunks(np.sum, big, merge="list", chunks=4, n_jobs=2, progress=False) == [
        c.sum() for c in np.array_split(big, 4)
    ]


def test_a_removed_process_folder_is_made_again_and_big_globals_still_travel():
    code = """
import shutil
import numpy as np
import nbparallel as nbp
from nbparallel.data.shared import process_folder

table = np.arange(2_000_000.0)  # 16 MB: shipped once through the process folder

def f(i):
    return float(table[i])

assert nbp.pmap(f, [1, 2], n_jobs=2, progress=False) == [1.0, 2.0]
shutil.rmtree(process_folder())  # a clean-up script
nbp.shutdown()  # new workers: they must read the global from the (new) folder

def g(i):
    return -float(table[i])

assert nbp.pmap(g, [3, 4], n_jobs=2, progress=False) == [-3.0, -4.0]
nbp.shutdown()
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env(), timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    # the removed folder is forgotten by the resource tracker (it warned "leaked folder objects" before);
    # loky's own semaphores are not this test's business (its tracker can race the janitor on them)
    assert "leaked folder" not in done.stderr, done.stderr[-3000:]

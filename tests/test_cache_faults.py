"""The cache never returns wrong results: bad entries are dropped with a visible warning."""

from __future__ import annotations

import os
import pickle
import stat
import warnings

import numpy as np
import pytest

import nbparallel as nbp


def _entries(cache):
    return sorted((cache / "nbparallel").rglob("*.pkl"))


@pytest.mark.parametrize("bad", ["oops", 42, [1, 2, 3]])
def test_an_entry_of_the_wrong_kind_is_dropped_with_a_warning(tmp_path, bad):
    cache = tmp_path / "cache"
    assert nbp.pmap(abs, range(-20, 20), chunks=4, n_jobs=2, cache=cache, progress=False) == [
        abs(x) for x in range(-20, 20)
    ]
    entry = _entries(cache)[0]
    entry.write_bytes(pickle.dumps(bad))  # a valid pickle, not what the chunk returned
    with pytest.warns(UserWarning, match="deleted and is recomputed"):
        again = nbp.pmap(abs, range(-20, 20), chunks=4, n_jobs=2, cache=cache, progress=False)
    assert again == [abs(x) for x in range(-20, 20)]  # 40 results, not 34, no TypeError
    assert nbp.last_job().n_cached == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the bad entry was replaced: no warning on the next run
        assert nbp.pmap(abs, range(-20, 20), chunks=4, n_jobs=2, cache=cache, progress=False)[0] == 20
    assert nbp.last_job().n_cached == 4


def test_array_results_in_shared_memory_are_cached_by_value(tmp_path):
    data = np.arange(4 * 2**20 // 8, dtype=np.float64)  # chunk results of 1 MiB come back through /dev/shm
    first = nbp.pmap_chunks(lambda c: c * 2, data, chunks=2, n_jobs=2, cache=tmp_path, progress=False)
    second = nbp.pmap_chunks(lambda c: c * 2, data, chunks=2, n_jobs=2, cache=tmp_path, progress=False)
    assert nbp.last_job().n_cached == 2
    np.testing.assert_array_equal(second, first)
    np.testing.assert_array_equal(second, data * 2)


def test_changing_a_global_the_function_reads_changes_the_key(tmp_path):
    cell = {"__name__": "__main__"}  # a notebook's namespace: the function travels with its globals
    exec("FACTOR = 2\ndef scaled(x):\n    return x * FACTOR\n", cell)
    assert nbp.pmap(cell["scaled"], range(4), n_jobs=2, cache=tmp_path, progress=False) == [0, 2, 4, 6]
    cell["FACTOR"] = 3
    assert nbp.pmap(cell["scaled"], range(4), n_jobs=2, cache=tmp_path, progress=False) == [0, 3, 6, 9]
    assert nbp.last_job().n_cached == 0
    exec("FACTOR = 3\n\n\ndef scaled(x):\n    return x * FACTOR\n", cell)  # the cell run again
    assert nbp.pmap(cell["scaled"], range(4), n_jobs=2, cache=tmp_path, progress=False) == [0, 3, 6, 9]
    assert nbp.last_job().n_cached == nbp.last_job().n_total


def test_cache_folders_are_private_and_a_shared_root_is_warned_about(tmp_path):
    cache = tmp_path / "cache"
    nbp.pmap(abs, [-1, -2], n_jobs=1, cache=cache, progress=False)
    for folder in [cache / "nbparallel", *(cache / "nbparallel").iterdir()]:
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.warns(UserWarning, match="can be written by other users"):
        nbp.pmap(abs, [-1, -2], n_jobs=1, cache=shared, progress=False)

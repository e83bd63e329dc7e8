"""pmap/pmap_chunks: equal to the sequential code, errors that say what failed."""

from __future__ import annotations

import os
import pickle
import threading

import numpy as np
import pandas as pd
import pytest

import nbparallel as nbp
from nbparallel.backends import worker_pids

BACKENDS = ["loky", "threading"]


def square(x):
    return x * x


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n_jobs", [1, 2, -1])
@pytest.mark.parametrize("n", [0, 1, 2, 7, 101])
@pytest.mark.parametrize("chunks", [None, 1, 3, 500])
def test_pmap_equals_sequential(backend, n_jobs, n, chunks):
    data = list(range(n))
    got = nbp.pmap(square, data, n_jobs=n_jobs, chunks=chunks, backend=backend, progress=False)
    assert got == [square(x) for x in data]


@pytest.mark.parametrize("chunk_size", [1, 4, 1000])
def test_pmap_chunk_size(chunk_size):
    assert nbp.pmap(square, range(50), chunk_size=chunk_size, progress=False) == [x * x for x in range(50)]


def test_pmap_lambda_closure_and_array_rows():
    offset = 10
    rows = np.arange(12).reshape(6, 2)
    got = nbp.pmap(lambda r: int(r.sum()) + offset, rows, n_jobs=2, progress=False)
    assert got == [int(r.sum()) + offset for r in rows]


def test_pmap_several_inputs_zip_like_map():
    assert nbp.pmap(pow, [2, 3, 4], (3, 2, 1), n_jobs=2, progress=False) == [8, 9, 4]
    with pytest.raises(ValueError, match="same length"):
        nbp.pmap(pow, [2, 3, 4], [1, 2], progress=False)


def test_pmap_reads_iterators():
    assert nbp.pmap(square, (x for x in range(5)), progress=False) == [0, 1, 4, 9, 16]


def test_pmap_series_values_and_dataframe_refused():
    s = pd.Series([1, 2, 3], index=[10, 20, 30])
    assert nbp.pmap(square, s, progress=False) == [1, 4, 9]
    with pytest.raises(TypeError, match=r"column labels.*pmap_chunks"):
        nbp.pmap(len, pd.DataFrame({"a": range(5)}))


@pytest.mark.parametrize("backend", BACKENDS)
def test_pmap_chunks_merges_like_sequential(backend):
    data = np.arange(103.0)
    got = nbp.pmap_chunks(lambda c: c * 2, data, n_jobs=2, backend=backend, progress=False)
    np.testing.assert_array_equal(got, data * 2)
    assert nbp.pmap_chunks(sum, list(range(100)), merge="sum", chunks=7, progress=False) == 4950
    sizes = nbp.pmap_chunks(len, list(range(10)), merge="list", chunks=3, progress=False)
    assert sizes == [4, 3, 3]


def test_pmap_chunks_dataframe_keeps_index():
    df = pd.DataFrame({"x": np.arange(20)}, index=[f"r{i}" for i in range(20)])
    out = nbp.pmap_chunks(lambda d: d.assign(y=d.x * 3), df, chunks=4, progress=False)
    assert out.index.equals(df.index)
    assert (out.y == df.x * 3).all()


def test_pmap_chunks_aligned_inputs():
    a, b = np.arange(10), np.arange(10) * 10
    out = nbp.pmap_chunks(lambda x, y: x + y, a, b, chunks=3, progress=False)
    np.testing.assert_array_equal(out, a + b)


def test_pmap_chunks_bad_merge_before_any_work():
    with pytest.raises(ValueError, match="unknown merge 'glue'"):
        nbp.pmap_chunks(len, [1, 2], merge="glue")


def fails_on_seven(x):
    print(f"working on {x}")
    if x == 7:
        raise KeyError(f"no key {x}")
    return x


@pytest.mark.parametrize("backend", BACKENDS)
def test_error_keeps_type_names_chunk_and_item(backend):
    with pytest.raises(KeyError) as info:
        nbp.pmap(fails_on_seven, range(20), chunks=5, n_jobs=2, backend=backend, progress=False)
    exc = info.value
    note = "\n".join(exc.__notes__)
    assert "item 7 (7) in chunk 1 of 5 (items 4-7)" in note
    assert "working on 7" in note  # the failing chunk's output
    assert isinstance(exc.__cause__, nbp.RemoteTraceback)
    assert "fails_on_seven" in exc.__cause__.text and "no key 7" in exc.__cause__.text


def test_error_pytest_match_sees_the_note():
    with pytest.raises(ZeroDivisionError, match=r"item 3 \(0\) in chunk"):
        nbp.pmap(lambda x: 1 / x, [3, 2, 1, 0, 5], chunks=5, progress=False)


def test_many_failures_are_summarised():
    with pytest.raises(ValueError) as info:
        nbp.pmap(lambda x: int("x"), range(10), chunks=10, n_jobs=1, progress=False)
    # n_jobs=1 runs chunk after chunk: the first failure stops the feed
    note = "\n".join(info.value.__notes__)
    assert "chunk 0 of 10" in note


class Unpicklable(Exception):
    def __init__(self, lock):
        super().__init__("holds a lock")
        self.lock = lock

    def __reduce__(self):
        raise TypeError("cannot pickle a lock")


def raises_unpicklable(x):
    raise Unpicklable(threading.Lock())


def test_unpicklable_exception_gets_a_stand_in():
    with pytest.raises(nbp.WorkerError, match="Unpicklable: holds a lock"):
        nbp.pmap(raises_unpicklable, [1, 2], n_jobs=2, progress=False)


def test_worker_output_is_printed_labelled_in_chunk_order(capsys):
    nbp.pmap(lambda x: print("item", x), range(4), chunks=2, n_jobs=2, progress=False)
    out = capsys.readouterr().out
    assert "[chunk 0] item 0\n[chunk 0] item 1\n" in out
    assert "[chunk 1] item 2\n[chunk 1] item 3\n" in out


def test_quick_work_shows_no_progress_bar(capsys):
    nbp.pmap(square, range(10), n_jobs=2)
    captured = capsys.readouterr()
    assert "%|" not in captured.err


def test_progress_true_shows_a_bar(capsys):
    nbp.pmap(square, range(10), n_jobs=2, progress=True)
    err = capsys.readouterr().err
    assert "10/10" in err and "chunks" in err


def test_workers_are_reused_across_calls():
    nbp.pmap(square, range(10), n_jobs=2, progress=False)
    first = worker_pids()
    pids = set(nbp.pmap(lambda x: os.getpid(), range(40), n_jobs=2, progress=False))
    assert first and pids <= set(first)


def inner_thread_limits(_):
    from threadpoolctl import threadpool_info

    return {info["internal_api"]: info["num_threads"] for info in threadpool_info()}


def test_inner_blas_threads_are_capped_in_workers():
    import joblib

    limits = nbp.pmap(inner_thread_limits, range(2), chunks=2, n_jobs=2, progress=False)
    cap = max(1, joblib.cpu_count() // 2)
    for per_worker in limits:
        assert per_worker, "numpy's BLAS should be visible to threadpoolctl"
        assert all(n <= cap for n in per_worker.values()), per_worker


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"backend": "spark"}, r"unknown backend 'spark'; choose one of: 'loky' \(.*\), 'threading'"),
        ({"n_jobs": 0}, "n_jobs must be a non-zero int"),
        ({"chunks": 2, "chunk_size": 2}, "either chunks or chunk_size"),
        ({"chunk_size": 0}, "chunk_size must be a positive int"),
        ({"progress": "fancy"}, "progress must be one of"),
    ],
)
def test_bad_options_are_rejected_before_work(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nbp.pmap(square, [1, 2], **kwargs)


def test_not_callable():
    with pytest.raises(TypeError, match="func must be callable, got int"):
        nbp.pmap(3, [1, 2])


@pytest.mark.parametrize("bad", [None, 5])  # any iterable is read as a loop reads it (tests/test_edges_inputs.py)
def test_unsupported_data(bad):
    with pytest.raises(TypeError, match="Supported kinds"):
        nbp.pmap(square, bad)


def test_config_call_and_context_manager():
    assert nbp.get_config().backend == "loky"
    with nbp.config(backend="threading", n_jobs=1):
        assert nbp.get_config().backend == "threading"
        # threading with one worker runs in this process
        assert set(nbp.pmap(lambda x: os.getpid(), range(4), progress=False)) == {os.getpid()}
    assert nbp.get_config().backend == "loky" and nbp.get_config().n_jobs is None
    previous = nbp.config(progress=False)
    try:
        assert nbp.get_config().progress is False
    finally:
        previous.__exit__(None, None, None)
    assert nbp.get_config().progress == "auto"


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="unknown backend"):
        nbp.config(backend="nope")


def test_the_raised_error_still_pickles():
    with pytest.raises(KeyError) as info:
        nbp.pmap(fails_on_seven, range(8), chunks=2, progress=False)
    again = pickle.loads(pickle.dumps(info.value))
    assert isinstance(again, KeyError) and "detached" in again.job

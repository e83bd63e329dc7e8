"""nbparallel as joblib's backend: joblib's semantics kept, the runtime's cancel, output and sharing added."""

from __future__ import annotations

import _thread
import asyncio
import os
import threading
import time

import joblib
import numpy as np
import pytest
from joblib import Parallel, delayed, parallel_config

import nbparallel as nbp
from nbparallel.frontends.joblib_backend import NbparallelBackend
from tests.helpers import local_cluster, spin


def square(x: int) -> int:
    return x * x


def shout(x: int) -> int:
    print("item", x)
    return x


def fails_on(x: int, bad: int = 3) -> int:
    if x == bad:
        raise KeyError(f"item {x}")
    return x


def kind_and_sum(a: np.ndarray) -> tuple[str, float]:
    return type(a).__name__, float(a[:10].sum())


def warns(x: int) -> int:
    import warnings

    warnings.warn(f"careful with {x}", UserWarning, stacklevel=1)
    return x


def inner_parallel(n: int) -> list[int]:
    return Parallel(n_jobs=2)(delayed(square)(i) for i in range(n))


def nested_on_nbparallel(n: int) -> tuple[list[int], list[int]]:
    """In a worker: a joblib call selecting the nbparallel backend runs there, without a pool of its own."""
    from nbparallel.backends import worker_pids

    with parallel_config(backend="nbparallel"):
        return Parallel(n_jobs=2)(delayed(square)(i) for i in range(n)), worker_pids()


def pid(_: int) -> int:
    time.sleep(0.05)
    return os.getpid()


@pytest.fixture
def nbp_backend():
    with parallel_config(backend="nbparallel"):
        yield


def test_import_registers_the_backend():
    assert joblib.parallel.BACKENDS["nbparallel"] is NbparallelBackend


@pytest.mark.parametrize("return_as", ["list", "generator", "generator_unordered"])
@pytest.mark.parametrize("batch_size", ["auto", 1, 7])
def test_results_equal_joblib_loky(nbp_backend, return_as, batch_size):
    out = Parallel(n_jobs=2, return_as=return_as, batch_size=batch_size)(delayed(square)(i) for i in range(50))
    expected = [i * i for i in range(50)]
    if return_as == "generator_unordered":
        assert sorted(out) == expected
    else:
        assert list(out) == expected


def test_two_generators_running_at_once_each_get_their_results(nbp_backend):
    first = Parallel(n_jobs=2, return_as="generator")(delayed(square)(i) for i in range(40))
    second = Parallel(n_jobs=2, return_as="generator")(delayed(square)(i) for i in range(10))
    assert list(second) == [i * i for i in range(10)]  # the second call ends first
    assert list(first) == [i * i for i in range(40)]


def test_runs_on_the_warm_pool(nbp_backend):
    pids = set(Parallel(n_jobs=2)(delayed(pid)(i) for i in range(8)))
    assert pids <= set(nbp.backends.worker_pids()) and len(pids) >= 1
    assert nbp.last_job().label == "pid" and nbp.last_job().status == "done"


def test_n_jobs_means_what_joblib_means(nbp_backend):
    backend = NbparallelBackend()
    assert backend.effective_n_jobs(None) == 1
    assert backend.effective_n_jobs(-1) == joblib.cpu_count()
    assert backend.effective_n_jobs(3) == 3
    with pytest.raises(ValueError, match="n_jobs == 0"):
        backend.effective_n_jobs(0)
    # n_jobs=1 (and None) run sequentially in the caller, as joblib does
    assert Parallel(n_jobs=1)(delayed(os.getpid)() for _ in range(2)) == [os.getpid()] * 2


def test_errors_keep_their_type_and_worker_traceback(nbp_backend):
    with pytest.raises(KeyError, match="item 3") as info:
        Parallel(n_jobs=2, batch_size=1)(delayed(fails_on)(i) for i in range(8))
    assert isinstance(info.value.__cause__, nbp.RemoteTraceback)
    assert "fails_on" in str(info.value.__cause__)
    assert nbp.last_job().status == "failed"


def test_abort_on_the_first_error_runs_no_more_batches(nbp_backend):
    began = time.perf_counter()
    with pytest.raises(KeyError):
        Parallel(n_jobs=2, batch_size=1)(
            delayed(fails_on)(i, bad=0) if i == 0 else delayed(spin)(0.5) for i in range(20)
        )
    assert time.perf_counter() - began < 3  # 19 * 0.5 s / 2 workers had they all run
    assert Parallel(n_jobs=2)(delayed(square)(i) for i in range(3)) == [0, 1, 4]  # the pool is fine


def test_timeout_raises_and_the_next_call_works(nbp_backend):
    from multiprocessing import TimeoutError as JoblibTimeout  # what joblib raises, whatever the backend

    with pytest.raises(JoblibTimeout):
        Parallel(n_jobs=2, timeout=0.3)(delayed(spin)(s) for s in (0.0, 3.0, 3.0))
    assert nbp.last_job().cancel_requested
    began = time.perf_counter()
    assert Parallel(n_jobs=2)(delayed(square)(i) for i in range(4)) == [0, 1, 4, 9]
    assert time.perf_counter() - began < 2.5  # the spinning workers were interrupted, not waited for


def test_nested_parallel_calls_run_in_the_worker_without_deadlock(nbp_backend):
    out = Parallel(n_jobs=2)(delayed(inner_parallel)(n) for n in (3, 4))
    assert out == [[0, 1, 4], [0, 1, 4, 9]]


def test_a_call_inside_a_worker_runs_there_sequentially():
    (squares, pools), *_ = nbp.pmap(nested_on_nbparallel, [3, 3], n_jobs=2, progress=False)
    assert squares == [0, 1, 4] and pools == []


def test_worker_output_goes_to_the_caller(nbp_backend, capsys):
    Parallel(n_jobs=2, batch_size=1)(delayed(shout)(i) for i in range(3))
    out = capsys.readouterr().out
    assert "item 0" in out and "item 2" in out


def test_worker_warnings_go_to_the_caller(nbp_backend, capsys):
    Parallel(n_jobs=2, batch_size=1)(delayed(warns)(i) for i in range(2))
    out = capsys.readouterr().out
    assert "UserWarning: careful with 0" in out and "UserWarning: careful with 1" in out


def test_the_job_counts_tasks_and_knows_the_total_when_joblib_does(nbp_backend):
    Parallel(n_jobs=2, batch_size=5)(delayed(square)(i) for i in range(20))  # a generator: no total before the end
    job = nbp.last_job()
    assert (job.n_items, job.total_items) == (20, 20)
    seen = []

    def tasks():
        for i in range(30):
            if i == 29:
                seen.append(nbp.last_job().total_items)  # joblib has not read the input to the end yet
            yield delayed(spin)(0.05)

    Parallel(n_jobs=2, batch_size=1)(tasks())
    assert seen == [None] and nbp.last_job().total_items == 30
    assert job.n_total == job.n_done >= 4  # batches: joblib sizes them (smaller ones at the end)
    Parallel(n_jobs=2, batch_size=5)([delayed(square)(i) for i in range(30)])  # a list: joblib knows its length
    assert nbp.last_job().total_items == 30


def test_verbose_prints_joblib_progress(nbp_backend, capsys):
    Parallel(n_jobs=2, verbose=10)(delayed(square)(i) for i in range(4))
    assert "Using backend NbparallelBackend with 2 concurrent workers" in capsys.readouterr().err


def test_large_arrays_go_once_through_shared_memory(nbp_backend):
    big = np.arange(2_000_000, dtype=np.float64)  # 16 MB: over max_nbytes
    small = np.arange(10, dtype=np.float64)
    out = Parallel(n_jobs=2, batch_size=1)(delayed(kind_and_sum)(a) for a in [big, big, small, big])
    assert [k for k, _ in out] == ["memmap", "memmap", "ndarray", "memmap"]
    assert [s for _, s in out] == [45.0, 45.0, 45.0, 45.0]
    with parallel_config(backend="nbparallel", max_nbytes=None):  # joblib's way of saying "never"
        assert Parallel(n_jobs=2)(delayed(kind_and_sum)(big) for _ in range(2))[0][0] == "ndarray"


def test_cancel_from_another_thread_raises_job_cancelled(nbp_backend):
    def cancel_soon() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            job = nbp.last_job()
            if job is not None and job.label == "spin" and job.status == "running":
                time.sleep(0.3)
                job.cancel()
                return
            time.sleep(0.05)

    canceller = threading.Thread(target=cancel_soon)
    canceller.start()
    began = time.perf_counter()
    with pytest.raises(nbp.JobCancelled):
        Parallel(n_jobs=2, batch_size=1)(delayed(spin)(1.0) for _ in range(20))
    canceller.join()
    assert time.perf_counter() - began < 5
    assert Parallel(n_jobs=2)(delayed(square)(i) for i in range(3)) == [0, 1, 4]


@pytest.mark.usefixtures("ctrl_c_reaches_python")
def test_ctrl_c_returns_at_once_stops_the_workers_and_the_next_call_works(nbp_backend):
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    began = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        Parallel(n_jobs=2, batch_size=1)(delayed(spin)(5.0) for _ in range(8))
    assert time.perf_counter() - began < 2
    timer.join()
    began = time.perf_counter()
    assert Parallel(n_jobs=2)(delayed(square)(i) for i in range(3)) == [0, 1, 4]
    assert time.perf_counter() - began < 2  # the workers were not still spinning


def test_scikit_learn_grid_search_and_cross_val_score(nbp_backend):
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, cross_val_score

    X, y = make_classification(n_samples=200, random_state=0)
    search = GridSearchCV(LogisticRegression(max_iter=200), {"C": [0.1, 1.0, 10.0]}, cv=3, n_jobs=2)
    search.fit(X, y)
    assert nbp.last_job().label == "_fit_and_score" and nbp.last_job().n_items == 9
    scores = cross_val_score(LogisticRegression(max_iter=200), X, y, cv=3, n_jobs=2)
    expected = cross_val_score(LogisticRegression(max_iter=200), X, y, cv=3, n_jobs=1)  # sequential
    assert np.allclose(scores, expected)


# -- nbp.background --------------------------------------------------------------------------


def _grid_fit():
    from sklearn.datasets import make_classification
    from sklearn.model_selection import GridSearchCV
    from sklearn.tree import DecisionTreeClassifier

    X, y = make_classification(n_samples=100, random_state=0)
    return GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2, 3]}, cv=2, n_jobs=2), X, y


def test_background_returns_at_once_then_fn_result():
    search, X, y = _grid_fit()
    job = nbp.background(search.fit, X, y)
    assert job.status in ("running", "done")
    fitted = job.result(timeout=60)
    assert fitted is search and fitted.best_params_ and job.status == "done"
    assert job.jobs and job.jobs[-1].backend.name in ("loky", "threading")
    assert "background" in repr(job)


def test_background_is_awaitable():
    async def main() -> list[int]:
        return await nbp.background(inner_parallel, 3)

    assert asyncio.run(main()) == [0, 1, 4]


def test_background_cancel_stops_its_tasks_and_the_pool_survives():
    job = nbp.background(lambda: Parallel(n_jobs=2, batch_size=1)(delayed(spin)(1.0) for _ in range(30)))
    deadline = time.monotonic() + 10
    while not job.jobs and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    began = time.perf_counter()
    assert job.cancel()
    with pytest.raises(nbp.JobCancelled):
        job.result(timeout=10)
    assert time.perf_counter() - began < 5 and job.status == "cancelled"
    assert not job.cancel()  # ended already
    assert nbp.pmap(square, range(4), n_jobs=2, progress=False) == [0, 1, 4, 9]


def test_background_errors_are_raised_by_result():
    job = nbp.background(fails_on, 3)
    with pytest.raises(KeyError):
        job.result(timeout=10)
    assert job.status == "failed"


@pytest.mark.parametrize("bad", [None, 42, "search.fit"])
def test_background_refuses_a_non_callable(bad):
    with pytest.raises(TypeError, match="background\\(\\) runs a callable"):
        nbp.background(bad)


# -- dask -----------------------------------------------------------------------------------


@pytest.mark.dask
def test_joblib_calls_run_on_dask_through_nbparallel():
    pytest.importorskip("distributed")
    with (
        local_cluster(),
        nbp.config(backend="dask"),
        parallel_config(backend="nbparallel"),
    ):
        assert Parallel(n_jobs=-1)(delayed(square)(i) for i in range(10)) == [i * i for i in range(10)]
        assert nbp.last_job().backend.name == "dask"
        with pytest.raises(KeyError):
            Parallel(n_jobs=2)(delayed(fails_on)(i) for i in range(6))

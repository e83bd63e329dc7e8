"""Run joblib's own ``Parallel`` tests against the nbparallel backend, as dask and ray test theirs.

Every test of ``joblib/test/test_parallel.py`` runs with ``joblib.parallel.DEFAULT_BACKEND`` set to
``"nbparallel"``, so ``Parallel(n_jobs=2)`` without a backend, ``parallel_config(n_jobs=...)`` and
``backend=None`` all go to nbparallel.  Besides, joblib's module parametrizes many tests over every
registered backend, ``"nbparallel"`` (and an instance of it) included.

What does not run, and why:

* parametrizations naming another backend (``"loky"``, ``"multiprocessing"``, ``"threading"``,
  ``"sequential"``, their instances, a multiprocessing context): they test that backend, not ours;
* the tests listed in :data:`SKIPS`, each with its reason (loky internals, or a behaviour that
  nbparallel changes on purpose).
"""

from __future__ import annotations

import pytest
from joblib import parallel

from nbparallel.frontends.joblib_backend import NAME, NbparallelBackend

#: test name (without parameters) -> why it does not apply to the nbparallel backend.
SKIPS: dict[str, str] = {
    "test_parallel_byteorder_corruption": "its body hard-codes backend='loky' (loky's memmapping of byte-swapped "
    "arrays); it tests loky and leaves joblib's own loky workers running",
    "test_backend_hinting_and_constraints": "asserts that prefer='processes' picks the LokyBackend class (joblib "
    "swaps a thread-based default for loky; nbparallel's backend is process-based, so joblib keeps it) and "
    "hard-codes 'loky' in the rest",
    "test_threadpool_limitation_in_child_loky": "inner_max_num_threads is a LokyBackend option and the body "
    "hard-codes backend='loky'; nbparallel caps BLAS/OpenMP threads in its own workers at cores // workers",
    "test_threadpool_limitation_in_child_context": "inner_max_num_threads is a LokyBackend option and the body "
    "hard-codes 'loky' (see test_threadpool_limitation_in_child_loky)",
    "test_threadpool_limitation_in_child_override": "restarts joblib's loky executor to see environment variables "
    "set later in the parent; nbparallel's pool starts once and stays warm, its thread caps fixed at start",
    "test_initializer_reused": "loky's initializer= argument, with backend='loky' hard-coded in the body",
    "test_initializer_not_reused": "loky's initializer= argument, with backend='loky' hard-coded in the body",
    "test_nested_loop_with_exception_with_loky": "its body hard-codes backend='loky' (nested loky pools); it tests "
    "loky and leaves joblib's own loky pool and memmapping folder behind",
    "test_loky_reuse_workers": "checks that loky's reusable executor keeps its workers (backend='loky' hard-coded); "
    "nbparallel's pool reuse is tested in its own suite",
}


def _other_backend(value: object) -> bool:
    if value is None or value == NAME or isinstance(value, NbparallelBackend) or value is NbparallelBackend:
        return False
    if isinstance(value, str):
        return value in parallel.BACKENDS or value in ("dask", "ray", "spark")
    return (
        hasattr(value, "Pool")
        or (isinstance(value, type) and issubclass(value, parallel.ParallelBackendBase))
        or isinstance(value, parallel.ParallelBackendBase)
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = __name__.rpartition(".")[0] or "joblib_suite"
    keep, drop = [], []
    for item in items:
        if "joblib_suite" not in str(item.path):
            keep.append(item)
            continue
        params = getattr(getattr(item, "callspec", None), "params", {})
        if any(_other_backend(v) for k, v in params.items() if "backend" in k or k == "context"):
            drop.append(item)
            continue
        reason = SKIPS.get(item.originalname)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=f"{here}: {reason}"))
        keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(autouse=True)
def nbparallel_by_default():
    """joblib's default backend is nbparallel for the duration of each test."""
    previous = parallel.DEFAULT_BACKEND
    parallel.DEFAULT_BACKEND = NAME
    try:
        yield
    finally:
        parallel.DEFAULT_BACKEND = previous


def pytest_configure(config: pytest.Config) -> None:
    for mark in ("thread_unsafe", "no_cover"):  # joblib's own marks (its setup.cfg declares them)
        config.addinivalue_line("markers", f"{mark}: a mark of joblib's own test suite")

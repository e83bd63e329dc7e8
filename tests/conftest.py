"""Shared fixtures: leak checks for worker processes and threads; the test tiers' markers."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import psutil
import pytest

import nbparallel as nbp
from nbparallel.backends import get_backend, worker_pids

#: Where a test's tier is known from where it lives: a path fragment -> its marker. A test
#: elsewhere that needs a kernel gets ``kernel`` from the fixture it uses; one that starts a
#: dask cluster is marked ``dask`` where it is written. ``make test-quick`` skips all four.
TIERS = {
    "tests/e2e/": "browser",
    "tests/joblib_suite/": "slow",
    "tests/test_bench": "slow",
    "tests/test_kernel": "kernel",
    "tests/test_pool_shutdown": "kernel",
    "tests/pandarallel_suite/": "slow",
    "tests/test_dask": "dask",
    "tests/test_bench_dask": "dask",
}
TIER_FIXTURES = {"kernel": "kernel", "client": "dask"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path.as_posix()
        marks = {mark for where, mark in TIERS.items() if where in path}
        marks |= {TIER_FIXTURES[name] for name in getattr(item, "fixturenames", ()) if name in TIER_FIXTURES}
        if "dask" in item.name.lower():  # a dask case of a test over backends, or a test named for dask
            marks.add("dask")
        for mark in sorted(marks - {m.name for m in item.iter_markers()}):
            item.add_marker(getattr(pytest.mark, mark))


def _is_tracker(proc: psutil.Process) -> bool:
    # loky's and multiprocessing's resource trackers live as long as this process
    # (they clean up shared memory and temp folders when it exits): not workers.
    try:
        return "resource_tracker" in " ".join(proc.cmdline())
    except psutil.Error:
        return True


def _children() -> set[int]:
    return {
        p.pid
        for p in psutil.Process().children(recursive=True)
        if p.is_running() and p.status() != psutil.STATUS_ZOMBIE and not _is_tracker(p)
    }


def _in_kernel_tree(pid: int) -> bool:
    # A test kernel's own workers are checked by the kernel fixture when it shuts
    # the kernel down (tests/test_kernel.py), not after every test.
    try:
        for proc in [psutil.Process(pid), *psutil.Process(pid).parents()]:
            if "ipykernel_launcher" in " ".join(proc.cmdline()):
                return True
    except psutil.Error:
        return False
    return False


def _stray_children() -> set[int]:
    """Child processes that are not the (intentionally reused) loky workers."""
    return {p for p in _children() - set(worker_pids()) if not _in_kernel_tree(p)}


@pytest.fixture
def ctrl_c_reaches_python() -> Iterator[None]:
    """SIGINT handled by Python (``KeyboardInterrupt``) for the test, as in a terminal or a kernel.

    A test that presses Ctrl-C with ``_thread.interrupt_main()`` needs it: a
    process that a non-interactive shell started in the background inherits
    SIGINT ignored, and ``interrupt_main`` then does nothing.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture(autouse=True)
def no_leaks():
    """Fail a test that leaves extra processes or nbparallel threads behind."""
    threads_before = set(threading.enumerate())
    stray_before = _stray_children()
    yield
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pool = set(get_backend("loky").pool_threads())  # live as long as the (intentionally reused) pool
        new_threads = [
            t
            for t in set(threading.enumerate()) - threads_before - pool
            if t.is_alive() and t.name.startswith("nbparallel")
        ]
        stray = _stray_children() - stray_before
        if not new_threads and not stray:
            return
        time.sleep(0.1)
    pytest.fail(f"leaked nbparallel threads {new_threads} or processes {sorted(stray)}")


@pytest.fixture(scope="session", autouse=True)
def no_workers_left_after_suite():
    """After the suite the pool is shut down and no child process survives."""
    yield
    nbp.shutdown()
    deadline = time.monotonic() + 15
    while _children() and time.monotonic() < deadline:
        time.sleep(0.1)
    left = _children()
    assert not left, f"processes left after the test suite: {sorted(left)}"


@pytest.fixture(scope="module")
def shell():
    """A real IPython shell (not a kernel) with nbparallel's magics loaded."""
    import sys

    from IPython.core.interactiveshell import InteractiveShell

    main = sys.modules["__main__"]  # the shell replaces it; spawned processes need the real one
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "nbparallel")
    yield ip
    ip.reset()
    InteractiveShell.clear_instance()
    sys.modules["__main__"] = main

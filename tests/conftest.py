"""Shared fixtures: leak checks for worker processes and threads."""

from __future__ import annotations

import threading
import time

import psutil
import pytest

import nbparallel as nbp
from nbparallel.backends import worker_pids


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


@pytest.fixture(autouse=True)
def no_leaks():
    """Fail a test that leaves extra processes or nbparallel threads behind."""
    threads_before = set(threading.enumerate())
    stray_before = _stray_children()
    yield
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        new_threads = [
            t for t in set(threading.enumerate()) - threads_before if t.is_alive() and t.name.startswith("nbparallel")
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

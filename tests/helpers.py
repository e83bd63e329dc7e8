"""Worker functions shared by tests (importable by worker processes)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child Python that imports what this one does (nbparallel, the tests), plus ``extra``."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **extra}


def spin(seconds: float) -> float:
    """Busy-wait in Python for ``seconds`` (interruptible between bytecodes)."""
    end = time.time() + seconds
    while time.time() < end:
        pass
    return seconds


def ignores_interrupts(seconds: float) -> float:
    """Busy-wait with SIGUSR1 ignored: stands in for native code that never returns to Python.

    Ignored process-wide (not masked in this thread): any thread of the worker,
    OpenMP's included, could otherwise take the signal and the handler would run.
    """
    previous = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    try:
        return spin(seconds)
    finally:
        signal.signal(signal.SIGUSR1, previous)


def noisy(x: int) -> int:
    """Prints each item and fails on item 5 (``KeyError``): errors and output in one chunk run."""
    print("seen", x)
    if x == 5:
        raise KeyError("five")
    return x


def fail_noisily(backend: str) -> BaseException:
    """Run :func:`noisy` over 8 items in 4 chunks on ``backend``; the error, checked to name its item and chunk."""
    import pytest

    import nbparallel as nbp

    with pytest.raises(KeyError) as info:
        nbp.pmap(noisy, range(8), chunks=4, n_jobs=2, backend=backend, progress=False)
    assert "item 5 (5) in chunk 2 of 4" in info.value.__notes__[0]
    return info.value


@contextlib.contextmanager
def local_cluster() -> Iterator[Any]:
    """The bench's real dask LocalCluster (2 worker processes, 1 thread each, on 127.0.0.1) and its Client.

    Its scratch space is a temporary folder removed afterwards; on the way out
    the cluster's processes are waited for (20 s at most): a test that leaves one fails.
    """
    import psutil

    from nbparallel.backends import worker_pids
    from nbparallel.bench.dask import cluster

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    try:
        with cluster(2) as client:
            yield client
    finally:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            left = {
                p.pid
                for p in psutil.Process().children(recursive=True)
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE
            } - before
            left = {
                p for p in left - set(worker_pids()) if "resource_tracker" not in " ".join(psutil.Process(p).cmdline())
            }
            if not left:
                break
            time.sleep(0.2)
        assert not left, f"cluster processes left: {left}"


def same(got: Any, expected: Any) -> None:
    """pandas' ``.equals`` plus what it does not look at: the kind, the names, the dtypes."""
    import pandas as pd

    assert type(got) is type(expected), (type(got), type(expected))
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
    elif isinstance(expected, pd.Series):
        pd.testing.assert_series_equal(got, expected, check_exact=True)
    assert got.equals(expected)

"""The worker pool is nbparallel's own: other loky users and nested calls do not disturb it.

A user's ``loky.get_reusable_executor`` and nbparallel's pool live side by side,
neither shutting the other down nor respawning it; a call made inside a worker
runs there, in-process, as joblib runs its nested calls.
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial

import joblib
import loky
import psutil
import pytest

import nbparallel as nbp
from nbparallel.backends import worker_pids


def _user_pids(ex: loky.ProcessPoolExecutor) -> list[int]:
    return sorted(p.pid for p in ex._processes.values() if p.is_alive())


@pytest.mark.parametrize("first", ["nbparallel", "user"])
def test_a_users_reusable_executor_and_the_pool_leave_each_other_alone(first):
    nbp.shutdown()
    if first == "nbparallel":  # started by a call in this thread (loky's singleton is one per thread)
        assert nbp.pmap(abs, [-1, -2, -3], n_jobs=2, progress=False) == [1, 2, 3]
    ex = loky.get_reusable_executor(max_workers=2)
    try:
        assert list(ex.map(abs, [-1, -2])) == [1, 2]
        assert nbp.pmap(abs, [-1, -2, -3], n_jobs=2, progress=False) == [1, 2, 3]
        ours, theirs = worker_pids(), _user_pids(ex)
        assert len(ours) == 2 and len(theirs) == 2 and not set(ours) & set(theirs)
        for _ in range(3):  # alternating calls respawn nobody
            assert list(ex.map(abs, [-3, -4])) == [3, 4]
            assert loky.get_reusable_executor(max_workers=2) is ex
            assert nbp.pmap(abs, [-4, 5, -6], n_jobs=2, progress=False) == [4, 5, 6]
            assert worker_pids() == ours
            assert _user_pids(ex) == theirs
    finally:
        ex.shutdown(wait=True, kill_workers=True)
    assert nbp.pmap(abs, [-7, 8], n_jobs=2, progress=False) == [7, 8]
    assert worker_pids() == ours  # the user's shutdown is the user's only


def _divide(x: int, y: int) -> float:
    return x / y


def _nested(x: int) -> tuple[list[float], list[int], int]:
    """In a worker: a parallel call, the pools it sees and the processes it started."""
    values = nbp.pmap(partial(_divide, x), [1, 2, 4, 8], n_jobs=2, progress=False)
    return values, worker_pids(), len(psutil.Process().children(recursive=True))


def _nested_error(x: int) -> tuple[str, str]:
    try:
        nbp.pmap(partial(_divide, x), [1, 0, 2], n_jobs=2, chunks=1, progress=False)
    except ZeroDivisionError as e:
        return type(e).__name__, str(e)
    return "no error", ""


def test_a_call_inside_a_worker_runs_in_that_worker():
    nbp.warm(2, wait=True)
    pool = worker_pids()
    got = nbp.pmap(_nested, [1, 2, 3], n_jobs=2, progress=False)
    assert [values for values, _, _ in got] == [[x / y for y in [1, 2, 4, 8]] for x in [1, 2, 3]]
    assert [(pids, children) for _, pids, children in got] == [([], 0)] * 3  # no pool in any worker
    assert worker_pids() == pool
    # its errors are those of the same call in this process, in one chunk
    with pytest.raises(ZeroDivisionError) as here:
        nbp.pmap(partial(_divide, 3), [1, 0, 2], n_jobs=1, chunks=1, progress=False)
    assert nbp.pmap(_nested_error, [3], n_jobs=2, progress=False) == [("ZeroDivisionError", str(here.value))]


def test_a_call_inside_a_joblib_task_on_the_nbparallel_backend_runs_there():
    with joblib.parallel_config(backend="nbparallel"):
        got = joblib.Parallel(n_jobs=2)(joblib.delayed(_nested)(x) for x in [1, 2, 3])
    assert [values for values, _, _ in got] == [[x / y for y in [1, 2, 4, 8]] for x in [1, 2, 3]]
    assert [(pids, children) for _, pids, children in got] == [([], 0)] * 3


NESTED_SCRIPT = """
import joblib
import nbparallel as nbp

def inner(x):
    return nbp.pmap(abs, [-x, x], n_jobs=2, progress=False)

if __name__ == "__main__":
    print(nbp.pmap(inner, [1, 2], n_jobs=2, progress=False))
    with joblib.parallel_config(backend="nbparallel"):
        print(joblib.Parallel(n_jobs=2)(joblib.delayed(inner)(x) for x in [3, 4]))
"""


def test_a_script_with_nested_calls_exits_without_warnings(tmp_path):
    script = tmp_path / "nested.py"
    script.write_text(NESTED_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, env={**os.environ}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[[1, 1], [2, 2]]", "[[3, 3], [4, 4]]"]
    assert done.stderr == ""  # no resource_tracker leak warnings


def test_a_pool_shut_down_has_released_its_queues_locks_in_the_callers_thread():
    # The queues' feeder threads used to end a moment after the pool and drop the queues'
    # semaphores there: at exit (or once a kernel's shutdown let the resource trackers go)
    # their unregistering was cut off, and the tracker printed "leaked semlock" warnings
    # (the script above, about one run in twenty).
    import threading

    for _ in range(4):
        assert nbp.pmap(abs, [-1, 2, -3], n_jobs=2, progress=False) == [1, 2, 3]
        nbp.shutdown()
        assert not [t for t in threading.enumerate() if t.name == "QueueFeederThread" and t.is_alive()]

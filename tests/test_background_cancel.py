"""``nbp.background`` (issue 34): joblib's default ``n_jobs`` inside the call, cancel that ends
pure-Python code, an honest status where code cannot be stopped, and the call's widget.

Timings are the kernel tests' (``tests/test_kernel_cancel.py``); these check behaviour.
"""

from __future__ import annotations

import os
import time

import joblib
import pytest
from joblib import Parallel, delayed

import nbparallel as nbp
from nbparallel.display.call_view import CallView, describe_call, make_call_view
from nbparallel.frontends import background as background_module
from nbparallel.frontends.background import default_n_jobs


def _pids(n: int) -> list[int]:
    return Parallel()(delayed(os.getpid)() for _ in range(n))  # n_jobs unset, as scikit-learn leaves it


def test_joblib_calls_without_n_jobs_run_on_the_workers_and_an_explicit_n_jobs_wins():
    def fn():
        return _pids(8), Parallel(n_jobs=1)(delayed(os.getpid)() for _ in range(2))

    call = nbp.background(fn)
    pooled, single = call.result(timeout=60)
    assert os.getpid() not in pooled  # in worker processes, not the kernel's thread
    assert single == [os.getpid()] * 2  # n_jobs=1 given: sequential, in the caller
    assert [job.n_jobs for job in call.jobs] == [default_n_jobs()] == [call.n_jobs]
    assert _pids(2) == [os.getpid()] * 2  # outside the call, joblib's own default (sequential) is untouched
    assert joblib.parallel.get_active_backend()[0].__class__.__name__ != "NbparallelBackend"


def test_the_label_says_what_runs():
    from sklearn.model_selection import GridSearchCV
    from sklearn.tree import DecisionTreeClassifier

    search = GridSearchCV(DecisionTreeClassifier(), {"max_depth": [1]}, cv=2)
    call = nbp.background(search.fit, [[0], [1], [0], [1]], [0, 1, 0, 1])
    assert call.label == "GridSearchCV.fit"
    call.result(timeout=60)
    assert call.status == "done" and "GridSearchCV.fit done" in repr(call)


def spin_forever() -> None:
    while True:
        try:
            sum(range(1000))
        except Exception:  # user code that swallows errors does not swallow the cancel
            pass


def test_cancel_ends_pure_python_code_outside_joblib():
    call = nbp.background(spin_forever)
    time.sleep(0.2)
    assert call.cancel()
    with pytest.raises(nbp.JobCancelled, match=r"background call \d+ \(spin_forever\) was cancelled$"):
        call.result()  # at once: no timeout needed
    call._thread.join(10)
    assert call.status == "cancelled" and not call._thread.is_alive()
    assert not call.cancel()  # ended already


def test_code_python_cannot_interrupt_is_reported_and_ends_cancelled_when_it_returns():
    call = nbp.background(time.sleep, 1.5)
    time.sleep(0.1)
    assert call.cancel()
    assert call.status == "cancelling" and call.done()
    with pytest.raises(nbp.JobCancelled, match="inside code Python cannot interrupt"):
        call.result()
    assert "cannot" in describe_call(call)
    call._thread.join(10)
    assert call.status == "cancelled"


def test_cancel_stops_the_workers_of_a_call_stuck_outside_python():
    def fn():
        Parallel(n_jobs=2, batch_size=1)(delayed(time.sleep)(0.3) for _ in range(200))

    call = nbp.background(fn)
    deadline = time.monotonic() + 20
    while not (call.jobs and call.jobs[-1].n_done) and time.monotonic() < deadline:
        time.sleep(0.02)
    call.cancel()
    call._thread.join(10)
    assert call.status == "cancelled" and all(job.status == "cancelled" for job in call.jobs)
    assert nbp.pmap(abs, [-1, -2], n_jobs=2, progress=False) == [1, 2]


def test_the_call_view_hosts_its_joblib_calls_and_shows_how_it_ended(capsys):
    assert make_call_view(nbp.background(int)) is None  # outside a kernel: the handle prints its repr
    background_module.install_view(CallView)
    try:
        with nbp.config(progress="widget"):
            call = nbp.background(_pids, 4)
            call.result(timeout=60)
    finally:
        background_module.install_view(make_call_view)
    call._thread.join(10)
    view = call._view
    assert isinstance(view, CallView)
    assert [w.children[0].children[0].value for w in view.calls.children] == ["<b>getpid</b>"]
    assert view.text.value.startswith("done in ") and view.text.value.endswith("1 joblib call")
    assert view.button.disabled and view.button.description == "done"
    assert "VBox" in capsys.readouterr().out  # displayed once, at the start


def test_a_call_that_cancels_itself_ends_cancelled():
    holder: list = []

    def fn():
        while not holder:
            time.sleep(0.01)
        holder[0].cancel()
        return _pids(2)  # its next joblib call is refused

    call = nbp.background(fn)
    holder.append(call)
    with pytest.raises(nbp.JobCancelled):
        call.result(timeout=30)
    call._thread.join(10)
    assert call.status == "cancelled"

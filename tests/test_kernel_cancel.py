"""Cancel that works, in a real kernel (issue 34): the widget's click on a busy foreground
call, and ``nbp.background`` with scikit-learn's ``n_jobs`` left unset.

The front end is played through ``jupyter_client`` as JupyterLab 4.4+ plays it:
widget messages go over a kernel subshell (``create_subshell_request`` on the
control channel, then ``subshell_id`` in the header).  ``tests/e2e`` clicks the
same buttons in a real JupyterLab.

The timing bounds (1 s to cancel, 0.5 s to return) are the issue's acceptance
criteria, user-visible latencies, so they are asserted; the host runs many test
sessions at once, so each is measured in the kernel around the one step it bounds.
"""

from __future__ import annotations

import time

import pytest
from jupyter_client.manager import start_new_kernel

from tests.test_kernel import WIDGET_MIME, check, run, stdout

SLOW = """
import time, os
import numpy as np
import nbparallel as nbp
from nbparallel.backends import worker_pids
nbp.warm(2, wait=True)

def slow(x):
    time.sleep(0.5)
    return x * 2
"""


@pytest.fixture
def kernel():
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        yield km, kc
    finally:
        try:
            run(kc, "import nbparallel as nbp\nnbp.shutdown()", timeout=60)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)


def _subshell(kc) -> str:
    """Open a subshell, as JupyterLab does for widget messages."""
    kc.control_channel.send(kc.session.msg("create_subshell_request", {}))
    return kc.get_control_msg(timeout=30)["content"]["subshell_id"]


def _click(kc, comm_id: str, subshell_id: str | None) -> None:
    msg = kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {"method": "custom", "content": {"event": "click"}}})
    if subshell_id is not None:
        msg["header"]["subshell_id"] = subshell_id
    kc.shell_channel.send(msg)


def _reply_to(kc, msg_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        reply = kc.get_shell_msg(timeout=max(deadline - time.monotonic(), 0.1))
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply


def _states(kc, until, timeout: float = 60):
    """Widget states from iopub (comm_open and comm_msg updates) until ``until(comm_id, state)`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.1))
        if msg["msg_type"] in ("comm_open", "comm_msg"):
            state = msg["content"]["data"].get("state", {})
            if until(msg["content"]["comm_id"], state):
                return
    raise AssertionError("the widget never reached the state waited for")


def test_the_button_says_how_to_stop_where_a_click_cannot_reach_the_busy_kernel(kernel):
    _, kc = kernel
    code = """
from nbparallel.display.progress import WidgetProgress
from nbparallel.jobs.state import ProgressState
shown = []
w = WidgetProgress(10, 2, busy=True, display=shown.append)
print(repr(w.button.description), w.button.disabled)
"""
    reply, outputs = run(kc, code)
    check(reply, outputs)
    # No subshell yet: this front end sends clicks to the busy shell, so the button says how to stop instead.
    assert stdout(outputs).strip() == "'Stop: ■ or I,I' True"
    _subshell(kc)  # the front end now sends widget messages over a subshell
    reply, outputs = run(
        kc, 'w.update(ProgressState("running", 1, 10, 1, 2, 0, 1.0))\nprint(w.button.description, w.button.disabled)'
    )
    check(reply, outputs)
    assert stdout(outputs).strip() == "Cancel False"
    reply, outputs = run(kc, "b = WidgetProgress(10, 2, busy=False, display=shown.append).button\nprint(b.description)")
    assert stdout(outputs).strip() == "Cancel"  # a background job's button is always a Cancel button


def test_a_click_on_cancel_ends_a_busy_foreground_call_within_a_second(kernel):
    _, kc = kernel
    check(*run(kc, SLOW + "before = worker_pids()"))
    subshell = _subshell(kc)
    # The cell ends with an error (JobCancelled): without stop_on_error=False, ipykernel may abort
    # the next request if it arrives while the kernel still aborts the queue after that error.
    msg_id = kc.execute("began = time.monotonic()\nr = nbp.pmap(slow, range(40), n_jobs=2)", stop_on_error=False)
    button: list[str] = []

    def finished_a_chunk(comm_id, state):
        if state.get("_model_name") == "ButtonModel":
            button.append(comm_id)
        text = state.get("value")
        return (
            bool(button) and isinstance(text, str) and text.startswith("chunks ") and not text.startswith("chunks 0/")
        )

    _states(kc, finished_a_chunk)
    _click(kc, button[0], subshell)
    clicked = time.monotonic()
    reply = _reply_to(kc, msg_id)
    took = time.monotonic() - clicked
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "JobCancelled", reply["content"]
    # The bound (typically 0.1-0.4 s here; the host is shared by many test sessions).
    assert took < 1.0, f"the cell ended {took:.2f} s after the click"
    reply, outputs = run(
        kc,
        """
job = nbp.last_job()
part = job.partial_result()
print(job.status, len(part.value) > 0, part.value == [2 * x for a, b in part.items for x in range(a, b)])
print(worker_pids() == before, nbp.pmap(abs, [-1, -2], n_jobs=2, progress=False))
""",
    )
    check(reply, outputs)
    assert stdout(outputs).split("\n")[:2] == ["cancelled True True", "True [1, 2]"]


GRID = """
import time, os, joblib, psutil
import numpy as np
import nbparallel as nbp
from nbparallel.backends import worker_pids
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GridSearchCV
nbp.warm(2, wait=True)

class Slow(ClassifierMixin, BaseEstimator):
    def __init__(self, seconds=1.0):
        self.seconds = seconds
    def fit(self, X, y):
        end = time.time() + self.seconds
        while time.time() < end:
            pass
        self.classes_ = np.unique(y)
        return self
    def predict(self, X):
        return np.full(len(X), self.classes_[0])

X = np.random.default_rng(0).random((40, 3)); y = np.arange(40) % 2
grid = {"seconds": [1.0, 1.01, 1.02, 1.03, 1.04, 1.05]}
"""


def test_background_grid_search_with_n_jobs_unset_runs_on_the_workers_and_cancels(kernel):
    _, kc = kernel
    check(*run(kc, GRID))
    reply, outputs = run(
        kc,
        """
began = time.perf_counter()
job = nbp.background(GridSearchCV(Slow(), grid, cv=2).fit, X, y)
returned = time.perf_counter() - began
""",
    )
    check(reply, outputs)
    views = [m for m in outputs if m["msg_type"] == "display_data" and WIDGET_MIME in m["content"]["data"]]
    assert views, "the call showed no widget in the cell that started it"
    reply, outputs = run(
        kc,
        """
deadline = time.monotonic() + 30
while not (job.jobs and job.jobs[-1].n_done) and time.monotonic() < deadline:
    time.sleep(0.05)  # a fit has finished
kernel = psutil.Process()
kernel.cpu_percent(None)
busy = [psutil.Process(p) for p in worker_pids()]
for p in busy: p.cpu_percent(None)
time.sleep(2.0)
print(returned < 0.5, round(returned, 2))
mine, theirs = kernel.cpu_percent(None), sum(p.cpu_percent(None) for p in busy)
print(mine < 10, theirs > 2 * mine, job.status, job.n_jobs, job.jobs[-1].backend.processes, mine, theirs)
""",
    )
    check(reply, outputs)
    lines = stdout(outputs).split("\n")
    # The bounds: the cell returns in 0.5 s, the kernel stays under 10% CPU: the fits run on the
    # 2 workers (which, on this shared host, get what CPU the other sessions leave them).
    assert lines[0].startswith("True"), lines
    assert lines[1].startswith("True True running 2 True"), lines
    reply, outputs = run(
        kc,
        """
began = time.perf_counter()
job.cancel()
try:
    job.result()
except nbp.JobCancelled:
    raised = time.perf_counter() - began
while job.status != "cancelled" and time.perf_counter() - began < 10:
    time.sleep(0.01)
print(raised < 1.0, time.perf_counter() - began < 1.0, job.status)
print(nbp.pmap(abs, [-1, -2], n_jobs=2, progress=False))
""",
    )
    check(reply, outputs)
    assert stdout(outputs).split("\n")[:2] == ["True True cancelled", "[1, 2]"]


def test_cancel_stops_pure_python_and_says_when_code_cannot_be_stopped(kernel):
    _, kc = kernel
    reply, outputs = run(
        kc,
        """
import time, threading
import nbparallel as nbp

def spin():
    while True:
        pass

call = nbp.background(spin)
time.sleep(0.3)
began = time.perf_counter()
call.cancel()
try:
    call.result()
except nbp.JobCancelled as exc:
    print(type(exc).__name__, time.perf_counter() - began < 1.0, call.status)

stuck = nbp.background(time.sleep, 3.0)
time.sleep(0.3)
stuck.cancel()
print(stuck.status, stuck.done())
try:
    stuck.result()
except nbp.JobCancelled as exc:
    print("cannot interrupt" in str(exc))
stuck._thread.join(10)
print(stuck.status)
""",
    )
    check(reply, outputs)
    assert stdout(outputs).split("\n")[:4] == ["JobCancelled True cancelled", "cancelling True", "True", "cancelled"]

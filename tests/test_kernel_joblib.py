"""scikit-learn's n_jobs through the nbparallel joblib backend, in a real Jupyter kernel:
the widget with worker output in the cell, Ctrl-C that stops the workers, nbp.background and cancel."""

from __future__ import annotations

import time

from tests import test_kernel
from tests.test_kernel import WIDGET_MIME, WORKERS_IDLE, check, run, stdout

kernel = test_kernel.kernel  # the same fixture: a kernel of this module's own

#: A GridSearchCV whose fits print and take ``SLOW`` seconds each (defined in the notebook, as a user would).
SETUP = """
import time, joblib
import numpy as np
import nbparallel as nbp
from nbparallel.backends import worker_pids
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GridSearchCV

class Slow(ClassifierMixin, BaseEstimator):
    def __init__(self, seconds=0.3):
        self.seconds = seconds
    def fit(self, X, y):
        print("fitting", self.seconds)
        end = time.time() + self.seconds
        while time.time() < end:
            pass
        self.classes_ = np.unique(y)
        return self
    def predict(self, X):
        return np.full(len(X), self.classes_[0])

X = np.random.default_rng(0).random((60, 3)); y = np.arange(60) % 2
"""


def test_grid_search_shows_the_widget_and_worker_output(kernel):
    _, kc = kernel
    reply, outputs = run(
        kc,
        SETUP
        + """
with joblib.parallel_config(backend="nbparallel"):
    search = GridSearchCV(Slow(), {"seconds": [0.5, 0.51, 0.52, 0.53]}, cv=2, n_jobs=2).fit(X, y)
print("best", search.best_params_)
""",
    )
    check(reply, outputs)
    kinds = [(m["msg_type"], list(m["content"].get("data", {}))) for m in outputs]
    assert any(WIDGET_MIME in m["content"].get("data", {}) for m in outputs if m["msg_type"] == "display_data"), kinds
    text = stdout(outputs)
    assert "fitting 0.5" in text and "best {'seconds'" in text, text


def test_ctrl_c_during_a_grid_search_returns_at_once_and_stops_the_workers(kernel):
    km, kc = kernel
    check(*run(kc, SETUP))
    msg_id = kc.execute(
        """
with joblib.parallel_config(backend="nbparallel"):
    GridSearchCV(Slow(), {"seconds": [5.0, 5.1, 5.2, 5.3]}, cv=3, n_jobs=2).fit(X, y)
"""
    )
    time.sleep(2.5)
    km.interrupt_kernel()
    interrupted = time.monotonic()
    reply = kc.get_shell_msg(timeout=30)
    took = time.monotonic() - interrupted
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] in (
        "KeyboardInterrupt",
        "JobInterrupted",
    )
    # Typically 0.1-0.5 s (IPython formatting the traceback is most of it); the bound allows a loaded machine.
    assert took < 3.0, f"the interrupt took {took:.1f} s to return"
    reply, outputs = run(
        kc,
        WORKERS_IDLE
        + """
began = time.perf_counter()
with joblib.parallel_config(backend="nbparallel"):
    joblib.Parallel(n_jobs=2)(joblib.delayed(abs)(-i) for i in range(4))
print(idle, time.perf_counter() - began < 2)
""",
    )
    check(reply, outputs)
    assert stdout(outputs).split()[-2:] == ["True", "True"]


def test_background_fit_leaves_the_kernel_free_and_returns_the_search(kernel):
    _, kc = kernel
    reply, outputs = run(
        kc,
        SETUP
        + """
began = time.perf_counter()
search = GridSearchCV(Slow(), {"seconds": [0.4, 0.41, 0.42]}, cv=2, n_jobs=2)
job = nbp.background(search.fit, X, y)
print("returned", time.perf_counter() - began < 0.5)
""",
    )
    check(reply, outputs)
    assert "returned True" in stdout(outputs)
    reply, outputs = run(kc, "print('other cell', 1 + 1)")
    assert "other cell 2" in stdout(outputs)
    reply, outputs = run(kc, "fitted = job.result(timeout=60)\nprint(fitted is search, job.status)")
    check(reply, outputs)
    assert stdout(outputs).strip().endswith("True done")


def test_background_cancel_stops_the_tasks_and_the_pool_survives(kernel):
    _, kc = kernel
    check(*run(kc, SETUP))
    check(
        *run(
            kc,
            """
job = nbp.background(GridSearchCV(Slow(), {"seconds": [3.0, 3.1, 3.2, 3.3]}, cv=3, n_jobs=2).fit, X, y)
deadline = time.monotonic() + 20
while not job.jobs and time.monotonic() < deadline:
    time.sleep(0.05)
time.sleep(1.0)
""",
        )
    )
    reply, outputs = run(
        kc,
        """
began = time.perf_counter()
job.cancel()
try:
    job.result(timeout=20)
except nbp.JobCancelled:
    print("cancelled", time.perf_counter() - began < 4)
"""
        + WORKERS_IDLE
        + """
print(idle, nbp.pmap(abs, [-1, -2], n_jobs=2, progress=False))
""",
    )
    check(reply, outputs)
    assert "cancelled True" in stdout(outputs)
    assert stdout(outputs).strip().endswith("True [1, 2]")

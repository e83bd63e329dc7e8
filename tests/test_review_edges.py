"""Edges found by a hostile second read of the Execution refactor (issue 33) and issues 32, 34, 39.

Each case compares nbparallel with the same code without it (the sequential
loop, or ``joblib.Parallel`` on loky).
"""

from __future__ import annotations

import pytest

import nbparallel as nbp


def _slow(x):
    import time

    time.sleep(0.05)
    return x * x


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_an_observer_that_raises_does_not_leave_the_job_running(backend, capsys):
    # job.subscribe is public; observers are told where chunks end. One that raised
    # stopped the chunks after it from being sent and the job never finished.
    job = nbp.pmap(_slow, range(6), n_jobs=2, chunks=6, backend=backend, background=True, progress=False)
    job.subscribe(lambda outcome: 1 / 0)
    assert job.result(timeout=30) == [_slow(x) for x in range(6)]
    assert (job.status, job.n_done, job.n_total) == ("done", 6, 6)
    assert "ZeroDivisionError" in capsys.readouterr().err


def _slow_first_time(x, marker):
    import os
    import time

    if x == 1:
        if not os.path.exists(marker):
            open(marker, "w").close()
            time.sleep(60)  # the first run times out
        time.sleep(2.0)  # the second is under the timeout
    return x


def test_a_chunk_run_again_after_its_timeout_gets_a_timeout_of_its_own(tmp_path):
    # The supervisor remembered "interrupted" per (job, chunk), so the chunk's second run
    # (retries=) was killed 1.5 s after the first run's interrupt, well under its timeout,
    # and reported as having ignored the interrupt.
    marker = str(tmp_path / "ran")
    got = nbp.pmap(_slow_first_time, range(3), [marker] * 3, n_jobs=2, chunks=3, timeout=3, retries=1, progress=False)
    assert got == [0, 1, 2]


class SlowToPickle:
    """A function that takes a while to pack (as a large closure or model does)."""

    def __call__(self, x):
        return x

    def __reduce__(self):
        import time

        time.sleep(1.5)
        return (SlowToPickle, ())


def test_a_cancel_while_the_job_is_being_prepared_is_not_lost():
    # The job said "running" while its function was packed, but cancel() returned False
    # (no attempt yet) and the job ran to the end: a Cancel click or a newer %%parallel
    # run was ignored.
    import threading
    import time

    asked: dict[str, object] = {}

    def cancel_while_packing():
        time.sleep(0.5)
        job = nbp.last_job()
        asked["status"], asked["cancelled"] = job.status, job.cancel()

    thread = threading.Thread(target=cancel_while_packing)
    thread.start()
    job = nbp.pmap(SlowToPickle(), range(4), n_jobs=2, chunks=4, background=True, progress=False)
    thread.join()
    assert job.wait(30)
    assert asked == {"status": "running", "cancelled": True}
    assert job.status == "cancelled"
    with pytest.raises(nbp.JobCancelled):
        job.result()
    assert job.retry_failed(lambda x: x) == list(range(4))


class InterruptedWhilePacked:
    """A function whose packing is interrupted: what Ctrl-C does while a large closure is pickled."""

    def __call__(self, x):
        return x

    def __reduce__(self):
        raise KeyboardInterrupt


def test_ctrl_c_while_a_call_is_prepared_is_an_interrupt_and_a_cancel():
    # It was a bare KeyboardInterrupt from inside the pickler and the job "failed" with
    # it as its error (job.result() raised KeyboardInterrupt); while the first chunks
    # were sent, those kept running. It is what Ctrl-C while waiting is: JobInterrupted,
    # the job cancelled, retry_failed runs it.
    caught: BaseException | None = None
    try:  # caught here, not by pytest.raises: a bare KeyboardInterrupt would stop the test session
        nbp.pmap(InterruptedWhilePacked(), range(4), n_jobs=2, chunks=4, progress=False)
    except KeyboardInterrupt as exc:
        caught = exc
    assert isinstance(caught, nbp.JobInterrupted), repr(caught)
    assert "interrupted" in str(caught)
    job = nbp.last_job()
    assert job.status == "cancelled"
    with pytest.raises(nbp.JobCancelled):
        job.result()
    assert job.retry_failed(lambda x: x) == list(range(4))


def _fails_on_2(x):
    if x == 2:
        raise ValueError("two")
    return x


def test_a_done_callback_may_wait_on_nbparallel():
    # Done-callbacks ran in the thread that delivers the pool's results: one that called
    # retry_failed() (or any foreground call) waited on itself, and every later call hung.
    import threading

    got: dict[str, object] = {}
    called = threading.Event()

    def retry_when_failed(job):
        try:
            got["retried"] = job.retry_failed(lambda x: -x)
        finally:
            called.set()

    job = nbp.pmap(_fails_on_2, range(4), n_jobs=2, chunks=4, background=True, progress=False)
    job.add_done_callback(retry_when_failed)
    assert called.wait(60)
    assert got == {"retried": [0, 1, -2, 3]}
    assert nbp.pmap(abs, [-1, -2], n_jobs=2, progress=False) == [1, 2]

"""Background jobs: returned at once, correct results, cancel, callbacks, await, many at once."""

from __future__ import annotations

import asyncio
import time

import psutil
import pytest
from helpers import ignores_interrupts, spin

import nbparallel as nbp
from nbparallel.backends import worker_pids

BACKENDS = ["loky", "threading"]


busy = spin


def slow_square(x):
    time.sleep(0.05)
    return x * x


@pytest.mark.parametrize("backend", BACKENDS)
def test_background_returns_a_running_job_then_the_result(backend):
    job = nbp.pmap(slow_square, range(40), chunks=8, n_jobs=2, backend=backend, background=True, progress=False)
    assert isinstance(job, nbp.Job)
    assert job.status == "running" and not job.done()
    assert job.result(timeout=60) == [x * x for x in range(40)]
    assert job.status == "done" and job.n_done == job.n_total == 8
    assert job.elapsed > 0 and job.eta == 0.0


def test_result_timeout_says_how_far_it_got():
    job = nbp.pmap(busy, [1.0, 1.0], chunks=2, background=True, progress=False)
    with pytest.raises(TimeoutError, match=r"still running after 0.05 s \(0/2 chunks\)"):
        job.result(timeout=0.05)
    assert job.result() == [1.0, 1.0]


def test_done_callback_and_await():
    seen = []
    job = nbp.pmap_chunks(sum, list(range(100)), merge="sum", background=True, progress=False)
    job.add_done_callback(lambda j: seen.append(j.status))

    async def main():
        return await job

    assert asyncio.run(main()) == 4950
    assert seen == ["done"]
    late = []
    job.add_done_callback(lambda j: late.append(j.status))  # already done: called at once
    assert late == ["done"]


def test_an_await_given_up_on_leaves_the_job_awaitable(capfd):
    # asyncio.wait_for cancels what it awaited when its time is up: that must not cancel the job's
    # "settled" future, which the job resolves when it ends (it raised InvalidStateError there, in the
    # thread that ended the job, and every later await of the job raised CancelledError).
    job = nbp.pmap(busy, [0.3, 0.3], chunks=2, n_jobs=2, background=True, progress=False)

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(job, 0.05)
        return await job

    assert asyncio.run(main()) == [0.3, 0.3]
    assert job.status == "done"
    assert "InvalidStateError" not in capfd.readouterr().err


def test_background_failure_keeps_finished_chunks():
    def fails_on_5(x):
        if x == 5:
            raise ValueError("five")
        return x

    job = nbp.pmap(fails_on_5, range(10), chunks=10, n_jobs=1, background=True, progress=False)
    with pytest.raises(ValueError, match="item 5"):
        job.result()
    assert job.status == "failed"
    assert [e.index for e in job.errors] == [5]
    assert all(o.ok for i, o in job.outcomes.items() if i != 5)


def test_worker_output_is_kept_on_a_background_job(capsys):
    job = nbp.pmap(lambda x: print("hello", x), range(4), chunks=2, background=True, progress=False)
    job.result()
    assert job.output == "[chunk 0] hello 0\n[chunk 0] hello 1\n[chunk 1] hello 2\n[chunk 1] hello 3\n"
    # a background job never writes into whatever is running in the caller
    assert "hello" not in capsys.readouterr().out


@pytest.mark.parametrize("backend", BACKENDS)
def test_cancel_stops_running_chunks_and_keeps_finished_ones(backend):
    nbp.pmap(abs, range(4), n_jobs=2, progress=False)  # warm pool
    pool_before = worker_pids()
    # chunk 0 is quick, the others would run for a minute each
    job = nbp.pmap(busy, [0.01] + [60.0] * 5, chunks=6, n_jobs=2, backend=backend, background=True, progress=False)
    deadline = time.monotonic() + 10
    while 0 not in job.outcomes and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # the long chunks are now running
    asked = time.monotonic()
    assert job.cancel() is True
    job.wait(10)
    assert time.monotonic() - asked < 2.0, "running chunks must stop within 2 seconds"
    assert job.status == "cancelled"
    assert job.outcomes[0].ok and job.outcomes[0].value == [0.01]
    with pytest.raises(nbp.JobCancelled, match="cancelled after 1 of 6 chunks finished"):
        job.result()
    assert job.cancel() is False  # already finished
    # the workers were interrupted, not killed, and compute nothing now
    assert worker_pids() == pool_before
    if backend == "loky":
        procs = [psutil.Process(pid) for pid in pool_before]
        for proc in procs:
            proc.cpu_percent(None)
        time.sleep(0.5)
        assert all(proc.cpu_percent(None) < 30 for proc in procs)
    # and the next call works at once on the same pool
    assert nbp.pmap(abs, range(-4, 0), n_jobs=2, backend=backend, progress=False) == [4, 3, 2, 1]


def test_cancel_kills_a_chunk_that_ignores_the_interrupt_and_other_jobs_survive():
    nbp.pmap(abs, range(4), n_jobs=2, progress=False)
    bystander = nbp.pmap(slow_square, range(60), chunks=30, n_jobs=2, background=True, progress=False)
    stuck = nbp.pmap(ignores_interrupts, [60.0, 60.0], chunks=2, n_jobs=2, background=True, progress=False)
    time.sleep(0.8)
    stuck.cancel()
    stuck.wait(15)
    assert stuck.status == "cancelled"
    assert bystander.result(timeout=120) == [x * x for x in range(60)]
    assert nbp.pmap(abs, [-1], progress=False) == [1]


def test_twenty_jobs_at_once():
    jobs = [
        nbp.pmap(slow_square, range(i, i + 10), chunks=3, n_jobs=2, background=True, progress=False) for i in range(20)
    ]
    for i, job in enumerate(jobs):
        assert job.result(timeout=120) == [x * x for x in range(i, i + 10)]
    assert all(job.status == "done" for job in jobs)


def test_job_repr_and_registry():
    job = nbp.pmap(abs, [-1, -2], background=True, progress=False)
    job.result()
    assert f"<nbparallel.Job {job.id} abs done: 2/2 chunks, 2 items" in repr(job)
    assert nbp.jobs()[-1] is job


@pytest.mark.usefixtures("ctrl_c_reaches_python")
def test_an_interrupt_as_the_job_ends_leaves_other_waiters_woken():
    # Ctrl-C reaches the main thread's job.wait() just as the job ends: the interrupt is
    # raised right after its wait got the end; other threads waiting on the job still wake.
    import _thread
    import threading

    for _ in range(3):
        release = threading.Event()
        job = nbp.pmap(release.wait, [30], n_jobs=1, backend="threading", background=True, progress=False)
        waiters = [threading.Thread(target=job.wait, daemon=True) for _ in range(3)]

        def end(waiters=waiters, release=release):
            time.sleep(0.05)  # the main thread waits first
            for t in waiters:
                t.start()
            time.sleep(0.05)
            _thread.interrupt_main()  # pending until the main thread's wait returns
            release.set()

        threading.Thread(target=end).start()
        with pytest.raises(KeyboardInterrupt):
            job.wait()
        for t in waiters:
            t.join(10)
        assert not any(t.is_alive() for t in waiters)
        assert job.result() == [True]

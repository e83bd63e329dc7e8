"""Issue 39: streams that finish with every display, inputs that raise mid-way, and the small edges
(the dask Client going away, the report's advice, %nbparallel's arguments, empty calls, retries' names).

Every ``imap`` here runs with its display on: the default (``progress`` unset)
unless a test is about another mode.  A test that hangs fails with a stack dump
(``faulthandler``) instead of stalling the suite.
"""

from __future__ import annotations

import faulthandler
import itertools
import subprocess
import sys
import time

import pytest

import nbparallel as nbp
from tests.helpers import child_env, local_cluster, spin

#: Seconds a test here may take before it counts as hung (dumps every thread's stack, exits).
HUNG_AFTER = 240

MODES = [None, True, "tqdm", "widget", False]


@pytest.fixture(autouse=True)
def hang_is_a_failure():
    faulthandler.dump_traceback_later(HUNG_AFTER, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def square(x):
    return x * x


def fails_on_3(x):
    if x % 5 == 3:
        raise ValueError(f"bad item {x}")
    return x


def raises_at(n):
    """A generator of ``0..n-1`` that then raises ``RuntimeError`` (a file that breaks mid-way)."""
    yield from range(n)
    raise RuntimeError(f"input broke after {n} items")


# -- imap ends --------------------------------------------------------------------------------
def test_imap_with_its_default_options_ends_in_a_script():
    code = "import nbparallel as nbp\nif __name__ == '__main__':\n    print(list(nbp.imap(abs, [-1, -2, -3])))\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=child_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[1, 2, 3]\n"


@pytest.mark.parametrize("ordered", [True, False])
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("progress", MODES)
def test_imap_ends_with_every_display_mode(progress, n_jobs, ordered):
    data = list(range(-40, 40))
    out = list(nbp.imap(square, data, n_jobs=n_jobs, ordered=ordered, progress=progress))
    want = list(map(square, data))
    assert out == want if ordered else sorted(out) == sorted(want)


@pytest.mark.parametrize("progress", MODES)
def test_imap_collecting_errors_ends_with_every_display_mode(progress):
    out = list(nbp.imap(fails_on_3, range(20), n_jobs=2, errors="collect", progress=progress))
    assert [v for v in out if not isinstance(v, nbp.Failed)] == [x for x in range(20) if x % 5 != 3]
    failed = [v for v in out if isinstance(v, nbp.Failed)]
    assert [(f.index, type(f.exception), str(f.exception)) for f in failed] == [
        (i, ValueError, f"bad item {i}") for i in (3, 8, 13, 18)
    ]


@pytest.mark.parametrize("progress", MODES)
def test_a_stream_that_fails_raises_the_worker_error_with_every_display_mode(progress):
    seen = []
    with pytest.raises(ValueError, match="bad item 3"):
        for value in nbp.imap(fails_on_3, range(20), n_jobs=1, chunk_size=1, progress=progress):
            seen.append(value)
    assert seen == [0, 1, 2]


def test_the_display_end_is_a_state_not_an_event():
    """Whoever sees the end first (pump, drain or run), every later call knows the job has ended."""
    from nbparallel.display.follow import Display

    job = nbp.pmap(abs, [-1, -2], n_jobs=1, background=True, progress=False)
    display = Display(job, background=False)  # subscribed late: it gets the end event at once
    job.wait(30)
    assert display.pump(1.0) is True
    assert display.drain() is True and display.pump(0.0) is True and display.ended
    display.run()  # returns: the end was shown already


# -- an input that raises mid-way ---------------------------------------------------------------
@pytest.mark.parametrize("ordered", [True, False])
def test_imap_yields_every_item_read_before_the_input_raised(ordered):
    seen = []
    with pytest.raises(RuntimeError) as info:
        for value in nbp.imap(square, raises_at(50), n_jobs=2, ordered=ordered):
            seen.append(value)
    with pytest.raises(RuntimeError) as plain:
        list(map(square, raises_at(50)))
    assert str(info.value) == str(plain.value)
    assert (seen if ordered else sorted(seen)) == [square(i) for i in range(50)]


@pytest.mark.parametrize("n", [1, 7, 50])
def test_pmap_keeps_every_item_read_before_the_input_raised(n):
    job = nbp.pmap(square, raises_at(n), n_jobs=2, background=True)
    with pytest.raises(RuntimeError, match=f"input broke after {n} items"):
        job.result(60)
    part = job.partial_result()
    assert part.value == [square(i) for i in range(n)]
    assert part.items == [(0, n)] and part.missing == []
    assert job.n_done == job.n_total == job.n_ok + 1  # the read that raised is the one failed chunk


def test_items_read_and_not_computed_are_named_missing():
    job = nbp.pmap(fails_on_3, iter(range(40)), n_jobs=2, chunk_size=2, background=True)
    with pytest.raises(ValueError, match="bad item 3"):
        job.result(60)
    part = job.partial_result()
    covered = sorted(part.items + part.missing)
    assert covered[0][0] == 0 and covered[-1][1] == job.n_items  # every item read is in one list or the other
    assert all(a[1] == b[0] for a, b in itertools.pairwise(covered))
    assert (2, 4) in part.missing  # the failed chunk's items


# -- the small ones ----------------------------------------------------------------------------
@pytest.mark.parametrize("learned", [False, True])
def test_an_empty_background_call_records_no_chunk(learned):
    def neg(x):
        return -x

    if learned:  # its items were cheap last time: the one-chunk-per-worker plan
        for _ in range(3):
            nbp.pmap(neg, range(4000), n_jobs=2)
        assert nbp.pmap(neg, [], n_jobs=2) == []
    job = nbp.pmap(neg, [], background=True)
    assert job.result(30) == []
    assert job.n_total == 0 and len(job.timeline()) == 0
    assert job.report().n_chunks == 0


def test_the_report_keeps_the_jobs_name_after_a_retry_with_a_new_function():
    def brittle(x):
        return 1 // x

    job = nbp.pmap(brittle, [1, 2, 0], chunks=3, n_jobs=1, background=True, progress=False)
    with pytest.raises(ZeroDivisionError):
        job.result(30)
    assert job.retry_failed(lambda x: x) == [brittle(1), brittle(2), 0]
    assert job.label == "brittle" and job.report().label == "brittle"


def test_advice_never_names_a_chunk_larger_than_the_input():
    from nbparallel.insights.report import advise
    from nbparallel.insights.timeline import ChunkRecord

    def ran(i, busy=1e-5):
        return ChunkRecord(i, 1, f"pid {i % 2}", i % 2, i, i + 1, 0.0, 0.0, busy, busy, 0.0, busy, 0.0, 0, 0, "ok")

    tiny = advise([ran(i) for i in range(6)], 0.05, 2)  # 60 us of work in all
    assert [a.kind for a in tiny] == ["small-chunks"]
    assert "chunk_size" not in tiny[0].text and "a plain loop, or n_jobs=1, is quicker" in tiny[0].text
    [more] = advise([ran(i, busy=0.004) for i in range(60)], 0.4, 2)  # 0.24 s of work in 4 ms items
    assert "pass chunk_size=25 " in more.text  # 0.1 s of work, within an equal share (30)
    [capped] = advise([ran(i, busy=0.004) for i in range(60)], 0.4, 2, n_items=40)
    assert "pass chunk_size=20 " in capped.text  # an equal share of 40 items over 2 workers


def test_advice_for_a_joblib_job_names_batch_size():
    joblib = pytest.importorskip("joblib")
    with joblib.parallel_config(backend="nbparallel", n_jobs=2):
        joblib.Parallel(batch_size=1)(joblib.delayed(spin)(2e-4) for i in range(1000))  # 0.2 s of work
    report = nbp.last_job().report()
    [small] = [a.text for a in report.advice if a.kind == "small-chunks"]
    assert "pass batch_size=" in small
    assert "chunk_size" not in " ".join(a.text for a in report.advice)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('"unterminated', "No closing quotation"),
        ("jobs extra words", "extra words"),
    ],
)
def test_bad_nbparallel_arguments_are_usage_errors(shell, line, message):
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match=message):
        shell.run_line_magic("nbparallel", line)


# -- dask -------------------------------------------------------------------------------------
@pytest.mark.parametrize("progress", MODES)
def test_imap_ends_on_dask_with_every_display_mode(progress):
    pytest.importorskip("distributed")
    with local_cluster():
        for ordered in (True, False):
            out = list(nbp.imap(square, range(30), backend="dask", ordered=ordered, progress=progress))
            assert (out if ordered else sorted(out)) == [square(i) for i in range(30)]


@pytest.mark.parametrize("retries", [0, 2])
def test_closing_the_dask_client_during_a_job_says_so(retries):
    pytest.importorskip("distributed")
    with local_cluster() as client:
        job = nbp.pmap(spin, [0.3] * 40, chunks=20, backend="dask", retries=retries, background=True)
        deadline = time.monotonic() + 60
        while job.n_done < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        client.close()
        with pytest.raises(ConnectionError, match=r"dask Client was closed .*no worker died"):
            job.result(60)
        assert job.partial_result().value[:2] == [0.3, 0.3]  # what finished before is kept


# -- %%parallel: the last run wins ---------------------------------------------------------------
def test_an_older_run_assigns_only_what_no_newer_run_took(shell):
    shell.run_cell("xs = list(range(4))")
    shell.run_cell_magic(
        "parallel",
        "--split xs --out a,b --bg --name older --chunks 2",
        "import time\ntime.sleep(2)\na = [-v for v in xs]\nb = [v + 1 for v in xs]",
    )
    shell.run_cell_magic("parallel", "--split xs --out a --chunks 2", "a = [v * 10 for v in xs]")  # foreground
    older = shell.user_ns["older"]
    assert older.result(60) == {"a": [0, -1, -2, -3], "b": [1, 2, 3, 4]}  # it still ran: it owns b
    assert shell.user_ns["a"] == [0, 10, 20, 30] and shell.user_ns["b"] == [1, 2, 3, 4]


def test_a_run_superseded_in_full_is_cancelled(shell):
    shell.run_cell("ys = list(range(4))")
    shell.run_cell_magic(
        "parallel", "--split ys --out c --bg --name slow_c --chunks 2", "import time\ntime.sleep(30)\nc = list(ys)"
    )
    shell.run_cell_magic("parallel", "--split ys --out c --bg --name fast_c --chunks 2", "c = [v * 2 for v in ys]")
    assert shell.user_ns["fast_c"].result(60) == {"c": [0, 2, 4, 6]}
    slow = shell.user_ns["slow_c"]
    assert slow.wait(30) and slow.status == "cancelled"
    assert shell.user_ns["c"] == [0, 2, 4, 6]


# -- the paths tests/test_streaming.py runs with progress=False, here with the display on -----------
@pytest.mark.parametrize("progress", [None, True])
def test_break_close_and_cancel_end_a_stream_with_the_display_on(progress):
    seen = []
    for value in nbp.imap(lambda x: spin(0.002) and x + 1, itertools.count(), n_jobs=2, progress=progress):
        seen.append(value)
        if len(seen) == 200:
            break
    job = nbp.last_job()
    assert seen == list(range(1, 201))
    assert job.wait(10) and job.status == "cancelled"
    stream = nbp.imap(spin, itertools.repeat(0.05), n_jobs=2, progress=progress)
    assert next(stream) == 0.05
    stream.close()
    assert stream.job.wait(10) and stream.job.status == "cancelled" and list(stream) == []
    background = nbp.imap(spin, itertools.repeat(0.05), n_jobs=2, progress=progress, background=True)
    results = iter(background)
    assert next(results) == 0.05
    assert background.cancel()
    rest = list(results)
    assert rest == [0.05] * len(rest) and background.wait(10) and background.status == "cancelled"


@pytest.mark.parametrize("progress", [None, True])
def test_stream_options_with_the_display_on(progress, tmp_path):
    flag = tmp_path / "failed-once"

    def flaky(x):
        if x == 7 and not flag.exists():
            flag.write_text("x")
            raise RuntimeError("first time")
        return x

    assert list(nbp.imap(flaky, range(20), retries=1, n_jobs=2, progress=progress)) == list(range(20))
    assert list(nbp.imap(square, range(30), backend="threading", n_jobs=3, progress=progress)) == list(
        map(square, range(30))
    )
    with pytest.raises(nbp.ChunkTimeout):
        list(nbp.imap(spin, [0.01, 5.0], timeout=0.5, n_jobs=2, chunk_size=1, progress=progress))

    def draw(x):
        import random

        return random.random()

    assert list(nbp.imap(draw, range(20), seed=3, n_jobs=2, progress=progress)) == nbp.pmap(
        draw, range(20), seed=3, n_jobs=2, progress=progress
    )
    job = nbp.imap(square, (x for x in range(300)), n_jobs=2, progress=progress, background=True)
    assert list(job) == list(map(square, range(300))) and job.wait(10) and job.status == "done"
    assert nbp.pmap(square, (x for x in range(500)), n_jobs=2, progress=progress) == list(map(square, range(500)))

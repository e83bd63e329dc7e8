"""imap (streams), errors="collect" and @per_worker (issue 14)."""

from __future__ import annotations

import gc
import itertools
import os
import random
import subprocess
import sys
import textwrap
import time
import warnings

import pytest

import nbparallel as nbp
from nbparallel.display.progress import ProgressState, WidgetProgress, describe
from nbparallel.options import RunOptions
from tests.helpers import child_env, spin


def square(x):
    return x * x


def test_imap_equals_map_ordered_and_unordered():
    n = 2000
    want = [square(x) for x in range(n)]
    assert list(nbp.imap(square, range(n), n_jobs=2, progress=False)) == want
    assert sorted(nbp.imap(square, iter(range(n)), n_jobs=2, progress=False, ordered=False)) == want
    assert list(nbp.imap(pow, [2, 3, 4], (x for x in [3, 2, 1]), n_jobs=2, progress=False)) == [8, 9, 4]
    assert list(nbp.imap(square, [], n_jobs=2, progress=False)) == []


def test_imap_over_an_endless_iterator_breaks_cleanly_and_workers_go_idle():
    seen = []
    stream = nbp.imap(lambda x: spin(0.002) and x + 1, itertools.count(), n_jobs=2, progress=False)
    for value in stream:
        seen.append(value)
        if len(seen) == 500:
            break
    job = nbp.last_job()
    del stream
    gc.collect()
    assert seen == list(range(1, 501))
    assert job.wait(2.0), "the rest of the stream was not cancelled within 2 s"
    assert job.status == "cancelled"
    assert not job.backend.board.running(job.id)


def test_close_cancels_and_no_exception_reaches_the_loop():
    stream = nbp.imap(spin, itertools.repeat(0.05), n_jobs=2, progress=False)
    assert next(stream) == 0.05
    stream.close()
    assert stream.job.wait(2.0) and stream.job.status == "cancelled"
    assert list(stream) == []


def test_cancel_ends_a_stream_quietly_and_frees_the_workers():
    job = nbp.imap(spin, itertools.repeat(0.05), n_jobs=2, progress=False, background=True)
    results = iter(job)
    assert next(results) == 0.05
    assert job.cancel()  # the widget's Cancel button calls this
    rest = list(results)  # the loop ends; no exception reaches it
    assert rest == [0.05] * len(rest) and len(rest) <= 8  # at most what was in flight, nothing after
    assert job.wait(2.0) and job.status == "cancelled"
    assert not job.backend.board.running(job.id)


def test_first_result_arrives_after_about_one_item():
    nbp.pmap(abs, range(4), n_jobs=2, progress=False)  # the pool is warm
    began = time.perf_counter()
    stream = nbp.imap(spin, itertools.repeat(0.2, 40), n_jobs=2, progress=False)
    assert next(stream) == 0.2
    assert time.perf_counter() - began < 1.0
    stream.close()


def test_imap_seeds_equal_pmap_seeds():
    def draw(_):
        return random.random()

    assert list(nbp.imap(draw, range(50), seed=11, n_jobs=2, progress=False)) == nbp.pmap(
        draw, range(50), seed=11, n_jobs=2, progress=False
    )


def test_an_error_in_the_stream_names_the_item_after_the_results_before_it():
    got = []
    with pytest.raises(ZeroDivisionError) as info:
        for value in nbp.imap(lambda x: 10 // (x - 30), range(100), n_jobs=2, progress=False, chunk_size=5):
            got.append(value)
    assert got == [10 // (x - 30) for x in range(30)]
    assert "item 30 (30)" in str(info.value.__notes__)


def test_an_input_that_raises_fails_the_stream_with_its_exception():
    def items():
        yield 1
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        list(nbp.imap(square, items(), n_jobs=1, progress=False))


def test_background_stream_job_is_iterable_once_and_keeps_no_results():
    job = nbp.imap(square, (x for x in range(300)), n_jobs=2, progress=False, background=True)
    assert list(job) == [square(x) for x in range(300)]
    assert job.wait(5) and job.status == "done" and job.n_items == 300
    assert all(not o.ok for o in job.outcomes.values())  # only failures are kept
    with pytest.raises(RuntimeError, match="already being iterated"):
        iter(job)
    with pytest.raises(TypeError, match="not kept"):
        job.partial_result()


def test_retries_timeouts_and_threads_apply_to_streams(tmp_path):
    flag = tmp_path / "failed-once"

    def flaky(x):
        if x == 7 and not flag.exists():
            flag.write_text("x")
            raise RuntimeError("first time")
        return x

    assert list(nbp.imap(flaky, range(20), retries=1, n_jobs=2, progress=False)) == list(range(20))
    assert nbp.last_job().n_retries == 1
    assert list(nbp.imap(square, range(30), backend="threading", n_jobs=3, progress=False)) == [
        square(x) for x in range(30)
    ]
    with pytest.raises(nbp.ChunkTimeout):
        list(nbp.imap(spin, [0.01, 5.0], timeout=0.5, n_jobs=2, chunk_size=1, progress=False))


def test_pmap_over_a_generator_reads_it_lazily():
    read = []

    def gen():
        for i in range(5000):
            read.append(i)
            yield i

    job = nbp.pmap(lambda x: spin(0.0005) and x, gen(), n_jobs=2, progress=False, background=True)
    time.sleep(0.3)
    assert len(read) < 5000  # not read into a list before starting
    assert job.result() == list(range(5000))
    assert job.partial_result().complete


def test_streamed_rss_does_not_grow_with_the_input():
    code = textwrap.dedent(
        """
        import nbparallel as nbp
        from nbparallel.bench.streaming import peak_rss_mib  # this process's own peak, not its parent's
        total = sum(nbp.imap(abs, range(20000), n_jobs=2, progress=False))  # warm: pool, imports
        before = peak_rss_mib()
        total = 0
        for v in nbp.imap(abs, range(3_000_000), n_jobs=2, progress=False):
            total += v
        after = peak_rss_mib()
        assert total == sum(range(3_000_000)), total
        print(after - before)
        nbp.shutdown()
        """
    )
    env = child_env()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    grew = float(done.stdout.split()[-1])
    assert grew <= 50, f"peak RSS grew by {grew:.1f} MiB"


def test_errors_collect_keeps_going_and_retry_failed_reruns_only_them():
    bad = {13, 50, 87}

    def f(x):
        if x in bad:
            raise ValueError(f"bad {x}")
        return x

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = nbp.pmap(f, range(100), n_jobs=2, progress=False, errors="collect")
    assert len(out) == 100
    assert [i for i, v in enumerate(out) if isinstance(v, nbp.Failed)] == sorted(bad)
    assert all(out[i] == i for i in range(100) if i not in bad)
    failed = out[50]
    assert failed.index == 50 and failed.item_repr == "50" and isinstance(failed.exception, ValueError)
    assert "raise ValueError" in failed.traceback
    assert any("3 of 100 items" in str(w.message) for w in caught)
    job = nbp.last_job()
    assert [e.index for e in job.errors] == sorted(bad)
    assert job.retry_failed(lambda x: -x) == [-x if x in bad else x for x in range(100)]
    assert job.errors == []


def test_errors_collect_in_streams_and_the_magic_option():
    out = list(nbp.imap(lambda x: 1 // (x % 4), range(12), n_jobs=2, progress=False, errors="collect"))
    assert [i for i, v in enumerate(out) if isinstance(v, nbp.Failed)] == [0, 4, 8]
    with pytest.raises(ValueError, match="errors must be one of"):
        RunOptions(errors="ignore")


def test_errors_collect_on_chunks_runs_every_chunk_then_lists_the_failures():
    with pytest.raises(ZeroDivisionError) as info:
        nbp.pmap_chunks(
            lambda c: [1 // v for v in c], [1, 0, 2, 0, 3], chunks=5, n_jobs=2, progress=False, errors="collect"
        )
    job = info.value.job
    assert job.n_done == 5 and [e.index for e in job.errors] == [1, 3]


def test_progress_without_a_total_and_amber_for_failed_items():
    text = describe(ProgressState("running", 1500, None, 4, 5, 0, 3.0))
    assert text.startswith("1,500 items · 500 items/s") and "ETA" not in text
    shown = []
    widget = WidgetProgress(None, 0, display=shown.append)
    widget.update(ProgressState("running", 30, None, 2, 3, 0, 1.0))
    assert widget.bar.value == 30 and "30 items" in widget.text.value
    widget.close(ProgressState("done", 40, 40, 3, 3, 0, 1.0, failed_items=2))
    assert widget.bar.bar_style == "warning" and "2 items failed" in widget.text.value


def test_per_worker_setup_runs_once_per_worker_across_calls(tmp_path):
    log = tmp_path / "setups"

    @nbp.per_worker
    def resource():
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        return os.getpid()

    def use(x):
        return resource(), x

    first = nbp.pmap(use, range(40), chunks=20, n_jobs=2, progress=False)
    second = nbp.pmap(use, range(40), chunks=20, n_jobs=2, progress=False)
    pids = {pid for pid, _ in first + second}
    runs = log.read_text().split()
    assert sorted(runs) == sorted(set(runs)) and set(map(int, runs)) == pids
    # in the kernel process: once (threads, n_jobs=1)
    before = len(log.read_text().split())
    nbp.pmap(use, range(10), backend="threading", n_jobs=3, progress=False)
    nbp.pmap(use, range(10), n_jobs=1, progress=False)
    assert len(log.read_text().split()) == before + 1


def test_per_worker_setup_that_raises_fails_with_its_traceback_and_is_tried_again(tmp_path):
    ready = tmp_path / "ready"

    @nbp.per_worker
    def connection():
        if not ready.exists():
            raise ConnectionError("database is down")
        return "conn"

    with pytest.raises(ConnectionError) as info:
        nbp.pmap(lambda x: connection(), range(4), n_jobs=2, progress=False)
    assert "connection" in str(info.value.__cause__)  # the setup's own frame
    ready.write_text("up")
    assert nbp.pmap(lambda x: connection(), range(4), n_jobs=2, progress=False) == ["conn"] * 4
    with pytest.raises(TypeError, match="no arguments"):
        nbp.per_worker(3)


def test_per_worker_in_a_parallel_cell_body():
    @nbp.per_worker
    def offset():
        return 100

    ns = {"rows": list(range(6)), "offset": offset}
    nbp.run_cell("out = [offset() + r for r in rows]", ns, split=["rows"], out=["out"], n_jobs=2, progress=False)
    assert ns["out"] == [100 + r for r in range(6)]

"""job.timeline() and job.report(): a record per chunk run, consistent with the job's wall time,
on worker processes, threads, imap and a dask cluster; the report's numbers, advice and Gantt chart."""

from __future__ import annotations

import numpy as np
import pytest

import nbparallel as nbp
from nbparallel.backends import worker_pids
from nbparallel.insights.report import advise
from nbparallel.insights.timeline import ChunkRecord, record_timelines
from tests.helpers import local_cluster, spin

pytest.importorskip("pandas")


def skewed(x: int) -> int:
    spin(0.25 if x == 3 else 0.005)
    return x


def very_skewed(x: int) -> int:
    spin(1.0 if x == 3 else 0.005)
    return x


def flaky_once(x: int) -> int:
    """Fails the first time it sees item 5 in a process, then works."""
    import builtins

    if x == 5 and not getattr(builtins, "_nbp_timeline_seen", False):
        builtins._nbp_timeline_seen = True  # type: ignore[attr-defined]
        raise ValueError("first time")
    return x


def check_consistent(df, n_chunks: int) -> None:
    """Every chunk has a row; each run sits inside the job; no worker is busy longer than the wall time."""
    assert sorted(set(df["chunk"])) == list(range(n_chunks))
    began, ended, wall = df.attrs["job_started"], df.attrs["job_ended"], df.attrs["wall_s"]
    assert wall == pytest.approx(ended - began) and wall > 0
    slack = 0.005  # the kernel and the workers read one clock; rounding only
    assert (df["queued"] >= began - slack).all()
    assert (df["queued"] <= df["started"] + slack).all()
    assert (df["started"] <= df["ended"]).all()
    assert (df["ended"] <= df["returned"] + slack).all()
    assert (df["returned"] <= ended + slack).all()
    busy = (df["ended"] - df["started"]).groupby(df["worker"]).sum()
    assert (busy <= wall + slack).all(), busy
    for _worker, runs in df.sort_values("started").groupby("worker"):  # a worker runs one chunk at a time
        assert (runs["started"].to_numpy()[1:] >= runs["ended"].to_numpy()[:-1] - slack).all()
    assert (df[["recv_s", "compute_s", "send_s"]] >= 0).all().all()


def test_pmap_on_two_worker_processes():
    job = nbp.pmap(skewed, range(24), n_jobs=2, chunks=8, background=True, progress=False)
    assert job.result() == list(range(24))
    df = job.timeline()
    assert len(df) == 8 and list(df["outcome"]) == ["ok"] * 8 and list(df["retries"]) == [0] * 8
    check_consistent(df, 8)
    assert df["items"].sum() == 24
    pids = set(worker_pids())
    assert {int(w.split()[1]) for w in df["worker"]} <= pids and set(df["pid"]) <= pids
    assert (df["bytes_in"] > 0).all() and (df["bytes_out"] > 0).all()
    slowest = df.loc[df["compute_s"].idxmax()]
    assert slowest["start_item"] <= 3 < slowest["stop_item"]


def test_threads_name_their_workers_and_move_no_bytes():
    job = nbp.pmap(skewed, range(12), n_jobs=2, chunks=6, backend="threading", background=True, progress=False)
    job.result()
    df = job.timeline()
    check_consistent(df, 6)
    assert all(w.startswith("nbpool-thread") for w in df["worker"])
    assert (df["bytes_in"] == 0).all() and (df["send_s"] == 0).all()


def test_imap_stream_has_a_timeline_though_it_keeps_no_outcomes():
    stream = nbp.imap(skewed, iter(range(20)), n_jobs=2, progress=False)
    assert sum(stream) == sum(range(20))
    job = stream.job
    assert job.outcomes == {}
    df = job.timeline()
    check_consistent(df, job.n_total)
    assert df["items"].sum() == 20


def test_a_retried_chunk_has_a_row_per_attempt():
    import builtins

    builtins._nbp_timeline_seen = False  # type: ignore[attr-defined]
    job = nbp.pmap(flaky_once, range(8), chunks=4, n_jobs=1, retries=1, background=True, progress=False)
    assert job.result() == list(range(8))
    df = job.timeline()
    runs = df[df["chunk"] == 2]
    assert list(runs["outcome"]) == ["retried", "ok"] and list(runs["retries"]) == [0, 1]
    check_consistent(df, 4)


def test_pmap_chunks_over_a_shared_array_counts_only_the_reference():
    data = np.arange(3_000_000, dtype=np.float64)  # 24 MB: travels through shared memory
    job = nbp.pmap_chunks(np.sum, data, n_jobs=2, chunks=4, merge="sum", background=True, progress=False)
    assert job.result() == data.sum()
    df = job.timeline()
    check_consistent(df, 4)
    assert (df["bytes_in"] < 10_000).all(), df["bytes_in"]  # a file reference, not 6 MB of values


def test_chunks_read_from_the_cache_are_marked_cached(tmp_path):
    nbp.pmap(abs, range(-8, 8), chunks=4, n_jobs=2, cache=str(tmp_path), progress=False)
    job = nbp.pmap(abs, range(-8, 8), chunks=4, n_jobs=2, cache=str(tmp_path), background=True, progress=False)
    job.result()
    df = job.timeline()
    assert list(df["outcome"]) == ["cached"] * 4 and (df["worker"] == "").all()
    assert job.report().advice == []


def test_a_long_stream_keeps_a_bounded_timeline(monkeypatch):
    from nbparallel.insights import timeline

    monkeypatch.setattr(timeline, "MAX_RECORDS", 5)
    stream = nbp.imap(abs, iter(range(200)), n_jobs=1, chunk_size=10, progress=False)
    assert sum(stream) == sum(range(200))
    df = stream.job.timeline()
    assert len(df) == 5 and df.attrs["dropped"] == 15


def test_recording_off_leaves_an_empty_timeline_and_the_same_result():
    previous = record_timelines(False)
    try:
        job = nbp.pmap(skewed, range(6), n_jobs=2, chunks=3, background=True, progress=False)
        assert job.result() == list(range(6))
    finally:
        record_timelines(previous)
    assert job.timeline().empty
    assert job.report().n_chunks == 0


def test_report_html_and_plot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    job = nbp.pmap(skewed, range(24), n_jobs=2, chunks=8, background=True, progress=False)
    job.result()
    rep = job.report()
    html = rep._repr_html_()
    for text in ("wall", "speed-up", "utilisation", "transfer", "Slowest chunks", "pid "):
        assert text in html
    assert len(rep.slowest) == 5 and rep.slowest[0].start_item <= 3 < rep.slowest[0].stop_item
    assert 0 < rep.speedup <= 2.05 and 0 <= rep.transfer_share < 1
    assert sum(w.chunks for w in rep.workers) == 8
    assert all(0 < w.utilisation <= 1.0 for w in rep.workers)
    assert "speed-up" in repr(rep)
    ax = rep.plot()
    try:
        assert len(ax.get_yticklabels()) == len(rep.workers)
        assert len(ax.collections) >= 8  # a bar per chunk run (and the transfer hatching)
        ax.figure.canvas.draw()
    finally:
        plt.close(ax.figure)


def _run(i: int, busy: float, *, items: int = 100, recv: float = 0.0, worker: str = "") -> ChunkRecord:
    return ChunkRecord(
        i, 1, worker or f"pid {i % 2}", i % 2, i * items, (i + 1) * items,
        0.0, 0.0, busy, busy, recv, busy - recv, 0.0, 1000, 1000, "ok",
    )  # fmt: skip


def test_advice_names_each_plain_mistake_with_a_fix():
    balanced = [_run(i, 0.2) for i in range(8)]
    assert advise(balanced, 0.85, 2) == []
    straggler = advise([_run(i, 0.2) for i in range(7)] + [_run(7, 3.0)], 3.5, 2)
    assert [a.kind for a in straggler] == ["straggler"]
    assert "chunk 7" in straggler[0].text and "chunk_size=12" in straggler[0].text
    tiny = advise([_run(i, 0.0005, items=10) for i in range(40)], 0.1, 2)
    assert [a.kind for a in tiny] == ["small-chunks"]
    assert "a plain loop" in tiny[0].text and "chunk_size" not in tiny[0].text  # 400 items, 20 ms in all
    more = advise([_run(i, 0.0005, items=10) for i in range(400)], 1.0, 2)  # 4,000 items, 0.2 s in all
    assert [a.kind for a in more] == ["small-chunks"] and "chunk_size=2000 " in more[0].text
    late = [r._replace(started=r.started + 2.0, ended=r.ended + 2.0) for r in balanced]
    assert [a.kind for a in advise(late, 2.85, 2, began=0.0)] == ["startup"]
    moving = advise([_run(i, 0.2, recv=0.15) for i in range(8)], 0.85, 2)
    assert [a.kind for a in moving] == ["transfer"] and "MB" in moving[0].text


def test_a_real_skewed_job_gets_the_straggler_advice():
    nbp.warm(2, wait=True)  # a cold pool would (rightly) get the start-up advice too
    job = nbp.pmap(very_skewed, range(40), n_jobs=2, chunks=8, background=True, progress=False)
    job.result()
    report = job.report()
    assert [a.kind for a in report.advice] == ["straggler"], report
    alone = nbp.pmap(very_skewed, range(40), n_jobs=2, chunk_size=1, background=True, progress=False)
    alone.result()  # the slow item has a chunk of its own: still waited for, and nothing left to split
    straggler = [a for a in alone.report().advice if a.kind == "straggler"]  # (tiny chunks may be named too)
    assert len(straggler) == 1 and "one item (3)" in straggler[0].text, straggler


def test_transfer_bigger_than_compute_is_seen_on_processes():
    # np.zeros gets its pages zeroed lazily (calloc): computing takes microseconds and sending the
    # 16 MB result is what costs, so the comparison does not hang on how busy the machine is
    job = nbp.pmap(np.zeros, [2_000_000] * 8, n_jobs=2, chunks=8, background=True, progress=False)
    job.result()
    df = job.timeline()
    assert (df["bytes_out"] > 16_000_000).all()
    assert (df["send_s"] > df["compute_s"]).mean() > 0.5


# -- dask ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client():
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    with local_cluster() as c:  # dask's scratch space in a folder of its own, removed afterwards
        yield c


def test_dask_jobs_have_a_timeline_by_worker_address(client):
    addresses = set(client.scheduler_info()["workers"])
    job = nbp.pmap(skewed, range(16), backend="dask", chunks=6, background=True, progress=False)
    assert job.result() == list(range(16))
    df = job.timeline()
    check_consistent(df, 6)
    assert {w.split()[0] for w in df["worker"]} <= addresses
    assert (df["bytes_in"] > 0).all() and (df["bytes_out"] > 0).all()
    assert job.report().n_chunks == 6

"""``python -m nbparallel.bench.scale`` in small: every tool is timed against the same items and the table
says efficiency, pool start and the verdict against loky (ratios are not asserted: timing is for the bench)."""

from __future__ import annotations

from nbparallel.backends import worker_pids
from nbparallel.bench.scale import ITEMS_PER_WORKER, NAP, TOOLS, bench_scale, format_scale, main


def test_each_tool_is_timed_on_the_same_sleeping_items_and_its_pool_is_stopped(capsys):
    timings = bench_scale((2,), repeats=1)
    assert [t.workers for t in timings] == [2]
    t = timings[0]
    assert t.n_items == 2 * ITEMS_PER_WORKER and t.ideal == 2 * ITEMS_PER_WORKER * NAP / 2
    for tool in TOOLS:
        assert t.seconds[tool] >= t.ideal  # nobody sleeps faster than the items do
        assert 0 < t.efficiency(tool) <= 100
        assert t.start[tool] > 0
    table = format_scale(timings)
    assert all(tool in table for tool in TOOLS)
    assert t.verdict().split(":")[0] in ("met", "MISSED") and "loky" in t.verdict()
    assert worker_pids() == []  # the 2-worker pool it started is gone
    assert main(["--workers", "1", "--repeats", "1", "--json"]) == 0
    assert '"efficiency"' in capsys.readouterr().out


def test_the_table_says_when_new_workers_ran_a_warm_up_as_they_started():
    from nbparallel.bench.scale import ScaleTiming

    times = dict.fromkeys(TOOLS, 1.0)
    plain = ScaleTiming(8, 128, 1, times, times)
    warmed = ScaleTiming(8, 128, 1, times, times, ["nbparallel.ksearch.tasks.preload"])
    assert "warm-up" not in format_scale([plain])
    assert "nbparallel.ksearch.tasks.preload" in format_scale([warmed]).splitlines()[-1]

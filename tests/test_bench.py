"""``python -m nbparallel bench`` in quick mode: the core table and the first-choose_k script run and
say what they measured against which peer (ratios are not asserted: timing is for the bench)."""

from __future__ import annotations

import math

from nbparallel.bench.core import TARGETS, format_core, run_core_bench
from nbparallel.bench.first_k import bench_first_choose_k, format_first_choose_k


def test_every_core_workload_is_measured_against_raw_loky():
    timings = run_core_bench(2, quick=True)
    table = format_core(timings, 2)
    assert all(t.workload in table for t in timings)
    assert [t.workload for t in timings] == list(TARGETS)
    for t in timings:
        assert t.times["nbparallel"] and t.times["nbparallel"] > 0
        if t.workload != "groups":
            assert t.times["loky"] and t.times["loky"] > 0
            assert "vs loky" in t.verdict(), t.verdict()


def test_the_first_choose_k_of_a_fresh_script_is_timed_against_the_loop():
    result = bench_first_choose_k(2, runs=1, quick=True)
    assert len(result.first_choose_k) == 1 and result.first_choose_k[0] > 0
    assert result.best_k == [result.loop_best_k] == [7]  # seven well separated blobs
    assert math.isfinite(result.speedup)
    assert "target >= 10x" in format_first_choose_k(result)

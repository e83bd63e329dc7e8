"""``python -m nbparallel bench`` in quick mode: the core table and the first-choose_k script run and
say what they measured against which peer (ratios are not asserted: timing is for the bench)."""

from __future__ import annotations

import math

from nbparallel.bench.core import TARGETS, format_core, run_core_bench
from nbparallel.bench.first_k import bench_first_choose_k, format_first_choose_k
from nbparallel.bench.turns import in_turns


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
    call = timings[0]
    assert call.workload == "call-3" and "ms (< 0.7)" in call.verdict()  # issue 36's bound, beside loky's
    assert "floor under any call through a loky pool" in table  # where the 3-item call's time goes


def test_ways_take_turns_and_no_way_keeps_its_place():
    order: list[str] = []
    runs = in_turns({w: (lambda w=w: order.append(w)) for w in "abc"}, 3, few={"c": 2})
    assert order == ["a", "b", "c", "b", "c", "a", "a", "b"]  # round 3: c has had its rounds
    assert {w: len(t) for w, t in runs.items()} == {"a": 3, "b": 3, "c": 2}


def test_the_first_choose_k_of_a_fresh_script_is_timed_against_the_loop():
    result = bench_first_choose_k(2, runs=1, quick=True)
    assert len(result.first_choose_k) == 1 and result.first_choose_k[0] > 0
    assert result.best_k == [result.loop_best_k] == [7]  # seven well separated blobs
    assert math.isfinite(result.speedup)
    assert "target >= 10x" in format_first_choose_k(result)

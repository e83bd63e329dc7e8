"""``python -m nbparallel.bench.scale``: does dispatch keep many workers busy?

A many-worker machine, simulated on a small one: every item sleeps 10 ms
(:func:`~.workloads.nap`), so it costs no CPU and the only CPU work is
dispatch (planning, sending chunks, collecting results).  At 8, 16 and 32
workers each tool runs 16 items per worker; its **efficiency** is the ideal
time (items x 10 ms / workers) over the wall time it took.  The peers are raw
loky (a ``ProcessPoolExecutor``'s ``map``, one item per task, its default) and
``joblib.Parallel`` (automatic batches).  The tools run in turns, each repeat
once per tool, so a busy machine slows them alike.

The **pool's start time** is the wall time of a first call over one item per
worker on a cold pool (minus the item's 10 ms): the workers start, import what
they need and answer once each.  In a process that reached for the k-search
before (``python -m nbparallel bench`` runs its rows first), each new worker
also imports scikit-learn as it starts (the k-search's warm-up); the table
says when it did, as that dominates the start time of many workers on few cores.

Target (issue 36): nbparallel's efficiency at 32 workers is at least loky's
minus 2 points.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from .workloads import nap

__all__ = ["ScaleTiming", "bench_scale", "format_scale", "main", "WORKERS", "NAP", "ITEMS_PER_WORKER"]

#: Workers simulated.
WORKERS = (8, 16, 32)
#: Seconds each item sleeps.
NAP = 0.01
#: Items per worker in a timed call.
ITEMS_PER_WORKER = 16
#: Points of efficiency nbparallel may be behind loky at the most workers (issue 36).
MARGIN = 2.0
TOOLS = ("nbparallel", "loky", "joblib")


@dataclass
class ScaleTiming:
    """One number of workers: each tool's median wall time and its pool's start time (seconds)."""

    workers: int
    n_items: int
    repeats: int
    seconds: dict[str, float]
    start: dict[str, float]
    warm_up: list[str] = field(default_factory=list)  # the warm-up steps nbparallel's new workers ran

    @property
    def ideal(self) -> float:
        """Seconds with perfect dispatch: every worker sleeps its items back to back."""
        return self.n_items * NAP / self.workers

    def efficiency(self, tool: str) -> float:
        """Ideal over measured time, in percent."""
        return 100.0 * self.ideal / self.seconds[tool]

    def verdict(self) -> str:
        """nbparallel against loky's efficiency minus :data:`MARGIN` points."""
        ours, loky = self.efficiency("nbparallel"), self.efficiency("loky")
        ok = ours >= loky - MARGIN
        return f"{'met' if ok else 'MISSED'}: {ours:.1f}% >= loky {loky:.1f}% - {MARGIN:g}"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["efficiency"] = {tool: self.efficiency(tool) for tool in self.seconds}
        return out


@contextmanager
def _pools(n: int) -> Iterator[dict[str, Callable[[Sequence[int]], Any]]]:
    """Each tool's way to map :func:`nap` over items on ``n`` workers; the pools are stopped afterwards."""
    from joblib import Parallel, delayed
    from loky import ProcessPoolExecutor

    from ..api import pmap
    from ..backends import shutdown
    from .core import _close_recipe

    shutdown()  # cold: nbparallel's pool starts with this number of workers
    _close_recipe()  # joblib's own reusable pool too
    executor = ProcessPoolExecutor(n)
    try:
        yield {
            "nbparallel": lambda items: pmap(nap, items, n_jobs=n, progress=False),
            "loky": lambda items: list(executor.map(nap, items)),
            "joblib": lambda items: list(Parallel(n_jobs=n)(delayed(nap)(i) for i in items)),
        }
    finally:
        executor.shutdown(wait=True)
        shutdown()
        _close_recipe()


def _timed(run: Callable[[Sequence[int]], Any], items: Sequence[int]) -> float:
    start = time.perf_counter()
    value = run(items)
    elapsed = time.perf_counter() - start
    if value != list(items):
        raise AssertionError("a tool gave a different result than the items it was given")
    return elapsed


def bench_scale(workers: Sequence[int] = WORKERS, *, repeats: int = 5) -> list[ScaleTiming]:
    """Efficiency and pool start time of nbparallel, loky and joblib at each number of ``workers``.

    Parameters
    ----------
    workers : sequence of int
        Numbers of workers to simulate (one pool of each size per tool, in turn).
    repeats : int, default=5
        Timed calls per tool (in turns); the median is kept.

    Returns
    -------
    list of ScaleTiming
    """
    timings = []
    for n in workers:
        items = list(range(ITEMS_PER_WORKER * n))
        with _pools(n) as ways:
            start = {tool: _timed(run, list(range(n))) - NAP for tool, run in ways.items()}
            runs: dict[str, list[float]] = {tool: [] for tool in ways}
            for _ in range(repeats):
                for tool, run in ways.items():
                    runs[tool].append(_timed(run, items))
        seconds = {tool: statistics.median(t) for tool, t in runs.items()}
        from ..backends.warmup import WARM_UP

        steps = [f"{step.__module__}.{step.__qualname__}" for step in WARM_UP]
        timings.append(ScaleTiming(n, len(items), repeats, seconds, start, steps))
    return timings


def format_scale(timings: list[ScaleTiming]) -> str:
    """The efficiencies and start times as a table, with the verdict at each number of workers."""
    if not timings:
        return "many workers: nothing measured"
    t0 = timings[0]
    lines = [
        f"many workers, simulated: items sleep {NAP * 1000:g} ms (no CPU: dispatch is the only work), "
        f"{ITEMS_PER_WORKER} items per worker, medians of {t0.repeats}, tools in turns",
        f"{'workers':>7}  "
        + "".join(f"{tool:>11}" for tool in TOOLS)
        + "   pool start (s): "
        + " ".join(f"{tool:>10}" for tool in TOOLS)
        + "  target at the most workers",
    ]
    for t in timings:
        effs = "".join(f"{t.efficiency(tool):>10.1f}%" for tool in TOOLS)
        starts = " ".join(f"{t.start[tool]:>10.2f}" for tool in TOOLS)
        lines.append(f"{t.workers:>7}  {effs}   {'':>16}{starts}  {t.verdict()}")
    if t0.warm_up:
        lines.append(f"nbparallel's new workers ran these warm-up steps as they started: {', '.join(t0.warm_up)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nbparallel.bench.scale [--workers 8 16 32] [--repeats 5] [--json]``."""
    parser = argparse.ArgumentParser(prog="python -m nbparallel.bench.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=list(WORKERS), help="numbers of workers")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per tool (median kept)")
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    args = parser.parse_args(argv)
    timings = bench_scale(args.workers, repeats=args.repeats)
    print(json.dumps([t.as_dict() for t in timings], indent=2) if args.json else format_scale(timings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

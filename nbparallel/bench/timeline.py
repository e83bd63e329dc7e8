"""What recording job timelines costs: 10,000 trivial items through ``pmap`` with recording on and off.

Both settings run in one process on one warm pool, in pairs of back-to-back
runs (alternating which goes first), so that drift in the machine's load hits
both alike; the pairs' ratios are averaged, and the same measure with
recording off on both sides shows the noise floor.  The target (issue 26) is at most 2% more time with recording on.
Run it alone with ``python -m nbparallel.bench.timeline``.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

__all__ = ["bench_timeline_overhead", "format_timeline_overhead", "TARGET"]

#: Most extra time recording may cost on the 10,000 trivial items (a fraction).
TARGET = 0.02


def bench_timeline_overhead(n_jobs: int, *, repeats: int = 100, n_items: int = 10_000) -> dict[str, Any]:
    """Seconds of ``pmap(trivial, range(n_items))`` with timeline recording on and off, in pairs.

    Each pair runs both settings back to back (in alternating order); the
    overhead is the geometric mean of the pairs' ratios, which cancels the
    drift of a shared machine's load.  The same is measured with recording off
    on both sides of each pair (``noise``): what the machine's noise alone gives.

    Parameters
    ----------
    n_jobs : int
        Workers.
    repeats : int, default=100
        Pairs (after one untimed run of each setting).
    n_items : int, default=10_000
        Trivial items per run.

    Returns
    -------
    dict
        ``on`` and ``off`` (median seconds), ``overhead`` (paired, ``on / off - 1``),
        ``noise`` (the same with recording off on both sides), ``repeats``,
        ``n_items``, ``n_jobs``, ``chunks`` (per run).

    Examples
    --------
    >>> r = bench_timeline_overhead(2, repeats=2, n_items=100)
    >>> sorted(r)
    ['chunks', 'n_items', 'n_jobs', 'noise', 'off', 'on', 'overhead', 'repeats']
    """
    from ..api import pmap
    from ..jobs.job import Job
    from ..jobs.timeline import record_timelines
    from .workloads import trivial

    data = list(range(n_items))
    expected = [trivial(x) for x in data]

    def once(setting: bool) -> float:
        record_timelines(setting)
        start = time.perf_counter()
        pmap(trivial, data, n_jobs=n_jobs, progress=False)
        return time.perf_counter() - start

    runs: dict[str, list[float]] = {"on": [], "off": [], "a": [], "b": []}
    previous = record_timelines(True)
    try:
        for setting in (True, False):  # untimed: warm the pool and the function cache
            record_timelines(setting)
            assert pmap(trivial, data, n_jobs=n_jobs, progress=False) == expected
        record_timelines(True)
        job = pmap(trivial, data, n_jobs=n_jobs, progress=False, background=True)
        assert isinstance(job, Job)
        job.result()
        chunks = job.n_total
        for i in range(repeats):
            first, second = ("on", "off") if i % 2 == 0 else ("off", "on")
            runs[first].append(once(first == "on"))
            runs[second].append(once(second == "on"))
            runs["a"].append(once(False))
            runs["b"].append(once(False))
    finally:
        record_timelines(previous)

    def paired(x: str, y: str) -> float:
        return statistics.geometric_mean(a / b for a, b in zip(runs[x], runs[y], strict=True)) - 1

    return {
        "on": statistics.median(runs["on"]),
        "off": statistics.median(runs["off"]),
        "overhead": paired("on", "off"),
        "noise": paired("a", "b"),
        "repeats": repeats,
        "n_items": n_items,
        "n_jobs": n_jobs,
        "chunks": chunks,
    }


def format_timeline_overhead(r: dict[str, Any]) -> str:
    """One line: the medians, the overhead, and whether it met :data:`TARGET`.

    Examples
    --------
    >>> r = dict(n_items=10, chunks=2, n_jobs=2, repeats=3, on=0.0101, off=0.01, overhead=0.01, noise=-0.002)
    >>> format_timeline_overhead(r).split(";")[1]
    ' overhead +1.0% (met: target <= 2%)'
    """
    verdict = "met" if r["overhead"] <= TARGET else "MISSED"
    return (
        f"timeline recording, {r['n_items']:,} trivial items in {r['chunks']} chunks on {r['n_jobs']} workers "
        f"({r['repeats']} pairs): median on {r['on'] * 1e3:.1f} ms, off {r['off'] * 1e3:.1f} ms; "
        f"overhead {r['overhead']:+.1%} ({verdict}: target <= {TARGET:.0%}); the same measure with recording "
        f"off on both sides (the machine's noise): {r['noise']:+.1%}"
    )


def main() -> int:  # pragma: no cover - a command
    """``python -m nbparallel.bench.timeline [n_jobs] [repeats]``."""
    from ..backends import shutdown
    from ..config import effective_n_jobs

    n_jobs = effective_n_jobs(int(sys.argv[1]) if len(sys.argv) > 1 else None)
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    try:
        print(format_timeline_overhead(bench_timeline_overhead(n_jobs, repeats=repeats)))
    finally:
        shutdown()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

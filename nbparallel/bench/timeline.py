"""What recording job timelines costs: 10,000 trivial items through ``pmap`` with recording on and off.

Both settings run in one process on one warm pool, in groups of four runs in a
random order (on, off, and off twice more for the noise floor), so that drift in
the machine's load hits all alike; the ratios within groups are averaged.  CPU
seconds (kernel and workers) are compared too: they suffer less from other
processes on a shared machine.  The target (issue 26) is at most 2% more time with recording on.
Run it alone with ``python -m nbparallel.bench.timeline``.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from typing import Any

__all__ = ["bench_timeline_overhead", "format_timeline_overhead", "TARGET"]

#: Most extra time recording may cost on the 10,000 trivial items (a fraction).
TARGET = 0.02


def bench_timeline_overhead(n_jobs: int, *, repeats: int = 100, n_items: int = 10_000) -> dict[str, Any]:
    """Seconds of ``pmap(trivial, range(n_items))`` with timeline recording on and off.

    Each group runs both settings and two more runs with recording off, back to
    back in a random order; the overhead is the geometric mean of the groups'
    on/off ratios, which cancels the
    drift of a shared machine's load.  The same is measured with recording off
    on both sides of each pair (``noise``): what the machine's noise alone gives.

    Parameters
    ----------
    n_jobs : int
        Workers.
    repeats : int, default=100
        Groups (after one untimed run of each setting).
    n_items : int, default=10_000
        Trivial items per run.

    Returns
    -------
    dict
        ``on`` and ``off`` (median seconds), ``overhead`` (paired, ``on / off - 1``),
        ``noise`` (the same with recording off on both sides), ``kernel_cpu_overhead``,
        ``workers_cpu_overhead`` and their ``_noise`` (the same for CPU seconds summed
        over the runs: less sensitive to other processes' load; the workers' are read
        from /proc in clock ticks, so they are coarse), ``repeats``, ``n_items``,
        ``n_jobs``, ``chunks`` (per run).

    Examples
    --------
    >>> r = bench_timeline_overhead(2, repeats=2, n_items=100)
    >>> sorted(r)
    ['chunks', 'kernel_cpu_noise', 'kernel_cpu_overhead', 'n_items', 'n_jobs', 'noise', 'off', 'on', 'overhead', 'repeats', 'workers_cpu_noise', 'workers_cpu_overhead']
    """
    from ..api import pmap
    from ..insights.timeline import record_timelines
    from ..jobs.job import Job
    from .workloads import trivial

    data = list(range(n_items))
    expected = [trivial(x) for x in data]

    workers_cpu = _workers_cpu()
    kernel: dict[str, float] = {"on": 0.0, "off": 0.0, "a": 0.0, "b": 0.0}
    workers: dict[str, float] = dict(kernel)

    def once(setting: bool, key: str) -> float:
        record_timelines(setting)
        w0 = workers_cpu()
        c0 = time.process_time()
        start = time.perf_counter()
        pmap(trivial, data, n_jobs=n_jobs, progress=False)
        wall = time.perf_counter() - start
        kernel[key] += time.process_time() - c0
        workers[key] += workers_cpu() - w0
        return wall

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
        order = random.Random(26)
        for _ in range(repeats):  # each group of four in a random order: no setting has a fixed place
            for key in order.sample(list(runs), len(runs)):
                runs[key].append(once(key == "on", key))
    finally:
        record_timelines(previous)

    def paired(x: str, y: str) -> float:
        return statistics.geometric_mean(a / b for a, b in zip(runs[x], runs[y], strict=True)) - 1

    return {
        "on": statistics.median(runs["on"]),
        "off": statistics.median(runs["off"]),
        "overhead": paired("on", "off"),
        "noise": paired("a", "b"),
        "kernel_cpu_overhead": kernel["on"] / kernel["off"] - 1,
        "kernel_cpu_noise": kernel["a"] / kernel["b"] - 1,
        "workers_cpu_overhead": workers["on"] / workers["off"] - 1 if workers["off"] else float("nan"),
        "workers_cpu_noise": workers["a"] / workers["b"] - 1 if workers["b"] else float("nan"),
        "repeats": repeats,
        "n_items": n_items,
        "n_jobs": n_jobs,
        "chunks": chunks,
    }


def _workers_cpu() -> Any:
    """A function giving the CPU seconds the local workers used so far (0 without psutil)."""
    from ..backends import worker_pids

    try:
        import psutil
    except ImportError:
        return lambda: 0.0
    procs: dict[int, Any] = {}

    def total() -> float:
        seconds = 0.0
        for pid in worker_pids():
            try:
                proc = procs.get(pid) or procs.setdefault(pid, psutil.Process(pid))
                times = proc.cpu_times()
                seconds += times.user + times.system
            except psutil.Error:
                pass
        return seconds

    return total


def format_timeline_overhead(r: dict[str, Any]) -> str:
    """One line: the medians, the overhead, and whether it met :data:`TARGET`.

    Examples
    --------
    >>> r = dict(n_items=10, chunks=2, n_jobs=2, repeats=3, on=0.0101, off=0.01, overhead=0.01, noise=-0.002)
    >>> format_timeline_overhead(r).split(";")[1]
    ' overhead +1.0% (met: target <= 2%)'
    """
    nan = float("nan")
    verdict = "met" if r["overhead"] <= TARGET else "MISSED"
    return (
        f"timeline recording, {r['n_items']:,} trivial items in {r['chunks']} chunks on {r['n_jobs']} workers "
        f"({r['repeats']} rounds): median on {r['on'] * 1e3:.1f} ms, off {r['off'] * 1e3:.1f} ms; "
        f"overhead {r['overhead']:+.1%} ({verdict}: target <= {TARGET:.0%}); the same measure with recording "
        f"off on both sides (the machine's noise): {r['noise']:+.1%}. CPU seconds: kernel "
        f"{r.get('kernel_cpu_overhead', nan):+.1%} (noise {r.get('kernel_cpu_noise', nan):+.1%}), workers "
        f"{r.get('workers_cpu_overhead', nan):+.1%} (noise {r.get('workers_cpu_noise', nan):+.1%})"
    )


def main() -> int:  # pragma: no cover - a command
    """``python -m nbparallel.bench.timeline [n_jobs] [repeats]``."""
    from ..backends import shutdown
    from ..settings import effective_n_jobs

    n_jobs = effective_n_jobs(int(sys.argv[1]) if len(sys.argv) > 1 else None)
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    try:
        print(format_timeline_overhead(bench_timeline_overhead(n_jobs, repeats=repeats)))
    finally:
        shutdown()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

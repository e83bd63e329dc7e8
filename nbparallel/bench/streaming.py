"""The streaming workload of ``python -m nbparallel bench``: ``imap`` against ``pmap`` and joblib's generator.

Throughput: the same items through ``pmap`` (a list), ``imap`` (consumed with
a running sum) and ``joblib.Parallel(return_as="generator")`` with one task per
item and with batches of 256 (``batch_size``), in one process on warm pools.
Peak memory: each way consumes a generator of many cheap items with a running
sum in a fresh process, reporting how much its peak RSS grew.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from typing import Any

__all__ = ["bench_streaming", "format_streaming", "peak_rss_mib", "work"]


def work(x: int) -> int:
    """About 20 microseconds of pure Python per item."""
    total = 0
    for i in range(200):
        total += (x ^ i) & 7
    return total


_MEMORY = """
import sys
from nbparallel.bench.streaming import peak_rss_mib
import nbparallel as nbp
from joblib import Parallel, delayed
way, n, n_jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def run(items):
    if way == "imap":
        return sum(nbp.imap(abs, items, n_jobs=n_jobs, progress=False))
    if way == "pmap":
        return sum(nbp.pmap(abs, items, n_jobs=n_jobs, progress=False))
    par = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=256)
    return sum(par(delayed(abs)(x) for x in items))
run(iter(range(20000)))  # warm: pools and imports
before = peak_rss_mib()
assert run(iter(range(n))) == n * (n - 1) // 2
print(peak_rss_mib() - before)
"""


def peak_rss_mib() -> float:
    """The peak resident memory of this process so far, in MiB.

    Read from ``VmHWM`` in ``/proc/self/status`` where there is one:
    ``ru_maxrss`` is not enough, as Linux carries a parent's peak into a forked
    child, so in a child of a big process every growth would read 0.

    Examples
    --------
    >>> peak_rss_mib() > 0
    True
    """
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_growth(way: str, n: int, n_jobs: int) -> float:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [os.getcwd(), env.get("PYTHONPATH", "")] if p)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_MEMORY), way, str(n), str(n_jobs)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"streaming memory run ({way}) failed: {done.stderr[-2000:]}")
    return float(done.stdout.split()[-1])


def _total(results: Any) -> int:
    return sum(results)


def bench_streaming(n_jobs: int, *, quick: bool = False) -> dict[str, Any]:
    """Throughput of ``imap`` vs ``pmap`` vs joblib's generator, and peak RSS growth of each.

    Parameters
    ----------
    n_jobs : int
        Workers.
    quick : bool, default=False
        Small sizes (a smoke test; ratios not meaningful).

    Returns
    -------
    dict
        ``items``, ``seconds`` by way, ``peak_mib`` by way (over ``memory_items`` items).

    Examples
    --------
    >>> work(3) == sum((3 ^ i) & 7 for i in range(200))
    True
    """
    from joblib import Parallel, delayed

    from ..api import pmap
    from ..streaming import imap

    n = 5_000 if quick else 200_000
    want = sum(work(x) for x in range(min(n, 1000)))  # a check on a prefix, and warm code paths
    pmap(abs, range(100), n_jobs=n_jobs, progress=False)  # warm pool
    seconds: dict[str, float] = {}

    def timed(name: str, run: Any) -> None:
        began = time.perf_counter()
        total = run()
        seconds[name] = time.perf_counter() - began
        assert total == full, f"{name} computed {total}, expected {full}"

    full = _total(pmap(work, range(n), n_jobs=n_jobs, progress=False))
    assert _total(pmap(work, range(min(n, 1000)), n_jobs=n_jobs, progress=False)) == want
    timed("pmap", lambda: _total(pmap(work, range(n), n_jobs=n_jobs, progress=False)))
    timed("imap", lambda: _total(imap(work, range(n), n_jobs=n_jobs, progress=False)))
    timed("imap unordered", lambda: _total(imap(work, range(n), n_jobs=n_jobs, progress=False, ordered=False)))
    for batch in (1, 256):
        par = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=batch)
        timed(f"joblib generator, batch {batch}", lambda par=par: sum(par(delayed(work)(x) for x in range(n))))
    memory_items = 200_000 if quick else 3_000_000
    peaks = {way: _peak_growth(way, memory_items, n_jobs) for way in ("imap", "pmap", "joblib")}
    return {"items": n, "seconds": seconds, "memory_items": memory_items, "peak_mib": peaks}


def format_streaming(r: dict[str, Any]) -> str:
    """The streaming results as text, with ratios against ``imap``."""
    lines = [f"streaming: {r['items']:,} items of ~20 us, consumed with a running sum"]
    base = r["seconds"]["imap"]
    for name, s in r["seconds"].items():
        lines.append(f"  {name:<28} {s:7.3f} s   {r['items'] / s:>10,.0f} items/s   imap is {s / base:5.2f}x as fast")
    lines.append(f"  peak RSS growth over {r['memory_items']:,} cheap items from a generator:")
    lines.extend(f"    {way:<8} {mib:8.1f} MiB" for way, mib in r["peak_mib"].items())
    return "\n".join(lines)

"""``python -m nbparallel bench``: every speed claim of the project, measured in one run.

The runtime core against its peers (:mod:`.core`), the k-search against the
sequential loop, the first call in a fresh process, a 1 GiB array, and many
workers simulated with sleeping items (:mod:`.scale`).  Results
are checked equal and the timings printed as ratios.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ..settings import effective_n_jobs
from .core import format_core, run_core_bench
from .first_k import bench_first_choose_k, format_first_choose_k

__all__ = ["main", "bench_ksearch", "bench_first_call", "bench_large_array"]


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


@dataclass
class KSearchTiming:
    """``choose_k`` against a sequential scikit-learn loop (KMeans + full silhouette per k)."""

    data: str
    sequential_loop: float
    sequential_best_k: int
    choose_k: float
    choose_k_best_k: int | None
    choose_k_picks: dict[str, int | None]
    choose_k_one_worker: float
    n_jobs: int

    @property
    def speedup(self) -> float:
        return self.sequential_loop / self.choose_k

    @property
    def parallel_speedup(self) -> float:
        return self.choose_k_one_worker / self.choose_k

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(speedup=self.speedup, parallel_speedup=self.parallel_speedup)
        return out


def bench_ksearch(n_jobs: int, *, quick: bool = False) -> KSearchTiming:
    """Time ``choose_k`` on ``make_blobs(10000, 100 features, 7 centres)`` against the usual loop."""
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.datasets import make_blobs
    from sklearn.metrics import silhouette_score

    from ..ksearch import choose_k

    n = 2000 if quick else 10_000
    X, _ = make_blobs(n_samples=n, n_features=100, centers=7, random_state=42)
    ks = list(range(2, 15))
    # warm the workers (sklearn imported there) so neither side pays start-up
    choose_k(X[:200], k=range(2, 4), n_jobs=n_jobs, progress=False)

    def loop() -> int:
        scores = []
        for k in ks:
            model = KMeans(n_clusters=k, n_init="auto", random_state=0).fit(X)
            scores.append(silhouette_score(X, model.labels_))
        return ks[int(np.argmax(scores))]

    t_loop, loop_best = _timed(loop)
    t_par, res = _timed(lambda: choose_k(X, k=ks, n_jobs=n_jobs, progress=False))
    t_one, _ = _timed(lambda: choose_k(X, k=ks, n_jobs=1, progress=False))
    return KSearchTiming(
        data=f"make_blobs(n_samples={n}, n_features=100, centers=7, random_state=42), k=2..14",
        sequential_loop=t_loop,
        sequential_best_k=loop_best,
        choose_k=t_par,
        choose_k_best_k=res.best_k,
        choose_k_picks=res.picks,
        choose_k_one_worker=t_one,
        n_jobs=n_jobs,
    )


_LATENCY_SCRIPT = """
import sys, time
import nbparallel as nbp
def trivial(x):  # defined here, as in a notebook: shipped by value, no module for a worker to import
    return x
if sys.argv[1] == "warm":
    nbp.warm(wait=True)   # what %load_ext nbparallel (or importing in a kernel) starts in the background
start = time.perf_counter()
nbp.pmap(trivial, range(100), progress=False)
print(time.perf_counter() - start)
nbp.shutdown()
"""


def bench_first_call(repeats: int = 3) -> dict[str, float]:
    """First-``pmap`` latency in a fresh process, without and with a warmed pool (medians)."""
    import subprocess
    import sys

    out: dict[str, float] = {}
    for mode in ("cold", "warm"):
        runs = []
        for _ in range(repeats):
            done = subprocess.run(
                [sys.executable, "-c", _LATENCY_SCRIPT, mode], capture_output=True, text=True, check=True
            )
            runs.append(float(done.stdout.strip().splitlines()[-1]))
        out[mode] = statistics.median(runs)
    return out


_LARGE_SCRIPT = """
import resource, sys, time
import numpy as np
mode, n_bytes, n_jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
x = np.arange(n_bytes // 8, dtype=np.float64)

def double(c):
    return c * 2

if mode != "numpy":
    import nbparallel as nbp
    from joblib import Parallel, delayed
    nbp.warm(n_jobs, wait=True)
start = time.perf_counter()
if mode == "numpy":
    y = double(x)
elif mode == "recipe":
    parts = Parallel(n_jobs=n_jobs)(delayed(double)(p) for p in np.array_split(x, n_jobs))
    y = np.concatenate(parts)
    del parts
else:
    y = nbp.pmap_chunks(double, x, n_jobs=n_jobs, progress=False)
elapsed = time.perf_counter() - start
ok = y.shape == x.shape and y[-1] == 2 * x[-1] and y[12345] == 2 * x[12345]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(elapsed, peak, ok)
"""


@dataclass
class LargeArrayTiming:
    """Doubling one large float64 array: wall time and the process's peak memory per way."""

    n_bytes: int
    seconds: dict[str, float]
    peak_ratio: dict[str, float]  # peak RSS / array size
    correct: dict[str, bool]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def bench_large_array(n_jobs: int, n_bytes: int = 2**30) -> LargeArrayTiming:
    """``pmap_chunks(lambda c: c * 2, x)`` on a 1 GiB array against the recipe and plain numpy.

    Each way runs in a fresh process so its peak memory (``ru_maxrss``) is its own.
    """
    import subprocess
    import sys

    seconds, peaks, correct = {}, {}, {}
    for mode in ("numpy", "recipe", "pmap_chunks"):
        done = subprocess.run(
            [sys.executable, "-c", _LARGE_SCRIPT, mode, str(n_bytes), str(n_jobs)],
            capture_output=True,
            text=True,
            check=True,
        )
        elapsed, peak, ok = done.stdout.split()[-3:]
        seconds[mode], peaks[mode], correct[mode] = float(elapsed), int(peak) / n_bytes, ok == "True"
    return LargeArrayTiming(n_bytes, seconds, peaks, correct)


def format_large(t: LargeArrayTiming) -> str:
    """The large-array timing as text."""
    lines = [f"large array: doubling {t.n_bytes / 2**30:.2f} GiB of float64 (each way in a fresh process)"]
    for mode in t.seconds:
        lines.append(
            f"  {mode:<12} {t.seconds[mode]:7.2f} s   peak memory {t.peak_ratio[mode]:.2f}x the array"
            f"   correct: {t.correct[mode]}"
        )
    lines.append(
        f"  pmap_chunks vs recipe: {t.seconds['recipe'] / t.seconds['pmap_chunks']:.2f}x faster, "
        f"peak {t.peak_ratio['pmap_chunks']:.2f}x vs {t.peak_ratio['recipe']:.2f}x the array (target <= 2.5x)"
    )
    return "\n".join(lines)


def format_ksearch(t: KSearchTiming) -> str:
    """The k-search timing as text."""
    return "\n".join(
        [
            f"k-search on {t.data}:",
            f"  sequential loop (KMeans + full silhouette per k): {t.sequential_loop:.2f} s, best k {t.sequential_best_k}",
            f"  choose_k, {t.n_jobs} workers (7 criteria, silhouette on a shared subsample): {t.choose_k:.2f} s, "
            f"best k {t.choose_k_best_k}, picks {t.choose_k_picks}",
            f"  choose_k speed-up over the loop: {t.speedup:.1f}x; same best k: {t.choose_k_best_k == t.sequential_best_k}",
            f"  choose_k with 1 worker: {t.choose_k_one_worker:.2f} s; {t.n_jobs} workers vs 1: {t.parallel_speedup:.2f}x",
        ]
    )


def main(args: Any) -> int:
    n = effective_n_jobs(args.n_jobs)
    from .frames import bench_frames, format_frames  # issue 25: the pandas drop-in

    if getattr(args, "only", None) == "frames":
        print(format_frames(bench_frames(n, quick=args.quick)))
        return 0
    from .dask import bench_dask, format_dask  # issue 27: nbparallel on dask against dask's client.map

    if getattr(args, "only", None) == "dask":
        print(format_dask(bench_dask(n, quick=args.quick), n))
        return 0
    timings = run_core_bench(n, quick=args.quick)
    ksearch = bench_ksearch(n, quick=args.quick)
    first_k = bench_first_choose_k(n, runs=1 if args.quick else 3, quick=args.quick)
    latency = bench_first_call(1 if args.quick else 3)
    large = bench_large_array(n, 2**24 if args.quick else 2**30)
    from .memory import bench_idle_memory, format_idle_memory  # issue 36: what an idle worker holds

    memory = bench_idle_memory(n)
    if args.json:
        print(
            json.dumps(
                {
                    "n_jobs": n,
                    "core": [asdict(t) for t in timings],
                    "ksearch": ksearch.as_dict(),
                    "first_choose_k": first_k.as_dict(),
                    "first_call": latency,
                    "large_array": large.as_dict(),
                    "idle_memory": memory.as_dict(),
                },
                indent=2,
            )
        )
    else:
        print(format_core(timings, n))
        print(format_ksearch(ksearch))
        print(format_first_choose_k(first_k))
        print(
            f"first pmap in a fresh process (100 trivial items): cold pool {latency['cold'] * 1000:.0f} ms, "
            f"warmed pool {latency['warm'] * 1000:.0f} ms: warming saves {latency['cold'] / latency['warm']:.1f}x"
        )
        print(format_large(large))
        print(format_idle_memory(memory))
    from .streaming import bench_streaming, format_streaming  # issue 14: the streaming workload

    print(format_streaming(bench_streaming(n, quick=args.quick)))
    print(format_frames(bench_frames(n, quick=args.quick)))
    from .timeline import bench_timeline_overhead, format_timeline_overhead  # issue 26: recording's cost

    print(format_timeline_overhead(bench_timeline_overhead(n, repeats=10 if args.quick else 100)))
    from .joblib import bench_joblib, format_joblib  # issue 24: joblib's Parallel on the nbparallel backend

    print(format_joblib(bench_joblib(n, quick=args.quick), n))
    print(format_dask(bench_dask(n, quick=args.quick), n))
    from .scale import WORKERS, bench_scale, format_scale  # issue 36: many workers, simulated

    print(format_scale(bench_scale((2, 4) if args.quick else WORKERS, repeats=1 if args.quick else 5)))
    return 0

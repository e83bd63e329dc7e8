"""``python -m nbparallel demo``: the main job, in a terminal.

Runs the bogosort and skewed workloads sequentially and with ``pmap`` (with a
text progress bar), checks the results agree, and prints the speed-ups.
"""

from __future__ import annotations

import time
from typing import Any, cast

from ..api import pmap
from ..backends import warm
from ..settings import effective_n_jobs
from .workloads import bogosort, skewed_data, skewed_work, uniform_data


def _section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 60 - len(title)))


def _side_by_side(title: str, func: Any, data: Any, n: int, *, show: slice) -> bool:
    """Run ``func`` over ``data`` sequentially and with ``pmap`` (with a bar); print both."""
    _section(title)
    started = time.perf_counter()
    sequential = [func(x) for x in data]
    seq = time.perf_counter() - started
    started = time.perf_counter()
    parallel = cast(list[Any], pmap(func, data, n_jobs=n, progress=True))  # foreground: a list
    par = time.perf_counter() - started
    print(f"results {parallel[show]}")
    print(f"sequential {seq:.2f} s, pmap {par:.2f} s: {seq / par:.2f}x; results equal: {parallel == sequential}")
    return parallel == sequential


def main(args: Any) -> int:
    """Run the demo; return 0 when every parallel result equals the sequential one."""
    n = effective_n_jobs(args.n_jobs)
    scale = 10 if args.quick else 1
    print(f"nbparallel demo on {n} worker(s); starting them once (what %load_ext nbparallel does)...")
    warm(n, wait=True)
    ok = True

    start = time.perf_counter()
    rows = uniform_data(400 // scale)
    ok &= _side_by_side(f"bogosort of {400 // scale} rows of 7 ints", bogosort, rows, n, show=slice(0, 3))
    ok &= _side_by_side(
        f"skewed: {200 // scale} items, cost growing with the index",
        skewed_work,
        skewed_data(200 // scale),
        n,
        show=slice(-2, None),
    )

    _section("choosing k for KMeans: make_blobs with 7 centres, k = 2..14")
    import numpy as np
    from sklearn.datasets import make_blobs

    from ..ksearch import choose_k

    X, _ = make_blobs(n_samples=10_000 // scale, n_features=100, centers=7, random_state=42)
    res = choose_k(X, k=range(2, 15), n_jobs=n, progress=True)
    print(repr(res))
    wrong = res.k[int(np.argmax(np.diff(res.scores["silhouette"]))) + 1]
    print(f"the popular argmax(diff(silhouette)) recipe would say k = {wrong}; every criterion here says {res.picks}")
    ok &= res.best_k == 7

    print(f"\ndemo finished in {time.perf_counter() - start:.1f} s: {'all results correct' if ok else 'MISMATCH'}")
    return 0 if ok else 1

"""The first ``choose_k`` of a plain Python script, against the sequential loop.

A kernel warms its workers with ``%load_ext nbparallel`` (scikit-learn imported
there too); a script gets none of that.  Each run here is a fresh process that
does what a script would: import scikit-learn and nbparallel, make the data,
run one small warm-up ``pmap``, then time its first ``choose_k``.  The loop it
is compared with (KMeans + full silhouette per k, one process) is timed in the
same script, after ``choose_k``.

``python -m nbparallel.bench.first_k`` runs only this part.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["FirstChooseK", "bench_first_choose_k", "format_first_choose_k", "TARGET"]

#: The first ``choose_k`` in a script must be at least this many times faster than the loop.
TARGET = 10.0

_SCRIPT = """
import sys, time
import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import silhouette_score
import nbparallel as nbp

n, n_jobs, loop = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "loop"
X, _ = make_blobs(n_samples=n, n_features=100, centers=7, random_state=42)
ks = range(2, 15)

def warm_up(x):
    return x

nbp.pmap(warm_up, range(10), n_jobs=n_jobs, progress=False)
start = time.perf_counter()
best = nbp.choose_k(X, k=ks, n_jobs=n_jobs, progress=False).best_k
first = time.perf_counter() - start
t_loop, loop_best = float("nan"), -1
if loop:
    start = time.perf_counter()
    scores = [silhouette_score(X, KMeans(n_clusters=k, n_init="auto", random_state=0).fit(X).labels_) for k in ks]
    t_loop, loop_best = time.perf_counter() - start, ks[int(np.argmax(scores))]
print(first, best, t_loop, loop_best)
nbp.shutdown()
"""


@dataclass
class FirstChooseK:
    """Seconds of each fresh script's first ``choose_k``, and of the loop (timed in the first script)."""

    n_samples: int
    first_choose_k: list[float]
    best_k: list[int | None]
    loop: float
    loop_best_k: int

    @property
    def speedup(self) -> float:
        """The loop's time over the median first ``choose_k``."""
        return self.loop / statistics.median(self.first_choose_k)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "speedup": self.speedup}


def bench_first_choose_k(n_jobs: int, *, runs: int = 3, quick: bool = False) -> FirstChooseK:
    """Run the script ``runs`` times (the loop in the first run only).

    Parameters
    ----------
    n_jobs : int
        Workers.
    runs : int, default=3
        Fresh processes; the median first ``choose_k`` is reported.
    quick : bool, default=False
        2,000 points instead of 10,000 (a smoke test; the ratio is not meaningful).

    Returns
    -------
    FirstChooseK
    """
    n = 2000 if quick else 10_000
    firsts: list[float] = []
    bests: list[int | None] = []
    loop, loop_best = float("nan"), -1
    for i in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", _SCRIPT, str(n), str(n_jobs), "loop" if i == 0 else "-"],
            capture_output=True,
            text=True,
            check=True,
        )
        first, best, t_loop, l_best = done.stdout.split()[-4:]
        firsts.append(float(first))
        bests.append(None if best == "None" else int(best))
        if i == 0:
            loop, loop_best = float(t_loop), int(l_best)
    return FirstChooseK(n, firsts, bests, loop, loop_best)


def format_first_choose_k(t: FirstChooseK) -> str:
    """The timings as text, with the verdict against :data:`TARGET`."""
    met = "met" if t.speedup >= TARGET else "MISSED"
    runs = ", ".join(f"{s:.2f}" for s in t.first_choose_k)
    return (
        f"first choose_k in a fresh script after a warm-up pmap (make_blobs({t.n_samples}, 100 features, "
        f"7 centres), k=2..14): {runs} s (best k {t.best_k}); the loop {t.loop:.2f} s (best k {t.loop_best_k}): "
        f"{t.speedup:.1f}x; {met} (target >= {TARGET:g}x)"
    )


if __name__ == "__main__":
    from ..settings import effective_n_jobs

    print(format_first_choose_k(bench_first_choose_k(effective_n_jobs(None), quick="--quick" in sys.argv)))

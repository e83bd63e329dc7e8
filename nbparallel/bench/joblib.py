"""The joblib-backend workloads of ``python -m nbparallel bench``: the same joblib calls on loky and on nbparallel.

Each workload runs the same ``joblib.Parallel`` code twice in one process,
once with ``parallel_config(backend="loky")`` (joblib's own) and once with
``parallel_config(backend="nbparallel")``, both pools warmed first; the
ratio nbparallel / loky is what the issue bounds:

* a ``GridSearchCV`` of about 10 s sequential (``<= 1.05x``);
* 10,000 tiny ``delayed`` calls (``<= 1.2x``);
* a call whose tasks take one 100 MB array argument (``<= 1x``, and no copy
  per task: the workers see a memory map of one shared copy).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["JoblibTiming", "bench_joblib", "format_joblib"]


@dataclass
class JoblibTiming:
    """Seconds of one workload on joblib's loky backend and on nbparallel's."""

    name: str
    bound: float
    loky: float
    nbparallel: float
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.nbparallel / self.loky

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def _best(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def _both(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Best time of ``fn`` on loky and on nbparallel, alternating (the machine's load hits both alike)."""
    from joblib import parallel_config

    loky, ours = [], []
    for _ in range(repeats):
        with parallel_config(backend="loky"):
            loky.append(_best(fn, 1))
        with parallel_config(backend="nbparallel"):
            ours.append(_best(fn, 1))
    return min(loky), min(ours)


def _kind(a: Any, i: int) -> tuple[str, float]:
    return type(a).__name__, float(a[i::64].sum())


def bench_joblib(n_jobs: int, *, quick: bool = False) -> list[JoblibTiming]:
    """Time the three workloads on both backends (``quick``: small ones; the ratios mean little then)."""
    import numpy as np
    from joblib import Parallel, delayed, parallel_config
    from sklearn.datasets import make_classification
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC

    import nbparallel as nbp  # registers the backend

    with nbp.config(progress=False):  # no progress bars in the measurements
        return _run(n_jobs, quick, np, Parallel, delayed, parallel_config, make_classification, GridSearchCV, SVC)


def _run(
    n_jobs: int,
    quick: bool,
    np: Any,
    Parallel: Any,
    delayed: Any,
    parallel_config: Any,
    make_classification: Any,
    GridSearchCV: Any,
    SVC: Any,
) -> list[JoblibTiming]:

    for backend in ("loky", "nbparallel"):  # warm both pools, sklearn imported in the workers
        with parallel_config(backend=backend):
            Parallel(n_jobs=n_jobs)(delayed(make_classification)(n_samples=10) for _ in range(2 * n_jobs))

    n_samples = 300 if quick else 2200
    X, y = make_classification(n_samples=n_samples, n_features=20, random_state=0)
    grid = {"C": [0.1, 1, 10, 100], "gamma": ["scale", 0.01, 0.1, 1.0]}

    def search() -> None:
        GridSearchCV(SVC(), grid, cv=5, n_jobs=n_jobs).fit(X, y)

    began = time.perf_counter()
    with parallel_config(backend="loky"):
        GridSearchCV(SVC(), grid, cv=5, n_jobs=1).fit(X, y)
    sequential = time.perf_counter() - began
    loky, ours = _both(search, 1 if quick else 3)
    results = [JoblibTiming("GridSearchCV", 1.05, loky, ours, f"{sequential:.1f} s sequential, 80 fits")]

    n_tiny = 1000 if quick else 10_000

    def tiny() -> None:
        Parallel(n_jobs=n_jobs)(delayed(abs)(-i) for i in range(n_tiny))

    loky, ours = _both(tiny, 2 if quick else 5)
    results.append(JoblibTiming(f"{n_tiny:,} tiny delayed calls", 1.2, loky, ours))

    big = np.random.default_rng(0).random((2 * 2**20 if quick else 100 * 2**20) // 8)
    kinds: set[str] = set()

    def large() -> None:
        out = Parallel(n_jobs=n_jobs)(delayed(_kind)(big, i) for i in range(4 * n_jobs))
        kinds.update(kind for kind, _ in out)

    loky, ours = _both(large, 2 if quick else 5)
    seen = sorted(kinds)
    results.append(
        JoblibTiming(
            f"{big.nbytes / 2**20:.0f} MB array argument, {4 * n_jobs} tasks",
            1.0,
            loky,
            ours,
            f"workers received: {', '.join(seen)} (a memory map of one copy, not a copy per task)",
        )
    )
    return results


def format_joblib(timings: list[JoblibTiming], n_jobs: int) -> str:
    """The workloads as text lines, with the ratio each must stay under.

    Examples
    --------
    >>> print(format_joblib([JoblibTiming("tiny calls", 1.2, 0.05, 0.055)], 2))
    joblib calls on loky vs the nbparallel backend (2 workers, best of a few runs):
      tiny calls: loky 0.050 s, nbparallel 0.055 s: 1.10x (bound 1.20x: ok)
    """
    lines = [f"joblib calls on loky vs the nbparallel backend ({n_jobs} workers, best of a few runs):"]
    for t in timings:
        verdict = "ok" if t.ratio <= t.bound else "OVER"
        lines.append(
            f"  {t.name}: loky {t.loky:.3f} s, nbparallel {t.nbparallel:.3f} s: {t.ratio:.2f}x "
            f"(bound {t.bound:.2f}x: {verdict})" + (f"; {t.note}" if t.note else "")
        )
    return "\n".join(lines)

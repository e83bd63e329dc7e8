"""Idle worker memory: nbparallel's workers against plain loky workers that imported NumPy.

A fresh process does what a data-science kernel does: it imports scikit-learn
and nbparallel, warms the pool and runs one small ``pmap``; nobody asks for a
k-search.  The private memory (USS) of each idle worker is then compared with
that of a plain ``loky`` worker that imported NumPy, measured in the same run.

``python -m nbparallel.bench.memory`` runs only this part.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["IdleMemory", "bench_idle_memory", "format_idle_memory", "TARGET"]

#: An idle worker may hold at most this many times a plain loky worker's private memory.
TARGET = 1.5

_SCRIPT = """
import json, sys, time
import psutil
import sklearn  # as most data-science kernels have
import nbparallel as nbp

n = int(sys.argv[1])

def uss(pids):
    return [psutil.Process(pid).memory_full_info().uss for pid in pids]

def has_sklearn(_):
    return "sklearn" in sys.modules

nbp.warm(n, wait=True)
loaded = nbp.pmap(has_sklearn, range(n), n_jobs=n, progress=False)
time.sleep(0.5)  # idle
ours = uss(nbp.backends.worker_pids())
nbp.shutdown()

import os
import loky

def import_numpy():  # every plain worker, as it starts (a worker that ran no item imported it too)
    import numpy
    numpy.ones(3).sum()

def pid(_):
    time.sleep(0.05)  # long enough for every started worker to take one
    return os.getpid()

ex = loky.get_reusable_executor(max_workers=n, initializer=import_numpy)
ready = set(ex.map(pid, range(4 * n)))  # workers past their initializer: numpy imported
time.sleep(0.5)
plain = uss(sorted(ready))
ex.shutdown(wait=True, kill_workers=True)
print(json.dumps({"ours": ours, "plain": plain, "sklearn_in_workers": any(loaded)}))
"""


@dataclass
class IdleMemory:
    """Private memory (USS, bytes) of each idle worker: nbparallel's and plain loky's with NumPy."""

    n_workers: int
    ours: list[int]
    plain: list[int]
    sklearn_in_workers: bool

    @property
    def ratio(self) -> float:
        """The largest idle nbparallel worker over the median plain loky worker."""
        return max(self.ours) / statistics.median(self.plain)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def bench_idle_memory(n_workers: int) -> IdleMemory:
    """Measure it in a fresh process (see the module's description).

    Parameters
    ----------
    n_workers : int
        Workers in each pool.

    Returns
    -------
    IdleMemory

    Examples
    --------
    >>> m = bench_idle_memory(2)  # doctest: +SKIP
    >>> m.ratio <= TARGET  # doctest: +SKIP
    True
    """
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(n_workers)], capture_output=True, text=True, check=True, timeout=600
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    return IdleMemory(n_workers, seen["ours"], seen["plain"], seen["sklearn_in_workers"])


def format_idle_memory(m: IdleMemory) -> str:
    """The memory as text, with the verdict against :data:`TARGET`."""
    mib = 2**20
    met = "met" if m.ratio <= TARGET else "MISSED"
    ours = ", ".join(f"{u / mib:.0f}" for u in m.ours)
    plain = ", ".join(f"{u / mib:.0f}" for u in m.plain)
    return (
        f"idle worker memory after import sklearn, warm() and one pmap ({m.n_workers} workers): USS {ours} MiB "
        f"(scikit-learn {'loaded' if m.sklearn_in_workers else 'not loaded'}); a plain loky worker that imported "
        f"numpy: {plain} MiB; {m.ratio:.2f}x; {met} (target <= {TARGET:g}x)"
    )


if __name__ == "__main__":
    from ..settings import effective_n_jobs

    print(format_idle_memory(bench_idle_memory(effective_n_jobs(None))))

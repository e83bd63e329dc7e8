"""The pandas workloads of ``python -m nbparallel bench``: the drop-in against pandas and pandarallel.

Every way runs the same script in a fresh process (so its peak memory is its
own): plain pandas, ``from nbparallel import pandarallel`` (pandas 3, its
pool warmed after ``pandarallel.initialize()``, as a notebook's is by its first
pandas call when ``initialize()`` ran in its first cell: the workers have
imported pandas then), and the real pandarallel 1.6.5, which needs pandas < 3 and so runs from
its own small environment when there is one::

    uv venv /tmp/pdl-env --python 3.11
    uv pip install --python /tmp/pdl-env "pandas<3" pandarallel

(``NBPARALLEL_PANDARALLEL_PYTHON`` names another interpreter). Without it the
pandarallel column says so and is skipped.  "cpu" is the CPU time of the
calling process and every process below it (its workers) during the call,
less sensitive than the time to other work on the machine.  Peak memory is the parent
process's own: its peak RSS is reset (``/proc/self/clear_refs``) just before
the timed call, and the growth above the RSS at that moment is reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FrameTiming", "bench_frames", "format_frames", "pandarallel_python", "WORKLOADS"]

#: name -> (description, size at scale 1, target: "vs pandas >= x" or "vs pandarallel <= 1").
WORKLOADS: dict[str, tuple[str, int, str]] = {
    "rows-200us": ("df.apply(f, axis=1), f ~200 us, 20,000 rows", 20_000, "speed-up vs pandas >= 1.8"),
    "rows-2us": ("df.apply(f, axis=1), f ~2 us, 1,000,000 rows", 1_000_000, "time vs pandarallel <= 1"),
    "map": ("Series.map(f), 2,000,000 items", 2_000_000, "time vs pandarallel <= 1"),
    "groupby": ("groupby(k).apply(f), 10,000 groups of 20 rows", 10_000, "time vs pandarallel <= 1"),
    "frame-1gib": ("df.apply(np.sum, axis=1, raw=True) on a 1 GiB float64 frame", 2**30, "peak <= 2.5x the frame"),
}

_SCRIPT = r"""
import json, sys, time
import numpy as np, pandas as pd
way, workload, size, n_jobs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def spin(us):
    end = time.perf_counter() + us * 1e-6
    while time.perf_counter() < end:
        pass

def row_200us(row):
    spin(200)
    return row["a"] * 2

def row_2us(row):
    spin(2)
    return row["a"]

def item(x):
    return x * 2 + 1

def group(g):
    return g["b"].sum() / len(g)

def tree_cpu():
    # CPU seconds of this process and every process below it, live or reaped (utime, stime, cutime, cstime)
    import os
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry)] = (int(fields[1]), sum(int(x) for x in fields[11:15]))
    mine, grew = {os.getpid()}, True
    while grew:
        below = {pid for pid, (ppid, _) in stats.items() if ppid in mine} - mine
        grew, mine = bool(below), mine | below
    return sum(stats[pid][1] for pid in mine if pid in stats) / os.sysconf("SC_CLK_TCK")

def status(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    return 0

rng = np.random.default_rng(0)
if workload in ("rows-200us", "rows-2us"):
    data = pd.DataFrame({"a": np.arange(size, dtype=float), "b": rng.normal(size=size)})
    call, args = "apply", (row_200us if workload == "rows-200us" else row_2us,)
    kwargs = {"axis": 1}
elif workload == "map":
    data = pd.Series(np.arange(size))
    call, args, kwargs = "map", (item,), {}
elif workload == "groupby":
    keys = rng.permutation(np.repeat(np.arange(size), 20))
    frame = pd.DataFrame({"k": keys, "b": rng.normal(size=len(keys))})
    data = frame.groupby("k")
    call, args, kwargs = "apply", (group,), {}
else:
    columns = 1024
    data = pd.DataFrame(rng.random((size // (8 * columns), columns)))
    call, args, kwargs = "apply", (np.sum,), {"axis": 1, "raw": True}

if way != "pandas":
    if way == "pandarallel":
        from pandarallel import pandarallel
    else:
        import nbparallel
        from nbparallel import pandarallel
    pandarallel.initialize(nb_workers=n_jobs, progress_bar=False, verbose=0)
    if way == "nbparallel":  # as a notebook is by its first pandas call: initialize() in its first cell
        nbparallel.warm(n_jobs, wait=True)  # (which asks the workers for pandas), the data loaded after
    call = "parallel_" + call
frame_bytes = int(np.sum((frame if workload == "groupby" else data).memory_usage(index=True, deep=True)))
try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak RSS to the current RSS
except OSError:
    pass
rss = status("VmRSS:")
cpu = tree_cpu()
start = time.perf_counter()
result = getattr(data, call)(*args, **kwargs)
elapsed = time.perf_counter() - start
cpu = tree_cpu() - cpu
peak = status("VmHWM:")
check = float(np.nansum(np.asarray(result, dtype=float)))
print(json.dumps({"seconds": elapsed, "cpu": cpu, "growth": peak - rss, "peak": peak, "data_bytes": frame_bytes,
                  "check": check, "rows": len(result)}))
if way == "nbparallel":
    nbparallel.shutdown()
"""


def pandarallel_python() -> str | None:
    """The interpreter of the pandarallel environment, or ``None`` when there is none."""
    path = os.environ.get("NBPARALLEL_PANDARALLEL_PYTHON", "/tmp/pdl-env/bin/python")
    return path if os.path.exists(path) else None


@dataclass
class FrameTiming:
    """One workload: seconds, peak memory growth (bytes) and a checksum per way."""

    workload: str
    description: str
    target: str
    size: int
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def verdict(self) -> str:
        ours = self.runs.get("nbparallel")
        if ours is None or "error" in ours:
            return "nbparallel failed" if ours else "not run"
        if any("error" in run for run in self.runs.values()):
            return "a peer failed: not compared"
        if self.target.startswith("speed-up"):
            value = self.runs["pandas"]["seconds"] / ours["seconds"]
            return f"{'met' if value >= 1.8 else 'MISSED'}: {value:.2f}x pandas (target >= 1.8)"
        if self.target.startswith("peak"):
            value = ours["peak"] / ours["data_bytes"]
            return f"{'met' if value <= 2.5 else 'MISSED'}: kernel peak {value:.2f}x the frame (target <= 2.5x)"
        other = self.runs.get("pandarallel")
        if other is None:
            return "pandarallel not available (no environment): not compared"
        t, m = ours["seconds"] / other["seconds"], ours["growth"] / max(other["growth"], 1)
        ok = t <= 1.0 and m <= 1.0
        cpu = f" (cpu {ours['cpu'] / other['cpu']:.2f}x)" if ours.get("cpu") and other.get("cpu") else ""
        return f"{'met' if ok else 'MISSED'}: time {t:.2f}x pandarallel{cpu}, peak growth {m:.2f}x pandarallel (targets <= 1)"


def _run(python: str, way: str, workload: str, size: int, n_jobs: int) -> dict[str, Any]:
    done = subprocess.run(
        [python, "-c", _SCRIPT, way, workload, str(size), str(n_jobs)], capture_output=True, text=True, timeout=1800
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def bench_frames(n_jobs: int, *, quick: bool = False, only: list[str] | None = None) -> list[FrameTiming]:
    """Run the pandas workloads (one run each, each way in a fresh process)."""
    other = pandarallel_python()
    timings = []
    for name, (description, size, target) in WORKLOADS.items():
        if only and name not in only:
            continue
        size = max(1, size // (64 if name == "frame-1gib" else 20)) if quick else size
        t = FrameTiming(name, description, target, size)
        ways = ["nbparallel", "pandas"] if name in ("rows-200us", "frame-1gib") else ["nbparallel"]
        if other is not None and name != "rows-200us":
            ways.append("pandarallel")
        for way in ways:
            t.runs[way] = _run(other if way == "pandarallel" and other else sys.executable, way, name, size, n_jobs)
        timings.append(t)
    return timings


def format_frames(timings: list[FrameTiming]) -> str:
    """The pandas workloads as text."""
    other = pandarallel_python()
    lines = [
        "pandas workloads (one run each, every way in a fresh process; nbparallel on a pool warmed after initialize()): "
        + (
            f"pandarallel from {other}"
            if other
            else "pandarallel: no environment, skipped (see nbparallel/bench/frames.py)"
        )
    ]
    for t in timings:
        lines.append(f"  {t.workload:<11} {t.description}")
        for way, run in t.runs.items():
            if "error" in run:
                lines.append(f"    {way:<12} failed: {run['error']}")
                continue
            lines.append(
                f"    {way:<12} {run['seconds']:8.2f} s   cpu {run.get('cpu', float('nan')):7.2f} s   peak growth {run['growth'] / 2**20:8.1f} MiB"
                f"   peak {run['peak'] / 2**20:8.1f} MiB   check {run['check']:.6g}"
            )
        lines.append(f"    {t.verdict()}")
    return "\n".join(lines)

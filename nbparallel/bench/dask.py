"""The dask workloads of ``python -m nbparallel bench``: ``pmap(..., backend="dask")`` against dask's own ``client.map``.

A real ``dask.distributed.LocalCluster`` on 127.0.0.1 (worker processes of one
thread each, no dashboard, its scratch space in a temporary folder removed
afterwards) runs each workload three ways, all warm (each way runs once,
untimed, before the timed rounds, and its result is checked equal to the
sequential one):

* ``nbparallel``: ``pmap(f, items, backend="dask")`` (or ``pmap_chunks`` for
  an array);
* ``client.map``: the obvious dask code, one task per item,
  ``client.gather(client.map(f, items))``;
* ``client.map batched``: what a careful dask user writes for small items,
  one task per batch of items (``4 x`` the cluster's threads batches, as
  loky's ``chunksize`` in the core bench), flattened afterwards; for an array,
  its ``np.array_split`` parts scattered to the workers, mapped and
  concatenated.

The bound (``<= 1.2x``) is against the batched way: one task per ~1 ms item
is dask's documented anti-pattern (its scheduler costs about a millisecond per
task), so beating it says little.  Rounds alternate the ways, so load on a
shared machine hits all of them alike; the medians and the spread are printed.
``python -m nbparallel.bench.dask`` runs only this part.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from .turns import in_turns

__all__ = ["BOUND", "DaskTiming", "bench_dask", "cluster", "format_dask", "busy", "wave", "main"]

#: The issue's bound: nbparallel on dask at most this many times dask's own (batched) time.
BOUND = 1.2

#: Steps of :func:`busy`'s loop: about 1 ms of pure Python on an idle 2020s core.
BUSY_STEPS = 12_000


def busy(i: int) -> int:
    """About 1 ms of pure-Python work on item ``i`` (the same work for every item).

    Examples
    --------
    >>> busy(3) == busy(3)
    True
    """
    total = 0
    for k in range(BUSY_STEPS):
        total += (k * i) & 1023
    return total


def busy_batch(items: list[int]) -> list[int]:
    """:func:`busy` over a batch of items: one dask task per batch.

    Examples
    --------
    >>> busy_batch([1, 2]) == [busy(1), busy(2)]
    True
    """
    return [busy(i) for i in items]


def wave(chunk: Any) -> Any:
    """A moderately heavy element-wise numpy step (a few transcendental functions per element).

    Examples
    --------
    >>> import numpy as np
    >>> wave(np.zeros(3)).tolist()
    [1.0, 1.0, 1.0]
    """
    import numpy as np

    return np.sqrt(np.sin(chunk) ** 2 + np.cos(chunk * 0.5) ** 2 * np.exp(-np.abs(chunk) * 1e-7))


@dataclass
class DaskTiming:
    """Seconds of one workload, per way: every round's time and their median."""

    name: str
    description: str
    runs: dict[str, list[float]] = field(default_factory=dict)
    sequential: float | None = None
    target: str = "client.map batched"

    def median(self, way: str) -> float:
        """The median of ``way``'s rounds."""
        return statistics.median(self.runs[way])

    @property
    def ratio(self) -> float:
        """nbparallel's median time over the target way's."""
        return self.median("nbparallel") / self.median(self.target)

    @property
    def round_ratios(self) -> list[float]:
        """The same ratio within each round (paired: both ran side by side)."""
        return [a / b for a, b in zip(self.runs["nbparallel"], self.runs[self.target], strict=True)]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "round_ratios": self.round_ratios}


@contextlib.contextmanager
def cluster(n_workers: int = 2) -> Iterator[Any]:
    """A real ``LocalCluster`` (``n_workers`` processes x 1 thread, on 127.0.0.1, no dashboard) and its Client.

    Dask's scratch space goes to a temporary folder, removed on the way out,
    after the client and the cluster are closed (which waits for the workers
    to exit).

    Examples
    --------
    Skipped as a doctest (it starts a cluster's processes; tests/test_bench_dask.py runs it):

    >>> with cluster(2) as client:  # doctest: +SKIP
    ...     client.submit(abs, -1).result()
    1
    """
    import dask
    from distributed import Client, LocalCluster

    scratch = tempfile.mkdtemp(prefix="nbparallel-bench-dask-")
    try:
        with dask.config.set({"temporary-directory": scratch}):
            local = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=40,
                local_directory=scratch,
            )
            try:
                client = Client(local)
                try:
                    yield client
                finally:
                    client.close()
            finally:
                local.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _batches(items: list[int], n_batches: int) -> list[list[int]]:
    size = -(-len(items) // n_batches)
    return [items[i : i + size] for i in range(0, len(items), size)]


def _ways_items(client: Any, items: list[int], n_batches: int) -> dict[str, Callable[[], Any]]:
    from ..api import pmap

    def per_item() -> list[int]:
        return list(client.gather(client.map(busy, items, pure=False)))

    def batched() -> list[int]:
        parts = client.gather(client.map(busy_batch, _batches(items, n_batches), pure=False))
        return [value for part in parts for value in part]

    return {
        "nbparallel": lambda: pmap(busy, items, backend="dask", progress=False),
        "client.map": per_item,
        "client.map batched": batched,
    }


def _ways_array(client: Any, x: Any, n_batches: int) -> dict[str, Callable[[], Any]]:
    import numpy as np

    from ..api import pmap_chunks

    def batched() -> Any:
        parts = client.scatter(np.array_split(x, n_batches), hash=False)
        return np.concatenate(client.gather(client.map(wave, parts, pure=False)))

    return {
        "nbparallel": lambda: pmap_chunks(wave, x, backend="dask", progress=False),
        "client.map batched": batched,
    }


#: Ways that run in the first few rounds only (one task per item: many times slower, and not the target).
FEW_ROUNDS = {"client.map": 3}


def _rounds(timing: DaskTiming, ways: dict[str, Callable[[], Any]], reference: Any, repeats: int) -> DaskTiming:
    """Warm each way (checking its result), then ``repeats`` rounds in turns."""
    import numpy as np

    for way, run in ways.items():
        value = run()
        same = np.array_equal(value, reference) if isinstance(reference, np.ndarray) else value == reference
        if not same:
            raise AssertionError(f"dask bench, {timing.name}: {way} gave a different result than sequential")
    timing.runs = in_turns(ways, repeats, few=FEW_ROUNDS)
    return timing


def bench_dask(n_workers: int = 2, *, quick: bool = False, repeats: int | None = None) -> list[DaskTiming]:
    """Time the dask workloads on a fresh ``LocalCluster`` of ``n_workers`` x 1 thread.

    Parameters
    ----------
    n_workers : int, default=2
        Worker processes of the cluster.
    quick : bool, default=False
        Small workloads and two rounds (a smoke test; the ratios mean little).
    repeats : int, optional
        Rounds per workload (default 2 quick, 7 otherwise).

    Returns
    -------
    list of DaskTiming
        Pure-Python items, then a numpy array; empty without dask.distributed.
    """
    import numpy as np

    from ..config import config

    try:
        import distributed  # noqa: F401
    except ImportError:  # the dask extra is optional: the rest of the bench runs without it
        return []

    rounds = repeats if repeats is not None else (2 if quick else 7)
    n_items = 300 if quick else 4000
    n_floats = 2**18 if quick else 2**22
    items = list(range(n_items))
    x = np.linspace(0.0, 1e4, n_floats)
    began = time.perf_counter()
    reference_items = [busy(i) for i in items]
    sequential_items = time.perf_counter() - began
    began = time.perf_counter()
    reference_array = wave(x)
    sequential_array = time.perf_counter() - began
    with config(progress=False), cluster(n_workers) as client:
        n_batches = 4 * sum(client.nthreads().values())
        per_item = sequential_items / n_items * 1e3
        results = [
            _rounds(
                DaskTiming(
                    f"{n_items:,} items",
                    f"{n_items:,} items of ~{per_item:.1f} ms pure Python; batched: {n_batches} tasks",
                    sequential=sequential_items,
                ),
                _ways_items(client, items, n_batches),
                reference_items,
                rounds,
            ),
            _rounds(
                DaskTiming(
                    f"{x.nbytes / 2**20:.0f} MB array",
                    f"wave() on {x.nbytes / 2**20:.0f} MB of float64, pmap_chunks; batched: "
                    f"{n_batches} parts scattered, mapped, concatenated",
                    sequential=sequential_array,
                ),
                _ways_array(client, x, n_batches),
                reference_array,
                rounds,
            ),
        ]
    return results


def format_dask(timings: list[DaskTiming], n_workers: int) -> str:
    """The workloads as a table (medians in ms), nbparallel's ratio to the target way, and the verdict.

    Examples
    --------
    >>> t = DaskTiming("items", "1,000 items", {"nbparallel": [1.1, 1.0], "client.map batched": [1.0, 1.0]})
    >>> print(format_dask([t], 2))  # doctest: +NORMALIZE_WHITESPACE
    nbparallel on dask vs dask's own client.map, LocalCluster of 2 workers x 1 thread, warm, medians in ms (sequential: one run, here)
    workload    sequential  nbparallel  client.map  client.map batched  target
    items                -     1050.00           -             1000.00  met: 1.05x client.map batched (<= 1.2x)
      items: 1,000 items (2 rounds; nbparallel / client.map batched per round: 1.10 1.00)
    >>> print(format_dask([], 2))
    nbparallel on dask: skipped, dask.distributed is not installed (pip install 'nbparallel[dask]')
    """
    if not timings:
        return "nbparallel on dask: skipped, dask.distributed is not installed (pip install 'nbparallel[dask]')"
    ways = ["nbparallel", "client.map", "client.map batched"]
    lines = [
        f"nbparallel on dask vs dask's own client.map, LocalCluster of {n_workers} workers x 1 thread, "
        "warm, medians in ms (sequential: one run, here)",
        f"{'workload':<12}{'sequential':>10}" + "".join(f"{w:>{max(12, len(w) + 2)}}" for w in ways) + "  target",
    ]
    for t in timings:
        cells = f"{'-' if t.sequential is None else f'{t.sequential * 1e3:.2f}':>10}"
        for w in ways:
            width = max(12, len(w) + 2)
            cells += f"{f'{t.median(w) * 1e3:.2f}' if w in t.runs else '-':>{width}}"
        verdict = "met" if t.ratio <= BOUND else "MISSED"
        lines.append(f"{t.name:<12}{cells}  {verdict}: {t.ratio:.2f}x {t.target} (<= {BOUND}x)")
    for t in timings:
        paired = " ".join(f"{r:.2f}" for r in t.round_ratios)
        few = f", client.map per item {len(t.runs['client.map'])}" if "client.map" in t.runs else ""
        lines.append(
            f"  {t.name}: {t.description} ({len(t.runs['nbparallel'])} rounds{few}; "
            f"nbparallel / {t.target} per round: {paired})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - a command
    """``python -m nbparallel.bench.dask [--quick] [-n WORKERS] [--repeats N] [--json]``."""
    import json

    parser = argparse.ArgumentParser(prog="python -m nbparallel.bench.dask", description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--n-workers", type=int, default=2, help="worker processes (1 thread each)")
    parser.add_argument("--quick", action="store_true", help="small workloads (a smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="rounds per workload")
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    args = parser.parse_args(argv)
    timings = bench_dask(args.n_workers, quick=args.quick, repeats=args.repeats)
    if args.json:
        print(json.dumps([t.as_dict() for t in timings], indent=2))
    else:
        print(format_dask(timings, args.n_workers))
    return 0


if __name__ == "__main__":  # pragma: no cover
    from nbparallel.bench.dask import main as _main  # the workloads by reference, not from ``__main__``

    sys.exit(_main())

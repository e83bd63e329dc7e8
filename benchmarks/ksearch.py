"""Benchmark of ``choose_k``: recovery of a known k, "no structure" on null data, and speed.

Run ``python benchmarks/ksearch.py`` (``--quick`` for a smoke test, ``--json`` for
machine-readable output, ``--no-timing`` to skip the speed part).  The data sets are
synthetic with their own seeds:

* Milligan & Cooper (1985) style: 2-5 clusters in 4-8 dimensions, 50-200 points,
  equal and unequal sizes, some with noise dimensions;
* ``make_blobs`` with 2-12 centres in 2-100 dimensions, some overlapping;
* anisotropic (linearly stretched) and unequal-variance clusters;
* one 50,000-point set;
* null sets without cluster structure: Gaussians and uniform cubes.

``--sets nulls`` runs 24 more null sets instead (Gaussians, Gaussians stretched
along the axes, uniform cubes in 2-11 dimensions); ``--sets real`` runs
scikit-learn's bundled iris, wine, breast cancer and digits, raw and
standardised, with the number of classes as the k to find.

Every criterion's pick is scored (exact and within +-1 of the true k) next to
``best_k``; a null set counts as flagged when the pick is 1 or ``None``.  The
headline counts ``best_k`` over all the sets (46 with a known k and 4 null sets
per seed: 50): a flagged null set counts as exact and as within one.
``--seed`` takes several seeds and sums the headline over them.

The speed part times, in a fresh process after ``nbparallel.warm()``, the first
``choose_k`` on ``make_blobs(10000, 100 features, 7 centres)`` with k = 2..14,
against the sequential loop (KMeans + full silhouette per k).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.datasets import make_blobs

import nbparallel as nbp
from nbparallel.ksearch import METRICS

ALL_METRICS = tuple(METRICS)
K_RANGE = range(2, 15)


@dataclass
class Case:
    name: str
    X: np.ndarray
    true_k: int | None  # None: no cluster structure


def _separated_centres(rng: np.random.Generator, k: int, d: int, gap: float) -> np.ndarray:
    """Centres at least ``gap`` apart (Milligan & Cooper's clusters do not overlap on the first dimension)."""
    while True:
        centres = rng.uniform(0, gap * k, size=(k, d))
        dist = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        if np.all(dist[np.triu_indices(k, 1)] > gap):
            return centres


def milligan_cooper(rng: np.random.Generator) -> Iterator[Case]:
    i = 0
    for k in (2, 3, 4, 5):
        for sizes in ("equal", "unequal"):
            for noise in (0, 2):
                i += 1
                d = int(rng.integers(4, 9))
                n = int(rng.integers(50, 201))
                share = np.full(k, 1 / k) if sizes == "equal" else np.r_[0.6, np.full(k - 1, 0.4 / (k - 1))]
                counts = np.maximum(5, np.round(share * n).astype(int))
                centres = _separated_centres(rng, k, d, gap=6.0)
                parts = [c + rng.normal(scale=rng.uniform(0.6, 1.2), size=(m, d)) for c, m in zip(centres, counts)]
                X = np.vstack(parts)
                if noise:
                    X = np.hstack([X, rng.uniform(X.min(), X.max(), size=(len(X), noise))])
                yield Case(f"mc k={k} d={d}+{noise} n={len(X)} {sizes}", X, k)


def blobs(rng: np.random.Generator) -> Iterator[Case]:
    specs = [  # (centres, dims, n, std)
        (2, 2, 300, 1.0),
        (3, 2, 600, 1.5),
        (4, 5, 800, 1.0),
        (5, 10, 1000, 2.0),
        (6, 2, 1200, 0.8),
        (6, 50, 1500, 3.0),
        (7, 20, 1400, 2.0),
        (8, 100, 2000, 3.0),
        (8, 3, 1600, 1.0),
        (9, 10, 1800, 1.5),
        (10, 30, 2000, 2.0),
        (10, 2, 2000, 0.6),
        (11, 8, 2200, 1.0),
        (12, 40, 2400, 2.5),
        (12, 5, 2400, 0.8),
        (3, 100, 900, 4.0),
        (4, 2, 800, 2.0),
        (5, 3, 1000, 2.0),
        (7, 4, 1400, 2.0),
        (9, 2, 1800, 1.0),
        (11, 60, 2200, 4.0),
    ]
    for k, d, n, std in specs:
        X, _ = make_blobs(
            n_samples=n, n_features=d, centers=k, cluster_std=std, random_state=int(rng.integers(1 << 31))
        )
        yield Case(f"blobs k={k} d={d} n={n} std={std}", X, k)


def shapes(rng: np.random.Generator) -> Iterator[Case]:
    for k, d in ((3, 2), (4, 2), (5, 4), (3, 6)):
        X, _ = make_blobs(
            n_samples=150 * k, n_features=d, centers=k, center_box=(-15, 15), random_state=int(rng.integers(1 << 31))
        )
        X = X @ (np.eye(d) + rng.normal(scale=0.5, size=(d, d)))
        yield Case(f"anisotropic k={k} d={d}", X, k)
    for k, d in ((3, 2), (4, 3), (5, 5), (6, 8)):
        stds = rng.uniform(0.5, 2.5, size=k)
        X, _ = make_blobs(
            n_samples=200 * k,
            n_features=d,
            centers=k,
            cluster_std=stds,
            center_box=(-15, 15),
            random_state=int(rng.integers(1 << 31)),
        )
        yield Case(f"unequal-variance k={k} d={d}", X, k)


def large(rng: np.random.Generator) -> Iterator[Case]:
    X, _ = make_blobs(
        n_samples=50_000, n_features=10, centers=6, cluster_std=1.5, random_state=int(rng.integers(1 << 31))
    )
    yield Case("large k=6 d=10 n=50000", X, 6)


def null_sets(rng: np.random.Generator) -> Iterator[Case]:
    yield Case("null gaussian d=2 n=500", rng.normal(size=(500, 2)), None)
    yield Case("null gaussian d=20 n=2000", rng.normal(size=(2000, 20)), None)
    yield Case("null uniform cube d=3 n=600", rng.uniform(size=(600, 3)), None)
    yield Case("null uniform cube d=10 n=1000", rng.uniform(size=(1000, 10)), None)


def more_null_sets(rng: np.random.Generator) -> Iterator[Case]:
    """24 sets without structure: Gaussians, Gaussians stretched along the axes, uniform cubes."""
    for i in range(24):
        d, n = int(rng.integers(2, 12)), int(rng.integers(200, 2500))
        if i % 3 == 0:
            yield Case(f"null gaussian d={d} n={n}", rng.normal(size=(n, d)), None)
        elif i % 3 == 1:
            yield Case(f"null uniform cube d={d} n={n}", rng.uniform(size=(n, d)), None)
        else:
            yield Case(
                f"null stretched gaussian d={d} n={n}", rng.normal(size=(n, d)) * rng.uniform(0.5, 3, size=d), None
            )


def real_sets() -> Iterator[Case]:
    """scikit-learn's bundled labelled sets (no download), raw and standardised; k is the number of classes."""
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler

    for name, k in (("iris", 3), ("wine", 3), ("breast_cancer", 2), ("digits", 10)):
        X = getattr(datasets, f"load_{name}")().data
        yield Case(f"real {name} raw", X, k)
        yield Case(f"real {name} standardised", StandardScaler().fit_transform(X), k)


def cases(seed: int, quick: bool, kind: str = "synthetic") -> list[Case]:
    rng = np.random.default_rng(seed)
    if kind == "nulls":
        return list(more_null_sets(rng))
    if kind == "real":
        return list(real_sets())
    found = [*milligan_cooper(rng), *blobs(rng), *shapes(rng)]
    if not quick:
        found += [*large(rng)]
    found += [*null_sets(rng)]
    return found[::4] + found[-4:] if quick else found


def run_cases(all_cases: list[Case], n_init: int | str = "auto") -> list[dict[str, Any]]:
    rows = []
    for case in all_cases:
        start = time.perf_counter()
        res = nbp.choose_k(case.X, k=K_RANGE, metrics=ALL_METRICS, n_init=n_init, progress=False)
        row = {
            "name": case.name,
            "true_k": case.true_k,
            "picks": res.picks,
            "best_k": res.best_k,
            "confidence": res.confidence,
            "reason": res.reason,
            "seconds": time.perf_counter() - start,
            "scores": {m: [float(v) for v in vals] for m, vals in res.scores.items()},
            "scores_sd": {m: [float(v) for v in vals] for m, vals in res.scores_sd.items()},
            "baseline": res.baseline,
        }
        rows.append(row)
        print(f"  {case.name:<40} true {case.true_k!s:>4}  best {res.best_k!s:>4}  {res.picks}", file=sys.stderr)
    return rows


def recovery(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per criterion: sets with a known k recovered exactly and within one, null sets flagged, and all sets.

    ``exact_all`` and ``within_1_all`` count over every set, a null set when it is
    flagged (the pick is 1 or ``None``).
    """
    names = ["best_k", *rows[0]["picks"]]
    table = {}
    for name in names:
        exact = within = flagged = 0
        for row in rows:
            got = row["best_k"] if name == "best_k" else row["picks"][name]
            if row["true_k"] is None:
                flagged += got is None or got == 1
            elif got is not None:
                exact += got == row["true_k"]
                within += abs(got - row["true_k"]) <= 1
        table[name] = {
            "exact": exact,
            "within_1": within,
            "null_flagged": flagged,
            "exact_all": exact + flagged,
            "within_1_all": within + flagged,
            "sets": len(rows),
            "null_sets": sum(row["true_k"] is None for row in rows),
        }
    return table


def headline(t: dict[str, int]) -> str:
    """``best_k`` over all the sets, a flagged null set counting as exact and within one."""
    return (
        f"{t['exact_all']}/{t['sets']} exact, {t['within_1_all']}/{t['sets']} within one, "
        f"{t['null_flagged']}/{t['null_sets']} null sets flagged"
    )


def report(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Print the recovery table and the misses of one seed; return the table."""
    n_known = sum(r["true_k"] is not None for r in rows)
    n_null = len(rows) - n_known
    print(
        f"recovery on {n_known} sets with a known k and {n_null} null sets (k = {K_RANGE.start}..{K_RANGE.stop - 1}):"
    )
    print(f"  {'criterion':<22} {'exact':>7} {'within 1':>9} {'null flagged':>13}")
    table = recovery(rows)
    for name, t in table.items():
        print(f"  {name:<22} {t['exact']:>4}/{n_known} {t['within_1']:>6}/{n_known} {t['null_flagged']:>10}/{n_null}")
    misses = [r for r in rows if r["best_k"] != r["true_k"] and not (r["true_k"] is None and r["best_k"] in (None, 1))]
    for r in misses:
        print(f"  miss: {r['name']}: best_k {r['best_k']} (true {r['true_k']}), picks {r['picks']}")
    print(f"  best_k over all {len(rows)} sets: {headline(table['best_k'])}")
    return table


_COLD = """
import json, sys, time
import numpy as np
from sklearn.datasets import make_blobs
import nbparallel as nbp
X, _ = make_blobs(n_samples=10000, n_features=100, centers=7, random_state=42)
nbp.warm(wait=True)
t0 = time.perf_counter(); first = nbp.choose_k(X, k=range(2, 15), progress=False); t1 = time.perf_counter()
second = nbp.choose_k(X, k=range(2, 15), progress=False); t2 = time.perf_counter()
print(json.dumps({"first": t1 - t0, "first_k": first.best_k, "second": t2 - t1, "second_k": second.best_k}))
"""


def timing() -> dict[str, Any]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    X, _ = make_blobs(n_samples=10000, n_features=100, centers=7, random_state=42)
    load_before = os.getloadavg()  # other work on the machine slows both sides, not always alike
    start = time.perf_counter()
    scores = [
        silhouette_score(X, KMeans(n_clusters=k, n_init="auto", random_state=0).fit(X).labels_) for k in range(2, 15)
    ]
    loop = time.perf_counter() - start
    out = json.loads(subprocess.run([sys.executable, "-c", _COLD], capture_output=True, text=True, check=True).stdout)
    out.update(loop=loop, loop_k=2 + int(np.argmax(scores)), load_before=load_before, load_after=os.getloadavg())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the sets, no 50,000-point set")
    parser.add_argument("--json", metavar="PATH", help="also write every row (picks and curves) to this file")
    parser.add_argument("--no-timing", action="store_true", help="skip the cold-start timing")
    parser.add_argument("--seed", type=int, nargs="+", default=[20240515], help="one or more seeds of the sets")
    parser.add_argument(
        "--sets",
        choices=("synthetic", "nulls", "real"),
        default="synthetic",
        help="synthetic: 46 sets with a known k and 4 null sets; nulls: 24 more null sets; "
        "real: iris, wine, breast cancer, digits, raw and standardised",
    )
    parser.add_argument("--n-init", default="auto", help="KMeans n_init for every fit (default: choose_k's)")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    n_init = args.n_init if args.n_init == "auto" else int(args.n_init)
    rows, tables = [], {}
    for seed in args.seed:
        if len(args.seed) > 1:
            print(f"seed {seed}:")
        seed_rows = [{"seed": seed, **row} for row in run_cases(cases(seed, args.quick, args.sets), n_init)]
        tables[seed] = report(seed_rows)
        rows += seed_rows
    table = recovery(rows)
    if len(args.seed) > 1:
        print("best_k over all the sets of each seed:")
        for seed, t in tables.items():
            print(f"  seed {seed}: {headline(t['best_k'])}")
        print(f"  all {len(args.seed)} seeds: {headline(table['best_k'])}")
    print(f"recovery part: {time.perf_counter() - began:.0f} s")
    result: dict[str, Any] = {"recovery": table, "per_seed": tables, "rows": rows}
    if not args.no_timing:
        t = timing()
        result["timing"] = t
        print(
            "make_blobs(10000, 100 features, 7 centres), k = 2..14:\n"
            f"  sequential loop (KMeans + full silhouette per k): {t['loop']:.2f} s, k = {t['loop_k']}\n"
            f"  first choose_k in a fresh process after warm(): {t['first']:.2f} s, k = {t['first_k']} "
            f"({t['loop'] / t['first']:.1f}x)\n"
            f"  second choose_k: {t['second']:.2f} s, k = {t['second_k']} ({t['loop'] / t['second']:.1f}x)\n"
            f"  load average (1, 5, 15 min) before: {', '.join(f'{v:.2f}' for v in t['load_before'])}; "
            f"after: {', '.join(f'{v:.2f}' for v in t['load_after'])}"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of ``choose_k``: recovery of a known k, "no structure" on null data, and speed.

Run ``python benchmarks/ksearch.py`` (``--quick`` for a smoke test, ``--json`` for
machine-readable output, ``--no-timing`` to skip the speed part).  The sets come
in suites (``--sets``), each synthetic one drawn from its seed:

* ``design`` (what the consensus rule may be tuned on), 50 sets per seed:
  Milligan & Cooper (1985) style (2-5 clusters in 4-8 dimensions, 50-200
  points, equal and unequal sizes, some with uniform noise features);
  ``make_blobs`` with 2-12 centres in 2-100 dimensions, some overlapping;
  anisotropic (``make_blobs`` under a linear map) and unequal-variance clusters;
  one 50,000-point set; 4 null sets (Gaussians, uniform cubes).
* ``check`` (held out: fixed before the rule was tuned, other generators for the
  same kinds of families), 50 sets per seed: ``make_classification`` clusters
  with their own covariances; Gaussians with a random full covariance each in
  2-100 dimensions; Student-t and uniform-ball clusters; clusters stretched by
  one random map, or of unequal spread and size; clusters on 3 informative
  features beside Gaussian noise features; 4 null sets (a Student-t cloud, a
  uniform ball, correlated Gaussians, a 50-dimensional Gaussian).
* ``nulls``: 24 more null sets (Gaussians, stretched Gaussians, uniform cubes).
* ``real``: scikit-learn's bundled labelled sets (iris raw, wine and breast
  cancer standardised, digits raw, the other scaling of each, two subsets of
  digits), the number of classes as the k to find.

Every criterion's pick is scored (exact and within +-1 of the true k) next to
``best_k``; a null set counts as flagged when the pick is 1 or ``None``.  The
headline counts ``best_k`` over all the sets (a flagged null set counts as exact
and as within one).  ``--seed`` takes several seeds and sums the headline over
them.  ``--markdown`` prints one row per set with every criterion's pick;
``--rescore PATH`` applies today's consensus rule to the picks stored by an
earlier ``--json`` run, without fitting anything.

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
    """scikit-learn's bundled labelled sets (no download); k is the number of classes.

    The four the issue names first (iris raw, wine and breast cancer
    standardised, digits raw), then the other scaling of each, and two subsets
    of digits with fewer classes.  scikit-learn bundles no other labelled
    classification sets (diabetes and linnerud are regression sets).
    """
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler

    loaded = {name: datasets.__dict__[f"load_{name}"]() for name in ("iris", "wine", "breast_cancer", "digits")}
    scaled = {name: StandardScaler().fit_transform(b.data) for name, b in loaded.items()}
    k = {name: len(np.unique(b.target)) for name, b in loaded.items()}
    yield Case("real iris raw", loaded["iris"].data, k["iris"])
    yield Case("real wine standardised", scaled["wine"], k["wine"])
    yield Case("real breast_cancer standardised", scaled["breast_cancer"], k["breast_cancer"])
    yield Case("real digits raw", loaded["digits"].data, k["digits"])
    yield Case("real iris standardised", scaled["iris"], k["iris"])
    yield Case("real wine raw", loaded["wine"].data, k["wine"])
    yield Case("real breast_cancer raw", loaded["breast_cancer"].data, k["breast_cancer"])
    yield Case("real digits standardised", scaled["digits"], k["digits"])
    digits, target = loaded["digits"].data, loaded["digits"].target
    yield Case("real digits 0-4 raw", digits[target < 5], 5)
    yield Case("real digits 0,1,7 raw", digits[np.isin(target, (0, 1, 7))], 3)


# ---------------------------------------------------------------------------
# Check sets: generators the rule was not designed on (fixed before any tuning).
# Same kinds of families as the design sets (separated and overlapping Gaussian
# clusters in low and high dimensions, stretched and unequal clusters, noise
# features, no structure), but drawn by other generators: scikit-learn's
# make_classification, Gaussians with a random full covariance per cluster,
# Student-t and uniform-ball clusters, clusters on a few informative features.
# ---------------------------------------------------------------------------


def _spread_centres(rng: np.random.Generator, k: int, d: int, min_dist: float) -> np.ndarray:
    """``k`` centres in ``d`` dimensions, each pair at least ``min_dist`` apart (Gaussian draw, rescaled)."""
    for scale in np.geomspace(1.0, 20.0, 60):
        centres = rng.normal(scale=scale * min_dist / np.sqrt(d) + min_dist / 2, size=(k, d))
        dist = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        if np.all(dist[np.triu_indices(k, 1)] >= min_dist):
            return centres
    raise RuntimeError("no centres found")  # pragma: no cover


def _random_cov(rng: np.random.Generator, d: int, low: float, high: float) -> np.ndarray:
    """A square root of a random covariance: a random rotation times axis spreads in [low, high]."""
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return q * rng.uniform(low, high, size=d)


def classification(rng: np.random.Generator) -> Iterator[Case]:
    """make_classification: one Gaussian cluster per class at hypercube vertices, each with its own covariance."""
    from sklearn.datasets import make_classification

    specs = [  # (k, informative, noise features, n, class_sep)
        (2, 2, 0, 300, 2.5),
        (3, 3, 0, 450, 3.0),
        (4, 4, 2, 800, 3.0),
        (5, 5, 0, 1000, 3.5),
        (6, 6, 3, 1200, 3.5),
        (7, 8, 0, 1400, 4.0),
        (8, 8, 4, 1600, 4.0),
        (9, 10, 0, 1800, 4.0),
        (10, 12, 0, 2000, 4.5),
        (12, 12, 2, 2400, 5.0),
    ]
    for k, inf, noise, n, sep in specs:
        X, _ = make_classification(
            n_samples=n,
            n_features=inf + noise,
            n_informative=inf,
            n_redundant=0,
            n_repeated=0,
            n_classes=k,
            n_clusters_per_class=1,
            class_sep=sep,
            flip_y=0.0,
            random_state=int(rng.integers(1 << 31)),
        )
        yield Case(f"classif k={k} d={inf}+{noise} n={n} sep={sep}", X, k)


def rotated_gaussians(rng: np.random.Generator) -> Iterator[Case]:
    """Gaussian clusters with a random full covariance each; centres a given number of spreads apart."""
    specs = [  # (k, d, n per cluster, min centre distance in units of the largest spread)
        (2, 3, 150, 5.0),
        (3, 2, 200, 5.0),
        (4, 6, 150, 4.5),
        (5, 2, 200, 5.0),
        (5, 15, 150, 4.0),
        (6, 50, 200, 3.5),
        (7, 4, 150, 5.0),
        (8, 25, 150, 4.0),
        (9, 8, 150, 4.5),
        (10, 3, 150, 5.0),
        (11, 12, 150, 4.5),
        (4, 100, 200, 3.5),
    ]
    for k, d, m, sep in specs:
        centres = _spread_centres(rng, k, d, sep)
        X = np.vstack([c + rng.normal(size=(m, d)) @ _random_cov(rng, d, 0.3, 1.0).T for c in centres])
        yield Case(f"rotated k={k} d={d} n={k * m} sep={sep}", X, k)


def heavy_tailed(rng: np.random.Generator) -> Iterator[Case]:
    """Student-t clusters (5 degrees of freedom): outliers between the clusters."""
    for k, d, m in ((2, 2, 250), (3, 5, 200), (4, 3, 200), (6, 10, 150), (8, 6, 150), (10, 20, 120)):
        centres = _spread_centres(rng, k, d, 8.0)
        X = np.vstack([c + rng.standard_t(5, size=(m, d)) for c in centres])
        yield Case(f"student-t k={k} d={d} n={k * m}", X, k)


def uniform_balls(rng: np.random.Generator) -> Iterator[Case]:
    """Clusters uniform in balls of different radii: not Gaussian, flat-topped."""
    for k, d, m in ((2, 3, 200), (3, 2, 250), (4, 4, 200), (5, 8, 150), (7, 3, 150), (9, 5, 120)):
        radii = rng.uniform(1.0, 2.0, size=k)
        centres = _spread_centres(rng, k, d, 2.4 * radii.max())
        parts = []
        for c, r in zip(centres, radii):
            direction = rng.normal(size=(m, d))
            direction /= np.linalg.norm(direction, axis=1, keepdims=True)
            parts.append(c + direction * (r * rng.uniform(size=(m, 1)) ** (1 / d)))
        yield Case(f"uniform balls k={k} d={d} n={k * m}", np.vstack(parts), k)


def stretched_and_unequal(rng: np.random.Generator) -> Iterator[Case]:
    """Clusters stretched along random axes in 5-10 dimensions, and clusters of unequal spread and size."""
    for k, d in ((3, 5), (4, 8), (6, 10), (5, 6)):
        centres = _spread_centres(rng, k, d, 9.0)
        stretch = _random_cov(rng, d, 0.3, 3.0)  # one linear map for all: anisotropic as make_blobs @ A
        X = np.vstack([c + rng.normal(size=(180, d)) @ stretch.T for c in centres])
        yield Case(f"stretched k={k} d={d}", X, k)
    for k, d in ((3, 4), (4, 10), (5, 3), (6, 8)):
        spreads = rng.uniform(0.4, 2.0, size=k)
        sizes = rng.integers(80, 400, size=k)
        centres = _spread_centres(rng, k, d, 4.0 * spreads.max())
        X = np.vstack([c + s * rng.normal(size=(m, d)) for c, s, m in zip(centres, spreads, sizes)])
        yield Case(f"unequal spread+size k={k} d={d} n={sizes.sum()}", X, k)


def informative_few(rng: np.random.Generator) -> Iterator[Case]:
    """Clusters on 3 informative features, plus 2-6 Gaussian features without clusters of the same spread."""
    for k, noise in ((2, 2), (3, 4), (4, 6), (5, 3)):
        centres = _spread_centres(rng, k, 3, 6.0)
        X = np.vstack([c + rng.normal(size=(120, 3)) for c in centres])
        X = np.hstack([X, rng.normal(scale=X.std(axis=0).mean(), size=(len(X), noise))])
        yield Case(f"informative k={k} d=3+{noise} n={len(X)}", X, k)


def check_null_sets(rng: np.random.Generator) -> Iterator[Case]:
    """No structure, other shapes than the design's: a Student-t cloud, a uniform ball, correlated Gaussians."""
    yield Case("null student-t d=5 n=800", rng.standard_t(5, size=(800, 5)), None)
    ball = rng.normal(size=(700, 4))
    ball = ball / np.linalg.norm(ball, axis=1, keepdims=True) * rng.uniform(size=(700, 1)) ** (1 / 4)
    yield Case("null uniform ball d=4 n=700", ball, None)
    yield Case("null correlated gaussian d=8 n=1200", rng.normal(size=(1200, 8)) @ _random_cov(rng, 8, 0.2, 3).T, None)
    yield Case("null gaussian d=50 n=1500", rng.normal(size=(1500, 50)), None)


#: The suites: ``design`` is what the rule may be tuned on, ``check`` (other
#: generators, fixed before tuning) is what it is judged on, ``real`` are
#: labelled sets scikit-learn bundles.
SUITES = ("design", "check", "nulls", "real")


def cases(seed: int, quick: bool, kind: str = "design") -> list[Case]:
    """The sets of one suite for one seed (46 with a known k and 4 null sets for design and check)."""
    rng = np.random.default_rng(seed)
    if kind == "nulls":
        return list(more_null_sets(rng))
    if kind == "real":
        return list(real_sets())
    if kind == "check":
        found = [
            *classification(rng),
            *rotated_gaussians(rng),
            *heavy_tailed(rng),
            *uniform_balls(rng),
            *stretched_and_unequal(rng),
            *informative_few(rng),
        ]
        nulls = list(check_null_sets(rng))
    else:
        found = [*milligan_cooper(rng), *blobs(rng), *shapes(rng)]
        if not quick:
            found += [*large(rng)]
        nulls = list(null_sets(rng))
    return found[::4] + nulls if quick else found + nulls


def run_cases(all_cases: list[Case], n_init: int | str = "auto", n_jobs: int | None = None) -> list[dict[str, Any]]:
    rows = []
    for case in all_cases:
        start = time.perf_counter()
        res = nbp.choose_k(case.X, k=K_RANGE, metrics=ALL_METRICS, n_init=n_init, n_jobs=n_jobs, progress=False)
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


def rescore(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with ``best_k``, ``confidence`` and ``reason`` from today's rule applied to their stored picks."""
    from nbparallel.ksearch.consensus import decide

    out = []
    for row in rows:
        decision = decide(row["picks"], list(K_RANGE))
        out.append({**row, "best_k": decision.best_k, "confidence": decision.confidence, "reason": decision.reason})
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    """One table row per set: the true k, ``best_k`` (with its confidence) and every criterion's pick."""
    names = list(rows[0]["picks"])
    lines = [
        "| set | true k | best_k | " + " | ".join(names) + " |",
        "|---|---|---|" + "---|" * len(names),
    ]
    for r in rows:
        picks = " | ".join(str(r["picks"][n]) for n in names)
        lines.append(f"| {r['name']} | {r['true_k']} | **{r['best_k']}** ({r['confidence']}) | {picks} |")
    return "\n".join(lines)


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
        choices=SUITES,
        default="design",
        help="design: the sets the rule is tuned on; check: held-out sets from other generators "
        "(46 with a known k and 4 null sets each); nulls: 24 more null sets; real: scikit-learn's labelled sets",
    )
    parser.add_argument("--n-jobs", type=int, default=None, help="choose_k's n_jobs (1 is kinder on a shared machine)")
    parser.add_argument("--markdown", action="store_true", help="print one table row per set, every criterion's pick")
    parser.add_argument("--rescore", metavar="PATH", help="apply today's rule to the picks of an earlier --json run")
    parser.add_argument("--n-init", default="auto", help="KMeans n_init for every fit (default: choose_k's)")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    n_init = args.n_init if args.n_init == "auto" else int(args.n_init)
    rows, tables = [], {}
    stored = None
    if args.rescore:
        with open(args.rescore) as fh:
            stored = rescore(json.load(fh)["rows"])
        args.seed = sorted({r["seed"] for r in stored})
    for seed in args.seed:
        if len(args.seed) > 1:
            print(f"seed {seed}:")
        if stored is not None:
            seed_rows = [r for r in stored if r["seed"] == seed]
        else:
            found = run_cases(cases(seed, args.quick, args.sets), n_init, args.n_jobs)
            seed_rows = [{"seed": seed, **row} for row in found]
        tables[seed] = report(seed_rows)
        if args.markdown:
            print(markdown(seed_rows))
        rows += seed_rows
    table = recovery(rows)
    if len(args.seed) > 1:
        print("best_k over all the sets of each seed:")
        for seed, t in tables.items():
            print(f"  seed {seed}: {headline(t['best_k'])}")
        print(f"  all {len(args.seed)} seeds: {headline(table['best_k'])}")
    print(f"recovery part: {time.perf_counter() - began:.0f} s")
    result: dict[str, Any] = {"recovery": table, "per_seed": tables, "rows": rows}
    if not args.no_timing and stored is None:
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

"""What runs in a worker: one KMeans fit scored every way, one gap reference set, one stability split.

Every task draws its randomness from its own ``seed`` (made by the caller from
``np.random.SeedSequence``), so results do not depend on ``n_jobs`` or on
scheduling.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bic import mixture_criteria
from .scores import calinski_davies, cluster_means, silhouette_from_distances

#: k-means++ runs per fit with ``n_init="auto"`` (the best is kept): one run often
#: stops in a local optimum that merges two clusters and splits another.
RESTARTS = 3

#: Lloyd iterations (MiniBatchKMeans: passes) of the fit on all points that starts
#: from the subsample's best centres: they are already close, and past the true k
#: a full fit wanders for dozens of iterations (most of a search's time on 10,000
#: points) while the criteria barely move.
REFINE_ITER = 10

#: k-means++ runs per fit on each half of a prediction-strength split (six fits
#: per k: two runs each did as well as three on the benchmark, at two thirds of the cost).
SPLIT_RESTARTS = 2

__all__ = [
    "RESTARTS",
    "SPLIT_RESTARTS",
    "preload",
    "FitTask",
    "GapTask",
    "StabilityTask",
    "run_task",
    "prediction_strength",
]


def preload() -> None:
    """Import and run once, in this process, everything a k-search task uses.

    Called in every worker when the pool is warmed (:func:`nbparallel.warm`): one
    tiny task of each kind imports scikit-learn and SciPy, starts OpenMP and loads
    the compiled k-means and distance code, so the first k-search pays for none of it.

    Examples
    --------
    >>> preload()
    """
    from .bic import mixture_space

    X = np.random.default_rng(0).normal(size=(40, 3))
    X[:20] += 5.0
    space = mixture_space(X, None)
    ctx = {
        "metrics": ("inertia", "silhouette", "calinski_harabasz", "davies_bouldin", "bic", "icl"),
        "sample": np.arange(30),
        "token": "preload",
        "estimator": "kmeans",
        "n_init": "auto",
        "seed_rows": np.arange(30),
        "bic_space": None if isinstance(space, str) else space,
        "gap_k": [1, 2],
        "stability_rows": None,
        "stability_splits": 1,
        "inner_threads": 1,
    }
    for task in (FitTask(2, 0, 0), GapTask(-1, 0), GapTask(0, 0), StabilityTask(2, 0, 0)):
        run_task(task, {"X": X, "gap": X - X.mean(axis=0)}, ctx)
    _distances.pop("preload", None)


@dataclass(frozen=True)
class FitTask:
    """Fit KMeans with ``k`` clusters on all of ``X`` and score it."""

    k: int
    repeat: int
    seed: int


@dataclass(frozen=True)
class GapTask:
    """Within-cluster dispersion for every k on one gap reference set (``ref = -1``: the data's subsample)."""

    ref: int
    seed: int


@dataclass(frozen=True)
class StabilityTask:
    """Prediction strength of ``k`` clusters on ``ctx["stability_splits"]`` random half/half splits."""

    k: int
    repeat: int
    seed: int


def _kmeans(
    X: Any, k: int, seed: int, estimator: str, n_init: int | str, init: Any = "k-means++", max_iter: int = 300
) -> Any:
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.exceptions import ConvergenceWarning

    cls = MiniBatchKMeans if estimator == "minibatch" else KMeans
    with warnings.catch_warnings():
        # "Number of distinct clusters found smaller than n_clusters": checked by the caller
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls(n_clusters=k, init=init, n_init=n_init, max_iter=max_iter, random_state=seed).fit(X)


def _fit_all(X: Any, k: int, seed: int, ctx: dict[str, Any]) -> Any:
    """KMeans on all of ``X``; with ``n_init="auto"``, the best of :data:`RESTARTS` k-means++ runs.

    On more than ``SEED_SAMPLE`` points the restarts run on ``ctx["seed_rows"]``
    (a subsample) and the best centres start one fit on all points (Bradley &
    Fayyad 1998): a bad local optimum, which turns the curves of every criterion,
    costs a fraction of a full restart to avoid.
    """
    if ctx["n_init"] != "auto":
        return _kmeans(X, k, seed, ctx["estimator"], ctx["n_init"])
    rows = ctx.get("seed_rows")
    if rows is None:
        return _kmeans(X, k, seed, ctx["estimator"], RESTARTS)
    centres = _kmeans(X[rows], k, seed, "kmeans", RESTARTS).cluster_centers_
    return _kmeans(X, k, seed, ctx["estimator"], 1, init=centres, max_iter=REFINE_ITER)


#: Silhouette subsamples up to this many points keep their distance matrix for every k.
KEEP_DISTANCES = 3_000

#: The distance matrix of the current search's silhouette subsample, by search token (one kept per process).
_distances: dict[str, np.ndarray] = {}


def _silhouette(X: Any, labels: np.ndarray, sample: np.ndarray | None, token: str | None) -> float:
    """Mean silhouette on the shared subsample; its distances are computed once per search per worker."""
    from sklearn.metrics import pairwise_distances, silhouette_score

    part = labels if sample is None else labels[sample]
    if not 1 < len(np.unique(part)) < part.shape[0]:
        return math.nan
    if token is None or part.shape[0] > KEEP_DISTANCES:
        return float(silhouette_score(X if sample is None else X[sample], part))
    distances = _distances.get(token)
    if distances is None:
        distances = pairwise_distances(X if sample is None else X[sample])
        _distances.clear()  # the previous search's matrix
        _distances[token] = distances
    return silhouette_from_distances(distances, part)


def _fit(task: FitTask, X: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    model = _fit_all(X, task.k, task.seed, ctx)
    fitted = time.perf_counter()
    labels = model.labels_
    n_labels = len(np.unique(labels))
    out: dict[str, Any] = {"k": task.k, "repeat": task.repeat, "inertia": float(model.inertia_)}
    out["n_labels"] = n_labels
    metrics = set(ctx["metrics"])
    ok = n_labels == task.k  # fewer clusters than asked (duplicate points): scores are not for this k
    if "silhouette" in metrics:
        out["silhouette"] = _silhouette(X, labels, ctx["sample"], ctx.get("token")) if ok else math.nan
    if ok and {"calinski_harabasz", "davies_bouldin"} & metrics:
        counts, means = cluster_means(X, labels, task.k)  # once, for both
        out["calinski_harabasz"], out["davies_bouldin"] = calinski_davies(X, labels, counts, means)
    space = ctx.get("bic_space")
    if ok and {"bic", "icl"} & metrics and space is not None:  # one EM fit gives both
        out["bic"], out["icl"] = mixture_criteria(space, model.cluster_centers_, task.seed)
    for name in ("calinski_harabasz", "davies_bouldin", "bic", "icl"):
        if name in metrics:
            out.setdefault(name, math.nan)
    out["fit_time"] = fitted - start
    out["score_time"] = time.perf_counter() - fitted
    return out


def _gap(task: GapTask, Z: np.ndarray, ctx: dict[str, Any]) -> dict[str, Any]:
    if task.ref >= 0:  # uniform over the box of the data's principal components (Tibshirani et al., 2001)
        rng = np.random.default_rng(task.seed)
        Z = rng.uniform(Z.min(axis=0), Z.max(axis=0), size=Z.shape)
    # one k-means++ run for the data and every reference alike: better optima for
    # the data alone would raise its gap at every k > 1 by about one standard error
    n_init = 1 if ctx["n_init"] == "auto" else ctx["n_init"]
    logw = {}
    for k in ctx["gap_k"]:
        if k == 1:
            w = float(((Z - Z.mean(axis=0)) ** 2).sum())
        else:
            w = float(_kmeans(Z, k, task.seed + k, "kmeans", n_init).inertia_)
        logw[k] = math.log(w) if w > 0 else -math.inf
    return {"ref": task.ref, "log_w": logw}


def prediction_strength(train_labels_of_test: np.ndarray, test_labels: np.ndarray) -> float:
    """Prediction strength (Tibshirani & Walther, 2005) of one split.

    For every cluster of the test half, the share of its pairs of points that the
    training half's centroids also put together; the worst cluster counts.

    Parameters
    ----------
    train_labels_of_test : ndarray of int
        Test points labelled by the nearest training centroid.
    test_labels : ndarray of int
        Test points labelled by their own clustering.

    Returns
    -------
    float
        Between 0 and 1; 1 when every test cluster is kept together.

    Examples
    --------
    >>> prediction_strength(np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0]))
    1.0
    >>> prediction_strength(np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1]))
    0.0
    """
    worst = 1.0
    for j in np.unique(test_labels):
        predicted = train_labels_of_test[test_labels == j]
        n_j = len(predicted)
        if n_j < 2:
            continue
        counts = np.bincount(predicted)
        worst = min(worst, float((counts * (counts - 1)).sum() / (n_j * (n_j - 1))))
    return worst


def _stability(task: StabilityTask, X: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    rng = np.random.default_rng(task.seed)
    rows = ctx["stability_rows"]
    strengths = []
    n_init = SPLIT_RESTARTS if ctx["n_init"] == "auto" else ctx["n_init"]
    for split in range(ctx["stability_splits"]):
        order = rng.permutation(rows if rows is not None else X.shape[0])
        half = len(order) // 2
        train, test = X[np.sort(order[:half])], X[np.sort(order[half:])]
        a = _kmeans(train, task.k, task.seed + 2 * split, ctx["estimator"], n_init)
        b = _kmeans(test, task.k, task.seed + 2 * split + 1, ctx["estimator"], n_init)
        strengths.append(prediction_strength(a.predict(test), b.labels_))
    return {"k": task.k, "repeat": task.repeat, "ps": strengths}


def run_task(task: FitTask | GapTask | StabilityTask, shared: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
    """Run one k-search task with ``ctx["inner_threads"]`` BLAS/OpenMP threads.

    Parameters
    ----------
    task : FitTask, GapTask or StabilityTask
    shared : dict
        ``"X"`` (the data) and ``"gap"`` (the rotated subsample the gap statistic uses).
    ctx : dict
        The search's settings.

    Returns
    -------
    dict
        The task's measurements, tagged with ``"kind"``.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    >>> ctx = {"estimator": "kmeans", "n_init": 1, "metrics": ("inertia",), "sample": None, "inner_threads": 1}
    >>> row = run_task(FitTask(k=2, repeat=0, seed=0), {"X": X}, ctx)
    >>> row["kind"], round(row["inertia"], 3)
    ('fit', 0.01)
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=ctx["inner_threads"]):
        if isinstance(task, FitTask):
            return {"kind": "fit", **_fit(task, shared["X"], ctx)}
        if isinstance(task, GapTask):
            return {"kind": "gap", **_gap(task, shared["gap"], ctx)}
        return {"kind": "stability", **_stability(task, shared["X"], ctx)}

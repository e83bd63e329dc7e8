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

__all__ = ["preload", "FitTask", "GapTask", "StabilityTask", "run_task", "prediction_strength"]


def preload() -> None:
    """Import numpy and the scikit-learn modules the k-searches use, in this process.

    Called in every worker when the pool is warmed (:func:`nbparallel.warm`), so the
    first k-search does not pay for the imports.

    Examples
    --------
    >>> preload()
    """
    import sklearn.metrics  # noqa: F401
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # a tiny fit also starts OpenMP and loads the compiled k-means code
        KMeans(n_clusters=2, n_init=1, random_state=0).fit(np.arange(8.0).reshape(4, 2))


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


def _kmeans(X: Any, k: int, seed: int, estimator: str, n_init: int | str) -> Any:
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.exceptions import ConvergenceWarning

    cls = MiniBatchKMeans if estimator == "minibatch" else KMeans
    with warnings.catch_warnings():
        # "Number of distinct clusters found smaller than n_clusters": checked by the caller
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls(n_clusters=k, n_init=n_init, random_state=seed).fit(X)


def _sparse_scores(X: Any, labels: np.ndarray, centers: np.ndarray, inertia: float, tss: float) -> tuple[float, float]:
    """Calinski-Harabasz and Davies-Bouldin for sparse ``X`` (scikit-learn's need dense data)."""
    from sklearn.metrics import euclidean_distances

    n, k = X.shape[0], len(centers)
    ch = ((tss - inertia) / (k - 1)) / (inertia / (n - k)) if inertia > 0 else math.inf
    spread = np.zeros(k)
    for j in range(k):
        members = X[labels == j]
        if members.shape[0]:
            spread[j] = euclidean_distances(members, centers[j : j + 1]).mean()
    between = euclidean_distances(centers)
    np.fill_diagonal(between, np.inf)
    db = float(np.mean(np.max((spread[:, None] + spread[None, :]) / between, axis=1)))
    return float(ch), db


def _fit(task: FitTask, X: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    start = time.perf_counter()
    model = _kmeans(X, task.k, task.seed, ctx["estimator"], ctx["n_init"])
    fitted = time.perf_counter()
    labels = model.labels_
    n_labels = len(np.unique(labels))
    out: dict[str, Any] = {"k": task.k, "repeat": task.repeat, "inertia": float(model.inertia_)}
    out["n_labels"] = n_labels
    metrics = ctx["metrics"]
    sample = ctx["sample"]
    ok = n_labels == task.k  # fewer clusters than asked (duplicate points): scores are not for this k
    if "silhouette" in metrics:
        Xs, ls = (X, labels) if sample is None else (X[sample], labels[sample])
        good = ok and 1 < len(np.unique(ls)) < ls.shape[0]
        out["silhouette"] = float(silhouette_score(Xs, ls)) if good else math.nan
    if {"calinski_harabasz", "davies_bouldin"} & set(metrics):
        if not ok:
            ch = db = math.nan
        elif ctx["sparse"]:
            ch, db = _sparse_scores(X, labels, model.cluster_centers_, float(model.inertia_), ctx["tss"])
        else:
            ch, db = float(calinski_harabasz_score(X, labels)), float(davies_bouldin_score(X, labels))
        out["calinski_harabasz"], out["davies_bouldin"] = ch, db
    out["fit_time"] = fitted - start
    out["score_time"] = time.perf_counter() - fitted
    return out


def _gap(task: GapTask, Z: np.ndarray, ctx: dict[str, Any]) -> dict[str, Any]:
    if task.ref >= 0:  # uniform over the box of the data's principal components (Tibshirani et al., 2001)
        rng = np.random.default_rng(task.seed)
        Z = rng.uniform(Z.min(axis=0), Z.max(axis=0), size=Z.shape)
    logw = {}
    for k in ctx["gap_k"]:
        if k == 1:
            w = float(((Z - Z.mean(axis=0)) ** 2).sum())
        else:
            w = float(_kmeans(Z, k, task.seed + k, "kmeans", ctx["n_init"]).inertia_)
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
    for split in range(ctx["stability_splits"]):
        order = rng.permutation(rows if rows is not None else X.shape[0])
        half = len(order) // 2
        train, test = X[np.sort(order[:half])], X[np.sort(order[half:])]
        a = _kmeans(train, task.k, task.seed + 2 * split, ctx["estimator"], ctx["n_init"])
        b = _kmeans(test, task.k, task.seed + 2 * split + 1, ctx["estimator"], ctx["n_init"])
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

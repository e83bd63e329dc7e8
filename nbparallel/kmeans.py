"""Parallel searches for the number of KMeans clusters: elbow, silhouette, and a vote.

Every (k, repeat) pair is one task run through :func:`~nbparallel.pmap`, largest
k first (the slowest fits start first, so no worker idles at the end).  ``X`` is
written once to a memory-mapped file that every worker opens, instead of being
pickled into every task.  Each task draws its seed from
``np.random.SeedSequence([random_state, k, repeat])``, so results do not depend
on ``n_jobs`` or on scheduling.

The criteria, and how each picks k:

* ``inertia``: the knee of the convex, decreasing inertia curve (Kneedle, via
  ``kneed``);
* ``silhouette``: the k with the highest mean silhouette;
* ``calinski_harabasz``: the k with the highest Calinski-Harabasz index;
* ``davies_bouldin``: the k with the lowest Davies-Bouldin index.

Knee detection is never applied to silhouette or Calinski-Harabasz curves (they
are not convex decreasing curves), and differences of the curves are never used.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from .api import pmap
from .config import get_config
from .kresult import METRICS, KSearchResult

__all__ = ["elbow_search", "silhouette_search", "choose_k", "KSearchResult", "METRICS"]

ESTIMATORS = ("auto", "kmeans", "minibatch")

#: Above this many samples, ``estimator="auto"`` uses MiniBatchKMeans.
MINIBATCH_ABOVE = 50_000

#: Default number of samples the silhouette is computed on (one subsample shared by every k).
SILHOUETTE_SAMPLE = 3_000

#: Arrays larger than this are shared with workers through one memory-mapped file.
MEMMAP_ABOVE_BYTES = 1_000_000


# -- validation ---------------------------------------------------------------------


def _check_X(X: Any) -> np.ndarray:
    pd_obj = hasattr(X, "to_numpy") and hasattr(X, "columns")
    arr = X.to_numpy() if pd_obj else np.asarray(X)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(
            f"X must be numeric, got dtype {arr.dtype}; encode categorical columns "
            "(e.g. sklearn.preprocessing.OneHotEncoder) or drop them first"
        )
    if arr.ndim != 2:
        raise ValueError(
            f"X must be 2-D (n_samples, n_features), got {arr.ndim}-D with shape {arr.shape}; "
            "for a single feature use X.reshape(-1, 1)"
        )
    arr = np.asarray(arr, dtype=np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        bad_rows = np.unique(np.nonzero(~finite)[0])
        raise ValueError(
            f"X contains NaN or infinite values in {len(bad_rows)} row(s) (first: {bad_rows[:5].tolist()}); "
            "drop or impute them first (e.g. sklearn.impute.SimpleImputer)"
        )
    return arr


def _check_k(k: Iterable[int], n_samples: int) -> list[int]:
    try:
        ks = sorted({int(v) for v in k})
    except (TypeError, ValueError):
        raise ValueError(f"k must be an iterable of ints such as range(2, 15), got {k!r}") from None
    if not ks:
        raise ValueError("k is empty; pass the cluster counts to try, e.g. range(2, 15)")
    if ks[0] < 2:
        raise ValueError(f"every k must be at least 2 (got {ks[0]}); scores are undefined for one cluster")
    if ks[-1] >= n_samples:
        raise ValueError(
            f"X has {n_samples} samples, too few for k up to {ks[-1]}: each k needs more samples "
            f"than clusters; use k below {n_samples} or more data"
        )
    return ks


def _check_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(
            f"unknown metric(s) {unknown}; choose from {', '.join(METRICS)}"
            if unknown
            else f"metrics is empty; choose from {', '.join(METRICS)}"
        )
    return metrics


# -- the task that runs in a worker ------------------------------------------------


@dataclass(frozen=True)
class _Task:
    k: int
    repeat: int
    seed: int


def _fit_and_score(
    task: _Task,
    X: np.ndarray,
    sample: np.ndarray | None,
    metrics: tuple[str, ...],
    estimator: str,
    n_init: int | str,
    inner_threads: int,
) -> dict[str, Any]:
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
    from threadpoolctl import threadpool_limits

    cls = MiniBatchKMeans if estimator == "minibatch" else KMeans
    with threadpool_limits(limits=inner_threads):
        start = time.perf_counter()
        model = cls(n_clusters=task.k, n_init=n_init, random_state=task.seed).fit(X)
        fitted = time.perf_counter()
        labels = model.labels_
        out: dict[str, Any] = {"k": task.k, "repeat": task.repeat, "inertia": float(model.inertia_)}
        n_labels = len(np.unique(labels))
        for metric in metrics:
            if metric == "inertia":
                continue
            if metric == "silhouette":
                Xs, ls = (X, labels) if sample is None else (X[sample], labels[sample])
                value = silhouette_score(Xs, ls) if 1 < len(np.unique(ls)) < len(ls) else math.nan
            elif n_labels < 2:
                value = math.nan
            elif metric == "calinski_harabasz":
                value = calinski_harabasz_score(X, labels)
            else:
                value = davies_bouldin_score(X, labels)
            out[metric] = float(value)
        out["fit_time"] = fitted - start
        out["score_time"] = time.perf_counter() - fitted
    return out


# -- picks ---------------------------------------------------------------------------


def _knee(ks: list[int], inertia: np.ndarray) -> tuple[int | None, str | None]:
    from kneed import KneeLocator

    if len(ks) < 3:
        return None, "the knee needs at least 3 values of k"
    if not np.all(np.isfinite(inertia)) or np.ptp(inertia) <= 1e-12 * max(1.0, abs(inertia[0])):
        return None, "the inertia curve is flat: the data shows no cluster structure over these k"
    knee = KneeLocator(ks, inertia, curve="convex", direction="decreasing", S=1.0).knee
    if knee is None:
        return None, "Kneedle found no knee in the inertia curve: it falls about evenly, so no k stands out"
    return int(knee), None


def _pick(metric: str, ks: list[int], values: np.ndarray) -> tuple[int | None, str | None]:
    how = METRICS[metric][1]
    if how == "knee":
        return _knee(ks, values)
    if np.all(np.isnan(values)):
        return None, f"{metric} is undefined for every k"
    idx = int(np.nanargmax(values) if how == "max" else np.nanargmin(values))
    return ks[idx], None


def _vote(picks: dict[str, int | None]) -> tuple[int | None, float, str | None]:
    counted = Counter(k for k in picks.values() if k is not None)
    if not counted:
        return None, 0.0, "no criterion picked a k"
    top = max(counted.values())
    winners = sorted(k for k, n in counted.items() if n == top)
    agreement = top / len(picks)
    if len(winners) > 1:
        return None, agreement, f"the criteria are split between k = {winners}; look at the curves"
    return winners[0], agreement, None


# -- the searches ------------------------------------------------------------------------


class _SharedArray:
    """X in one memory-mapped file for the duration of a search (removed after)."""

    def __init__(self, X: np.ndarray, backend: str) -> None:
        self.folder: str | None = None
        self.array = X
        if backend == "loky" and X.nbytes > MEMMAP_ABOVE_BYTES:
            import joblib

            self.folder = tempfile.mkdtemp(prefix="nbparallel-ksearch-")
            path = os.path.join(self.folder, "X.joblib")
            joblib.dump(X, path)
            self.array = joblib.load(path, mmap_mode="r")

    def __enter__(self) -> np.ndarray:
        return self.array

    def __exit__(self, *exc: object) -> None:
        self.array = None  # type: ignore[assignment]
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def _search(
    method: str,
    X: Any,
    k: Iterable[int],
    *,
    metrics: Sequence[str],
    n_repeats: int,
    sample_size: int | str | None,
    estimator: str,
    n_init: int | str,
    random_state: int,
    n_jobs: int | None,
    backend: str | None,
    progress: bool | str | None,
) -> KSearchResult:
    began = time.perf_counter()
    metrics = _check_metrics(metrics)
    arr = _check_X(X)
    ks = _check_k(k, arr.shape[0])
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, int) or n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive int, got {n_repeats!r}")
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {', '.join(map(repr, ESTIMATORS))}")
    if not isinstance(random_state, (int, np.integer)) or isinstance(random_state, bool):
        raise ValueError(
            f"random_state must be an int (seeds are derived per task with np.random.SeedSequence), got {random_state!r}"
        )
    n = arr.shape[0]
    chosen = estimator if estimator != "auto" else ("minibatch" if n > MINIBATCH_ABOVE else "kmeans")

    sample = None
    if "silhouette" in metrics:
        if sample_size == "auto":
            sample_size = SILHOUETTE_SAMPLE
        if sample_size is not None and int(sample_size) < n:
            if int(sample_size) <= ks[-1]:
                raise ValueError(f"sample_size={sample_size} must exceed the largest k ({ks[-1]})")
            rng = np.random.default_rng(np.random.SeedSequence([random_state, 0x5117]))
            sample = np.sort(rng.choice(n, size=int(sample_size), replace=False))

    backend = backend or get_config().backend
    from .backends import get_backend

    workers = get_backend(backend).workers(n_jobs)
    tasks = [
        _Task(kk, r, int(np.random.SeedSequence([random_state, kk, r]).generate_state(1)[0]))
        for kk in reversed(ks)  # largest k first: the slowest fits start first
        for r in range(n_repeats)
    ]
    from joblib import cpu_count

    # each task's BLAS/OpenMP threads: the cores left per concurrent task (one per
    # dask thread: the cluster already runs one task per core)
    inner = 1 if backend == "dask" else max(1, cpu_count() // min(workers, len(tasks)))
    with _SharedArray(arr, backend) as shared:
        # X travels as a memmap: each task pickles only its file name.
        task_func = functools.partial(
            _fit_and_score,
            X=shared,
            sample=sample,
            metrics=metrics,
            estimator=chosen,
            n_init=n_init,
            inner_threads=inner,
        )
        task_func.__name__ = method  # type: ignore[attr-defined]  # the progress label
        rows = cast(  # foreground: a list
            list[dict[str, Any]],
            pmap(task_func, tasks, n_jobs=workers, chunk_size=1, backend=backend, progress=progress),
        )

    index = {kk: i for i, kk in enumerate(ks)}
    per = {m: np.full((len(ks), n_repeats), np.nan) for m in ("inertia", *metrics)}
    fit = np.zeros((len(ks), n_repeats))
    score = np.zeros((len(ks), n_repeats))
    for row in rows:
        i, r = index[row["k"]], row["repeat"]
        for m in per:
            per[m][i, r] = row.get(m, np.nan)
        fit[i, r], score[i, r] = row["fit_time"], row["score_time"]
    shown = [m for m in METRICS if m in metrics]
    scores = {m: per[m].mean(axis=1) for m in shown}
    scores_sd = {m: per[m].std(axis=1) for m in shown}

    picks: dict[str, int | None] = {}
    pick_reasons: dict[str, str] = {}
    stability: dict[str, dict[int | None, float]] = {}
    for m in shown:
        name = METRICS[m][0]
        picks[name], why = _pick(m, ks, scores[m])
        if why:
            pick_reasons[name] = why
        if n_repeats > 1:
            wins = Counter(_pick(m, ks, per[m][:, r])[0] for r in range(n_repeats))
            stability[name] = {
                kk: c / n_repeats for kk, c in sorted(wins.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
            }

    if len(picks) == 1:
        ((name, best),) = picks.items()
        reason, agreement = pick_reasons.get(name), 1.0 if best is not None else 0.0
    else:
        best, agreement, reason = _vote(picks)
    return KSearchResult(
        method=method,
        k=ks,
        scores=scores,
        scores_sd=scores_sd,
        picks=picks,
        best_k=best,
        reason=reason,
        agreement=agreement,
        n_repeats=n_repeats,
        fit_time=fit.mean(axis=1),
        score_time=score.mean(axis=1),
        wall_time=time.perf_counter() - began,
        estimator=chosen,
        silhouette_sample=None if sample is None else len(sample),
        pick_reasons=pick_reasons,
        stability=stability,
    )


def elbow_search(
    X: Any,
    k: Iterable[int] = range(2, 15),
    *,
    n_init: int | str = "auto",
    random_state: int = 0,
    n_repeats: int = 1,
    estimator: str = "auto",
    n_jobs: int | None = None,
    backend: str | None = None,
    progress: bool | str | None = None,
) -> KSearchResult:
    """Inertia per k in parallel; ``best_k`` is the knee of the inertia curve (Kneedle).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numeric, finite data.
    k : iterable of int, default=range(2, 15)
        Cluster counts to try (each at least 2, below ``n_samples``).
    n_init : int or "auto", default="auto"
        Passed to KMeans.
    random_state : int, default=0
        Root of the per-task seeds (``np.random.SeedSequence([random_state, k, repeat])``).
    n_repeats : int, default=1
        Fits per k with different seeds; scores are averaged.
    estimator : {"auto", "kmeans", "minibatch"}, default="auto"
        ``"auto"`` is KMeans, or MiniBatchKMeans above 50,000 samples.
    n_jobs, backend, progress
        As for :func:`~nbparallel.pmap`.

    Returns
    -------
    KSearchResult
        ``best_k`` is the knee, or ``None`` with a ``reason`` when there is none.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, _ = make_blobs(n_samples=300, centers=3, random_state=0)
    >>> elbow_search(X, k=range(2, 8), n_jobs=1, progress=False).best_k
    3
    """
    return _search(
        "elbow_search",
        X,
        k,
        metrics=("inertia",),
        n_repeats=n_repeats,
        sample_size=None,
        estimator=estimator,
        n_init=n_init,
        random_state=random_state,
        n_jobs=n_jobs,
        backend=backend,
        progress=progress,
    )


def silhouette_search(
    X: Any,
    k: Iterable[int] = range(2, 15),
    *,
    sample_size: int | str | None = "auto",
    n_init: int | str = "auto",
    random_state: int = 0,
    n_repeats: int = 1,
    estimator: str = "auto",
    n_jobs: int | None = None,
    backend: str | None = None,
    progress: bool | str | None = None,
) -> KSearchResult:
    """Mean silhouette per k in parallel; ``best_k`` is the k with the highest.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    k : iterable of int, default=range(2, 15)
    sample_size : int, None or "auto", default="auto"
        The silhouette is O(n²): it is computed on one random subsample of this
        many points, drawn once and shared by every k so they compare fairly.
        ``"auto"`` is 3,000 points; ``None`` uses every point (full silhouette).
    n_init, random_state, n_repeats, estimator, n_jobs, backend, progress
        As for :func:`elbow_search`.

    Returns
    -------
    KSearchResult

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, _ = make_blobs(n_samples=300, centers=4, cluster_std=0.6, random_state=0)
    >>> silhouette_search(X, k=range(2, 8), n_jobs=1, progress=False).best_k
    4
    """
    return _search(
        "silhouette_search",
        X,
        k,
        metrics=("silhouette",),
        n_repeats=n_repeats,
        sample_size=sample_size,
        estimator=estimator,
        n_init=n_init,
        random_state=random_state,
        n_jobs=n_jobs,
        backend=backend,
        progress=progress,
    )


def choose_k(
    X: Any,
    k: Iterable[int] = range(2, 15),
    *,
    metrics: Sequence[str] = ("inertia", "silhouette", "calinski_harabasz", "davies_bouldin"),
    n_repeats: int = 1,
    sample_size: int | str | None = "auto",
    n_init: int | str = "auto",
    random_state: int = 0,
    estimator: str = "auto",
    n_jobs: int | None = None,
    backend: str | None = None,
    progress: bool | str | None = None,
) -> KSearchResult:
    """Every criterion's pick of k from one parallel sweep, and their vote.

    One KMeans fit per (k, repeat) is scored by every metric: the knee of the
    inertia curve, the highest silhouette, the highest Calinski-Harabasz index,
    the lowest Davies-Bouldin index.  ``best_k`` is the k most criteria pick
    (``None`` with a ``reason`` on a tie); ``agreement`` is the share that agree.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    k : iterable of int, default=range(2, 15)
    metrics : sequence of str
        Any of ``"inertia"``, ``"silhouette"``, ``"calinski_harabasz"``, ``"davies_bouldin"``.
    n_repeats : int, default=1
        Seeds per k; with more than one, ``scores_sd`` and ``stability`` (how
        often each k wins per criterion) tell how stable the picks are.
    sample_size : int, None or "auto", default="auto"
        Silhouette subsample, as for :func:`silhouette_search`.
    n_init, random_state, estimator, n_jobs, backend, progress
        As for :func:`elbow_search`.

    Returns
    -------
    KSearchResult

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, _ = make_blobs(n_samples=400, centers=5, cluster_std=0.5, random_state=1)
    >>> res = choose_k(X, k=range(2, 9), n_jobs=1, progress=False)
    >>> res.best_k, res.agreement
    (5, 1.0)
    >>> res.picks
    {'inertia_knee': 5, 'silhouette': 5, 'calinski_harabasz': 5, 'davies_bouldin': 5}
    """
    return _search(
        "choose_k",
        X,
        k,
        metrics=metrics,
        n_repeats=n_repeats,
        sample_size=sample_size,
        estimator=estimator,
        n_init=n_init,
        random_state=random_state,
        n_jobs=n_jobs,
        backend=backend,
        progress=progress,
    )

"""The public k-searches: ``elbow_search``, ``silhouette_search`` and ``choose_k``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .criteria import DEFAULT_METRICS
from .result import KSearchResult
from .searches import search

__all__ = ["elbow_search", "silhouette_search", "choose_k"]


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

    The curve starts at k = 1 (the total sum of squares), so the knee can be the
    first k of the range.

    Parameters
    ----------
    X : array-like, DataFrame (pandas, polars), pyarrow Table or scipy.sparse matrix
        Numeric, finite data of shape (n_samples, n_features); sparse data stays sparse.
    k : iterable of int, default=range(2, 15)
        Cluster counts to try (each at least 1, below ``n_samples``).
    n_init : int or "auto", default="auto"
        ``"auto"``: each fit is the best of 3 k-means++ runs (on more than
        2,000 points, the runs use a 2,000-point subsample and the best one
        starts a single fit on all points); prediction strength's halves get
        2 runs, the gap statistic's data and reference sets 1 each (alike, as
        the statistic needs).  An int is passed to KMeans for every fit.
    random_state : int, default=0
        Root of the per-task seeds (``np.random.SeedSequence``).
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
    >>> X, _ = make_blobs(500, 2, centers=[[0, 0], [20, 20]], cluster_std=0.5, random_state=0)
    >>> elbow_search(X, k=range(2, 15), n_jobs=1, progress=False).best_k
    2
    """
    return search(
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
    X : array-like, DataFrame, pyarrow Table or scipy.sparse matrix
    k : iterable of int, default=range(2, 15)
    sample_size : int, None or "auto", default="auto"
        The silhouette is O(n²): it is computed on one random subsample of this
        many points, drawn once and shared by every k so they compare fairly.
        ``"auto"`` is 2,000 points; ``None`` uses every point (full silhouette).
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
    return search(
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
    metrics: Sequence[str] = DEFAULT_METRICS,
    n_repeats: int = 1,
    sample_size: int | str | None = "auto",
    n_init: int | str = "auto",
    random_state: int = 0,
    estimator: str = "auto",
    n_jobs: int | None = None,
    backend: str | None = None,
    progress: bool | str | None = None,
) -> KSearchResult:
    """Every criterion's pick of k from one parallel sweep, and one answer from them.

    One KMeans fit per (k, repeat) is scored by every metric (knee of the inertia
    curve, highest silhouette, highest Calinski-Harabasz, lowest Davies-Bouldin,
    lowest BIC and ICL of a Gaussian mixture with a shared covariance, fitted by
    EM from the fit's centres); the gap statistic
    clusters uniform reference sets and prediction strength random halves, one
    task each.  How the picks become ``best_k`` is described in the consensus
    rule (``nbparallel.ksearch.consensus.decide``): ``best_k`` is 1 ("no cluster
    structure") when the criteria that can say so agree (the ICL and one of gap
    and prediction strength); otherwise a majority vote in which criteria that
    fail alike (the mixture's BIC and ICL; Calinski-Harabasz, silhouette and
    Davies-Bouldin) share one vote, so no one family outvotes all the others.
    ``reason`` says when the answer is weak, ``split`` which criterion picked
    what, and an answer at an end of the range is a bound (``edge``), with a
    wider range to try.

    Parameters
    ----------
    X : array-like, DataFrame (pandas, polars), pyarrow Table or scipy.sparse matrix
        Numeric, finite data of shape (n_samples, n_features); sparse data stays sparse.
    k : iterable of int, default=range(2, 15)
    metrics : str or sequence of str
        One metric, or any of ``"inertia"``, ``"gap"``, ``"silhouette"``, ``"calinski_harabasz"``,
        ``"davies_bouldin"``, ``"bic"``, ``"icl"``, ``"prediction_strength"`` (all by default).
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
    >>> res.best_k, res.confidence
    (5, 'high')
    >>> import numpy as np
    >>> choose_k(np.random.default_rng(0).uniform(size=(300, 3)), n_jobs=1, progress=False).best_k
    1
    """
    return search(
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

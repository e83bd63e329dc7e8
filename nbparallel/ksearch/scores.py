"""Calinski-Harabasz, Davies-Bouldin and the silhouette of one partition, from shared pieces.

scikit-learn's functions each recompute the cluster means and loop over the
clusters in Python; a k-search scores 13 or more partitions of the same data,
so here the means are computed once per partition (Calinski-Harabasz and
Davies-Bouldin share them),
the distances of the silhouette subsample once per search, and everything else
is vectorised.  The values are scikit-learn's (the tests compare them), for
dense and sparse ``X`` alike.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["cluster_means", "calinski_davies", "silhouette_from_distances"]


def cluster_means(X: Any, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Sizes and means of the clusters ``0 .. k - 1`` of ``labels`` (every cluster non-empty).

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    labels : ndarray of int
    k : int

    Returns
    -------
    (ndarray, ndarray)
        The sizes (float, shape ``(k,)``) and the means (shape ``(k, n_features)``).

    Examples
    --------
    >>> cluster_means(np.array([[0.0], [2.0], [10.0]]), np.array([0, 0, 1]), 2)
    (array([2., 1.]), array([[ 1.],
           [10.]]))
    """
    import scipy.sparse

    n = X.shape[0]
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    members = scipy.sparse.csr_matrix((np.ones(n), (labels, np.arange(n))), shape=(k, n))
    sums = members @ X
    sums = sums.toarray() if hasattr(sums, "toarray") else np.asarray(sums)
    return counts, sums / counts[:, None]


def _distances_to_means(X: Any, labels: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Euclidean distance of every point to its cluster's mean."""
    if hasattr(X, "toarray"):  # sparse: |x|^2 - 2 x.m + |m|^2, without densifying X
        own = means[labels]
        squared = (
            np.asarray(X.multiply(X).sum(axis=1)).ravel()
            - 2 * np.asarray(X.multiply(own).sum(axis=1)).ravel()
            + np.einsum("ij,ij->i", own, own)
        )
        return np.sqrt(np.maximum(squared, 0.0))
    residuals = X - means[labels]
    return np.sqrt(np.einsum("ij,ij->i", residuals, residuals))


def calinski_davies(X: Any, labels: np.ndarray, counts: np.ndarray, means: np.ndarray) -> tuple[float, float]:
    """The Calinski-Harabasz and Davies-Bouldin indices of a partition into ``len(counts)`` clusters.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    labels : ndarray of int
    counts, means : ndarray
        From :func:`cluster_means`.

    Returns
    -------
    (float, float)
        As ``sklearn.metrics.calinski_harabasz_score`` and ``davies_bouldin_score``.

    Examples
    --------
    >>> X = np.array([[0.0], [2.0], [10.0], [12.0]])
    >>> labels = np.array([0, 0, 1, 1])
    >>> calinski_davies(X, labels, *cluster_means(X, labels, 2))
    (50.0, 0.2)
    """
    n, k = X.shape[0], len(counts)
    distances = _distances_to_means(X, labels, means)
    overall = counts @ means / n
    extra = float(counts @ np.sum((means - overall) ** 2, axis=1))
    intra = float(distances @ distances)
    ch = 1.0 if intra == 0 else extra * (n - k) / (intra * (k - 1))
    spread = np.bincount(labels, weights=distances, minlength=k) / counts
    between = np.linalg.norm(means[:, None, :] - means[None, :, :], axis=-1)
    # scikit-learn returns 0 when the spreads or the distances are all within 1e-8 of 0 (np.allclose):
    # data in tiny units (1e-9) scored 0 at every k.  Exact zeros need no guard: they give 0 below.
    between[between == 0] = np.inf
    db = float(np.mean(np.max((spread[:, None] + spread[None, :]) / between, axis=1)))
    return ch, db


def silhouette_from_distances(distances: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette coefficient of ``labels`` given all pairwise ``distances``.

    Parameters
    ----------
    distances : ndarray of shape (m, m)
        Euclidean distances, zero on the diagonal.
    labels : ndarray of int of shape (m,)
        At least 2 and at most ``m - 1`` distinct values.

    Returns
    -------
    float
        As ``sklearn.metrics.silhouette_score(distances, labels, metric="precomputed")``.

    Examples
    --------
    >>> points = np.array([0.0, 1.0, 10.0, 11.0])
    >>> round(silhouette_from_distances(np.abs(points[:, None] - points), np.array([0, 0, 1, 1])), 4)
    0.8997
    """
    _, codes = np.unique(labels, return_inverse=True)
    codes = codes.ravel()
    m, k = len(codes), int(codes.max()) + 1
    onehot = np.zeros((m, k))
    onehot[np.arange(m), codes] = 1.0
    sums = distances @ onehot  # distance of each point to each cluster, summed
    counts = onehot.sum(axis=0)
    rows = np.arange(m)
    with np.errstate(divide="ignore", invalid="ignore"):
        intra = sums[rows, codes] / (counts[codes] - 1)
        mean_to = sums / counts
        mean_to[rows, codes] = np.inf
        inter = mean_to.min(axis=1)
        samples = (inter - intra) / np.maximum(intra, inter)
    return float(np.mean(np.nan_to_num(samples))) if m else math.nan

"""The BIC of a k-means partition under a Gaussian model with one shared covariance.

Each cluster is a Gaussian with its own mean and a covariance shared by all
clusters (the "EEE" model of model-based clustering, Banfield & Raftery 1993;
Fraley & Raftery 2002), fitted to the partition k-means found.  The likelihood
is the classification likelihood (every point counts in its own cluster only),
so the criterion prefers clusters that are well apart: it is the hard-assignment
form of the integrated completed likelihood (ICL, Biernacki, Celeux & Govaert
2000).  With ``W`` the pooled within-cluster scatter matrix and ``n_j`` the
cluster sizes::

    log L = sum_j n_j log(n_j / n) - n/2 (d log(2 pi) + log det(W / n) + d)
    BIC   = -2 log L + ((k - 1) + k d + d (d + 1) / 2) log n        (lower is better)

Unlike the criteria built on sums of squares (inertia, Calinski-Harabasz, the
gap), the determinant is unchanged by any linear map of the data (Friedman &
Rubin 1967; Marriott 1971), so a high-variance feature without clusters does not
drown the others, and elongated clusters are not split.  k = 1 is defined
(``W`` is then the total scatter), so the BIC can say "one cluster".

``W`` comes from the total scatter ``T`` (computed once) minus the between-cluster
scatter, which needs only the cluster means: O(n d) per k besides the fit.  Only
the directions in which the data vary count (``d`` is the rank of ``T``), so
constant or duplicated features do no harm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MAX_FEATURES", "ScatterBasis", "scatter_basis", "one_cluster_bic", "partition_bic"]

#: Above this many features the d x d scatter matrices are not computed (no BIC).
MAX_FEATURES = 1000

#: Eigenvalues of the total scatter below this share of the largest are directions without variance.
RANK_TOL = 1e-9


@dataclass(frozen=True)
class ScatterBasis:
    """The total scatter of ``X`` on its principal axes: what every BIC task shares.

    Attributes
    ----------
    mean : ndarray of shape (n_features,)
    axes : ndarray of shape (n_features, rank)
        Principal axes with non-negligible variance.
    scatter : ndarray of shape (rank,)
        The total scatter along each axis (sum of squares about the mean).
    n : int
        Number of samples.
    """

    mean: np.ndarray
    axes: np.ndarray
    scatter: np.ndarray
    n: int

    @property
    def rank(self) -> int:
        """Directions in which the data vary (the ``d`` of the model)."""
        return len(self.scatter)

    def usable(self, k: int) -> bool:
        """Whether ``k`` clusters leave at least twice as many points as directions.

        With fewer, the covariance is estimated so poorly that its determinant,
        and so the BIC, keeps falling with k whatever the data.

        Parameters
        ----------
        k : int
            Number of clusters.

        Returns
        -------
        bool
        """
        return self.n - k >= 2 * self.rank


def scatter_basis(X: Any) -> ScatterBasis | str:
    """The total scatter of ``X`` on its principal axes, or why the BIC cannot be computed.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)

    Returns
    -------
    ScatterBasis or str
        The basis, or the reason there is none (too many features, too few points, constant data).

    Examples
    --------
    >>> b = scatter_basis(np.array([[0.0, 1.0, 5.0], [2.0, 1.0, 5.0], [4.0, 1.0, 5.0], [6.0, 1.0, 5.0]]))
    >>> b.rank, float(b.scatter[0])
    (1, 20.0)
    """
    n, d = X.shape
    if d > MAX_FEATURES:
        return f"the BIC needs at most {MAX_FEATURES} features (X has {d}); reduce them first, e.g. with PCA"
    if hasattr(X, "toarray"):  # scipy.sparse: X'X stays sparse until it is d x d
        mean = np.asarray(X.mean(axis=0)).ravel()
        xtx = X.T @ X
        total = np.asarray(xtx.toarray() if hasattr(xtx, "toarray") else xtx) - n * np.outer(mean, mean)
    else:
        mean = X.mean(axis=0)
        centred = X - mean
        total = centred.T @ centred
    values, vectors = np.linalg.eigh((total + total.T) / 2)
    keep = values > RANK_TOL * max(float(values[-1]), 0.0)
    if not keep.any():
        return "X is constant: every point is the same, so there is one cluster"
    basis = ScatterBasis(mean, np.ascontiguousarray(vectors[:, keep]), values[keep], n)
    if not basis.usable(1):
        return (
            f"the BIC needs at least twice as many points as features that vary (X has {n} points "
            f"and {basis.rank} such features)"
        )
    return basis


def _bic(log_det: float, counts: np.ndarray, basis: ScatterBasis) -> float:
    n, d, k = basis.n, basis.rank, len(counts)
    log_lik = float(np.sum(counts * np.log(counts / n))) - n / 2 * (d * math.log(2 * math.pi) + log_det + d)
    params = (k - 1) + k * d + d * (d + 1) / 2
    return -2 * log_lik + params * math.log(n)


def _log_det(scatter: np.ndarray, n: int) -> float:
    try:
        chol = np.linalg.cholesky(scatter / n)
    except np.linalg.LinAlgError:
        return math.nan
    return 2 * float(np.sum(np.log(np.diag(chol))))


def one_cluster_bic(basis: ScatterBasis) -> float:
    """The BIC of one cluster (k = 1): a single Gaussian with the data's covariance.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(100, 2))
    >>> round(one_cluster_bic(scatter_basis(X)), 1)
    571.2
    """
    return _bic(float(np.sum(np.log(basis.scatter / basis.n))), np.array([float(basis.n)]), basis)


def partition_bic(
    X: Any,
    labels: np.ndarray,
    k: int,
    basis: ScatterBasis,
    *,
    counts: np.ndarray | None = None,
    means: np.ndarray | None = None,
) -> float:
    """The BIC of the partition ``labels`` of ``X`` into ``k`` non-empty clusters.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    labels : ndarray of int
        Cluster of each point, 0 to ``k - 1``, every cluster non-empty.
    k : int
    basis : ScatterBasis
        From :func:`scatter_basis` on the same ``X``.
    counts, means : ndarray, optional
        The cluster sizes and means, when already computed
        (:func:`nbparallel.ksearch.scores.cluster_means`).

    Returns
    -------
    float
        Lower is better; NaN when ``k`` leaves too few points per direction
        (:meth:`ScatterBasis.usable`) or the within-cluster scatter is singular.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [9.0, 9.0], [9.0, 10.0], [10.0, 9.0]])
    >>> b = scatter_basis(X)
    >>> partition_bic(X, np.array([0, 0, 0, 1, 1, 1]), 2, b) < one_cluster_bic(b)
    True
    """
    from .scores import cluster_means

    if not basis.usable(k):
        return math.nan
    n = X.shape[0]
    if counts is None or means is None:
        counts, means = cluster_means(X, labels, k)
    offsets = (means - basis.mean) @ basis.axes  # cluster means on the principal axes
    within = np.diag(basis.scatter) - offsets.T @ (counts[:, None] * offsets)
    if np.any(np.diag(within) <= 1e-7 * basis.scatter):  # T - B lost its digits: clusters far tighter than X
        if hasattr(X, "toarray"):
            return math.nan
        residuals = (X - means[labels]) @ basis.axes
        within = residuals.T @ residuals
    return _bic(_log_det(within, n), counts, basis)

"""The BIC and ICL of a Gaussian mixture whose clusters share one covariance, fitted by EM from k-means' centres.

Each cluster is a Gaussian with its own mean and weight and a covariance shared
by all clusters: the "EEE" model of model-based clustering (Banfield & Raftery
1993; Fraley & Raftery 2002), scikit-learn's ``GaussianMixture`` with
``covariance_type="tied"``.  For every k, EM starts from the centres k-means
found and fits the mixture likelihood, so points are shared between
overlapping clusters::

    BIC = -2 log L + ((k - 1) + k d + d (d + 1) / 2) log n        (lower is better)

Unlike the criteria built on sums of squares (inertia, Calinski-Harabasz, the
gap), the model is unchanged by any linear map of the data.  EM measures
distances with the shared covariance, so a wide feature without clusters (a
"noise dimension") weighs little, where k-means and the sums of squares cut
along it; one stretched Gaussian stays one cluster.  k = 1 is a single Gaussian,
so the BIC can say "one cluster".

The mixture is fitted to one subsample of at most :data:`SAMPLE` points (the
same for every k), on at most :data:`DIMS` principal axes scaled to unit
variance: directions without variance do not count, and the answer does not
depend on the data's scale.  A hard-assignment version (the classification
likelihood of the k-means partition, close to ICL) was used before; it missed
clusters that overlap and followed k-means into the noise dimensions.

The same fit also gives the ICL, the integrated complete-data likelihood
(Biernacki, Celeux & Govaert 2000), in the form model-based clustering uses
(``mclust::icl``)::

    ICL = BIC + 2 EN,    EN = -sum_i sum_j t_ij log t_ij        (lower is better)

where ``t_ij`` is the posterior probability that point i belongs to cluster j.
The BIC counts the components of a mixture; the ICL counts clusters: a
component that only reshapes another (two Gaussians side by side fitting one
uniform cube, or one wide cluster) leaves many points in doubt between them,
and that entropy is charged.  For one cluster the two are equal.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .data import dense_rows, principal_axes

__all__ = [
    "MAX_FEATURES",
    "SAMPLE",
    "DIMS",
    "MixtureSpace",
    "mixture_space",
    "one_cluster_bic",
    "mixture_bic",
    "mixture_criteria",
]

#: Above this many features the BIC is not computed (the principal axes need a d x d matrix).
MAX_FEATURES = 1000

#: Points the mixture is fitted to (a subsample shared by every k).
SAMPLE = 1000

#: Principal axes kept (the most variance first).
DIMS = 15

#: Added to the shared covariance's diagonal, in units of the (unit) variance per axis.
REG_COVAR = 1e-6


@dataclass(frozen=True)
class MixtureSpace:
    """A subsample of ``X`` on its principal axes, scaled to unit variance: where every BIC is fitted.

    Attributes
    ----------
    mean : ndarray of shape (n_features,)
    proj : ndarray of shape (n_features, q)
        Principal axes divided by the standard deviation along them.
    Z : ndarray of shape (m, q)
        The subsample in those coordinates.
    """

    mean: np.ndarray
    proj: np.ndarray
    Z: np.ndarray

    def project(self, points: Any) -> np.ndarray:
        """Points of ``X``'s space (say, cluster centres) in the mixture's coordinates."""
        return (np.asarray(points, dtype=np.float64) - self.mean) @ self.proj

    def usable(self, k: int) -> bool:
        """Whether ``k`` clusters leave at least twice as many points as directions.

        With fewer, the covariance is estimated so poorly that the likelihood
        keeps rising with k whatever the data.

        Parameters
        ----------
        k : int
            Number of clusters.

        Returns
        -------
        bool
        """
        m, q = self.Z.shape
        return m - k >= 2 * q


def mixture_space(X: Any, rows: np.ndarray | None) -> MixtureSpace | str:
    """The space the BIC is fitted in, or why the BIC cannot be computed.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    rows : ndarray of int or None
        The subsample (``None``: every row).

    Returns
    -------
    MixtureSpace or str
        The space, or the reason there is none (too many features, too few points, constant data).

    Examples
    --------
    >>> X = np.array([[0.0, 1.0, 5.0], [2.0, 1.0, 5.0], [4.0, 1.0, 5.0], [6.0, 1.0, 5.0]])
    >>> mixture_space(X, None).Z.ravel().round(3).tolist()
    [-1.342, -0.447, 0.447, 1.342]
    """
    d = X.shape[1]
    if d > MAX_FEATURES:
        return f"the BIC needs at most {MAX_FEATURES} features (X has {d}); reduce them first, e.g. with PCA"
    sample = dense_rows(X, rows)
    mean = sample.mean(axis=0)
    centred = sample - mean
    variances, axes = principal_axes(centred, DIMS)
    if not len(variances):
        return "X is constant: every point is the same, so there is one cluster"
    proj = axes / np.sqrt(variances)
    space = MixtureSpace(mean, np.ascontiguousarray(proj), np.ascontiguousarray(centred @ proj))
    if not space.usable(1):
        return (
            f"the BIC needs at least twice as many points as principal axes with variance (X has "
            f"{len(sample)} points and {space.Z.shape[1]} such axes of the {DIMS} it keeps at most)"
        )
    return space


def one_cluster_bic(space: MixtureSpace) -> float:
    """The BIC of one Gaussian (k = 1), in closed form: what :func:`mixture_bic` gives for one cluster.

    On its own scaled principal axes the subsample's covariance is the identity.

    Examples
    --------
    >>> from sklearn.mixture import GaussianMixture
    >>> X = np.random.default_rng(0).normal(size=(100, 2)) @ np.array([[2.0, 1.0], [0.0, 3.0]])
    >>> space = mixture_space(X, None)
    >>> bool(np.isclose(one_cluster_bic(space), GaussianMixture(1, reg_covar=REG_COVAR).fit(space.Z).bic(space.Z)))
    True
    """
    m, q = space.Z.shape
    log_lik = -m / 2 * (q * math.log(2 * math.pi) + q * math.log1p(REG_COVAR) + q / (1 + REG_COVAR))
    return -2 * log_lik + (q + q * (q + 1) / 2) * math.log(m)


def mixture_bic(space: MixtureSpace, centres: Any, seed: int = 0) -> float:
    """The BIC of a tied-covariance Gaussian mixture whose EM starts from ``centres``.

    The first of :func:`mixture_criteria`'s two values.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [9.0, 9.0], [9.0, 10.0], [10.0, 9.0]] * 3)
    >>> space = mixture_space(X, None)
    >>> bool(mixture_bic(space, [[0.3, 0.3], [9.3, 9.3]]) < mixture_bic(space, X.mean(axis=0, keepdims=True)))
    True
    """
    return mixture_criteria(space, centres, seed)[0]


def mixture_criteria(space: MixtureSpace, centres: Any, seed: int = 0) -> tuple[float, float]:
    """The BIC and the ICL of a tied-covariance Gaussian mixture whose EM starts from ``centres``.

    The starting covariance and weights come from scikit-learn's own k-means
    on the scaled principal axes (``init_params="kmeans"``), where a wide feature
    without clusters weighs no more than any other; starting them from the
    partition that gave ``centres`` kept EM in that partition's cuts along such
    features.

    Parameters
    ----------
    space : MixtureSpace
        From :func:`mixture_space`.
    centres : array-like of shape (k, n_features)
        Starting means, in ``X``'s space (k-means' cluster centres).
    seed : int, default=0
        The mixture's ``random_state``.

    Returns
    -------
    (float, float)
        The BIC and the ICL (the BIC plus twice the entropy of the posterior
        cluster probabilities); lower is better.  Both NaN when ``k`` leaves too
        few points per direction (:meth:`MixtureSpace.usable`) or EM fails.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [9.0, 9.0], [9.0, 10.0], [10.0, 9.0]] * 3)
    >>> space = mixture_space(X, None)
    >>> bic, icl = mixture_criteria(space, [[0.3, 0.3], [9.3, 9.3]])
    >>> bool(icl >= bic), bool(np.isclose(icl, bic))  # two clusters far apart: no point in doubt
    (True, True)
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    start = space.project(centres)
    k = len(start)
    if not space.usable(k):
        return math.nan, math.nan
    model = GaussianMixture(k, covariance_type="tied", means_init=start, reg_covar=REG_COVAR, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the criteria of the last iterate still count
        try:
            model.fit(space.Z)
        except (ValueError, np.linalg.LinAlgError):  # the covariance lost its positive definiteness
            return math.nan, math.nan
    bic = float(model.bic(space.Z))
    resp = model.predict_proba(space.Z)
    entropy = -float(np.sum(resp * np.log(np.clip(resp, np.finfo(float).tiny, None))))
    return bic, bic + 2 * entropy

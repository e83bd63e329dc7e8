"""The criteria and how each picks k from its curve.

* ``inertia``: the knee of the convex, decreasing inertia curve (Kneedle,
  Satopaa et al. 2011, as ``kneed`` computes it offline with ``S=1``), with k = 1
  (the total sum of squares) as its first point, so the knee can be the first k
  of the range;
* ``gap``: the gap statistic (Tibshirani, Walther & Hastie 2001) with the 1-SE
  rule from its global maximum (Dudoit & Fridlyand 2002): the smallest k whose
  gap is within one standard error of the largest gap; 1 when Tibshirani's rule
  stops at 1 and no gap rises clearly above it (see :func:`gap_1se`);
* ``silhouette``: the k with the highest mean silhouette;
* ``calinski_harabasz``: the k with the highest Calinski-Harabasz index;
* ``davies_bouldin``: the k with the lowest Davies-Bouldin index;
* ``bic``: the k with the lowest BIC of a Gaussian model with one shared
  covariance, k = 1 included (see :mod:`nbparallel.ksearch.bic`); it can say 1;
* ``icl``: the k with the lowest ICL of the same mixture (the BIC plus twice the
  entropy of the posterior cluster probabilities: Biernacki, Celeux & Govaert
  2000), k = 1 included; it counts clusters where the BIC counts components;
* ``prediction_strength``: the largest k whose prediction strength (Tibshirani &
  Walther, 2005) is at least 0.8; 1 when none is.

Knee detection is never applied to silhouette or Calinski-Harabasz curves (they
are not convex decreasing curves), and differences of the curves are never used.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "METRICS",
    "DEFAULT_METRICS",
    "PS_THRESHOLD",
    "GAP_RISE",
    "kneedle",
    "knee",
    "best_of",
    "gap_1se",
    "ps_pick",
    "pick",
]

#: Criterion name -> (pick name, rule, label).  Docs, checks and error messages
#: are generated from this mapping.
METRICS: dict[str, tuple[str, str, str]] = {
    "inertia": ("inertia_knee", "knee", "inertia (within-cluster sum of squares)"),
    "gap": ("gap", "1se", "gap statistic (Tibshirani et al. 2001)"),
    "silhouette": ("silhouette", "max", "mean silhouette coefficient"),
    "calinski_harabasz": ("calinski_harabasz", "max", "Calinski-Harabasz index"),
    "davies_bouldin": ("davies_bouldin", "min", "Davies-Bouldin index"),
    "bic": ("bic", "min1", "BIC, Gaussian clusters with a shared covariance"),
    "icl": ("icl", "min1", "ICL, the same mixture's BIC plus its assignments' entropy"),
    "prediction_strength": ("prediction_strength", "threshold", "prediction strength (Tibshirani & Walther 2005)"),
}

#: What :func:`~nbparallel.choose_k` computes unless told otherwise.
DEFAULT_METRICS = tuple(METRICS)

#: Prediction strength a k needs to count as stable (Tibshirani & Walther suggest 0.8 to 0.9).
PS_THRESHOLD = 0.8

#: A curve that falls by less than this share of its k = 1 value is flat.
FLAT = 1e-9


def _relative_extrema(values: np.ndarray, bigger: bool) -> np.ndarray:
    """Indices where ``values`` is >= (or <=) both neighbours, ends compared with themselves."""
    left = np.concatenate([values[:1], values[:-1]])
    right = np.concatenate([values[1:], values[-1:]])
    found = (values >= left) & (values >= right) if bigger else (values <= left) & (values <= right)
    return np.flatnonzero(found)


def kneedle(x: np.ndarray, y: np.ndarray, sensitivity: float = 1.0) -> float | None:
    """The knee of a convex, decreasing curve by Kneedle (Satopaa et al. 2011), offline.

    The same answer as ``kneed.KneeLocator(x, y, curve="convex",
    direction="decreasing", S=sensitivity).knee``, without importing ``kneed``
    (which imports matplotlib: a second on the first call).

    Parameters
    ----------
    x : ndarray
        Increasing.
    y : ndarray
        The curve at ``x``, not constant.
    sensitivity : float, default=1.0
        Kneedle's ``S``.

    Returns
    -------
    float or None
        The ``x`` of the first knee, or ``None``.

    Examples
    --------
    >>> kneedle(np.arange(1.0, 8.0), np.array([100.0, 30.0, 12.0, 10.0, 9.0, 8.5, 8.0]))
    3.0
    """
    x_norm = (x - x.min()) / (x.max() - x.min())
    y_norm = (y - y.min()) / (y.max() - y.min())
    diff = (y_norm.max() - y_norm) - x_norm  # flipped to concave increasing, minus the diagonal
    maxima = _relative_extrema(diff, bigger=True)
    minima = set(_relative_extrema(diff, bigger=False).tolist())
    if not maxima.size:
        return None
    thresholds = diff[maxima] - sensitivity * abs(np.diff(x_norm).mean())
    is_max = {int(i): t for i, t in zip(maxima, thresholds)}
    threshold, at, active = 0.0, 0, True
    for i in range(int(maxima[0]), len(x) - 1):
        if i in is_max:
            threshold, at, active = is_max[i], i, True
        if i in minima:
            threshold, active = 0.0, False
        if active and diff[i + 1] < threshold:
            return float(x[at])
    return None


def knee(ks: list[int], inertia: np.ndarray, total_ss: float) -> tuple[int | None, str | None]:
    """The knee of the inertia curve, with ``(1, total_ss)`` as its first point.

    Parameters
    ----------
    ks : list of int
        The k of ``inertia``, ascending (1 may be among them).
    inertia : ndarray
        Inertia per k.
    total_ss : float
        The inertia of one cluster: the total sum of squares.

    Returns
    -------
    (int or None, str or None)
        The knee, or ``None`` and why there is none.  The flat-curve test is
        relative to ``total_ss``, so it does not depend on the data's scale.

    Examples
    --------
    >>> knee([2, 3, 4, 5], np.array([10.0, 9.0, 8.5, 8.2]), 100.0)
    (2, None)
    """
    pairs = sorted({1: total_ss, **{k: float(v) for k, v in zip(ks, inertia)}}.items())
    x = np.array([p[0] for p in pairs], dtype=float)
    y = np.array([p[1] for p in pairs])
    if total_ss <= 0:
        return None, "X is constant: every point is the same, so there is one cluster"
    if not np.all(np.isfinite(y)) or (total_ss - y.min()) <= FLAT * total_ss:
        return None, "the inertia curve is flat: the data shows no cluster structure over these k"
    if len(x) < 3:
        return None, "the knee needs at least 2 values of k besides k = 1"
    found = kneedle(x, y)
    if found is None or int(found) == 1:
        return None, "Kneedle found no knee in the inertia curve: it falls about evenly, so no k stands out"
    return int(found), None


def best_of(ks: list[int], values: np.ndarray, how: str, name: str) -> tuple[int | None, str | None]:
    """The k with the highest (``how="max"``) or lowest (``"min"``) finite value.

    Examples
    --------
    >>> best_of([2, 3, 4], np.array([0.2, 0.7, 0.5]), "max", "silhouette")
    (3, None)
    """
    if np.all(np.isnan(values)):
        return None, f"{name} is undefined for every k"
    idx = int(np.nanargmax(values) if how == "max" else np.nanargmin(values))
    return ks[idx], None


#: How many of its standard errors the largest gap must rise above one cluster's
#: before a gap that Tibshirani's rule stops at k = 1 counts as structure.
GAP_RISE = 4.0


def gap_1se(ks: list[int], gap: np.ndarray, s: np.ndarray) -> tuple[int | None, str | None]:
    """The gap statistic's pick by the 1-SE rule, taken from the gap's global maximum.

    * **One cluster** when Tibshirani, Walther & Hastie's (2001) rule stops at
      k = 1 (``gap(1) >= gap(2) - s(2)``) and no k's gap rises more than
      :data:`GAP_RISE` standard errors above ``gap(1)``.
    * **Otherwise** the smallest k whose gap is within one standard error of the
      largest: ``gap(k) >= gap(k*) - s(k*)`` (Dudoit & Fridlyand 2002;
      ``"globalSEmax"`` in R's ``cluster::maxSE``).

    Tibshirani's own rule picks the first k whose gap is within one standard
    error of the next k's.  With many clusters the gap often climbs in steps, and
    that rule stops on the first step: on the benchmark it said 1 on
    well-separated sets with 9 to 11 clusters.  The global maximum alone is too
    eager on data without structure: a uniform cube seen in the box of its
    (arbitrary) principal axes has a flat, noisy gap whose highest point lies
    a few standard errors above k = 1.  Hence the two steps.

    Parameters
    ----------
    ks : list of int
        Ascending, starting at 1.
    gap : ndarray
        ``E*[log W*_k] - log W_k`` per k.
    s : ndarray
        The reference spread times ``sqrt(1 + 1/B)``.

    Returns
    -------
    (int or None, str or None)

    Examples
    --------
    >>> gap_1se([1, 2, 3, 4], np.array([0.0, 0.9, 0.95, 0.96]), np.full(4, 0.1))
    (2, None)
    >>> gap_1se([1, 2, 3], np.array([0.1, 0.05, 0.0]), np.full(3, 0.05))
    (1, None)
    >>> gap_1se([1, 2, 3, 4, 5], np.array([0.2, 0.5, 0.45, 1.2, 1.1]), np.full(5, 0.05))
    (4, None)
    >>> gap_1se([1, 2, 3, 4, 5], np.array([0.5, 0.48, 0.5, 0.6, 0.55]), np.full(5, 0.05))
    (1, None)
    """
    finite = np.isfinite(gap)
    if not finite.any():
        return None, "the gap statistic is undefined for every k"
    top = int(np.nanargmax(np.where(finite, gap, np.nan)))
    if (
        len(ks) > 1
        and ks[0] == 1
        and finite[0]
        and (not finite[1] or gap[0] >= gap[1] - s[1])
        and gap[top] - gap[0] <= GAP_RISE * s[top]
    ):
        return 1, None
    floor = gap[top] - s[top]
    return ks[next(i for i in range(top + 1) if finite[i] and gap[i] >= floor)], None


def ps_pick(ks: list[int], ps: np.ndarray, threshold: float = PS_THRESHOLD) -> tuple[int | None, str | None]:
    """The largest k whose prediction strength reaches ``threshold`` (1 when none does).

    A k whose strength could not be computed (NaN) is left out; with none
    computed there is no pick.

    Examples
    --------
    >>> ps_pick([2, 3, 4, 5], np.array([0.95, 0.9, 0.5, 0.4]))
    (3, None)
    >>> ps_pick([2, 3], np.array([0.5, 0.4]))
    (1, None)
    """
    if not np.isfinite(ps).any():
        return None, "prediction strength is undefined for every k"
    good = [k for k, v in zip(ks, ps) if np.isfinite(v) and v >= threshold]
    return (max(good) if good else 1), None


def pick(
    metric: str,
    ks: list[int],
    values: np.ndarray,
    *,
    total_ss: float = 0.0,
    spread: np.ndarray | None = None,
    one: float | None = None,
) -> tuple[int | None, str | None]:
    """One criterion's k from its curve over ``ks`` (see the module docstring).

    Parameters
    ----------
    metric : str
        A key of :data:`METRICS`.
    ks : list of int
        The k of ``values``, ascending.
    values : ndarray
        The metric per k.
    total_ss : float, default=0.0
        The inertia of one cluster (for the knee).
    spread : ndarray, optional
        The gap's ``s(k)`` (for the 1-SE rule).
    one : float, optional
        The metric at k = 1 when 1 is not in ``ks`` (for the BIC and the ICL).

    Returns
    -------
    (int or None, str or None)
        The pick, or ``None`` and why there is none.

    Examples
    --------
    >>> pick("davies_bouldin", [2, 3], np.array([0.9, 0.4]))
    (3, None)
    >>> pick("bic", [2, 3], np.array([105.0, 101.0]), one=100.0)
    (1, None)
    """
    rule = METRICS[metric][1]
    if rule == "min1":
        if one is not None and 1 not in ks:
            ks, values = [1, *ks], np.concatenate([[one], values])
        return best_of(ks, values, "min", metric)
    if rule == "knee":
        return knee(ks, values, total_ss)
    if rule == "1se":
        return gap_1se(ks, values, spread if spread is not None else np.zeros_like(values))
    if rule == "threshold":
        return ps_pick(ks, values)
    return best_of(ks, values, rule, metric)

"""How ``choose_k`` turns the criteria's picks into one answer (see :func:`decide`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

__all__ = ["Decision", "decide", "VOTERS"]

#: The criteria that vote, in the order that breaks ties: a Gaussian model's
#: likelihood (the BIC with a shared covariance: model-based clustering, Fraley &
#: Raftery 2002, with the determinant criterion of Friedman & Rubin 1967 and
#: Marriott 1971, unaffected by a feature's scale) and the same model's ICL
#: (Biernacki, Celeux & Govaert 2000), compactness against separation
#: (Calinski-Harabasz, the best of 30 rules in Milligan & Cooper 1985), a null
#: reference (the gap statistic, Tibshirani, Walther & Hastie 2001) and stability
#: over resamples (prediction strength, Tibshirani & Walther 2005).  The BIC
#: counts a mixture's components and the ICL its well-separated clusters: when
#: they agree, the model's two votes outweigh one other criterion; when a
#: cluster is not Gaussian (a wide or uniform one, which the BIC fits with
#: several components) they split.  Silhouette and Davies-Bouldin move together
#: and lean to small k, and the knee is the weakest criterion in the benchmark:
#: they are reported but do not vote.
VOTERS = ("bic", "icl", "calinski_harabasz", "gap", "prediction_strength")

#: The criteria that can say "one cluster"; no structure is reported when most of
#: them do.  The mixture's test is the ICL (the BIC when the ICL was not
#: computed): several Gaussians side by side fit a uniform cube better than one,
#: so the BIC seldom says 1 there, while the points they share charge the ICL.
NULL_TESTS = ("icl", "gap", "prediction_strength")


def _null_tests(made: dict[str, int]) -> list[str]:
    """The null tests among the criteria with a pick (the BIC standing in for a missing ICL)."""
    names = [name for name in NULL_TESTS if name in made]
    if "icl" not in made and "bic" in made and "bic" not in names:
        names.insert(0, "bic")
    return names


@dataclass(frozen=True)
class Decision:
    """The answer of a k-search, how many criteria back it, and why it may be weak."""

    best_k: int | None
    agreement: float
    confidence: str
    reason: str | None


def decide(
    picks: dict[str, int | None],
    ks: list[int],
    *,
    pick_reasons: dict[str, str] | None = None,
    constant: bool = False,
    capped: bool = False,
) -> Decision:
    """One k from the criteria's picks.

    1. No structure: when most of the criteria able to say "one cluster" (the
       ICL, or the BIC without it, the gap statistic and prediction strength,
       of those computed) pick 1, ``best_k`` is 1.
    2. Otherwise each voter (BIC, ICL, Calinski-Harabasz, gap, prediction
       strength, of those computed; every computed criterion when none of them is) gives
       one vote to its k, unless it picked 1 or the largest k tried: a curve
       still improving at the end of the range has not found its k, it only says
       "at least this many".  The k with most votes wins; a tie goes to the
       first voter in that order that backs one of the tied k.  When no voter
       is left and some picked the largest k, that k is the answer, with a
       suggestion to widen the range.
    3. ``agreement`` is the share of all criteria with a pick that chose
       ``best_k``; ``confidence`` is ``"high"`` when the voters are unanimous,
       ``"medium"`` on a majority, ``"low"`` otherwise or at an end of the range
       (``reason`` then says what to do).

    Parameters
    ----------
    picks : dict of str to int or None
        Each criterion's k, by pick name (``calinski_harabasz``, ``gap``, ...).
    ks : list of int
        The k tried, ascending.
    pick_reasons : dict of str to str, optional
        Why a criterion has no pick.
    constant : bool, default=False
        All points are equal: the answer is 1.
    capped : bool, default=False
        ``ks`` was cut at the number of distinct points (do not suggest more; a
        pick at the largest k then votes).

    Returns
    -------
    Decision

    Examples
    --------
    >>> decide({"bic": 3, "icl": 3, "gap": 3, "calinski_harabasz": 3, "prediction_strength": 2}, [2, 3, 4, 5]).best_k
    3
    >>> decide({"bic": 4, "icl": 1, "gap": 1, "calinski_harabasz": 14, "prediction_strength": 3}, list(range(2, 15))).best_k
    1
    >>> decide({"bic": 4, "icl": 4, "gap": 3, "calinski_harabasz": 3, "prediction_strength": 5}, list(range(2, 15))).best_k
    4
    """
    if constant:
        return Decision(1, 1.0, "high", "X is constant: every point is the same, so there is one cluster")
    made = {name: k for name, k in picks.items() if k is not None}
    if not made:
        why = "; ".join(sorted(set((pick_reasons or {}).values()))) or "no criterion picked a k"
        return Decision(None, 0.0, "low", why)
    null_tests = _null_tests(made)
    tests = [made[name] for name in null_tests]
    voters = {name: made[name] for name in VOTERS if name in made} or made
    top = ks[-1] if len(ks) > 1 and not capped else None
    ones = sum(k == 1 for k in tests)
    if tests and 2 * ones > len(tests):
        best, unanimous, majority = 1, ones == len(tests), True
    else:
        votes = [k for k in voters.values() if k != 1 and k != top]
        if not votes:
            if top is None or top not in voters.values():  # only null tests voted, and they split
                return Decision(None, 0.0, "low", f"the criteria found no k above 1: {made}")
            votes = [top]
        counted = Counter(votes)
        most = max(counted.values())
        best = next(k for k in voters.values() if counted.get(k) == most)
        unanimous, majority = (
            all(k == best for k in voters.values()),
            2 * sum(k == best for k in voters.values()) > len(voters),
        )
    agreement = sum(k == best for k in made.values()) / len(made)
    confidence = "high" if unanimous else "medium" if majority else "low"
    notes = []
    if best == 1:
        notes.append(
            "no cluster structure: "
            + " and ".join(n for n in null_tests if made.get(n) == 1)
            + " find no k better than one cluster"
        )
    elif len(ks) > 1 and best == ks[-1] and not capped:
        notes.append(
            f"k = {best} is the largest k tried: widen the range upwards, e.g. k=range({ks[0]}, {2 * best + 1})"
        )
        confidence = "low"
    elif len(ks) > 1 and best == ks[0] and best > 2:
        notes.append(f"k = {best} is the smallest k tried: widen the range downwards, e.g. k=range(2, {ks[-1] + 1})")
        confidence = "low"
    if confidence != "high":
        others = ", ".join(f"{name}={k}" for name, k in made.items() if k != best)
        notes.append(f"the criteria disagree ({others})")
    return Decision(best, agreement, confidence, "; ".join(notes) or None)

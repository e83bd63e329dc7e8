"""How ``choose_k`` turns the criteria's picks into one answer (see :func:`decide`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

__all__ = ["Decision", "decide", "VOTERS"]

#: The criteria that vote, one per principle: compactness against separation
#: (Calinski-Harabasz, the best of 30 rules in Milligan & Cooper 1985), a null
#: reference (the gap statistic, Tibshirani, Walther & Hastie 2001) and stability
#: over resamples (prediction strength, Tibshirani & Walther 2005).  The first is
#: also the tie-breaker.  Silhouette and Davies-Bouldin move together and lean to
#: small k, and the knee is the weakest criterion in the benchmark: they are
#: reported but do not vote.
VOTERS = ("calinski_harabasz", "gap", "prediction_strength")

#: The criteria that can say "one cluster"; no structure is reported when all of them do.
NULL_TESTS = ("gap", "prediction_strength")


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

    1. No structure: when every criterion able to say "one cluster" (the gap
       statistic's 1-SE rule and prediction strength, of those computed) picks
       1, ``best_k`` is 1.
    2. Otherwise the voters (Calinski-Harabasz, gap, prediction strength, of
       those computed; all computed criteria when none of them is) each give one
       vote to their k; the k with most votes wins; a tie goes to
       Calinski-Harabasz's pick, or the smaller k.
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
        ``ks`` was cut at the number of distinct points (do not suggest more).

    Returns
    -------
    Decision

    Examples
    --------
    >>> decide({"gap": 3, "calinski_harabasz": 3, "prediction_strength": 2}, [2, 3, 4, 5]).best_k
    3
    >>> decide({"gap": 1, "calinski_harabasz": 14, "prediction_strength": 1}, list(range(2, 15))).best_k
    1
    """
    if constant:
        return Decision(1, 1.0, "high", "X is constant: every point is the same, so there is one cluster")
    made = {name: k for name, k in picks.items() if k is not None}
    if not made:
        why = "; ".join(sorted(set((pick_reasons or {}).values()))) or "no criterion picked a k"
        return Decision(None, 0.0, "low", why)
    tests = [made[name] for name in NULL_TESTS if name in made]
    voters = {name: made[name] for name in VOTERS if name in made} or made
    if tests and all(k == 1 for k in tests):
        best, unanimous, majority = 1, True, True
    else:
        counted = Counter(k for k in voters.values() if k != 1)
        if not counted:  # only null tests voted, and they split: no k stands out
            return Decision(None, 0.0, "low", f"the criteria found no k above 1: {made}")
        top = max(counted.values())
        winners = [k for k, c in counted.items() if c == top]
        tie_break = voters.get("calinski_harabasz")
        best = tie_break if tie_break in winners else min(winners)
        unanimous, majority = top == len(voters), top > len(voters) / 2
    agreement = sum(k == best for k in made.values()) / len(made)
    confidence = "high" if unanimous else "medium" if majority else "low"
    notes = []
    if best == 1:
        notes.append(
            "no cluster structure: "
            + " and ".join(n for n in NULL_TESTS if n in made)
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
    if confidence != "high" and best != 1:
        others = ", ".join(f"{name}={k}" for name, k in made.items() if k != best)
        notes.append(f"the criteria disagree ({others})")
    return Decision(best, agreement, confidence, "; ".join(notes) or None)

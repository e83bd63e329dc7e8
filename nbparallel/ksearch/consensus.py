"""How ``choose_k`` turns the criteria's picks into one answer (see :func:`decide`).

The rule is a majority over the criteria, as R's NbClust reports one over its
30 indices (Charrad et al. 2014), with one change: criteria that share a
failure mode share one vote.  Milligan & Cooper (1985) found that the best of
their 30 stopping rules still failed on some data, each in its own way; a vote
helps only when the voters fail independently.  Ours come in families:

* **mixture** (BIC, ICL): a Gaussian model's likelihood.  It sees clusters past
  wide noise features, and splits a cluster that is not Gaussian (stretched,
  flat-topped, or a class of real data) into several components;
* **partition** (Calinski-Harabasz, silhouette, Davies-Bouldin): compactness
  against separation of k-means' own partition.  Calinski-Harabasz was the best
  rule in Milligan & Cooper; the three follow k-means when it cuts along noise
  features, and silhouette and Davies-Bouldin lean to k = 2;
* **knee** of the inertia curve: where adding a cluster stops paying;
* **reference** (the gap statistic) and **stability** (prediction strength):
  the criteria that can say "no structure"; both under-call clusters that
  overlap (the gap says 1, prediction strength a small k).

The rule has two questions, asked in this order:

1. **Is there any structure?**  Only the criteria that can say "one cluster"
   answer it: the mixture's ICL (the BIC when the ICL is missing) and the two
   that judge k-means' partition against chance (the gap statistic against a
   uniform reference, prediction strength over resampled halves).  The last two
   fail alike (overlapping clusters look like chance to both), so they share
   one vote here too: "no structure" needs the mixture and one of them.
   Calinski-Harabasz, silhouette and Davies-Bouldin are undefined at k = 1, and
   the knee and the BIC find several clusters in a uniform square: their
   agreement on a k is no evidence against "no structure" (on a uniform square
   they agree on 4).
2. **How many clusters?**  Each family has one vote, split evenly between the
   picks of its members above 1.  So one family cannot outvote all the others:
   a mixture that over-splits stretched clusters is outvoted when the other
   families agree.  A pick at an end of the range is a bound ("at least 14"), not
   a k: it wins only when most of the votes are bounds at that end (the range is
   too small), and otherwise abstains (its curve found no k inside the range, as
   k-means' criteria do when it cuts along wide noise features); its share of
   its family's vote is not handed to the members that found a k.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["Decision", "decide", "support", "FAMILIES", "TIE_ORDER", "NULL_TESTS", "split_line", "no_structure"]

#: Families of criteria (by pick name): criteria that fail alike share one vote.
FAMILIES: dict[str, tuple[str, ...]] = {
    "mixture": ("bic", "icl"),
    "partition": ("calinski_harabasz", "silhouette", "davies_bouldin"),
    "knee": ("inertia_knee",),
    "reference": ("gap",),
    "stability": ("prediction_strength",),
}

#: The order that breaks a tie between k backed by as many criteria: Calinski-Harabasz
#: first (the best of 30 rules in Milligan & Cooper 1985 and on our design sets), then
#: the mixture (not misled by wide noise features), then the others.
TIE_ORDER = (
    "calinski_harabasz",
    "bic",
    "icl",
    "gap",
    "prediction_strength",
    "inertia_knee",
    "silhouette",
    "davies_bouldin",
)

#: The criteria that can say "one cluster", in two families (the BIC stands in for
#: a missing ICL: several Gaussians side by side fit a uniform cube better than one).
NULL_TESTS: dict[str, tuple[str, ...]] = {
    "mixture": ("icl",),
    "chance": ("gap", "prediction_strength"),
}


@dataclass(frozen=True)
class Decision:
    """The answer of a k-search, how many criteria back it, and why it may be weak.

    ``edge`` is ``"top"`` or ``"bottom"`` when the answer is at that end of the
    range tried (and the range could go further): it is then a bound, not an answer.
    """

    best_k: int | None
    agreement: float
    confidence: str
    reason: str | None
    edge: str | None = None
    split: str | None = None


def _family_of(name: str) -> str:
    return next((family for family, members in FAMILIES.items() if name in members), name)


def _votes(picks: dict[str, int]) -> dict[int, Fraction]:
    """Votes per k as :func:`support`, in exact fractions.

    In floats 1/3 + 1/3 + 1/3 is 0.9999999999999999: a tie was lost, and the
    confidence's thresholds moved with the order of the picks.
    """
    members: dict[str, list[int]] = defaultdict(list)
    for name, k in picks.items():
        members[_family_of(name)].append(k)
    votes: dict[int, Fraction] = defaultdict(Fraction)
    for ks in members.values():
        for k in ks:
            votes[k] += Fraction(1, len(ks))
    return dict(votes)


def support(picks: dict[str, int]) -> dict[int, float]:
    """Votes per k: each family's one vote split evenly over its members' picks.

    A criterion in no family (unknown to this rule) is a family of its own.

    Examples
    --------
    >>> support({"bic": 12, "icl": 12, "calinski_harabasz": 4, "silhouette": 4, "inertia_knee": 4})
    {12: 1.0, 4: 2.0}
    """
    return {k: float(v) for k, v in _votes(picks).items()}


def split_line(picks: dict[str, int | None], answer: int | None = None) -> str:
    """Which criteria picked which k, in one line: the answer first, then the k with most criteria.

    The family vote can pick a k that fewer criteria chose than another; the
    line starts with it so that it reads as the answer and its backers.

    Examples
    --------
    >>> split_line({"bic": 12, "icl": 12, "calinski_harabasz": 4, "gap": None})
    '12 (bic, icl), 4 (calinski_harabasz)'
    >>> split_line({"bic": 12, "icl": 12, "calinski_harabasz": 4, "gap": None}, answer=4)
    '4 (calinski_harabasz), 12 (bic, icl)'
    """
    by_k: dict[int, list[str]] = defaultdict(list)
    for name, k in picks.items():
        if k is not None:
            by_k[k].append(name)
    ordered = sorted(by_k.items(), key=lambda kv: (kv[0] != answer, -len(kv[1]), kv[0]))
    return ", ".join(f"{k} ({', '.join(names)})" for k, names in ordered)


def _null_tests(made: dict[str, int]) -> dict[str, list[str]]:
    """The null tests with a pick, by family (the BIC standing in for a missing ICL)."""
    found = {family: [name for name in names if name in made] for family, names in NULL_TESTS.items()}
    if "icl" not in made and "bic" in made:
        found["mixture"] = ["bic"]
    return {family: names for family, names in found.items() if names}


def no_structure(picks: dict[str, int]) -> list[str]:
    """The null tests that say "one cluster", when their families' votes for it are a majority; else ``[]``.

    Each family of :data:`NULL_TESTS` with a pick has one vote, split over its members.

    Examples
    --------
    >>> no_structure({"icl": 1, "gap": 1, "prediction_strength": 3, "calinski_harabasz": 4})
    ['icl', 'gap']
    >>> no_structure({"icl": 6, "gap": 1, "prediction_strength": 1, "calinski_harabasz": 6})
    []
    """
    tests = _null_tests(picks)
    ones = sum(sum(picks[n] == 1 for n in names) / len(names) for names in tests.values())
    said = [name for name in _flat(tests) if picks[name] == 1]
    return said if 2 * ones > len(tests) else []


def _flat(tests: dict[str, list[str]]) -> list[str]:
    return [name for names in tests.values() for name in names]


def _order(name: str) -> int:
    return TIE_ORDER.index(name) if name in TIE_ORDER else len(TIE_ORDER)


def _edges(ks: list[int], capped: bool) -> dict[str, int]:
    """The k whose pick is a bound, by end: the largest tried (unless ``capped``; one k tried
    above 1 too, as it was compared with one cluster at most), the smallest when above 2."""
    edges = {"top": ks[-1]} if ks[-1] > 1 and not capped else {}
    if len(ks) > 1 and ks[0] > 2:
        edges["bottom"] = ks[0]
    return edges


def _widen(edge: str, best: int, ks: list[int]) -> str:
    """Why an answer at an end is a bound, and the range to try instead.

    Past the top: up to twice the bound (from 2 when one k was tried), a sweep
    as wide again; a convention, not a measured choice.  Below the bottom: from 2.
    """
    if edge == "top":
        start = ks[0] if len(ks) > 1 else min(ks[0], 2)
        return f"k = {best} is the largest k tried, so it is a lower bound, not an answer; try k=range({start}, {2 * best + 1})"
    return f"k = {best} is the smallest k tried, so it is an upper bound, not an answer; try k=range(2, {ks[-1] + 1})"


def _vote(inner: dict[str, int], edges: Iterable[int]) -> tuple[int, dict[int, Fraction]]:
    """The family vote over picks above 1 (see :func:`decide`, step 2 and 3)."""
    edges = tuple(edges)
    votes = _votes(inner)
    cast = sum(votes.values())
    for edge in edges:
        if 2 * votes.get(edge, 0) > cast:
            return edge, votes
    interior = {name: k for name, k in inner.items() if k not in edges} or inner
    votes = {k: v for k, v in votes.items() if k in interior.values()}  # a bound's share is not handed on
    most_votes = max(votes.values())
    tied = [k for k, v in votes.items() if v == most_votes]
    count = {k: sum(v == k for v in inner.values()) for k in tied}
    most = max(count.values())
    backers = sorted((name for name, k in interior.items() if count.get(k) == most), key=_order)
    return interior[backers[0]], votes


def decide(
    picks: dict[str, int | None],
    ks: list[int],
    *,
    pick_reasons: dict[str, str] | None = None,
    constant: bool = False,
    capped: bool = False,
) -> Decision:
    """One k from the criteria's picks: a test for structure, then a vote of families.

    1. **No structure**: ``best_k`` is 1 when the null tests' families vote
       for it (see :func:`no_structure`: the ICL, or the BIC without it, and
       one of the gap statistic and prediction strength).  Otherwise a pick of
       1 abstains.
    2. **The vote**: each family (mixture, partition, knee, reference,
       stability) has one vote, split evenly over its members' picks.  A pick
       at the largest k tried (or at the smallest, when above 2) is a bound,
       not a k: when such bounds hold more than half of the votes, that end of
       the range is the answer (reported as a bound); otherwise they abstain,
       and their share of their family's vote is not handed to the members
       that found a k (criteria that fail alike: one led to the edge makes the
       others suspect).  The range cut at the number
       of distinct points (``capped``) has no top bound.
    3. The k with most votes wins.  A tie goes to the k that more criteria
       picked, then to the k of the criterion first in :data:`TIE_ORDER`
       (Calinski-Harabasz, then the mixture).
    4. ``agreement`` is the share of the criteria with a pick that chose
       ``best_k``; ``confidence`` is ``"high"`` when they all did (for "no
       structure": every null test) or it has three quarters of the votes,
       ``"medium"`` when it has a majority of the votes, ``"low"``
       otherwise or at an end of the range.
       An answer at an end of the range is a bound: ``edge`` says which, and
       ``reason`` suggests the range to try.  One k tried above 1 is a bound
       too (``"top"``): the criteria compared it with one cluster at most.
       When the criteria disagree,
       ``split`` says which picked what, in one line.

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
    >>> decide({"bic": 4, "icl": 1, "gap": 1, "calinski_harabasz": 14, "prediction_strength": 1}, list(range(2, 15))).best_k
    1
    >>> picks = {"bic": 13, "icl": 13, "calinski_harabasz": 6, "silhouette": 6, "inertia_knee": 6, "gap": 6}
    >>> decide(picks, list(range(2, 15))).best_k
    6
    """
    if constant:
        return Decision(1, 1.0, "high", "X is constant: every point is the same, so there is one cluster")
    made = {name: k for name, k in picks.items() if k is not None}
    if not made:
        why = "; ".join(sorted(set((pick_reasons or {}).values()))) or "no criterion picked a k"
        return Decision(None, 0.0, "low", why)
    said = no_structure(made)
    inner = {name: k for name, k in made.items() if k != 1}
    edges = _edges(ks, capped)
    if said:
        best, votes = 1, {1: Fraction(1)}
    elif not inner:
        return Decision(None, 0.0, "low", f"the criteria found no k above 1: {made}")
    else:
        best, votes = _vote(inner, edges.values())
    cast = sum(votes.values())
    agreement = sum(k == best for k in made.values()) / len(made)
    unanimous = all(k == best for k in made.values()) or (best == 1 and said == _flat(_null_tests(made)))
    backing = votes.get(best, Fraction(0))
    confidence = "high" if unanimous or 4 * backing >= 3 * cast else "medium" if 2 * backing > cast else "low"
    notes = []
    edge = next((end for end, k in edges.items() if k == best), None) if best != 1 else None
    if best == 1:
        notes.append(
            f"no cluster structure: {' and '.join([', '.join(said[:-1]), said[-1]] if said[:-1] else said)} "
            f"find{'s' * (len(said) == 1)} no k better than one cluster"
        )
    elif edge:
        notes.append(f"the best k is at the edge of the range you gave: {_widen(edge, best, ks)}")
    if edge:
        confidence = "low"
    split = None if all(k == best for k in made.values()) else split_line(picks, best)
    if split:
        notes.append(f"the criteria split: {split}")
    return Decision(best, agreement, confidence, "; ".join(notes) or None, edge, split)

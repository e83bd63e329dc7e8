"""How ``choose_k`` turns the criteria's picks into one answer.

(The rule is documented on :func:`decide`.)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

__all__ = ["Decision", "decide"]


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
) -> Decision:
    """One k from the criteria's picks.

    Examples
    --------
    >>> decide({"gap": 3, "calinski_harabasz": 3, "silhouette": 2}, [2, 3, 4, 5]).best_k
    3
    """
    if constant:
        return Decision(1, 1.0, "high", "X is constant: every point is the same, so there is one cluster")
    made = {name: k for name, k in picks.items() if k is not None}
    if not made:
        why = "; ".join(sorted(set((pick_reasons or {}).values()))) or "no criterion picked a k"
        return Decision(None, 0.0, "low", why)
    if len(made) == 1:
        ((name, best),) = made.items()
        return _finish(best, 1.0, ks, made, name)
    if made.get("gap") == 1:
        return _finish(1, sum(k == 1 for k in made.values()) / len(made), ks, made, "gap")
    counted = Counter(made.values())
    top = max(counted.values())
    winners = [k for k, c in counted.items() if c == top]
    best = made.get("calinski_harabasz") if made.get("calinski_harabasz") in winners else min(winners)
    assert best is not None
    return _finish(best, top / len(made), ks, made, "plurality")


def _finish(best: int, agreement: float, ks: list[int], made: dict[str, int], how: str) -> Decision:
    notes = []
    confidence = "high" if agreement >= 0.75 else "medium" if agreement >= 0.5 else "low"
    if best == 1:
        notes.append("no cluster structure: the gap statistic finds no k better than one cluster")
    elif len(ks) > 1 and best == ks[-1]:
        notes.append(f"k = {best} is the largest k tried: widen the range upwards (e.g. k=range({ks[0]}, {2 * best + 1}))")
        confidence = "low"
    elif len(ks) > 1 and best == ks[0] and best > 2:
        notes.append(f"k = {best} is the smallest k tried: widen the range downwards (e.g. k=range(2, {ks[-1] + 1}))")
        confidence = "low"
    if confidence != "high" and best != 1:
        others = ", ".join(f"{name}={k}" for name, k in made.items() if k != best)
        notes.append(f"only {agreement:.0%} of the criteria agree (others: {others})")
    return Decision(best, agreement, confidence, "; ".join(notes) or None)

"""Timing several ways of doing one workload in turns, so that a shared machine's changing speed hits them alike."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["in_turns"]


def in_turns(
    ways: Mapping[str, Callable[[], Any]], rounds: int, *, few: Mapping[str, int] | None = None, per_turn: int = 1
) -> dict[str, list[float]]:
    """Seconds of each way, ``per_turn`` runs per round for ``rounds`` rounds, the order rotating each round.

    A machine shared with other work runs faster in some minutes than in
    others.  Timing each way in one block of repeats hands those minutes to
    whichever way ran then; taking turns gives every way its share of them,
    and rotating the order gives no way a fixed place after another (the
    first of a round finds caches and cores as the last one left them).
    A way that takes about a millisecond runs several times per turn, and
    the median of its runs leaves out the first one, which finds the machine
    as the way before left it (other processes' workers just done, caches
    cold): with one run per turn the 3-item call measured about twice its
    time in blocks, for every tool alike.

    Parameters
    ----------
    ways : mapping of str to callable
        What to time, by name; each is called with no arguments.
    rounds : int
        Rounds; every way runs once per round.
    few : mapping of str to int, optional
        Ways that run only in the first so many rounds (a slow way that is
        not the target).
    per_turn : int, default=1
        Runs of a way in each of its turns.

    Returns
    -------
    dict of str to list of float
        Each way's seconds, ``per_turn`` per round it ran in.

    Examples
    --------
    >>> runs = in_turns({"a": lambda: None, "b": lambda: None}, 3, few={"b": 1}, per_turn=2)
    >>> {way: len(seconds) for way, seconds in runs.items()}
    {'a': 6, 'b': 2}
    """
    few = few or {}
    names = list(ways)
    runs: dict[str, list[float]] = {way: [] for way in names}
    for r in range(rounds):
        shift = r % len(names) if names else 0
        for way in names[shift:] + names[:shift]:
            if r >= few.get(way, rounds):
                continue
            run, seconds = ways[way], runs[way]
            for _ in range(per_turn):
                began = time.perf_counter()
                run()
                seconds.append(time.perf_counter() - began)
    return runs

"""The benchmark and demo workloads, and the hand-written recipe they are compared with.

They live in the package (not in ``__main__``) so worker processes import them by
reference.  Every workload is deterministic: the same input costs the same work
in every run, so timings of sequential, recipe and ``pmap`` runs compare fairly.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from joblib import Parallel, delayed

__all__ = ["bogosort", "skewed_work", "spin", "trivial", "nap", "uniform_data", "skewed_data", "recipe"]


def bogosort(row: Any) -> list[int]:
    """Sort ``row`` by shuffling until sorted (about ``len(row)!`` shuffles).

    The shuffles are seeded from the row's content, so a row always costs the
    same number of shuffles wherever it runs.

    Parameters
    ----------
    row : sequence of int

    Returns
    -------
    list of int
        The sorted row.

    Examples
    --------
    >>> bogosort([3, 1, 2])
    [1, 2, 3]
    """
    items = [int(v) for v in row]
    rng = random.Random(",".join(map(str, items)))
    while any(a > b for a, b in itertools.pairwise(items)):
        rng.shuffle(items)
    return items


def skewed_work(i: int, unit: int = 4000) -> int:
    """A busy loop whose cost grows linearly with ``i`` (``unit * i`` steps).

    Examples
    --------
    >>> skewed_work(3, unit=2)
    15
    """
    total = 0
    for k in range(int(i) * unit):
        total += k
    return total


def spin(n: int) -> int:
    """``n`` steps of a Python loop: CPU work counted in steps, not in seconds (``spin(300)`` is about 7 us).

    Unlike a busy wait on the clock, an item that loses its core to another
    process (the kernel's own threads, say) takes longer, as real work does.

    Examples
    --------
    >>> spin(4)
    6
    """
    total = 0
    for k in range(int(n)):
        total += k
    return total


def trivial(x: Any) -> Any:
    """Almost no work: ``x + 1``.

    Examples
    --------
    >>> trivial(1)
    2
    """
    return x + 1


def nap(x: Any, seconds: float = 0.01) -> Any:
    """Sleep ``seconds`` (10 ms) and return ``x``: an item that costs no CPU, so dispatch is all a pool does.

    Examples
    --------
    >>> nap(3, 0.0)
    3
    """
    time.sleep(seconds)
    return x


def uniform_data(n_rows: int = 400, width: int = 7, seed: int = 0) -> np.ndarray:
    """``n_rows`` random rows of ``width`` distinct ints (bogosort input).

    Examples
    --------
    >>> uniform_data(2, 3).shape
    (2, 3)
    """
    rng = np.random.default_rng(seed)
    return np.array([rng.permutation(width) for _ in range(n_rows)])


def skewed_data(n_items: int = 200) -> list[int]:
    """Item indices ``0 .. n_items-1``; item ``i`` costs ``i`` units.

    Examples
    --------
    >>> skewed_data(3)
    [0, 1, 2]
    """
    return list(range(n_items))


def _apply(func: Callable[[Any], Any], part: Any) -> list[Any]:
    return [func(x) for x in part]


def recipe(func: Callable[[Any], Any], data: Any, n_jobs: int) -> list[Any]:
    """The hand-written notebook recipe: ``np.array_split`` + ``Parallel`` + concatenation.

    Parameters
    ----------
    func : callable
        Applied to each item.
    data : array-like
        The items.
    n_jobs : int
        Pieces and workers.

    Returns
    -------
    list

    Examples
    --------
    >>> recipe(trivial, [1, 2, 3], n_jobs=1) == [2, 3, 4]
    True
    """
    parts = np.array_split(np.asarray(data), n_jobs)
    results = Parallel(n_jobs=n_jobs)(delayed(_apply)(func, p) for p in parts)
    return list(itertools.chain.from_iterable(results))

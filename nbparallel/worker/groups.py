"""What a worker runs on a chunk of whole groups (:func:`nbparallel.pmap_groups`).

Kept apart from the kernel's side (:mod:`nbparallel.groups`), so a worker that
runs groups imports only what it needs.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from ..data.groups import applied_object
from .run import seed_item

__all__ = ["ApplyGroups", "SeedPerGroup"]


def _runs(ids: np.ndarray) -> list[tuple[int, int, int]]:
    """``(group id, start, stop)`` of each run of equal ids (a chunk's groups are contiguous)."""
    if not len(ids):
        return []
    cuts = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    edges = [0, *cuts.tolist(), len(ids)]
    return [(int(ids[a]), a, b) for a, b in itertools.pairwise(edges)]


def _named(group: Any, name: Any) -> Any:
    """``group`` with its key as ``.name``, as pandas' own ``apply`` gives it."""
    object.__setattr__(group, "name", name)
    return group


class SeedPerGroup:
    """``func`` with the random generators seeded for each group by the group's number, not by chunk.

    The number is the group's place in the library's own group order, so a seeded
    call gives the same numbers whatever ``n_jobs`` and however groups are packed
    into chunks (as ``nbparallel.seed_item`` does for items).
    """

    def __init__(self, func: Callable[[Any], Any], seed: int | None, ids: list[int]) -> None:
        self.func, self.seed, self.ids = func, seed, iter(ids)

    def __call__(self, group: Any) -> Any:
        if self.seed is not None:
            seed_item(self.seed, next(self.ids))
        return self.func(group)


class ApplyGroups:
    """What each worker runs on a chunk of whole groups: ``(group ids, results, mutated)``.

    ``ids`` holds each row's group number (``-1``: a missing key, which pandas'
    ``groupby`` leaves out).  pandas with ``merge="auto"``: pandas' own
    group-wise apply (the group's ``name`` set, key columns excluded), whose
    results the kernel wraps as ``groupby.apply`` does for the whole frame.
    """

    def __init__(
        self, func: Callable[[Any], Any], by: Any, polars: bool, per_group: bool, seed: int | None, listed: bool = False
    ) -> None:
        self.func = func
        self.by = by  # column name(s); ``None`` when the keys come as more inputs, one array per key
        self.listed = listed  # keys given as a list of arrays (group names are tuples), not one array
        self.polars = polars
        self.per_group = per_group  # the groups as ``iter(groupby)`` gives them instead of pandas' apply
        self.seed = seed
        self.__name__ = getattr(func, "__name__", "pmap_groups")

    def __call__(self, chunk: Any, ids: Any, *keys: Any) -> tuple[list[int], list[Any], bool]:
        runs = [run for run in _runs(np.asarray(ids)) if run[0] >= 0]
        order = [i for i, _, _ in runs]
        func = SeedPerGroup(self.func, self.seed, order)
        if self.polars:
            return order, [func(chunk[a:b]) for _, a, b in runs], False
        key = self.by if not keys else [np.asarray(k) for k in keys] if self.listed else np.asarray(keys[0])
        # groups in layout order, missing keys left out; only the chunk's own (pandas 2.2 would add every
        # category missing from the chunk by default): the kernel runs the groups without rows
        groups = chunk.groupby(key, sort=False, dropna=True, observed=True)
        if self.per_group:
            return order, [func(_named(g, name)) for name, g in groups], False
        values, mutated = groups._grouper.apply_groupwise(func, applied_object(groups))
        return order, values, bool(mutated)

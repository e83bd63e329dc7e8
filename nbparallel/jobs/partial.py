"""What a job that did not finish computed: the merged results of its finished chunks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..data.shared import materialize
from ..worker.task import ChunkOutcome, ChunkTask

__all__ = ["PartialResult", "partial_of", "counts_of"]


@dataclass(frozen=True)
class PartialResult:
    """What finished chunks computed, and which items that covers.

    Attributes
    ----------
    value : object
        The finished chunks' results merged as the full result would be
        (for ``pmap``: the results of the covered items, in order).
    items : list of (int, int)
        ``[start, stop)`` item ranges the value covers.
    missing : list of (int, int)
        Item ranges still missing (failed, cancelled or never run).
    """

    value: Any
    items: list[tuple[int, int]]
    missing: list[tuple[int, int]]

    @property
    def complete(self) -> bool:
        """Whether every item is covered."""
        return not self.missing


def _ranges(bounds: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, stop in sorted(bounds):
        if out and out[-1][1] == start:
            out[-1] = (out[-1][0], stop)
        elif stop > start:
            out.append((start, stop))
    return out


def partial_of(
    tasks: Sequence[ChunkTask], outcomes: dict[int, ChunkOutcome], finalize: Callable[[list[Any]], Any]
) -> PartialResult:
    """The finished chunks' results, merged by ``finalize``, and the item ranges covered and missing."""
    ok = [o for _, o in sorted(outcomes.items()) if o.ok]
    value = finalize(materialize([o.value for o in ok], consume=False)) if ok else None
    covered = {o.index for o in ok}
    missing = _ranges([(t.start, t.stop) for t in tasks if t.index not in covered])
    return PartialResult(value, _ranges([(o.start, o.stop) for o in ok]), missing)


def counts_of(outcomes: list[ChunkOutcome], failed_items: int) -> tuple[int, int, int, int]:
    """Items done, chunks done, chunks failed, items failed (for the progress display)."""
    return (
        sum(o.stop - o.start for o in outcomes if not o.cancelled),
        sum(not o.cancelled for o in outcomes),  # interrupted chunks did not finish
        sum(o.error is not None for o in outcomes),
        failed_items,
    )

"""A hostile read of the small call: each call is as the loop would be, whatever ran before."""

from __future__ import annotations

import copyreg
import threading

import pytest

import nbparallel as nbp


class Locked:
    """Holds a lock: it pickles only through the reducer a test registers with ``copyreg``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()


def _locked() -> Locked:
    return Locked()


def _reduce_locked(_obj: Locked) -> tuple[object, tuple[()]]:
    return _locked, ()


def _kind(x: object) -> str:
    return type(x).__name__


@pytest.mark.parametrize("timeline", [True, False])
def test_a_reducer_registered_with_copyreg_after_a_call_is_used_by_the_next(timeline):
    # The payload's pickler is kept between chunks: a reduction registered since it was made must
    # still be seen (pickle and loky see it; with the timeline off, the code before the small-call
    # change did too).
    previous = nbp.record_timelines(timeline)
    try:
        assert nbp.pmap(_kind, [[1], [2], [3]], n_jobs=2, progress=False) == ["list"] * 3  # the pickler is made
        copyreg.pickle(Locked, _reduce_locked)
        try:
            assert nbp.pmap(_kind, [Locked(), Locked(), Locked()], n_jobs=2, progress=False) == ["Locked"] * 3
        finally:
            copyreg.dispatch_table.pop(Locked, None)
    finally:
        nbp.record_timelines(previous)

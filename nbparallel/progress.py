"""Progress display: one factory picks the front end.

``make_progress`` returns an object with ``update(done_items, done_chunks,
failed_chunks)`` and ``close(status)``.  With ``progress="auto"`` foreground work
that ends within :data:`SHOW_AFTER` seconds shows nothing at all.
"""

from __future__ import annotations

import sys
from typing import Protocol

from tqdm import tqdm

__all__ = ["ProgressSink", "make_progress", "SHOW_AFTER"]

#: Seconds before an ``"auto"`` bar appears; quicker work shows no bar.
SHOW_AFTER = 1.0


class ProgressSink(Protocol):
    def update(self, done_items: int, done_chunks: int, failed_chunks: int) -> None: ...

    def close(self, status: str) -> None: ...


class NoProgress:
    """Shows nothing."""

    def update(self, done_items: int, done_chunks: int, failed_chunks: int) -> None:
        pass

    def close(self, status: str) -> None:
        pass


class TextProgress:
    """A tqdm text bar on stderr counting items, with chunk and failure counts."""

    def __init__(self, total_items: int, total_chunks: int, *, desc: str, delay: float) -> None:
        self.total_chunks = total_chunks
        self.bar = tqdm(
            total=total_items,
            desc=desc,
            unit="item",
            delay=delay,
            file=sys.stderr,
            dynamic_ncols=True,
            leave=True,
        )

    def update(self, done_items: int, done_chunks: int, failed_chunks: int) -> None:
        postfix = f"chunks {done_chunks}/{self.total_chunks}"
        if failed_chunks:
            postfix += f", {failed_chunks} failed"
        self.bar.set_postfix_str(postfix, refresh=False)
        self.bar.update(done_items - self.bar.n)  # honours tqdm's ``delay``

    def close(self, status: str) -> None:
        if status != "done":
            self.bar.set_description_str(f"{self.bar.desc} [{status}]", refresh=False)
        self.bar.close()


def make_progress(
    mode: bool | str | None,
    *,
    total_items: int,
    total_chunks: int,
    desc: str = "nbparallel",
) -> ProgressSink:
    """Pick the progress front end for ``mode``.

    Parameters
    ----------
    mode : bool, {"auto", "tqdm"} or None
        ``False`` shows nothing; ``True``/``"tqdm"`` a bar at once; ``"auto"``
        or ``None`` a bar only once work has run for :data:`SHOW_AFTER` s.
    total_items, total_chunks : int
        What the bar counts up to.
    desc : str, default="nbparallel"
        Label in front of the bar.

    Returns
    -------
    ProgressSink

    Examples
    --------
    >>> sink = make_progress(False, total_items=10, total_chunks=2)
    >>> sink.update(10, 2, 0); sink.close("done")
    """
    if mode is False:
        return NoProgress()
    delay = SHOW_AFTER if mode in (None, "auto") else 0.0
    return TextProgress(total_items, total_chunks, desc=desc, delay=delay)

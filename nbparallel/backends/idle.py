"""A pool that had no work for a while is stopped, by one thread in the kernel.

loky can end each idle worker itself (its executor's ``timeout``), but a
worker that waits for work with a timeout reads every chunk through a
selector: 20 to 40 µs more per round trip, on the path of every call (bare
submits to a pool with and without one, alternated in blocks in one process
on the development machine: without, the faster in about 3 blocks of 4).
nbparallel's workers wait without one; an :class:`IdleStop` stops the whole
pool once it has had no work for its ``after`` seconds, and the next call
starts a new one.  The thread lives as long as its pool.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["IdleStop"]


class IdleStop:
    """Calls ``stop()`` once ``pool`` has had no work for ``after`` seconds.

    Work is what the pool holds (loky's pending work items, checked when the
    time is up) or what a caller reports by setting :attr:`used` to
    :func:`time.monotonic` as it submits.

    Parameters
    ----------
    pool : loky.ProcessPoolExecutor
        The pool watched.
    after : float
        Seconds without work before ``stop`` is called.
    stop : callable
        Stops the pool (called once, from the watching thread).

    Examples
    --------
    >>> from loky import ProcessPoolExecutor
    >>> pool = ProcessPoolExecutor(1)
    >>> stopped = threading.Event()
    >>> watch = IdleStop(pool, 0.05, stopped.set)
    >>> stopped.wait(5)
    True
    >>> pool.shutdown(); watch.thread.join(5)
    """

    def __init__(self, pool: Any, after: float, stop: Callable[[], None]) -> None:
        self.pool = pool
        self.after = after
        self.used = time.monotonic()
        self._stop = stop
        self._ended = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="nbparallel-idle-stop", daemon=True)
        self.thread.start()

    def end(self) -> None:
        """Stop watching (the pool was shut down or replaced)."""
        self._ended.set()

    def _watch(self) -> None:
        while not self._ended.wait(max(0.0, self.used + self.after - time.monotonic())):
            if self.pool._pending_work_items:  # busy now: idleness counts from here
                self.used = time.monotonic()
            elif time.monotonic() - self.used >= self.after:
                self._stop()
                return

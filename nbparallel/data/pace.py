"""What an item of a function cost last time: fewer chunks for calls too cheap to balance.

``pmap`` splits its items into guided chunks (many, shrinking) because it
cannot know what an item costs, and uneven costs need small chunks at the end.
Each chunk costs a round trip to a worker, though (a fraction of a
millisecond), which a call whose items are trivially cheap never earns back.
A notebook runs the same function again and again, so the runtime remembers,
per function, the compute time per item of its last finished call and plans
the next call with it: a call whose whole compute is expected to take less
than :data:`CHEAP_PER_WORKER` seconds per worker gets one chunk per worker
(as ``np.array_split`` would); every other call keeps the guided chunks.  The
first call of a function has no record and gets guided chunks.  joblib's
automatic batch size adapts the same way, from the durations of earlier
batches.

A function is known by its code object (equal for the same source run again
in a new cell) or, without one, by the callable itself.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["CHEAP_PER_WORKER", "remember", "item_cost", "cheap_call"]

#: A call expected to compute less than this many seconds per worker gets one chunk per worker.
CHEAP_PER_WORKER = 0.005

#: Functions remembered (the least recently used is forgotten past this).
KEEP = 256

_lock = threading.Lock()
_costs: collections.OrderedDict[Hashable, float] = collections.OrderedDict()


def _key(func: Callable[..., Any]) -> Hashable | None:
    code = getattr(func, "__code__", None)
    if code is not None:
        return code
    try:
        hash(func)
    except TypeError:
        return None
    return func


def remember(func: Callable[..., Any], seconds: float, n_items: int) -> None:
    """Record that ``n_items`` items of ``func`` took ``seconds`` of compute in the workers.

    Examples
    --------
    >>> def double(x):
    ...     return 2 * x
    >>> remember(double, 0.002, 1000)
    >>> round(item_cost(double) * 1e6, 3)  # microseconds per item
    2.0
    """
    key = _key(func)
    if key is None or n_items <= 0:
        return
    with _lock:
        _costs[key] = seconds / n_items
        _costs.move_to_end(key)
        while len(_costs) > KEEP:
            _costs.popitem(last=False)


def item_cost(func: Callable[..., Any]) -> float | None:
    """Seconds per item of ``func``'s last finished call (``None``: never ran, or not known).

    Examples
    --------
    >>> item_cost(lambda x: x) is None
    True
    """
    key = _key(func)
    if key is None:
        return None
    with _lock:
        return _costs.get(key)


def cheap_call(func: Callable[..., Any], n_items: int, n_workers: int) -> bool:
    """Whether a call of ``func`` on ``n_items`` items is expected to be too cheap to balance.

    Examples
    --------
    >>> def inc(x):
    ...     return x + 1
    >>> cheap_call(inc, 10_000, 2)  # never ran: unknown
    False
    >>> remember(inc, 0.001, 10_000)
    >>> cheap_call(inc, 10_000, 2), cheap_call(inc, 10**9, 2)
    (True, False)
    """
    cost = item_cost(func)
    return cost is not None and cost * n_items < CHEAP_PER_WORKER * max(1, n_workers)

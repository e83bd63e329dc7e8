"""What an item of a function cost last time: fewer chunks for calls too cheap to balance.

``pmap`` splits its items into guided chunks (many, shrinking) because it
cannot know what an item costs, and uneven costs need small chunks at the end.
Each chunk costs a round trip to a worker, though (a fraction of a
millisecond), which a call whose items are trivially cheap never earns back.
A notebook runs the same function again and again, so the runtime remembers,
per function, the compute time per item of its last finished call and plans
the next call with it: a call whose whole compute is expected to take less
than :data:`CHEAP_PER_WORKER` seconds per worker gets one chunk per worker
(as ``np.array_split`` would), and one expected to compute less than
:data:`ONE_CHUNK_BELOW` in all gets a single chunk; every other call keeps the
guided chunks.  The
first call of a function has no record and gets guided chunks.  joblib's
automatic batch size adapts the same way, from the durations of earlier
batches.

**What ran before changes how work is split, never what a user sees.**  A
learned cost is a guess (an item's cost may depend on its data), so it may
only choose a split where nothing the user asked for is promised per chunk.
:func:`learned_bounds` therefore keeps the call's own plan (the split a fresh
process would make) whenever the call has

- a ``timeout`` (it is promised per chunk, and those chunks are the fresh plan's),
- ``retries`` (a failing chunk runs again: which items run again is the fresh plan's),
- a ``cache`` (cached chunks are found by their bounds),
- ``background=True`` or a progress display asked for (``progress=True``,
  ``"widget"``, ``"tqdm"``): their progress steps, ``n_total`` and what a
  Cancel keeps are per chunk.

So a call's result, its exceptions and the meaning of its timeout are the same
whatever ran before it.  Which chunks happen to have finished when a call
fails or is interrupted depends on timing in any process, and is not promised.

A function is known by its code (equal for the same source run again in a new
cell), never by the callable itself: a ``functools.partial``, a bound method
or a callable instance is known by the code it runs, so the table holds none
of the data they captured.
"""

from __future__ import annotations

import collections
import functools
import threading
import types
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from .partition import chunk_bounds

if TYPE_CHECKING:
    from typing import Protocol

    class RunOptions(Protocol):
        """What pace reads of a call's options (:class:`nbparallel.RunOptions` has it; options sit above data)."""

        @property
        def timeout(self) -> float | None: ...
        @property
        def retries(self) -> int: ...
        @property
        def cache(self) -> Any: ...
        @property
        def background(self) -> bool: ...
        @property
        def progress(self) -> Any: ...


__all__ = [
    "CHEAP_PER_WORKER",
    "ONE_CHUNK_BELOW",
    "remember",
    "item_cost",
    "cheap_call",
    "learned_bounds",
    "split_is_free",
    "forget",
]

#: A call expected to compute less than this many seconds per worker gets one chunk per worker.
CHEAP_PER_WORKER = 0.005

#: A call expected to compute less than this many seconds in all runs as one chunk: a second chunk's
#: round trip (a submit, a result, the GIL handed between threads) costs more than it would save.
ONE_CHUNK_BELOW = 0.0002

#: Functions remembered (the least recently used is forgotten past this).
KEEP = 256

_lock = threading.Lock()
_costs: collections.OrderedDict[Hashable, float] = collections.OrderedDict()


def _key(func: Callable[..., Any]) -> Hashable:
    """What names the code ``func`` runs, holding none of the data it captured.

    A code object for Python code (the function's, a partial's or bound
    method's function's, a callable instance's ``__call__``); otherwise names
    (strings): a builtin by its owner's type and its own name.
    """
    if type(func) is types.FunctionType:  # the usual case: a plain function's code
        return func.__code__
    for _ in range(32):  # partials of partials, bounded
        if not isinstance(func, functools.partial):
            break
        func = func.func
    target = getattr(func, "__func__", func)  # a bound method: its function (not its instance)
    code = getattr(target, "__code__", None)
    if isinstance(code, types.CodeType):
        return code
    if not isinstance(func, type) and not isinstance(func, types.BuiltinFunctionType):
        call = type(func).__call__  # a callable instance: its class's method (func is callable)
        code = getattr(call, "__code__", None)
        if isinstance(code, types.CodeType):
            return code
    owner = getattr(func, "__self__", None)  # a builtin method: its owner's type, not the owner
    where = owner.__name__ if isinstance(owner, types.ModuleType) else type(owner).__qualname__
    name = getattr(func, "__qualname__", None)
    if not isinstance(name, str):
        name = type(func).__qualname__
    module = getattr(func, "__module__", None)
    return ("named", module if isinstance(module, str) else type(func).__module__, where, name)


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
    if n_items <= 0:
        return
    key = _key(func)
    with _lock:
        _costs[key] = seconds / n_items
        _costs.move_to_end(key)
        while len(_costs) > KEEP:
            _costs.popitem(last=False)


def forget() -> None:
    """Forget every remembered cost (the next call of each function plans as in a fresh process).

    Examples
    --------
    >>> remember(abs, 1.0, 1); forget(); item_cost(abs) is None
    True
    """
    with _lock:
        _costs.clear()


def item_cost(func: Callable[..., Any]) -> float | None:
    """Seconds per item of ``func``'s last finished call (``None``: never ran, or not known).

    Examples
    --------
    >>> item_cost(lambda x: x) is None
    True
    """
    key = _key(func)
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
    return _cheap(item_cost(func), n_items, n_workers)


def _cheap(cost: float | None, n_items: int, n_workers: int) -> bool:
    return cost is not None and cost * n_items < CHEAP_PER_WORKER * max(1, n_workers)


def split_is_free(options: RunOptions) -> bool:
    """Whether nothing the call asked for is promised per chunk, so what ran before may choose its split.

    ``options`` are resolved (``progress`` filled in from the configuration).

    Examples
    --------
    >>> from nbparallel.options import RunOptions
    >>> split_is_free(RunOptions(progress=False)), split_is_free(RunOptions(progress=False, timeout=1.0))
    (True, False)
    """
    return (
        options.timeout is None
        and not options.retries
        and options.cache is None
        and not options.background
        and (options.progress is False or options.progress == "auto")  # no display asked for (auto: past a second)
    )


def learned_bounds(
    func: Callable[..., Any], n_items: int, n_workers: int, options: RunOptions
) -> list[tuple[int, int]] | None:
    """One chunk per worker for a call of ``func`` learned to be too cheap to balance, else ``None``.

    ``None`` (keep the call's own plan) when ``func`` has no cost on record,
    when its last cost says this call is worth balancing, or when the split
    can show (:func:`split_is_free`).

    Examples
    --------
    >>> from nbparallel.options import RunOptions
    >>> def halve(x):
    ...     return x / 2
    >>> remember(halve, 0.0001, 1000)  # 0.1 us an item
    >>> learned_bounds(halve, 10_000, 2, RunOptions(progress=False))  # 1 ms in all: one chunk per worker
    [(0, 5000), (5000, 10000)]
    >>> learned_bounds(halve, 10, 2, RunOptions(progress=False))  # 1 us in all: one chunk
    [(0, 10)]
    >>> learned_bounds(halve, 0, 2, RunOptions(progress=False))
    [(0, 0)]
    >>> learned_bounds(halve, 10, 2, RunOptions(progress=False, timeout=1.0)) is None
    True
    """
    if not split_is_free(options):
        return None
    cost = item_cost(func)
    if not _cheap(cost, n_items, n_workers):
        return None
    if cost is not None and cost * n_items < ONE_CHUNK_BELOW:  # parallel would save less than a round trip
        return [(0, n_items)]  # chunk_bounds(n_items, 1), without checking a 1 it knows
    return chunk_bounds(n_items, max(1, n_workers))

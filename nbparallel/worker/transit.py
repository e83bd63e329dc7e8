"""Timing a chunk's trip to a worker process: how long its inputs took to pickle and unpickle, and their size.

A backend that sends a chunk to another process wraps its payload in
:class:`Shipped`.  When the executor pickles the chunk (in the kernel, in the
executor's own thread), ``Shipped`` pickles the payload first, timing it and
counting its bytes; the worker unpickles it into an :class:`Arrived`, timing
that too.  The cost is one more pickle frame per chunk, never a step per item.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["Shipped", "Arrived", "unwrap"]


class Shipped:
    """A chunk's payload on its way to a worker process; pickles into an :class:`Arrived`.

    Parameters
    ----------
    payload : object
        The chunk's data.
    dumps : callable
        How to pickle it (``bytes``): loky's pickler for local workers (shared
        arrays travel as references), cloudpickle for a cluster.

    Examples
    --------
    >>> import pickle
    >>> arrived = pickle.loads(pickle.dumps(Shipped([1, 2, 3], pickle.dumps)))
    >>> arrived.payload, arrived.nbytes > 0, arrived.recv_s >= 0
    ([1, 2, 3], True, True)
    """

    __slots__ = ("dumps", "payload")

    def __init__(self, payload: Any, dumps: Callable[[Any], bytes]) -> None:
        self.payload = payload
        self.dumps = dumps

    def __reduce__(self) -> tuple[Any, ...]:
        began = time.time()
        data = self.dumps(self.payload)
        return (_arrive, (data, time.time() - began))


class Arrived:
    """A payload unpickled in a worker: the data, the seconds it took both ways, its size."""

    __slots__ = ("nbytes", "payload", "recv_s", "unpickle_s")

    def __init__(self, payload: Any, recv_s: float, nbytes: int, unpickle_s: float) -> None:
        self.payload = payload
        self.recv_s = recv_s  # pickling in the kernel + unpickling here
        self.nbytes = nbytes
        self.unpickle_s = unpickle_s  # the worker's own share


def _arrive(data: bytes, pickled_s: float) -> Arrived:
    import pickle

    began = time.time()
    payload = pickle.loads(data)
    unpickle_s = time.time() - began
    return Arrived(payload, pickled_s + unpickle_s, len(data), unpickle_s)


def unwrap(payload: Any) -> tuple[Any, Arrived | None]:
    """The chunk's data, and how it arrived (``None``: it was not shipped, say on threads).

    Examples
    --------
    >>> unwrap([1, 2])
    ([1, 2], None)
    >>> unwrap(Shipped([1, 2], repr))[0]  # not pickled (a thread backend): as it was
    [1, 2]
    """
    if isinstance(payload, Arrived):
        return payload.payload, payload
    if isinstance(payload, Shipped):
        return payload.payload, None
    return payload, None

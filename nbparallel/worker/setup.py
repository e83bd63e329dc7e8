"""``@per_worker``: a zero-argument setup computed once per worker process, then reused.

A :class:`PerWorker` wraps the setup function.  When the user's function (or a
``%%parallel`` body) that calls it is shipped to worker processes, the wrapper
travels as the setup's pickle and its content hash — the same kind of key as
shipped functions get (:func:`~nbparallel.backends.shipping.pack`): the setup's
code, and the globals and closure values it reads.  Each process keeps the
values it computed by that key, so later chunks and later calls reuse them;
a changed setup (or a global it reads) gives another key and runs again.

In the kernel process (the threading backend, ``n_jobs=1``) the key is looked
at again once per parallel call, so the value is also computed once per
process.  A setup that raises is not remembered: the chunks that needed it
fail with its own traceback, and the next chunk or call tries again.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import itertools
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["PerWorker", "per_worker", "new_call", "KEEP_VALUES"]

T = TypeVar("T")

#: Setup values a process keeps (the least recently used one is dropped past this).
KEEP_VALUES = 16

_values: collections.OrderedDict[str, Any] = collections.OrderedDict()
_key_locks: dict[str, threading.Lock] = {}
_lock = threading.Lock()
_calls = itertools.count(1)
_generation = 0


def new_call() -> None:
    """A parallel call starts in this process: setups look at their code and globals again."""
    global _generation
    _generation = next(_calls)


def _key_of(func: Callable[[], Any]) -> tuple[str, bytes]:
    import cloudpickle

    blob = cloudpickle.dumps(func, protocol=5)
    return hashlib.blake2b(blob, digest_size=16).hexdigest(), blob


def _value(key: str, compute: Callable[[], Any]) -> Any:
    """The value under ``key`` in this process, computed once (one thread computes, others wait)."""
    with _lock:
        if key in _values:
            _values.move_to_end(key)
            return _values[key]
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:
        with _lock:
            if key in _values:
                return _values[key]
        value = compute()  # raises: nothing is kept, the next caller tries again
        with _lock:
            _values[key] = value
            while len(_values) > KEEP_VALUES:
                old, _ = _values.popitem(last=False)
                _key_locks.pop(old, None)
        return value


class PerWorker(Generic[T]):
    """A setup function whose value each process computes once (see :func:`per_worker`)."""

    def __init__(self, func: Callable[[], T] | None, *, key: str | None = None, blob: bytes | None = None) -> None:
        self._func = func
        self._key = key
        self._blob = blob
        self._generation = -1
        self._fixed = func is None  # shipped to a worker: its key is the kernel's, never recomputed here
        if func is not None:
            functools.update_wrapper(self, func)

    @property
    def key(self) -> str:
        """The content hash the value is kept under (code and what it reads)."""
        if not self._fixed and (self._key is None or self._generation != _generation):
            assert self._func is not None
            self._key, self._blob = _key_of(self._func)
            self._generation = _generation
        assert self._key is not None
        return self._key

    def _setup(self) -> Callable[[], T]:
        if self._func is None:
            import cloudpickle

            assert self._blob is not None
            self._func = cloudpickle.loads(self._blob)
        return self._func

    def __call__(self) -> T:
        return _value(self.key, lambda: self._setup()())

    def __reduce__(self) -> tuple[Any, ...]:
        key = self.key  # what the workers key the value by (the kernel's hash of the setup)
        return (_shipped, (key, self._blob))

    def __repr__(self) -> str:
        name = getattr(self._func, "__qualname__", "setup")
        return f"<nbparallel.per_worker {name} key={self._key and self._key[:8]}>"


def _shipped(key: str, blob: bytes) -> PerWorker[Any]:
    """The setup as a worker receives it: its key, and its pickle (loaded only if needed)."""
    return PerWorker(None, key=key, blob=blob)


def per_worker(func: Callable[[], T]) -> PerWorker[T]:
    """Decorate a zero-argument setup whose result each worker process computes once.

    Calling the decorated function returns the value this process computed
    for it, computing it the first time.  Values are kept across chunks and
    across calls as long as the setup's code and the globals it reads are
    unchanged; typical uses are loading a model, opening a database
    connection or reading a big lookup table.  It works in ``%%parallel``
    bodies; on the threading backend and with ``n_jobs=1`` it runs once in the
    kernel process.  A setup that raises fails the chunks that called it, with
    its own traceback, and is tried again by the next chunk or call.

    Parameters
    ----------
    func : callable
        A function of no arguments.

    Returns
    -------
    PerWorker
        Call it (``model()``) inside the function you pass to ``pmap``.

    Raises
    ------
    TypeError
        If ``func`` is not callable.

    Examples
    --------
    >>> import nbparallel as nbp
    >>> @nbp.per_worker
    ... def table():
    ...     return {i: i * i for i in range(100)}
    >>> nbp.pmap(lambda x: table()[x], [3, 4], n_jobs=1, progress=False)
    [9, 16]
    >>> table() is table()
    True
    """
    if not callable(func):
        raise TypeError(f"per_worker decorates a function of no arguments, got {type(func).__name__}: {func!r}")
    return PerWorker(func)

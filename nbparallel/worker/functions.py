"""Functions shipped once: a worker keeps the functions it has unpickled, by content hash.

The kernel pickles the user's function (with what it closes over and the
globals it reads) once per call and names the pickle by its hash
(:class:`PackedFunction`).  A worker unpickles a given hash once and keeps the
function in a small LRU cache; later chunks and calls with the same hash reuse
it.  A changed function or global gives another hash, so stale code never runs.
Large arrays the function reads arrive as memory-mapped files
(:func:`open_shared_array`), once per content.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["PackedFunction", "resolve", "unpickled", "open_shared_array", "CACHE_SIZE"]

#: Functions a worker keeps unpickled.
CACHE_SIZE = 16


@dataclass(frozen=True)
class PackedFunction:
    """A pickled function and its content hash; the pickle is inline or in a file."""

    key: str
    blob: bytes | None = None
    path: str | None = None
    label: str = ""

    def load(self) -> Any:
        """Unpickle the function (in the worker)."""
        import cloudpickle

        if self.blob is not None:
            return cloudpickle.loads(self.blob)
        assert self.path is not None
        with open(self.path, "rb") as fh:
            return cloudpickle.load(fh)


_functions: collections.OrderedDict[str, Any] = collections.OrderedDict()
_lock = threading.Lock()


def resolve(func: Any) -> Any:
    """The callable for ``func``: unpickled once per hash and process, then reused.

    Examples
    --------
    >>> import cloudpickle
    >>> packed = PackedFunction("k1", cloudpickle.dumps(abs))
    >>> resolve(packed)(-3), resolve(packed) is resolve(packed)
    (3, True)
    """
    if not isinstance(func, PackedFunction):
        return func
    hit = unpickled(func.key)
    if hit is not None:
        return hit
    loaded = func.load()
    with _lock:
        _functions[func.key] = loaded
        while len(_functions) > CACHE_SIZE:
            _functions.popitem(last=False)
    return loaded


def unpickled(key: str) -> Any:
    """The function this process unpickled for ``key``, if it still keeps it (else ``None``).

    Examples
    --------
    >>> import cloudpickle
    >>> unpickled("k2") is None
    True
    >>> resolve(PackedFunction("k2", cloudpickle.dumps(abs))) is unpickled("k2")
    True
    """
    with _lock:
        hit = _functions.get(key)
        if hit is not None:
            _functions.move_to_end(key)  # the most recently used
        return hit


_arrays: dict[str, np.ndarray] = {}


def open_shared_array(path: str, fingerprint: str) -> np.ndarray:
    """A large global array shipped as a file: opened copy-on-write, once per content and process.

    Copy-on-write, as after a ``fork``: a function that changes the array in a
    worker changes only that worker's copy.
    """
    array = _arrays.get(fingerprint)
    if array is None:
        array = _arrays[fingerprint] = np.load(path, mmap_mode="c")
        if len(_arrays) > CACHE_SIZE:
            _arrays.pop(next(iter(_arrays)))
    return array

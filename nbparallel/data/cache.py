"""Checkpoints of finished chunks on disk, so a re-run computes only what is missing.

An entry is keyed by the function's *code* (not its name: notebook functions are
re-created by every cell run, and joblib.Memory keys them by a source file they
do not have), the values it closes over, the chunk's data and the options that
change results (mode, seed).  Editing the function changes its key, so its old
entries are no longer used.  Entries are written atomically; a corrupted or
truncated one is deleted and recomputed, never an error.
"""

from __future__ import annotations

import functools
import logging
import os
import pickle
import tempfile
import types
from collections.abc import Sequence
from typing import Any

import joblib

from ..worker.task import ChunkOutcome, ChunkTask

__all__ = ["ChunkCache", "function_key", "value_key"]

log = logging.getLogger("nbparallel")


def _code_key(code: types.CodeType) -> tuple[Any, ...]:
    consts = tuple(_code_key(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts)
    return (code.co_code, consts, code.co_names, code.co_varnames, code.co_freevars)


def value_key(value: Any) -> str:
    """joblib's hash of ``value``, or of its repr when joblib cannot hash it."""
    try:
        return joblib.hash(value)
    except Exception:
        return joblib.hash(repr(value))


def function_key(func: Any) -> str:
    """A hash of what a callable computes: its code, defaults and closure values.

    Examples
    --------
    >>> function_key(lambda x: x + 1) == function_key(lambda x: x + 1)
    True
    >>> function_key(lambda x: x + 1) == function_key(lambda x: x + 2)
    False
    """
    own = getattr(func, "__nbparallel_cache_key__", None)
    if own is not None:  # objects that know what they compute (a %%parallel cell body)
        return value_key(own())
    if isinstance(func, functools.partial):
        return value_key(("partial", function_key(func.func), value_key(func.args), value_key(func.keywords)))
    code = getattr(func, "__code__", None)
    if code is not None:
        closure = tuple(value_key(c.cell_contents) for c in (func.__closure__ or ()))
        return value_key(
            (
                getattr(func, "__module__", None),
                getattr(func, "__qualname__", None),
                _code_key(code),
                value_key(getattr(func, "__defaults__", None)),
                value_key(getattr(func, "__kwdefaults__", None)),
                closure,
            )
        )
    try:
        import cloudpickle

        return value_key(cloudpickle.dumps(func))
    except Exception:
        return value_key(repr(func))


class ChunkCache:
    """One folder of chunk results for one function.

    Parameters
    ----------
    location : str, os.PathLike or joblib.Memory
        Folder of the cache (created if missing); a ``joblib.Memory`` uses its
        ``location``.
    func : callable
        Whose results are stored.
    options : tuple
        Anything else that changes results (mode, seed).
    """

    def __init__(self, location: Any, func: Any, options: tuple[Any, ...] = ()) -> None:
        if isinstance(location, joblib.Memory):
            if location.location is None:
                raise ValueError("cache=joblib.Memory(None) stores nothing; give it a folder")
            location = location.location
        if not isinstance(location, (str, os.PathLike)):
            raise TypeError(f"cache must be a folder path or a joblib.Memory, got {type(location).__name__}")
        self.folder = os.path.join(os.fspath(location), "nbparallel", function_key(func))
        os.makedirs(self.folder, exist_ok=True)
        self._options = value_key(options)

    def key(self, payload: Any) -> str:
        """The entry name for one chunk's data."""
        return value_key((self._options, joblib.hash(payload)))

    def _path(self, key: str) -> str:
        return os.path.join(self.folder, key + ".pkl")

    def get(self, key: str) -> tuple[bool, Any]:
        """``(True, value)`` for a stored chunk, ``(False, None)`` otherwise."""
        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                return True, pickle.load(fh)
        except FileNotFoundError:
            return False, None
        except Exception as exc:
            log.warning("cache entry %s is unreadable (%s: %s); recomputing it", path, type(exc).__name__, exc)
            try:
                os.remove(path)
            except OSError:
                pass
            return False, None

    def lookup(self, tasks: Sequence[ChunkTask]) -> tuple[list[ChunkOutcome], dict[int, str]]:
        """The outcomes of the ``tasks`` stored here, and every task's entry name (to store the rest)."""
        keys, hits = {}, []
        for task in tasks:
            keys[task.index] = key = self.key(task.payload)
            hit, value = self.get(key)
            if hit:
                hits.append(ChunkOutcome(task.index, task.start, task.stop, value=value))
        return hits, keys

    def put(self, key: str, value: Any) -> None:
        """Store a chunk's value atomically (a crash leaves no half-written entry)."""
        try:
            import cloudpickle

            data = cloudpickle.dumps(value)
        except Exception as exc:
            log.warning("chunk result not cached: it cannot be pickled (%s)", exc)
            return
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, self._path(key))
        except OSError as exc:
            log.warning("could not write cache entry: %s", exc)
            try:
                os.remove(tmp)
            except OSError:
                pass

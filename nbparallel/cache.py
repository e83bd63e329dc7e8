"""Checkpoints of finished chunks on disk, so a re-run computes only what is missing.

An entry is keyed by what the function computes (its code, closure, defaults and
the globals it reads, hashed as it is shipped to workers; not its name or cell:
notebook functions are re-created by every cell run), the chunk's data and the
options that change results (the call's shape: per item or per chunk, one input or
several zipped; the seed).  Editing the function or a global it
reads changes its key.  Entries are written atomically with a checksum; an entry
that fails its checksum or is not what the chunk returns (a ``pmap`` chunk is a
list of the chunk's length) is deleted with a warning and recomputed, never an
error.  Folders are made private (0700): loading a pickle runs code.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import stat
import tempfile
import warnings
from collections.abc import Sequence
from typing import Any

import joblib

from .data.shared import SharedArray
from .worker.task import ChunkOutcome, ChunkTask

#: Every entry starts with this, then the blake2b digest of the pickle that follows.
MAGIC = b"NBPCACHE1\n"
DIGEST = 16

__all__ = ["ChunkCache", "function_key", "value_key"]

log = logging.getLogger("nbparallel")


def value_key(value: Any) -> str:
    """joblib's hash of ``value``, or of its repr when joblib cannot hash it."""
    try:
        return joblib.hash(value)
    except Exception:
        return joblib.hash(repr(value))


def function_key(func: Any) -> str:
    """A hash of what a callable computes: its code and everything it reads (closure, defaults, globals).

    The function is hashed as it is shipped to workers
    (:func:`~nbparallel.backends.shipping.content_key`): changing a global it
    reads changes the key; re-running the cell that defines it does not.

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
    from .backends.shipping import content_key

    try:
        return content_key(func)
    except Exception:  # cannot be pickled: this very object only (never a stale hit)
        return value_key((repr(func), id(func)))


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
        root = os.fspath(location)
        self.folder = os.path.join(root, "nbparallel", function_key(func))
        os.makedirs(root, 0o700, exist_ok=True)
        for folder in (os.path.dirname(self.folder), self.folder):
            try:
                os.mkdir(folder, 0o700)
            except FileExistsError:
                pass
        root_mode, ours = os.stat(root).st_mode, os.stat(os.path.dirname(self.folder))
        if root_mode & stat.S_IWOTH or ours.st_mode & stat.S_IWOTH or ours.st_uid != os.getuid():
            warnings.warn(
                f"nbparallel: the cache folder {root} can be written by other users, and loading a cache "
                "entry runs code: use a private folder",
                stacklevel=4,
            )
        self._options = value_key(options)

    def key(self, task: ChunkTask) -> str:
        """The entry name for one chunk: its data and the shape of the call.

        The shape counts: ``pmap(f, a, b)`` calls ``f(x, y)`` on a chunk whose
        data is the tuple ``(a, b)``; ``pmap(f, (a, b))`` calls ``f(a)`` then
        ``f(b)`` on the same tuple.  ``pmap`` and ``pmap_chunks`` differ in the same way.
        """
        return value_key((self._options, task.mode, task.star, joblib.hash(task.payload)))

    def _path(self, key: str) -> str:
        return os.path.join(self.folder, key + ".pkl")

    def _drop(self, path: str, why: str) -> None:
        warnings.warn(f"nbparallel: cache entry {path} {why}; it was deleted and is recomputed", stacklevel=2)
        log.warning("cache entry %s %s; recomputing it", path, why)
        try:
            os.remove(path)
        except OSError:
            pass

    def get(self, key: str, length: int | None = None) -> tuple[bool, Any]:
        """``(True, value)`` for a stored, intact chunk, ``(False, None)`` otherwise.

        With ``length`` (a ``pmap`` chunk) the value must be a list that long.
        """
        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            return False, None
        except OSError as exc:
            log.warning("cache entry %s cannot be read: %s", path, exc)
            return False, None
        head, digest, body = data[: len(MAGIC)], data[len(MAGIC) : len(MAGIC) + DIGEST], data[len(MAGIC) + DIGEST :]
        if head != MAGIC or hashlib.blake2b(body, digest_size=DIGEST).digest() != digest:
            self._drop(path, "is corrupt or was not written by nbparallel (checksum mismatch)")
            return False, None
        try:
            value = pickle.loads(body)
        except Exception as exc:
            self._drop(path, f"is unreadable ({type(exc).__name__}: {exc})")
            return False, None
        if length is not None and not (isinstance(value, list) and len(value) == length):
            what = f"a list of {len(value)}" if isinstance(value, list) else type(value).__name__
            self._drop(path, f"holds {what}, not the list of {length} results of its chunk")
            return False, None
        return True, value

    def lookup(self, tasks: Sequence[ChunkTask]) -> tuple[list[ChunkOutcome], dict[int, str]]:
        """The outcomes of the ``tasks`` stored here, and every task's entry name (to store the rest)."""
        keys, hits = {}, []
        for task in tasks:
            keys[task.index] = key = self.key(task)
            hit, value = self.get(key, task.stop - task.start if task.mode == "items" else None)
            if hit:
                hits.append(ChunkOutcome(task.index, task.start, task.stop, value=value))
        return hits, keys

    def put(self, key: str, value: Any) -> None:
        """Store a chunk's value atomically with its checksum (a crash leaves no half-written entry).

        An array result left in shared memory (:class:`~.shared.SharedArray`)
        is stored as the array, not as its path (the job's folder goes away).
        """
        if isinstance(value, SharedArray):
            value = value.load(consume=False)
        try:
            import cloudpickle

            body = cloudpickle.dumps(value)
        except Exception as exc:
            log.warning("chunk result not cached: it cannot be pickled (%s)", exc)
            return
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(MAGIC + hashlib.blake2b(body, digest_size=DIGEST).digest())
                fh.write(body)
            os.replace(tmp, self._path(key))
        except OSError as exc:
            log.warning("could not write cache entry: %s", exc)
            try:
                os.remove(tmp)
            except OSError:
                pass

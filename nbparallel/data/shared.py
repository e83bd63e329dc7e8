"""Large arrays to and from worker processes without a copy per chunk.

* Input: an array of at least :data:`SHARE_ABOVE` bytes is written once to a
  memory-mapped ``.npy`` file in shared memory (``/dev/shm``); chunks are slices of
  that memmap, which joblib sends to workers as a file reference (no pickled
  copy per chunk, no hashing of the data).  Workers open it copy-on-write, so a
  function that changes its chunk in place changes only its own copy.
* Output: a chunk result that is an array of at least :data:`RESULT_ABOVE` bytes
  is saved by the worker into the job's shared folder and comes back as a small
  :class:`SharedArray` reference.  Concatenating them fills one pre-allocated
  array chunk by chunk, so the kernel never holds all chunk results at once.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "SharedArray",
    "SHARE_ABOVE",
    "RESULT_ABOVE",
    "shared_root",
    "new_folder",
    "share_input",
    "to_shared",
    "materialize",
    "concat_shared",
    "remove_folder",
]

#: Input arrays at least this large (bytes) are shared through one memmap.
SHARE_ABOVE = 16 * 2**20

#: Chunk results at least this large (bytes) come back through shared memory.
RESULT_ABOVE = 1 * 2**20

FOLDER_PREFIX = "nbparallel-shm-"
PROCESS_PREFIX = "nbparallel-rt-"


def shared_root() -> str:
    """``/dev/shm`` when it exists (RAM-backed), else the temporary folder."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()


_owned: dict[str, int] = {}  # folder -> descriptor of its lock file, held while this process lives


def _make_owned(prefix: str) -> str:
    """A new folder in shared memory that proves its owner is alive by a lock it holds.

    The lock (``flock`` on ``.owner``) is released by the kernel when the owner
    dies however it dies, so :func:`sweep_orphans` never takes a live
    process's folder, not even one in another PID namespace.  loky's resource
    tracker also removes it when this process dies.
    """
    from loky.backend import resource_tracker

    folder = tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=shared_root())
    fd = os.open(os.path.join(folder, ".owner"), os.O_CREAT | os.O_WRONLY, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _owned[folder] = fd
    resource_tracker.register(folder, "folder")
    return folder


def sweep_orphans() -> list[str]:
    """Remove the shared folders of nbparallel processes that died without cleaning up.

    A folder is an orphan when its ``.owner`` lock can be taken: its owner is
    gone (killed with its whole process group, say, resource tracker included).

    Returns
    -------
    list of str
        The folders removed.
    """
    removed: list[str] = []
    root = shared_root()
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in names:
        folder = os.path.join(root, name)
        if not name.startswith((FOLDER_PREFIX, PROCESS_PREFIX)) or folder in _owned:
            continue
        try:
            fd = os.open(os.path.join(folder, ".owner"), os.O_WRONLY)
        except OSError:
            continue  # being made right now, or not ours to judge
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # its owner is alive
        finally:
            os.close(fd)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def new_folder() -> str:
    """A fresh folder for one job's shared arrays (see :func:`_make_owned`)."""
    return _make_owned(FOLDER_PREFIX)


_process_folder: str | None = None
_process_lock = threading.Lock()


def process_folder() -> str:
    """This process's own folder in shared memory (control board, shipped globals), made once.

    Making it also sweeps the folders of nbparallel processes that died
    without cleaning up.  It is removed at exit.
    """
    global _process_folder
    with _process_lock:
        if _process_folder is None:
            sweep_orphans()
            _process_folder = _make_owned(PROCESS_PREFIX)
            atexit.register(remove_folder, _process_folder)
        return _process_folder


def remove_folder(folder: str | None) -> None:
    """Remove a folder made here (and forget it in the resource tracker)."""
    if folder and os.path.isdir(folder):
        from loky.backend import resource_tracker

        shutil.rmtree(folder, ignore_errors=True)
        resource_tracker.unregister(folder, "folder")
    fd = _owned.pop(folder, None) if folder else None
    if fd is not None:
        os.close(fd)


def share_input(array: np.ndarray, folder: str) -> np.memmap:
    """Write ``array`` once into ``folder``; return a copy-on-write memmap of it.

    Examples
    --------
    >>> import tempfile
    >>> m = share_input(np.arange(4.0), tempfile.mkdtemp())
    >>> isinstance(m, np.memmap), m.tolist()
    (True, [0.0, 1.0, 2.0, 3.0])
    """
    path = os.path.join(folder, f"input-{uuid.uuid4().hex}.npy")
    out = np.lib.format.open_memmap(path, mode="w+", dtype=array.dtype, shape=array.shape)
    out[...] = array
    out.flush()
    del out
    return np.load(path, mmap_mode="c")


@dataclass(frozen=True)
class SharedArray:
    """A chunk result left in shared memory by a worker: where and what shape."""

    path: str
    shape: tuple[int, ...]
    dtype: str

    def load(self, consume: bool = True) -> np.ndarray:
        """Read it into memory (and, with ``consume``, free the shared copy)."""
        data = np.load(self.path)
        if consume:
            try:
                os.remove(self.path)
            except OSError:
                pass
        return data


def to_shared(value: Any, folder: str | None) -> Any:
    """In a worker: large arrays go to ``folder`` and come back as a reference."""
    if folder is None or not isinstance(value, np.ndarray) or value.nbytes < RESULT_ABOVE or value.dtype.hasobject:
        return value
    path = os.path.join(folder, f"result-{uuid.uuid4().hex}.npy")
    np.save(path, value, allow_pickle=False)
    return SharedArray(path, tuple(value.shape), value.dtype.str)


def materialize(parts: Sequence[Any], consume: bool = True) -> list[Any]:
    """Replace every :class:`SharedArray` by the array it refers to."""
    return [p.load(consume) if isinstance(p, SharedArray) else p for p in parts]


def concat_shared(parts: Sequence[SharedArray]) -> np.ndarray:
    """Concatenate chunk results on axis 0 into one pre-allocated array, one chunk at a time."""
    first = parts[0]
    tails = {p.shape[1:] for p in parts}
    dtypes = {p.dtype for p in parts}
    if len(tails) > 1 or len(dtypes) > 1:
        return np.concatenate(materialize(parts), axis=0)
    out = np.empty((sum(p.shape[0] for p in parts), *first.shape[1:]), dtype=np.dtype(first.dtype))
    row = 0
    for part in parts:
        view = np.load(part.path, mmap_mode="r")
        out[row : row + part.shape[0]] = view
        row += part.shape[0]
        del view
        try:
            os.remove(part.path)
        except OSError:
            pass
    return out

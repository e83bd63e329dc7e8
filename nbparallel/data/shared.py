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

import os
import shutil
import tempfile
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


def shared_root() -> str:
    """``/dev/shm`` when it exists (RAM-backed), else the temporary folder."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()


def new_folder() -> str:
    """A fresh folder for one job's shared arrays (named after this process, for clean-up)."""
    return tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-", dir=shared_root())


def remove_folder(folder: str | None) -> None:
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


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

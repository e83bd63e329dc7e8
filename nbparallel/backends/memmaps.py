"""Memory-mapped arrays travel to loky workers as a reference to their file, not by value.

loky pickles an ``np.memmap`` slice like any array: its bytes.  The reducer
registered here (in loky's own pickler only, not ``copyreg``) sends the file
name, the byte offset of the slice and its shape instead; the worker maps the
same pages.  This is what makes a large input written once to shared memory
(:func:`nbparallel.data.shared.share_input`) cost nothing per chunk.  A slice
that is not contiguous, is empty, or whose mapping cannot be found is sent by
value; so is a copy-on-write (``mode="c"``) memmap of the caller's own, whose
changes live only in the caller's memory.
"""

from __future__ import annotations

import mmap
import os
from typing import Any

import numpy as np

from ..data.shared import FOLDER_PREFIX, open_rows

__all__ = ["register_memmap_reducer"]

_registered = False


def _ours(filename: str) -> bool:
    """A file in one of nbparallel's own shared folders: written once, never changed."""
    return os.path.basename(os.path.dirname(filename)).startswith(FOLDER_PREFIX)


def _reduce(m: np.memmap) -> Any:
    mapping = getattr(m, "_mmap", None)
    if mapping is None or m.filename is None or not m.flags.c_contiguous or m.size == 0:
        return np.array, (np.asarray(m),)
    if m.mode == "c" and not _ours(m.filename):  # the caller's private changes are not in the file
        return np.array, (np.asarray(m),)
    base = np.frombuffer(mapping, dtype=np.uint8)
    first_page = m.offset - m.offset % mmap.ALLOCATIONGRANULARITY
    offset = first_page + m.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return open_rows, (m.filename, m.dtype, int(offset), tuple(m.shape))


def register_memmap_reducer() -> None:
    """Make loky send ``np.memmap`` objects by reference (once per process).

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> from loky.backend.reduction import dumps
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.arange(1_000_000.0))
    >>> rows = np.load(path, mmap_mode="r")[10:10_010]
    >>> register_memmap_reducer()
    >>> len(dumps(rows)) < 1000  # a reference to the file, not 80 kB of values
    True
    >>> import pickle; copy = pickle.loads(dumps(rows)); copy[:3].tolist()
    [10.0, 11.0, 12.0]
    >>> copy[0] = -1; float(np.load(path, mmap_mode="r")[10])  # a worker's writes stay its own
    10.0
    >>> mine = np.load(path, mmap_mode="c"); mine[10] = -5.0  # changed in this process only
    >>> float(pickle.loads(dumps(mine[10:20]))[0])  # so it travels by value
    -5.0
    >>> del rows, copy, mine; shutil.rmtree(os.path.dirname(path))
    """
    global _registered
    if not _registered:
        from loky.backend.reduction import register

        register(np.memmap, _reduce)
        _registered = True

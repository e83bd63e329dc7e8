"""Large arrays to and from worker processes without a copy per chunk.

* Input: an array of at least :data:`SHARE_ABOVE` bytes is written once to a
  ``.npy`` file in shared memory (``/dev/shm``) and memory-mapped; chunks are
  slices of that memmap, which travel to workers as a file reference (no pickled
  copy per chunk, no hashing of the data).  Workers open it copy-on-write, so a
  function that changes its chunk in place changes only its own copy.  The file
  is written with plain writes after checking the free space, so a small
  ``/dev/shm`` (Docker's 64 MiB) gives an ``OSError`` and a disk-backed folder
  in the temporary directory instead, never a ``SIGBUS``.
* Output: a chunk result that is an array of at least :data:`RESULT_ABOVE` bytes
  is saved by the worker into the job's shared folder and comes back as a small
  :class:`SharedArray` reference.  Concatenating them fills one pre-allocated
  array chunk by chunk, so the kernel never holds all chunk results at once.
"""

from __future__ import annotations

import atexit
import errno
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

from .janitor import ensure_janitor, sweep

__all__ = [
    "SharedArray",
    "SHARE_ABOVE",
    "RESULT_ABOVE",
    "shared_root",
    "new_folder",
    "share_input",
    "open_rows",
    "to_shared",
    "materialize",
    "concat_shared",
    "remove_folder",
    "holds_inputs",
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


def roots() -> list[str]:
    """Where owned folders may live: shared memory first, then the (disk) temporary folder."""
    return list(dict.fromkeys([shared_root(), tempfile.gettempdir()]))


#: Room left free beyond what is written (others use shared memory too).
HEADROOM = 4 * 2**20


def check_room(folder: str, nbytes: int) -> None:
    """Raise ``OSError(ENOSPC)`` unless ``folder`` has room for ``nbytes`` more and :data:`HEADROOM`.

    Checked before writing, so a full ``/dev/shm`` is an error and never a ``SIGBUS``.
    """
    st = os.statvfs(folder)
    if st.f_bavail * st.f_frsize < nbytes + HEADROOM:
        raise OSError(errno.ENOSPC, f"no room for {nbytes} bytes in {folder}")


_owned: dict[str, int] = {}  # folder -> descriptor of its lock file, held while this process lives


def _make_owned(prefix: str, need: int = 0, disk: bool = False) -> str:
    """A new folder that proves its owner is alive by a lock it holds.

    In shared memory when it has room for ``need`` bytes (and ``disk`` is
    false), else in the temporary folder.  The lock (``flock`` on ``.owner``)
    is released by the kernel when the owner dies however it dies, so
    :func:`sweep_orphans` never takes a live process's folder, not even one in
    another PID namespace.  loky's resource tracker removes it when this
    process dies, and the janitor (:mod:`.janitor`) when the whole process
    group is killed.
    """
    from loky.backend import resource_tracker

    candidates = [tempfile.gettempdir()] if disk else roots()
    error: OSError = OSError(errno.ENOSPC, f"no room for {need} bytes in {' or '.join(candidates)}")
    for root in candidates:
        try:
            if root == shared_root() and root != candidates[-1]:
                check_room(root, need)
            folder = tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=root)
        except OSError as exc:
            error = exc
            continue
        try:
            fd = os.open(os.path.join(folder, ".owner"), os.O_CREAT | os.O_WRONLY, 0o600)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            error = exc
            continue
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _owned[folder] = fd
        resource_tracker.register(folder, "folder")
        ensure_janitor(roots(), (FOLDER_PREFIX, PROCESS_PREFIX))
        return folder
    raise error


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
    for root in roots():
        removed += sweep(root, (FOLDER_PREFIX, PROCESS_PREFIX), skip=set(_owned))
    return removed


def new_folder(need: int = 0, *, disk: bool = False) -> str:
    """A fresh folder for one job's shared arrays, with room for ``need`` bytes (see :func:`_make_owned`).

    Raises
    ------
    OSError
        If no folder could be made anywhere.
    """
    return _make_owned(FOLDER_PREFIX, need, disk)


_process_folder: str | None = None
_process_lock = threading.Lock()


def process_folder() -> str:
    """This process's own folder in shared memory (control board, shipped globals), made once.

    Making it also sweeps the folders of nbparallel processes that died
    without cleaning up.  It is removed at exit.  When something removed it
    (a clean-up script), a new one is made.
    """
    global _process_folder
    with _process_lock:
        if _process_folder is not None and not os.path.isdir(_process_folder):
            remove_folder(_process_folder)
            _process_folder = None
        if _process_folder is None:
            sweep_orphans()
            _process_folder = _make_owned(PROCESS_PREFIX)
            atexit.register(remove_folder, _process_folder)
        return _process_folder


def remove_process_folder() -> None:
    """Remove this process's own folder now (it is made again if a later call needs it)."""
    global _process_folder
    with _process_lock:
        folder, _process_folder = _process_folder, None
    remove_folder(folder)


def remove_folder(folder: str | None) -> None:
    """Remove a folder made here (and forget it in the resource tracker)."""
    if folder and (folder in _owned or os.path.isdir(folder)):
        from loky.backend import resource_tracker

        shutil.rmtree(folder, ignore_errors=True)  # it may be gone already (a clean-up script)
        resource_tracker.unregister(folder, "folder")
    fd = _owned.pop(folder, None) if folder else None
    if fd is not None:
        os.close(fd)


def save_plain(path: str, array: np.ndarray) -> None:
    """Save ``array`` as ``.npy`` with plain writes (a full disk is an ``OSError``, never ``SIGBUS``).

    The free space is checked first; a failed write leaves no file.
    """
    folder = os.path.dirname(path)
    check_room(folder, array.nbytes)
    try:
        with open(path, "wb") as fh:
            np.lib.format.write_array(fh, np.asanyarray(array), allow_pickle=False)
    except BaseException:
        try:
            os.remove(path)
        except OSError:
            pass
        raise


#: File names of the inputs :func:`share_input` writes.
INPUT_PREFIX = "input-"


def share_input(array: np.ndarray, folder: str) -> np.memmap:
    """Write ``array`` once into ``folder``; return a copy-on-write memmap of it.

    Raises
    ------
    OSError
        If ``folder`` has no room for it (nothing is left behind).

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> m = share_input(np.arange(4.0), folder)
    >>> isinstance(m, np.memmap), m.tolist()
    (True, [0.0, 1.0, 2.0, 3.0])
    >>> del m; shutil.rmtree(folder)
    """
    path = os.path.join(folder, f"{INPUT_PREFIX}{uuid.uuid4().hex}.npy")
    save_plain(path, array)
    return np.load(path, mmap_mode="c")


def open_rows(filename: str, dtype: np.dtype, offset: int, shape: tuple[int, ...]) -> np.memmap:
    """In a worker: map the rows of a memory-mapped file that a reference names, copy-on-write.

    A chunk sent by value is a private, writable copy; so is this one: the
    worker may write to it, and neither the file nor the caller's array sees it
    (see :func:`nbparallel.backends.memmaps.register_memmap_reducer`).
    """
    return np.memmap(filename, dtype=dtype, mode="c", offset=offset, shape=shape)


def holds_inputs(folder: str) -> bool:
    """Whether :func:`share_input` wrote into ``folder`` (``False`` once it is gone).

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> holds_inputs(folder)
    False
    >>> m = share_input(np.arange(4.0), folder)
    >>> holds_inputs(folder)
    True
    >>> del m; shutil.rmtree(folder)
    """
    try:
        return any(name.startswith(INPUT_PREFIX) for name in os.listdir(folder))
    except OSError:
        return False


@dataclass(frozen=True)
class SharedArray:
    """A chunk result left in shared memory by a worker: where and what shape."""

    path: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]  # the full dtype: a structured one keeps its fields

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
    if folder is None or type(value) not in (np.ndarray, np.memmap):  # a subclass (masked) would lose its kind
        return value
    if value.nbytes < RESULT_ABOVE or value.dtype.hasobject:
        return value
    path = os.path.join(folder, f"result-{uuid.uuid4().hex}.npy")
    save_plain(path, value)
    return SharedArray(path, tuple(value.shape), value.dtype)


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

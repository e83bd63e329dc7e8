"""The control board: one row per submitted chunk, shared by the kernel and its workers.

The kernel gives every chunk it submits a row (``slot``); the worker that runs it
writes its process and thread into the row when it starts and clears them when
it ends.  The kernel sets the row's flags to cancel the chunk or to end it for
running past its timeout, and interrupts the process or thread the row names.
Workers look at their flags between items and in their ``SIGUSR1`` handler.

A board for worker processes is a small file in shared memory, made once per
kernel process (never per call); a board for threads is a plain array.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Board", "Row", "CANCEL", "TIMEOUT", "attach"]

STATE, JOB, CHUNK, PID, TID, STARTED, FLAGS = range(7)
FREE, QUEUED, RUNNING = 0, 1, 2

#: Flag bits.
CANCEL, TIMEOUT = 1, 2

#: Rows of a board: chunks in flight at once, over all jobs of this process.
ROWS = 4096

_WIDTH = 7  # cells of a row
_EMPTY_ROW = memoryview(bytes(_WIDTH * 8)).cast("q")


class Row(NamedTuple):
    """A running chunk as its row shows it."""

    slot: int
    job: int
    chunk: int
    pid: int
    tid: int
    started: float  # time.time() when the chunk started


class Board:
    """The rows of one backend's chunks in flight.

    Examples
    --------
    >>> board = Board.in_memory(4)
    >>> slot = board.acquire(job=1, chunk=0)
    >>> board.begin(slot); [r.chunk for r in board.running(1)]
    [0]
    >>> board.end(slot); board.release(slot); board.running(1)
    []
    """

    #: A chunk reads every flag of its row here (cancel and timeout); a worker's copy of a
    #: dask board sees only the cancel.
    flags_complete = True

    def __init__(self, rows: np.ndarray, path: str | None = None) -> None:
        self.rows = rows
        # The same cells, flat: one cell read or written per chunk costs less through it than through NumPy.
        self._cells = rows.reshape(-1).view(np.uint8).data.cast("q")
        self.path = path
        self._free = collections.deque(range(len(rows)))
        self._lock = threading.Lock()

    @classmethod
    def in_memory(cls, n_rows: int = ROWS) -> Board:
        """A board for threads of this process."""
        return cls(np.zeros((n_rows, 7), dtype=np.int64))

    @classmethod
    def in_file(cls, folder: str, n_rows: int = ROWS) -> Board:
        """A board in ``folder`` that worker processes open by its path."""
        path = os.path.join(folder, "board")
        with open(path, "wb") as fh:  # written, not mapped: a full disk is an OSError, not SIGBUS
            fh.write(bytes(n_rows * 7 * 8))
        rows = np.memmap(path, dtype=np.int64, mode="r+", shape=(n_rows, 7))
        return cls(rows.view(np.ndarray), path)  # a plain view: memmap indexing is slow on the hot path

    def __reduce__(self) -> tuple[Any, ...]:
        if self.path is None:
            raise TypeError("an in-memory board is used by threads of its own process only")
        return (attach, (self.path,))

    # -- the kernel's side ----------------------------------------------------------
    def acquire(self, job: int, chunk: int) -> int:
        """A free row for chunk ``chunk`` of job ``job`` (``-1`` when the board is full)."""
        with self._lock:
            if not self._free:
                return -1
            slot = self._free.popleft()
        first = slot * _WIDTH
        cells = self._cells
        cells[first : first + _WIDTH] = _EMPTY_ROW
        cells[first + JOB], cells[first + CHUNK], cells[first + STATE] = job, chunk, QUEUED
        return slot

    def release(self, slot: int) -> None:
        """The chunk of row ``slot`` is over; the row may be given out again."""
        if slot < 0:
            return
        self._cells[slot * _WIDTH + STATE] = FREE
        with self._lock:
            self._free.append(slot)

    def flag(self, slot: int, bit: int) -> None:
        """Set a flag on a row (the worker sees it between items or in its interrupt handler)."""
        if slot >= 0:
            self._cells[slot * _WIDTH + FLAGS] |= bit

    def running(self, job: int) -> list[Row]:
        """The rows of job ``job`` whose chunk runs now."""
        rows = self.rows
        hits = np.flatnonzero((rows[:, STATE] == RUNNING) & (rows[:, JOB] == job))
        return [self.row(int(s)) for s in hits]

    def row(self, slot: int) -> Row:
        """Row ``slot`` as it is now."""
        r = self.rows[slot].tolist()
        return Row(slot, r[JOB], r[CHUNK], r[PID], r[TID], r[STARTED] / 1e9)

    def is_running(self, slot: int) -> bool:
        """Whether the chunk of row ``slot`` has started and not ended."""
        return slot >= 0 and self._cells[slot * _WIDTH + STATE] == RUNNING

    # -- the worker's side ----------------------------------------------------------
    def begin(self, slot: int) -> None:
        """The chunk of this row starts in this process and thread."""
        first = slot * _WIDTH
        cells = self._cells
        cells[first + PID], cells[first + TID], cells[first + STARTED] = (
            os.getpid(),
            threading.get_ident(),
            time.time_ns(),
        )
        cells[first + STATE] = RUNNING

    def end(self, slot: int) -> None:
        """The chunk of this row ended (the kernel releases the row when the outcome arrives)."""
        self._cells[slot * _WIDTH + STATE] = QUEUED

    def flags(self, slot: int) -> int:
        """The flags set on a row."""
        return self._cells[slot * _WIDTH + FLAGS]


_attached: dict[str, Board] = {}


def attach(path: str) -> Board:
    """In a worker: the board at ``path`` (opened once per process)."""
    board = _attached.get(path)
    if board is None:
        rows = np.memmap(path, dtype=np.int64, mode="r+")
        board = _attached[path] = Board(rows.view(np.ndarray).reshape(-1, 7), path)
    return board

"""The cluster's side of the dask backend: the Client, and what a task carries to a worker.

:func:`dask_client` finds the Client to run on.  :class:`DaskBoard` is the board of
rows whose copy travels with every task: on a worker it reports its row's start and
end as dask events and reads cancel flags from dask ``Event`` objects;
:func:`interrupt_here` raises in the thread running a row (sent with ``client.run``);
:func:`run_task` runs one chunk there.
"""

from __future__ import annotations

import ctypes
import dataclasses
import threading
import time
from typing import Any

from ..settings import get_config
from ..worker.board import CANCEL, CHUNK, JOB, STARTED, STATE, TID, Board
from ..worker.control import ChunkCancelled, ChunkTimedOut, flag_exception
from ..worker.run import run_chunk
from ..worker.task import ChunkOutcome, ChunkTask

__all__ = ["DaskBoard", "dask_client", "interrupt_here", "run_task"]

#: A row's states on the kernel's board.
RUNNING, QUEUED, FREE = 2, 1, 0

_clients_lock = threading.Lock()
_clients: dict[str, Any] = {}  # scheduler address -> the Client nbparallel opened to it


def dask_client() -> Any:
    """The dask.distributed Client to run on: the current one, or one at ``config(dask_address=...)``.

    Raises
    ------
    ImportError
        Without dask.distributed, naming the extra to install.
    RuntimeError
        When there is no Client and no address, saying how to start one.
    """
    try:
        from distributed import Client, get_client
    except ImportError as err:
        raise ImportError("backend='dask' needs dask.distributed: pip install 'nbparallel[dask]'") from err
    address = get_config().dask_address
    try:
        client = get_client()
        if address is None or getattr(client.scheduler, "address", None) == address:
            return client
    except ValueError:
        client = None
    if address is not None:
        with _clients_lock:
            client = _clients.get(address)
            if client is None or client.status not in ("running", "connecting", "newly-created"):
                client = _clients[address] = Client(address, set_as_default=False)  # one per address
        return client
    raise RuntimeError(
        "backend='dask' needs a dask.distributed Client and there is none: start one first, e.g.\n"
        "    from dask.distributed import Client\n"
        "    client = Client()                      # a local cluster\n"
        "    client = Client('tcp://scheduler:8786')  # an existing cluster\n"
        "or point nbparallel at a scheduler: nbp.config(dask_address='tcp://scheduler:8786')"
    )


# -- in a worker: which thread runs which row ----------------------------------------------
_here_lock = threading.Lock()
_here: dict[tuple[str, int], int] = {}  # (board token, slot) -> thread running its chunk


def _set_async_exc(tid: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), ctypes.py_object(exc) if exc else None)


async def interrupt_here(token: str, slot: int, flags: int) -> bool:
    """On a worker (``client.run``, in its event loop): raise in the thread running row ``slot``, if one still does."""
    exc = flag_exception(flags)
    with _here_lock:
        tid = _here.get((token, slot))
        if tid is None or exc is None:
            return False
        _set_async_exc(tid, exc)
        return True


class DaskBoard(Board):
    """The rows of chunks on a cluster; cancel flags as dask ``Event`` objects, no shared memory.

    Its interrupts reach only the thread that still runs their row (``_here``), so a
    chunk never has to doubt one; a worker's copy reads only the cancel flag.

    The kernel's board keeps the rows; a worker's copy (what a task unpickles)
    reports its row's start and end as dask events, and reads cancel flags from
    dask ``Event`` objects.
    """

    flags_complete = False  # a worker reads the cancel event only

    def __init__(self, token: str, n_rows: int = 4096) -> None:
        import numpy as np

        super().__init__(np.zeros((n_rows, 7), dtype=np.int64))
        self.token = token
        self.where: dict[int, str] = {}  # slot -> address of the worker running it (kernel side)
        self._set: set[int] = set()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_remote_board, (self.token,))

    @property
    def topic(self) -> str:
        """The dask event topic that workers report their rows on."""
        return f"nbparallel-{self.token}"

    def _event(self, slot: int) -> Any:
        from distributed import Event

        name = f"nbparallel-{self.token}-{slot}"
        if len(self.rows):  # the kernel's board: on the job's cluster, which need not be the default client's
            return Event(name, client=dask_client())
        return Event(name)  # in a worker: its own client

    # -- the kernel's side ------------------------------------------------------------
    def flag(self, slot: int, bit: int) -> None:
        super().flag(slot, bit)
        if slot >= 0 and bit & CANCEL and slot not in self._set:
            self._set.add(slot)
            self._event(slot).set()

    def release(self, slot: int) -> None:
        if slot in self._set:
            self._set.discard(slot)
            self._event(slot).clear()
        self.where.pop(slot, None)
        super().release(slot)

    def on_event(self, event: tuple[float, Any]) -> None:
        """A worker reported a row (called in the client's event loop)."""
        what, slot, job, chunk, tid, address = event[1]
        if not 0 <= slot < len(self.rows):
            return
        row = self.rows[slot]
        if row[STATE] == FREE or row[JOB] != job or row[CHUNK] != chunk:
            return  # a report from a chunk that ended already
        if what == "begin":
            self.where[slot] = address
            row[TID], row[STARTED] = tid, time.time_ns()  # the kernel's clock: workers' may differ
            row[STATE] = RUNNING
        elif row[STATE] == RUNNING:
            row[STATE] = QUEUED

    # -- a worker's side --------------------------------------------------------------
    def _report(self, what: str, slot: int) -> None:
        from distributed import get_worker

        worker = get_worker()
        worker.log_event(self.topic, [what, slot, self._job, self._chunk, threading.get_ident(), worker.address])

    def begin(self, slot: int) -> None:
        with _here_lock:
            _here[(self.token, slot)] = threading.get_ident()
        self._report("begin", slot)

    def end(self, slot: int) -> None:
        caught: BaseException | None = None
        while True:  # an interrupt sent just before the chunk ended is raised here, or cleared
            try:
                with _here_lock:
                    if _here.get((self.token, slot)) == threading.get_ident():  # not a newer chunk's slot
                        del _here[(self.token, slot)]
                    _set_async_exc(threading.get_ident(), None)
                break
            except (ChunkCancelled, ChunkTimedOut) as exc:
                caught = exc
        self._report("end", slot)
        if caught is not None:
            raise caught

    def flags(self, slot: int) -> int:
        if len(self.rows):  # the kernel's board
            return super().flags(slot)
        return CANCEL if self._event(slot).is_set() else 0

    _job = 0
    _chunk = 0


def _remote_board(token: str) -> DaskBoard:
    return DaskBoard(token, n_rows=0)


def run_task(func: Any, task: ChunkTask, job: int, payload: Any = None) -> ChunkOutcome:
    """On a worker: run one chunk (``payload`` is the chunk's data when it was scattered)."""
    if payload is not None:
        task = dataclasses.replace(task, payload=payload)
    board = task.board
    if isinstance(board, DaskBoard):
        board._job, board._chunk = job, task.index
    outcome = run_chunk(func, task)
    if task.timed:  # which worker: its address, and the thread (a dask worker runs several chunks at once)
        from distributed import get_worker

        outcome.worker = f"{get_worker().address} {threading.current_thread().name}"
    return outcome

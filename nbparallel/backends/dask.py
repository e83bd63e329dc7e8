"""A dask.distributed cluster: the current ``Client``, or the scheduler at ``config(dask_address=...)``.

Chunks are ``client.submit`` futures.  Nothing sent to a worker names a path on
this machine: the function travels inside the task (scattered once per call when
it is large), and cancel goes through a dask ``Event`` per chunk that workers
look at between items.  A chunk's ``timeout`` is checked by the chunk itself
between items.  A running call that never returns to Python cannot be stopped,
and nbparallel never kills dask workers.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import Future
from typing import Any

from ..worker.board import CANCEL, Board, Row
from ..worker.run import run_chunk
from ..worker.task import ChunkOutcome, ChunkTask
from .base import Backend, register_backend
from .shipping import pack

__all__ = ["Dask", "dask_client"]

#: Pickled functions larger than this are scattered to the cluster once per call.
SCATTER_ABOVE = 64 * 2**10


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
    from ..config import get_config

    address = get_config().dask_address
    try:
        client = get_client()
        if address is None or getattr(client.scheduler, "address", None) == address:
            return client
    except ValueError:
        client = None
    if address is not None:
        return Client(address, set_as_default=False)
    raise RuntimeError(
        "backend='dask' needs a dask.distributed Client and there is none: start one first, e.g.\n"
        "    from dask.distributed import Client\n"
        "    client = Client()                      # a local cluster\n"
        "    client = Client('tcp://scheduler:8786')  # an existing cluster\n"
        "or point nbparallel at a scheduler: nbp.config(dask_address='tcp://scheduler:8786')"
    )


class DaskBoard(Board):
    """Cancel flags as dask ``Event`` objects, one per chunk in flight (no shared memory)."""

    def __init__(self, token: str, n_rows: int = 4096) -> None:
        import numpy as np

        super().__init__(np.zeros((n_rows, 7), dtype=np.int64))
        self.token = token
        self._set: set[int] = set()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_remote_board, (self.token,))

    def _event(self, slot: int) -> Any:
        from distributed import Event

        return Event(f"nbparallel-{self.token}-{slot}")

    def flag(self, slot: int, bit: int) -> None:
        super().flag(slot, bit)
        if slot >= 0 and bit & CANCEL:
            self._set.add(slot)
            self._event(slot).set()

    def release(self, slot: int) -> None:
        if slot in self._set:
            self._set.discard(slot)
            self._event(slot).clear()
        super().release(slot)

    def running(self, job: int) -> list[Row]:
        return []  # rows are not reported back: nothing to interrupt

    def begin(self, slot: int) -> None:
        pass

    def end(self, slot: int) -> None:
        pass

    def flags(self, slot: int) -> int:
        return CANCEL if self._event(slot).is_set() else 0


def _remote_board(token: str) -> DaskBoard:
    return DaskBoard(token, n_rows=0)


@register_backend
class Dask(Backend):
    """Chunks as futures on a dask.distributed cluster."""

    name = "dask"
    description = "a dask.distributed cluster (the current Client, or config(dask_address=...))"
    processes = True
    local = False

    def __init__(self) -> None:
        self._board = DaskBoard(uuid.uuid4().hex)
        self._lock = threading.Lock()

    @property
    def board(self) -> Board:
        return self._board

    def workers(self, n_jobs: int | None) -> int:
        from ..config import effective_n_jobs, get_config

        if n_jobs is None and get_config().n_jobs is None:
            return max(1, sum(dask_client().nthreads().values()))
        return effective_n_jobs(n_jobs)

    def prepare(self, func: Any, label: str) -> Any:
        client = dask_client()
        packed = pack(func, label=label, share=False)
        if packed.blob is not None and len(packed.blob) > SCATTER_ABOVE:
            return client.scatter(packed, hash=False)  # once per call, not once per chunk
        return packed

    def submit(self, func: Any, task: ChunkTask, n_workers: int) -> Future[ChunkOutcome]:
        remote = dask_client().submit(run_chunk, func, task, pure=False)
        future: Future[ChunkOutcome] = Future()
        future.set_running_or_notify_cancel()

        def copy(done: Any) -> None:
            try:
                future.set_result(done.result())
            except BaseException as exc:
                future.set_exception(exc)

        remote.add_done_callback(copy)
        return future

    def lost_worker(self, error: BaseException) -> str | None:
        try:
            from distributed import KilledWorker
        except ImportError:
            return None
        return f"dask reports its workers died running it ({error})" if isinstance(error, KilledWorker) else None

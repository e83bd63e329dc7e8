"""A dask.distributed cluster: the current ``Client``, or the scheduler at ``config(dask_address=...)``.

Chunks are ``client.submit`` futures.  Nothing sent to a worker names a path on
this machine: the function travels inside the task (scattered once per call
when it is large), a large chunk is scattered to a worker (not inside the
task graph; through the scheduler unless the Client has
``direct_to_workers=True``), and results come back as the futures' results.  Control goes through dask itself:

* a chunk tells the kernel it started (its board row, its thread and its
  worker's address) with a dask event (``Worker.log_event``) that the kernel
  subscribes to, so the kernel's supervisor sees running chunks and their
  timeouts as on the local backends;
* cancel sets a dask ``Event`` per row, which a chunk looks at when it starts
  and between items;
* a running chunk is interrupted by ``client.run`` on its worker, which raises
  an asynchronous exception in the thread running it (only if that thread still
  runs that chunk);
* a chunk that ignores the interrupt (a call in native code that never returns
  to Python) is *released*: its future is cancelled and the job goes on, but
  the worker's thread stays busy until the call returns.  nbparallel never
  kills dask workers.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from concurrent.futures import Future, InvalidStateError
from typing import Any

from ..settings import effective_n_jobs, get_config
from ..worker.board import JOB, Board, Row
from ..worker.task import ChunkOutcome, ChunkTask
from ..worker.transit import Shipped
from .base import Backend, register_backend
from .dask_cluster import DaskBoard, dask_client, interrupt_here, run_task
from .shipping import pack

__all__ = ["Dask", "dask_client"]

log = logging.getLogger("nbparallel")

#: Pickled functions larger than this are scattered to the cluster once per call.
SCATTER_ABOVE = 64 * 2**10

#: Chunks larger than this (dask's ``sizeof``) are scattered instead of sent inside the task.
SCATTER_CHUNKS_ABOVE = 1 * 2**20


class DaskWorkerLost(Exception):
    """A chunk's dask future ended without an outcome: its worker died, or it was released."""


#: What a dask Client's ``status`` is once it was closed (or is being closed).
_CLOSED = ("closing", "closed")


def _client_gone(detail: str) -> ConnectionError:
    """The error of a chunk whose Client went away: no worker died, the cluster is out of reach."""
    return ConnectionError(
        f"the dask Client was closed (or lost its scheduler) while the job ran, so its chunks cannot run "
        f"({detail.rstrip('.: ')}); no worker died. Start a Client again, then job.retry_failed() runs what is missing"
    )


@register_backend
class Dask(Backend):
    """Chunks as futures on a dask.distributed cluster."""

    name = "dask"
    description = "a dask.distributed cluster (the current Client, or config(dask_address=...))"
    processes = True
    local = False
    can_interrupt = True
    can_release = True

    def __init__(self) -> None:
        self._board = DaskBoard(uuid.uuid4().hex)
        self._lock = threading.Lock()
        self._subscribed: Any = None  # the client whose events reach the board
        self._futures: dict[int, tuple[Any, Future[ChunkOutcome]]] = {}  # slot -> (dask future, ours)
        self._remotes: dict[str, Any] = {}  # key -> every dask future whose outcome is not copied yet
        self._fetched: dict[str, Any] = {}  # key -> an outcome gathered along with another's

    @property
    def board(self) -> Board:
        return self._board

    def _client(self) -> Any:
        try:
            client = dask_client()
        except RuntimeError as err:  # the job's Client was there when it started: it was closed since
            raise _client_gone("there is no Client any more") from err
        if client.status in _CLOSED:
            raise _client_gone(f"its status is {client.status!r}")
        with self._lock:
            if self._subscribed is not client:
                client.subscribe_topic(self._board.topic, self._board.on_event)
                self._subscribed = client
        return client

    def prefetch(self, n_workers: int) -> int:
        # two per worker: with one, each worker waited after every chunk for its result to come
        # back and for the next chunk to go out, both through the scheduler
        return 2 * n_workers

    def workers(self, n_jobs: int | None) -> int:
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
        from dask.sizeof import sizeof

        client = self._client()
        job = int(self._board.rows[task.slot, JOB]) if task.slot >= 0 else 0
        if sizeof(task.payload) > SCATTER_CHUNKS_ABOVE:
            payload = client.scatter(task.payload, hash=False)  # kept by a worker, not in the graph
            remote = client.submit(run_task, func, dataclasses.replace(task, payload=None), job, payload, pure=False)
        else:
            if task.timed and task.payload is not None:  # its transfer is timed when dask pickles it
                import cloudpickle

                task = dataclasses.replace(task, payload=Shipped(task.payload, cloudpickle.dumps))
            remote = client.submit(run_task, func, task, job, pure=False)
        future: Future[ChunkOutcome] = Future()
        future.set_running_or_notify_cancel()
        with self._lock:
            self._remotes[remote.key] = remote
            if task.slot >= 0:
                self._futures[task.slot] = (remote, future)

        def copy(done: Any) -> None:
            with self._lock:
                if self._futures.get(task.slot, (None,))[0] is done:
                    del self._futures[task.slot]
            try:
                value: Any = self._outcome(done)
            except BaseException as exc:
                gone = done.client.status in _CLOSED
                _settle(future, exc=_client_gone(f"{type(exc).__name__}: {exc}") if gone else self._lost(exc))
            else:
                _settle(future, value=value)

        remote.add_done_callback(copy)
        return future

    def _outcome(self, done: Any) -> Any:
        """The outcome of dask future ``done``, gathered in one round trip with every other finished one's.

        dask runs all done-callbacks in one thread: one ``result()`` round trip
        each fell behind many short chunks.  The others' callbacks find theirs here.
        """
        with self._lock:
            self._remotes.pop(done.key, None)
            if done.key in self._fetched:
                return self._fetched.pop(done.key)
            others = [
                f
                for f in self._remotes.values()
                if f.client is done.client and f.key not in self._fetched and f.status == "finished"
            ]
        if not others or done.status != "finished":
            return done.result()
        try:
            values = done.client.gather([done, *others])
        except Exception:  # one of the others was lost meanwhile: this one alone
            return done.result()
        with self._lock:
            for other, value in zip(others, values[1:], strict=True):
                if other.key in self._remotes:  # not released meanwhile
                    self._fetched[other.key] = value
        return values[0]

    @staticmethod
    def _lost(exc: BaseException) -> BaseException:
        """dask's ways of saying a worker died become :class:`DaskWorkerLost`."""
        from distributed import KilledWorker
        from distributed.client import FutureCancelledError
        from distributed.comm.core import CommClosedError

        if isinstance(exc, KilledWorker):
            return DaskWorkerLost(f"dask reports the worker running it died ({exc})")
        if isinstance(exc, (CommClosedError, FutureCancelledError)):
            return DaskWorkerLost(f"the cluster lost it: {type(exc).__name__}: {exc}")
        return exc

    def interrupt(self, row: Row, flags: int) -> None:
        address = self._board.where.get(row.slot)
        if address is None:
            return
        try:
            self._client().run(interrupt_here, self._board.token, row.slot, flags, workers=[address], wait=False)
        except Exception as exc:  # the worker is gone: its future ends on its own
            log.info("interrupting chunk %d on %s failed: %s", row.chunk, address, exc)

    def release_chunk(self, row: Row) -> None:
        with self._lock:
            entry = self._futures.pop(row.slot, None)
        if entry is None:
            return
        remote, future = entry
        with self._lock:
            self._remotes.pop(remote.key, None)
            self._fetched.pop(remote.key, None)
        _settle(future, exc=DaskWorkerLost("it ignored its interrupt (native code?) and its task was released"))
        try:
            remote.cancel()
        except Exception:
            pass

    def lost_worker(self, error: BaseException) -> str | None:
        return str(error) if isinstance(error, DaskWorkerLost) else None


def _settle(future: Future[ChunkOutcome], value: Any = None, exc: BaseException | None = None) -> None:
    try:
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(value)
    except InvalidStateError:  # released already
        pass

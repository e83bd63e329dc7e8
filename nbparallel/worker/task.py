"""A chunk of work, and the outcome a worker sends back for it (a record written once)."""

from __future__ import annotations

import operator
import os
import pickle
import time
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from ..tracebacks import Frame

if TYPE_CHECKING:
    from .board import Board

__all__ = ["ChunkTask", "ChunkOutcome"]


@dataclass(frozen=True)
class ChunkTask:
    """One unit of work: chunk ``index`` covering items ``start:stop``.

    ``mode`` is ``"items"`` (call ``func`` per item, ``pmap``) or ``"chunk"``
    (call ``func`` once on the chunk, ``pmap_chunks``).  With ``star`` the
    payload is a tuple of aligned chunks passed as separate arguments.  The
    last fields are set for each submission: where on the control board the
    chunk reports itself, and whether the worker pickles the value itself.
    """

    index: int
    start: int
    stop: int
    payload: Any
    mode: str = "items"
    star: bool = False
    seed: int | None = None
    share_folder: str | None = None  # large array results are left here (pmap_chunks, shared memory)
    serialize: bool = False  # pickle the value in the worker (process backends)
    serial_seeds: bool = False  # seeded items run one at a time (threads share the global generators)
    timeout: float | None = None  # the chunk checks it between items too (backends that cannot interrupt)
    collect: bool = False  # errors="collect": a failing item becomes a Failed record in its place
    board: Board | None = None
    slot: int = -1
    timed: bool = False  # record the chunk's timeline (wall-clock times, transfer seconds and bytes)

    def __reduce__(self) -> tuple[Any, ...]:
        # Its fields in order: pickled with every chunk, a tuple costs less than the default's dict.
        return ChunkTask, self.values()

    def values(self) -> tuple[Any, ...]:
        """Its fields in order (``ChunkTask.of(task.values())`` is a copy)."""
        return _TASK_FIELDS(self)

    def sent_values(self) -> tuple[Any, ...]:
        """Its fields in order, with no payload and no board: what a message carries (they travel apart).

        Examples
        --------
        >>> task = ChunkTask(0, 0, 2, [1, 2], slot=3)
        >>> ChunkTask.of(task.sent_values()) == task.but(payload=None)
        True
        """
        values = list(_TASK_FIELDS(self))
        values[_PAYLOAD] = values[_BOARD] = None
        return tuple(values)

    @classmethod
    def of(cls, values: tuple[Any, ...], **changes: Any) -> ChunkTask:
        """The task of ``values``, its fields in order, as they were checked when it was first made.

        ``changes`` replace some of them (one task made, not a task and its :meth:`but`).

        Examples
        --------
        >>> task = ChunkTask(0, 0, 2, [1, 2])
        >>> ChunkTask.of(task.values()) == task
        True
        >>> ChunkTask.of(task.values(), payload=None).payload is None
        True
        """
        task = object.__new__(cls)
        fields = task.__dict__
        fields.update(zip(_TASK_NAMES, values, strict=True))
        if changes:
            fields.update(changes)
            if len(fields) != len(_TASK_NAMES):
                raise TypeError(f"ChunkTask has no field {', '.join(sorted(changes.keys() - set(_TASK_NAMES)))}")
        return task

    def but(self, **changes: Any) -> ChunkTask:
        """A copy with ``changes``: ``dataclasses.replace`` without checking every field again (once per chunk).

        Examples
        --------
        >>> ChunkTask(0, 0, 2, [1, 2]).but(payload=None, slot=3)
        ChunkTask(index=0, start=0, stop=2, payload=None, mode='items', star=False, seed=None, share_folder=None, serialize=False, serial_seeds=False, timeout=None, collect=False, board=None, slot=3, timed=False)
        """
        copy = object.__new__(ChunkTask)
        values = copy.__dict__
        values.update(self.__dict__)
        values.update(changes)
        if len(values) != len(self.__dict__):
            unknown = changes.keys() - self.__dict__.keys()
            raise TypeError(f"ChunkTask has no field {', '.join(sorted(unknown))}")
        return copy


_TASK_NAMES = tuple(f.name for f in fields(ChunkTask))
_TASK_FIELDS = operator.attrgetter(*_TASK_NAMES)
_PAYLOAD, _BOARD = _TASK_NAMES.index("payload"), _TASK_NAMES.index("board")


@dataclass
class ChunkOutcome:
    """What a worker sends back for one chunk.

    The kernel completes it once, where it arrives (``Attempt._ended``: the value
    unpickled, the times it was queued and returned, the attempt number); from
    :meth:`~nbparallel.jobs.execution.Execution.record` on it is a record written
    once, never changed (a copy is made where a field must differ).
    """

    index: int
    start: int
    stop: int
    value: Any = None
    error: BaseException | None = None
    error_item: int | None = None
    error_item_repr: str | None = None
    frames: list[Frame] = field(default_factory=list)
    exc_only: str = ""
    output: str = ""
    elapsed: float = 0.0
    cancelled: bool = False
    pid: int = field(default_factory=os.getpid)
    value_bytes: bytes | None = None
    attempts: int = 1
    n_failed: int = 0  # items that became Failed records (errors="collect")
    # The timeline (``ChunkTask.timed``): wall-clock times (``time.time()``), seconds and bytes.
    worker: str = ""  # where it ran: "pid 123", a thread's name, a dask worker's address and thread
    queued: float = 0.0  # the kernel submitted it
    started: float = 0.0  # its worker began receiving its inputs (or computing, with nothing to receive)
    ended: float = 0.0  # its worker had its result packed
    returned: float = 0.0  # the kernel had its outcome
    recv_s: float = 0.0  # inputs: pickling in the kernel + unpickling in the worker
    send_s: float = 0.0  # result: pickling in the worker + unpickling in the kernel
    bytes_in: int = 0
    bytes_out: int = 0

    def __reduce__(self) -> tuple[Any, ...]:
        # Its fields in order: pickled with every chunk, a tuple costs less than the default's dict.
        return ChunkOutcome, self.values()

    def values(self) -> tuple[Any, ...]:
        """Its fields in order (``ChunkOutcome(*outcome.values())`` is a copy)."""
        return _OUTCOME_FIELDS(self)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled

    def fail(self, error: BaseException) -> None:
        """Record an error that has no worker traceback (raised by nbparallel itself)."""
        self.error = error
        self.exc_only = f"{type(error).__name__}: {error}\n"

    def load(self) -> None:
        """Unpickle a value the worker pickled itself (in the kernel)."""
        if self.value_bytes is not None:
            data, self.value_bytes = self.value_bytes, None
            began = time.time()
            try:
                self.value = pickle.loads(data)  # cloudpickle's pickles too
                if self.ended:
                    self.send_s += time.time() - began
            except Exception as exc:
                from ..errors import UnpicklableResult

                self.fail(
                    UnpicklableResult(
                        f"the result of chunk {self.index} (items {self.start}-{self.stop - 1}) "
                        f"could not be unpickled in the kernel: {type(exc).__name__}: {exc}"
                    )
                )


_OUTCOME_FIELDS = operator.attrgetter(*(f.name for f in fields(ChunkOutcome)))

"""What the runtime's parts need from a job, as a protocol.

The execution, the attempt, the supervisor, the registry and the runtime work
on a job; :class:`~.job.Job` uses them.  So that the imports run one way (the
handle on top), they name the job by this protocol, which
:class:`~.job.Job` satisfies, and never import it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..backends.base import Backend
from ..errors import ChunkFailure, Failed
from ..options import RunOptions
from ..worker.board import Board
from ..worker.task import ChunkOutcome, ChunkTask
from .watchers import Latch, Watchers

__all__ = ["JobLike", "Run", "Running"]


class Running(Protocol):
    """What runs one execution's chunks (an :class:`~.attempt.Attempt`)."""

    board: Board | None

    def in_flight(self) -> list[tuple[int, int]]: ...

    def stop(self) -> None: ...

    def cancel(self) -> None: ...

    def kick(self) -> None: ...


class Run(Protocol):
    """One execution of a job (an :class:`~.execution.Execution`), as the runtime's parts read it."""

    finished: Latch
    status: str
    result: Any
    error: BaseException | None
    cancel_requested: bool
    started_at: float
    finished_at: float | None

    @property
    def attempt(self) -> Running | None: ...

    def kill_for_timeout(self, chunk: int) -> None: ...

    def killed_for_timeout(self, chunk: int) -> bool: ...

    def record(self, outcome: ChunkOutcome) -> None: ...

    def retrying(self, outcome: ChunkOutcome) -> None: ...


class JobLike(Protocol):
    """A job as its runtime sees it: its public surface (see :class:`~.job.Job` for each member).

    Nothing here is private: the runtime's parts speak to a job through these
    methods, and the state of a run is its :class:`Run`'s.
    """

    id: int
    label: str
    func: Callable[..., Any]
    tasks: list[ChunkTask]
    finalize: Callable[[list[Any]], Any]
    options: RunOptions
    backend: Backend
    n_jobs: int
    shared_folder: str | None
    n_retries: int
    n_cached: int
    is_stream: bool
    learns_pace: bool
    size_option: str
    failed_items: list[Failed]
    display: Any
    recorder: Any  # its timeline's records (made by nbparallel.insights.timeline)
    watchers: Watchers

    @property
    def execution(self) -> Run | None: ...

    @property
    def status(self) -> str: ...

    @property
    def cancel_requested(self) -> bool: ...

    @property
    def total_items(self) -> int | None: ...

    @property
    def n_total(self) -> int: ...

    @property
    def n_ok(self) -> int: ...

    @property
    def elapsed(self) -> float: ...

    @property
    def widget(self) -> Any: ...

    @property
    def errors(self) -> list[ChunkFailure | Failed]: ...

    @property
    def outcomes(self) -> dict[int, ChunkOutcome]: ...

    def done(self) -> bool: ...

    def subscribe(self, observer: Callable[[ChunkOutcome | None], Any]) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...

    def result(self, timeout: float | None = None) -> Any: ...

    def cancel(self) -> bool: ...

    def stop_execution(self) -> bool: ...

    def start(self, tasks: Sequence[ChunkTask] | None = None) -> Any: ...

    def runnable(self, func: Callable[..., Any]) -> Callable[..., Any]: ...

    def counts(self) -> tuple[int, int, int, int]: ...

    def keep_outcome(self, outcome: ChunkOutcome) -> None: ...

    def sibling(self, tasks: list[ChunkTask], finalize: Callable[[list[Any]], Any], *, label: str) -> JobLike: ...

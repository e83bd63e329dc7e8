"""What the runtime's parts need from a job, as a protocol.

The attempt, the lifecycle, the supervisor, the registry and the runtime work
on a job; :class:`~.job.Job` uses them.  So that the imports run one way (the
handle on top), they name the job by this protocol, which
:class:`~.job.Job` satisfies, and never import it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Protocol

from ..backends.base import Backend
from ..errors import ChunkFailure, Failed
from ..options import RunOptions
from ..worker.board import Board
from ..worker.task import ChunkOutcome, ChunkTask

__all__ = ["JobLike", "Running"]


class Running(Protocol):
    """One execution of a job's chunks (an :class:`~.attempt.Attempt`)."""

    board: Board | None
    finished: Future[None]

    def in_flight(self) -> list[tuple[int, int]]: ...

    def stop(self) -> None: ...

    def cancel(self) -> None: ...

    def kick(self) -> None: ...


class JobLike(Protocol):
    """A job as its runtime sees it (see :class:`~.job.Job` for the meaning of each member)."""

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
    cancel_requested: bool
    started_at: float | None
    finished_at: float | None
    is_stream: bool
    learns_pace: bool
    size_option: str
    _outcomes: dict[int, ChunkOutcome]
    _failed_items: list[Failed]
    _killed_for_timeout: set[int]
    _attempt: Running | None
    _finished: Future[None] | None
    _settled: Future[None]
    _status: str
    _result: Any
    _error: BaseException | None
    _callbacks: list[Callable[[Any], Any]]
    _hooks: list[Callable[[Any], Any]]
    _cache: Any
    _cache_keys: dict[int, str]
    _lock: threading.RLock
    _display: Any
    _notes: list[tuple[type[Warning], str]]

    @property
    def status(self) -> str: ...

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

    def done(self) -> bool: ...

    def subscribe(self, observer: Callable[[ChunkOutcome | None], Any]) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...

    def result(self, timeout: float | None = None) -> Any: ...

    def cancel(self) -> bool: ...

    def start(self, tasks: Sequence[ChunkTask] | None = None) -> Any: ...

    def runnable(self, func: Callable[..., Any]) -> Callable[..., Any]: ...

    def _counts(self) -> tuple[int, int, int, int]: ...

    def _keep(self, outcome: ChunkOutcome) -> None: ...

    def _notify(self, event: ChunkOutcome | None) -> None: ...

    def _record(self, outcome: ChunkOutcome) -> None: ...

    def _retrying(self, outcome: ChunkOutcome) -> None: ...

    def _stop_attempt(self) -> bool: ...

    def _on_success(self, fn: Callable[[Any], Any]) -> None: ...

    def _sibling(self, tasks: list[ChunkTask], finalize: Callable[[list[Any]], Any], *, label: str) -> JobLike: ...

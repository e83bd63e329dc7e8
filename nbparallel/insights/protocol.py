"""What the insights read of a job, as a protocol (they sit below the runtime and never import it)."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Observed"]


class Observed(Protocol):
    """A job as its timeline and report read it (:class:`~nbparallel.Job` satisfies it)."""

    id: int
    label: str
    n_jobs: int
    backend: Any
    size_option: str  # the call's knob for chunk sizes ("chunk_size", joblib's "batch_size")
    recorder: Any  # its timeline's records (made by the timeline)

    @property
    def total_items(self) -> int | None: ...

    @property
    def status(self) -> str: ...

    @property
    def execution(self) -> Any: ...

    def wait(self, timeout: float | None = None) -> bool: ...

    def result(self, timeout: float | None = None) -> Any: ...

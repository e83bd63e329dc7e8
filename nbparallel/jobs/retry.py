"""Running failed work again: the failed chunks of a job, or (``errors="collect"``) its failed items."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..data.partition import kind_of
from ..worker.task import ChunkTask
from . import runtime

if TYPE_CHECKING:
    from .protocol import JobLike

__all__ = ["retry", "retry_items"]


def _item_task(job: JobLike, number: int, index: int) -> ChunkTask:
    """A one-item chunk for item ``index`` (same position, so the same seed as before)."""
    starts = [t.start for t in job.tasks]
    task = job.tasks[bisect.bisect_right(starts, index) - 1]
    if task.payload is None:
        raise TypeError(
            f"job {job.id} read its input from an iterator once and did not keep it, so its failed items "
            "cannot run again; the Failed records in the result say which items they are (index, item_repr)"
        )
    a, b = index - task.start, index - task.start + 1
    pieces = task.payload if task.star else (task.payload,)
    taken = tuple(kind_of(p).take(p, a, b) for p in pieces)
    return ChunkTask(
        number,
        index,
        index + 1,
        taken if task.star else taken[0],
        "items",
        task.star,
        seed=task.seed,
        timeout=task.timeout,
        collect=True,
    )


def retry_items(job: JobLike, func: Callable[..., Any] | None, *, background: bool) -> Any:
    """Run the failed items of a finished ``errors="collect"`` job again, and put their values in place.

    The job's result list is updated where the items now succeed (an item that
    fails again stays a Failed record); ``job.errors`` then lists what still
    failed.  Returns the full result, or with ``background=True`` the job that
    reruns the items (the parent's result is updated when it finishes).
    """
    failed = sorted(job.failed_items, key=lambda f: f.index)
    tasks = [_item_task(job, number, f.index) for number, f in enumerate(failed)]
    if func is not None:
        job.func = job.runnable(func)
    rerun = job.sibling(
        tasks, lambda parts: [v for part in parts for v in part], label=f"{job.label} (failed items of job {job.id})"
    )

    execution = job.execution
    assert execution is not None  # the job is done

    def put_back(values: list[Any]) -> None:
        for f, value in zip(failed, values, strict=True):
            execution.result[f.index] = value
        job.failed_items = list(rerun.failed_items)
        if not job.failed_items:  # nothing left to retry: the inputs can go
            from .execution import release_inputs

            release_inputs(job)

    rerun.watchers.on_success(put_back)
    if background:
        return runtime.run(rerun, background=True)
    runtime.run(rerun, background=False)
    return execution.result


def retry(job: JobLike, func: Callable[..., Any] | None, *, background: bool) -> Any:
    """What :meth:`Job.retry_failed` does: rerun what failed, was cancelled or never ran, and finish ``job``."""
    if not job.done():
        raise RuntimeError(f"job {job.id} is still {job.status}; wait for it or cancel it first")
    if job.status == "done":
        if job.failed_items:  # errors="collect": only the items that raised run again
            return retry_items(job, func, background=background)
        return job if background else job.result()
    if func is not None:
        job.func = job.runnable(func)  # the job keeps its name (its label): the same job, a fixed function
    kept = {i for i, o in job.outcomes.items() if o.ok}
    # a new execution over the rest: those chunks get new outcomes; nothing is reset by hand
    return runtime.run(job, [t for t in job.tasks if t.index not in kept], background=background)

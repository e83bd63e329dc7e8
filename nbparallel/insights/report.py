"""A job's timeline, summed up: wall time, speed-up, each worker's use, transfer share, the slowest chunks.

:func:`report_of` reads the job's chunk records (:mod:`~.timeline`) and
returns a :class:`Report`.  It shows as HTML in a notebook, prints as text,
draws a Gantt chart with :meth:`Report.plot` (matplotlib, imported only then),
and names a plain mistake with its fix in one line (:class:`Advice`): chunks
so small that overhead dominates, one straggler chunk the job waited for,
moving data costing more than the work.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .report_html import Advice, Report, WorkerUse
from .timeline import ChunkRecord, recorder_of

if TYPE_CHECKING:
    from .protocol import Observed as JobLike

__all__ = ["Report", "Advice", "WorkerUse", "report_of", "advise"]  # Report, Advice, WorkerUse: from .report_html

#: A chunk computing for less than this (median) is "small" (seconds).
SMALL_CHUNK = 0.01

#: Work aimed at per chunk when advising a chunk size (seconds).
TARGET_CHUNK = 0.1

#: Seconds before the first chunk starts that count as the pool starting up.
STARTUP_WAIT = 0.5

#: A chunk is a straggler when it took this many times the median chunk...
STRAGGLER_RATIO = 3.0

#: ...and the job ran on its worker alone, waiting for it, for this share of its wall time.
STRAGGLER_SHARE = 0.25


def _use(records: Sequence[ChunkRecord], wall_s: float) -> list[WorkerUse]:
    by: dict[str, list[ChunkRecord]] = {}
    for r in records:
        by.setdefault(r.worker, []).append(r)
    return [
        WorkerUse(worker, len(rs), busy, busy / wall_s if wall_s > 0 else 0.0)
        for worker, rs in sorted(by.items())
        for busy in [sum(r.busy_s for r in rs)]
    ]


def advise(
    records: Sequence[ChunkRecord],
    wall_s: float,
    n_workers: int,
    began: float | None = None,
    *,
    n_items: int | None = None,
    size_option: str = "chunk_size",
) -> list[Advice]:
    """The plain mistakes ``records`` show, each in one line with a concrete fix.

    Parameters
    ----------
    records : sequence of ChunkRecord
        The chunk runs (a job's timeline).
    wall_s : float
        The job's wall time.
    n_workers : int
        Workers the job had.
    began : float, optional
        When the job started (``time.time()``): a long wait for the first chunk is the pool starting.
    n_items : int, optional
        The job's items (default: those the records cover); no advised chunk is larger
        than an equal share of them per worker.
    size_option : str, default="chunk_size"
        The caller's option for items per chunk (``batch_size`` for joblib's ``Parallel``).

    Returns
    -------
    list of Advice

    Examples
    --------
    >>> from nbparallel.insights.timeline import ChunkRecord
    >>> def run(i, busy, items=100):
    ...     return ChunkRecord(i, 1, f"pid {i % 2}", i % 2, i * items, (i + 1) * items,
    ...                        0.0, 0.0, busy, busy, 0.0, busy, 0.0, 0, 0, "ok")
    >>> [a.kind for a in advise([run(i, 0.2) for i in range(7)] + [run(7, 3.0)], 3.5, 2)]
    ['straggler']
    """
    ran = [r for r in records if r.worker]
    if not ran or wall_s <= 0:
        return []
    advice = []
    busy = [r.busy_s for r in ran]
    median_busy = statistics.median(busy)
    median_compute = statistics.median(r.compute_s for r in ran)
    use = sum(busy) / (wall_s * max(1, n_workers))
    items = statistics.median(r.items for r in ran)
    if median_compute < SMALL_CHUNK and use < 0.7 and len(ran) > 1 and items >= 1:
        if n_items is None:
            n_items = sum({r.chunk: r.items for r in ran}.values())
        per_item = max(median_compute / max(items, 1), 1e-7)
        share = max(1, math.ceil(n_items / max(1, n_workers)))  # one chunk per worker at most
        size = int(min(max(TARGET_CHUNK / per_item, 2 * items), 1_000_000, share))
        why = (
            f"the median chunk computes for {median_compute * 1e3:.2g} ms and the workers were busy "
            f"{use:.0%} of the time"
        )
        compute = sum(r.compute_s for r in ran)
        if compute < TARGET_CHUNK:  # less than one chunk's worth in all: no chunk size helps
            advice.append(
                Advice(
                    "small-chunks",
                    f"The whole call is too little work to run in parallel: {n_items} items computed for "
                    f"{compute * 1e3:.2g} ms in all ({why}); a plain loop, or n_jobs=1, is quicker.",
                )
            )
        elif size > items:
            advice.append(
                Advice(
                    "small-chunks",
                    f"Chunks are too small, so overhead dominates: {why}; pass {size_option}={size} "
                    f"(about {TARGET_CHUNK:g} s of work per chunk, at most an equal share of the items per worker).",
                )
            )
    worst = max(ran, key=lambda r: r.busy_s)
    others = [r.ended for r in ran if r.worker != worst.worker]
    alone = worst.ended - max(others) if others else 0.0  # the job ran on its worker alone for this long
    if len(ran) >= 3 and worst.busy_s > STRAGGLER_RATIO * median_busy and alone > STRAGGLER_SHARE * wall_s:
        if worst.items > 1:
            fix = (
                f"split the work finer ({size_option}={max(1, worst.items // 8)}) so its slow items spread over "
                f"the workers, or look at why items {worst.start_item}-{worst.stop_item - 1} are slow"
            )
        else:
            fix = f"it is one item ({worst.start_item}): make that item cheaper or split it into smaller items"
        advice.append(
            Advice(
                "straggler",
                f"One straggler: chunk {worst.chunk} took {worst.busy_s:.3g} s, {worst.busy_s / median_busy:.0f}x "
                f"the median chunk, and the job waited for it; {fix}.",
            )
        )
    waited = min(r.started for r in ran) - began if began is not None else 0.0
    if waited > STARTUP_WAIT and waited > 0.3 * wall_s:
        advice.append(
            Advice(
                "startup",
                f"Workers starting: the first chunk began {waited:.2g} s after the job started; warm the pool "
                "beforehand (%load_ext nbparallel does it in the background, or nbparallel.warm()).",
            )
        )
    transfer = sum(r.recv_s + r.send_s for r in ran)
    compute = sum(r.compute_s for r in ran)
    if transfer > compute and transfer > 0.05 * wall_s:
        mb_in = sum(r.bytes_in for r in ran) / 1e6
        mb_out = sum(r.bytes_out for r in ran) / 1e6
        advice.append(
            Advice(
                "transfer",
                f"Moving data costs more than the work: {transfer:.3g} s pickling {mb_in:.3g} MB in and "
                f"{mb_out:.3g} MB out against {compute:.3g} s of compute; send less (large NumPy arrays travel "
                "through shared memory, so pass arrays rather than lists; return only what you need) or use "
                "backend='threading' if the function releases the GIL.",
            )
        )
    return advice


def report_of(job: JobLike) -> Report:
    """The :class:`Report` of ``job`` (what :meth:`~nbparallel.Job.report` returns).

    Examples
    --------
    >>> import nbparallel as nbp
    >>> job = nbp.pmap(abs, range(8), chunks=2, n_jobs=1, background=True, progress=False)
    >>> rep = (job.result(), job.report())[1]
    >>> rep.n_chunks, rep.status, 0 <= rep.transfer_share <= 1
    (2, 'done', True)
    """
    recorder = recorder_of(job)
    records = sorted(recorder.snapshot(), key=lambda r: (r.chunk, r.attempt))
    began, ended = recorder.span()
    wall_s = max(ended - began, 0.0)
    ran = [r for r in records if r.worker]
    return Report(
        label=job.label,
        status=job.status,
        n_workers=job.n_jobs,
        wall_s=wall_s,
        began=began,
        records=records,
        workers=_use(ran, wall_s),
        slowest=sorted(ran, key=lambda r: -r.busy_s)[:5],
        advice=advise(records, wall_s, job.n_jobs, began, n_items=job.total_items, size_option=job.size_option),
        dropped=recorder.dropped,
    )

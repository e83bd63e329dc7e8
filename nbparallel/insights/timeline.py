"""Where a job's time went: one record per chunk run (worker, wall-clock times, transfer, bytes, outcome).

Workers stamp their chunks with ``time.time()`` (the wall clock: one time base
for the kernel and every worker on this machine; on a dask cluster each worker
uses its own machine's clock) and the kernel adds when it submitted a chunk and
when its outcome came back (:class:`~nbparallel.worker.task.ChunkOutcome`).
The runtime notes every chunk run here as it ends, failed attempts that ran
again included, so a stream (``imap``), which keeps no outcomes, has a timeline
too.  :func:`timeline_of` turns the records into a pandas ``DataFrame``.

Recording costs a few clock readings and one more pickle frame per chunk, never
a step per item; :func:`record_timelines` turns it off (the bench compares both).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import ChunkTimeout, WorkerDied
from ..worker.task import ChunkOutcome

if TYPE_CHECKING:
    from .protocol import Observed as JobLike

__all__ = ["ChunkRecord", "Recorder", "record_timelines", "recording", "recorder_of", "timeline_of", "running_of"]

_recording = True

#: Most chunk runs a job keeps records of (a long stream keeps its first ones, and counts the rest).
MAX_RECORDS = 50_000


def record_timelines(enabled: bool) -> bool:
    """Turn the recording of job timelines on or off (on by default); returns the previous setting.

    Jobs started while it is off have an empty :meth:`~nbparallel.Job.timeline`.

    Parameters
    ----------
    enabled : bool
        Record (``True``) or not.

    Returns
    -------
    bool
        Whether recording was on before.

    Examples
    --------
    >>> previous = record_timelines(False)
    >>> recording()
    False
    >>> _ = record_timelines(previous)
    """
    global _recording
    previous, _recording = _recording, bool(enabled)
    return previous


def recording() -> bool:
    """Whether jobs started now record their timeline.

    Examples
    --------
    >>> recording()
    True
    """
    return _recording


class ChunkRecord(NamedTuple):
    """One run of one chunk (a row of :meth:`~nbparallel.Job.timeline`); times are ``time.time()``."""

    chunk: int
    attempt: int
    worker: str
    pid: int
    start_item: int
    stop_item: int
    queued: float
    started: float
    ended: float
    returned: float
    recv_s: float
    compute_s: float
    send_s: float
    bytes_in: int
    bytes_out: int
    outcome: str

    @property
    def items(self) -> int:
        """Items in the chunk."""
        return self.stop_item - self.start_item

    @property
    def busy_s(self) -> float:
        """Seconds its worker spent on it (receiving, computing, sending)."""
        return self.ended - self.started


COLUMNS = list(ChunkRecord._fields)


def _how(outcome: ChunkOutcome, retried: bool) -> str:
    if outcome.cancelled:
        return "cancelled"
    if outcome.error is not None:
        if retried:
            return "retried"
        if isinstance(outcome.error, ChunkTimeout):
            return "timeout"
        return "lost" if isinstance(outcome.error, WorkerDied) else "failed"
    return "ok" if outcome.queued else "cached"


class Recorder:
    """The chunk records of one job, and the wall-clock span of its executions."""

    def __init__(self) -> None:
        self.records: list[ChunkRecord] = []
        self.dropped = 0  # runs past MAX_RECORDS, not kept
        self.began: float | None = None  # the first execution started
        self.ended: float | None = None  # the last one ended (None while running)
        self._lock = threading.Lock()

    def begin(self) -> None:
        """An execution starts (``retry_failed`` starts another: the span covers them all)."""
        with self._lock:
            if self.began is None:
                self.began = time.time()
            self.ended = None

    def end(self) -> None:
        """An execution ended."""
        self.ended = time.time()

    def note(self, outcome: ChunkOutcome, *, retried: bool = False) -> None:
        """Keep the record of a chunk run that ended."""
        now = time.time()
        returned = outcome.returned or now
        started = outcome.started or returned  # made in the kernel (cache, lost worker): no run
        ended = outcome.ended or started
        record = ChunkRecord(
            outcome.index,
            outcome.attempts,
            outcome.worker,
            outcome.pid if outcome.worker else 0,
            outcome.start,
            outcome.stop,
            outcome.queued or started,
            started,
            ended,
            returned,
            outcome.recv_s,
            outcome.elapsed if outcome.worker else 0.0,
            outcome.send_s,
            outcome.bytes_in,
            outcome.bytes_out,
            _how(outcome, retried),
        )
        with self._lock:
            if len(self.records) < MAX_RECORDS:
                self.records.append(record)
            else:
                self.dropped += 1

    def snapshot(self) -> list[ChunkRecord]:
        """The records so far, in the order the runs ended."""
        with self._lock:
            return list(self.records)

    def slowest(self) -> ChunkRecord | None:
        """The run with the most compute seconds so far."""
        records = self.snapshot()
        return max(records, key=lambda r: r.compute_s) if records else None

    def span(self) -> tuple[float, float]:
        """``(began, ended)`` of the job in wall-clock time (``ended`` is now while it runs)."""
        began = self.began if self.began is not None else time.time()
        return began, self.ended if self.ended is not None else time.time()


_recorders_lock = threading.Lock()  # a job's recorder is made once (kept on the job: it lives as long)


def recorder_of(job: JobLike) -> Recorder:
    """The recorder of ``job`` (made on first use; it lives as long as the job).

    Examples
    --------
    >>> import nbparallel as nbp
    >>> job = nbp.pmap(abs, [-1, -2], chunks=2, n_jobs=1, background=True, progress=False)
    >>> job.wait() and len(recorder_of(job).snapshot())
    2
    """
    recorder: Recorder | None = job.recorder
    if recorder is None:
        with _recorders_lock:
            recorder = job.recorder
            if recorder is None:
                recorder = job.recorder = Recorder()
    return recorder


# -- the runtime's hooks (jobs.execution, jobs.attempt) --------------------------------------
def begin(job: JobLike) -> None:
    """``job`` starts an execution (the runtime calls this, :func:`note` and :func:`end`).

    Examples
    --------
    >>> import nbparallel as nbp
    >>> job = nbp.pmap(abs, [-1], n_jobs=1, background=True, progress=False)
    >>> job.wait() and recorder_of(job).ended is not None  # begin, note, end ran
    True
    """
    if _recording:
        recorder_of(job).begin()


def note(job: JobLike, outcome: ChunkOutcome, *, retried: bool = False) -> None:
    """A chunk run of ``job`` ended (``retried``: it failed and runs again).

    Examples
    --------
    >>> import nbparallel as nbp
    >>> job = nbp.pmap(abs, [-1], n_jobs=1, background=True, progress=False)
    >>> job.wait() and recorder_of(job).snapshot()[0].outcome
    'ok'
    """
    if _recording:
        recorder_of(job).note(outcome, retried=retried)


def end(job: JobLike) -> None:
    """An execution of ``job`` ended.

    Examples
    --------
    >>> import nbparallel as nbp
    >>> job = nbp.pmap(abs, [-1], n_jobs=1, background=True, progress=False)
    >>> began, ended = (job.wait(), recorder_of(job).span())[1]
    >>> began <= ended
    True
    """
    recorder = job.recorder
    if recorder is not None:
        recorder.end()


# -- reading ----------------------------------------------------------------------------
def timeline_of(job: JobLike) -> Any:
    """The timeline of ``job`` as a pandas ``DataFrame`` (what :meth:`~nbparallel.Job.timeline` returns).

    One row per chunk run, in chunk order (a chunk that failed and ran again
    has a row per attempt).  Columns: ``chunk``, ``attempt``, ``worker`` (``"pid
    N"`` for a worker process, a thread's name for threads, address and thread
    on dask), ``pid``, ``start_item``, ``stop_item``, ``items``, ``queued``,
    ``started``, ``ended``, ``returned`` (``time.time()`` seconds: the kernel
    submitted the chunk, its worker began receiving it, had its result packed,
    the kernel had the result), ``recv_s`` (pickling the inputs in the kernel
    and unpickling them in the worker), ``compute_s``, ``send_s`` (the result,
    the other way), ``bytes_in``, ``bytes_out``, ``retries`` and ``outcome``
    (``ok``, ``failed``, ``retried``, ``timeout``, ``lost``, ``cancelled``,
    ``cached``).  ``df.attrs`` holds the job's ``job_started``, ``job_ended``
    and ``wall_s``, and ``dropped``: runs not kept, past :data:`MAX_RECORDS`
    (a long stream keeps the first ones).

    Raises
    ------
    ImportError
        Without pandas.

    Examples
    --------
    >>> import nbparallel as nbp
    >>> job = nbp.pmap(abs, range(8), chunks=2, n_jobs=1, background=True, progress=False)
    >>> df = (job.wait(), timeline_of(job))[1]
    >>> df[["chunk", "items", "outcome"]].values.tolist()
    [[0, 4, 'ok'], [1, 4, 'ok']]
    >>> bool((df["ended"] <= df.attrs["job_ended"]).all())
    True
    """
    try:
        import pandas as pd
    except ImportError as err:  # pragma: no cover - pandas is in the test extra
        raise ImportError("job.timeline() returns a pandas DataFrame: pip install pandas") from err
    recorder = job.recorder
    records = sorted(recorder.snapshot() if recorder is not None else [], key=lambda r: (r.chunk, r.attempt))
    frame = pd.DataFrame(records, columns=COLUMNS)
    frame.insert(frame.columns.get_loc("stop_item") + 1, "items", frame["stop_item"] - frame["start_item"])
    frame.insert(len(frame.columns) - 1, "retries", frame["attempt"] - 1)
    began, ended = recorder.span() if recorder is not None else (float("nan"), float("nan"))
    frame.attrs.update(
        job_started=began, job_ended=ended, wall_s=ended - began, dropped=recorder.dropped if recorder else 0
    )
    return frame


def running_of(job: JobLike) -> list[tuple[str, int, int, float]]:
    """The chunks of ``job`` running now: ``(worker, pid, chunk, started)``, from its control board.

    ``pid`` is 0 where the process is not on this machine (dask); ``started`` is ``time.time()``.

    Examples
    --------
    >>> import nbparallel as nbp
    >>> job = nbp.pmap(abs, [-1, -2], n_jobs=1, background=True, progress=False)
    >>> job.wait() and running_of(job)  # nothing runs once the job is over
    []
    """
    execution = job.execution
    attempt = execution.attempt if execution is not None else None
    board = attempt.board if attempt is not None else None
    if board is None:
        return []
    names: dict[int, str] = {}
    where: dict[int, str] = getattr(board, "where", {})  # a dask board: the address of each row's worker
    running = []
    for row in board.running(job.id):
        if row.slot in where:
            worker, pid = where[row.slot], 0
        elif job.backend.processes:
            worker, pid = f"pid {row.pid}", row.pid
        else:
            if not names:
                names = {t.ident or 0: t.name for t in threading.enumerate()}
            worker, pid = names.get(row.tid, f"thread {row.tid}"), row.pid
        running.append((worker, pid, row.chunk, row.started))
    return sorted(running)

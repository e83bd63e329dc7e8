"""The supervisor: per-chunk timeouts, and killing workers whose chunk ignores its interrupt.

One thread for the whole process, started when a job needs watching (it has a
``timeout``, or it was cancelled while a chunk ran) and gone when none does.  It
reads the backend's control board, never the display: supervision works the
same with or without a progress bar.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from ..worker.board import CANCEL, TIMEOUT

if TYPE_CHECKING:
    from .protocol import JobLike

__all__ = ["watch", "KILL_AFTER", "TICK"]

log = logging.getLogger("nbparallel")

#: Seconds a chunk gets to stop after its interrupt (cancel or timeout) before its worker is killed.
KILL_AFTER = 1.5

#: Seconds between two looks at the watched jobs.
TICK = 0.1

_lock = threading.Lock()
_watched: dict[int, JobLike] = {}
#: (job, chunk, when that run of the chunk started) -> when its interrupt was sent.  A run, not a chunk:
#: a chunk that runs again (``retries=``, ``retry_failed``) is a new run with a timeout of its own.
_flagged: dict[tuple[int, int, float], float] = {}
_thread: threading.Thread | None = None


def watch(job: JobLike) -> None:
    """Watch ``job`` until it ends (timeouts, stuck chunks after a cancel)."""
    global _thread
    with _lock:
        _watched[job.id] = job
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_loop, name="nbparallel-supervisor", daemon=True)
            _thread.start()


def _loop() -> None:
    global _thread
    while True:
        time.sleep(TICK)
        with _lock:
            jobs = list(_watched.values())
        for job in jobs:
            try:
                _look_at(job)
            except Exception:  # supervising one job must never stop the others'
                log.exception("nbparallel: supervising job %s failed", job.id)
        with _lock:
            for job in jobs:
                if job.done() and _watched.get(job.id) is job:
                    del _watched[job.id]
                    for key in [k for k in _flagged if k[0] == job.id]:
                        del _flagged[key]
            if not _watched:
                _thread = None
                return


def _look_at(job: JobLike) -> None:
    backend, execution = job.backend, job.execution
    attempt = execution.attempt if execution is not None else None
    board = attempt.board if attempt is not None else None
    if execution is None or board is None or job.done():
        return
    timeout = job.options.timeout
    now = time.monotonic()
    for row in board.running(job.id):
        key = (job.id, row.chunk, row.started)
        flagged = _flagged.get(key)
        if flagged is None:
            if job.cancel_requested:
                board.flag(row.slot, CANCEL)
            elif timeout is not None and time.time() - row.started > timeout:
                board.flag(row.slot, TIMEOUT)
                log.warning("job %s: chunk %d ran past the %s s timeout; stopping it", job.id, row.chunk, timeout)
            else:
                continue
            _flagged[key] = now
            if backend.can_interrupt:
                backend.interrupt(row, board.flags(row.slot))
        elif (backend.can_kill_workers or backend.can_release) and now - flagged > KILL_AFTER:
            if not job.cancel_requested:
                execution.kill_for_timeout(row.chunk)
            if backend.can_kill_workers:
                log.warning("job %s: chunk %d ignored its interrupt; killing its worker %d", job.id, row.chunk, row.pid)
                backend.kill(row.pid)
            else:
                log.warning("job %s: chunk %d ignored its interrupt; releasing it", job.id, row.chunk)
                backend.release_chunk(row)
            _flagged[key] = now + 3600  # killed once

"""Calling the user's function on one chunk inside a worker, and packaging the outcome.

Nothing here raises back to the executor: a failing chunk returns a
:class:`~.task.ChunkOutcome` carrying the exception, the item that failed, the
worker traceback frames and what the chunk printed.  The pool therefore never
breaks for a user error, and finished chunks are never thrown away.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import reprlib
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

from ..errors import ChunkTimeout, Failed, UnpicklableResult
from ..tracebacks import remote_frames, render_traceback
from .capture import Capture
from .control import ChunkCancelled, ChunkTimedOut, Running, check, flag_exception
from .functions import resolve
from .task import ChunkOutcome, ChunkTask
from .transit import Arrived, Shipped, open_chunk_message, outcome_message, sendable, unwrap

__all__ = ["run_chunk", "run_message", "seed_item"]

_SEEDED_IN_PROCESS = threading.Lock()
_NO_LOCK = contextlib.nullcontext()
_CHECK_EVERY = 0.2  # seconds between looks at the cancel/timeout flags inside a chunk

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = 6


def seed_item(seed: int, index: int) -> None:
    """Seed Python's ``random`` and NumPy's global generator for item ``index``.

    The stream is ``np.random.SeedSequence(seed, spawn_key=(index,))``: the same
    for an item wherever and in whatever order it runs. Call it before each item
    to reproduce a seeded ``pmap`` sequentially.

    Parameters
    ----------
    seed : int
        The job's ``seed``.
    index : int
        The item's position in the input.

    Examples
    --------
    >>> import random
    >>> seed_item(7, 3); a = random.random()
    >>> seed_item(7, 3); a == random.random()
    True
    """
    import random

    import numpy as np

    state = np.random.SeedSequence(seed, spawn_key=(int(index),)).generate_state(4)
    random.seed(int.from_bytes(state.tobytes(), "little"))
    np.random.seed(state[:2])


_outside_lock = threading.Lock()
_outside: list[Any] = []  # the generators' state before the first seeded chunk of those running began
_running_seeded = 0  # seeded chunks running on threads of this process


@contextlib.contextmanager
def _callers_generators() -> Iterator[None]:
    """Around a seeded chunk on threads: ``random`` and ``np.random`` are as they were once none runs.

    Threads share the kernel's global generators with the caller: the state
    before the first seeded chunk is kept, and put back when the last one
    ends (once per chunk: copying the state per item would cost more than
    seeding it).  Items run one at a time under :data:`_SEEDED_IN_PROCESS`.
    """
    import random

    import numpy as np

    global _running_seeded
    with _outside_lock:
        if not _running_seeded:
            _outside[:] = [random.getstate(), np.random.get_state()]
        _running_seeded += 1
    try:
        yield
    finally:
        with _outside_lock:
            _running_seeded -= 1
            if not _running_seeded and _outside:
                random.setstate(_outside[0])
                np.random.set_state(_outside[1])
                _outside.clear()


def _call(func: Any, task: ChunkTask, outcome: ChunkOutcome, at: list[Any]) -> None:
    """Call ``func`` on the chunk; ``at`` tracks ``[position, item]`` for error reports."""
    if task.seed is not None and task.serial_seeds:
        with _callers_generators():
            _call_in(func, task, outcome, at, _SEEDED_IN_PROCESS)
    else:
        _call_in(func, task, outcome, at, _NO_LOCK)


def _call_in(
    func: Any, task: ChunkTask, outcome: ChunkOutcome, at: list[Any], seeded: contextlib.AbstractContextManager[Any]
) -> None:
    """:func:`_call`, with ``seeded`` held around each seeded item."""
    if task.mode == "chunk":
        with seeded:
            if task.seed is not None:
                seed_item(task.seed, task.start)
            outcome.value = func(*task.payload) if task.star else func(task.payload)
        return
    star, seed, collect = task.star, task.seed, task.collect
    looks = _Looks(task)
    countdown = 1
    values = []
    position, item = task.start, None
    try:
        for position, item in enumerate(zip(*task.payload) if star else task.payload, start=task.start):
            if seed is not None:
                with seeded:
                    seed_item(seed, position)
                    if collect:
                        values.append(_collecting(func, star, item, position, outcome, task.serialize))
                    else:
                        values.append(func(*item) if star else func(item))
            elif collect:
                values.append(_collecting(func, star, item, position, outcome, task.serialize))
            else:
                values.append(func(*item) if star else func(item))
            countdown -= 1
            if not countdown:
                countdown = looks.look()
    except BaseException:
        at[:] = [position, item]
        raise
    outcome.value = values


class _Looks:
    """When a running chunk looks at its cancel and timeout flags: about every ``_CHECK_EVERY`` s.

    Reading the clock after every item would cost more than a trivial item
    itself, so the clock is read every ``stride`` items, a stride that doubles
    while items are fast and halves when they are slow.
    """

    def __init__(self, task: ChunkTask) -> None:
        self.task = task
        self.began = self.last = time.monotonic()
        self.next_check = self.began + _CHECK_EVERY
        self.stride = 1

    def look(self) -> int:
        """Check the flags if it is time; return how many items to run before the next look."""
        now = time.monotonic()
        if now - self.last < _CHECK_EVERY / 20:
            self.stride = min(2 * self.stride, 128)  # bounded: items may turn slow
        else:
            self.stride = max(1, self.stride // 2)
        self.last = now
        if now > self.next_check:
            task = self.task
            if task.board is not None:
                check(task.board, task.slot)
            if task.timeout is not None and now - self.began > task.timeout:
                raise ChunkTimedOut()
            self.next_check = now + _CHECK_EVERY
        return self.stride


def _collecting(func: Any, star: bool, item: Any, position: int, outcome: ChunkOutcome, serialize: bool) -> Any:
    """``func`` on one item; an exception becomes a :class:`~nbparallel.Failed` record instead."""
    try:
        return func(*item) if star else func(item)
    except Exception as exc:  # a cancel or timeout is a BaseException: it still stops the chunk
        outcome.n_failed += 1
        exc_only = "".join(traceback.format_exception_only(type(exc), exc))
        frames = remote_frames(exc)
        error = sendable(exc) if serialize else exc  # threads pickle nothing: the very exception
        return Failed(error, position, _repr.repr(item), render_traceback(frames, exc_only), frames)


#: Times a chunk runs again after an interrupt that was not its own (see :func:`_misdirected`).
MISDIRECTED_RERUNS = 2


def _misdirected(task: ChunkTask) -> bool:
    """Whether the interrupt that stopped this chunk was meant for another one.

    A thread is interrupted by an asynchronous exception, raised at its next
    bytecode: sent to a chunk that ends just then, it lands in the next chunk
    the thread runs, another job's maybe.  That chunk's own row is not
    flagged, so it runs again instead of ending cancelled.
    """
    board = task.board
    return (
        board is not None and board.flags_complete and task.slot >= 0 and flag_exception(board.flags(task.slot)) is None
    )


def run_chunk(func: Any, task: ChunkTask) -> ChunkOutcome:
    """Run ``func`` on one chunk inside a worker and return its outcome.

    Parameters
    ----------
    func : callable or PackedFunction
        The user's function (a packed one is unpickled once per worker).
    task : ChunkTask
        The chunk and how to call ``func`` on it.

    Returns
    -------
    ChunkOutcome
        The value, or the exception with the failing item and traceback frames; the
        chunk's printed output in both cases.

    Examples
    --------
    >>> run_chunk(abs, ChunkTask(0, 0, 2, [-1, -2])).value
    [1, 2]
    """
    outcome = ChunkOutcome(task.index, task.start, task.stop)
    arrived = None
    if isinstance(task.payload, (Shipped, Arrived)):
        payload, arrived = unwrap(task.payload)
        if arrived is not None:  # the worker's own copy of the task: unwrapped in place (replace() costs more)
            object.__setattr__(task, "payload", payload)
        else:
            task = dataclasses.replace(task, payload=payload)
    if task.timed:
        outcome.started = time.time()
        if arrived is not None:  # its unpickling counts as the start of its run on this worker
            outcome.started -= arrived.unpickle_s
            outcome.recv_s, outcome.bytes_in = arrived.recv_s, arrived.nbytes
        outcome.worker = f"pid {os.getpid()}" if task.serialize else threading.current_thread().name
    del arrived
    at: list[Any] = [None, None]
    loading = 0.0  # getting the function (unpickled, its module imported on a worker's first chunk): not compute
    began = time.perf_counter()
    with Capture() as buffer:
        for run in range(1 + MISDIRECTED_RERUNS):
            if run:  # a new record for the new run, with the timeline of the first
                outcome, at[:] = dataclasses.replace(outcome, value=None, n_failed=0), [None, None]
            try:
                with Running(task.board, task.slot):
                    if task.board is not None:
                        check(task.board, task.slot)  # flagged while queued: never starts
                    fetched = time.perf_counter()
                    runnable = resolve(func)
                    loading += time.perf_counter() - fetched
                    _call(runnable, task, outcome, at)
            except (ChunkCancelled, ChunkTimedOut) as stop:
                if _misdirected(task) and run < MISDIRECTED_RERUNS:
                    continue
                if isinstance(stop, ChunkCancelled):
                    outcome.cancelled = True
                else:
                    outcome.fail(ChunkTimeout.of_chunk(task.index, task.start, task.stop, task.timeout, "was stopped"))
            except BaseException as exc:  # SystemExit, KeyboardInterrupt too: the kernel raises them as the loop would
                outcome.error = sendable(exc) if task.serialize else exc  # threads pickle nothing
                outcome.frames = remote_frames(exc)
                outcome.exc_only = "".join(traceback.format_exception_only(type(exc), exc))
            break
    if outcome.error is not None and task.mode == "items" and at[0] is not None:
        outcome.error_item, outcome.error_item_repr = at[0], _repr.repr(at[1])
    outcome.output = buffer.getvalue()
    outcome.elapsed = time.perf_counter() - began - loading
    if not outcome.ok:
        outcome.value = None
        if task.timed:
            outcome.ended = time.time()
        return outcome
    packing = time.time() if task.timed else 0.0
    if task.share_folder is not None and task.mode == "chunk":
        from ..data.shared import to_shared

        try:
            outcome.value = to_shared(outcome.value, task.share_folder)
        except OSError:  # shared memory full: send it the ordinary way
            pass
    if task.serialize:
        _serialize_value(outcome)
    if task.timed:
        outcome.ended = time.time()
        outcome.send_s = outcome.ended - packing if task.serialize else 0.0
        outcome.bytes_out = len(outcome.value_bytes) if outcome.value_bytes is not None else 0
    return outcome


def run_message(message: bytes, box: list[Arrived] | None = None) -> bytes:
    """In a worker process: run the chunk of a :func:`~.transit.chunk_message`; its outcome as a message.

    ``box`` holds the payload that travelled beside the message, if any.

    Examples
    --------
    >>> import pickle
    >>> from nbparallel.worker.transit import arrived_outcome, chunk_message
    >>> message, beside = chunk_message(abs, ChunkTask(0, 0, 2, [-1, -2]), pickle.dumps)
    >>> arrived_outcome(run_message(message)).value
    [1, 2]
    """
    func, task = open_chunk_message(message, box[0] if box else None)
    return outcome_message(run_chunk(func, task))


def _serialize_value(outcome: ChunkOutcome) -> None:
    """Pickle the value here, so a result that cannot be pickled is reported by chunk."""
    try:  # the C pickler first: much faster for many small values (numpy scalars, say)
        outcome.value_bytes = pickle.dumps(outcome.value, protocol=5)
    except Exception:
        _serialize_dynamic(outcome)
    outcome.value = None


def _serialize_dynamic(outcome: ChunkOutcome) -> None:
    """Values plain pickle cannot take (lambdas, classes made in a notebook): cloudpickle."""
    import cloudpickle

    try:
        outcome.value_bytes = cloudpickle.dumps(outcome.value)
    except Exception as exc:
        outcome.fail(
            UnpicklableResult(
                f"the result of chunk {outcome.index} (items {outcome.start}-{outcome.stop - 1}) cannot be "
                f"sent back from the worker: {type(exc).__name__}: {exc}. Return plain data "
                "(numbers, arrays, lists, dicts) instead of objects such as open files, locks or generators"
            )
        )

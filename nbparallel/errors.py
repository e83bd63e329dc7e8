"""Every public exception, the failure record of a chunk, and the note a raised error carries.

Worker-side code raises and packages these; it defines none of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ChunkFailure",
    "ChunkTimeout",
    "Failed",
    "JobCancelled",
    "JobInterrupted",
    "RemoteTraceback",
    "SplitGroupWarning",
    "UnpicklableResult",
    "WorkerDied",
    "WorkerError",
    "TRACEBACK_LIMIT",
    "annotate",
    "exception_text",
]


class RemoteTraceback(Exception):
    """Carries the worker's traceback text; set as ``__cause__`` of re-raised errors."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return "\n\n" + self.text.rstrip()


class SplitGroupWarning(UserWarning):
    """Merged chunk results look like per-group results of groups split across chunks."""


class ChunkTimeout(TimeoutError):
    """A chunk ran longer than the job's ``timeout`` and was stopped."""

    @classmethod
    def of_chunk(cls, index: int, start: int, stop: int, seconds: float | None, ending: str) -> ChunkTimeout:
        """The error of chunk ``index`` (items ``start`` to ``stop - 1``) past its ``seconds``; ``ending`` says how it ended.

        Examples
        --------
        >>> str(ChunkTimeout.of_chunk(1, 1, 2, 0.5, "was stopped"))
        'chunk 1 (items 1-1) ran longer than the 0.5 s timeout and was stopped'
        """
        return cls(f"chunk {index} (items {start}-{stop - 1}) ran longer than the {seconds} s timeout and {ending}")


class UnpicklableResult(TypeError):
    """A chunk's result could not be sent back from its worker."""


class WorkerError(RuntimeError):
    """Stand-in for a worker exception that could not be sent back to the kernel.

    It names the original's type, its message, its ``repr`` and why it could
    not travel.  A stand-in made with :meth:`standing_in` is also an instance of
    the original's nearest built-in exception class, so ``except ValueError``
    still catches the stand-in of a ``ValueError`` subclass.

    Examples
    --------
    >>> import threading
    >>> class Locked(ValueError):
    ...     def __init__(self, message):
    ...         super().__init__(message)
    ...         self.lock = threading.Lock()
    >>> err = WorkerError.standing_in(Locked("no"), "TypeError: cannot pickle '_thread.lock' object")
    >>> isinstance(err, ValueError), err.type_name
    (True, 'Locked')
    >>> print(err)
    Locked: no (Locked('no') could not be sent back from the worker: TypeError: cannot pickle '_thread.lock' object)
    """

    #: The built-in exception class this stand-in is also an instance of.
    builtin_base: type[BaseException] = RuntimeError

    def __init__(self, type_name: str, message: str, reason: str = "", original_repr: str = "") -> None:
        super().__init__(type_name, message, reason, original_repr)  # all in args, so it pickles
        self.type_name = type_name
        self.message = message
        self.reason = reason
        self.original_repr = original_repr

    def __str__(self) -> str:
        what = self.original_repr or "the original exception"
        why = f": {self.reason}" if self.reason else ""
        return f"{self.type_name}: {self.message} ({what} could not be sent back from the worker{why})"

    def __reduce__(self) -> tuple[Any, ...]:
        return _stand_in, (self.builtin_base.__name__, *self.args), getattr(self, "__dict__", None)

    @classmethod
    def standing_in(cls, exc: BaseException, reason: str) -> WorkerError:
        """The stand-in for ``exc``, which could not travel because of ``reason``."""
        base = next(c for c in type(exc).__mro__ if c.__module__ == "builtins")
        return _stand_in(base.__name__, type(exc).__name__, exception_text(exc), reason, exception_text(exc, repr))


def exception_text(exc: BaseException | None, show: Any = str) -> str:
    """``str(exc)`` (or ``show(exc)``), even for an exception whose ``__str__`` itself raises (``""`` for ``None``).

    Examples
    --------
    >>> class Mute(Exception):
    ...     def __str__(self):
    ...         raise RuntimeError("no words")
    >>> exception_text(ValueError("bad")), "Mute object at" in exception_text(Mute())
    ('bad', True)
    """
    if exc is None:
        return ""
    try:
        return str(show(exc))
    except Exception:  # its __str__ or __repr__ fails: the loop's traceback would say "<exception str() failed>"
        return object.__repr__(exc)


_stand_ins: dict[str, type[WorkerError]] = {}


def _stand_in(base_name: str, *args: str) -> WorkerError:
    """A :class:`WorkerError` that is also an instance of the built-in exception class ``base_name``."""
    import builtins

    cls = _stand_ins.get(base_name)
    if cls is None:
        base = getattr(builtins, base_name, None)
        cls = WorkerError
        if isinstance(base, type) and issubclass(base, BaseException) and not issubclass(WorkerError, base):
            try:
                cls = type("WorkerError", (WorkerError, base), {"builtin_base": base, "__module__": __name__})
            except TypeError:  # a built-in class that cannot be mixed in
                pass
        _stand_ins[base_name] = cls
    try:
        return cls(*args)
    except Exception:
        return WorkerError(*args)


#: How many failures are described in full in an error; the rest are counted.
TRACEBACK_LIMIT = 3


@dataclass(frozen=True)
class ChunkFailure:
    """A failed chunk: where, what, the worker traceback, what it printed, how often tried."""

    index: int
    start: int
    stop: int
    item: int | None
    item_repr: str | None
    exception: BaseException
    traceback: str
    output: str
    attempts: int = 1

    def describe(self, n_chunks: int) -> str:
        items = f"items {self.start}-{self.stop - 1}" if self.stop > self.start else "no items"
        where = f"chunk {self.index} of {n_chunks} ({items})"
        if self.item is not None:
            return f"item {self.item} ({self.item_repr}) in {where}"
        return where


@dataclass(frozen=True)
class Failed:
    """An item that raised, in its place in the results (``errors="collect"``).

    Attributes
    ----------
    exception : BaseException
        What the function raised on this item.
    index : int
        The item's position in the input.
    item_repr : str
        A short ``repr`` of the item.
    traceback : str
        The worker traceback, as text (with source lines, rendered in the kernel).
    frames : list
        The worker traceback's frames, as recorded.

    Examples
    --------
    >>> import nbparallel as nbp
    >>> out = nbp.pmap(lambda x: 1 // x, [1, 0, 2], n_jobs=1, progress=False, errors="collect")
    >>> out[0], out[1], out[2]
    (1, Failed(item 1 (0): ZeroDivisionError: integer division or modulo by zero), 0)
    >>> isinstance(out[1].exception, ZeroDivisionError)
    True
    """

    exception: BaseException
    index: int
    item_repr: str
    traceback: str = ""
    frames: list[Any] = field(default_factory=list, repr=False, compare=False)

    def __repr__(self) -> str:
        text = exception_text(self.exception)
        return f"Failed(item {self.index} ({self.item_repr}): {type(self.exception).__name__}: {text})"

    def describe(self, n_chunks: int = 0) -> str:
        """Where it failed, in words (as ``ChunkFailure.describe``)."""
        return f"item {self.index} ({self.item_repr})"


class JobCancelled(Exception):
    """The result of a cancelled job was asked for."""


class JobInterrupted(KeyboardInterrupt):
    """A foreground call was interrupted (Ctrl-C, the kernel's stop button).

    A ``KeyboardInterrupt``, so ``except KeyboardInterrupt`` still works; its
    message says which job, how many chunks finished and how to get them.
    """


class WorkerDied(RuntimeError):
    """A worker process ended while it ran a chunk (killed, crashed, or out of memory)."""


def annotate(failures: list[ChunkFailure], n_chunks: int, job: Any) -> BaseException:
    """The first failure's own exception, with a note naming chunk and item, the
    other failures (a few, then "... N more"), what that chunk printed, and the
    worker traceback as ``__cause__``.  The job is reachable as ``exc.job``."""
    first = failures[0]
    exc = first.exception
    if getattr(exc, "_nbparallel_noted", False):
        return exc
    note = f"nbparallel: {first.describe(n_chunks)} failed"
    if first.attempts > 1:
        note += f" (after {first.attempts} attempts)"
    if len(failures) > 1:
        note += f"; {len(failures) - 1} more chunk(s) failed too:"
        for other in failures[1:TRACEBACK_LIMIT]:
            text = exception_text(other.exception)
            note += f"\n  - {other.describe(n_chunks)}: {type(other.exception).__name__}: {text}"
        if len(failures) > TRACEBACK_LIMIT:
            note += f"\n  ... {len(failures) - TRACEBACK_LIMIT} more (see job.errors)"
    if first.output:
        note += "\n--- output of that chunk ---\n" + first.output.rstrip()
    note += (
        f"\nThe {job.n_ok} chunk(s) that finished are kept: job.partial_result(); "
        "job.retry_failed() runs only the rest (the job: exc.job or nbparallel.last_job())"
    )
    try:
        exc.add_note(note)
        exc._nbparallel_noted = True  # type: ignore[attr-defined]
        if not hasattr(exc, "job"):
            exc.job = job  # type: ignore[attr-defined]
    except AttributeError:  # exceptions with __slots__ cannot take attributes
        pass
    if '  File "' in first.traceback:  # a real worker traceback (not a synthetic error)
        exc.__cause__ = RemoteTraceback(first.traceback)
    return exc

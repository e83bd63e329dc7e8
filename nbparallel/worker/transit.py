"""A chunk's trip to a worker process and back: its inputs, timed, and an exception, made to travel.

A backend that sends a chunk to another process wraps its payload in
:class:`Shipped`.  When the executor pickles the chunk (in the kernel, in the
executor's own thread), ``Shipped`` pickles the payload first, timing it and
counting its bytes; the worker unpickles it into an :class:`Arrived`, timing
that too.  The cost is one more pickle frame per chunk, never a step per item.

On the way back, :func:`sendable` packs an exception the function raised so
that it arrives whole, whatever the executor's pickler (loky's, dask's): plain
pickle when that rebuilds it, else cloudpickle (a class of a notebook cell or a
script's ``__main__``, pickled by value as the function was, so the kernel gets
its own class back), else the exception rebuilt without calling its
``__init__`` (one that takes other arguments than its ``args``), and only when
none of these works a :class:`~nbparallel.WorkerError` stand-in that names it.
"""

from __future__ import annotations

import io
import pickle
import time
from collections.abc import Callable
from typing import Any

import cloudpickle
import numpy as np

from ..errors import WorkerError, exception_text
from .board import attach
from .functions import PackedFunction, unpickled
from .task import ChunkOutcome, ChunkTask

__all__ = [
    "small",
    "Shipped",
    "Arrived",
    "unwrap",
    "sendable",
    "chunk_message",
    "open_chunk_message",
    "outcome_message",
    "arrived_outcome",
]


class Shipped:
    """A chunk's payload on its way to a worker process; pickles into an :class:`Arrived`.

    Parameters
    ----------
    payload : object
        The chunk's data.
    dumps : callable
        How to pickle it (``bytes``): loky's pickler for local workers (shared
        arrays travel as references), cloudpickle for a cluster.

    Examples
    --------
    >>> import pickle
    >>> arrived = pickle.loads(pickle.dumps(Shipped([1, 2, 3], pickle.dumps)))
    >>> arrived.payload, arrived.nbytes > 0, arrived.recv_s >= 0
    ([1, 2, 3], True, True)
    """

    __slots__ = ("dumps", "payload")

    def __init__(self, payload: Any, dumps: Callable[[Any], bytes]) -> None:
        self.payload = payload
        self.dumps = dumps

    def __reduce__(self) -> tuple[Any, ...]:
        began = time.time()
        data = self.dumps(self.payload)
        return (_arrive, (data, time.time() - began))


class Arrived:
    """A payload unpickled in a worker: the data, the seconds it took both ways, its size."""

    __slots__ = ("nbytes", "payload", "recv_s", "unpickle_s")

    def __init__(self, payload: Any, recv_s: float, nbytes: int, unpickle_s: float) -> None:
        self.payload = payload
        self.recv_s = recv_s  # pickling in the kernel + unpickling here
        self.nbytes = nbytes
        self.unpickle_s = unpickle_s  # the worker's own share


def _arrive(data: bytes, pickled_s: float) -> Arrived:
    import pickle

    began = time.time()
    payload = pickle.loads(data)
    unpickle_s = time.time() - began
    return Arrived(payload, pickled_s + unpickle_s, len(data), unpickle_s)


def unwrap(payload: Any) -> tuple[Any, Arrived | None]:
    """The chunk's data, and how it arrived (``None``: it was not shipped, say on threads).

    Examples
    --------
    >>> unwrap([1, 2])
    ([1, 2], None)
    >>> unwrap(Shipped([1, 2], repr))[0]  # not pickled (a thread backend): as it was
    [1, 2]
    """
    if isinstance(payload, Arrived):
        return payload.payload, payload
    if isinstance(payload, Shipped):
        return payload.payload, None
    return payload, None


def chunk_message(func: Any, task: ChunkTask, dumps: Callable[[Any], bytes]) -> tuple[bytes, Shipped | None]:
    """A chunk and its function as one message for a worker process (:func:`open_chunk_message` reads it).

    The message is plain data (numbers, strings, bytes), pickled here by the C
    pickler: the executor's own pickler (cloudpickle's) would reduce each class
    and function of a task in Python, and the worker would look each one up
    again.  A small payload (:func:`small`) is in it, pickled by the C pickler
    too and timed: it holds only numbers, strings and plain arrays, which
    ``dumps`` would pickle the same way (its reductions, loky's and
    cloudpickle's, are for other types; ``copyreg``'s are the C pickler's
    too).  Any other payload travels beside the message as a :class:`Shipped`,
    pickled by ``dumps`` (loky's pickler for local workers) only as the
    executor sends it, so that the chunks waiting to be sent hold no pickled
    copy of their data.

    Returns
    -------
    (bytes, Shipped or None)
        The message, and the payload to send with it when it is not in it.

    Examples
    --------
    >>> import pickle
    >>> message, beside = chunk_message(abs, ChunkTask(0, 0, 2, [-1, -2]), pickle.dumps)
    >>> func, task = open_chunk_message(message)
    >>> beside, func, task.payload.payload, task.stop
    (None, <built-in function abs>, [-1, -2], 2)
    >>> chunk_message(abs, ChunkTask(0, 0, 2, [[-1], [-2]]), pickle.dumps)[1] is not None  # not all scalars
    True
    """
    payload = task.payload
    beside, data, pickled_s = None, None, 0.0
    if small(payload):
        began = time.time()
        data = pickle.dumps(payload, protocol=5)
        pickled_s = time.time() - began
    else:  # timed by the Shipped as the executor pickles it
        beside = Shipped(payload, dumps)
    board = task.board
    fields = task.sent_values()
    function = (func.key, func.blob, func.path, func.label) if type(func) is PackedFunction else func
    message = (function, data, pickled_s, board.path if board is not None else None, fields)
    try:
        return pickle.dumps(message, protocol=5), beside
    except Exception:  # a function plain pickle cannot take (not a packed one): cloudpickle does
        return cloudpickle.dumps(message, protocol=5), beside


def open_chunk_message(message: bytes, beside: Arrived | None = None) -> tuple[Any, ChunkTask]:
    """In a worker: the function and the task of a :func:`chunk_message`, its payload :class:`Arrived`."""
    function, data, pickled_s, board, fields = pickle.loads(message)
    func = function
    if type(function) is tuple:  # a packed function: the one unpickled for its key, else the package
        func = unpickled(function[0])
        if func is None:
            func = PackedFunction(*function)
    if beside is None:
        began = time.time()
        payload = pickle.loads(data)
        unpickle_s = time.time() - began
        beside = Arrived(payload, pickled_s + unpickle_s, len(data), unpickle_s)
    task = ChunkTask.of(fields, payload=beside, board=attach(board) if board is not None else None)
    return func, task


#: Items of a payload pickled with its message, at most (see :func:`small`).
SMALL_ITEMS = 256
#: Bytes of an array, or of a payload's strings and bytes in all, pickled with its message, at most.
SMALL_BYTES = 1 << 16
_NUMBERS = frozenset({int, float, bool, complex, type(None)})


def small(payload: Any) -> bool:
    """Whether a chunk's payload is surely small: a few numbers or short strings, or a small array.

    Examples
    --------
    >>> import numpy as np
    >>> small([1, 2.5, "a", None]), small(np.zeros(10)), small([np.zeros(10)]), small(range(10**6))
    (True, True, False, False)
    >>> small(["x" * 60_000]), small(["x" * 60_000] * 2)  # its strings count together
    (True, False)
    """
    kind = type(payload)
    if kind is list or kind is tuple or kind is range:
        if len(payload) > SMALL_ITEMS:
            return False
        text = 0  # characters and bytes of its strings, in all
        for item in payload:
            item_kind = type(item)
            if item_kind in _NUMBERS:
                continue
            if item_kind is str or item_kind is bytes:
                text += len(item)
                if text <= SMALL_BYTES:
                    continue
            return False
        return True
    if kind is np.ndarray:
        return payload.nbytes <= SMALL_BYTES and not payload.dtype.hasobject
    return False


def outcome_message(outcome: ChunkOutcome) -> bytes:
    """A chunk's outcome as a worker sends it back: its fields, plain data (:func:`arrived_outcome` reads it).

    Its exception was made to travel (:func:`sendable`) and its value is
    pickled already (``value_bytes``).

    Examples
    --------
    >>> arrived_outcome(outcome_message(ChunkOutcome(0, 0, 2, output="hi"))).output
    'hi'
    """
    fields = outcome.values()
    try:
        return pickle.dumps(fields, protocol=5)
    except Exception:  # an exception that only cloudpickle takes (sendable tried plain pickle first)
        return cloudpickle.dumps(fields, protocol=5)


def arrived_outcome(message: bytes) -> ChunkOutcome:
    """In the kernel: the outcome of an :func:`outcome_message`."""
    return ChunkOutcome(*pickle.loads(message))


class _Packed(BaseException):
    """An exception pickled ahead in a worker; it unpickles into the exception itself (see :func:`sendable`)."""

    def __init__(self, data: bytes, type_name: str, text: str) -> None:
        super().__init__(type_name, text)
        self.data, self.type_name, self.text = data, type_name, text

    def __reduce__(self) -> tuple[Any, ...]:
        return _unpack, (self.data, self.type_name, self.text)


def _unpack(data: bytes, type_name: str, text: str) -> BaseException:
    """In the kernel: the exception, or a stand-in when it cannot be rebuilt here (never a broken pool)."""
    try:
        exc: BaseException = pickle.loads(data)
    except Exception as err:
        return WorkerError(type_name, text, f"it could not be rebuilt in the kernel: {type(err).__name__}: {err}")
    return exc


def _revive(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    """``cls`` with ``args`` and attributes ``state``, without its ``__init__`` (which may take other arguments)."""
    exc = cls.__new__(cls, *args)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class _Revival:
    """Pickles into :func:`_revive`'s exception."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __reduce__(self) -> tuple[Any, ...]:
        exc = self.exc
        return _revive, (type(exc), exc.args, dict(getattr(exc, "__dict__", {})))


def _default_reduce(cls: type[BaseException]) -> bool:
    return cls.__reduce__ is BaseException.__reduce__ and cls.__reduce_ex__ is BaseException.__reduce_ex__


class _OwnReduction(pickle.Pickler):
    """Pickles an exception by its class's own reduction, not one registered for every exception.

    ``distributed`` registers tblib's reducer for all exception classes (in
    ``copyreg``), which rebuilds them without their ``__init__``: ``SystemExit``
    loses its ``code``, ``StopIteration`` its ``value``.
    """

    def reducer_override(self, obj: Any) -> Any:
        return obj.__reduce_ex__(5) if isinstance(obj, BaseException) else NotImplemented


class _CloudOwnReduction(cloudpickle.Pickler):
    """cloudpickle (classes made in a notebook or ``__main__``), with exceptions as in :class:`_OwnReduction`."""

    def reducer_override(self, obj: Any) -> Any:
        return obj.__reduce_ex__(5) if isinstance(obj, BaseException) else super().reducer_override(obj)


def _dumps(pickler: type[pickle.Pickler], obj: Any) -> bytes:
    buffer = io.BytesIO()
    pickler(buffer, protocol=5).dump(obj)
    return buffer.getvalue()


def _round_trip(pickler: type[pickle.Pickler], obj: Any) -> tuple[bytes | None, str]:
    """``obj`` pickled with ``pickler`` if it also unpickles; else ``None`` and why not."""
    try:
        data = _dumps(pickler, obj)
        pickle.loads(data)
    except Exception as err:
        return None, f"{type(err).__name__}: {err}"
    return data, ""


def sendable(exc: BaseException) -> BaseException:
    """``exc`` packed to travel from a worker process to the kernel, where it unpickles as itself.

    Tried in order, each checked by unpickling it here: plain pickle (the
    common case, and the cheapest); cloudpickle (classes that plain pickle
    cannot find by name, such as those of a notebook or of ``__main__``,
    and their own ``__reduce__``); the exception rebuilt from its ``args`` and
    attributes without calling ``__init__`` (unless its class has a
    ``__reduce__`` of its own, which then had its say).  When none works, a
    :class:`~nbparallel.WorkerError` naming its type, ``repr`` and why.

    Parameters
    ----------
    exc : BaseException
        What the user's function raised, in a worker process.

    Returns
    -------
    BaseException
        Something to put in the chunk's outcome; it unpickles into the exception.

    Examples
    --------
    >>> import pickle, threading
    >>> back = pickle.loads(pickle.dumps(sendable(KeyError("k"))))
    >>> type(back).__name__, back.args
    ('KeyError', ('k',))
    >>> class Locked(ValueError):
    ...     def __init__(self, message):
    ...         super().__init__(message)
    ...         self.lock = threading.Lock()
    >>> back = pickle.loads(pickle.dumps(sendable(Locked("no"))))
    >>> isinstance(back, ValueError), type(back).__name__
    (True, 'WorkerError')
    """
    name = type(exc).__name__
    text = exception_text(exc)
    data, why = _round_trip(_OwnReduction, exc)
    if data is None:
        data, _ = _round_trip(_CloudOwnReduction, exc)
    if data is None and _default_reduce(type(exc)):  # an own __reduce__ that fails says "do not copy me"
        data, _ = _round_trip(_CloudOwnReduction, _Revival(exc))
    if data is None:
        data = _dumps(_OwnReduction, WorkerError.standing_in(exc, why))
    return _Packed(data, name, text)

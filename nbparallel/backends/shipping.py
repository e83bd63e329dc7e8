"""Packing a function once per call: a content hash, large global arrays shared once.

:func:`pack` pickles the user's function (cloudpickle: notebook functions,
lambdas and closures, with the globals they read) and names the pickle by its
hash.  Workers keep unpickled functions by that hash
(:mod:`nbparallel.worker.functions`), so a function is unpickled once per
worker, not once per chunk.

With ``share=True`` (workers on this machine), every NumPy array of at least
:data:`SHARE_GLOBALS_ABOVE` bytes that the function reaches (a global it reads,
a closure value, a block of a DataFrame it uses) is written once per *content*
to a file in shared memory and travels as a reference that workers open
copy-on-write.  The content's fingerprint is part of the pickle, so an array
changed in place, or a global bound to another value, gives another hash.
"""

from __future__ import annotations

import collections
import hashlib
import io
import os
import sys
import threading
import types
import weakref
from typing import Any, ClassVar

import cloudpickle
import numpy as np

from ..data.shared import process_folder
from ..worker.functions import PackedFunction, open_shared_array

__all__ = ["pack", "content_key", "SHARE_GLOBALS_ABOVE", "INLINE_LIMIT"]

#: Arrays the function reaches of at least this many bytes go through shared memory.
SHARE_GLOBALS_ABOVE = 1 * 2**20

#: Pickles up to this size travel inside each chunk; larger ones are written to a file once.
INLINE_LIMIT = 256 * 2**10

#: Shipped global arrays kept in shared memory (the oldest is removed past this).
KEEP_GLOBALS = 16

_lock = threading.Lock()
_globals: collections.OrderedDict[str, str] = collections.OrderedDict()  # fingerprint -> file
_blobs: collections.OrderedDict[str, str] = collections.OrderedDict()  # function hash -> file


def _fingerprint(array: np.ndarray) -> str:
    import xxhash

    data = np.ascontiguousarray(array)
    digest = xxhash.xxh3_128_hexdigest(data.reshape(-1).view(np.uint8).data)
    return f"{digest}-{data.dtype.str.replace('<', 'l').replace('>', 'b').replace('|', 'n')}"


def _shared_global(array: np.ndarray) -> tuple[str, str] | None:
    """Write ``array`` once per content; ``(path, fingerprint)``, or ``None`` when there is no room."""
    fingerprint = _fingerprint(array)
    with _lock:
        path = _globals.get(fingerprint)
        if path is not None and os.path.exists(path):  # the process folder may have been removed under us
            _globals.move_to_end(fingerprint)
            return path, fingerprint
        path = os.path.join(process_folder(), f"global-{fingerprint}.npy")
        try:
            with open(path, "wb") as fh:  # plain writes: a full /dev/shm is an OSError, never SIGBUS
                np.save(fh, np.asarray(array), allow_pickle=False)
        except OSError:
            _remove(path)
            return None
        _globals[fingerprint] = path
        while len(_globals) > KEEP_GLOBALS:
            _remove(_globals.popitem(last=False)[1])
        return path, fingerprint


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


class _Pickler(cloudpickle.Pickler):
    """cloudpickle, with large arrays replaced by references to a shared copy."""

    def reducer_override(self, obj: Any) -> Any:
        if (
            isinstance(obj, np.ndarray)
            and obj.nbytes >= SHARE_GLOBALS_ABOVE
            and not obj.dtype.hasobject
            and obj.dtype.fields is None
        ):
            ref = _shared_global(obj)
            if ref is not None:
                return open_shared_array, ref
        return super().reducer_override(obj)


def pack(func: Any, *, label: str, share: bool) -> PackedFunction:
    """Pickle ``func`` for worker processes, named by the hash of its content.

    Parameters
    ----------
    func : callable
        The user's function.
    label : str
        Its name, for messages.
    share : bool
        Send large arrays it reaches through shared memory (workers on this machine).

    Returns
    -------
    PackedFunction

    Raises
    ------
    TypeError
        If ``func`` (or something it uses) cannot be pickled, naming it and why.

    Examples
    --------
    >>> scale = 2
    >>> def f(x):
    ...     return x * scale
    >>> a = pack(f, label="f", share=False)
    >>> a.key == pack(f, label="f", share=False).key  # same code, same globals
    True
    >>> scale = 3
    >>> a.key == pack(f, label="f", share=False).key  # a global it reads changed
    False
    """
    state = _state_of(func)  # None: its pickle may depend on more than it shows; packed anew
    if state is not None:
        hit = _packed.get(id(func))
        if hit is not None and hit[0]() is func and hit[1] == (label, share) and _same(hit[2], state):
            return hit[3]
    packed = _pack(func, label=label, share=share)
    if state is not None and packed.blob is not None:
        try:
            ref = weakref.ref(func)
        except TypeError:
            return packed
        with _lock:
            _packed[id(func)] = (ref, (label, share), state, packed)
            while len(_packed) > KEEP_PACKED:
                _packed.pop(next(iter(_packed)))
    return packed


def _pack(func: Any, *, label: str, share: bool) -> PackedFunction:
    buffer = io.BytesIO()
    try:
        if share:
            _Pickler(buffer, protocol=5).dump(func)
        else:
            cloudpickle.dump(func, buffer, protocol=5)
    except Exception as err:
        raise TypeError(
            f"the function {label!r} cannot be sent to worker processes: {type(err).__name__}: {err}. "
            "It (or something it uses from outside) cannot be pickled: create such objects inside "
            "the function, or use backend='threading'"
        ) from None
    blob = buffer.getvalue()
    key = hashlib.blake2b(blob, digest_size=16).hexdigest()
    if len(blob) <= INLINE_LIMIT or not share:
        return PackedFunction(key, blob=blob, label=label)
    with _lock:
        path = _blobs.get(key)
        if path is None or not os.path.exists(path):  # new, or its folder was removed under us
            path = os.path.join(process_folder(), f"func-{key}.pkl")
            try:
                with open(path, "wb") as fh:
                    fh.write(blob)
            except OSError:  # no room in shared memory: it travels with each chunk instead
                _remove(path)
                return PackedFunction(key, blob=blob, label=label)
            _blobs[key] = path
            while len(_blobs) > KEEP_GLOBALS:
                _remove(_blobs.popitem(last=False)[1])
    return PackedFunction(key, path=path, label=label)


#: Functions whose last pickle is kept: id -> (weak reference, (label, share), state, packed).
_packed: dict[int, tuple[weakref.ref[Any], tuple[str, bool], list[Any], PackedFunction]] = {}

#: Pickles kept for :data:`_packed` (the oldest is dropped past this).
KEEP_PACKED = 64

_SCALARS = frozenset({int, float, complex, bool, str, bytes, type(None), type(...)})
_MISSING = object()


def _same(old: list[Any], new: list[Any]) -> bool:
    """Every part is the very same object, or the same ``int`` (``1`` and ``1.0`` are equal, but pickle differently)."""
    return len(old) == len(new) and all(
        a is b or (type(a) is int and type(b) is int and a == b) for a, b in zip(old, new, strict=True)
    )


def _by_reference(obj: Any) -> bool:
    """cloudpickle pickles ``obj`` by its importable name: the pickle is the name, whatever the object holds."""
    internals = cloudpickle.cloudpickle  # its private answers (another cloudpickle may lack them: AttributeError)
    if isinstance(obj, types.BuiltinFunctionType):  # ``abs``, ``math.sqrt``; not a bound method of some object
        return isinstance(obj.__self__, types.ModuleType) or obj.__self__ is None
    if type(obj) is types.FunctionType:  # asked once per call: what made cloudpickle say so, checked again
        named = _named.get(id(obj))
        if named is not None and named[0]() is obj:
            module = sys.modules.get(named[1])
            name: str = getattr(obj, "__qualname__", "")
            if (
                module is not None
                and obj.__module__ == named[1]
                and vars(module).get(name) is obj
                and not internals._is_registered_pickle_by_value(module)
            ):
                return True
    by_reference = isinstance(
        obj, (types.FunctionType, type, types.ModuleType)
    ) and internals._should_pickle_by_reference(obj)
    if by_reference and type(obj) is types.FunctionType and "." not in obj.__qualname__:
        with _lock:
            _named[id(obj)] = (weakref.ref(obj), obj.__module__)
            while len(_named) > KEEP_PACKED:
                _named.pop(next(iter(_named)))
    return by_reference


#: Functions cloudpickle pickles by name: id -> (weak reference, the module it is named in).
_named: dict[int, tuple[weakref.ref[Any], str]] = {}


def _frozen(value: Any, depth: int = 0) -> bool:
    """``value`` cannot change without being rebound: a number, a string, a tuple of them, a name."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is tuple or kind is frozenset:
        return depth < 2 and all(_frozen(v, depth + 1) for v in value)
    return _by_reference(value)


def _state_of(func: Any) -> list[Any] | None:
    """Everything ``func``'s pickle is made of, when each part is frozen (else ``None``: never cached).

    A function pickled by name is its name.  A function pickled by value (a
    notebook's) is its code, defaults, closure, attributes and the globals its
    code reads, as cloudpickle takes them; a module among them adds the state
    of :data:`sys.modules` (cloudpickle sends the submodules imported so far).
    """
    try:
        if _by_reference(func):
            return []
        if type(func) is not types.FunctionType:
            return None
        g = func.__globals__
        parts: list[Any] = [func.__code__, func.__defaults__, func.__name__, func.__qualname__, func.__module__]
        parts += [func.__doc__, *(g.get(k, _MISSING) for k in ("__package__", "__name__", "__path__", "__file__"))]
        for mapping in (func.__kwdefaults__ or {}, func.__annotations__, func.__dict__):
            parts.append(len(mapping))
            for k, v in mapping.items():
                parts += (k, v)
        parts += [g.get(name, _MISSING) for name in cloudpickle.cloudpickle._extract_code_globals(func.__code__)]
        parts += [cell.cell_contents for cell in func.__closure__ or ()]
    except (AttributeError, ValueError):  # an empty cell, another cloudpickle (without these answers)
        return None
    values = parts[5:]
    if not all(v is _MISSING or _frozen(v) for v in values):
        return None
    if func.__defaults__ is not None and not _frozen(func.__defaults__):
        return None
    if any(isinstance(v, types.ModuleType) for v in values):
        last = next(reversed(sys.modules), None)
        parts += [len(sys.modules), last, sys.modules.get(last) if last is not None else None]
    return parts


def _code_content(code: types.CodeType) -> tuple[Any, ...]:
    """What a code object computes, without where it was written (a cell's file name and lines)."""
    return (code.co_code, code.co_consts, code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars)


def _content_of(*parts: Any) -> tuple[Any, ...]:  # pragma: no cover - only named in key pickles, never loaded
    return parts


class _KeyPickler(cloudpickle.Pickler):
    """cloudpickle for hashing only: code without its location, large arrays by fingerprint."""

    dispatch_table: ClassVar[collections.ChainMap[Any, Any]] = collections.ChainMap(
        {types.CodeType: lambda code: (_content_of, _code_content(code))}, cloudpickle.Pickler.dispatch_table
    )

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, np.ndarray) and obj.nbytes >= SHARE_GLOBALS_ABOVE and not obj.dtype.hasobject:
            return _content_of, ("ndarray", _fingerprint(obj), obj.shape, str(obj.dtype))
        return super().reducer_override(obj)


def content_key(func: Any) -> str:
    """The hash of what ``func`` computes: :func:`pack`'s pickle (with the globals it reads), location-free.

    Like :attr:`PackedFunction.key`, but the same function re-defined in another
    cell run or kernel gets the same key (code objects are hashed without file
    name and line numbers), and large arrays count by content.  The cache keys
    its entries by it.

    Raises
    ------
    TypeError
        If ``func`` cannot be pickled.

    Examples
    --------
    >>> factor = 2
    >>> def f(x):
    ...     return x * factor
    >>> k = content_key(f)
    >>> k == content_key(f)
    True
    >>> factor = 3
    >>> k == content_key(f)  # a global it reads changed
    False
    """
    buffer = io.BytesIO()
    _KeyPickler(buffer, protocol=5).dump(func)
    return hashlib.blake2b(buffer.getvalue(), digest_size=16).hexdigest()

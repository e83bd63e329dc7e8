"""``RunOptions``: every option of a parallel call, validated once, merged with ``config()``.

``pmap``, ``pmap_chunks``, ``run_cell`` and the k-searches build one; the
``%%parallel`` magic's arguments are generated from its fields (:func:`magic_arguments`),
so the options cannot drift between the API and the magic.
"""

from __future__ import annotations

import copy
import numbers
import operator
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .settings import PROGRESS_MODES, get_config, validate_n_jobs, validate_progress, whole_number

__all__ = ["RunOptions", "magic_arguments", "options_from_magic", "ERROR_MODES"]

#: What a failing item does: stop the job (``"raise"``) or become a Failed record (``"collect"``).
ERROR_MODES = ("raise", "collect")


def _opt(*flags: str, help: str, **argparse: Any) -> dict[str, Any]:
    return {"flags": flags, "help": help, "argparse": argparse}


def _whole(options: RunOptions, name: str, least: int, what: str) -> None:
    """Check field ``name`` is a whole number (of any kind: ``np.int64`` too) ``>= least``; store it as an ``int``."""
    value = getattr(options, name)
    if value is None and name not in _REQUIRED:
        return
    number = whole_number(value)
    if number is None or number < least:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    object.__setattr__(options, name, number)


def _seconds(options: RunOptions, name: str, positive: bool, what: str) -> None:
    """Check field ``name`` is a real number of seconds (``np.float32`` too); numpy numbers become ``float``."""
    value = getattr(options, name)
    if value is None and name not in _REQUIRED:
        return
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    seconds = value if isinstance(value, (int, float)) else float(value)  # np.float32 and such: a float
    if not (seconds > 0 if positive else seconds >= 0):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    object.__setattr__(options, name, seconds)


#: Fields that cannot be ``None``.
_REQUIRED = ("retries", "retry_delay")


@dataclass(frozen=True)
class RunOptions:
    """How a parallel call runs.  Every field has the meaning of the same-named argument
    of :func:`~nbparallel.pmap`; ``None`` means "the configured default".

    Examples
    --------
    >>> RunOptions(n_jobs=2, retries=1).retries
    1
    >>> RunOptions(retries=-1)
    Traceback (most recent call last):
    ...
    ValueError: retries must be a whole number >= 0, got -1
    """

    n_jobs: int | None = field(
        default=None,
        metadata=_opt("-n", "--n-jobs", type=int, help="number of workers (joblib meaning: -1 = all cores)"),
    )
    chunks: int | None = field(
        default=None, metadata=_opt("--chunks", type=int, help="number of chunks (default: 4 per worker)")
    )
    chunk_size: int | None = field(
        default=None, metadata=_opt("--chunk-size", type=int, help="items per chunk (instead of --chunks)")
    )
    backend: str | None = field(
        default=None,
        metadata=_opt(
            "--backend",
            help="where the body runs (default: loky worker processes; threading; dask: the current dask.distributed Client)",
        ),
    )
    progress: bool | str | None = field(
        default=None, metadata=_opt("--no-progress", help="show no progress display", action="store_const", const=False)
    )
    background: bool = field(
        default=False,
        metadata=_opt(
            "--bg",
            help="return at once; the job is stored under --name and --out variables are assigned when it finishes",
            action="store_true",
        ),
    )
    retries: int = field(
        default=0, metadata=_opt("--retries", type=int, help="run a failing chunk again up to this many times")
    )
    retry_delay: float = field(
        default=0.0, metadata=_opt("--retry-delay", type=float, help="seconds to wait before a chunk runs again")
    )
    timeout: float | None = field(
        default=None, metadata=_opt("--timeout", type=float, help="seconds a chunk may run before it is stopped")
    )
    cache: Any = field(
        default=None,
        metadata=_opt(
            "--cache", metavar="DIR", help="store finished chunks in DIR; a re-run computes only what is missing"
        ),
    )
    seed: int | None = field(
        default=None, metadata=_opt("--seed", type=int, help="seed random and numpy per item (reproducible for any -n)")
    )
    errors: str = field(
        default="raise",
        metadata=_opt(
            "--errors",
            choices=list(ERROR_MODES),
            help="raise: the first failure stops the job; collect: a failing item becomes an nbparallel.Failed "
            "record and every other item is computed",
        ),
    )

    def __post_init__(self) -> None:
        import joblib

        object.__setattr__(self, "n_jobs", validate_n_jobs(self.n_jobs))
        _whole(self, "chunks", 1, "a positive int")
        _whole(self, "chunk_size", 1, "a positive int")
        if self.chunks is not None and self.chunk_size is not None:
            raise ValueError("give either chunks or chunk_size, not both")
        if self.backend is not None:
            from .backends import get_backend

            get_backend(self.backend)  # an unknown name lists the choices
        if self.progress not in PROGRESS_MODES:
            validate_progress(self.progress)
        if self.cache is not None and not isinstance(self.cache, (str, os.PathLike, joblib.Memory)):
            raise TypeError(f"cache must be a folder path or a joblib.Memory, got {type(self.cache).__name__}")
        _whole(self, "retries", 0, "a whole number >= 0")
        _seconds(self, "retry_delay", False, "seconds >= 0")
        _seconds(self, "timeout", True, "seconds > 0 (per chunk) or None")
        if self.errors not in ERROR_MODES:
            raise ValueError(f"errors must be one of {', '.join(map(repr, ERROR_MODES))}, got {self.errors!r}")
        _whole(self, "seed", 0, "a non-negative int or None")

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, Any], *, skip_none: bool = False) -> RunOptions:
        """The options among ``arguments``, a call's ``locals()`` or parsed magic arguments.

        Names that are not fields are ignored; with ``skip_none``, so are ``None`` values
        (unset magic arguments keep the field defaults).

        Examples
        --------
        >>> RunOptions.from_arguments({"func": print, "n_jobs": 2, "seed": None}, skip_none=True)
        RunOptions(n_jobs=2, chunks=None, chunk_size=None, backend=None, progress=None, background=False, retries=0, retry_delay=0.0, timeout=None, cache=None, seed=None, errors='raise')
        """
        # Options are checked once per distinct set of arguments: a call repeated with the same
        # ones gets the same (frozen) options.  Keyed with each value's type, as 1, 1.0 and True
        # are equal keys but not the same option (an error message shows the value as given).
        names, values = _given(arguments, skip_none)
        key = (cls, names, values, tuple(map(type, values)))
        try:
            known = _checked.get(key)
        except TypeError:  # an unhashable value (a cache given as a list, say): checked, and fails there
            return cls(**dict(zip(names, values)))
        if known is None:
            known = cls(**dict(zip(names, values)))
            with _checked_lock:
                while len(_checked) >= _CHECKED_KEEP:
                    _checked.pop(next(iter(_checked)))
                _checked[key] = known
        return known

    def resolved(self) -> RunOptions:
        """These options with the configured defaults filled in (``backend``, ``progress``)."""
        if self.backend is not None and self.progress is not None:
            return self
        cfg = get_config()  # validated when it was set, and replaced (never changed) by config()
        last = self.__dict__.get("_resolved")
        if last is not None and last[0] is cfg:
            return last[1]
        filled = copy.copy(self)
        filled.__dict__.pop("_resolved", None)
        object.__setattr__(filled, "backend", self.backend if self.backend is not None else cfg.backend)
        object.__setattr__(filled, "progress", self.progress if self.progress is not None else cfg.progress)
        object.__setattr__(self, "_resolved", (cfg, filled))  # not a field: not compared, not shown
        return filled


_NAMES = tuple(f.name for f in fields(RunOptions))
_every_option = operator.itemgetter(*_NAMES)


def _given(arguments: Mapping[str, Any], skip_none: bool) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """The options ``arguments`` gives, as ``(names, values)`` (see :meth:`RunOptions.from_arguments`)."""
    if not skip_none:  # a front end's locals() hold every name: read at once, in C
        try:
            return _NAMES, _every_option(arguments)
        except KeyError:
            pass
    given = {n: arguments[n] for n in _NAMES if n in arguments and not (skip_none and arguments[n] is None)}
    return tuple(given), tuple(given.values())


#: The options of the latest distinct argument sets (see :meth:`RunOptions.from_arguments`).
_checked: dict[tuple[Any, ...], RunOptions] = {}
_checked_lock = threading.Lock()
_CHECKED_KEEP = 64


def magic_arguments(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a magic with one ``argument`` per :class:`RunOptions` field (help included)."""
    from IPython.core.magic_arguments import argument

    from .backends import BACKENDS

    for f in reversed(fields(RunOptions)):
        meta = f.metadata
        kwargs = dict(meta["argparse"], help=meta["help"], dest=f.name, default=None)
        if f.name == "backend":
            kwargs["choices"] = list(BACKENDS)
        func = argument(*meta["flags"], **kwargs)(func)
    return func


def options_from_magic(args: Any) -> RunOptions:
    """The :class:`RunOptions` of parsed ``%%parallel`` arguments (unset ones keep their defaults)."""
    return RunOptions.from_arguments(vars(args), skip_none=True)
